"""The corpus: every read and write newsmon does against the database.

`open_corpus(url)` migrates the schema and returns a `Corpus`. Each write is one transaction
(`add_articles`: one per batch of articles, and ingest batches are serialised between workers);
unique constraints (canonical URL, one original per text hash, one digest per article and
watch) make re-runs and overlapping workers harmless: a write that loses a race is retried
and resolves to the row that won. Results are plain dataclasses, never SQLAlchemy rows.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NamedTuple, Self

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from extractors.records import Article, FeedPoll, RelevanceMatch
from extractors.urls import canonical_url
from storage import dedup, lsh, stories
from storage.database import SQLITE_BEGIN, DatabaseError, connect, safe_url
from storage.schema import (
    article_watches,
    articles,
    digest_items,
    digests,
    feeds,
    pages,
)
from storage.sites import SiteStore

__all__ = [
    "ArticleRecord",
    "Corpus",
    "DatabaseError",
    "DigestConflictError",
    "DigestRecord",
    "FeedState",
    "NewArticle",
    "PageRecord",
    "Placement",
    "StoredArticle",
    "open_corpus",
]

SOURCES = ("seed", "feed", "ingest")
# A page that failed this many times is not tried again.
MAX_PAGE_ATTEMPTS = 3
# LSH candidates (`lsh.candidates`) are read with their signatures (a random read each at 1M
# articles), dedup.worth_verifying picks those whose texts are compared, at most this many.
MAX_NEAR_COPY_CANDIDATES = 50
# When an older article takes over a duplicate group, at most this many links get their
# reason measured again (the rest say which group they are in).
MAX_REPOINTED_REASONS = 200
# A write that loses a race on a unique constraint is retried this many times in all.
WRITE_ATTEMPTS = 3
_CHUNK = 500  # values per IN (...) list


@dataclass(frozen=True)
class FeedState:
    url: str
    etag: str | None
    last_modified: str | None
    last_status: str | None  # ok | not_modified | error
    last_error: str | None  # the reason of the last poll when it failed
    last_http_status: int | None
    last_polled_at: datetime | None
    last_ok_at: datetime | None
    entries_seen: int  # new entries found over all polls
    consecutive_failures: int


@dataclass(frozen=True)
class StoredArticle:
    """What `add_article` did: `is_new` is False when the canonical URL was already stored."""

    id: int
    is_new: bool
    duplicate_of: int | None
    # "same text as #12", "near copy of #12 (Jaccard 0.87)", "91% of its text in #12"
    reason: str | None


@dataclass(frozen=True)
class NewArticle:
    """An article to store (`Corpus.add_articles`) and what came with it."""

    article: Article
    source: str  # one of SOURCES
    matches: Sequence[RelevanceMatch] = ()  # relevance results; the matched ones are kept
    feed_url: str | None = None
    raw_html: bytes | None = None  # the fetched page, kept compressed
    fetched_url: str | None = None  # the URL fetched, when it differs from the article's
    http_status: int | None = None


@dataclass(frozen=True)
class Placement:
    """Where a new article would go (`Corpus.lookup`)."""

    known: int | None  # the stored article with the same canonical URL
    duplicate_of: int | None  # its original
    story_id: int | None  # its story; None for a new one


@dataclass(frozen=True)
class ArticleRecord:
    id: int
    url: str
    canonical_url: str
    title: str
    author: str | None
    site: str | None
    published: datetime | None
    fetched: datetime  # when it was stored
    language: str | None
    body: str
    text: str
    source: str  # seed | feed | ingest
    duplicate_of: int | None
    duplicate_reason: str | None
    similarity: float | None  # the overlap with the original the reason names (1.0: same text)
    story_id: int | None
    watches: tuple[str, ...]  # the watches it is relevant to, sorted
    matched: tuple[str, ...]  # the query terms found (for `undelivered`: that watch's only)


@dataclass(frozen=True)
class PageRecord:
    url: str
    feed_url: str | None
    final_url: str | None
    http_status: int | None
    fetched_at: datetime | None
    attempts: int
    error: str | None
    article_id: int | None
    raw_html: bytes | None  # decompressed


@dataclass(frozen=True)
class DigestRecord:
    id: int
    watch: str
    message_id: str
    status: str  # pending | sent
    subject: str
    created_at: datetime
    sent_at: datetime | None
    recipients: tuple[str, ...]
    message: bytes  # the RFC 5322 message, byte for byte as first composed
    error: str | None
    article_ids: tuple[int, ...]  # in digest order


class DigestConflictError(Exception):
    """A digest cannot be created: an item is already in a digest of the watch, or the
    Message-ID is taken."""


def open_corpus(url: str) -> Corpus:
    """Connect to the database at `url`, migrate it to the newest schema, return the corpus.

    Raises DatabaseError (one line, no password) when it cannot be reached or opened.
    """
    return Corpus(connect(url))


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Corpus:
    """The stored corpus. Safe to share between threads (one pooled connection per call)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._engine = engine
        self._clock = clock
        # On SQLite a writer takes the write lock at BEGIN: a transaction that reads and then
        # writes cannot fail half-way because another connection wrote in between.
        self._writer = (
            engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
            if engine.dialect.name == "sqlite"
            else engine
        )
        self.sites = SiteStore(engine, self._writer, clock)
        self._frequencies = stories.StoredFrequencies()

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The database URL without its password."""
        return safe_url(self._engine.url)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Corpus({self.url!r})"

    def _write(self) -> AbstractContextManager[Connection]:
        return self._writer.begin()

    def _read(self) -> AbstractContextManager[Connection]:
        return self._engine.connect()

    # --- feeds -------------------------------------------------------------------------------

    def feed_state(self, url: str) -> FeedState | None:
        with self._read() as conn:
            row = conn.execute(sa.select(feeds).where(feeds.c.url == url)).first()
        return _feed_state(row) if row else None

    def feed_states(self) -> list[FeedState]:
        with self._read() as conn:
            rows = conn.execute(sa.select(feeds).order_by(feeds.c.url)).all()
        return [_feed_state(r) for r in rows]

    def record_poll(self, poll: FeedPoll, new_entries: int) -> None:
        """Remember a poll's outcome: validators for the next conditional GET, health counters.

        ok: the new ETag/Last-Modified replace the old ones; not_modified: the stored ones stay
        unless new ones came; error: the reason is kept and consecutive_failures counts up.
        """
        now = self._clock()
        values: dict[str, Any] = {
            "url": poll.feed_url,
            "last_status": poll.status,
            "last_http_status": poll.http_status,
            "last_polled_at": now,
            "entries_seen": new_entries,
        }
        if poll.status in ("ok", "not_modified"):
            values |= {
                "etag": poll.etag,
                "last_modified": poll.last_modified,
                "last_error": None,
                "last_ok_at": now,
                "consecutive_failures": 0,
            }
        elif poll.status == "error":
            values |= {"last_error": poll.error or "unknown error", "consecutive_failures": 1}
        else:
            raise ValueError(f"unknown poll status {poll.status!r}")
        with self._write() as conn:
            stmt = _insert(conn, feeds).values(**values)
            new = stmt.excluded
            update: dict[str, Any] = {
                "last_status": new.last_status,
                "last_http_status": new.last_http_status,
                "last_polled_at": new.last_polled_at,
                "entries_seen": feeds.c.entries_seen + new_entries,
                "last_error": new.last_error,
            }
            if poll.status == "ok":
                update |= {"etag": new.etag, "last_modified": new.last_modified}
            elif poll.status == "not_modified":
                update |= {
                    "etag": sa.func.coalesce(new.etag, feeds.c.etag),
                    "last_modified": sa.func.coalesce(new.last_modified, feeds.c.last_modified),
                }
            if poll.status == "error":
                update["consecutive_failures"] = feeds.c.consecutive_failures + 1
            else:
                update |= {"consecutive_failures": 0, "last_ok_at": new.last_ok_at}
            conn.execute(stmt.on_conflict_do_update(index_elements=[feeds.c.url], set_=update))

    # --- pages -------------------------------------------------------------------------------

    def unseen_urls(self, urls: Sequence[str]) -> list[str]:
        """The URLs (in order, once each) worth fetching: not stored already under this or the
        same canonical URL, and not failed MAX_PAGE_ATTEMPTS times."""
        wanted = list(dict.fromkeys(urls))
        canonical = {url: canonical_url(url) for url in wanted}
        seen: set[str] = set()
        with self._read() as conn:
            for chunk in _chunks(wanted):
                done = sa.or_(
                    pages.c.article_id.is_not(None), pages.c.attempts >= MAX_PAGE_ATTEMPTS
                )
                seen.update(
                    conn.scalars(sa.select(pages.c.url).where(pages.c.url.in_(chunk), done))
                )
                seen.update(
                    conn.scalars(sa.select(articles.c.url).where(articles.c.url.in_(chunk)))
                )
                forms = {canonical[u] for u in chunk}
                stored = set(
                    conn.scalars(
                        sa.select(articles.c.canonical_url).where(
                            articles.c.canonical_url.in_(forms)
                        )
                    )
                )
                seen.update(u for u in chunk if canonical[u] in stored)
        return [u for u in wanted if u not in seen]

    def record_page_failure(
        self, url: str, feed_url: str | None, error: str, *, http_status: int | None = None
    ) -> None:
        """One more failed attempt at a page (fetch or extraction); the reason is kept."""
        values = {
            "url": url,
            "feed_url": feed_url,
            "http_status": http_status,
            "fetched_at": self._clock(),
            "attempts": 1,
            "error": error,
        }
        with self._write() as conn:
            stmt = _insert(conn, pages).values(**values)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[pages.c.url],
                    set_={
                        "feed_url": sa.func.coalesce(stmt.excluded.feed_url, pages.c.feed_url),
                        "http_status": stmt.excluded.http_status,
                        "fetched_at": stmt.excluded.fetched_at,
                        "attempts": pages.c.attempts + 1,
                        "error": stmt.excluded.error,
                    },
                )
            )

    def get_page(self, url: str) -> PageRecord | None:
        with self._read() as conn:
            row = conn.execute(sa.select(pages).where(pages.c.url == url)).first()
        return _page(row) if row else None

    def pages_of(self, article_id: int) -> list[PageRecord]:
        """The fetched pages stored for an article (to re-extract it), oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(pages).where(pages.c.article_id == article_id).order_by(pages.c.id)
            ).all()
        return [_page(r) for r in rows]

    # --- articles ----------------------------------------------------------------------------

    def add_article(
        self,
        article: Article,
        *,
        source: str,
        matches: Sequence[RelevanceMatch] = (),
        feed_url: str | None = None,
        raw_html: bytes | None = None,
        fetched_url: str | None = None,
        http_status: int | None = None,
    ) -> StoredArticle:
        """Store one article (`add_articles` of one)."""
        item = NewArticle(article, source, matches, feed_url, raw_html, fetched_url, http_status)
        return self.add_articles([item])[0]

    def add_articles(self, items: Sequence[NewArticle]) -> list[StoredArticle]:
        """Store articles in order, in one transaction: each unless its canonical URL is known,
        linked to its original when it has the same text or is a near copy, put into a story
        (a copy into its original's). The page row (`fetched_url`, else the article's URL) is
        recorded when the article was fetched (`fetched_url` or `raw_html` given); matched
        relevance results are kept.

        Ingest is serialised: one batch at a time across every worker (SQLite: the write lock
        taken at BEGIN; PostgreSQL: an advisory lock), so each article is compared with every
        article stored before it. Batches of 100-500 articles amortise the commit and the
        document-frequency writes (`stories.DocumentFrequencies`).
        """
        prepared = [_prepare(item) for item in items]
        if not prepared:
            return []
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self._write() as conn:
                    if conn.dialect.name == "postgresql":
                        conn.execute(_INGEST_LOCK)
                    self._frequencies.check(conn)
                    frequencies = stories.DocumentFrequencies(self._frequencies)
                    stored = [self._add_article(conn, p, frequencies) for p in prepared]
                    frequencies.flush(conn)
                    return stored
            except IntegrityError:
                # Another writer stored the same URL or text first: the retry resolves to it.
                if attempt == WRITE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def lookup(self, article: Article) -> Placement:
        """Where `add_article` would put the article, without storing anything: the stored
        article with its canonical URL, else its original and story (read only; what
        bench/scale.py times as the dedup and story lookup)."""
        fingerprint = dedup.fingerprint(article.body)
        with self._read() as conn:
            existing = conn.execute(_BY_CANONICAL_URL, {"url": article.canonical_url}).first()
            if existing is not None:
                return Placement(existing.id, existing.duplicate_of, existing.story_id)
            link = self._find_original(conn, article, fingerprint)
            self._frequencies.check(conn)
            frequencies = stories.DocumentFrequencies(self._frequencies)
            place = self._story_of(conn, article, link, frequencies, self._clock())
        return Placement(None, link.original.id if link else None, place.story_id)

    def _add_article(
        self, conn: Connection, new: _Prepared, frequencies: stories.DocumentFrequencies
    ) -> StoredArticle:
        now = self._clock()
        article, fingerprint = new.article, new.fingerprint
        existing = conn.execute(_BY_CANONICAL_URL, {"url": article.canonical_url}).first()
        if existing is not None:
            if new.page is not None:
                self._store_page(conn, new.page, existing.id, now)
            self._store_matches(conn, existing.id, new.terms)
            return StoredArticle(
                existing.id, False, existing.duplicate_of, existing.duplicate_reason
            )

        link = self._find_original(conn, article, fingerprint)
        place = self._story_of(conn, article, link, frequencies, now)
        if place.vector is None:
            assert place.story_id is not None  # a group's story
            stories.join_story(conn, place.story_id, article.published)
            story_id = place.story_id
        else:
            story_id = stories.add_to_story(conn, place.story, place.vector, now)
            frequencies.count(place.vector.terms)
        result = conn.execute(
            articles.insert(),
            {
                "url": article.url,
                "canonical_url": article.canonical_url,
                "title": article.title,
                "author": article.author,
                "site": article.site,
                "published": article.published,
                "fetched": now,
                "language": article.language,
                "body": article.body,
                "text": article.text,
                "source": new.source,
                "text_hash": fingerprint.text_hash,
                "minhash": fingerprint.signature,
                "duplicate_of": link.original.id if link else None,
                "duplicate_reason": link.reason if link else None,
                "similarity": link.similarity if link else None,
                "story_id": story_id,
            },
        )
        article_id = int(result.inserted_primary_key[0])
        # Copies are indexed too: a later copy may be closer to a copy than to the original.
        lsh.add_keys(conn, article_id, fingerprint.band_keys)
        duplicate_of = link.original.id if link else None
        reason = link.reason if link else None
        if link is not None and _is_older(article, link.original):
            self._become_original(conn, article_id, article.body, link.original.id)
            duplicate_of = reason = None
        if new.page is not None:
            self._store_page(conn, new.page, article_id, now)
        self._store_matches(conn, article_id, new.terms)
        return StoredArticle(article_id, True, duplicate_of, reason)

    def _story_of(
        self,
        conn: Connection,
        article: Article,
        link: _Link | None,
        frequencies: stories.DocumentFrequencies,
        now: datetime,
    ) -> _StoryPlace:
        """The story of a new article (read only): a copy (or a group's new original) is in
        its group's story, returned without a vector; another article is clustered
        (`stories.find_story`; None: it starts a story), returned with its vector."""
        if link is not None and link.original.story_id is not None:
            return _StoryPlace(link.original.story_id, None, None)
        vector = stories.story_vector(
            conn,
            frequencies,
            title=article.title,
            body=article.body,
            published=article.published,
            now=now,
        )
        story = stories.find_story(conn, vector)
        return _StoryPlace(story.id if story else None, vector, story)

    def _find_original(
        self, conn: Connection, article: Article, fingerprint: dedup.Fingerprint
    ) -> _Link | None:
        """The original of the group the new article belongs to (same text, else the verified
        near copy that overlaps it most), with the reason and the measured overlap."""
        if fingerprint.text_hash is not None:
            same = self._original_with_text(conn, fingerprint.text_hash)
            if same is not None:
                row = conn.execute(_MEMBER_COLUMNS.where(articles.c.id == same)).one()
                return _Link(_member(row), f"same text as #{same}", 1.0)
        if not fingerprint.near_copy_candidate:
            return None
        return self._nearest_original(conn, article, fingerprint)

    def _original_with_text(self, conn: Connection, text_hash: str) -> int | None:
        return conn.scalar(_ORIGINAL_WITH_TEXT, {"hash": text_hash})

    def _nearest_original(
        self, conn: Connection, article: Article, fingerprint: dedup.Fingerprint
    ) -> _Link | None:
        """LSH candidates (`lsh.candidates`: stored band keys, full text and lead), kept
        when they share enough bands or MinHash values (`dedup.worth_verifying`: unrelated
        texts meeting in a band through a common phrase are dropped here, before their bodies
        are read), verified on their stored bodies (at most MAX_NEAR_COPY_CANDIDATES); the best
        match links the article to the original of the match's group."""
        found = lsh.candidates(conn, fingerprint.band_keys)  # most shared bands first
        candidates = [
            article_id
            for article_id, shared, signature in found
            if dedup.worth_verifying(shared, fingerprint.signature, signature)
        ][:MAX_NEAR_COPY_CANDIDATES]
        if not candidates:
            return None
        best: tuple[tuple[float, float, int], _Member, dedup.Overlap] | None = None
        for row in conn.execute(_MEMBERS, {"ids": candidates}):
            found = dedup.overlap(article.body, row.body)
            if not dedup.is_near_copy(found):
                continue
            rank = (found.containment, found.jaccard, -row.id)
            if best is None or rank > best[0]:
                best = (rank, _member(row), found)
        if best is None:
            return None
        _, match, found = best
        if match.duplicate_of is None:
            reason, similarity = dedup.describe(found, match.id)
            return _Link(match, reason, similarity)
        # A copy's match joins the copy's group, under its original (never under a copy).
        row = conn.execute(_MEMBER_COLUMNS.where(articles.c.id == match.duplicate_of)).one()
        original = _member(row)
        to_original = dedup.overlap(article.body, original.body)
        reason, similarity = dedup.describe(to_original, original.id)
        if not dedup.is_near_copy(to_original):
            reason += f", via its copy #{match.id}"
        return _Link(original, reason, similarity)

    def _become_original(
        self, conn: Connection, article_id: int, body: str, old_original: int
    ) -> None:
        """The new article is older than its group's original: it becomes the original and
        the group (the old original and its copies) points to it, each with a new reason."""
        copies = conn.scalars(
            sa.select(articles.c.id)
            .where(articles.c.duplicate_of == old_original, articles.c.id != article_id)
            .order_by(articles.c.id)
        )
        members = [old_original, *copies]
        # The old original first stops being one, so the one-original-per-text index holds.
        conn.execute(
            articles.update()
            .where(articles.c.duplicate_of == old_original, articles.c.id != article_id)
            .values(duplicate_of=article_id)
        )
        conn.execute(
            articles.update()
            .where(articles.c.id == old_original)
            .values(duplicate_of=article_id, duplicate_reason=None, similarity=None)
        )
        conn.execute(
            articles.update()
            .where(articles.c.id == article_id)
            .values(duplicate_of=None, duplicate_reason=None, similarity=None)
        )
        # Reasons are measured again against the new original (a bounded number of them).
        new_hash = dedup.text_hash(body)
        for chunk in _chunks(members[:MAX_REPOINTED_REASONS]):
            rows = conn.execute(
                sa.select(articles.c.id, articles.c.body, articles.c.text_hash).where(
                    articles.c.id.in_(chunk)
                )
            ).all()
            for row in rows:
                found = dedup.overlap(row.body, body)
                if row.text_hash is not None and row.text_hash == new_hash:
                    reason, similarity = f"same text as #{article_id}", 1.0
                else:
                    reason, similarity = dedup.describe(found, article_id)
                conn.execute(
                    articles.update()
                    .where(articles.c.id == row.id)
                    .values(duplicate_reason=reason, similarity=similarity)
                )
        if len(members) > MAX_REPOINTED_REASONS:
            conn.execute(
                articles.update()
                .where(
                    articles.c.id.in_(members[MAX_REPOINTED_REASONS:]),
                )
                .values(duplicate_reason=f"in the group of #{article_id}")
            )

    def _store_page(
        self, conn: Connection, page: dict[str, Any], article_id: int, now: datetime
    ) -> None:
        stmt = _insert(conn, pages).values(
            **page, fetched_at=now, attempts=1, error=None, article_id=article_id
        )
        new = stmt.excluded
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[pages.c.url],
                set_={
                    "feed_url": sa.func.coalesce(new.feed_url, pages.c.feed_url),
                    "final_url": new.final_url,
                    "http_status": sa.func.coalesce(new.http_status, pages.c.http_status),
                    "fetched_at": new.fetched_at,
                    "attempts": pages.c.attempts + 1,
                    "error": None,
                    "raw_html": sa.func.coalesce(new.raw_html, pages.c.raw_html),
                    "article_id": new.article_id,
                },
            )
        )

    def _store_matches(
        self, conn: Connection, article_id: int, terms: dict[str, list[str]]
    ) -> None:
        if not terms:
            return
        stmt = _insert(conn, article_watches).values(
            [{"article_id": article_id, "watch": w, "terms": t} for w, t in terms.items()]
        )
        conn.execute(stmt.on_conflict_do_nothing())

    def article_count(self) -> int:
        with self._read() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(articles)) or 0)

    def get_article(self, article_id: int) -> ArticleRecord:
        """The stored article; KeyError when there is none with that id."""
        with self._read() as conn:
            row = conn.execute(_ARTICLE_COLUMNS.where(articles.c.id == article_id)).first()
            if row is None:
                raise KeyError(f"no article #{article_id}")
            return _article_records(conn, [row])[0]

    def iter_articles(self, *, batch_size: int = 500) -> Iterator[ArticleRecord]:
        """Every article in id order, read in batches (no transaction held between them)."""
        last_id = 0
        while True:
            with self._read() as conn:
                rows = conn.execute(
                    _ARTICLE_COLUMNS.where(articles.c.id > last_id)
                    .order_by(articles.c.id)
                    .limit(batch_size)
                ).all()
                records = _article_records(conn, rows)
            yield from records
            if len(rows) < batch_size:
                return
            last_id = rows[-1].id

    # --- digests -----------------------------------------------------------------------------

    def undelivered(self, watch: str) -> list[ArticleRecord]:
        """Originals relevant to the watch that no digest of the watch holds yet, in published
        order (undated last), then id. `matched` holds this watch's terms only."""
        taken = sa.exists().where(
            digest_items.c.watch == watch, digest_items.c.article_id == articles.c.id
        )
        query = (
            _ARTICLE_COLUMNS.join(
                article_watches,
                sa.and_(
                    article_watches.c.article_id == articles.c.id, article_watches.c.watch == watch
                ),
            )
            .where(articles.c.duplicate_of.is_(None), ~taken)
            .order_by(articles.c.published.asc().nulls_last(), articles.c.id)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
            return _article_records(conn, rows, only_watch=watch)

    def delivered_in_stories(self, watch: str, story_ids: Iterable[int]) -> list[ArticleRecord]:
        """Originals of these stories that a sent digest of the watch held, in published order:
        what a digest shows as already delivered when a story grows."""
        ids = sorted(set(story_ids))
        if not ids:
            return []
        delivered = sa.exists().where(
            digest_items.c.watch == watch,
            digest_items.c.article_id == articles.c.id,
            digest_items.c.digest_id == digests.c.id,
            digests.c.status == "sent",
        )
        records: list[ArticleRecord] = []
        with self._read() as conn:
            for chunk in _chunks(ids):
                query = (
                    _ARTICLE_COLUMNS.join(
                        article_watches,
                        sa.and_(
                            article_watches.c.article_id == articles.c.id,
                            article_watches.c.watch == watch,
                        ),
                    )
                    .where(
                        articles.c.duplicate_of.is_(None),
                        articles.c.story_id.in_(chunk),
                        delivered,
                    )
                    .order_by(articles.c.published.asc().nulls_last(), articles.c.id)
                )
                records += _article_records(conn, conn.execute(query).all(), only_watch=watch)
        return records

    def pending_digest(self, watch: str) -> DigestRecord | None:
        """The oldest digest of the watch composed but not yet marked sent, if any."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(digests)
                .where(digests.c.watch == watch, digests.c.status == "pending")
                .order_by(digests.c.created_at, digests.c.id)
                .limit(1)
            ).first()
            return _digest_records(conn, [row])[0] if row else None

    def create_digest(
        self,
        watch: str,
        message_id: str,
        subject: str,
        recipients: Sequence[str],
        message: bytes,
        article_ids: Sequence[int],
    ) -> DigestRecord:
        """Record a digest (status pending) and its items in one transaction, before sending.

        Raises DigestConflictError when an item is already in a digest of this watch or the
        Message-ID is taken: nothing is then recorded.
        """
        ids = list(dict.fromkeys(article_ids))
        try:
            with self._write() as conn:
                self._check_digest(conn, watch, message_id, ids)
                digest_id = int(
                    conn.execute(
                        digests.insert().values(
                            watch=watch,
                            message_id=message_id,
                            status="pending",
                            subject=subject,
                            created_at=self._clock(),
                            recipients=list(recipients),
                            message=message,
                        )
                    ).inserted_primary_key[0]
                )
                if ids:
                    conn.execute(
                        digest_items.insert(),
                        [
                            {"digest_id": digest_id, "article_id": a, "watch": watch, "position": i}
                            for i, a in enumerate(ids)
                        ],
                    )
                row = conn.execute(sa.select(digests).where(digests.c.id == digest_id)).one()
                return _digest_records(conn, [row])[0]
        except IntegrityError as exc:
            # Lost a race with another worker: say what the winner took.
            with self._read() as conn:
                self._check_digest(conn, watch, message_id, ids)
            raise DigestConflictError(
                f"cannot record digest {message_id} of watch {watch!r}: {_first_line(exc)}"
            ) from exc

    def _check_digest(self, conn: Connection, watch: str, message_id: str, ids: list[int]) -> None:
        taken = conn.scalar(sa.select(digests.c.id).where(digests.c.message_id == message_id))
        if taken is not None:
            raise DigestConflictError(f"Message-ID {message_id} is already digest #{taken}")
        for chunk in _chunks(ids):
            row = conn.execute(
                sa.select(digest_items.c.article_id, digest_items.c.digest_id)
                .where(digest_items.c.watch == watch, digest_items.c.article_id.in_(chunk))
                .order_by(digest_items.c.article_id)
                .limit(1)
            ).first()
            if row is not None:
                raise DigestConflictError(
                    f"article #{row.article_id} is already in digest #{row.digest_id} "
                    f"of watch {watch!r}"
                )
            known = set(conn.scalars(sa.select(articles.c.id).where(articles.c.id.in_(chunk))))
            missing = [a for a in chunk if a not in known]
            if missing:
                raise DigestConflictError(f"no article #{missing[0]}")

    def mark_digest_sent(self, digest_id: int) -> None:
        """Pending → sent (idempotent: a digest already sent keeps its first sent_at)."""
        with self._write() as conn:
            result = conn.execute(
                digests.update()
                .where(digests.c.id == digest_id, digests.c.status == "pending")
                .values(status="sent", sent_at=self._clock(), error=None)
            )
            if (
                result.rowcount == 0
                and conn.scalar(sa.select(digests.c.id).where(digests.c.id == digest_id)) is None
            ):
                raise KeyError(f"no digest #{digest_id}")

    def record_digest_error(self, digest_id: int, error: str, *, failed: bool = False) -> None:
        """A delivery attempt failed: the reason is kept. The digest stays pending (tried again
        on the next run) unless `failed`: refused for good, it waits for
        `retry_failed_digests`. Either way its items stay its own: never in another digest."""
        values: dict[str, Any] = {"error": error}
        if failed:
            values["status"] = "failed"
        with self._write() as conn:
            result = conn.execute(
                digests.update().where(digests.c.id == digest_id).values(**values)
            )
            if result.rowcount == 0:
                raise KeyError(f"no digest #{digest_id}")

    def retry_failed_digests(self, watch: str) -> int:
        """Make the watch's failed digests pending again (same message, same items)."""
        with self._write() as conn:
            return conn.execute(
                digests.update()
                .where(digests.c.watch == watch, digests.c.status == "failed")
                .values(status="pending")
            ).rowcount

    def digests(self, watch: str | None = None) -> list[DigestRecord]:
        """Digests (of one watch, or all), oldest first."""
        query = sa.select(digests).order_by(digests.c.created_at, digests.c.id)
        if watch is not None:
            query = query.where(digests.c.watch == watch)
        with self._read() as conn:
            return _digest_records(conn, conn.execute(query).all())


# --- helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Member:
    """What dedup needs of a stored article."""

    id: int
    duplicate_of: int | None
    published: datetime | None
    site: str | None
    body: str
    story_id: int | None


@dataclass(frozen=True)
class _Link:
    original: _Member
    reason: str
    similarity: float


class _StoryPlace(NamedTuple):
    story_id: int | None
    vector: stories.StoryVector | None  # None: a copy, in its group's story
    story: stories.Story | None  # the story an original joins, as read


@dataclass(frozen=True)
class _Prepared:
    """A NewArticle checked and fingerprinted, ready for its transaction."""

    article: Article
    source: str
    fingerprint: dedup.Fingerprint
    terms: dict[str, list[str]]  # watch -> the query terms found
    page: dict[str, Any] | None  # the `pages` row, when the article was fetched


def _prepare(new: NewArticle) -> _Prepared:
    if new.source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {new.source!r}")
    # PostgreSQL text cannot hold NUL characters (SQLite can): drop them everywhere alike.
    article = _without_nul(new.article)
    page = None
    if new.fetched_url is not None or new.raw_html is not None:
        page = {
            "url": new.fetched_url or article.url,
            "feed_url": new.feed_url,
            "final_url": article.url,
            "http_status": new.http_status,
            "raw_html": zlib.compress(new.raw_html, 6) if new.raw_html is not None else None,
        }
    return _Prepared(
        article,
        new.source,
        dedup.fingerprint(article.body),
        {m.watch: list(dict.fromkeys(m.terms)) for m in new.matches if m.matched},
        page,
    )


# Serialises ingest between PostgreSQL sessions until the transaction ends ("nmingest").
_INGEST_LOCK = sa.text("SELECT pg_advisory_xact_lock(7957132039535555444)")
_BY_CANONICAL_URL = sa.select(
    articles.c.id, articles.c.duplicate_of, articles.c.duplicate_reason, articles.c.story_id
).where(articles.c.canonical_url == sa.bindparam("url"))
_ORIGINAL_WITH_TEXT = sa.select(articles.c.id).where(
    articles.c.text_hash == sa.bindparam("hash"), articles.c.duplicate_of.is_(None)
)
_MEMBER_COLUMNS = sa.select(
    articles.c.id,
    articles.c.duplicate_of,
    articles.c.published,
    articles.c.site,
    articles.c.body,
    articles.c.story_id,
)
_MEMBERS = _MEMBER_COLUMNS.where(articles.c.id.in_(sa.bindparam("ids", expanding=True)))


def _member(row: Row[Any]) -> _Member:
    return _Member(row.id, row.duplicate_of, row.published, row.site, row.body, row.story_id)


def _is_older(article: Article, original: _Member) -> bool:
    """Whether the new article should be its group's original: published earlier, or at the
    same time by a news agency when the original is not an agency's. When either date is
    unknown, arrival order stands."""
    if article.published is None or original.published is None:
        return False
    published = article.published
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    if published < original.published:
        return True
    return (
        published == original.published
        and dedup.is_wire_source(article.site)
        and not dedup.is_wire_source(original.site)
    )


_ARTICLE_COLUMNS = sa.select(
    articles.c.id,
    articles.c.url,
    articles.c.canonical_url,
    articles.c.title,
    articles.c.author,
    articles.c.site,
    articles.c.published,
    articles.c.fetched,
    articles.c.language,
    articles.c.body,
    articles.c.text,
    articles.c.source,
    articles.c.duplicate_of,
    articles.c.duplicate_reason,
    articles.c.similarity,
    articles.c.story_id,
)


def _insert(conn: Connection, table: sa.Table) -> Any:
    """INSERT with ON CONFLICT support for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database {conn.dialect.name}")


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _without_nul(article: Article) -> Article:
    fields = ("url", "canonical_url", "title", "body", "text", "author", "site", "language")
    dirty = {f: getattr(article, f) for f in fields if "\x00" in (getattr(article, f) or "")}
    return (
        replace(article, **{f: v.replace("\x00", "") for f, v in dirty.items()})
        if dirty
        else article
    )


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _feed_state(row: Row[Any]) -> FeedState:
    return FeedState(
        url=row.url,
        etag=row.etag,
        last_modified=row.last_modified,
        last_status=row.last_status,
        last_error=row.last_error,
        last_http_status=row.last_http_status,
        last_polled_at=row.last_polled_at,
        last_ok_at=row.last_ok_at,
        entries_seen=row.entries_seen,
        consecutive_failures=row.consecutive_failures,
    )


def _page(row: Row[Any]) -> PageRecord:
    return PageRecord(
        url=row.url,
        feed_url=row.feed_url,
        final_url=row.final_url,
        http_status=row.http_status,
        fetched_at=row.fetched_at,
        attempts=row.attempts,
        error=row.error,
        article_id=row.article_id,
        raw_html=zlib.decompress(row.raw_html) if row.raw_html is not None else None,
    )


def _article_records(
    conn: Connection, rows: Sequence[Row[Any]], *, only_watch: str | None = None
) -> list[ArticleRecord]:
    ids = [row.id for row in rows]
    watches: dict[int, dict[str, list[str]]] = {}
    for chunk in _chunks(ids):
        query = sa.select(article_watches).where(article_watches.c.article_id.in_(chunk))
        for match in conn.execute(query.order_by(article_watches.c.watch)):
            watches.setdefault(match.article_id, {})[match.watch] = list(match.terms or [])
    records = []
    for row in rows:
        found = watches.get(row.id, {})
        term_lists: Iterable[list[str]] = (
            [found.get(only_watch, [])] if only_watch is not None else found.values()
        )
        matched = tuple(dict.fromkeys(t for terms in term_lists for t in terms))
        records.append(
            ArticleRecord(
                id=row.id,
                url=row.url,
                canonical_url=row.canonical_url,
                title=row.title,
                author=row.author,
                site=row.site,
                published=row.published,
                fetched=row.fetched,
                language=row.language,
                body=row.body,
                text=row.text,
                source=row.source,
                duplicate_of=row.duplicate_of,
                duplicate_reason=row.duplicate_reason,
                similarity=row.similarity,
                story_id=row.story_id,
                watches=tuple(sorted(found)),
                matched=matched,
            )
        )
    return records


def _digest_records(conn: Connection, rows: Sequence[Row[Any]]) -> list[DigestRecord]:
    items: dict[int, list[int]] = {}
    ids = [row.id for row in rows]
    for chunk in _chunks(ids):
        query = (
            sa.select(digest_items.c.digest_id, digest_items.c.article_id)
            .where(digest_items.c.digest_id.in_(chunk))
            .order_by(digest_items.c.digest_id, digest_items.c.position)
        )
        for digest_id, article_id in conn.execute(query):
            items.setdefault(digest_id, []).append(article_id)
    return [
        DigestRecord(
            id=row.id,
            watch=row.watch,
            message_id=row.message_id,
            status=row.status,
            subject=row.subject,
            created_at=row.created_at,
            sent_at=row.sent_at,
            recipients=tuple(row.recipients or ()),
            message=bytes(row.message),
            error=row.error,
            article_ids=tuple(items.get(row.id, ())),
        )
        for row in rows
    ]
