"""Feeds: parse RSS 0.9x/1.0/2.0, Atom and JSON Feed into FeedEntry records, and poll them.

feedparser only ever sees bytes we fetched (wrapped in BytesIO: given bare bytes it would try
them as a file name first); the network is always `extractors.http.Fetcher`.
"""

from __future__ import annotations

import asyncio
import io
import json
import xml.sax
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from extractors.http import Fetcher, FetchError, HttpStatusError
from extractors.records import FeedEntry, FeedPoll, FetchLimits

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml,"
    " application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
_JSON_TYPES = frozenset({"application/feed+json", "application/json"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")
# feedparser flags these as bozo even when it parsed the feed fine: they are not parse failures.
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


class FeedParseError(Exception):
    """The document is not a feed we can read; `reason` says why."""

    def __init__(self, feed_url: str, reason: str) -> None:
        super().__init__(feed_url, reason)
        self.feed_url = feed_url
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.feed_url}: {self.reason}"


class _TextCollector(HTMLParser):
    _BLOCKS = frozenset({"p", "br", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "tr", "td"})
    _SKIPPED = frozenset({"script", "style", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append(" ")  # keeps "<p>a</p><p>b</p>" from becoming "ab"

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _plain_text(markup: str) -> str:
    """Tags stripped, entities decoded, whitespace collapsed."""
    if not markup:
        return ""
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return " ".join("".join(collector.parts).split())


def _looks_like_html(content: bytes) -> bool:
    head = content[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return any(head.startswith(marker) for marker in _HTML_MARKERS) or b"<html" in head


def _absolute_http_url(link: object, base_url: str) -> str | None:
    if not isinstance(link, str) or not link.strip():
        return None
    url = urljoin(base_url, link.strip())
    # mailto:, javascript:, tag: ... are not article pages we could fetch.
    return url if urlsplit(url).scheme in ("http", "https") else None


def _from_struct(value: Any) -> datetime | None:
    # feedparser normalises every date it understands to a UTC struct_time.
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _from_text(value: object) -> datetime | None:
    """An RFC 3339 date (JSON Feed), tolerating RFC 822; naive dates are taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _dedup(entries: Iterable[FeedEntry]) -> list[FeedEntry]:
    seen: dict[str, FeedEntry] = {}
    for entry in entries:
        seen.setdefault(entry.url, entry)  # the first occurrence wins
    return list(seen.values())


def _parse_json_feed(content: bytes, feed_url: str, base_url: str) -> list[FeedEntry]:
    try:
        document = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedParseError(feed_url, f"not JSON: {exc}") from exc
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise FeedParseError(feed_url, "not a feed: JSON without a JSON Feed 'items' list")
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        url = _absolute_http_url(item.get("url") or item.get("external_url"), base_url)
        if url is None:
            continue
        summary = item.get("summary") or item.get("content_text") or item.get("content_html")
        entries.append(
            FeedEntry(
                feed_url=feed_url,
                url=url,
                title=_plain_text(str(item.get("title") or "")),
                published=_from_text(item.get("date_published"))
                or _from_text(item.get("date_modified")),
                summary=_plain_text(str(summary or "")),
                guid=str(item.get("id") or ""),
            )
        )
    return _dedup(entries)


def _bozo_reason(exc: BaseException) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        where = f" at line {exc.getLineNumber()}, column {exc.getColumnNumber()}"
        return f"not XML: {exc.getMessage()}{where}"
    return f"not XML: {exc}"


def _parse_xml_feed(
    content: bytes, feed_url: str, base_url: str, content_type: str
) -> list[FeedEntry]:
    headers = {"content-location": base_url}  # the base for relative links
    if content_type:
        headers["content-type"] = content_type  # carries the charset
    parsed = feedparser.parse(io.BytesIO(content), response_headers=headers)

    entries = []
    for item in parsed.entries:
        link = item.get("link") or next(
            (ln.get("href") for ln in item.get("links", []) if ln.get("rel") == "alternate"), None
        )
        url = _absolute_http_url(link, base_url)
        if url is None:
            continue
        published = _from_struct(item.get("published_parsed")) or _from_struct(
            item.get("updated_parsed")
        )
        entries.append(
            FeedEntry(
                feed_url=feed_url,
                url=url,
                title=_plain_text(item.get("title", "")),
                published=published,
                summary=_plain_text(item.get("summary", "")),
                guid=str(item.get("id", "")),
            )
        )
    if entries:
        return _dedup(entries)  # partly broken XML that still yielded linked items will do

    exc = parsed.get("bozo_exception")
    broken = bool(parsed.bozo) and not isinstance(exc, _BENIGN_BOZO)
    if parsed.get("version") and not broken:
        return []  # a well-formed feed that has no items right now
    if _looks_like_html(content):
        media_type = content_type.split(";")[0].strip().lower()
        if media_type in _HTML_TYPES:
            detail = f"{media_type} (an HTML page)"
        elif media_type:
            detail = f"an HTML page (served as {media_type})"
        else:
            detail = "an HTML page"
        raise FeedParseError(feed_url, f"not a feed: got {detail}")
    if broken and exc is not None:
        raise FeedParseError(feed_url, _bozo_reason(exc))
    raise FeedParseError(feed_url, "not a feed: XML without RSS, RDF or Atom elements")


def parse_feed(
    content: bytes, feed_url: str, content_type: str = "", *, base_url: str | None = None
) -> list[FeedEntry]:
    """Entries of an RSS, Atom or JSON Feed document, in document order, one per URL.

    `base_url` (default `feed_url`) resolves relative links: pass the final URL after redirects.
    Raises FeedParseError when the document is not a feed.
    """
    base = base_url or feed_url
    media_type = content_type.split(";")[0].strip().lower()
    head = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise FeedParseError(feed_url, "empty document")
    if head.startswith(b"{") or (media_type in _JSON_TYPES and not head.startswith(b"<")):
        return _parse_json_feed(content, feed_url, base)
    return _parse_xml_feed(content, feed_url, base, content_type.strip())


async def poll_feed(
    fetcher: Fetcher,
    feed_url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FeedPoll:
    """One conditional GET of a feed. The feed's own failures come back as status "error".

    On "not_modified" and "error" the validators passed in are kept (unless the server sent new
    ones), so a caller can always store `poll.etag`/`poll.last_modified` as they are.
    """
    try:
        result = await fetcher.get(
            feed_url, etag=etag, last_modified=last_modified, accept=FEED_ACCEPT
        )
    except FetchError as exc:
        status = exc.status if isinstance(exc, HttpStatusError) else None
        return FeedPoll(
            feed_url,
            "error",
            http_status=status,
            etag=etag,
            last_modified=last_modified,
            error=exc.reason,
        )
    if result.not_modified:
        return FeedPoll(
            feed_url,
            "not_modified",
            http_status=304,
            etag=result.etag or etag,
            last_modified=result.last_modified or last_modified,
        )
    try:
        entries = parse_feed(
            result.content,
            feed_url,
            result.headers.get("content-type", ""),
            base_url=result.final_url,
        )
    except FeedParseError as exc:
        return FeedPoll(
            feed_url,
            "error",
            http_status=result.status,
            etag=etag,
            last_modified=last_modified,
            error=exc.reason,
        )
    return FeedPoll(
        feed_url,
        "ok",
        http_status=result.status,
        etag=result.etag,
        last_modified=result.last_modified,
        entries=tuple(entries),
    )


async def poll_feeds(
    limits: FetchLimits,
    feeds: Sequence[tuple[str, str | None, str | None]],
    concurrency: int = 8,
) -> list[FeedPoll]:
    """Poll `(feed_url, etag, last_modified)` triples concurrently; results in input order."""
    semaphore = asyncio.Semaphore(concurrency)

    async with Fetcher(limits) as fetcher:

        async def poll_one(url: str, etag: str | None, last_modified: str | None) -> FeedPoll:
            async with semaphore:
                return await poll_feed(fetcher, url, etag=etag, last_modified=last_modified)

        return list(await asyncio.gather(*(poll_one(*feed) for feed in feeds)))
