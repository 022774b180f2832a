"""Delivering a composed digest: by SMTP, or as an .eml file in an outbox folder.

Both take the stored message bytes and pass them on unchanged, so a digest re-sent after a crash
is the same message with the same Message-ID. Nothing here retries: a `DeliveryError` says in one
line what went wrong and whether trying again later can help (`permanent`); the caller decides.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "ssl"]
SECURITY_MODES: tuple[str, ...] = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    security: Security = "none"
    username: str = ""
    password: str = ""
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("SMTP host is empty")
        if not 0 < self.port < 65536:
            raise ValueError(f"SMTP port {self.port} is out of range")
        if self.security not in SECURITY_MODES:
            raise ValueError(
                f"SMTP security {self.security!r} is not one of {', '.join(SECURITY_MODES)}"
            )
        if self.timeout <= 0:
            raise ValueError(f"SMTP timeout must be positive, not {self.timeout}")

    @property
    def server(self) -> str:
        """host:port as shown in messages ([::1]:25 for an IPv6 address)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class DeliveryError(Exception):
    """A message that could not be delivered; str() is a one-line reason naming the server.

    `permanent` is True when the server refused for good (a 5xx reply, a setup that cannot
    work): trying the same thing again will fail again. It is False for 4xx replies and for
    network trouble (refused connection, timeout, dropped connection): retrying later can help.
    """

    def __init__(self, reason: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.code = code


# --- SMTP ------------------------------------------------------------------------------------


def _one_line(text: str | bytes) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return re.sub(r"\s+", " ", text).strip()


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {_one_line(exc.verify_message or str(exc))}"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""  # an OpenSSL code such as WRONG_VERSION_NUMBER
        return reason.replace("_", " ").lower() if reason.isupper() else _one_line(str(exc))
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host: {_one_line(exc.strerror or str(exc))}"
    text = _one_line(getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
    return text[:1].lower() + text[1:]


def _reply(code: int, message: bytes | str) -> str:
    text = _one_line(message)
    return f"{code} {text}" if text else str(code)


def _response_error(settings: SmtpSettings, what: str, code: int, message: bytes | str):
    return DeliveryError(
        f"SMTP {settings.server} {what}: {_reply(code, message)}", permanent=code >= 500, code=code
    )


def _translate(settings: SmtpSettings, exc: BaseException, stage: str) -> DeliveryError:
    """The DeliveryError for an exception raised while talking to the server."""
    server = settings.server
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = list(exc.recipients.items())
        codes = [code for _, (code, _msg) in refusals]
        address, (code, message) = refusals[0] if refusals else ("?", (0, b""))
        more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
        return DeliveryError(
            f"SMTP {server} refused the recipient {address}{more}: {_reply(code, message)}",
            permanent=bool(codes) and all(c >= 500 for c in codes),
            code=code or None,
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        what = f"refused the sender {_one_line(str(exc.sender))}"
        return _response_error(settings, what, exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPDataError):
        return _response_error(settings, "refused the message", exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _response_error(settings, "refused the login", exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPConnectError):
        return _response_error(settings, "refused the connection", exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPHeloError):
        return _response_error(settings, "refused EHLO", exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _response_error(settings, f"failed at {stage}", exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(
            f"SMTP {server} does not support {stage}: {_one_line(str(exc))}", permanent=True
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, OSError):
        # smtplib turns a read error or timeout into "Connection unexpectedly closed: …"
        return _translate(settings, exc.__context__, stage)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"SMTP {server} closed the connection during {stage}", permanent=False)
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(
            f"SMTP {server} TLS failed during {stage}: {_os_reason(exc)}", permanent=False
        )
    if isinstance(exc, OSError):
        if stage == "connect":
            return DeliveryError(f"SMTP {server} unreachable: {_os_reason(exc)}", permanent=False)
        return DeliveryError(
            f"SMTP {server} connection failed during {stage}: {_os_reason(exc)}", permanent=False
        )
    return DeliveryError(
        f"SMTP {server} failed during {stage}: {_one_line(str(exc)) or type(exc).__name__}",
        permanent=False,
    )


class _Session:
    """Which step of the SMTP conversation is running, for error messages."""

    def __init__(self) -> None:
        self.stage = "connect"


@contextlib.contextmanager
def _smtp_session(settings: SmtpSettings) -> Iterator[tuple[smtplib.SMTP, _Session]]:
    """An open, greeted (and, as configured, TLS-secured and logged-in) SMTP connection."""
    session = _Session()
    client: smtplib.SMTP | None = None
    try:
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        session.stage = "EHLO"
        client.ehlo_or_helo_if_needed()
        if settings.security == "starttls":
            session.stage = "STARTTLS"
            if not client.has_extn("starttls"):
                raise DeliveryError(
                    f"SMTP {settings.server} does not offer STARTTLS", permanent=True
                )
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if settings.username:
            session.stage = "login"
            client.login(settings.username, settings.password)
        yield client, session
    except (OSError, smtplib.SMTPException) as exc:
        raise _translate(settings, exc, session.stage) from exc
    finally:
        if client is not None:
            _close(client)


def _close(client: smtplib.SMTP) -> None:
    """QUIT politely; a failure here changes nothing about what was already accepted."""
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        with contextlib.suppress(OSError):
            client.close()


_CRLF = re.compile(rb"\r\n|\r|\n")


def message_bytes(message: bytes | EmailMessage) -> bytes:
    """The bytes to send or store: bytes as they are, an EmailMessage serialised with CRLF."""
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message)
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def send_smtp(
    message: bytes | EmailMessage,
    *,
    sender: str,
    recipients: Sequence[str],
    settings: SmtpSettings,
) -> None:
    """Send the message bytes, unchanged, to `recipients` through one SMTP server.

    `sender` is the envelope sender (MAIL FROM). Connects with SMTP, SMTP over TLS ("ssl") or
    STARTTLS (certificates verified with `ssl.create_default_context()`), logs in when a username
    is set. Raises DeliveryError when the server cannot be reached or does not accept the
    message for any recipient. When it accepts some recipients and refuses others the message
    counts as sent (re-sending would duplicate it for the accepted ones) and the refusals are
    logged as a warning. No retries.
    """
    # On the wire every line ends in CRLF (smtplib leaves bytes alone); the digests' bytes
    # already do, so for them this changes nothing.
    data = _CRLF.sub(b"\r\n", message_bytes(message))
    rcpt = [r.strip() for r in recipients if r and r.strip()]
    if not rcpt:
        raise ValueError("no recipients")
    addresses = [sender, *rcpt]
    mail_options: list[str] = []
    if not all(a.isascii() for a in addresses):
        mail_options.append("SMTPUTF8")
    with _smtp_session(settings) as (client, session):
        if mail_options and not client.has_extn("smtputf8"):
            raise DeliveryError(
                f"SMTP {settings.server} does not support SMTPUTF8, needed for a non-ASCII address",
                permanent=True,
            )
        session.stage = "MAIL/RCPT/DATA"
        refused = client.sendmail(sender, rcpt, data, mail_options=mail_options)
    if refused:
        log.warning(
            "SMTP %s accepted the message but refused %s",
            settings.server,
            ", ".join(f"{addr} ({_reply(code, msg)})" for addr, (code, msg) in refused.items()),
        )


def check_smtp(settings: SmtpSettings) -> None:
    """Connect, EHLO (STARTTLS and login as configured) and QUIT; DeliveryError if that fails.

    For failing fast with a one-line reason before any work is done.
    """
    with _smtp_session(settings):
        pass


# --- outbox ----------------------------------------------------------------------------------

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._@+=-]+")


def outbox_name(data: bytes) -> str:
    """The .eml file name for message bytes: from the Message-ID, else from a hash of the bytes."""
    headers = BytesHeaderParser(policy=SMTP_POLICY).parsebytes(data)
    message_id = str(headers.get("Message-ID", "") or "").strip().strip("<>")
    stem = message_id or f"message-{hashlib.sha256(data).hexdigest()[:16]}"
    return _safe_name(stem)


def _safe_name(name: str) -> str:
    name = _UNSAFE_NAME.sub("_", os.path.basename(name.strip())).lstrip(".")
    if not name.lower().endswith(".eml"):
        name += ".eml"
    if name == ".eml":
        raise ValueError("empty outbox file name")
    return name[-200:]


def write_outbox(
    message: bytes | EmailMessage, folder: Path | str, name: str | None = None
) -> Path:
    """Write the message as `folder/name` (.eml added if missing), atomically; return the path.

    Without a name, it comes from the Message-ID. The name is reduced to safe characters and
    cannot leave the folder. Writing goes through a temporary file in the same folder and a
    rename, so readers never see a partial file. Idempotent: when the file already holds the
    same bytes nothing is written; writing the same message twice gives one file.
    """
    data = message_bytes(message)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (_safe_name(name) if name else outbox_name(data))
    with contextlib.suppress(OSError):
        if path.is_file() and path.read_bytes() == data:
            return path
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
