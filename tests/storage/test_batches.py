"""Batched ingest (`Corpus.add_articles`) and the read-only `Corpus.lookup`."""

from __future__ import annotations

import gc
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from storage import anchor_index, dedup, ingest, stories
from storage.ingest import IngestBatch
from storage.repository import Corpus, NewArticle, Placement, StoredArticle, open_corpus
from storage.schema import articles, term_stats
from storage.schema import stories as stories_table
from tests.storage.stories import (
    COPY_BODY,
    OTHER_BODY,
    QUAKE_CHILE_BODY,
    QUAKE_CHILE_REWRITE,
    REWRITE_BODY,
    TRIMMED_BODY,
    WIRE_BODY,
)
from tests.storage.test_repository import make_article
from tests.storage.test_stories import MONDAY, story_of


def new(url: str, body: str, title: str = "News", hours: int = 0) -> NewArticle:
    article = make_article(url, body, title=title, published=MONDAY + timedelta(hours=hours))
    return NewArticle(article, "ingest")


def test_a_batch_sees_its_own_articles(corpus: Corpus) -> None:
    # Originals, their copies and a second write-up, all in one transaction.
    stored = corpus.add_articles(
        [
            new("https://wire.example/a", WIRE_BODY, "Quake in Papua"),
            new("https://other.example/b", OTHER_BODY, "Budget vote"),
            new("https://copy.example/c", COPY_BODY, "Quake in Papua", hours=1),
            new("https://wire.example/a?utm_source=x", WIRE_BODY),  # the same canonical URL
            new("https://trim.example/d", TRIMMED_BODY, hours=2),
            new("https://rewrite.example/e", REWRITE_BODY, "Papua shaken", hours=3),
        ]
    )
    wire, other, copy, again, trimmed, rewrite = stored
    assert [s.is_new for s in stored] == [True, True, True, False, True, True]
    assert again.id == wire.id
    assert wire.duplicate_of is None and other.duplicate_of is None
    assert copy.duplicate_of == wire.id and trimmed.duplicate_of == wire.id
    assert rewrite.duplicate_of is None
    assert story_of(corpus, copy.id) == story_of(corpus, wire.id) == story_of(corpus, rewrite.id)
    assert story_of(corpus, other.id) != story_of(corpus, wire.id)
    with corpus.engine.connect() as conn:
        documents = conn.scalar(sa.select(term_stats.c.df).where(term_stats.c.term == ""))
    assert documents == 3  # the originals: wire, other, rewrite


def test_batches_and_single_articles_give_the_same_corpus(corpus: Corpus, tmp_path) -> None:
    items = [
        new("https://a.example/1", QUAKE_CHILE_BODY, "Quake in Chile"),
        new("https://b.example/2", WIRE_BODY, "Quake in Papua", hours=1),
        new("https://c.example/3", QUAKE_CHILE_REWRITE, "Chile shaken", hours=2),
        new("https://d.example/4", COPY_BODY, hours=3),
        new("https://e.example/5", OTHER_BODY, "Budget vote", hours=4),
    ]
    batched = corpus.add_articles(items)
    with open_corpus(f"sqlite:///{tmp_path / 'one.db'}") as single:
        one_by_one = [single.add_article(i.article, source=i.source) for i in items]
        stories_single = [story_of(single, s.id) for s in one_by_one]
    assert [s.duplicate_of for s in batched] == [s.duplicate_of for s in one_by_one]
    assert [story_of(corpus, s.id) for s in batched] == stories_single


def test_lookup_says_where_an_article_goes_and_writes_nothing(corpus: Corpus) -> None:
    wire = corpus.add_article(make_article("https://wire.example/a", WIRE_BODY), source="feed")
    chile = corpus.add_article(
        make_article("https://x.example/q", QUAKE_CHILE_BODY, title="Quake in Chile"),
        source="feed",
    )
    with corpus.engine.connect() as conn:
        before = conn.scalar(sa.select(sa.func.count()).select_from(articles))
        df_before = conn.execute(sa.select(term_stats)).all()

    known = corpus.lookup(make_article("https://wire.example/a", WIRE_BODY))
    copy = corpus.lookup(make_article("https://copy.example/c", COPY_BODY))
    rewrite = corpus.lookup(
        make_article("https://y.example/r", QUAKE_CHILE_REWRITE, title="Chile shaken")
    )
    unrelated = corpus.lookup(make_article("https://z.example/o", OTHER_BODY, title="Budget"))

    assert known == Placement(wire.id, None, story_of(corpus, wire.id))
    assert copy == Placement(None, wire.id, story_of(corpus, wire.id))
    assert rewrite == Placement(None, None, story_of(corpus, chile.id))
    assert unrelated == Placement(None, None, None)
    with corpus.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(articles)) == before
        assert conn.execute(sa.select(term_stats)).all() == df_before


