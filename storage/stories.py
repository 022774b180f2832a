"""Stories: streaming clustering of original articles into events (dedup level 4).

`StoryIndex` is what an ingest batch (`storage.ingest`) uses in its transaction: `prefetch`
(reads ahead for the batch), `vector` and `find` (the lookup: nothing written), `add` for a new
original, `join` for a copy, and `flush` (the writes, once per batch). What it keeps lives in
the database, shared by every worker and kept over restarts: `stories` (span, size and centroid
of each story), `story_terms` (each story's INDEX_TERMS heaviest terms with its last
publication time: the candidate index) and `term_stats` (document frequencies of the
originals' terms, for IDF; a batch writes its counts once, at its end: `DocumentFrequencies`).

An article is a unit TF-IDF vector (sublinear tf, IDF from `term_stats` at its arrival) over
its title (TITLE_WEIGHT times) and body (`article_terms`): the words of `dedup.normalise_text`
without stop words (numbers only as years), plus named entities as a cheap offline proxy: runs
of capitalised words that do not start a sentence ("West Papua", "Sutopo Purwo Nugroho"), as
one term each, prefixed ENTITY and weighted ENTITY_WEIGHT. A story's centroid is the sum of its
originals' vectors cut to its CENTROID_TERMS heaviest terms (`merge_centroid`).

A new original looks up its QUERY_TERMS heaviest terms in `story_terms` among stories whose last
publication is within WINDOW (an index range scan), keeps the MAX_STORY_CANDIDATES stories with
the most hits whose first..last span is within WINDOW of its publication time, and joins the
best-scoring one (`best_story`: cosine with the centroid plus ENTITY_BONUS times the cosine of
the entities alone) when the score reaches JOIN_THRESHOLD (`join_rule`: stricter while the
corpus is new); otherwise it starts a story. A story keeps its id as it grows; a copy
(near-duplicate) joins its original's story without moving the centroid (its span and index
entries move with the copy's publication time).

Tuned on bench/dedup (bench/dedup.py: 1,031 articles in arrival order, 42 stories): B-cubed F1
0.976 (streaming TF-IDF centroids without a window: 0.84-0.85; threshold 0.2 without the
entity bonus: 0.940). The 3-day window keeps the bench's hard negatives (two earthquakes, two
rehab stays: weeks apart) apart; the one merged pair is two Internet Explorer emergency
patches published a day apart, whose write-ups share their words too. Generality: tuned on
the topics 1, 5, 9, ... alone the plateau is the same (threshold 0.10-0.15, bonus 0-0.2, window
3-5 days: 0.984 there), and it gives 0.938 on the topics 3, 7, 11, ... (the best any setting
of the grid reached there: 0.942; the IE pair costs ~0.04). A query of 10 terms or an index of
15 loses 1-4 points of recall; a gate on entity overlap (join only when the entities agree)
lost 1-6 points of recall for no precision; the entity bonus lets the threshold rise from
0.12 to 0.15 at equal F1 (0.972 at 0.15 without it); skipping Title Case headlines for
entities lost 0.003.
"""

from __future__ import annotations

import itertools
import math
import operator
import re
import string
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.database import advance_sequence, json_text
from storage.dedup import STOP_WORDS, normalise_text
from storage.schema import stories, story_terms

# Publication-time window: a story is a candidate when the article falls within WINDOW of its
# first..last publication span.
WINDOW = timedelta(days=3)
# The index holds the stories an article can still join: those whose last publication is at
# most INDEX_RETENTION before the newest story's (publication times, not the clock: a stream of
# old news is clustered as it was). Older entries are deleted at each flush, so the index stays
# the size of a month of news, not of the corpus: at 1M articles it held 5.4M entries, and
# writing a new story's 30 entries into it cost more than the rest of the story's ingest. An
# article published more than INDEX_RETENTION before the newest story starts its own.
INDEX_RETENTION = timedelta(days=30)
# A story's centroid keeps its heaviest terms; the index holds its INDEX_TERMS heaviest.
CENTROID_TERMS = 100
INDEX_TERMS = 30
# The article's heaviest terms looked up in the index, and the stories verified at most (the
# bench scores the same with 5; at 1M articles, 10 keep every probe write-up in its story).
QUERY_TERMS = 20
MAX_STORY_CANDIDATES = 10
JOIN_THRESHOLD = 0.15
# Until the corpus holds MATURE_DOCUMENTS originals its IDF is noise: every word looks rare,
# and two events of one topic (a meeting, then a trade deal) score 0.25-0.40. Until then only
# close write-ups join, on words alone. Costs 0.006 of B-cubed F1 on the bench (the stream's
# first story splits in a few).
COLD_JOIN_THRESHOLD = 0.4
MATURE_DOCUMENTS = 8
ENTITY_WEIGHT = 2.0
ENTITY_BONUS = 0.2
TITLE_WEIGHT = 2
MAX_TERM_LENGTH = 60
ENTITY = "@"  # prefix of entity terms (normalised words never hold it)
# The `term_stats` row that counts the documents (originals) seen.
DOCUMENTS = ""
# Document frequencies a process keeps between batches (`StoredFrequencies`): ~100 MB at most.
MAX_CACHED_TERMS = 500_000
# Story rows a process keeps between batches (`StoredStories`): ~60 MB at most.
MAX_CACHED_STORIES = 20_000


# A word (a letter, then letters, digits, apostrophes, dots and hyphens). Splitting a line on it
# gives the text before each word since the previous one, then the word (faster than a pattern
# matching both).
_WORD = re.compile(r"([^\W\d_][\w'’.-]*)")
_POSSESSIVE = re.compile(r"['’]s?$")
# Capitalised but no names of an event.
_CALENDAR_WORDS = """monday tuesday wednesday thursday friday saturday sunday january february
    march april may june july august september october november december today"""
