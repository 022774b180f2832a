"""extractors.feeds: parsing the samples in testdata/, and polling them from a loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from extractors.feeds import FeedParseError, parse_feed, poll_feed, poll_feeds
from extractors.http import Fetcher
from extractors.records import FeedPoll, FetchLimits
from tests.httpsite import HttpSite, Route

TESTDATA = Path(__file__).parent / "testdata"
LOOPBACK = FetchLimits(allow_private_hosts=("127.0.0.1",), timeout=5.0)
FEED_URL = "https://news.example.org/feeds/world.xml"


def sample(name: str) -> bytes:
    return (TESTDATA / name).read_bytes()


@pytest.fixture
def site() -> Iterator[HttpSite]:
    with HttpSite() as server:
        yield server


def parse_error(content: bytes, content_type: str = "") -> str:
    with pytest.raises(FeedParseError) as info:
        parse_feed(content, FEED_URL, content_type)
    assert info.value.feed_url == FEED_URL
    return info.value.reason


def test_rss20() -> None:
    entries = parse_feed(sample("rss20.xml"), FEED_URL, "application/rss+xml; charset=utf-8")
    # The duplicate URL and the item without a link are gone; a permalink guid counts as a link.
    assert [e.url for e in entries] == [
        "https://news.example.org/world/2023/10/russia-taliban-trade",
        "https://news.example.org/world/2023/10/relative-item?ref=rss",
        "https://news.example.org/world/2023/10/guid-permalink",
    ]
    first = entries[0]
    assert first.feed_url == FEED_URL
    assert first.title == "Russia and the Taliban sign a trade memorandum"
    assert first.summary == "Moscow and Kabul agreed on wheat & fuel. More soon."
    assert first.guid == "example-news-1001"
    assert first.published == datetime(2023, 10, 2, 8, 30, tzinfo=UTC)  # +0200 → UTC
    assert entries[1].published == datetime(2023, 10, 4, 4, 15, tzinfo=UTC)  # -0500, next day
    assert all(e.published is not None and e.published.utcoffset() is not None for e in entries)


def test_atom() -> None:
    entries = parse_feed(sample("atom.xml"), FEED_URL, "application/atom+xml")
    assert [e.url for e in entries] == [
        "https://wire.example.org/stories/kabul-kazan",
        "https://news.example.org/feeds/stories/updated-only",  # relative to the feed URL
    ]
    first, second = entries
    assert first.title == "Kabul delegation visits Kazan"
    assert first.summary == "The delegation met officials."
    assert first.guid == "tag:wire.example.org,2023:entry-1"
    assert first.published == datetime(2023, 10, 5, 6, 0, tzinfo=UTC)  # published, not updated
    assert second.published == datetime(2023, 10, 4, 22, 45, tzinfo=UTC)  # falls back to updated


def test_rss10_rdf() -> None:
    entries = parse_feed(sample("rss10.rdf"), FEED_URL)
    assert [e.url for e in entries] == [
        "https://agency.example.org/a/1",
        "https://agency.example.org/a/2",
    ]
    assert entries[0].title == "First RDF item"
    assert entries[0].published == datetime(2023, 9, 29, 1, 0, tzinfo=UTC)
    assert entries[1].published is None


def test_rss091_in_latin1() -> None:
    [entry] = parse_feed(sample("rss091.xml"), FEED_URL, "text/xml")
    assert entry.title == "Café diplomacy in Doha"
    assert entry.url == "http://old.example.org/cafe-diplomacy.html"


@pytest.mark.parametrize("content_type", ["application/feed+json", "application/json", ""])
def test_json_feed(content_type: str) -> None:
    entries = parse_feed(sample("feed.json"), FEED_URL, content_type)
    assert [e.url for e in entries] == [
        "https://json.example.org/posts/one",
        "https://news.example.org/posts/two",
        "https://elsewhere.example.net/story",
    ]
    one, two, three = entries
    assert one.summary == "The envoys met on Friday."  # tags and script stripped
    assert one.published == datetime(2023, 10, 6, 12, 0, tzinfo=UTC)
    assert two.published == datetime(2023, 10, 7, 1, 2, 3, tzinfo=UTC)
    assert two.summary == "A short summary."
    assert two.guid == "2"
    assert three.published is None


def test_base_url_resolves_relative_links() -> None:
    entries = parse_feed(
        sample("rss20.xml"), FEED_URL, base_url="https://mirror.example.org/feeds/world.xml"
    )
    assert entries[1].url == "https://mirror.example.org/world/2023/10/relative-item?ref=rss"
    assert entries[1].feed_url == FEED_URL


def test_empty_feed_has_no_entries() -> None:
    assert parse_feed(sample("empty_rss.xml"), FEED_URL) == []


def test_html_page_is_not_a_feed() -> None:
    page = sample("not_a_feed.html")
    assert (
        parse_error(page, "text/html; charset=utf-8") == "not a feed: got text/html (an HTML page)"
    )
    assert parse_error(page) == "not a feed: got an HTML page"
    assert parse_error(page, "application/rss+xml") == (
        "not a feed: got an HTML page (served as application/rss+xml)"
    )


def test_garbage_is_not_xml() -> None:
    reason = parse_error(bytes(range(256)) * 4, "application/octet-stream")
    assert reason.startswith("not XML: not well-formed (invalid token)")


def test_truncated_xml_without_entries_is_an_error() -> None:
    reason = parse_error(sample("truncated.xml"), "application/rss+xml")
    assert reason.startswith("not XML: no element found")


def test_other_non_feeds() -> None:
    assert parse_error(b"") == "empty document"
    assert parse_error(b'<?xml version="1.0"?><config><a/></config>') == (
        "not a feed: XML without RSS, RDF or Atom elements"
    )
    assert parse_error(b'{"name": "not a feed"}') == (
        "not a feed: JSON without a JSON Feed 'items' list"
    )
    assert parse_error(b"{broken", "application/feed+json").startswith("not JSON: ")


def test_content_is_never_taken_for_a_file_name(tmp_path: Path) -> None:
    # feedparser opens bare bytes as a path if it can; parse_feed must only ever parse them.
    path = tmp_path / "feed.xml"
    path.write_bytes(sample("rss20.xml"))
    with pytest.raises(FeedParseError):
        parse_feed(str(path).encode(), FEED_URL)


def poll(url: str, **kwargs: str | None) -> FeedPoll:
    async def run() -> FeedPoll:
        async with Fetcher(LOOPBACK) as fetcher:
            return await poll_feed(fetcher, url, **kwargs)

    return asyncio.run(run())


def test_poll_ok_then_not_modified(site: HttpSite) -> None:
    url = site.add(
        "/rss", body=sample("rss20.xml"), content_type="application/rss+xml", etag='"r1"'
    )
    first = poll(url)
    assert first.status == "ok" and first.http_status == 200
    assert first.etag == '"r1"'
    assert len(first.entries) == 3
    assert first.entries[1].url == site.url("/world/2023/10/relative-item?ref=rss")
    assert "application/rss+xml" in site.requests_to("/rss")[0].headers["accept"]

    second = poll(url, etag=first.etag)
    assert second == FeedPoll(url, "not_modified", http_status=304, etag='"r1"')
    assert site.requests_to("/rss")[1].headers["if-none-match"] == '"r1"'


def test_poll_not_modified_keeps_validators_the_server_did_not_resend(site: HttpSite) -> None:
    stamp = "Mon, 02 Oct 2023 10:00:00 GMT"
    url = site.add("/atom", body=sample("atom.xml"), last_modified=stamp)
    result = poll(url, etag='"old"', last_modified=stamp)
    assert result.status == "not_modified"
    assert (result.etag, result.last_modified) == ('"old"', stamp)


def test_poll_errors_are_values(site: HttpSite) -> None:
    missing = poll(site.url("/gone"), etag='"e"')
    assert missing.status == "error"
    assert (missing.http_status, missing.error) == (404, "HTTP 404 Not Found")
    assert missing.etag == '"e"' and missing.entries == ()

    page = site.add("/home", body=sample("not_a_feed.html"))
    html = poll(page)
    assert (html.status, html.http_status) == ("error", 200)
    assert html.error == "not a feed: got text/html (an HTML page)"


def test_poll_follows_redirects_and_resolves_links_against_the_final_url(site: HttpSite) -> None:
    site.add("/new/feed.json", body=sample("feed.json"), content_type="application/feed+json")
    url = site.redirect("/old/feed", "/new/feed.json", status=301)
    result = poll(url)
    assert result.status == "ok"
    assert result.entries[1].url == site.url("/posts/two")
    assert all(entry.feed_url == url for entry in result.entries)


def test_poll_feeds_isolates_a_failing_feed(site: HttpSite) -> None:
    urls = [
        site.add("/rss20", body=sample("rss20.xml"), content_type="application/rss+xml"),
        site.add("/slow", Route(body=sample("atom.xml"), delay=1.0)),
        site.add("/broken", body=b"\x00\xff garbage", content_type="application/xml"),
        site.add("/rdf", body=sample("rss10.rdf"), content_type="application/rdf+xml"),
        site.add("/json", body=sample("feed.json"), content_type="application/feed+json"),
    ]
    feeds: list[tuple[str, str | None, str | None]] = [(url, None, None) for url in urls]
    feeds.append(("http://127.0.0.2:9/feed", '"kept"', None))  # refused before connecting
    results = asyncio.run(poll_feeds(LOOPBACK, feeds, concurrency=3))
    assert [r.feed_url for r in results] == [feed[0] for feed in feeds]
    assert [r.status for r in results] == ["ok", "ok", "error", "ok", "ok", "error"]
    assert [len(r.entries) for r in results] == [3, 2, 0, 2, 3, 0]
    assert results[2].error is not None and results[2].error.startswith("not XML: ")
    assert results[2].http_status == 200
    refused = results[5]
    assert refused.error == "refused: 127.0.0.2 is a private/loopback address"
    assert (refused.http_status, refused.etag) == (None, '"kept"')