def test_a_failed_batch_stores_none_of_it(corpus: Corpus) -> None:
    good = new("https://a.example/1", WIRE_BODY)
    with pytest.raises(ValueError, match="source must be one of"):
        corpus.add_articles([good, NewArticle(good.article, "carrier pigeon")])
    assert corpus.article_count() == 0


def test_the_garbage_collector_pauses_for_a_batch_only(corpus: Corpus, monkeypatch) -> None:
    during = []
    prepare = ingest.prepare
    monkeypatch.setattr(
        ingest, "prepare", lambda item: during.append(gc.isenabled()) or prepare(item)
    )
    corpus.add_articles([new("https://a.example/1", WIRE_BODY)])
    with pytest.raises(ValueError, match="source must be one of"):
        corpus.add_articles([NewArticle(new("https://b.example/2", OTHER_BODY).article, "pigeon")])
    assert during == [False, False]
    assert gc.isenabled()


def test_concurrent_batches_keep_one_original_per_group(corpus: Corpus) -> None:
    # Each worker's batch holds copies of the other's originals: ingest is serialised, so
    # whichever batch goes second links its copies instead of storing second originals.
    first = [new("https://one.example/a", WIRE_BODY), new("https://one.example/b", OTHER_BODY)]
    second = [
        new("https://two.example/a", COPY_BODY),
        new("https://two.example/b", OTHER_BODY + "\n\nReported by our desk."),
    ]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(corpus.add_articles, [first, second]))
    stored = [s for batch in results for s in batch]
    assert sum(s.duplicate_of is None for s in stored) == 2


def test_an_older_copy_takes_over_its_group_within_a_batch(corpus: Corpus) -> None:
    # The wire story arrives after a copy stored in the same batch: it becomes the original,
    # and a later copy in the batch finds it as the original of its text.
    stored = corpus.add_articles(
        [
            new("https://late.example/a", WIRE_BODY, hours=5),
            new("https://copy.example/c", COPY_BODY, hours=6),
            new("https://wire.example/w", WIRE_BODY + "\n", hours=0),  # the same text, older
            new("https://again.example/g", WIRE_BODY, hours=7),
        ]
    )
    late, copy, wire, again = stored
    assert wire.duplicate_of is None
    assert again.duplicate_of == wire.id and again.reason == f"same text as #{wire.id}"
    records = {r.id: r for r in corpus.iter_articles()}
    assert records[late.id].duplicate_of == wire.id
    assert records[copy.id].duplicate_of == wire.id
    assert len({story_of(corpus, s.id) for s in stored}) == 1


def test_a_batch_gives_the_corpus_that_one_by_one_gives_on_both_databases(
    corpus: Corpus, tmp_path
) -> None:
    # Ten articles of two events and their copies, in one batch or one at a time: the same
    # links, reasons, stories and story centroids (the batch reads ahead, vectors included,
    # and holds its changes in memory; its copies of its own articles were read ahead as
    # originals, so the vectors after them are computed again).
    bodies = [WIRE_BODY, QUAKE_CHILE_BODY, COPY_BODY, TRIMMED_BODY, REWRITE_BODY]
    bodies += [QUAKE_CHILE_REWRITE, OTHER_BODY, WIRE_BODY, COPY_BODY + "\n\nMore soon.", OTHER_BODY]
    items = [
        new(f"https://s{i}.example/{i}", b, f"Title {i % 3}", hours=i) for i, b in enumerate(bodies)
    ]
    batched = corpus.add_articles(items)
    with open_corpus(f"sqlite:///{tmp_path / 'one.db'}") as single:
        one_by_one = [single.add_article(i.article, source=i.source) for i in items]
        stories_single = [story_of(single, s.id) for s in one_by_one]
        centroids_single = _centroids(single)
    assert [(s.duplicate_of, s.reason) for s in batched] == [
        (s.duplicate_of, s.reason) for s in one_by_one
    ]
    assert [story_of(corpus, s.id) for s in batched] == stories_single
    assert _centroids(corpus) == centroids_single


def _centroids(corpus: Corpus) -> dict[int, dict[str, float]]:
    with corpus.engine.connect() as conn:
        return dict(conn.execute(sa.select(stories_table.c.id, stories_table.c.centroid)).all())


def _unique_words(prefix: str, n: int) -> list[str]:
    return [f"{prefix}x{i}" for i in range(n)]


def _common_phrase() -> list[str]:
    """Three words whose shingle is an anchor away from the lead."""
    for k in range(1000):
        phrase = [f"alpha{k}", f"beta{k}", f"gamma{k}"]
        own = set(dedup.anchors(phrase))  # (alone, in a lead: sampled at LEAD_ANCHOR_RATE)
        if len(own) == 1 and own <= set(dedup.anchors([*_unique_words("lead", 60), *phrase])):
            return phrase
    raise AssertionError("no phrase found")