_CALENDAR = frozenset(_CALENDAR_WORDS.split())
_SENTENCE_BREAK = re.compile(r"[.!?:;\"“”]")


def article_terms(title: str, body: str) -> dict[str, int]:
    """Term counts of an article: title words (TITLE_WEIGHT times) and body words, without stop
    words, and its named entities (prefixed ENTITY)."""
    # Counted first, then filtered: each distinct word is checked once.
    words = Counter(normalise_text(body).split())
    words.update({w: TITLE_WEIGHT * n for w, n in Counter(normalise_text(title).split()).items()})
    counts = Counter({w: n for w, n in words.items() if _is_term(w)})
    for entity in entities(f"{title}\n{body}"):
        counts[ENTITY + entity] += 1
    return dict(counts)


def entities(text: str) -> list[str]:
    """Runs of capitalised words, normalised, skipping a sentence's first word and lines in
    capitals (headlines): "west papua", "manokwari", "lindsay lohan"."""
    found: list[str] = []
    for line in text.splitlines():
        upper, lower = _case_counts(line)
        if upper == 0 or upper > lower or (upper == 1 and line.lstrip()[:1].isupper()):
            continue  # (one capital, the sentence's first letter: no name; a fifth of lines)
        run: list[str] = []
        sentence_start = True
        parts = _WORD.split(line)
        for between, token in zip(parts[0:-1:2], parts[1::2], strict=True):  # (the tail: no word)
            if not run and not token[0].isupper() and token[-1] != ".":
                sentence_start = False  # the common case: a word that changes nothing
                continue
            if between != " ":  # the common case: one space, no punctuation
                if _SENTENCE_BREAK.search(between):
                    sentence_start = True
                if between.strip() and run:  # punctuation ends a name
                    found.append(" ".join(run))
                    run = []
            stripped = token.rstrip(".-")
            possessive = ("'" in stripped or "’" in stripped) and _POSSESSIVE.search(stripped)
            word = _POSSESSIVE.sub("", stripped) if possessive else stripped
            if word[:1].isupper() and not sentence_start and word.lower() not in _CALENDAR:
                run.append(word)
                if possessive:  # "Indonesia's West Papua"
                    found.append(" ".join(run))
                    run = []
            elif run:
                found.append(" ".join(run))
                run = []
            sentence_start = token.endswith(".") and len(word) > 2 and "." not in word
        if run:
            found.append(" ".join(run))
    out = []
    for phrase in found:
        norm = _normalise_phrase(phrase)
        if len(norm) > 1 and norm not in STOP_WORDS:
            out.append(norm)
    return out


# Names recur: each normalised once, in a cache of their own (in `normalise_text`'s they would
# push out the bodies that the text hash, the story terms and the comparisons share).
_normalise_phrase = lru_cache(maxsize=1 << 16)(normalise_text.__wrapped__)


def _case_counts(line: str) -> tuple[int, int]:
    """Upper- and lower-case letters in a line (an ASCII line: counted on its bytes, 5x faster)."""
    if line.isascii():
        raw = line.encode("ascii")
        upper = len(raw) - len(raw.translate(None, _ASCII_UPPER))
        return upper, len(raw) - len(raw.translate(None, _ASCII_LOWER))
    return sum(map(str.isupper, line)), sum(map(str.islower, line))


_ASCII_UPPER = string.ascii_uppercase.encode("ascii")
_ASCII_LOWER = string.ascii_lowercase.encode("ascii")


def _is_term(word: str) -> bool:
    """A word worth counting: not a stop word, not a lone letter, a number only as a year."""
    if word.isdigit():
        return len(word) == 4
    return len(word) > 1 and word not in STOP_WORDS


def vector(counts: Mapping[str, int], df: Mapping[str, int], documents: int) -> dict[str, float]:
    """The article's unit TF-IDF vector: sublinear tf (1 + log n), smoothed idf
    (log((documents + 1) / (df + 1)) + 1), entities weighted ENTITY_WEIGHT."""
    # (Local names: this runs for every term of every original, twice: read ahead, then
    # clustered.)
    log, frequency, total = math.log, df.get, documents + 1
    weights = {}
    for term, n in counts.items():
        w = (1.0 + log(n)) * (log(total / (frequency(term, 0) + 1)) + 1.0)
        if term[0] == ENTITY:
            w *= ENTITY_WEIGHT
        weights[term] = w
    return _unit(weights)


def merge_centroid(centroid: Mapping[str, float], article: Mapping[str, float]) -> dict[str, float]:
    """The story's centroid with one more member: the sum, cut to CENTROID_TERMS terms."""
    merged = dict(centroid)
    for term, w in article.items():
        merged[term] = merged.get(term, 0.0) + w
    return top_terms(merged, CENTROID_TERMS)


def top_terms(weights: Mapping[str, float], n: int) -> dict[str, float]:
    """The n heaviest terms (ties: in term order), weights rounded."""
    items: Iterable[tuple[str, float]] = weights.items()
    if len(weights) > n:
        # Only the terms at least as heavy as the n-th are ranked (the float sort is C-fast;
        # ranking every term with a key function cost more than the rest).
        nth = sorted(weights.values(), reverse=True)[n - 1] if n > 0 else math.inf
        items = [(t, w) for t, w in items if w >= nth]
    # In term order, then by weight (a stable sort: ties stay in term order), both C-fast.
    ranked = sorted(sorted(items), key=itemgetter(1), reverse=True)[:n]
    return {t: round(w, 5) for t, w in ranked}


