"""Dedup and story lookup at scale: corpora of 10k, 100k, 1M realistic synthetic articles.

    .venv/bin/python bench/scale.py [--sizes 10000,100000] [--databases sqlite,postgresql]
        [--postgres-url URL] [--probes 400] [--ingest 1600] [--workers 2] [--keep]
        [--reuse [--round N]]

The default (no arguments, what `make bench` runs) is 10k and 100k articles on SQLite: the full
run, 1M articles on both databases, takes well over 30 minutes (fill of ~1M articles and ~25M
anchor rows per database):

    .venv/bin/python bench/scale.py --sizes 10000,100000,1000000 --databases sqlite,postgresql

Text. Articles are written by a word bigram model trained at run time on the bench stream's
texts (../shared/bench/dedup/news_stream.jsonl; no news text is stored here), half of their
sentences from the model of one of the stream's topics and half from the model of all texts, so
that unrelated articles share the common phrases of real news (and the anchor collisions
they cause) and the articles of one topic share its vocabulary. Each story has invented names
(a person, a place, an organisation) put into its sentences, and a few "facts" (sentences)
that each of its write-ups quotes: write-ups of one story share names and facts, not their
leads. Near copies are edited copies of another article of the story (other edge lines, a
trimmed tail, a few words changed, another headline); some are exact copies.

Fill. The corpus is filled in bulk, not through `Corpus.add_articles` (a few hundred articles/s
would take hours at 1M): the generator runs in a process pool and computes what production computes
for each article (text hash, MinHash signature and anchors with `storage.dedup`, term
counts with `storage.stories`); the stories are the generated ones, with centroids built as
production builds them (sum of the members' unit TF-IDF vectors, heaviest terms kept, the index
of each story's heaviest terms, document frequencies of the originals' terms). Rows go in with
executemany (SQLite) or COPY (PostgreSQL) into the migrated schema: same tables, same indexes.
Generated story batches are cached under build/scale/ for re-runs.

Probes. At each size, fresh articles, in one process that did not do the fill: a third new
stories, a third near copies of stored articles, a third new write-ups of stored stories (of
the 2 days before the newest; round N of a kept corpus: the 2 days 2N days before, its new
stories published right after those, so that rounds do not pile onto the same stories and
days), once the corpus was read into the OS page cache (a server's steady state; --cold: not).
Each is looked up (`Corpus.lookup`: fingerprint, same-text and anchor candidates verified on
their texts, story candidates scored; nothing written), on a connection of its own (not the one
that counted the candidates); then --ingest (1,600) other probes of the same kinds, not looked
up (a worker does not store what it has just read), are stored through `Corpus.add_batches`
in batches of `ingest.BATCH_SIZE` (400), as `newsmon ingest` stores them (on PostgreSQL the
next batch prepared while one writes; the first timed batch's preparation is timed), after
one batch of others stored untimed: a worker's steady state (its first batch reads every
document frequency it needs, which the process keeps, and fills the connection's page cache;
printed as first/s).
(Until 2026-12-02 the looked-up probes themselves were stored, on the census's connection:
their reads were cached, and ingest measured ~15% faster; until 2026-12-04 the timed probes
were the process's first batches, and later that day one batch of 400, not four.)
Printed per size and database: p50/p95/max of the lookup time, the ingest rate of the batches
(dedup, story and every write, commits and on SQLite the final WAL checkpoint included) and of
the first, untimed ones, the
near-copy candidates per probe (cand: distinct articles sharing an anchor, whole buckets, before
any cut, where production reads at most BUCKET_SAMPLE per bucket; verif: those of them
`dedup.worth_verifying` keeps), whether the stored probes were classified as generated (near
copies linked, write-ups in their story), peak RSS (`resource.getrusage`) and current RSS of
the probing process, and the fill time and rate.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import json
import math
import multiprocessing as mp
import os
import pickle
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from extractors.records import Article  # noqa: E402
from storage import dedup, ingest, stories  # noqa: E402
from storage.repository import Corpus, NewArticle, StoredArticle, open_corpus  # noqa: E402

STREAM = ROOT.parent / "shared" / "bench" / "dedup" / "news_stream.jsonl"
CACHE = ROOT / "build" / "scale"
GENERATOR_VERSION = 1
URL = "https://scale.newsmon.invalid/"
START = datetime(2024, 1, 1, tzinfo=UTC)
STORIES_PER_DAY = 150  # ~5.5 articles each: ~800 articles a day
COPY_SHARE = 0.3  # of the articles of a story after its first
EXACT_COPY_SHARE = 0.15  # of the copies
FACTS = 6
BATCH_STORIES = 500  # stories per generated (and cached) batch
WARM = True  # read the corpus into the page cache before probing (--cold: not)
WARMUP = 2  # the probe stream stored first, untimed (see _measure)

_SYLLABLES = tuple(
    [
        "ka",
        "ri",
        "mo",
        "ta",
        "len",
        "vor",
        "an",
        "sel",
        "du",
        "brin",
        "ost",
        "el",
        "mar",
        "thi",
        "go",
        "pel",
        "ras",
        "un",
        "zen",
        "cor",
        "lia",
        "bek",
        "sar",
        "tov",
        "ny",
        "dra",
        "fen",
        "hal",
        "is",
        "ko",
        "lum",
        "ner",
        "qua",
        "ril",
        "sto",
        "ve",
        "wy",
        "xa",
        "zor",
    ]
)
_PLACE_SUFFIX = ("ville", "burg", "stan", "ia", "ford", "port", "grad", "mouth")
_ORG_KIND = ("Bank", "Party", "Council", "Institute", "Group", "Authority", "Front", "Union")


# --- text -------------------------------------------------------------------------------------


class Bigrams:
    """A word bigram model of sentences: tokens are whitespace words, punctuation kept."""

    def __init__(self, texts: list[str]) -> None:
        nxt: dict[str, list[str]] = defaultdict(list)
        starts: list[str] = []
        for text in texts:
            for line in text.splitlines():
                tokens = line.split()
                if len(tokens) < 4:
                    continue
                starts.append(tokens[0])
                for a, b in itertools.pairwise(tokens):
                    nxt[a].append(b)
                    if a.endswith((".", "?", "!")) and b[:1].isupper():
                        starts.append(b)
        self.next = {k: tuple(v) for k, v in nxt.items()}
        self.starts = tuple(starts)

    def sentence(self, rng: random.Random, max_words: int = 40) -> list[str]:
        word = rng.choice(self.starts)
        out = [word]
        while not word.endswith((".", "?", "!")) or len(out) < 6:
            choices = self.next.get(word)
            if not choices or len(out) >= max_words:
                out[-1] = out[-1].rstrip(",;:") + "."
                break
            word = rng.choice(choices)
            out.append(word)
        return out


@dataclass
class Models:
    common: Bigrams
    topics: list[Bigrams]


_MODELS: Models | None = None


def load_models(stream: Path = STREAM) -> Models:
    records = [json.loads(line) for line in stream.open(encoding="utf-8") if line.strip()]
    by_topic: dict[int, list[str]] = defaultdict(list)
    for r in records:
        by_topic[r["topic"]].append(r["text"])
    return Models(
        Bigrams([r["text"] for r in records]), [Bigrams(t) for _, t in sorted(by_topic.items())]
    )


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


@dataclass
class StoryPlan:
    index: int
    topic: int
    names: list[str]
    facts: list[str]
    start: datetime


def plan_story(index: int, models: Models) -> tuple[StoryPlan, random.Random]:
    rng = random.Random(f"story-{index}")
    topic = rng.randrange(len(models.topics))
    names = [
        f"{_name(rng, 2)} {_name(rng, 3)}",
        _name(rng, 2) + rng.choice(_PLACE_SUFFIX),
        f"{_name(rng, 3)} {rng.choice(_ORG_KIND)}",
    ]
    plan = StoryPlan(index, topic, names, [], START)
    plan.facts = [_sentence(plan, models, rng, named=True) for _ in range(FACTS)]
    plan.start = START + timedelta(days=index / STORIES_PER_DAY, seconds=rng.randrange(3600))
    return plan, rng


def _sentence(plan: StoryPlan, models: Models, rng: random.Random, *, named: bool) -> str:
    model = models.topics[plan.topic] if rng.random() < 0.5 else models.common
    words = model.sentence(rng)
    if named or rng.random() < 0.3:
        # A story's names where the model put a name (a capitalised word mid-sentence).
        spots = [i for i, w in enumerate(words) if i and w[:1].isupper()]
        name = rng.choice(plan.names)
        if spots:
            i = rng.choice(spots)
            tail = words[i][len(words[i].rstrip(".,;:'\"")) :]
            words[i] = name + tail
        else:
            words.insert(rng.randrange(1, len(words) + 1), name)
    return " ".join(words)


def _writeup(plan: StoryPlan, models: Models, rng: random.Random) -> tuple[str, str]:
    paragraphs = []
    target = max(60, int(rng.lognormvariate(math.log(200), 0.5)))
    facts = rng.sample(plan.facts, rng.randint(2, 4))
    words = 0
    while words < target:
        sentences = [_sentence(plan, models, rng, named=False) for _ in range(rng.randint(1, 3))]
        if facts and rng.random() < 0.35:
            sentences.insert(rng.randrange(len(sentences) + 1), facts.pop())
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        words += len(paragraph.split())
    paragraphs.extend(facts)
    title = " ".join(_sentence(plan, models, rng, named=True).rstrip(".").split()[:12])
    return title, "\n\n".join(paragraphs)


_EDGES = (
    "Share this article",
    "By {site} Staff",
    "Copyright 2024 {site}. All rights reserved.",
    "Sign up for our newsletter",
    "Read more: the latest news from {site}",
)


def _copy(body: str, title: str, rng: random.Random, site: str) -> tuple[str, str]:
    paragraphs = body.split("\n\n")
    if len(paragraphs) > 3 and rng.random() < 0.5:
        paragraphs = paragraphs[: max(3, int(len(paragraphs) * rng.uniform(0.6, 0.95)))]
    words = "\n\n".join(paragraphs).split(" ")
    for _ in range(rng.randint(0, 4)):
        i = rng.randrange(len(words))
        words[i] = rng.choice(("the", "a", "new", "local", "officials"))
    text = " ".join(words)
    if rng.random() < 0.5:
        text = rng.choice(_EDGES).format(site=site) + "\n\n" + text
    if rng.random() < 0.5:
        text += "\n\n" + rng.choice(_EDGES).format(site=site)
    return (title if rng.random() < 0.5 else f"{title} - {site}"), text


@dataclass
class Generated:
    story: int
    number: int  # within the story
    title: str
    body: str
    site: str
    published: datetime
    copy_of: int | None  # number of the article in the story it copies
    exact: bool = False

    @property
    def url(self) -> str:
        return f"{URL}s{self.story}/a{self.number}"

    def article(self) -> Article:
        text = f"{self.title}\n\n{self.site} · {self.published:%Y-%m-%d}\n\n{self.body}"
        return Article(
            url=self.url,
            canonical_url=self.url,
            title=self.title,
            body=self.body,
            text=text,
            site=self.site,
            published=self.published,
        )


def generate_story(index: int, models: Models, extra: int = 0) -> list[Generated]:
    """The articles of story `index` (and `extra` more write-ups and copies, for probes)."""
    plan, rng = plan_story(index, models)
    size = min(40, 1 + int(rng.expovariate(1 / 4.5)))
    out: list[Generated] = []
    for number in range(size + extra):
        site = f"{_name(rng, 2)} {rng.choice(('Times', 'Post', 'News', 'Herald', 'Daily'))}"
        when = plan.start + timedelta(minutes=rng.randrange(36 * 60))
        if out and rng.random() < COPY_SHARE:
            source = rng.choice([g for g in out if g.copy_of is None])
            if rng.random() < EXACT_COPY_SHARE:
                out.append(
                    Generated(index, number, source.title, source.body, site, when, source.number)
                )
                out[-1].exact = True
                continue
            title, body = _copy(source.body, source.title, rng, site)
            out.append(Generated(index, number, title, body, site, when, source.number))
            continue
        title, body = _writeup(plan, models, rng)
        out.append(Generated(index, number, title, body, site, when, None))
    return out


# --- fill rows, as production computes them ---------------------------------------------------


def _worker_init() -> None:
    global _MODELS
    _MODELS = load_models()


def _batch_rows(args: tuple[int, int, dict[str, int], int]) -> dict:
    """The rows of stories [first, last): per article its fingerprint and terms; per story the
    centroid and its index, with IDF from the `df` estimate."""
    first, last, df, documents = args
    assert _MODELS is not None
    batch: dict = {"articles": [], "stories": [], "terms": Counter()}
    for index in range(first, last):
        members = generate_story(index, _MODELS)
        centroid: dict[str, float] = {}
        originals: dict[int, int] = {}
        for g in members:
            fp = dedup.fingerprint(g.body)
            row = {
                "g": (g.story, g.number, g.copy_of, g.exact),
                "title": g.title,
                "body": g.body,
                "site": g.site,
                "published": g.published,
                "text_hash": fp.text_hash,
                "minhash": fp.signature,
                "anchors": fp.anchors,
            }
            if g.copy_of is None:
                originals[g.number] = len(batch["articles"])
                counts = {
                    t[: stories.MAX_TERM_LENGTH]: n
                    for t, n in stories.article_terms(g.title, g.body).items()
                }
                batch["terms"].update(counts.keys())
                weights = stories.vector(counts, df, documents)
                centroid = stories.merge_centroid(centroid, weights)
            batch["articles"].append(row)
        times = [g.published for g in members]
        batch["stories"].append(
            {
                "index": index,
                "first": min(times),
                "last": max(times),
                "size": len(members),
                "centroid": centroid,
            }
        )
    return batch


def _cache_version() -> str:
    """The generator's version and the fingerprint scheme's: cached batches hold signatures and
    anchors, stale when `storage.dedup` changes them."""
    sample = dedup.fingerprint(" ".join(f"word{i}" for i in range(100)))
    scheme = hashlib.blake2b(repr(sample).encode(), digest_size=4).hexdigest()
    return f"v{GENERATOR_VERSION}-{scheme}"


def _batches(total_stories: int, start: int, models: Models, workers: int):
    """Generated row batches for stories [start, total_stories), from the cache when there."""
    CACHE.mkdir(parents=True, exist_ok=True)
    df, documents = _pilot_df(models)
    todo = []
    for first in range(start, total_stories, BATCH_STORIES):
        todo.append((first, min(total_stories, first + BATCH_STORIES)))

    def cached(first: int, last: int) -> Path:
        return CACHE / f"{_cache_version()}-{first}-{last}.pickle"

    # Decided once: a batch another run caches meanwhile must not take a generated one's place.
    have = {(f, la) for f, la in todo if cached(f, la).exists()}
    missing = [(f, la, df, documents) for f, la in todo if (f, la) not in have]
    pool = mp.get_context("fork").Pool(workers, initializer=_worker_init) if missing else None
    try:
        results = pool.imap(_batch_rows, missing) if pool else iter(())
        for first, last in todo:
            path = cached(first, last)
            if (first, last) in have:
                with path.open("rb") as f:
                    yield pickle.load(f)
                continue
            batch = next(results)
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as f:
                pickle.dump(batch, f, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.rename(path)
            yield batch
    finally:
        if pool:
            pool.terminate()
            pool.join()


def _pilot_df(models: Models) -> tuple[dict[str, int], int]:
    """Document frequencies of a sample of originals, scaled to 100k documents: the IDF the
    fill's centroids use (production uses the counts at the time; rare terms dominate both)."""
    path = CACHE / f"{_cache_version()}-pilot.pickle"
    if path.exists():
        with path.open("rb") as f:
            return pickle.load(f)
    df: Counter[str] = Counter()
    n = 0
    for index in range(0, 400_000, 1000):
        for g in generate_story(index, models):
            if g.copy_of is None:
                df.update(stories.article_terms(g.title, g.body).keys())
                n += 1
    scale = 100_000 / n
    result = ({t: max(1, round(c * scale)) for t, c in df.items() if c > 1}, 100_000)
    with path.open("wb") as f:
        pickle.dump(result, f)
    return result


