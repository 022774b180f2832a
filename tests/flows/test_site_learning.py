"""Site templates and extraction health through the real poll: a local site whose pages carry a
membership pitch inside the article, and a site whose pages stopped yielding text."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from flows.processor import poll_watch, send_watch_digest
from flows.settings import load_settings
from storage.repository import open_corpus
from tests.configfile import write_config
from tests.httpsite import HttpSite, Route

PITCH = "Support independent journalism from Kabul: become a member of the Ledger today."
TOPICS = ["grain", "fuel", "railways", "power lines", "mining"]


def article(n: int, topic: str) -> str:
    paragraphs = [
        f"Russian and Taliban officials met in Kabul on day {n} to discuss {topic}, the "
        f"latest round of talks on trade between Moscow and Afghanistan this autumn.",
        f"Officials said the talks on {topic} would continue next month and that a joint "
        f"commission would report to both governments before the end of the year {2020 + n}.",
        f"Analysts in Moscow said {topic} had become a test of how far Russia is ready to go "
        f"in its dealings with the Taliban, who remain under international sanctions.",
    ]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<html><head><title>Talks on {topic}</title></head><body>
<article><h1>Talks on {topic}, day {n}</h1><div class="content">{body}
<p><strong>{PITCH}</strong></p></div></article></body></html>"""


def rss(site: HttpSite, paths: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Item {n}</title><link>{site.url(p)}</link>"
        f"<pubDate>Mon, 2{n} Nov 2026 0{n}:00:00 +0000</pubDate></item>"
        for n, p in enumerate(paths)
    )
    channel = f"<channel><title>t</title>{items}</channel>"
    return f'<?xml version="1.0"?><rss version="2.0">{channel}</rss>'.encode()


def test_a_pitch_on_every_page_is_learnt_and_stripped_from_later_pages(tmp_path: Path) -> None:
    with HttpSite() as site:
        paths = [f"/ledger/{n}" for n in range(5)]
        for n, (path, topic) in enumerate(zip(paths, TOPICS, strict=True)):
            site.add(path, body=article(n, topic).encode())
        site.add("/rss.xml", Route(body=rss(site, paths), content_type="application/rss+xml"))
        settings = load_settings(write_config(tmp_path, [site.url("/rss.xml")]))
        with open_corpus(settings.database_url) as corpus:
            poll_watch(settings, corpus, settings.watch[0])
            bodies = [a.body for a in corpus.iter_articles()]
            templates = corpus.sites.templates()
    # Oldest first: the first three pages teach the template, the last two are cleaned by it.
    assert [PITCH in body for body in bodies] == [True, True, True, False, False]
    assert templates == {"127.0.0.1": [PITCH]}


def test_a_site_whose_pages_come_out_empty_is_flagged(tmp_path: Path) -> None:
    with HttpSite() as site:
        paths = [f"/broken/{n}" for n in range(6)]
        for path in paths[:-1]:
            site.add(path, body=b"<html><body><div id='app'></div></body></html>")
        site.add(paths[-1], body=article(9, "grain").encode())
        site.add("/rss.xml", Route(body=rss(site, paths), content_type="application/rss+xml"))
        config = write_config(tmp_path, [site.url("/rss.xml")])
        settings = load_settings(config)
        with open_corpus(settings.database_url) as corpus:
            poll_watch(settings, corpus, settings.watch[0])
            outcome = send_watch_digest(settings, corpus, settings.watch[0], dry_run=True)

    runner = CliRunner()
    result = runner.invoke(app, ["--config", str(config), "feeds", "--json"])
    assert result.exit_code == 0, result.output
    (health,) = json.loads(result.output)["sites"]
    assert health["site"] == "127.0.0.1" and health["broken"] is True
    assert (health["recent_pages"], health["failed"]) == (6, 5)
    assert health["last_reason"] == "no article text found"
    assert outcome.html is not None
    assert "Extraction from 127.0.0.1 is failing: 5 of its last 6 pages" in outcome.html
