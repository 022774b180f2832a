"""Where a digest goes and how hard we try: SMTP (settings from the config, the environment or
Prefect blocks) with retries, else the outbox folder; and Apprise channels.

Kept apart from the pipeline order (flows/processor.py) because it is about the outside world:
credentials, servers that answer 451, channels that are down.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence

from alerts.delivery import DeliveryError, SmtpSettings, send_smtp, write_outbox
from alerts.notify import NotifyResult, send_notifications
from flows.settings import EmailSettings, Settings

log = logging.getLogger("newsmon")


def smtp_settings(settings: Settings) -> SmtpSettings | None:
    """The SMTP server to use, or None when digests go to the outbox.

    A prefect-email `EmailServerCredentials` block named in `credentials_block` supplies the
    server and the login; otherwise `host`/`port`/`username` from the config, with the password
    from the Prefect Secret named in `password_secret` or the environment variable `password_env`.
    """
    email = settings.email
    if not email.configured:
        return None
    if email.credentials_block:
        return _from_credentials_block(email, timeout=settings.fetch.timeout)
    return SmtpSettings(
        host=email.host,
        port=email.port,
        security=email.security,
        username=email.username,
        password=_password(email),
        timeout=settings.fetch.timeout,
    )


def _password(email: EmailSettings) -> str:
    if email.password_secret:
        from prefect.blocks.system import Secret

        return str(_load_block(Secret, email.password_secret).get())
    return os.environ.get(email.password_env, "") if email.password_env else ""


def _from_credentials_block(email: EmailSettings, *, timeout: float) -> SmtpSettings:
    from prefect_email import EmailServerCredentials, SMTPType

    block = _load_block(EmailServerCredentials, email.credentials_block)
    smtp_type = block.smtp_type
    if isinstance(smtp_type, str):
        smtp_type = SMTPType[smtp_type.upper()]
    security = {SMTPType.SSL: "ssl", SMTPType.STARTTLS: "starttls"}.get(smtp_type, "none")
    password = block.password.get_secret_value() if block.password else ""
    return SmtpSettings(
        host=block.smtp_server,
        port=block.smtp_port or smtp_type.value,
        security=security,  # type: ignore[arg-type]
        username=block.username or "",
        password=password,
        timeout=timeout,
    )


def _load_block(kind: type, name: str):
    try:
        return kind.load(name)  # type: ignore[attr-defined]
    except (ValueError, RuntimeError) as exc:
        raise DeliveryError(
            f"cannot load Prefect block {kind.__name__} {name!r}: {exc}", permanent=True
        ) from None


def with_retries(
    send: Callable[[], None],
    *,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Call `send`; after a transient DeliveryError (4xx, network) wait and try again.

    Waits `backoff`, then twice that, and so on, for at most `retries` further attempts. A
    permanent error (5xx) is raised at once: repeating it would only be refused again.
    """
    for attempt in range(retries + 1):
        try:
            send()
            return
        except DeliveryError as exc:
            if exc.permanent or attempt == retries:
                raise
            wait = backoff * 2**attempt
            log.warning("delivery failed (%s); retrying in %.1fs", exc, wait)
            sleep(wait)


def deliver(settings: Settings, message: bytes, message_id: str, recipients: Sequence[str]) -> str:
    """Send by SMTP when a server is configured, else write to the outbox; say where it went."""
    smtp = smtp_settings(settings)
    if smtp is None:
        name = message_id.strip("<>").replace("@", "_at_") + ".eml"
        return str(write_outbox(message, settings.outbox, name))
    with_retries(
        lambda: send_smtp(
            message, sender=settings.email.sender, recipients=recipients, settings=smtp
        ),
        retries=settings.email.retries,
        backoff=settings.email.retry_backoff,
    )
    return f"smtp {smtp.server}"


def notify_channels(urls: Sequence[str], title: str, body: str) -> list[NotifyResult]:
    """Apprise channels get the short story list; a failing channel is logged, never fatal."""
    results = send_notifications(urls, title=title, body=body)
    for result in results:
        if not result.ok:
            log.warning("notification to %s failed: %s", result.target, result.error)
    return results
