"""The whole pipeline through the real `newsmon` command, against the local news site and a real
SMTP server: what a user of the first watch would see."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.configfile import write_config
from tests.httpsite import HttpSite
from tests.newsite import story
from tests.smtpd import SmtpServer

NEWSMON = Path(sys.executable).parent / "newsmon"


def newsmon(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEWSMON), "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def digest_text(smtp: SmtpServer) -> str:
    (message,) = smtp.mailbox.messages
    return message.get_body(preferencelist=("plain",)).get_content()


def test_run_delivers_each_relevant_article_once(
    site_config: Path, news_site: HttpSite, smtp_server: SmtpServer
) -> None:
    assert newsmon(site_config, "init", "--no-seeds").returncode == 0
    first = newsmon(site_config, "run")
    assert first.returncode == 0, first.stderr

    text = digest_text(smtp_server)
    talks = story("russia-hosts-taliban-kazan")
    # The original (earliest) copy is delivered, once: not its tracking-URL twin, not the
    # wire's near copy under another headline.
    assert text.count(talks.title) == 1
    assert news_site.url(f"/ledger/{talks.slug}") in text
    assert "utm_source" not in text
    assert story("moscow-courts-afghan-rulers").title not in text
    assert story("lavrov-trade-mission-kabul").title in text
    assert story("taliban-delegation-moscow-format").title in text
    assert story("derby-comeback").title not in text  # off-topic
    assert smtp_server.mailbox.envelopes[0][1] == ["analyst@test.example"]

    # The summary names what failed, and why.
    assert "feed failed" in first.stdout and "/broken.xml" in first.stdout
    assert "127.0.0.2" in first.stdout

    status = json.loads(newsmon(site_config, "feeds", "--json").stdout)
    feeds = {f["url"]: f for f in status["feeds"]}
    broken, missing = feeds[news_site.url("/broken.xml")], feeds[news_site.url("/missing.xml")]
    assert broken["status"] == "error" and "not a feed" in broken["error"]
    assert missing["status"] == "error" and "404" in missing["error"]
    assert feeds[news_site.url("/ledger/rss.xml")]["status"] == "ok"

    # Second run: conditional GETs answered 304, nothing new, no second digest.
    second = newsmon(site_config, "run")
    assert second.returncode == 0, second.stderr
    assert news_site.requests_to("/ledger/rss.xml")[-1].headers["if-none-match"] == '"ledger-v1"'
    assert "if-modified-since" in news_site.requests_to("/wire/atom.xml")[-1].headers
    assert "nothing new" in second.stdout
    assert len(smtp_server.mailbox.messages) == 1


def test_pages_carrying_seed_text_are_duplicates_of_the_seeds(
    site_config: Path, tmp_path: Path
) -> None:
    assert newsmon(site_config, "init").returncode == 0
    assert newsmon(site_config, "run").returncode == 0
    out = tmp_path / "export.jsonl"
    assert newsmon(site_config, "export", "--format", "jsonl", "--output", str(out)).returncode == 0
    articles = [json.loads(line) for line in out.read_text().splitlines()]
    by_title = {a["title"]: a for a in articles}
    seed = next(a for a in articles if a["url"].startswith("urn:newsmon:seed:003"))
    copy = by_title[story("taliban-delegation-moscow-format").title]
    assert copy["duplicate_of"] == seed["id"]


def test_make_run_without_network_reports_every_feed_and_exits_zero(tmp_path: Path) -> None:
    # Feeds on a port where nothing listens stand in for the unreachable internet.
    config = write_config(tmp_path, ["http://127.0.0.1:9/feed.xml", "http://127.0.0.1:9/rss"])
    assert newsmon(config, "init").returncode == 0
    result = newsmon(config, "run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("feed failed") == 2
    assert "nothing new" in result.stdout


def test_bad_config_exits_nonzero_with_file_line_and_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, ["http://127.0.0.1:9/feed.xml"])
    config.write_text(config.read_text().replace("timeout = 5", 'timeout = "soon"'))
    result = newsmon(config, "run")
    assert result.returncode == 2
    line = next(n for n, t in enumerate(config.read_text().splitlines(), 1) if "timeout" in t)
    assert f"newsmon.toml:{line}: fetch.timeout:" in " ".join(result.stderr.split())


def test_unreachable_smtp_server_exits_nonzero(tmp_path: Path) -> None:
    unreachable = SmtpServer("127.0.0.1", 9, None)  # type: ignore[arg-type]
    config = write_config(tmp_path, ["http://127.0.0.1:9/feed.xml"], smtp=unreachable)
    result = newsmon(config, "run")
    assert result.returncode == 2
    assert "127.0.0.1:9" in result.stderr