@pytest.mark.parametrize("holders", [anchor_index.BUCKET_SAMPLE - 1, anchor_index.BUCKET_SAMPLE])
def test_one_anchor_of_a_full_bucket_makes_no_candidate(corpus: Corpus, holders: int) -> None:
    """Texts that share one anchor only are candidates while few texts hold it; once its
    bucket is full (a phrase that many texts hold) they are none."""
    phrase = _common_phrase()
    corpus.add_articles(
        [
            new(f"https://s{i}.example/", " ".join([*_unique_words(f"s{i}", 60), *phrase]))
            for i in range(holders)
        ]
    )
    body = " ".join([*_unique_words("probe", 60), *phrase])
    with corpus.engine.connect() as conn:
        batch = IngestBatch(conn, stories.DocumentFrequencies(), MONDAY)
        found = batch._ranked_candidates(dedup.fingerprint(body))
    assert len(found) == (0 if holders == anchor_index.BUCKET_SAMPLE else holders)
    assert all(shared == 1 for _, shared in found)


def test_a_full_bucket_gives_its_newest_members(corpus: Corpus) -> None:
    phrase = _common_phrase()
    holders = anchor_index.BUCKET_SAMPLE + 5
    stored = corpus.add_articles(
        [
            new(f"https://s{i}.example/", " ".join([*_unique_words(f"s{i}", 60), *phrase]))
            for i in range(holders)
        ]
    )
    (anchor,) = set(dedup.anchors(phrase))
    with corpus.engine.connect() as conn:
        members = anchor_index.bucket_members(conn, [anchor])[anchor]
    newest = sorted((s.id for s in stored), reverse=True)[: anchor_index.BUCKET_SAMPLE]
    # ... each with its number of anchors.
    counts = [len(dedup.fingerprint(corpus.get_article(i).body).anchors) for i in newest]
    assert members == list(zip(newest, counts, strict=True))


def test_batches_in_a_row_are_each_committed_and_see_the_ones_before(corpus: Corpus) -> None:
    # add_batches: each batch is committed when it is yielded (another connection sees it),
    # and a copy in a later batch links to its original in an earlier one.
    seen_by_others = []
    batches = [
        [new("https://wire.example/a", WIRE_BODY), new("https://b.example/b", OTHER_BODY)],
        [new("https://copy.example/c", COPY_BODY, hours=1)],
        [new("https://trim.example/d", TRIMMED_BODY, hours=2)],
    ]
    stored = []
    for outcome in corpus.add_batches(batches):
        stored.append(outcome)
        with open_corpus(corpus.url) as other:
            seen_by_others.append(other.article_count())
    (wire, other_story), (copy,), (trimmed,) = stored
    assert seen_by_others == [2, 3, 4]
    assert copy.duplicate_of == wire.id and trimmed.duplicate_of == wire.id
    assert other_story.duplicate_of is None


def test_the_next_batch_is_prepared_while_one_writes_on_postgresql(
    corpus: Corpus, monkeypatch
) -> None:
    # On PostgreSQL a batch after the first is prepared on a thread, started once the batch
    # before it was placed (while it writes); on SQLite everything happens in order.
    events: list[tuple[str, str, bool]] = []  # (what, url, on the preparing thread)
    prepare, add = ingest.prepare, IngestBatch.add

    def logged_prepare(item: NewArticle) -> ingest.Prepared:
        on_thread = threading.current_thread() is not threading.main_thread()
        events.append(("prepare", item.article.url, on_thread))
        return prepare(item)

    def logged_add(self: IngestBatch, item: ingest.Prepared) -> StoredArticle:
        events.append(("add", item.article.url, False))
        return add(self, item)

    monkeypatch.setattr(ingest, "prepare", logged_prepare)
    monkeypatch.setattr(IngestBatch, "add", logged_add)
    urls = [f"https://s{i}.example/{i}" for i in range(4)]
    bodies = [WIRE_BODY, OTHER_BODY, QUAKE_CHILE_BODY, COPY_BODY]
    batches = [[new(u, b, hours=i)] for i, (u, b) in enumerate(zip(urls, bodies, strict=True))]
    stored = [s for outcome in corpus.add_batches(batches) for s in outcome]
    assert stored[3].duplicate_of == stored[0].id
    prepared = [(url, on_thread) for what, url, on_thread in events if what == "prepare"]
    postgresql = corpus.engine.dialect.name == "postgresql"
    assert prepared == [(urls[0], False)] + [(u, postgresql) for u in urls[1:]]
    # Each batch is prepared after the one before it was placed.
    order = [(what, url) for what, url, _ in events]
    for before, after in itertools.pairwise(urls):
        assert order.index(("add", before)) < order.index(("prepare", after))


def test_a_bad_batch_stops_add_batches_after_the_good_ones(corpus: Corpus) -> None:
    good = new("https://a.example/1", WIRE_BODY)
    bad = NewArticle(new("https://b.example/2", OTHER_BODY).article, "carrier pigeon")
    outcomes = corpus.add_batches([[good], [bad], [new("https://c.example/3", OTHER_BODY)]])
    assert next(outcomes)[0].is_new
    with pytest.raises(ValueError, match="source must be one of"):
        next(outcomes)
    assert corpus.article_count() == 1
