"""Ingest of a batch of articles in one transaction: dedup (levels 1-3), the original of each
group, stories (level 4), and the rows written.

`Corpus.add_articles` runs it: `prepare` each article (fingerprint and story terms, outside the
transaction), then in the transaction an `IngestBatch`: `prefetch` reads what the whole batch
needs in a few queries (stored canonical URLs, originals by text, the buckets of every anchor,
the signatures and texts of the candidates, story index entries and stories), `add` places the
articles one by one in arrival order, and `flush` writes the rows. Each article sees every
article before it, those of its own batch included (held in memory until the flush), exactly
as if they had been stored one at a time: at a million articles a query per article and step
cost ~25 ms an article, most of it round trips and random reads; a batch's queries cost
~1 ms an article. `Corpus.lookup` is the same placement for one article, nothing written.

The pipeline, per article: same canonical URL -> known (nothing new stored); same text ->
copy of that text's original; else near-copy candidates (stored anchors, and this batch's)
kept when they share enough anchors, or enough of them and of the signature
(`dedup.worth_verifying`), verified on their texts (`dedup.overlap`: one near copy per group
decides the group), the best match links the article to its group's original; an older
article takes over its group (`_become_original`); an original is clustered into a story
(`stories.StoryIndex`), a copy joins its original's story.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from extractors.records import Article, RelevanceMatch
from storage import anchor_index, dedup, stories
from storage.database import advance_sequence, chunks, json_text, upsert
from storage.schema import article_watches, articles, pages

SOURCES = ("seed", "feed", "ingest")
# Articles per transaction (`Corpus.add_articles`) in the flows and `newsmon ingest`: large
# enough to amortise the commit and the document-frequency writes (at 1M articles on SQLite 400
# ingested ~10% faster than 200: more of a batch's index entries share pages), small enough that
# a failure loses little work (the next run skips what was stored).
BATCH_SIZE = 400
# Near-copy candidates: the articles sharing the most anchors with the new text, at most this
# many (ties: the newest), of which dedup.worth_verifying keeps those whose texts are compared.
MAX_CANDIDATES = 50
# When an older article takes over a duplicate group, at most this many links get their
# reason measured again (the rest say which group they are in).
MAX_REPOINTED_REASONS = 200


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
class StoredArticle:
    """What `add_article` did: `is_new` is False when the canonical URL was already stored."""

    id: int
    is_new: bool
    duplicate_of: int | None
    # "same text as #12", "near copy of #12 (Jaccard 0.87)", "91% of its text in #12"
    reason: str | None


@dataclass(frozen=True)
class Placement:
    """Where a new article would go (`Corpus.lookup`)."""

    known: int | None  # the stored article with the same canonical URL
    duplicate_of: int | None  # its original
    story_id: int | None  # its story; None for a new one


@dataclass(frozen=True)
class Prepared:
    """A NewArticle checked, fingerprinted and counted, ready for its transaction."""

    article: Article
    source: str
    fingerprint: dedup.Fingerprint
    terms: dict[str, list[str]]  # watch -> the query terms found
    page: dict[str, Any] | None  # the `pages` row, when the article was fetched

    @cached_property
    def story_terms(self) -> dict[str, int]:
        """`stories.story_terms_of`, counted when first needed: known articles and copies of
        a stored text never need them."""
        return stories.story_terms_of(self.article.title, self.article.body)


def prepare(new: NewArticle) -> Prepared:
    """Check and fingerprint an article (pure CPU: done before the transaction)."""
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
    return Prepared(
        article,
        new.source,
        dedup.fingerprint(article.body),
        {m.watch: list(dict.fromkeys(m.terms)) for m in new.matches if m.matched},
        page,
    )


@dataclass(frozen=True)
class _Known:
    """A stored article, found by its canonical URL."""

    id: int
    duplicate_of: int | None
    duplicate_reason: str | None
    story_id: int | None


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


@dataclass(frozen=True)
class _Place:
    """Where an article goes: known, or its link (None: an original) and story."""

    known: _Known | None
    link: _Link | None = None
    story_id: int | None = None  # None: a new story
    vector: stories.StoryVector | None = None  # None: a copy, in its group's story


class IngestBatch:
    """One transaction's placement and writes (see the module docstring). The caller holds
    the ingest lock (batches are serialised): ids of new rows are given here."""

    def __init__(
        self,
        conn: Connection,
        frequencies: stories.DocumentFrequencies,
        now: datetime,
        kept_stories: stories.StoredStories | None = None,
    ) -> None:
        self._conn = conn
        self._now = now
        self.stories = stories.StoryIndex(conn, frequencies, now, kept_stories)
        # What the database holds (read ahead or when needed) with this batch's articles:
        self._known: dict[str, _Known | None] = {}  # canonical URL ->
        self._originals: dict[str, int | None] = {}  # text hash -> its original
        self._members: dict[int, _Member] = {}
        self._signatures: dict[int, bytes] = {}
        self._buckets: dict[int, list[int]] = {}  # anchor -> newest stored members
        self._anchor_counts: dict[int, int] = {}  # article -> its number of anchors
        self._batch_buckets: dict[int, list[int]] = {}  # anchor -> this batch's articles
        self._batch_ids: set[int] = set()  # this batch's articles
        # Measured once per batch: read ahead, then placed.
        self._worth: dict[dedup.Fingerprint, list[int]] = {}  # `_worth_verifying`, as read ahead
        self._overlaps: dict[tuple[str, int], dedup.Overlap] = {}  # (body, member) ->
        # Rows to write at the flush.
        self._articles: list[dict[str, Any]] = []
        self._anchors: list[tuple[int, int, int]] = []  # (anchor, article_id, its anchors)
        self._pages: list[dict[str, Any]] = []
        self._matches: list[dict[str, Any]] = []
        self._next_id: int | None = None

    # --- reads ahead -------------------------------------------------------------------------

    def prefetch(self, items: Sequence[Prepared]) -> None:
        """Read what these articles' placement needs, a few queries for all of them."""
        self._read_known(
            [p.article.canonical_url for p in items],
            [h for p in items if (h := p.fingerprint.text_hash) is not None],
        )
        new = [p for p in items if self._known[p.article.canonical_url] is None]
        hashes = [h for p in new if (h := p.fingerprint.text_hash) is not None]
        copies_of = [i for h in hashes if (i := self._originals[h]) is not None]

        # Those with no stored text like theirs: the others are copies of its original.
        unlike = [
            p
            for p in new
            if p.fingerprint.text_hash is None or self._originals[p.fingerprint.text_hash] is None
        ]
        near = [p for p in unlike if p.fingerprint.near_copy_candidate]
        self._read_buckets([a for p in near for a in p.fingerprint.anchors])
        # Stored candidates: those of the batch's articles cannot push them out of the
        # ranking, only down it.
        ranked = [(p.fingerprint, self._ranked_candidates(p.fingerprint)) for p in near]
        self._read_signatures(ranked)
        worth = [self._worth_verifying(f, found) for f, found in ranked]
        self._read_members([*copies_of, *(i for found in worth for i in found)])
        # The stored near copy of each article that has one, verified now (the placement uses
        # the same measures): a copy joins its original's story, whose row is read; every
        # other article is clustered, and its story candidates are read.
        groups = [self._members[i] for i in copies_of]
        copies = set()
        for p, found in zip(near, worth, strict=True):
            if (member := self._first_near_copy(p, found)) is not None:
                groups.append(member)
                copies.add(id(p))
        self.stories.read_stories(m.story_id for m in groups if m.story_id)
        self.stories.prefetch(
            (p.story_terms, p.article.published or self._now) for p in unlike if id(p) not in copies
        )

    def _first_near_copy(self, item: Prepared, candidates: Iterable[int]) -> _Member | None:
        """The first of these (read) candidates that is a near copy of the article."""
        for member in (self._members[i] for i in candidates):
            if dedup.is_near_copy(self._overlap(item.article, item.fingerprint, member)):
                return member
        return None

    def _overlap(
        self, article: Article, fingerprint: dedup.Fingerprint, member: _Member
    ) -> dedup.Overlap:
        """`dedup.overlap` of the article with a stored (or earlier) article, measured once."""
        key = (article.body, member.id)
        found = self._overlaps.get(key)
        if found is None:
            found = dedup.overlap(article.body, member.body, a_shingles=fingerprint.shingles)
            self._overlaps[key] = found
        return found

    def _read_known(self, urls: Iterable[str], hashes: Iterable[str]) -> None:
        """Read which of these canonical URLs are stored, and the originals of these texts
        (those not read yet; None: none stored), in one query (a round trip each cost ~0.2 ms
        of a PostgreSQL lookup)."""
        urls = [u for u in dict.fromkeys(urls) if u not in self._known]
        hashes = [h for h in dict.fromkeys(hashes) if h not in self._originals]
        self._known.update(dict.fromkeys(urls))
        self._originals.update(dict.fromkeys(hashes))
        if not urls and not hashes:
            return
        postgresql = self._conn.dialect.name == "postgresql"
        stmt = _KNOWN_OR_SAME_TEXT_POSTGRESQL if postgresql else _KNOWN_OR_SAME_TEXT_SQLITE
        params = (json_text(urls), json_text(hashes))
        rows = self._conn.exec_driver_sql(stmt, params).all()
        for by_text, key, article_id, duplicate_of, reason, story_id in rows:
            if by_text:
                self._originals[key] = article_id
            else:
                self._known[key] = _Known(article_id, duplicate_of, reason, story_id)

    def _read_buckets(self, anchors: Iterable[int]) -> None:
        """Read the stored members of these anchors' buckets (those not read yet), without
        this batch's flushed articles (they are counted apart, see `_ranked_candidates`)."""
        missing = [a for a in anchors if a not in self._buckets]
        if not missing:
            return
        for anchor, found in anchor_index.bucket_members(self._conn, missing).items():
            self._buckets[anchor] = [i for i, _ in found if i not in self._batch_ids]
            self._anchor_counts.update(found)

    def _read_signatures(
        self, ranked: Iterable[tuple[dedup.Fingerprint, list[tuple[int, int]]]]
    ) -> None:
        """Read the signatures `dedup.worth_verifying` needs of the (candidate, anchors shared)
        of these texts and were not read yet, in one query."""
        counts = self._anchor_counts
        # (Membership tests, not `set - dict.keys()`: that walks the whole dict.)
        missing = {
            i
            for fingerprint, found in ranked
            for i, shared in found
            if i not in self._signatures
            and dedup.needs_signature(len(fingerprint.anchors), shared, counts[i])
        }
        if missing:
            self._signatures.update(anchor_index.signatures(self._conn, list(missing)))

    def _read_members(self, ids: Iterable[int]) -> None:
        missing = sorted({i for i in ids if i not in self._members})
        for chunk in chunks(missing):
            for row in self._conn.execute(_MEMBERS, {"ids": chunk}):
                self._members[row.id] = _member(row)

    def _member(self, article_id: int) -> _Member:
        self._read_members([article_id])
        return self._members[article_id]

    # --- placement (nothing written) ---------------------------------------------------------

    def place(self, item: Prepared) -> _Place:
        """Where the article goes, given everything stored and this batch's earlier articles."""
        article, text_hash = item.article, item.fingerprint.text_hash
        self._read_known([article.canonical_url], [text_hash] if text_hash is not None else [])
        known = self._known[article.canonical_url]
        if known is not None:
            return _Place(known)
        link = self._find_original(item)
        if link is not None and link.original.story_id is not None:
            return _Place(None, link, link.original.story_id)
        vector = self.stories.vector(item.story_terms, article.published)
        return _Place(None, link, self.stories.find(vector), vector)

    def _find_original(self, item: Prepared) -> _Link | None:
        """The original of the group the new article belongs to (same text, else the verified
        near copy that overlaps it most), with the reason and the measured overlap."""
        fingerprint = item.fingerprint
        if fingerprint.text_hash is not None:
            same = self._original_with_text(fingerprint.text_hash)
            if same is not None:
                return _Link(self._member(same), f"same text as #{same}", 1.0)
        if not fingerprint.near_copy_candidate:
            return None
        return self._nearest_original(item.article, fingerprint)

    def _original_with_text(self, text_hash: str) -> int | None:
        self._read_known([], [text_hash])
        return self._originals[text_hash]

    def _ranked_candidates(self, fingerprint: dedup.Fingerprint) -> list[tuple[int, int]]:
        """(article, anchors shared) for the MAX_CANDIDATES articles sharing the most anchors
        (ties: the newest first), stored or of this batch: the newest BUCKET_SAMPLE members of
        each bucket count (`anchor_index.bucket_members`). An article that shares one anchor
        only, of a full bucket, is none: a phrase that many texts hold says nothing alone (at
        100k synthetic articles most candidates were such, each a signature to read and
        compare), while a copy shares several anchors, or a rare one."""
        self._read_buckets(fingerprint.anchors)
        hits: Counter[int] = Counter()
        in_rare: set[int] = set()
        sample = anchor_index.BUCKET_SAMPLE
        for anchor in fingerprint.anchors:
            members = self._buckets[anchor]
            if anchor in self._batch_buckets:  # (the newest: this batch's, newest first)
                members = (self._batch_buckets[anchor][::-1] + members)[:sample]
            hits.update(members)
            if len(members) < sample:
                in_rare.update(members)
        found = [(i, n) for i, n in hits.items() if n > 1 or i in in_rare]
        found.sort(key=itemgetter(1, 0), reverse=True)  # (ids are unique)
        return found[:MAX_CANDIDATES]

    def _worth_verifying(
        self, fingerprint: dedup.Fingerprint, ranked: list[tuple[int, int]] | None = None
    ) -> list[int]:
        """The candidates (`_ranked_candidates`) whose texts are compared: unrelated texts
        sharing an anchor through a common phrase are dropped here, before their texts are
        read."""
        if ranked is None:
            # As read ahead, unless this batch's articles joined the text's buckets since.
            kept = self._worth.get(fingerprint)
            if kept is not None and not any(a in self._batch_buckets for a in fingerprint.anchors):
                return kept
            ranked = self._ranked_candidates(fingerprint)
        self._read_signatures([(fingerprint, ranked)])
        counts, signatures = self._anchor_counts, self._signatures
        worth = dedup.worth_verifying_all(
            fingerprint.signature,
            len(fingerprint.anchors),
            [(shared, counts[i], signatures.get(i)) for i, shared in ranked],
        )
        kept = [i for (i, _), keep in zip(ranked, worth, strict=True) if keep]
        self._worth[fingerprint] = kept
        return kept

    def _nearest_original(self, article: Article, fingerprint: dedup.Fingerprint) -> _Link | None:
        """The verified candidate that overlaps the article most links it to the original of
        the candidate's group."""
        candidates = self._worth_verifying(fingerprint)
        if not candidates:
            return None
        self._read_members(candidates)
        best: tuple[tuple[float, float, int], _Member, dedup.Overlap] | None = None
        matched: set[int] = set()  # groups (their originals) with a verified member
        for member in (self._members[i] for i in candidates):
            # One verified member decides its group: the link goes to the group's original
            # either way (a copy's match is measured against it again below). The candidates
            # come most anchors shared first, so the first match is the likeliest best.
            group = member.duplicate_of if member.duplicate_of is not None else member.id
            if group in matched:
                continue
            found = self._overlap(article, fingerprint, member)
            if not dedup.is_near_copy(found):
                continue
            matched.add(group)
            rank = (found.containment, found.jaccard, -member.id)
            if best is None or rank > best[0]:
                best = (rank, member, found)
        if best is None:
            return None
        _, match, found = best
        if match.duplicate_of is None:
            reason, similarity = dedup.describe(found, match.id)
            return _Link(match, reason, similarity)
        # A copy's match joins the copy's group, under its original (never under a copy).
        original = self._member(match.duplicate_of)
        to_original = self._overlap(article, fingerprint, original)
        reason, similarity = dedup.describe(to_original, original.id)
        if not dedup.is_near_copy(to_original):
            reason += f", via its copy #{match.id}"
        return _Link(original, reason, similarity)

    # --- adding ------------------------------------------------------------------------------

    def add(self, item: Prepared) -> StoredArticle:
        """Place the article and hold its rows for the flush (the original of a group it
        takes over is written at once)."""
        article, fingerprint = item.article, item.fingerprint
        place = self.place(item)
        if place.known is not None:
            known = place.known
            self._hold_page_and_matches(item, known.id)
            return StoredArticle(known.id, False, known.duplicate_of, known.duplicate_reason)

        article_id = self._new_id()
        link = place.link
        if place.vector is None:
            assert place.story_id is not None  # a group's story
            self.stories.join(place.story_id, article.published)
            story_id = place.story_id
        else:
            story_id = self.stories.add(place.story_id, place.vector)
        duplicate_of = link.original.id if link else None
        reason = link.reason if link else None
        self._articles.append(
            {
                "id": article_id,
                "url": article.url,
                "canonical_url": article.canonical_url,
                "title": article.title,
                "author": article.author,
                "site": article.site,
                "published": article.published,
                "fetched": self._now,
                "language": article.language,
                "body": article.body,
                "text": article.text,
                "source": item.source,
                "text_hash": fingerprint.text_hash,
                "minhash": fingerprint.signature,
                "duplicate_of": duplicate_of,
                "duplicate_reason": reason,
                "similarity": link.similarity if link else None,
                "story_id": story_id,
            }
        )
        self._known[article.canonical_url] = _Known(article_id, duplicate_of, reason, story_id)
        self._members[article_id] = _Member(
            article_id, duplicate_of, article.published, article.site, article.body, story_id
        )
        if link is None and fingerprint.text_hash is not None:
            self._originals[fingerprint.text_hash] = article_id
        # Copies are indexed too: a later copy may be closer to a copy than to the original.
        self._signatures[article_id] = fingerprint.signature
        self._batch_ids.add(article_id)
        self._anchor_counts[article_id] = count = len(fingerprint.anchors)
        for anchor in fingerprint.anchors:
            self._batch_buckets.setdefault(anchor, []).append(article_id)
            self._anchors.append((anchor, article_id, count))
        self._hold_page_and_matches(item, article_id)
        if link is not None and _is_older(article, link.original):
            self._write_articles()  # (what the repointing updates; the rest waits for flush)
            group = _become_original(self._conn, article_id, article.body, link.original.id)
            # The group's links changed in the database: they are read again when needed.
            group.add(article_id)
            for url in [u for u, k in self._known.items() if k is not None and k.id in group]:
                del self._known[url]
            for text in [h for h, i in self._originals.items() if i in group]:
                del self._originals[text]
            for member in group:
                self._members.pop(member, None)
            if fingerprint.text_hash is not None:
                self._originals[fingerprint.text_hash] = article_id
            duplicate_of = reason = None
        return StoredArticle(article_id, True, duplicate_of, reason)

    def _new_id(self) -> int:
        if self._next_id is None:
            self._next_id = (self._conn.scalar(sa.select(sa.func.max(articles.c.id))) or 0) + 1
        self._next_id += 1
        return self._next_id - 1

    def _hold_page_and_matches(self, item: Prepared, article_id: int) -> None:
        if item.page is not None:
            self._pages.append(
                item.page
                | {"fetched_at": self._now, "attempts": 1, "error": None, "article_id": article_id}
            )
        self._matches += [
            {"article_id": article_id, "watch": w, "terms": t} for w, t in item.terms.items()
        ]

    def flush(self) -> None:
        """Write what the batch holds: stories first, then the articles, their anchors, pages
        and relevance matches."""
        conn = self._conn
        self.stories.flush()
        self._write_articles()
        anchor_index.add_anchors(conn, self._anchors)
        self._anchors = []
        if self._pages:
            # One page row per URL and statement (ON CONFLICT cannot touch a row twice).
            for rows in _unique_runs(self._pages, "url"):
                conn.execute(_store_pages(conn), rows)
            self._pages = []
        if self._matches:
            stmt = upsert(conn, article_watches).on_conflict_do_nothing()
            conn.execute(stmt, self._matches)
            self._matches = []

    def _write_articles(self) -> None:
        """Write the held article rows (their stories, anchors and document frequencies are
        written by `flush`: once a batch, not at every repointing)."""
        if self._articles:
            self._conn.execute(articles.insert(), self._articles)
            advance_sequence(self._conn, articles)
            self._articles = []


