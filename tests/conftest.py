"""Fixtures shared by the whole suite: the local news site, an SMTP server, a config file."""

from __future__ import annotations

import email
import email.policy
import os
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

# Prefect reads its settings at import: point it at a throw-away home before anything imports it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="newsmon-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)

import pytest  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from tests.httpsite import HttpSite  # noqa: E402
from tests.newsite import build_news_site, feed_urls  # noqa: E402


@pytest.fixture
def news_site() -> Iterator[HttpSite]:
    with HttpSite() as site:
        yield build_news_site(site)


@dataclass
class Mailbox:
    """What a real SMTP server (aiosmtpd) received, parsed."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        data = envelope.content  # type: ignore[attr-defined]
        raw = data if isinstance(data, bytes) else data.encode()
        self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))  # type: ignore[attr-defined]
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox


def free_port() -> int:
    # aiosmtpd checks readiness by connecting to the port it was given, so port 0 will not do.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, mailbox)
    finally:
        controller.stop()


WATCH_QUERY = (
    "(Russia OR Moscow OR Kremlin OR Lavrov OR Putin OR Kabulov) AND "
    '(Taliban OR Afghanistan OR Kabul OR "Islamic Emirate")'
)


def write_config(
    folder: Path,
    feeds: list[str],
    *,
    smtp: SmtpServer | None = None,
    database_url: str | None = None,
    extra_watch: str = "",
) -> Path:
    """A newsmon.toml for tests: the data in `folder`, loopback 127.0.0.1 allowed."""
    feed_list = ", ".join(f'"{u}"' for u in feeds)
    host, port = (smtp.host, smtp.port) if smtp else ("", 25)
    url = database_url or f"sqlite:///{folder / 'newsmon.db'}"
    path = folder / "newsmon.toml"
    path.write_text(
        f"""
[storage]
url = "{url}"

[fetch]
user_agent = "newsmon-test/0.1"
timeout = 5
max_bytes = 2000000
allow_private_hosts = ["127.0.0.1"]

[email]
host = "{host}"
port = {port}
security = "none"
sender = "newsmon@test.example"
outbox = "outbox"

[[watch]]
name = "russia-taliban"
query = '{WATCH_QUERY}'
feeds = [{feed_list}]
recipients = ["analyst@test.example"]
{extra_watch}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def site_config(tmp_path: Path, news_site: HttpSite, smtp_server: SmtpServer) -> Path:
    return write_config(tmp_path, feed_urls(news_site), smtp=smtp_server)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes 10–25 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