def in_window(published: datetime, first: datetime, last: datetime) -> bool:
    return first - WINDOW <= published <= last + WINDOW


def join_rule(documents: int) -> tuple[float, float]:
    """(threshold, entity bonus) for an article to join a story, given the originals counted.

    While the corpus holds fewer than MATURE_DOCUMENTS originals its IDF is noise (every word
    looks rare) and two events of one topic look alike: only close write-ups join, on their
    words alone (COLD_JOIN_THRESHOLD, no entity bonus)."""
    if documents >= MATURE_DOCUMENTS:
        return JOIN_THRESHOLD, ENTITY_BONUS
    return COLD_JOIN_THRESHOLD, 0.0


def best_story(
    article: Mapping[str, float],
    candidates: Iterable[tuple[int, Mapping[str, float], tuple[float, float]]],
    *,
    threshold: float = JOIN_THRESHOLD,
    entity_bonus: float = ENTITY_BONUS,
) -> tuple[int, float] | None:
    """The candidate story (id, centroid, `vector_norms` of it) that scores best with the
    article, if it scores at least `threshold`: the cosine of the two vectors plus
    `entity_bonus` times the cosine of their entities alone (shared names are the surest sign
    of one event)."""
    best: tuple[int, float] | None = None
    norm, entity_norm = vector_norms(article)
    if not norm:
        return None
    for story_id, centroid, (centroid_norm, centroid_entities) in candidates:
        shared = article.keys() & centroid.keys()  # ~20 of the centroid's 100 terms
        if not shared:
            continue
        dot = math.fsum(article[t] * centroid[t] for t in shared)  # in any order: exact
        score = dot / (norm * centroid_norm)
        if entity_bonus:
            entity_dot = math.fsum(article[t] * centroid[t] for t in shared if t[0] == ENTITY)
            if entity_dot:
                score += entity_bonus * entity_dot / (entity_norm * centroid_entities)
        if score >= threshold and (best is None or score > best[1]):
            best = (story_id, score)
    return best


def vector_norms(weights: Mapping[str, float]) -> tuple[float, float]:
    """The norm of a vector and of its entities alone (a story's are kept with it: they are
    `best_story`'s denominators for every article it is scored with)."""
    # (A list, not a generator: a batch computes this for ~1,000 stories of 100 terms.)
    return _norm(weights.values()), _norm([w for t, w in weights.items() if t[0] == ENTITY])


def _norm(weights: Iterable[float]) -> float:
    values = list(weights)
    return math.sqrt(math.fsum(map(operator.mul, values, values)))


def _unit(weights: dict[str, float]) -> dict[str, float]:
    norm = _norm(weights.values())
    return {t: w / norm for t, w in weights.items()} if norm else {}


# --- in the database -------------------------------------------------------------------------


