"""Fixtures shared by the whole suite: the local news site, an SMTP server, a config file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Prefect reads its settings at import: point it at a throw-away home before anything imports it.
_PREFECT_HOME = tempfile.mkdtemp(prefix="newsmon-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)

import pytest  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from tests.configfile import write_config  # noqa: E402
from tests.httpsite import HttpSite  # noqa: E402
from tests.newsite import build_news_site, feed_urls  # noqa: E402
from tests.smtpd import Mailbox, SmtpServer, free_port  # noqa: E402


@pytest.fixture
def news_site() -> Iterator[HttpSite]:
    with HttpSite() as site:
        yield build_news_site(site)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, mailbox)
    finally:
        mailbox.release.set()  # a stalled session would keep stop() waiting
        controller.stop()


@pytest.fixture
def site_config(tmp_path: Path, news_site: HttpSite, smtp_server: SmtpServer) -> Path:
    return write_config(tmp_path, feed_urls(news_site), smtp=smtp_server)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes 10–25 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
