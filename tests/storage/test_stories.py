"""Stories (dedup level 4): clustering of original articles, stored and shared."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from storage import stories
from storage.repository import Corpus, open_corpus
from storage.schema import stories as stories_table
from storage.schema import story_terms, term_stats
from tests.storage.revisions import engine_at, store_old_article
from tests.storage.stories import (
    COPY_BODY,
    OTHER_BODY,
    QUAKE_CHILE_BODY,
    QUAKE_CHILE_REWRITE,
    QUAKE_PAPUA_BODY,
    REWRITE_BODY,
    TRIMMED_BODY,
    WIRE_BODY,
    store_story,
)
from tests.storage.test_repository import make_article

MONDAY = datetime(2024, 5, 13, 9, 0, tzinfo=UTC)


def add(corpus: Corpus, url: str, body: str, title: str, published: datetime | None = MONDAY):
    return corpus.add_article(
        make_article(url, body, title=title, published=published), source="feed"
    )


def story_of(corpus: Corpus, article_id: int) -> int | None:
    return corpus.get_article(article_id).story_id


# --- plain functions -------------------------------------------------------------------------


def test_entities_are_runs_of_capitalised_words_inside_sentences() -> None:
    text = (
        "A series of powerful earthquakes rocked Manokwari, the capital of Indonesia's West "
        "Papua, on Sunday. The US Geological Survey said so.\nTHOUSANDS FLED THEIR HOMES"
    )
    assert stories.entities(text) == [
        "manokwari",
        "indonesia",
        "west papua",
        "us geological survey",
    ]


def test_article_terms_drop_stop_words_and_weigh_the_title() -> None:
    terms = stories.article_terms("Quake in Chile", "The quake shook Antofagasta in 2024 at 9.")
    assert terms["quake"] == stories.TITLE_WEIGHT + 1
    assert terms["2024"] == 1 and "9" not in terms and "the" not in terms
    assert terms[stories.ENTITY + "antofagasta"] == 1


def test_centroid_is_bounded() -> None:
    big = {f"t{i}": 1.0 / (i + 1) for i in range(500)}
    merged = stories.merge_centroid(big, {"t0": 1.0, "new": 2.0})
    assert len(merged) == stories.CENTROID_TERMS
    assert merged["new"] == 2.0 and merged["t0"] == 2.0


# --- in the corpus ---------------------------------------------------------------------------


def test_two_write_ups_of_one_event_are_one_story_not_copies(corpus: Corpus) -> None:
    add(corpus, "https://o.example/floods", OTHER_BODY, "Floods close the coastal motorway")
    wire = add(corpus, "https://a.example/1", WIRE_BODY, "Russia and the Taliban hold talks")
    rewrite = add(
        corpus,
        "https://b.example/2",
        REWRITE_BODY,
        "Taliban hold third round of talks with Russian envoy",
        MONDAY + timedelta(hours=5),
    )
    assert rewrite.duplicate_of is None
    assert story_of(corpus, rewrite.id) == story_of(corpus, wire.id) is not None
    assert story_of(corpus, rewrite.id) != story_of(corpus, 1)


def test_two_events_of_one_kind_are_two_stories(corpus: Corpus) -> None:
    chile = add(corpus, "https://a.example/chile", QUAKE_CHILE_BODY, "Strong quake hits Chile")
    later = MONDAY + timedelta(days=10)
    papua = add(corpus, "https://b.example/papua", QUAKE_PAPUA_BODY, "Deadly quake in Papua", later)
    chile_2 = add(
        corpus,
        "https://c.example/chile",
        QUAKE_CHILE_REWRITE,
        "Quake rocks Antofagasta",
        MONDAY + timedelta(hours=3),
    )
    assert story_of(corpus, chile.id) == story_of(corpus, chile_2.id)
    assert story_of(corpus, papua.id) != story_of(corpus, chile.id)


def test_a_story_keeps_its_id_as_it_grows(corpus: Corpus) -> None:
    first = add(corpus, "https://a.example/1", WIRE_BODY, "Russia and the Taliban hold talks")
    story = story_of(corpus, first.id)
    later = [
        add(
            corpus,
            "https://b.example/2",
            REWRITE_BODY,
            "Taliban in Moscow",
            MONDAY + timedelta(hours=2),
        ),
        add(
            corpus,
            "https://c.example/3",
            COPY_BODY,
            "Russia, Taliban talk",
            MONDAY + timedelta(days=1),
        ),
        add(
            corpus, "https://d.example/4", TRIMMED_BODY, "Moscow talks", MONDAY - timedelta(hours=1)
        ),
    ]
    assert [story_of(corpus, s.id) for s in later] == [story] * 3
    with corpus.engine.connect() as conn:
        row = conn.execute(sa.select(stories_table)).one()
        indexed = conn.execute(
            sa.select(story_terms.c.term, story_terms.c.last_published).where(
                story_terms.c.story_id == story
            )
        ).all()
        documents = conn.scalar(
            sa.select(term_stats.c.df).where(term_stats.c.term == stories.DOCUMENTS)
        )
    assert row.id == story and row.size == 4
    assert row.first_published == MONDAY - timedelta(hours=1)
    assert row.last_published == MONDAY + timedelta(days=1)
    assert 0 < len(row.centroid) <= stories.CENTROID_TERMS
    # The index holds the centroid's heaviest terms, with the story's last publication (the
    # copy's: a story a copy joined stays findable as long as the copy is recent).
    assert {term for term, _ in indexed} == set(
        stories.top_terms(row.centroid, stories.INDEX_TERMS)
    )
    assert {last for _, last in indexed} == {MONDAY + timedelta(days=1)}
    assert documents == 2  # originals only: the copies are counted in their original's story


def test_a_copy_gets_its_original_story(corpus: Corpus) -> None:
    add(corpus, "https://o.example/floods", OTHER_BODY, "Floods close the coastal motorway")
    wire = add(corpus, "https://a.example/1", WIRE_BODY, "Russia and the Taliban hold talks")
    copy = add(
        corpus,
        "https://b.example/2",
        COPY_BODY,
        "Kremlin meets Taliban",
        MONDAY + timedelta(days=9),
    )
    assert copy.duplicate_of == wire.id
    assert story_of(corpus, copy.id) == story_of(corpus, wire.id)
    # An earlier copy takes the group over and stays in its story.
    earlier = add(corpus, "https://c.example/3", TRIMMED_BODY, "Talks", MONDAY - timedelta(days=1))
    assert earlier.duplicate_of is None
    assert corpus.get_article(wire.id).duplicate_of == earlier.id
    assert story_of(corpus, earlier.id) == story_of(corpus, wire.id)


def test_undated_articles_are_clustered_at_their_arrival(corpus: Corpus) -> None:
    wire = add(corpus, "https://a.example/1", WIRE_BODY, "Russia and the Taliban hold talks", None)
    rewrite = add(corpus, "https://b.example/2", REWRITE_BODY, "Taliban in Moscow", None)
    assert story_of(corpus, wire.id) == story_of(corpus, rewrite.id) is not None


def test_migration_0003_puts_stored_articles_into_stories(database_url: str) -> None:
    engine = engine_at(database_url, "0002")
    rows = [
        (WIRE_BODY, MONDAY, None),
        (OTHER_BODY, MONDAY, None),
        (COPY_BODY, MONDAY + timedelta(hours=1), 1),
        (REWRITE_BODY, MONDAY + timedelta(hours=2), None),
    ]
    with engine.begin() as conn:
        for n, (body, published, duplicate_of) in enumerate(rows, 1):
            store_old_article(conn, n, body, published=published, duplicate_of=duplicate_of)
    engine.dispose()
    with open_corpus(database_url) as corpus:
        found = {i: story_of(corpus, i) for i in (1, 2, 3, 4)}
        assert None not in found.values()
        assert found[1] == found[3] == found[4] != found[2]
        with corpus.engine.connect() as conn:
            query = sa.select(stories_table.c.id, stories_table.c.size)
            sizes = {story: size for story, size in conn.execute(query)}
        assert sizes == {found[1]: 3, found[2]: 1}
        later = add(corpus, "https://b.example/5", WIRE_BODY, "Moscow talks")  # same text
        assert later.duplicate_of == 1 and story_of(corpus, later.id) == found[1]


def test_racing_workers_share_stories(corpus: Corpus) -> None:
    bodies = [WIRE_BODY, REWRITE_BODY, OTHER_BODY, QUAKE_CHILE_BODY, QUAKE_CHILE_REWRITE] * 2
    barrier = threading.Barrier(4)

    def store(n: int) -> int:
        if n < 4:
            barrier.wait()
        body = bodies[n] + f"\n\nReported by desk number {n}."
        return add(corpus, f"https://w{n}.example/a", body, "News", MONDAY).id

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(store, range(len(bodies))))
    with corpus.engine.connect() as conn:
        sizes = conn.scalar(sa.select(sa.func.sum(stories_table.c.size)))
        documents = conn.scalar(
            sa.select(term_stats.c.df).where(term_stats.c.term == stories.DOCUMENTS)
        )
    assert None not in [story_of(corpus, i) for i in ids]
    assert sizes == len(bodies)
    originals = sum(corpus.get_article(i).duplicate_of is None for i in ids)
    assert documents == originals


def test_document_frequencies_count_each_original_once(corpus: Corpus) -> None:
    # A batch sees its own pending counts; a later batch sees them stored.
    with corpus.engine.begin() as conn:
        batch = stories.DocumentFrequencies()
        assert batch.of(conn, ["taliban", "moscow"]) == ({"taliban": 1, "moscow": 1}, 1)
        batch.count(["taliban", "moscow"])
        assert batch.of(conn, ["taliban", "kabul"]) == ({"taliban": 2, "kabul": 1}, 2)
        batch.count(["taliban", "kabul"])
        batch.flush(conn)
    with corpus.engine.begin() as conn:
        later = stories.DocumentFrequencies()
        assert later.of(conn, ["taliban", "kabul", "doha"]) == (
            {"taliban": 3, "kabul": 2, "doha": 1},
            3,
        )
        stored = dict(conn.execute(sa.select(term_stats.c.term, term_stats.c.df)).all())
    assert stored == {stories.DOCUMENTS: 2, "taliban": 2, "moscow": 1, "kabul": 1}


def test_kept_frequencies_are_read_again_after_another_worker_counted(corpus: Corpus) -> None:
    kept = stories.StoredFrequencies()
    with corpus.engine.begin() as conn:
        batch = stories.DocumentFrequencies(kept)
        assert batch.of(conn, ["taliban"]) == ({"taliban": 1}, 1)
        batch.count(["taliban"])
        batch.flush(conn)
    # While the stored number of originals is the one kept, kept counts are not read again
    # (a count no worker wrote shows it).
    kept.counts["kabul"] = 41
    with corpus.engine.begin() as conn:
        assert stories.DocumentFrequencies(kept).of(conn, ["taliban", "kabul"]) == (
            {"taliban": 2, "kabul": 42},
            2,
        )
    with corpus.engine.begin() as conn:  # another worker's batch
        other = stories.DocumentFrequencies()
        other.of(conn, ["taliban"])
        other.count(["taliban"])
        other.flush(conn)
    with corpus.engine.begin() as conn:  # the stored count moved on: all read again
        assert stories.DocumentFrequencies(kept).of(conn, ["taliban", "kabul"]) == (
            {"taliban": 3, "kabul": 1},
            3,
        )


def test_a_batch_ranks_candidate_stories_as_the_stored_index_would(
    corpus: Corpus, monkeypatch
) -> None:
    # Four stored stories hit by one query; the batch changes the best of them so that it
    # loses the query's terms. With room for two candidates, the next stored story takes its
    # place: the ranking equals what the stored index answers once the batch is written.
    monkeypatch.setattr(stories, "MAX_STORY_CANDIDATES", 2)
    shared = {"alpha": 0.5, "beta": 0.5, "gamma": 0.4}
    centroids = [
        shared | {"delta": 0.3},
        {"alpha": 0.6, "beta": 0.6, "own2": 0.1},
        {"alpha": 0.7, "own3": 0.1},
        {"beta": 0.7, "own4": 0.1},
    ]
    with corpus.engine.begin() as conn:
        for i, centroid in enumerate(centroids, start=1):
            conn.execute(
                stories_table.insert(),
                {
                    "id": i,
                    "created": MONDAY,
                    "first_published": MONDAY,
                    "last_published": MONDAY,
                    "size": 1,
                    "centroid": centroid,
                },
            )
            conn.execute(
                story_terms.insert(),
                [{"term": t, "story_id": i, "last_published": MONDAY} for t in centroid],
            )
    query, since = ("alpha", "beta", "gamma"), MONDAY - stories.WINDOW
    with corpus.engine.begin() as conn:
        index = stories.StoryIndex(conn, stories.DocumentFrequencies(), MONDAY)
        assert index._rank(query, since) == [1, 2]
        # Story 1 grows with an article of other words: alpha, beta and gamma fall out of
        # its INDEX_TERMS heaviest terms.
        other = {f"other{i}": 1.0 for i in range(stories.INDEX_TERMS)}
        vector = stories.StoryVector({t: 1 for t in other}, other, 10, MONDAY)
        index.add(1, vector)
        in_batch = index._rank(query, since)
        index.flush()
    with corpus.engine.connect() as conn:
        stored = stories.StoryIndex(conn, stories.DocumentFrequencies(), MONDAY)._rank(query, since)
    assert in_batch == stored == [2, 3]


def test_kept_story_rows_serve_later_batches_until_the_story_grows(corpus: Corpus) -> None:
    kept = stories.StoredStories()
    first, grown = {"alpha": 1.0}, {"alpha": 0.6, "beta": 0.8}

    def centroid_read() -> dict[str, float]:
        with corpus.engine.begin() as conn:
            index = stories.StoryIndex(conn, stories.DocumentFrequencies(), MONDAY, kept)
            index.read_stories([1])
            return index._stories[1].centroid

    def store(size: int, centroid: dict[str, float]) -> None:
        with corpus.engine.begin() as conn:
            conn.execute(sa.delete(stories_table))
            conn.execute(
                stories_table.insert(),
                {
                    "id": 1,
                    "created": MONDAY,
                    "first_published": MONDAY,
                    "last_published": MONDAY,
                    "size": size,
                    "centroid": centroid,
                },
            )

    store(1, first)
    assert centroid_read() == first
    # The same size: the kept row is used (a stored change without a new member does not happen;
    # here it shows that the row was not read again).
    store(1, grown)
    assert centroid_read() == first
    # Another worker's batch grew the story: its new centroid is read.
    store(2, grown)
    assert centroid_read() == grown


def _indexed_stories(corpus: Corpus) -> set[int]:
    with corpus.engine.connect() as conn:
        return set(conn.scalars(sa.select(story_terms.c.story_id).distinct()))


def test_the_index_keeps_the_stories_that_can_still_be_joined(corpus: Corpus) -> None:
    """Index entries of a story whose last publication is INDEX_RETENTION older than the newest
    story's are deleted (the index stays a month of news); a late copy that moves the story
    back into the retention brings its entries back, and a write-up then joins it."""
    wire = add(corpus, "https://a.example/1", WIRE_BODY, "Moscow talks")
    wire_story = story_of(corpus, wire.id)
    later = MONDAY + stories.INDEX_RETENTION + timedelta(days=2)
    quake = add(corpus, "https://b.example/2", QUAKE_CHILE_BODY, "Quake in Chile", later)
    assert _indexed_stories(corpus) == {story_of(corpus, quake.id)}
    # A copy published within the retention joins its original's story and moves it.
    copy = add(corpus, "https://c.example/3", COPY_BODY, "Moscow talks", later - timedelta(days=1))
    assert copy.duplicate_of == wire.id and story_of(corpus, copy.id) == wire_story
    assert wire_story in _indexed_stories(corpus)
    rewrite = add(corpus, "https://d.example/4", REWRITE_BODY, "Kabul and Moscow", later)
    assert story_of(corpus, rewrite.id) == wire_story


def test_an_article_past_the_retention_starts_its_own_story(corpus: Corpus) -> None:
    wire = add(corpus, "https://a.example/1", WIRE_BODY, "Moscow talks")
    later = MONDAY + stories.INDEX_RETENTION + timedelta(days=2)
    add(corpus, "https://b.example/2", QUAKE_CHILE_BODY, "Quake in Chile", later)
    rewrite = add(
        corpus, "https://d.example/4", REWRITE_BODY, "Kabul and Moscow", MONDAY + timedelta(hours=2)
    )
    assert story_of(corpus, rewrite.id) != story_of(corpus, wire.id)


def test_a_bulk_load_drops_the_entries_past_retention(corpus: Corpus) -> None:
    # (What bench/scale.py's fill calls once, having written every story's entries.)
    newest = MONDAY + stories.INDEX_RETENTION + timedelta(days=1)
    with corpus.engine.begin() as conn:
        for story_id, last in ((1, MONDAY), (2, newest - stories.INDEX_RETENTION), (3, newest)):
            store_story(conn, story_id, last)
        stories.drop_past_retention(conn)
    assert _indexed_stories(corpus) == {2, 3}


def test_index_entries_read_out_of_order_are_ranked_by_last_publication() -> None:
    # SQLite's group_concat gives the range scan's order; should it not, they are sorted.
    read = stories._Entries(
        MONDAY,
        ["7", "3", "5"],
        ["2024-05-13 10:00:00.000000", "2024-05-12 09:00:00.000000", "2024-05-13 09:00:00.000000"],
    )
    ordered = read.in_order()
    assert ordered.stories == [3, 5, 7]
    assert ordered.last_published == sorted(read.last_published)
