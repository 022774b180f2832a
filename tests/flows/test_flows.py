"""The Prefect flows, run for real under a temporary Prefect server (one per test session)."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from tests.configfile import write_config
from tests.httpsite import HttpSite
from tests.newsite import feed_urls, story


@pytest.mark.usefixtures("prefect_harness")
def test_poll_then_digest_flows_deliver_to_the_outbox(tmp_path: Path, news_site: HttpSite) -> None:
    from prefect.client.orchestration import get_client

    from flows.digest import send_digest
    from flows.poll import poll_feeds

    config = str(write_config(tmp_path, feed_urls(news_site)))  # no SMTP host: outbox
    summary = poll_feeds(watch="russia-taliban", config=config)
    assert summary.relevant == 3
    assert {f.url for f in summary.failed_feeds} == {
        news_site.url("/broken.xml"),
        news_site.url("/missing.xml"),
    }

    outcome = send_digest(watch="russia-taliban", config=config)
    assert outcome.status == "sent" and outcome.items == 3
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["Message-ID"] == outcome.message_id
    assert story("lavrov-trade-mission-kabul").title in message.get_body(("plain",)).get_content()

    again = send_digest(watch="russia-taliban", config=config)
    assert again.status == "nothing_new"

    async def artifacts() -> list[str]:
        async with get_client() as client:
            return [a.key for a in await client.read_artifacts() if a.key]

    import asyncio

    keys = asyncio.run(artifacts())
    assert "poll-russia-taliban" in keys and "digest-russia-taliban" in keys