def _become_original(conn: Connection, article_id: int, body: str, old_original: int) -> set[int]:
    """The new article is older than its group's original: it becomes the original and
    the group (the old original and its copies) points to it, each with a new reason.
    Returns the group's earlier members."""
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
    for chunk in chunks(members[:MAX_REPOINTED_REASONS]):
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
            .where(articles.c.id.in_(members[MAX_REPOINTED_REASONS:]))
            .values(duplicate_reason=f"in the group of #{article_id}")
        )
    return set(members)


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


def _store_pages(conn: Connection) -> Any:
    """Upsert of `pages` rows: the page of a stored article (its earlier failures counted)."""
    stmt = upsert(conn, pages)
    new = stmt.excluded
    return stmt.on_conflict_do_update(
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


def _unique_runs(rows: list[dict[str, Any]], key: str) -> list[list[dict[str, Any]]]:
    """The rows in order, cut into runs in which no `key` value repeats."""
    runs: list[list[dict[str, Any]]] = [[]]
    seen: set[Any] = set()
    for row in rows:
        if row[key] in seen:
            runs.append([])
            seen = set()
        runs[-1].append(row)
        seen.add(row[key])
    return runs


def _without_nul(article: Article) -> Article:
    fields = ("url", "canonical_url", "title", "body", "text", "author", "site", "language")
    dirty = {f: getattr(article, f) for f in fields if "\x00" in (getattr(article, f) or "")}
    return (
        replace(article, **{f: v.replace("\x00", "") for f, v in dirty.items()})
        if dirty
        else article
    )


def _member(row: Row[Any]) -> _Member:
    return _Member(row.id, row.duplicate_of, row.published, row.site, row.body, row.story_id)


# The stored articles with these canonical URLs, and the originals of these texts, the lists as
# JSON texts (one statement however many values are looked up). SQLite is told the index of
# originals by text: its planner took the index on duplicate_of for "duplicate_of IS NULL"
# (every original, ~3 s at 1M articles).
_KNOWN_OR_SAME_TEXT_SQLITE = (
    "SELECT 0 AS by_text, canonical_url AS key, id, duplicate_of, duplicate_reason, story_id "
    "FROM articles WHERE canonical_url IN (SELECT value FROM json_each(?)) UNION ALL "
    "SELECT 1, text_hash, id, duplicate_of, NULL, NULL "
    "FROM articles INDEXED BY uq_articles_text_hash_original "
    "WHERE text_hash IN (SELECT value FROM json_each(?)) AND duplicate_of IS NULL"
)
_KNOWN_OR_SAME_TEXT_POSTGRESQL = (
    "SELECT false AS by_text, canonical_url AS key, id, duplicate_of, duplicate_reason, story_id "
    "FROM articles WHERE canonical_url IN (SELECT json_array_elements_text(CAST(%s AS json))) "
    "UNION ALL SELECT true, text_hash, id, duplicate_of, NULL, NULL FROM articles "
    "WHERE text_hash IN (SELECT json_array_elements_text(CAST(%s AS json))) "
    "AND duplicate_of IS NULL"
)
_MEMBERS = sa.select(
    articles.c.id,
    articles.c.duplicate_of,
    articles.c.published,
    articles.c.site,
    articles.c.body,
    articles.c.story_id,
).where(articles.c.id.in_(sa.bindparam("ids", expanding=True)))
