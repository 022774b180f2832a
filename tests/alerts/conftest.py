"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it receives."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from alerts.delivery import SmtpSettings
from alerts.digest import Digest, DigestItem, compose_digest
from tests.smtpd import free_port

USERNAME, PASSWORD = "newsmon", "s3cret"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


@dataclass
class RecordingHandler:
    """Accepts everything unless told to answer RCPT or DATA with a given reply."""

    received: list[Received] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None
    refuse_rcpt: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        if address in self.refuse_rcpt:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 Message accepted for delivery"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    # handled=False: let aiosmtpd answer 535 itself.
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    handler: RecordingHandler
    host: str
    port: int

    def settings(self, **kwargs) -> SmtpSettings:
        return SmtpSettings(host=self.host, port=self.port, timeout=5.0, **kwargs)


def _serve(**server_kwargs) -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **server_kwargs)
    controller.start()
    try:
        yield SmtpServer(handler, "127.0.0.1", port)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    yield from _serve()


@pytest.fixture
def smtp_auth_server() -> Iterator[SmtpServer]:
    """A server that requires AUTH (allowed without TLS, for the test only)."""
    yield from _serve(authenticator=_authenticator, auth_required=True, auth_require_tls=False)


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> TlsFiles:
    """A self-signed certificate for 127.0.0.1 (made with `cryptography`, a Prefect dependency)."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    files = TlsFiles(folder / "cert.pem", folder / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


@pytest.fixture
def smtp_starttls_server(tls_files) -> Iterator[SmtpServer]:
    """A server that offers STARTTLS and requires it before MAIL."""
    yield from _serve(tls_context=tls_files.server_context(), require_starttls=True)


@pytest.fixture
def smtp_ssl_server(tls_files) -> Iterator[SmtpServer]:
    """A server that speaks TLS from the first byte (SMTPS)."""
    yield from _serve(ssl_context=tls_files.server_context())


@pytest.fixture
def trust_test_certificate(tls_files, monkeypatch) -> None:
    """Make ssl.create_default_context() (as delivery calls it) trust the test certificate."""
    original = ssl.create_default_context

    def create_default_context(*args, **kwargs):
        kwargs.setdefault("cafile", str(tls_files.cert))
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", create_default_context)


NOW = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
SENDER = "newsmon <alerts@news.example.org>"
RECIPIENTS = ("analyst@example.com", "desk@example.net")


def _item(article_id: int, **kwargs) -> DigestItem:
    values = {
        "article_id": article_id,
        "title": f"Article {article_id}",
        "url": f"https://site{article_id}.example/news/{article_id}",
        "site": f"Site {article_id}",
        "published": datetime(2026, 11, 22, 18, 0, tzinfo=UTC),
        "excerpt": f"Excerpt of article {article_id}.",
        "matched": ("Russia", "Taliban"),
        "story_id": None,
    }
    values.update(kwargs)
    return DigestItem(**values)


@pytest.fixture
def make_item():
    """make_item(id, **fields) -> a DigestItem with plausible defaults."""
    return _item


@pytest.fixture
def sample_items() -> list[DigestItem]:
    """Three articles: two of one story (one with a hostile title), one on its own."""
    return [
        _item(
            1,
            title="Russia hosts <script>alert('x')</script> Taliban & friends",
            url="https://news-one.example/russia-taliban?id=1&ref=rss",
            site="News One",
            story_id=70,
        ),
        _item(2, title="Taliban delegation in Kazan", site="Wire Two", story_id=70),
        _item(
            3, title="Moscow keeps aid flowing to Kabul", site="Paper Three", matched=("Russia",)
        ),
    ]


@pytest.fixture
def sample_digest(sample_items) -> Digest:
    return compose_digest(
        "russia-taliban",
        sample_items,
        sender=SENDER,
        recipients=RECIPIENTS,
        now=NOW,
        footer_notes=["Feed https://feeds.example/rss failing: HTTP 404"],
    )
