"""The corpus: every read and write newsmon does against the database.

`open_corpus(url)` migrates the schema and returns a `Corpus`. Each write is one transaction
(`add_articles`: one per batch of articles, and ingest batches are serialised between workers);
unique constraints (canonical URL, one original per text hash, one digest per article and
watch) make re-runs and overlapping workers harmless: a write that loses a race is retried
and resolves to the row that won. Results are plain dataclasses, never SQLAlchemy rows.
"""

from __future__ import annotations

import gc
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError

from extractors.records import Article, FeedPoll, RelevanceMatch
from extractors.urls import canonical_url
from storage import ingest, stories
from storage.database import SQLITE_BEGIN, DatabaseError, chunks, connect, safe_url, upsert
from storage.ingest import NewArticle, Placement, StoredArticle
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

# A page that failed this many times is not tried again.
MAX_PAGE_ATTEMPTS = 3
# A write that loses a race on a unique constraint is retried this many times in all.
WRITE_ATTEMPTS = 3
# Python's switch interval (seconds) while the next batch is prepared beside a writing one.
PREPARE_SWITCH_INTERVAL = 0.001


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


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for one ingest batch. A batch builds ~1M
    objects that live until it ends (rows read, buckets, rankings, overlaps), so full
    collections kept running during it, each walking all of them (~80 ms, ~7 a batch of 400 at
    1M articles: 10-15% of its time); what a batch leaves, reference counting frees, and the
    rare cycle goes at the next collection after it. (Process-wide: the batch that found it on
    turns it back on, even while another thread's batch still runs.)"""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
        # Lookups read outside a transaction on PostgreSQL: under READ COMMITTED each statement
        # sees the latest commit either way, and BEGIN and ROLLBACK cost a lookup at 1M
        # articles ~1 ms (p50 6.6 -> 5.5 ms, p95 10.0 -> 8.7, interleaved runs).
        self._lookups = (
            engine.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self.sites = SiteStore(engine, self._writer, clock)
        self._frequencies = stories.StoredFrequencies()
        self._stories = stories.StoredStories()

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
            stmt = upsert(conn, feeds).values(**values)
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
            for chunk in chunks(wanted):
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
            stmt = upsert(conn, pages).values(**values)
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

    @_collector_paused()
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
        return self._store_batch([ingest.prepare(item) for item in items])

    def add_batches(self, batches: Iterable[Sequence[NewArticle]]) -> Iterator[list[StoredArticle]]:
        """Store batches in order, one transaction each (`add_articles`), and yield each
        batch's outcome once it is committed.

        On PostgreSQL the next batch is prepared (`ingest.prepare`, its story terms included:
        pure CPU) on a thread while the server writes and commits this one: at 1M articles a
        batch of 400 waited ~0.25 s for its writes and commit, and preparing took ~0.25 s
        (ingest +10-13%). On SQLite the writes are this process's own work: nothing to
        overlap (measured: no gain)."""
        if self._engine.dialect.name != "postgresql":
            yield from map(self.add_articles, batches)
            return
        pending = iter(batches)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsmon-prepare") as pool:
            prepared = _PreparedAhead(pool, next(pending, None)).result()
            while prepared is not None:
                ahead = _PreparedAhead(pool, next(pending, None))
                # (Started once the batch writes, not before: while it reads, the thread would
                # hold the GIL each time one of its queries returns.)
                yield self._store_batch(prepared, before_writes=ahead.start)
                prepared = ahead.result()

    @_collector_paused()
    def _store_batch(
        self,
        prepared: list[ingest.Prepared],
        before_writes: Callable[[], None] = lambda: None,
    ) -> list[StoredArticle]:
        """One batch's transaction (`add_articles`); `before_writes` is called when the batch
        has been placed and starts writing (again on a retry)."""
        if not prepared:
            return []
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self._write() as conn:
                    if conn.dialect.name == "postgresql":
                        conn.execute(_INGEST_LOCK)
                    batch = self._ingest_batch(conn)
                    batch.prefetch(prepared)
                    stored = [batch.add(p) for p in prepared]
                    before_writes()
                    batch.flush()
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
        prepared = ingest.prepare(NewArticle(article, "ingest"))
        with self._lookups.connect() as conn:
            # (No read ahead: for one article, reading only what its placement needs, when it
            # needs it, reads less: a copy never looks for a story.)
            place = self._ingest_batch(conn).place(prepared)
        if place.known is not None:
            known = place.known
            return Placement(known.id, known.duplicate_of, known.story_id)
        original = place.link.original.id if place.link else None
        return Placement(None, original, place.story_id)

    def _ingest_batch(self, conn: Connection) -> ingest.IngestBatch:
        frequencies = stories.DocumentFrequencies(self._frequencies)
        return ingest.IngestBatch(conn, frequencies, self._clock(), self._stories)

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
            for chunk in chunks(ids):
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
        for chunk in chunks(ids):
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


# Serialises ingest between PostgreSQL sessions until the transaction ends ("nmingest").
_INGEST_LOCK = sa.text("SELECT pg_advisory_xact_lock(7957132039535555444)")
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
    for chunk in chunks(ids):
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
    for chunk in chunks(ids):
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


class _PreparedAhead:
    """A batch prepared on a thread of `pool` once started (`_prepare_beside`; started again,
    nothing more), else when asked for."""

    def __init__(self, pool: ThreadPoolExecutor, items: Sequence[NewArticle] | None) -> None:
        self._pool = pool
        self._items = items
        self._future: Future[list[ingest.Prepared]] | None = None

    def start(self) -> None:
        if self._items is not None and self._future is None:
            self._future = self._pool.submit(_prepare_beside, self._items)

    def result(self) -> list[ingest.Prepared] | None:
        """The prepared batch; None when there is none."""
        if self._items is None:
            return None
        if self._future is not None:
            return self._future.result()
        return [ingest.prepare(item) for item in self._items]


def _prepare_beside(items: Sequence[NewArticle]) -> list[ingest.Prepared]:
    """`ingest.prepare` of each item on a thread beside a batch that writes, story terms
    included (counted when first needed otherwise: copies never need them, but beside the
    writes they cost no waiting), with Python's switch interval at PREPARE_SWITCH_INTERVAL
    while it runs: each of the batch's statements that returns waits for the GIL up to that
    long (5 ms by default; at 1M articles on PostgreSQL, 1 ms ingested 3-5% faster)."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(PREPARE_SWITCH_INTERVAL)
    try:
        prepared = [ingest.prepare(item) for item in items]
        for item in prepared:
            _ = item.story_terms
        return prepared
    finally:
        sys.setswitchinterval(previous)