class StoredFrequencies:
    """Document frequencies read from `term_stats`, kept by a `Corpus` from batch to batch (the
    same terms recur: reading them for each article cost ~1 ms at 1M articles). They hold while
    the stored number of originals is the one this process last saw: the first read of each
    batch and lookup reads it too (`DocumentFrequencies.read`), and all are dropped when another
    worker (or a rolled-back batch) changed it, and at MAX_CACHED_TERMS terms."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}


class StoredStories:
    """Story rows (size, span, centroid) read from `stories`, kept by a `Corpus` from batch
    to batch: the stories of the window are the candidates of every batch, and reading their
    centroids (a JSON text of 100 terms each, stored compressed) was the largest read of a
    batch at 1M articles. A kept row is used while the story's stored size is the one it was
    read with (its centroid and span change only as articles join it, each counted in its
    size): `StoryIndex.read_stories` sends the kept sizes and gets back the centroids of the
    stories that changed only, in the same query. All are dropped at MAX_CACHED_STORIES."""

    def __init__(self) -> None:
        self.rows: dict[int, tuple[int, datetime, datetime, dict[str, float]]] = {}


class DocumentFrequencies:
    """Document frequencies of the originals' terms: those stored in `term_stats` plus the
    counts of an ingest batch not written yet. A batch reads the stored rows it needs (through
    `stored`, when given) and writes its own counts once, at its end (`flush`): one upsert per
    batch instead of one per article, and each article still sees every original before it
    (ingest batches are serialised)."""

    def __init__(self, stored: StoredFrequencies | None = None) -> None:
        self.pending: Counter[str] = Counter()
        # Stored counts read so far: they cannot change while the batch holds the ingest lock.
        self._stored = stored or StoredFrequencies()
        self._checked = False  # whether the kept counts were checked in this transaction

    def read(self, conn: Connection, terms: Iterable[str]) -> None:
        """Read the stored frequencies of these terms not read yet, in one query (the first
        read of a transaction also checks the counts kept from earlier ones: a second query
        when they no longer hold)."""
        terms = set(terms)
        stored = self._stored
        if self._checked:
            unread = sorted({t for t in (DOCUMENTS, *terms) if t not in stored.counts})
            if unread:
                stored.counts.update(_read_frequencies(conn, unread))
            return
        self._checked = True
        # (Membership tests, not `terms - counts.keys()`: that walks every kept count.)
        read = _read_frequencies(
            conn, sorted({DOCUMENTS, *(t for t in terms if t not in stored.counts)})
        )
        if read[DOCUMENTS] != stored.counts.get(DOCUMENTS) or len(stored.counts) > MAX_CACHED_TERMS:
            stored.counts = {}
            if stale := sorted(t for t in terms if t not in read):
                read.update(_read_frequencies(conn, stale))
        stored.counts.update(read)

    def of(
        self, conn: Connection, terms: Iterable[str], ahead: Mapping[str, int] | None = None
    ) -> tuple[dict[str, int], int]:
        """The frequencies of these terms and the number of originals, counting the article
        that holds them (it is an original), and the counts `ahead` of those not counted yet
        (reads ahead: `StoryIndex.prefetch`)."""
        wanted = {DOCUMENTS, *terms}
        self.read(conn, wanted)
        # (Bound `get`s: a Counter's missing key costs a Python-level call.)
        stored, pending, ahead = self._stored.counts, self.pending.get, (ahead or {}).get
        counted = {t: stored[t] + pending(t, 0) + ahead(t, 0) + 1 for t in wanted}
        return counted, counted.pop(DOCUMENTS)

    def count(self, terms: Iterable[str]) -> None:
        """One more original holding these terms (after it was stored)."""
        self.pending.update({DOCUMENTS, *terms})

    def flush(self, conn: Connection) -> None:
        """Write the pending counts, rows in term order (no deadlocks between workers)."""
        if not self.pending:
            return
        rows = sorted(self.pending.items())
        postgresql = conn.dialect.name == "postgresql"
        conn.execute(
            _ADD_TERMS_POSTGRESQL if postgresql else _ADD_TERMS_SQLITE, {"rows": json_text(rows)}
        )
        stored = self._stored.counts
        for term, n in rows:
            stored[term] = stored.get(term, 0) + n
        self.pending.clear()


def _read_frequencies(conn: Connection, terms: Sequence[str]) -> dict[str, int]:
    """The stored document frequencies of these terms (0: none stored), in one query."""
    stmt = _READ_TERMS_POSTGRESQL if conn.dialect.name == "postgresql" else _READ_TERMS_SQLITE
    read = dict.fromkeys(terms, 0)
    read.update(conn.execute(stmt, {"terms": json_text(list(terms))}).tuples().all())
    return read


# Lists as one JSON text (see anchor_index._POSTGRESQL_INSERT): one cached statement whatever
# the number of terms.
_READ_TERMS_POSTGRESQL = sa.text(
    "SELECT term, df FROM term_stats "
    "WHERE term IN (SELECT json_array_elements_text(CAST(:terms AS json)))"
)
_READ_TERMS_SQLITE = sa.text(
    "SELECT term, df FROM term_stats WHERE term IN (SELECT value FROM json_each(:terms))"
)
_ADD_TERMS_POSTGRESQL = sa.text(
    "INSERT INTO term_stats (term, df) "
    "SELECT e ->> 0, CAST(e ->> 1 AS integer) FROM json_array_elements(CAST(:rows AS json)) "
    "WITH ORDINALITY AS u(e, n) ORDER BY n "
    "ON CONFLICT (term) DO UPDATE SET df = term_stats.df + excluded.df"
)
# (WHERE true: SQLite's upsert after a SELECT needs it to parse ON CONFLICT.)
_ADD_TERMS_SQLITE = sa.text(
    "INSERT INTO term_stats (term, df) "
    "SELECT value ->> 0, value ->> 1 FROM json_each(:rows) WHERE true "
    "ON CONFLICT (term) DO UPDATE SET df = term_stats.df + excluded.df"
)


@dataclass(frozen=True)
class StoryVector:
    """A new original as story clustering sees it."""

    terms: dict[str, int]  # term counts (`story_terms_of`)
    weights: dict[str, float]  # unit TF-IDF vector
    documents: int  # originals counted, the article included (`join_rule`)
    when: datetime  # its publication time (or arrival time)

    @cached_property
    def query(self) -> tuple[str, ...]:
        """Its QUERY_TERMS heaviest terms: what it looks up in the story index."""
        return tuple(top_terms(self.weights, QUERY_TERMS))


def story_terms_of(title: str, body: str) -> dict[str, int]:
    """The term counts clustering uses (`article_terms`, terms cut to MAX_TERM_LENGTH): pure
    CPU, computed before the batch's transaction."""
    return {t[:MAX_TERM_LENGTH]: n for t, n in article_terms(title, body).items()}


@dataclass
class _Story:
    """A story as clustering sees it: as stored, or as the batch left it (`touched`)."""

    id: int
    first_published: datetime
    last_published: datetime
    centroid: dict[str, float]
    touched: bool = False  # changed by this batch: its index entries are known from memory
    new: bool = False  # started by this batch, not written yet
    index: frozenset[str] = frozenset()  # its index terms, when touched
    size_added: int = 0  # articles joined since the last flush
    stored_index: frozenset[str] = frozenset()  # its `story_terms` entries when last flushed
    dirty: bool = False  # changed since the last flush
    _norms: tuple[float, float] | None = None

    def set_centroid(self, centroid: dict[str, float]) -> None:
        self.centroid = centroid
        self.index = frozenset(top_terms(centroid, INDEX_TERMS))
        self._norms = None

    @property
    def norms(self) -> tuple[float, float]:
        """`vector_norms` of the centroid."""
        if self._norms is None:
            self._norms = vector_norms(self.centroid)
        return self._norms

    def cover(self, when: datetime | None) -> None:
        """One more member, published `when` (None: undated): the span covers it, the size
        counts it."""
        if when is not None:
            self.first_published = min(self.first_published, when)
            self.last_published = max(self.last_published, when)
        self.size_added += 1
        self.dirty = True


# A query's stored ranking: (story, hits) of every stored story it hits, most hits first (ties:
# the oldest).
_Ranking = list[tuple[int, int]]


