"""Records that cross module boundaries: what extractors produce and storage and alerts consume.

Plain frozen dataclasses, so every stage can be called and tested without Prefect or a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class FetchLimits:
    """The `[fetch]` section of newsmon.toml."""

    user_agent: str = "newsmon/0.1 (+https://example.org/newsmon)"
    timeout: float = 20.0
    max_bytes: int = 5_000_000
    allow_private_hosts: tuple[str, ...] = ()
    max_redirects: int = 5


@dataclass(frozen=True)
class FetchResult:
    """One HTTP GET after redirects were followed."""

    url: str  # the URL asked for
    final_url: str  # the URL that answered, after redirects
    status: int
    headers: dict[str, str]  # lower-cased names
    content: bytes  # decoded body (gzip/br undone); empty for a 304
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed (RSS, Atom or JSON Feed)."""

    feed_url: str
    url: str  # absolute link to the article page
    title: str = ""
    published: datetime | None = None  # timezone-aware UTC when known
    summary: str = ""
    guid: str = ""


@dataclass(frozen=True)
class FeedPoll:
    """The outcome of polling one feed. A failed poll is a value, not an exception."""

    feed_url: str
    status: str  # "ok" | "not_modified" | "error"
    http_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    entries: tuple[FeedEntry, ...] = ()
    error: str | None = None  # specific reason when status == "error"


@dataclass(frozen=True)
class Article:
    """An article in clean-text form, ready for relevance, dedup and storage."""

    url: str  # where it was fetched (or given)
    canonical_url: str  # normalised canonical URL: the same-URL dedup key
    title: str
    body: str  # clean-text body: no title, no byline line
    text: str  # the whole clean-text document (title, byline, body)
    author: str | None = None
    site: str | None = None
    published: datetime | None = None  # timezone-aware UTC when known
    language: str | None = None


@dataclass(frozen=True)
class RelevanceMatch:
    """Whether an article matches a watch's query, and which query terms were found."""

    watch: str
    matched: bool
    terms: tuple[str, ...] = field(default_factory=tuple)