# --- loading ----------------------------------------------------------------------------------


def _bulk_sqlite(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA cache_size = -1048576")  # 1 GiB
    dbapi_connection.execute("PRAGMA synchronous = OFF")


class Loader:
    """Writes generated batches into the corpus tables, ids given here."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)
        self.sqlite = self.engine.dialect.name == "sqlite"
        if self.sqlite:
            # Bulk load: a large page cache; the transaction is the only safety needed here.
            sa.event.listen(self.engine, "connect", _bulk_sqlite)
        with self.engine.begin() as conn:
            self.next_article = (conn.scalar(sa.text("SELECT max(id) FROM articles")) or 0) + 1
            self.next_story = (conn.scalar(sa.text("SELECT max(id) FROM stories")) or 0) + 1
            # Random inserts into an index of tens of millions of anchors made the fill slower
            # with every batch: the fill's anchors go to a table without an index (SQLite) or
            # the table loses its primary key (PostgreSQL), and the index is built at its end.
            if self.sqlite:
                conn.execute(sa.text(_FILL_ANCHORS))
            else:
                conn.execute(sa.text(_DROP_ANCHOR_KEY))
        self.articles = 0
        self.terms: Counter[str] = Counter()
        self.documents = 0

    def load(self, batch: dict) -> None:
        now = datetime.now(UTC)
        story_ids = {}
        story_rows, term_rows = [], []
        for s in batch["stories"]:
            sid = self.next_story
            self.next_story += 1
            story_ids[s["index"]] = sid
            story_rows.append(
                (
                    sid,
                    now,
                    s["first"],
                    s["last"],
                    s["size"],
                    json.dumps(s["centroid"]),
                )
            )
            for term in stories.top_terms(s["centroid"], stories.INDEX_TERMS):
                term_rows.append((term, sid, s["last"]))
        article_rows, anchor_rows = [], []
        ids: dict[tuple[int, int], int] = {}
        for a in batch["articles"]:
            story, number, copy_of, exact = a["g"]
            aid = self.next_article
            self.next_article += 1
            ids[(story, number)] = aid
            original = ids[(story, copy_of)] if copy_of is not None else None
            if original is None:
                reason, similarity = None, None
                self.documents += 1
            elif exact:
                reason, similarity = f"same text as #{original}", 1.0
            else:
                reason, similarity = f"near copy of #{original} (Jaccard 0.80)", 0.8
            url = f"{URL}s{story}/a{number}"
            text = f"{a['title']}\n\n{a['site']} · {a['published']:%Y-%m-%d}\n\n{a['body']}"
            article_rows.append(
                (
                    aid,
                    url,
                    url,
                    a["title"],
                    None,
                    a["site"],
                    a["published"],
                    now,
                    None,
                    a["body"],
                    text,
                    "ingest",
                    a["text_hash"],
                    a["minhash"],
                    original,
                    reason,
                    similarity,
                    story_ids[story],
                )
            )
            anchor_rows.extend((anchor, aid, len(a["anchors"])) for anchor in a["anchors"])
        self.terms.update(batch["terms"])
        self.articles += len(article_rows)
        if self.sqlite:
            self._sqlite(story_rows, term_rows, article_rows, anchor_rows)
        else:
            self._copy(story_rows, term_rows, article_rows, anchor_rows)

    _ARTICLE_COLUMNS = (
        "id, url, canonical_url, title, author, site, published, fetched, language, body, text, "
        "source, text_hash, minhash, duplicate_of, duplicate_reason, similarity, story_id"
    )

    def _sqlite(self, story_rows, term_rows, article_rows, anchor_rows) -> None:
        def ts(d: datetime) -> str:
            return d.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.executemany(
                "INSERT INTO stories (id, created, first_published, last_published, size, "
                "centroid) VALUES (?, ?, ?, ?, ?, ?)",
                [(r[0], ts(r[1]), ts(r[2]), ts(r[3]), r[4], r[5]) for r in story_rows],
            )
            cur.executemany(
                "INSERT INTO story_terms (term, story_id, last_published) VALUES (?, ?, ?)",
                [(t, s, ts(w)) for t, s, w in term_rows],
            )
            cur.executemany(
                f"INSERT INTO articles ({self._ARTICLE_COLUMNS}) VALUES ({', '.join('?' * 18)})",
                [(*r[:6], ts(r[6]), ts(r[7]), *r[8:]) for r in article_rows],
            )
            cur.executemany(
                "INSERT INTO fill_anchors (anchor, article_id, anchor_count) VALUES (?, ?, ?)",
                anchor_rows,
            )
            raw.commit()
        finally:
            raw.close()

    def _copy(self, story_rows, term_rows, article_rows, anchor_rows) -> None:
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            for table, columns, rows in (
                (
                    "stories",
                    "id, created, first_published, last_published, size, centroid",
                    story_rows,
                ),
                ("story_terms", "term, story_id, last_published", term_rows),
                ("articles", self._ARTICLE_COLUMNS, article_rows),
                ("text_anchors", "anchor, article_id, anchor_count", anchor_rows),
            ):
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            raw.commit()
        finally:
            raw.close()

    def finish(self) -> None:
        """Document frequencies (the originals' terms and the documents row); sequences."""
        rows = [(t, n) for t, n in self.terms.items()] + [(stories.DOCUMENTS, self.documents)]
        self.terms.clear()
        self.documents = 0
        upsert = (
            "INSERT INTO term_stats (term, df) VALUES ({p}, {p}) "
            "ON CONFLICT (term) DO UPDATE SET df = term_stats.df + excluded.df"
        )
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            if self.sqlite:
                cur.executemany(upsert.format(p="?"), rows)
            else:
                cur.execute("CREATE TEMP TABLE fill_terms (term text, df int) ON COMMIT DROP")
                with cur.copy("COPY fill_terms (term, df) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(
                    "INSERT INTO term_stats (term, df) SELECT term, df FROM fill_terms "
                    "ON CONFLICT (term) DO UPDATE SET df = term_stats.df + excluded.df"
                )
                for table in ("articles", "stories"):
                    cur.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
            if self.sqlite:
                # The table, rebuilt in index order: appends to its B-tree.
                table = cur.execute(
                    "SELECT sql FROM sqlite_master WHERE name = 'text_anchors'"
                ).fetchone()[0]
                cur.execute(table.replace("text_anchors", "text_anchors_new", 1))
                cur.execute(
                    "INSERT INTO text_anchors_new SELECT anchor, article_id, anchor_count FROM "
                    "(SELECT * FROM text_anchors UNION ALL SELECT * FROM fill_anchors) "
                    "ORDER BY anchor, article_id"
                )
                cur.execute("DROP TABLE text_anchors")
                cur.execute("DROP TABLE fill_anchors")
                cur.execute("ALTER TABLE text_anchors_new RENAME TO text_anchors")
            else:
                cur.execute("SET maintenance_work_mem = '1GB'")
                cur.execute(_ADD_ANCHOR_KEY)
            raw.commit()
        finally:
            raw.close()
        with self.engine.begin() as conn:
            # The story index as production keeps it: the stories within INDEX_RETENTION of the
            # newest (the fill wrote every story's entries).
            stories.drop_past_retention(conn)
            conn.execute(sa.text("ANALYZE"))
        if not self.sqlite:
            # A server's steady state: autovacuum has set the visibility map (index-only scans
            # of the covering indexes need it) and cleared the dead rows of term_stats' document
            # count, updated by every batch. Probed right after a fill without it: p50 30 ms,
            # p95 59 ms at 1M; after it: 16 and 23 ms.
            # And the fill written out: a bulk load leaves gigabytes of dirty buffers and WAL,
            # which the server wrote out during the first round after it (p95 11.1 ms and 290
            # articles/s there, 9.6 ms and 304 in the next round on the same code, 2026-12-06);
            # a server ingesting a few hundred articles at a time carries no such backlog.
            # The story index compacted: the fill wrote every story's entries and dropped ~95%
            # of them, which left PostgreSQL's indexes of `story_terms` 20-40x the size of the
            # live entries (its B-tree pages are not merged; 409 MB against 13 MB rebuilt, on
            # SQLite 12 MB), every range scan reading mostly empty pages. Ingest keeps it compact
            # by itself: each term's entries are dropped oldest first as they age out, emptying
            # whole pages, which are reused.
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM (FULL, ANALYZE) story_terms"))
                conn.execute(sa.text("VACUUM (ANALYZE)"))
                conn.execute(sa.text("CHECKPOINT"))
        self.engine.dispose()


_FILL_ANCHORS = (
    "CREATE TABLE IF NOT EXISTS fill_anchors "
    "(anchor BIGINT, article_id INTEGER, anchor_count SMALLINT)"
)
_DROP_ANCHOR_KEY = "ALTER TABLE text_anchors DROP CONSTRAINT IF EXISTS pk_text_anchors"
_ADD_ANCHOR_KEY = (
    "ALTER TABLE text_anchors ADD CONSTRAINT pk_text_anchors PRIMARY KEY (anchor, article_id) "
    "INCLUDE (anchor_count)"
)


def _fill(url: str, size: int, next_story: int, workers: int, queue: mp.Queue) -> None:
    """Child process: fill the corpus until it holds `size` articles (whole stories)."""
    try:
        queue.put(_fill_to(url, size, next_story, workers))
    except BaseException as exc:
        queue.put(exc)
        raise


def _fill_to(url: str, size: int, next_story: int, workers: int) -> tuple[int, int]:
    models = load_models()
    loader = Loader(url)
    with loader.engine.connect() as conn:
        have = conn.scalar(sa.text("SELECT count(*) FROM articles")) or 0
    story = next_story
    # Stories hold ~5.5 articles on average; generate in whole batches, stop once there.
    estimate = story + max(BATCH_STORIES, int((size - have) / 4.5))
    estimate = (estimate + BATCH_STORIES - 1) // BATCH_STORIES * BATCH_STORIES
    for batch in _batches(estimate, story, models, workers):
        if have >= size:
            break
        loader.load(batch)
        have += len(batch["articles"])
        story = batch["stories"][-1]["index"] + 1
    loader.finish()
    return have, story


# --- probes -----------------------------------------------------------------------------------


def _rss_mb() -> tuple[float, float]:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    return peak, current


def _probes(
    models: Models, stories_filled: int, count: int, round_: int, stream: int = 0
) -> list[tuple]:
    """(kind, Generated, expected story index) for `count` probes (at most 25,000) of a round:
    stream 0 is looked up, stream 1 stored (other articles of the same kinds), stream 2 stored
    first, untimed (WARMUP)."""
    seed = f"probes-{stories_filled}-{round_}" + (f"-{stream}" if stream else "")
    rng = random.Random(seed)
    out = []
    recent = max(1, min(stories_filled, STORIES_PER_DAY * 2))
    # Each round's copies and write-ups go to stories of their own: round N to the 2 days of
    # stories 2N days before the newest (within the index's retention, then over again), and its
    # new stories are published right after those. Every round into the same stories piled
    # ~2,000 articles a round onto the same ~300 (after 12 rounds every story of the window held
    # ~80 articles, each original ~25 copies: near-copy candidates verified per probe 2.9 ->
    # 8.7, ingest at 1M on PostgreSQL 346 -> 202/s), which measured that pile-up, not a later
    # day of news.
    retained = min(stories_filled, STORIES_PER_DAY * stories.INDEX_RETENTION.days)
    slices = max(1, retained // recent - 1)
    newest = stories_filled - 1 - (round_ % slices) * recent
    # Article numbers of the copies and write-ups (and story numbers of the new ones), apart
    # from a story's own and from every other round's and stream's (a probe URL stored earlier
    # would be "known" and counted wrong). The warm-up stream has ranges of its own.
    number = 100_000 * (round_ + 1) + 25_000 * stream
    first_new = 10_000_000 + stories_filled * 10 + round_ * 100_000 + 50_000 * stream
    if stream == WARMUP:
        number, first_new = 10**9 + 100_000 * round_, 50_000_000 + round_ * 100_000
    for i in range(count):
        kind = ("new", "copy", "writeup")[i % 3]
        if kind == "new":
            index = first_new + i
            g = generate_story(index, models)[0]
            # A new story just after the round's stories (round 0: after the filled ones), so
            # that rounds do not pile new stories into one window either: 8 rounds put ~5,300
            # into the same 4 days, 9x the filled density (at 1M on PostgreSQL rounds 3-7 of
            # one corpus then measured lookup p50 5.4-8.1 ms and 219-310 articles/s; with
            # this, rounds 3-4 of a fresh one 4.4-5.5 ms and 309-338/s).
            g.published = START + timedelta(days=(newest + 1 + i / 3) / STORIES_PER_DAY)
            out.append((kind, g, None))
            continue
        index = newest - rng.randrange(recent)
        stored = generate_story(index, models)
        if kind == "copy":
            source = rng.choice(stored)
            site = f"{_name(rng, 2)} Courier"
            title, body = _copy(source.body, source.title, rng, site)
            g = Generated(index, number + i, title, body, site, source.published, source.number)
            out.append((kind, g, index))
        else:
            plan, _ = plan_story(index, models)
            title, body = _writeup(plan, models, random.Random(f"w-{index}-{i}-{round_}-{stream}"))
            when = stored[0].published + timedelta(hours=rng.randrange(1, 30))
            g = Generated(
                index, number + 50_000 + i, title, body, f"{_name(rng, 2)} Times", when, None
            )
            out.append((kind, g, index))
    rng.shuffle(out)
    return out


def _measure(
    url: str, models: Models, stories_filled: int, count: int, stored: int, round_: int
) -> dict:
    # Probes looked up, and other ones (of the same kinds) stored: a worker stores articles it
    # has not just looked up (the same ones would find every read cached).
    looked_up = _probes(models, stories_filled, count, round_)
    probes = _probes(models, stories_filled, stored, round_, stream=1)
    batch = ingest.BATCH_SIZE
    warmup = [g.article() for _, g, _ in _probes(models, stories_filled, batch, round_, WARMUP)]
    # The text models are dropped before anything is measured: a worker holds none, and their
    # millions of references made each full collection of the garbage collector cost ~70 ms.
    del models
    gc.collect()
    lookups = []  # ms per Corpus.lookup: the dedup and story lookup, nothing written
    candidates = []
    verified = []  # of the candidates, those dedup.worth_verifying keeps
    right = Counter()
    kinds = Counter(kind for kind, _, _ in probes)
    articles = [g.article() for _, g, _ in probes]
    with open_corpus(url) as corpus:
        with corpus.engine.connect() as conn:
            story_of = {}
            for _kind, _g, index in probes:
                if index is not None:
                    story_of[index] = conn.scalar(
                        sa.text("SELECT story_id FROM articles WHERE canonical_url = :u"),
                        {"u": f"{URL}s{index}/a0"},
                    )
            for _kind, g, _index in looked_up:
                found, kept = _candidates(conn, g.body)
                candidates.append(found)
                verified.append(kept)
        # The census read whole buckets into that connection's page cache: the lookups get
        # another connection.
        corpus.engine.dispose()
        # Right before the lookups: this machine's memory manager pages out what was not read
        # for a minute, and the census above reads whole buckets for a while.
        if WARM:
            _warm(url)
        for article in [g.article() for _, g, _ in looked_up]:
            started = time.perf_counter()
            corpus.lookup(article)
            lookups.append((time.perf_counter() - started) * 1000)
        # Then the probes are stored as `newsmon ingest` stores them: batches, one transaction
        # each; first the warm-up probes (a worker's first batch reads every document frequency
        # it needs and fills the connection's page cache; every later batch finds most of them),
        # then the timed ones.
        started = time.perf_counter()
        _store(corpus, warmup)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        stored = _store(corpus, articles)
        ingest_s = time.perf_counter() - started
        with corpus.engine.connect() as conn:

            def group_and_story(where: str, value: object) -> tuple[int, int]:
                row = conn.execute(
                    sa.text(
                        "SELECT coalesce(duplicate_of, id), story_id FROM articles WHERE " + where
                    ),
                    {"v": value},
                ).one()
                return row[0], row[1]

            for (kind, g, index), outcome in zip(probes, stored, strict=True):
                group, story_id = group_and_story("id = :v", outcome.id)
                if kind == "copy":
                    # Linked to its source's group (a copy that holds the tie as a wire
                    # lookalike, "Ansa… Courier", becomes the original: linked all the same).
                    source = f"{URL}s{index}/a{g.copy_of}"
                    right[kind] += group == group_and_story("canonical_url = :v", source)[0]
                elif kind == "writeup":
                    right[kind] += story_id == story_of[index] and outcome.duplicate_of is None
                else:
                    right[kind] += outcome.duplicate_of is None
    lookups.sort()
    peak, current = _rss_mb()
    return {
        "p50": statistics.median(lookups),
        "p95": lookups[int(0.95 * (len(lookups) - 1))],
        "max": lookups[-1],
        "ingest_rate": len(articles) / ingest_s,
        "first_rate": len(warmup) / first_s,
        "candidates": statistics.mean(candidates) if candidates else 0.0,
        "candidates_max": max(candidates) if candidates else 0,
        "verified": statistics.mean(verified) if verified else 0.0,
        "verified_max": max(verified) if verified else 0,
        "right": {k: f"{right[k]}/{kinds[k]}" for k in kinds},
        "peak_rss": peak,
        "rss": current,
    }


def _store(corpus: Corpus, articles: list[Article]) -> list[StoredArticle]:
    """Store articles in batches of `ingest.BATCH_SIZE`, as `newsmon ingest` does
    (`Corpus.add_batches`)."""
    size = ingest.BATCH_SIZE
    batches = (
        [NewArticle(a, "ingest") for a in articles[i : i + size]]
        for i in range(0, len(articles), size)
    )
    stored = [outcome for batch in corpus.add_batches(batches) for outcome in batch]
    if corpus.engine.dialect.name == "sqlite":
        # The writes still in the WAL are copied to the database by a later checkpoint: counted
        # here, or the rate would depend on where the last checkpoint fell.
        with corpus.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    return stored


def _candidates(conn: sa.Connection, body: str) -> tuple[int, int]:
    """Near-copy candidates of a text (distinct articles sharing an anchor) and how many of them
    `dedup.worth_verifying` keeps, before any cut."""
    fp = dedup.fingerprint(body)
    if not fp.anchors:
        return 0, 0
    anchors = ", ".join(str(a) for a in fp.anchors)
    found = conn.execute(
        sa.text(
            "SELECT c.hits, c.anchors, a.minhash FROM (SELECT article_id, count(*) AS hits, "
            f"max(anchor_count) AS anchors FROM text_anchors WHERE anchor IN ({anchors}) "
            "GROUP BY article_id) c JOIN articles a ON a.id = c.article_id"
        )
    ).all()
    return len(found), sum(dedup.worth_verifying_all(fp.signature, len(fp.anchors), found))


def _measure_child(
    url: str, stories_filled: int, count: int, stored: int, round_: int, queue: mp.Queue
) -> None:
    try:
        queue.put(_measure(url, load_models(), stories_filled, count, stored, round_))
    except BaseException as exc:
        queue.put(exc)
        raise


def _warm(url: str) -> None:
    """Bring the corpus to a server's steady state first: read into the OS page cache (at 1M
    articles the probes' index and row reads otherwise go to the disk: 2-3x the lookup time
    on this machine, right after the fill of the other database) and, on PostgreSQL, vacuumed."""
    engine = sa.create_engine(url)
    try:
        if engine.dialect.name == "sqlite":
            path = Path(engine.url.database or "")
            with path.open("rb") as f:
                while f.read(1 << 24):
                    pass
            return
        # The steady state of a server with autovacuum (PostgreSQL's default; this machine's
        # server runs without it): the rows the last round's ingest changed are vacuumed, so
        # that index-only scans read no table rows (the story index's range scans made 9 heap
        # fetches per term after 1,500 ingested probes, 22% of its rows dead).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM (ANALYZE)"))
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
            relations = conn.scalars(
                sa.text(
                    "SELECT c.oid::regclass::text FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 't')"
                )
            ).all()
            for relation in relations:
                conn.execute(sa.text("SELECT pg_prewarm(:r, 'read')"), {"r": relation})
    finally:
        engine.dispose()


# --- main -------------------------------------------------------------------------------------


def run(database: str, url: str, sizes: list[int], args: argparse.Namespace) -> list[dict]:
    ctx = mp.get_context("fork")
    open_corpus(url).close()  # migrate
    rows = []
    sidecar = CACHE.parent / f"scale-{database}.json"
    kept = json.loads(sidecar.read_text()) if args.reuse and sidecar.exists() else {}
    stories_filled = kept.get("stories_filled", 0)
    for round_, size in enumerate(sizes):
        queue = ctx.Queue()
        started = time.perf_counter()
        if kept.get("size", 0) >= size:
            have, fill = kept["size"], None  # filled by an earlier --keep run
        else:
            proc = ctx.Process(target=_fill, args=(url, size, stories_filled, args.workers, queue))
            proc.start()
            have, stories_filled = _get(queue)
            proc.join()
            fill = time.perf_counter() - started
            if args.keep:
                kept = {"size": have, "stories_filled": stories_filled}
                sidecar.write_text(json.dumps(kept))
        # Probes in a fresh process: its RSS is what a worker ingesting at this size needs.
        # (Probes stay in a kept database; a later --reuse run draws other ones.)
        round_ += args.round
        proc = ctx.Process(
            target=_measure_child,
            args=(url, stories_filled, args.probes, args.ingest, round_, queue),
        )
        proc.start()
        m = _get(queue)
        proc.join()
        row = {"database": database, "size": have, "fill_s": fill} | m
        rows.append(row)
        _print_row(row)
    return rows


def _get(queue: mp.Queue):
    got = queue.get()
    if isinstance(got, BaseException):
        raise SystemExit(f"a child process failed: {got!r}")
    return got


HEADER = (
    f"{'db':<10} {'articles':>9} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'ingest/s':>8} "
    f"{'first/s':>7} "
    f"{'cand':>6} "
    f"{'cand max':>8} {'verif':>6} {'verif max':>9} {'peak MB':>8} {'rss MB':>7} {'fill s':>7} "
    f"{'fill/s':>7}  probes right"
)


def _print_row(r: dict) -> None:
    fill, rate = "-", "-"
    if r["fill_s"] is not None:
        fill, rate = f"{r['fill_s']:.0f}", f"{r['size'] / r['fill_s']:.0f}"
    print(
        f"{r['database']:<10} {r['size']:>9} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['max']:>7.1f} "
        f"{r['ingest_rate']:>8.0f} {r['first_rate']:>7.0f} "
        f"{r['candidates']:>6.1f} {r['candidates_max']:>8} {r['verified']:>6.1f} "
        f"{r['verified_max']:>9} {r['peak_rss']:>8.0f} {r['rss']:>7.0f} "
        f"{fill:>7} {rate:>7}  {r['right']}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--databases", default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "NEWSMON_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/"
        ),
        help="server URL; a database newsmon_scale is created there and dropped after",
    )
    parser.add_argument("--probes", type=int, default=400, help="articles looked up")
    parser.add_argument(
        "--ingest",
        type=int,
        default=1600,
        help="articles stored and timed (batches of ingest.BATCH_SIZE), after one batch untimed",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the filled databases (build/scale.db, newsmon_scale) for --reuse",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="probe the kept databases, filling only what is missing",
    )
    parser.add_argument("--round", type=int, default=0, help="draw other probes (with --reuse)")
    parser.add_argument(
        "--cold", action="store_true", help="probe without reading the corpus into memory first"
    )
    args = parser.parse_args(argv)
    global WARM
    WARM = not args.cold
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if args.sizes == "10000,100000" and args.databases == "sqlite":
        print(
            "default run (10k, 100k on SQLite); the full one: bench/scale.py "
            "--sizes 10000,100000,1000000 --databases sqlite,postgresql"
        )
    print(HEADER, flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    rows = []
    for database in args.databases.split(","):
        if database == "sqlite" and (args.keep or args.reuse):
            path = ROOT / "build" / "scale.db"
            if not args.reuse:
                for stale in (path, path.with_name("scale.db-wal"), path.with_name("scale.db-shm")):
                    stale.unlink(missing_ok=True)
            rows += run(database, f"sqlite:///{path}", sizes, args)
        elif database == "sqlite":
            with tempfile.TemporaryDirectory(dir=ROOT / "build") as tmp:
                rows += run(database, f"sqlite:///{Path(tmp) / 'scale.db'}", sizes, args)
        elif database == "postgresql":
            server = sa.create_engine(args.postgres_url + "postgres", isolation_level="AUTOCOMMIT")
            with server.connect() as conn:
                exists = conn.scalar(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = 'newsmon_scale'")
                )
                if not (args.reuse and exists):
                    conn.execute(sa.text("DROP DATABASE IF EXISTS newsmon_scale"))
                    conn.execute(sa.text("CREATE DATABASE newsmon_scale"))
            try:
                rows += run(database, args.postgres_url + "newsmon_scale", sizes, args)
            finally:
                if not (args.keep or args.reuse):
                    with server.connect() as conn:
                        conn.execute(sa.text("DROP DATABASE IF EXISTS newsmon_scale"))
                server.dispose()
        else:
            raise SystemExit(f"unknown database {database}")
    print()
    print(HEADER)
    for r in rows:
        _print_row(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