def _most_hits_first(ranking: _Ranking) -> _Ranking:
    """(story, hits) sorted most hits first, ties the oldest (lowest id) first: two sorts
    without a key function in Python (a stable sort by hits after one by id), ~3x faster than
    one by a lambda's (-hits, id) on a batch's ~400 rankings of ~300 stories each."""
    ranking.sort()
    ranking.sort(key=itemgetter(1), reverse=True)
    return ranking


@dataclass(frozen=True)
class _Entries:
    """The stored index entries of a term from a last publication on (`since`): their stories
    and last publications (`_entry_time`), in that order."""

    since: datetime
    stories: list[Any]
    last_published: list[Any]

    def in_order(self) -> _Entries:
        """The entries by last publication (SQLite gives them so; the ids as integers)."""
        ids = list(map(int, self.stories))
        lasts = self.last_published
        if lasts == sorted(lasts):
            return _Entries(self.since, ids, lasts)
        ordered = sorted(zip(lasts, ids, strict=True))
        return _Entries(self.since, [s for _, s in ordered], [t for t, _ in ordered])


class StoryIndex:
    """Story clustering in one transaction (an ingest batch, a lookup, a migration).

    `prefetch` reads what a batch of articles will need in a few queries (document
    frequencies, the best stored candidates of each article, the candidate stories); `vector`,
    `find`, `add` and `join` then work on those reads and on the stories this batch changed,
    held in memory, so that each article sees every original before it, as if the batch's
    articles had been stored one by one; `flush` writes the changed stories, their index
    entries and the document frequencies. Whatever was not read ahead is read when needed.

    A story's index entries are its INDEX_TERMS heaviest centroid terms, all with the story's
    last publication time (a copy joining moves it too), so that the entries of a story the
    batch changed follow from its centroid and span.
    """

    def __init__(
        self,
        conn: Connection,
        frequencies: DocumentFrequencies,
        now: datetime,
        kept: StoredStories | None = None,
    ) -> None:
        self._conn = conn
        self._frequencies = frequencies
        self._kept = kept or StoredStories()
        self._now = now
        self._stories: dict[int, _Story] = {}
        self._touched: dict[int, _Story] = {}
        self._touched_by_term: dict[str, set[int]] = {}  # index term -> touched stories
        self._rankings: dict[tuple[tuple[str, ...], datetime], _Ranking] = {}
        # Stored index entries by term: read from this last publication on, their stories and
        # last publications (`_entry_time`), in that order.
        self._entries: dict[str, _Entries] = {}
        self._next_id: int | None = None
        self._newest: datetime | None = None  # the newest entry's last publication, when read
        # The read-ahead's vectors (`prefetch`), in order: while every original added so far was
        # the next one read ahead (most batches), the next one's is the vector it is clustered
        # with, so it is computed once.
        self._ahead: list[StoryVector] = []
        self._as_read_ahead = -1  # originals added so far, all as read ahead (-1: not so)

    # --- reads -----------------------------------------------------------------------------

    def prefetch(self, articles: Iterable[tuple[dict[str, int], datetime]]) -> None:
        """Read ahead for articles (term counts, publication time) about to be clustered."""
        articles = [(counts, _aware(when)) for counts, when in articles]
        if not articles:
            return
        self._frequencies.read(self._conn, {t for counts, _ in articles for t in counts})
        queries = []
        # Each article's vector and query as it will be clustered: with the terms of the
        # originals before it counted, as if all these were originals (a write-up of a story
        # shares the names of the one before it, whose count shifts its heaviest terms). One
        # that turns out not to be shifts the articles after it: those are computed and read
        # again when clustered.
        ahead: Counter[str] = Counter()
        self._ahead = []
        self._as_read_ahead = -1 if self._frequencies.pending else 0
        for counts, when in articles:
            df, documents = self._frequencies.of(self._conn, counts, ahead)
            found = StoryVector(counts, vector(counts, df, documents), documents, when)
            self._ahead.append(found)
            if found.query:
                queries.append((found.query, when - WINDOW))
            ahead.update({DOCUMENTS, *counts})
        self._read_rankings(queries)

    def read_stories(self, story_ids: Iterable[int]) -> None:
        """Read the stories not read yet (spans and centroids), in one query: with the sizes
        of those kept from earlier batches (`StoredStories`), whose centroids come back only
        when they changed."""
        missing = sorted({s for s in story_ids if s is not None and s not in self._stories})
        if not missing:
            return
        kept = self._kept.rows
        if len(kept) > MAX_CACHED_STORIES:
            kept.clear()
        known = [(s, kept[s][0] if s in kept else -1) for s in missing]
        stmt = _STORIES_POSTGRESQL if self._conn.dialect.name == "postgresql" else _STORIES_SQLITE
        for story_id, size, first, last, centroid in self._conn.execute(
            stmt, {"known": json_text(known)}
        ).all():
            if centroid is None:  # (unchanged since kept)
                centroid = kept[story_id][3]
            kept[story_id] = (size, first, last, centroid)
            self._keep_story(story_id, first, last, centroid)

    def _keep_story(
        self, story_id: int, first: datetime, last: datetime, centroid: dict[str, float]
    ) -> None:
        """A story as read from the database, unless read before (the batch may have changed
        it since)."""
        if story_id not in self._stories:
            self._stories[story_id] = _Story(story_id, _aware(first), _aware(last), centroid)

    def vector(self, counts: dict[str, int], published: datetime | None) -> StoryVector:
        """The article's vector, with the document frequencies of every original before it."""
        when = _aware(published or self._now)
        found = self._next_read_ahead()
        if found is not None and found.terms == counts and found.when == when:
            return found
        df, documents = self._frequencies.of(self._conn, counts)
        return StoryVector(counts, vector(counts, df, documents), documents, when)

    def find(self, article: StoryVector) -> int | None:
        """The story a new original joins, if any (nothing written): its QUERY_TERMS heaviest
        terms looked up in the index within the window, the MAX_STORY_CANDIDATES stories with
        the most hits (ties: the oldest) scored by `best_story`."""
        if not article.query:
            return None
        ranked = self._rank(article.query, article.when - WINDOW)
        self.read_stories(ranked)
        threshold, bonus = join_rule(article.documents)
        found = best_story(
            article.weights,
            (
                (story.id, story.centroid, story.norms)
                for story in (self._stories[s] for s in ranked)
                if in_window(article.when, story.first_published, story.last_published)
            ),
            threshold=threshold,
            entity_bonus=bonus,
        )
        return found[0] if found else None

    def _rank(self, query: tuple[str, ...], since: datetime) -> list[int]:
        """The MAX_STORY_CANDIDATES stories with the most index hits for the query, as the
        stored index answers with this batch's changes applied: the stored ranking without
        the stories this batch changed, and those scored from memory."""
        key = (query, since)
        self._read_rankings([key])
        touched = self._touched
        # The first untouched ones of the stored ranking: no later one can rank among the first.
        ranked = list(
            itertools.islice(
                ((s, n) for s, n in self._rankings[key] if s not in touched),
                MAX_STORY_CANDIDATES,
            )
        )
        hits: Counter[int] = Counter()
        for term in query:
            hits.update(self._touched_by_term.get(term, ()))
        ranked += [(s, n) for s, n in hits.items() if touched[s].last_published >= since]
        return [s for s, _ in _most_hits_first(ranked)[:MAX_STORY_CANDIDATES]]

    def _read_rankings(self, queries: Sequence[tuple[tuple[str, ...], datetime]]) -> None:
        """Rank the stored stories for each query not ranked yet: the stories with an index
        entry of its terms within its window, by their number of such entries. The entries are
        read by term (a batch's queries share many), and the rows of the MAX_STORY_CANDIDATES
        first stories of each query with them (`find` scores those): two queries in all.

        (In Python, not in SQL: a query's terms are its heaviest, most of them in the entries
        of one or two stories of the window, and ranking ~20 entries costs less than the
        database's join, grouping and window function per (query, term), which at 1M articles
        cost more than the rest of the read-ahead.)"""
        queries = [q for q in dict.fromkeys(queries) if q not in self._rankings]
        if not queries:
            return
        self._read_entries({t for terms, _ in queries for t in terms}, min(q[1] for q in queries))
        entry_time = _entry_time(self._conn)
        candidates = []
        for terms, since in queries:
            stamp = entry_time(since)
            hits: Counter[int] = Counter()
            for term in terms:
                entries = self._entries[term]
                hits.update(entries.stories[bisect_left(entries.last_published, stamp) :])
            ranking = _most_hits_first(list(hits.items()))
            self._rankings[(terms, since)] = ranking
            candidates += [s for s, _ in ranking[:MAX_STORY_CANDIDATES]]
        self.read_stories(candidates)

    def _read_entries(self, terms: Iterable[str], since: datetime) -> None:
        """Read the stored index entries of these terms from `since` on (those not read from
        as early), in one query."""
        entries = self._entries
        missing = sorted(t for t in terms if t not in entries or entries[t].since > since)
        if not missing:
            return
        none = _Entries(since, [], [])  # (terms with no entry get no row)
        for term in missing:
            entries[term] = none
        if self._conn.dialect.name == "postgresql":
            rows = self._conn.exec_driver_sql(_ENTRIES_OF_POSTGRESQL, (json_text(missing), since))
            for term, story_ids, last_published in rows.all():
                entries[term] = _Entries(since, story_ids, last_published)
            return
        rows = self._conn.exec_driver_sql(
            _ENTRIES_OF_SQLITE, (json_text(missing), _sqlite_time(since))
        )
        for term, story_ids, last_published in rows.all():
            found = _Entries(since, story_ids.split(","), last_published.split(","))
            entries[term] = found.in_order()

    # --- changes ---------------------------------------------------------------------------

    def add(self, story_id: int | None, article: StoryVector) -> int:
        """A new original joins the story (`find`'s answer) or starts one (None); its terms
        are counted. Returns the story's id."""
        when = article.when
        if story_id is None:
            story_id = self._new_id()
            story = _Story(story_id, when, when, {}, touched=True, new=True)
            self._stories[story_id] = self._touched[story_id] = story
            self._set_centroid(story, top_terms(article.weights, CENTROID_TERMS))
        else:
            story = self._touch(story_id)
            self._set_centroid(story, merge_centroid(story.centroid, article.weights))
        story.cover(when)
        self._frequencies.count(article.terms)
        found = self._next_read_ahead()
        as_read_ahead = found is not None and found.terms == article.terms
        self._as_read_ahead = self._as_read_ahead + 1 if as_read_ahead else -1
        return story_id

    def _next_read_ahead(self) -> StoryVector | None:
        """The read-ahead's vector of the next original, while the read-ahead holds."""
        added = self._as_read_ahead
        return self._ahead[added] if 0 <= added < len(self._ahead) else None

    def join(self, story_id: int, published: datetime | None) -> None:
        """A copy joins its original's story: the story counts it, its span covers it."""
        story = self._touch(story_id)
        story.cover(_aware(published) if published is not None else None)

    def _touch(self, story_id: int) -> _Story:
        self.read_stories([story_id])
        story = self._stories[story_id]
        if not story.touched:
            # Stored: its entries are the heaviest terms of its stored centroid, unless they
            # were deleted with the stories past INDEX_RETENTION.
            story.touched = True
            self._touched[story_id] = story
            self._set_centroid(story, story.centroid)
            if story.last_published >= self._retained_since():
                story.stored_index = story.index
        return story

    def _set_centroid(self, story: _Story, centroid: dict[str, float]) -> None:
        """A touched story's new centroid, its index terms indexed in memory for `_rank`."""
        by_term = self._touched_by_term
        for term in story.index:
            by_term[term].discard(story.id)
        story.set_centroid(centroid)
        for term in story.index:
            by_term.setdefault(term, set()).add(story.id)

    def _retained_since(self) -> datetime:
        """The oldest last publication whose index entries are kept (see INDEX_RETENTION)."""
        return self._newest_entry() - INDEX_RETENTION

    def _newest_entry(self) -> datetime:
        """The newest index entry's last publication, as stored or as this batch moved it."""
        if self._newest is None:
            self._newest = _newest_entry(self._conn) or _EPOCH
        return self._newest

    def _new_id(self) -> int:
        # Ingest is serialised (one batch at a time): ids can be given here, before the rows
        # are written with the batch.
        if self._next_id is None:
            self._next_id = (self._conn.scalar(_MAX_STORY_ID) or 0) + 1
        self._next_id += 1
        return self._next_id - 1

    def flush(self) -> None:
        """Write the stories changed since the last flush, their index entries and the
        document frequencies."""
        changed = [s for s in self._stories.values() if s.dirty]
        new = [s for s in changed if s.new]
        grown = [s for s in changed if not s.new]
        conn = self._conn
        if new:
            conn.execute(
                stories.insert(),
                [
                    {
                        "id": s.id,
                        "created": self._now,
                        "first_published": s.first_published,
                        "last_published": s.last_published,
                        "size": s.size_added,
                        "centroid": s.centroid,
                    }
                    for s in new
                ],
            )
            advance_sequence(conn, stories)
        if grown:
            conn.execute(
                _GROW_STORY,
                [
                    {
                        "sid": s.id,
                        "centroid_": s.centroid,
                        "added": s.size_added,
                        "first": s.first_published,
                        "last": s.last_published,
                    }
                    for s in grown
                ],
            )
        dropped: list[tuple[int, str]] = []  # (story, term)
        added: list[tuple[int, str, datetime]] = []  # (story, term, last published)
        moved: list[tuple[int, datetime]] = []  # (story, last published)
        for s in changed:
            index = s.index
            dropped += [(s.id, t) for t in sorted(s.stored_index - index)]
            added += [(s.id, t, s.last_published) for t in sorted(index - s.stored_index)]
            if not s.new:  # (entries written before copies moved them may lag)
                moved.append((s.id, s.last_published))
            s.new, s.dirty, s.size_added = False, False, 0
            s.stored_index = index
        _write_index_changes(conn, dropped, moved, added)
        self._drop_past_retention(changed)
        self._frequencies.flush(conn)

    def _drop_past_retention(self, changed: Sequence[_Story]) -> None:
        """Delete the index entries of the stories past INDEX_RETENTION, when there are (an
        index range at the old end of `last_published`: a few rows a batch)."""
        if not changed:
            return
        self._newest = max(self._newest_entry(), *(s.last_published for s in changed))
        since = self._retained_since()
        oldest = self._conn.scalar(_OLDEST_ENTRY)
        if oldest is None or _aware(oldest) >= since:
            return
        self._conn.execute(_DROP_PAST_RETENTION, {"since": since})
        for story in self._stories.values():  # (their entries are gone from the database)
            if story.last_published < since:
                story.stored_index = frozenset()


