"""newsmon.toml files for tests."""

from __future__ import annotations

from pathlib import Path

from tests.smtpd import SmtpServer

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
    extra_email: str = "",
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
retry_backoff = 0.05
{extra_email}

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