_MAX_STORY_ID = sa.select(sa.func.max(stories.c.id))
_NEWEST_ENTRY = sa.select(sa.func.max(story_terms.c.last_published))
_OLDEST_ENTRY = sa.select(sa.func.min(story_terms.c.last_published))
_DROP_PAST_RETENTION = story_terms.delete().where(
    story_terms.c.last_published < sa.bindparam("since")
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The rows of stories given as JSON (id, kept size; -1: none kept), the centroid only when the
# stored size differs (NULL otherwise: not even decompressed).
_STORY_COLUMNS = {
    "first_published": stories.c.first_published.type,
    "last_published": stories.c.last_published.type,
    "centroid": stories.c.centroid.type,
}
_STORIES_POSTGRESQL = sa.text(
    "SELECT s.id, s.size, s.first_published, s.last_published, "
    "CASE WHEN s.size = k.size THEN NULL ELSE s.centroid END AS centroid FROM stories AS s "
    "JOIN (SELECT CAST(e ->> 0 AS integer) AS id, CAST(e ->> 1 AS integer) AS size "
    "FROM json_array_elements(CAST(:known AS json)) AS e) AS k ON s.id = k.id"
).columns(**_STORY_COLUMNS)
_STORIES_SQLITE = sa.text(
    "SELECT s.id, s.size, s.first_published, s.last_published, "
    "CASE WHEN s.size = k.size THEN NULL ELSE s.centroid END AS centroid FROM stories AS s "
    "JOIN (SELECT value ->> 0 AS id, value ->> 1 AS size FROM json_each(:known)) AS k "
    "ON s.id = k.id"
).columns(**_STORY_COLUMNS)
# The index entries of some terms (a JSON list) from a last publication on, a row per term: its
# stories and their last publications (`_entry_time`) in that order. An index-only range scan of
# the covering index per term; a row per term, not per entry (a batch of 400 reads ~100,000
# entries of ~4,000 terms: fetching, wrapping and looping over a row per entry took ~25% of
# its ingest time). SQLite's group_concat keeps the order its range scan gives (the index's,
# by last publication), which `_Entries.in_order` checks.
_ENTRIES_OF_POSTGRESQL = (
    "SELECT term, array_agg(story_id ORDER BY last_published), "
    "array_agg(CAST(EXTRACT(EPOCH FROM last_published) * 1000000 AS bigint) "
    "ORDER BY last_published) FROM story_terms "
    "WHERE term IN (SELECT json_array_elements_text(CAST(%s AS json))) AND last_published >= %s "
    "GROUP BY term"
)
_ENTRIES_OF_SQLITE = (
    "SELECT term, group_concat(story_id), group_concat(last_published) FROM ("
    "SELECT term, story_id, last_published FROM story_terms "
    "WHERE term IN (SELECT value FROM json_each(?)) AND last_published >= ? "
    "ORDER BY term, last_published) GROUP BY term"
)
_GROW_STORY = (
    stories.update()
    .where(stories.c.id == sa.bindparam("sid"))
    .values(
        centroid=sa.bindparam("centroid_", type_=stories.c.centroid.type),
        size=stories.c.size + sa.bindparam("added", type_=sa.Integer),
        first_published=sa.bindparam("first", type_=stories.c.first_published.type),
        last_published=sa.bindparam("last", type_=stories.c.last_published.type),
    )
)


def drop_past_retention(conn: Connection) -> None:
    """Delete the index entries past INDEX_RETENTION of the newest one, as ingest batches do as
    entries age (for a bulk load that wrote every story's entries: bench/scale.py)."""
    newest = _newest_entry(conn)
    if newest is not None:
        conn.execute(_DROP_PAST_RETENTION, {"since": newest - INDEX_RETENTION})


def _newest_entry(conn: Connection) -> datetime | None:
    newest = conn.scalar(_NEWEST_ENTRY)
    return _aware(newest) if newest is not None else None


def _write_index_changes(
    conn: Connection,
    dropped: Sequence[tuple[int, str]],
    moved: Sequence[tuple[int, datetime]],
    added: Sequence[tuple[int, str, datetime]],
) -> None:
    """Index entries dropped, moved to a new last publication, added: a statement each, the
    rows as one JSON text, not a parameter set per row (a batch of 200 articles changes ~5,000
    entries)."""
    statements = _ENTRIES_POSTGRESQL if conn.dialect.name == "postgresql" else _ENTRIES_SQLITE
    stamp = _driver_time(conn)
    for statement, json_rows in zip(
        statements,
        (
            dropped,
            [(i, stamp(last)) for i, last in moved],
            [(i, t, stamp(last)) for i, t, last in added],
        ),
        strict=True,
    ):
        if json_rows:
            conn.exec_driver_sql(statement, (json_text(json_rows),))


# Index entries dropped (story, term), moved (story, last published), added (story, term, last
# published), from JSON rows.
_ENTRIES_POSTGRESQL = (
    "DELETE FROM story_terms AS st USING (SELECT CAST(e ->> 0 AS integer) AS story_id, "
    "e ->> 1 AS term FROM json_array_elements(CAST(%s AS json)) AS e) AS d "
    "WHERE st.story_id = d.story_id AND st.term = d.term",
    "UPDATE story_terms AS st SET last_published = m.last "
    "FROM (SELECT CAST(e ->> 0 AS integer) AS story_id, CAST(e ->> 1 AS timestamptz) AS last "
    "FROM json_array_elements(CAST(%s AS json)) AS e) AS m "
    "WHERE st.story_id = m.story_id AND st.last_published <> m.last",
    "INSERT INTO story_terms (story_id, term, last_published) "
    "SELECT CAST(e ->> 0 AS integer), e ->> 1, CAST(e ->> 2 AS timestamptz) "
    "FROM json_array_elements(CAST(%s AS json)) AS e "
    "ON CONFLICT (story_id, term) DO UPDATE SET last_published = excluded.last_published",
)
_ENTRIES_SQLITE = (
    "DELETE FROM story_terms WHERE (story_id, term) IN "
    "(SELECT value ->> 0, value ->> 1 FROM json_each(?))",
    "UPDATE story_terms SET last_published = m.last FROM "
    "(SELECT value ->> 0 AS story_id, value ->> 1 AS last FROM json_each(?)) AS m "
    "WHERE story_terms.story_id = m.story_id AND story_terms.last_published <> m.last",
    # (WHERE true: SQLite's upsert after a SELECT needs it to parse ON CONFLICT.)
    "INSERT INTO story_terms (story_id, term, last_published) "
    "SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true "
    "ON CONFLICT (story_id, term) DO UPDATE SET last_published = excluded.last_published",
)


def _driver_time(conn: Connection) -> Callable[[datetime], Any]:
    """How the database's driver takes (and gives back) a time, for statements in driver SQL
    and their rows: an aware datetime (psycopg) or SQLite's stored text."""
    return _aware if conn.dialect.name == "postgresql" else _sqlite_time


def _entry_time(conn: Connection) -> Callable[[datetime], Any]:
    """A time as `_Entries.last_published` holds it: microseconds since 1970 (PostgreSQL), the
    stored text (SQLite)."""
    return _microseconds if conn.dialect.name == "postgresql" else _sqlite_time


def _microseconds(when: datetime) -> int:
    return (_aware(when) - _EPOCH) // timedelta(microseconds=1)


def _sqlite_time(when: datetime) -> str:
    """A time as SQLite stores UtcDateTime (SQLAlchemy's text form, UTC, no offset)."""
    return _aware(when).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _aware(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
