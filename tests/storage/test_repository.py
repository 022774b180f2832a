from __future__ import annotations

import re
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from extractors.records import Article, FeedPoll, RelevanceMatch
from extractors.urls import canonical_url
from storage import anchor_index, dedup
from storage.ingest import IngestBatch
from storage.repository import (
    Corpus,
    DatabaseError,
    DigestConflictError,
    open_corpus,
)
from storage.schema import articles, metadata, pages, story_terms, term_stats, text_anchors
from tests.storage.revisions import engine_at, store_old_article
from tests.storage.stories import (
    COPY_BODY,
    DRESSED_BODY,
    OTHER_BODY,
    REWRITE_BODY,
    TRIMMED_BODY,
    WIRE_BODY,
    store_story,
)

WATCH = "russia-taliban"


def make_article(
    url: str,
    body: str = WIRE_BODY,
    *,
    title: str = "Russia and the Taliban hold talks in Moscow",
    published: datetime | None = None,
) -> Article:
    return Article(
        url=url,
        canonical_url=canonical_url(url),
        title=title,
        body=body,
        text=f"{title}\n\nBy Staff · Example News · 2024-05-14\n\n{body}",
        author="Staff",
        site="Example News",
        published=published,
        language="en",
    )


def relevant(*terms: str, watch: str = WATCH) -> list[RelevanceMatch]:
    return [RelevanceMatch(watch, True, terms)]


# --- schema and migrations -------------------------------------------------------------------


def test_opening_twice_is_idempotent(database_url: str) -> None:
    with open_corpus(database_url) as first:
        first.add_article(make_article("https://example.org/a"), source="feed")
    with open_corpus(database_url) as second:
        assert second.article_count() == 1
        with second.engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0015"


def test_concurrent_opens_migrate_once(database_url: str) -> None:
    barrier = threading.Barrier(4)

    def open_and_count(_: int) -> int:
        barrier.wait()
        with open_corpus(database_url) as corpus:
            return corpus.article_count()

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(open_and_count, range(4))) == [0, 0, 0, 0]


def test_migrations_match_the_schema_module(corpus: Corpus) -> None:
    with corpus.engine.connect() as conn:
        dialect = conn.dialect.name

        def made_on_this_database(obj: object, *_: object) -> bool:
            # (An index made on one database only, `Index.ddl_if`, is compared there only.)
            condition = getattr(obj, "_ddl_if", None)
            return condition is None or condition.dialect in (None, dialect)

        context = MigrationContext.configure(conn, opts={"include_object": made_on_this_database})
        assert compare_metadata(context, metadata) == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'dir' / 'n.db'}"
    with open_corpus(url) as corpus, corpus.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    assert (tmp_path / "deep" / "dir" / "n.db").exists()


def test_unreachable_database_is_one_clear_line() -> None:
    with pytest.raises(DatabaseError) as caught:
        open_corpus("postgresql+psycopg://postgres:secret@127.0.0.1:1/test")
    message = str(caught.value)
    assert message.startswith("cannot connect to postgresql+psycopg://postgres@127.0.0.1:1/test: ")
    assert "connection refused" in message.lower()
    assert "secret" not in message
    assert "\n" not in message


def test_unopenable_sqlite_file_is_a_database_error(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseError, match="sqlite"):
        open_corpus(f"sqlite:///{blocker / 'newsmon.db'}")


# --- deduplication ---------------------------------------------------------------------------


def test_same_canonical_url_is_not_stored_twice(corpus: Corpus) -> None:
    first = corpus.add_article(
        make_article("https://www.example.org/news/talks?utm_source=rss&utm_medium=feed"),
        source="feed",
        matches=relevant("Moscow"),
    )
    again = corpus.add_article(
        make_article("https://example.org/news/talks#comments"),
        source="feed",
        matches=[*relevant("Taliban", watch="other-watch"), RelevanceMatch("no", False, ())],
        feed_url="https://example.org/feed.xml",
        raw_html=b"<html>again</html>",
        fetched_url="https://example.org/news/talks#comments",
    )
    assert first.is_new and first.duplicate_of is None and first.reason is None
    assert (again.id, again.is_new) == (first.id, False)
    assert corpus.article_count() == 1
    # The new page and the new watch match are still recorded against the stored article.
    page = corpus.get_page("https://example.org/news/talks#comments")
    assert page is not None and page.article_id == first.id
    assert corpus.get_article(first.id).watches == ("other-watch", WATCH)


def test_same_text_is_a_duplicate(corpus: Corpus) -> None:
    original = corpus.add_article(make_article("https://a.example/1"), source="feed")
    reformatted = WIRE_BODY.upper().replace(". ", " . ").replace("\n\n", "\n")
    copy = corpus.add_article(make_article("https://b.example/2", reformatted), source="feed")
    assert copy.is_new
    assert copy.duplicate_of == original.id
    assert copy.reason == f"same text as #{original.id}"
    record = corpus.get_article(copy.id)
    assert (record.duplicate_of, record.similarity) == (original.id, 1.0)


def test_near_copy_is_linked_to_its_original(corpus: Corpus) -> None:
    original = corpus.add_article(make_article("https://wire.example/story"), source="feed")
    copy = corpus.add_article(
        make_article(
            "https://paper.example/world/moscow-talks", COPY_BODY, title="Kremlin woos Kabul"
        ),
        source="feed",
    )
    assert copy.is_new and copy.duplicate_of == original.id
    assert copy.reason is not None
    found = re.fullmatch(rf"near copy of #{original.id} \(Jaccard (0\.\d\d|1\.00)\)", copy.reason)
    assert found and float(found.group(1)) >= dedup.NEAR_COPY_THRESHOLD
    assert corpus.get_article(copy.id).similarity == pytest.approx(float(found.group(1)), abs=0.01)
    # Copies are indexed too (a later copy may be closest to a copy).
    with corpus.engine.connect() as conn:
        rows = conn.execute(sa.select(text_anchors.c.article_id, text_anchors.c.anchor)).all()
    assert {a for a, _ in rows} == {original.id, copy.id}
    assert sorted(a for i, a in rows if i == copy.id) == list(dedup.fingerprint(COPY_BODY).anchors)


def test_different_article_is_an_original(corpus: Corpus) -> None:
    corpus.add_article(make_article("https://wire.example/story"), source="feed")
    other = corpus.add_article(
        make_article("https://news.example/floods", OTHER_BODY, title="Floods"), source="feed"
    )
    assert other.is_new and other.duplicate_of is None and other.reason is None


def test_near_copy_picks_the_most_similar_original(corpus: Corpus) -> None:
    corpus.add_article(make_article("https://a.example/other", OTHER_BODY), source="feed")
    wire = corpus.add_article(make_article("https://a.example/wire"), source="feed")
    copy = corpus.add_article(make_article("https://b.example/copy", COPY_BODY), source="feed")
    assert copy.duplicate_of == wire.id


def test_trimmed_wire_copy_is_linked_with_its_containment(corpus: Corpus) -> None:
    wire = corpus.add_article(make_article("https://wire.example/story"), source="feed")
    trimmed = corpus.add_article(
        make_article("https://paper.example/brief", TRIMMED_BODY), source="feed"
    )
    assert trimmed.duplicate_of == wire.id
    assert trimmed.reason is not None
    found = re.fullmatch(rf"(\d+)% of its text in #{wire.id}", trimmed.reason)
    assert found and int(found.group(1)) >= 95
    assert corpus.get_article(trimmed.id).similarity == pytest.approx(
        int(found.group(1)) / 100, abs=0.01
    )


def test_copy_with_new_headline_and_footer_is_linked(corpus: Corpus) -> None:
    wire = corpus.add_article(make_article("https://wire.example/story"), source="feed")
    dressed = corpus.add_article(
        make_article(
            "https://herald.example/world/kremlin-woos-kabul",
            DRESSED_BODY,
            title="Kremlin rolls out the red carpet for the Taliban",
        ),
        source="feed",
    )
    assert dressed.duplicate_of == wire.id
    assert dressed.reason == f"near copy of #{wire.id} (Jaccard 1.00)"


def test_two_write_ups_of_one_event_are_not_linked(corpus: Corpus) -> None:
    corpus.add_article(make_article("https://wire.example/story"), source="feed")
    rewrite = corpus.add_article(
        make_article("https://other.example/analysis", REWRITE_BODY), source="feed"
    )
    assert rewrite.duplicate_of is None and rewrite.reason is None


def test_copy_of_a_copy_points_to_the_original(corpus: Corpus) -> None:
    wire = corpus.add_article(make_article("https://wire.example/story"), source="feed")
    copy = corpus.add_article(make_article("https://a.example/copy", COPY_BODY), source="feed")
    # Closest to the copy (its dateline, edit and footer) but linked to the group's original.
    closer = COPY_BODY.replace("the day's top stories", "the top stories of the day")
    again = corpus.add_article(make_article("https://b.example/copy", closer), source="feed")
    assert copy.duplicate_of == wire.id and again.duplicate_of == wire.id
    assert again.reason is not None and f"#{wire.id}" in again.reason


def test_one_verified_member_decides_its_group(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire = corpus.add_article(make_article("https://wire.example/story"), source="feed")
    corpus.add_article(make_article("https://a.example/copy", COPY_BODY), source="feed")
    corpus.add_article(
        make_article("https://b.example/copy", COPY_BODY + "\n\nMore soon."), source="feed"
    )
    compared: list[str] = []
    measure = dedup.overlap

    def overlap(a: str, b: str, **known: dedup.TextShingles) -> dedup.Overlap:
        compared.append(b)
        return measure(a, b, **known)

    monkeypatch.setattr(dedup, "overlap", overlap)
    closer = COPY_BODY.replace("the day's top stories", "the top stories of the day")
    again = corpus.add_article(make_article("https://c.example/copy", closer), source="feed")
    # Three candidates of one group: the first that is a near copy decides it, and the link's
    # reason is measured against the group's original (a second comparison, when the first
    # match was a copy).
    assert again.duplicate_of == wire.id
    assert again.reason is not None and f"#{wire.id}" in again.reason
    assert len(compared) <= 2 and compared[-1] == WIRE_BODY


def test_copy_arriving_before_its_original_is_repointed(corpus: Corpus) -> None:
    morning = datetime(2024, 5, 14, 9, 0, tzinfo=UTC)
    # Two outlets' copies arrive first; the wire story, published earlier, comes last.
    dressed = corpus.add_article(
        make_article(
            "https://herald.example/a", DRESSED_BODY, published=morning + timedelta(hours=2)
        ),
        source="feed",
    )
    trimmed = corpus.add_article(
        make_article(
            "https://paper.example/b", TRIMMED_BODY, published=morning + timedelta(hours=3)
        ),
        source="feed",
    )
    assert dressed.duplicate_of is None and trimmed.duplicate_of == dressed.id
    wire = corpus.add_article(
        make_article("https://wire.example/story", published=morning), source="feed"
    )
    assert wire.is_new and wire.duplicate_of is None and wire.reason is None
    records = {a.id: a for a in corpus.iter_articles()}
    assert records[wire.id].duplicate_of is None
    assert records[dressed.id].duplicate_of == wire.id
    assert records[dressed.id].duplicate_reason == f"near copy of #{wire.id} (Jaccard 1.00)"
    assert records[trimmed.id].duplicate_of == wire.id
    assert re.fullmatch(
        rf"\d+% of its text in #{wire.id}", records[trimmed.id].duplicate_reason or ""
    )
    # A later copy joins the group under the wire story.
    late = corpus.add_article(
        make_article("https://late.example/c", COPY_BODY, published=morning + timedelta(hours=5)),
        source="feed",
    )
    assert late.duplicate_of == wire.id


def test_same_text_arriving_before_its_original_is_repointed(corpus: Corpus) -> None:
    noon = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
    copy = corpus.add_article(
        make_article("https://paper.example/a", published=noon + timedelta(minutes=30)),
        source="feed",
    )
    original = corpus.add_article(
        make_article("https://wire.example/a", published=noon), source="feed"
    )
    assert original.duplicate_of is None
    record = corpus.get_article(copy.id)
    assert (record.duplicate_of, record.duplicate_reason) == (
        original.id,
        f"same text as #{original.id}",
    )


def test_published_tie_goes_to_the_wire_source(corpus: Corpus) -> None:
    noon = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
    paper = corpus.add_article(
        make_article("https://paper.example/a", DRESSED_BODY, published=noon), source="feed"
    )
    wire = corpus.add_article(
        replace(make_article("https://reuters.example/a", published=noon), site="Reuters"),
        source="feed",
    )
    assert wire.duplicate_of is None
    assert corpus.get_article(paper.id).duplicate_of == wire.id
    # A dated article does not take over an undated original (arrival order stands).
    undated = corpus.add_article(make_article("https://u.example/1", OTHER_BODY), source="feed")
    dated = corpus.add_article(
        make_article("https://u.example/2", OTHER_BODY.upper(), published=noon), source="feed"
    )
    assert dated.duplicate_of == undated.id
    # An undated article never takes the group over; a later one neither.
    for url, published in (("https://x.example/1", None), ("https://x.example/2", noon)):
        later = corpus.add_article(make_article(url, COPY_BODY, published=published), source="feed")
        assert later.duplicate_of == wire.id


@pytest.mark.parametrize("scheme", ["0001", "0004", "0009"])
def test_migrations_reindex_stored_articles(database_url: str, scheme: str) -> None:
    """An article stored by a former scheme gets the current signature and anchors (0010 drops
    the band index and builds the anchor index)."""
    engine = engine_at(database_url, scheme)
    with engine.begin() as conn:  # an article stored by a former scheme
        store_old_article(conn, 1, WIRE_BODY, minhash=b"old" * 4)
        conn.exec_driver_sql("INSERT INTO lsh_bands (article_id, band, key) VALUES (1, 0, 1)")
    engine.dispose()
    with open_corpus(database_url) as corpus:
        with corpus.engine.connect() as conn:
            assert conn.scalar(sa.select(articles.c.minhash)) == dedup.minhash_signature(WIRE_BODY)
            found = conn.scalars(sa.select(text_anchors.c.anchor).order_by("anchor")).all()
            counts = conn.scalars(sa.select(text_anchors.c.anchor_count).distinct()).all()
        assert tuple(found) == dedup.fingerprint(WIRE_BODY).anchors
        assert counts == [len(found)]
        assert "lsh_bands" not in sa.inspect(corpus.engine).get_table_names()
        copy = corpus.add_article(make_article("https://b.example/2", TRIMMED_BODY), source="feed")
        assert copy.duplicate_of == 1


def test_migration_counts_the_anchors_of_indexed_articles(database_url: str) -> None:
    """0012: each index entry gets its article's number of anchors, from the entries alone."""
    engine = engine_at(database_url, "0011")
    bodies = {1: WIRE_BODY, 2: OTHER_BODY}
    with engine.begin() as conn:
        for article_id, body in bodies.items():
            store_old_article(conn, article_id, body)
            for anchor in dedup.fingerprint(body).anchors:
                conn.exec_driver_sql(
                    f"INSERT INTO text_anchors (anchor, article_id) VALUES ({anchor}, {article_id})"
                )
    engine.dispose()
    with open_corpus(database_url) as corpus, corpus.engine.connect() as conn:
        rows = conn.execute(sa.select(text_anchors)).all()
        anchors = {i: dedup.fingerprint(body).anchors for i, body in bodies.items()}
        assert sorted(rows) == sorted((a, i, len(anchors[i])) for i in bodies for a in anchors[i])
        # The bucket read answers with the counts.
        (anchor, *_) = anchors[2]
        assert anchor_index.bucket_members(conn, [anchor]) == {anchor: [(2, len(anchors[2]))]}


def test_migration_rebuilds_the_index_at_the_sparser_anchor_rate(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0014: the index entries of articles stored at 1/16 are those of the live scheme (1/32:
    a part of the old ones), with their new counts, and their near copies are still found."""
    engine = engine_at(database_url, "0013")
    bodies = {1: WIRE_BODY, 2: OTHER_BODY}
    with monkeypatch.context() as m:
        m.setattr(dedup, "ANCHOR_RATE", 16)
        old = {i: dedup.fingerprint(body).anchors for i, body in bodies.items()}
    with engine.begin() as conn:
        for article_id, body in bodies.items():
            store_old_article(conn, article_id, body)
            conn.execute(
                text_anchors.insert(),
                [
                    {"anchor": a, "article_id": article_id, "anchor_count": len(old[article_id])}
                    for a in old[article_id]
                ],
            )
    engine.dispose()
    with open_corpus(database_url) as corpus:
        with corpus.engine.connect() as conn:
            rows = conn.execute(sa.select(text_anchors)).all()
        new = {i: dedup.fingerprint(body).anchors for i, body in bodies.items()}
        assert sorted(rows) == sorted((a, i, len(new[i])) for i in bodies for a in new[i])
        for i in bodies:
            assert set(new[i]) < set(old[i])
        copy = corpus.add_article(make_article("https://b.example/3", TRIMMED_BODY), source="feed")
        assert copy.duplicate_of == 1


def test_short_texts_are_not_near_copies(corpus: Corpus) -> None:
    corpus.add_article(
        make_article("https://a.example/1", "Markets closed higher on Monday."), source="feed"
    )
    short = corpus.add_article(
        make_article("https://a.example/2", "Markets closed higher on Tuesday."), source="feed"
    )
    assert short.duplicate_of is None


def test_two_originals_with_one_text_are_impossible(corpus: Corpus) -> None:
    """The partial unique index holds even when the application check is skipped."""
    first = corpus.add_article(make_article("https://a.example/1"), source="feed")
    row = {
        "url": "https://b.example/2",
        "canonical_url": "https://b.example/2",
        "title": "t",
        "body": WIRE_BODY,
        "text": WIRE_BODY,
        "source": "feed",
        "fetched": datetime.now(UTC),
        "text_hash": dedup.text_hash(WIRE_BODY),
        "minhash": dedup.minhash_signature(WIRE_BODY),
    }
    with pytest.raises(sa.exc.IntegrityError), corpus.engine.begin() as conn:
        conn.execute(articles.insert().values(**row))
    with corpus.engine.begin() as conn:  # as a duplicate the same text is fine
        conn.execute(articles.insert().values(**row, duplicate_of=first.id))


def test_lost_race_on_the_text_resolves_to_a_duplicate(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers check "is there an original with this text?" at the same moment, both see
    none, both insert an original: the second insert fails and is retried as a duplicate."""
    first = corpus.add_article(make_article("https://a.example/1"), source="feed")
    real = IngestBatch._original_with_text
    calls: list[int | None] = []

    def stale_first_answer(self: IngestBatch, text_hash: str) -> int | None:
        answer = real(self, text_hash) if calls else None
        calls.append(answer)
        return answer

    monkeypatch.setattr(IngestBatch, "_original_with_text", stale_first_answer)
    monkeypatch.setattr(IngestBatch, "_nearest_original", lambda self, article, fp: None)
    second = corpus.add_article(make_article("https://b.example/2"), source="feed")
    assert calls == [None, first.id]
    assert second.is_new and second.duplicate_of == first.id
    assert corpus.article_count() == 2


def test_racing_workers_store_one_original(corpus: Corpus) -> None:
    barrier = threading.Barrier(6)

    def add(i: int) -> int | None:
        barrier.wait()
        return corpus.add_article(
            make_article(f"https://site{i}.example/a"), source="feed"
        ).duplicate_of

    with ThreadPoolExecutor(6) as pool:
        links = list(pool.map(add, range(6)))
    assert links.count(None) == 1
    originals = [a for a in corpus.iter_articles() if a.duplicate_of is None]
    assert len(originals) == 1
    assert {link for link in links if link is not None} == {originals[0].id}


def test_racing_workers_on_one_url_store_it_once(corpus: Corpus) -> None:
    barrier = threading.Barrier(4)

    def add(_: int) -> int:
        barrier.wait()
        return corpus.add_article(make_article("https://a.example/same"), source="feed").id

    with ThreadPoolExecutor(4) as pool:
        assert len(set(pool.map(add, range(4)))) == 1
    assert corpus.article_count() == 1


# --- records ---------------------------------------------------------------------------------


def test_datetimes_round_trip_timezone_aware(corpus: Corpus) -> None:
    published = datetime(2024, 5, 14, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=3)))
    stored = corpus.add_article(
        make_article("https://a.example/1", published=published), source="feed"
    )
    record = corpus.get_article(stored.id)
    assert record.published == published
    assert record.published is not None and record.published.utcoffset() == timedelta(0)
    assert record.fetched.tzinfo is not None and record.fetched.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - record.fetched) < timedelta(minutes=5)


def test_raw_html_is_compressed_and_recoverable(corpus: Corpus) -> None:
    html = ("<html><body>" + "<p>Talks in Moscow.</p>" * 500 + "</body></html>").encode()
    stored = corpus.add_article(
        make_article("https://a.example/final"),
        source="feed",
        feed_url="https://a.example/feed.xml",
        raw_html=html,
        fetched_url="https://a.example/listed",
    )
    with corpus.engine.connect() as conn:
        raw = conn.scalar(
            sa.select(pages.c.raw_html).where(pages.c.url == "https://a.example/listed")
        )
    assert raw is not None and len(raw) < len(html) / 10
    assert zlib.decompress(raw) == html
    page = corpus.get_page("https://a.example/listed")
    assert page is not None
    assert (page.raw_html, page.article_id, page.final_url) == (
        html,
        stored.id,
        "https://a.example/final",
    )
    assert page.feed_url == "https://a.example/feed.xml" and page.error is None
    assert [p.url for p in corpus.pages_of(stored.id)] == ["https://a.example/listed"]


def test_iter_articles_gives_export_fields(corpus: Corpus) -> None:
    ids = []
    for i, body in enumerate(
        [WIRE_BODY, OTHER_BODY, COPY_BODY, "Short note one.", "Short note two."]
    ):
        matches = [
            RelevanceMatch(WATCH, True, ("Moscow", "Taliban")),
            RelevanceMatch("energy", True, ("gas", "Moscow")),
            RelevanceMatch("sport", False, ()),
        ]
        ids.append(
            corpus.add_article(
                make_article(f"https://a.example/{i}", body), source="seed", matches=matches
            ).id
        )
    records = list(corpus.iter_articles(batch_size=2))
    assert [r.id for r in records] == ids
    first = records[0]
    assert first.watches == ("energy", WATCH)
    assert set(first.matched) == {"Moscow", "Taliban", "gas"} and len(first.matched) == 3
    assert (first.source, first.title, first.body, first.site) == (
        "seed",
        make_article("x").title,
        WIRE_BODY,
        "Example News",
    )
    assert records[2].duplicate_of == ids[0]
    assert records[2].story_id == records[0].story_id is not None
    with pytest.raises(KeyError):
        corpus.get_article(10_000)


# --- feeds and pages -------------------------------------------------------------------------


def test_feed_state_transitions(corpus: Corpus) -> None:
    feed = "https://example.org/feed.xml"
    assert corpus.feed_state(feed) is None
    corpus.record_poll(FeedPoll(feed, "ok", 200, etag='"v1"', last_modified="Mon, 13 May 2024"), 5)
    state = corpus.feed_state(feed)
    assert state is not None
    assert (state.last_status, state.etag, state.last_modified, state.entries_seen) == (
        "ok",
        '"v1"',
        "Mon, 13 May 2024",
        5,
    )
    assert state.last_ok_at is not None and state.last_polled_at is not None

    corpus.record_poll(FeedPoll(feed, "not_modified", 304), 0)
    state = corpus.feed_state(feed)
    assert state is not None
    assert (state.last_status, state.etag, state.last_modified, state.last_http_status) == (
        "not_modified",
        '"v1"',
        "Mon, 13 May 2024",
        304,
    )

    corpus.record_poll(FeedPoll(feed, "not_modified", 304, etag='"v2"'), 0)
    assert corpus.feed_state(feed).etag == '"v2"'  # type: ignore[union-attr]

    corpus.record_poll(FeedPoll(feed, "error", 503, error="HTTP 503 Service Unavailable"), 0)
    corpus.record_poll(FeedPoll(feed, "error", None, error="timed out after 20 s"), 0)
    state = corpus.feed_state(feed)
    assert state is not None
    assert (state.last_status, state.last_error, state.consecutive_failures, state.etag) == (
        "error",
        "timed out after 20 s",
        2,
        '"v2"',
    )
    assert state.last_http_status is None

    corpus.record_poll(FeedPoll(feed, "ok", 200), 2)
    state = corpus.feed_state(feed)
    assert state is not None
    assert (
        state.last_status,
        state.last_error,
        state.consecutive_failures,
        state.entries_seen,
    ) == ("ok", None, 0, 7)
    assert state.etag is None  # a full response without validators replaces the old ones
    corpus.record_poll(FeedPoll("https://other.example/rss", "error", error="DNS failure"), 0)
    states = corpus.feed_states()
    assert [s.url for s in states] == [feed, "https://other.example/rss"]
    assert (states[1].consecutive_failures, states[1].last_ok_at) == (1, None)
    with pytest.raises(ValueError):
        corpus.record_poll(FeedPoll(feed, "weird"), 0)


def test_unseen_urls(corpus: Corpus) -> None:
    corpus.add_article(make_article("https://example.org/stored"), source="feed")
    corpus.add_article(
        make_article("https://example.org/fetched-final", OTHER_BODY),
        source="feed",
        raw_html=b"<html></html>",
        fetched_url="https://example.org/listed",
    )
    for _ in range(3):
        corpus.record_page_failure(
            "https://example.org/dead", "https://example.org/feed", "HTTP 404"
        )
    corpus.record_page_failure("https://example.org/flaky", "https://example.org/feed", "timed out")
    urls = [
        "https://example.org/new",
        "https://example.org/stored",
        "https://www.example.org/stored?utm_source=rss",  # same canonical URL
        "https://example.org/listed",
        "https://example.org/dead",
        "https://example.org/flaky",
        "https://example.org/new",
    ]
    assert corpus.unseen_urls(urls) == ["https://example.org/new", "https://example.org/flaky"]
    flaky = corpus.get_page("https://example.org/flaky")
    assert flaky is not None and (flaky.attempts, flaky.error, flaky.article_id) == (
        1,
        "timed out",
        None,
    )
    dead = corpus.get_page("https://example.org/dead")
    assert dead is not None and dead.attempts == 3


# --- digests ---------------------------------------------------------------------------------


def _digest(corpus: Corpus, ids: list[int], message_id: str = "<d1@newsmon>", watch: str = WATCH):
    return corpus.create_digest(
        watch,
        message_id=message_id,
        subject="newsmon: 2 new articles",
        recipients=["analyst@example.org"],
        message=b"Message-ID: " + message_id.encode() + b"\r\n\r\nbody\xe2\x80\xa6\r\n",
        article_ids=ids,
    )


def test_undelivered_lists_relevant_originals_in_published_order(corpus: Corpus) -> None:
    day = datetime(2024, 5, 14, tzinfo=UTC)
    late = corpus.add_article(
        make_article("https://a.example/late", OTHER_BODY, published=day),
        source="feed",
        matches=relevant("Kabul"),
    )
    undated = corpus.add_article(
        make_article("https://a.example/undated", "Short text about Kabul."),
        source="feed",
        matches=relevant("Kabul"),
    )
    early = corpus.add_article(
        make_article("https://a.example/early", published=day - timedelta(days=1)),
        source="feed",
        matches=relevant("Moscow", "Taliban"),
    )
    corpus.add_article(
        make_article("https://b.example/copy", COPY_BODY, published=day),
        source="feed",
        matches=relevant("Moscow"),
    )
    corpus.add_article(
        make_article("https://a.example/irrelevant", "Nothing to see here at all."),
        source="feed",
        matches=[RelevanceMatch(WATCH, False, ())],
    )
    other = corpus.add_article(
        make_article("https://a.example/other-watch", "Gas prices rose again."),
        source="feed",
        matches=relevant("gas", watch="energy"),
    )
    records = corpus.undelivered(WATCH)
    assert [r.id for r in records] == [early.id, late.id, undated.id]
    assert records[0].matched == ("Moscow", "Taliban")
    assert [r.id for r in corpus.undelivered("energy")] == [other.id]


def test_digest_lifecycle_and_unique_items(corpus: Corpus) -> None:
    a = corpus.add_article(
        make_article("https://a.example/1"), source="feed", matches=relevant("Moscow")
    )
    b = corpus.add_article(
        make_article("https://a.example/2", OTHER_BODY), source="feed", matches=relevant("Kabul")
    )
    assert corpus.pending_digest(WATCH) is None

    digest = _digest(corpus, [b.id, a.id])
    assert (digest.status, digest.article_ids, digest.sent_at) == ("pending", (b.id, a.id), None)
    assert digest.created_at.utcoffset() == timedelta(0)
    assert corpus.undelivered(WATCH) == []

    # A crash before marking it sent: the same bytes and Message-ID come back.
    pending = corpus.pending_digest(WATCH)
    assert pending == digest
    assert (
        pending is not None
        and pending.message == b"Message-ID: <d1@newsmon>\r\n\r\nbody\xe2\x80\xa6\r\n"
    )
    assert pending.recipients == ("analyst@example.org",)

    # An article is never in two digests of one watch; nothing is recorded then.
    with pytest.raises(
        DigestConflictError, match=rf"article #{a.id} is already in digest #{digest.id}"
    ):
        _digest(corpus, [a.id], message_id="<d2@newsmon>")
    with pytest.raises(DigestConflictError, match="Message-ID"):
        _digest(corpus, [], message_id="<d1@newsmon>")
    assert len(corpus.digests()) == 1
    # Another watch may deliver the same article.
    _digest(corpus, [a.id], message_id="<other@newsmon>", watch="energy")

    corpus.mark_digest_sent(digest.id)
    corpus.mark_digest_sent(digest.id)  # idempotent
    assert corpus.pending_digest(WATCH) is None
    sent = corpus.digests(WATCH)
    assert [d.status for d in sent] == ["sent"] and sent[0].sent_at is not None
    assert [d.watch for d in corpus.digests()] == [WATCH, "energy"]
    with pytest.raises(KeyError):
        corpus.mark_digest_sent(999)


def test_digest_item_race_is_caught_by_the_database(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the application check skipped, the unique (watch, article) constraint still holds."""
    a = corpus.add_article(
        make_article("https://a.example/1"), source="feed", matches=relevant("Moscow")
    )
    _digest(corpus, [a.id])
    checks: list[int] = []
    real = Corpus._check_digest

    def skip_first(self: Corpus, *args: object) -> None:
        checks.append(1)
        if len(checks) > 1:
            real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Corpus, "_check_digest", skip_first)
    with pytest.raises(DigestConflictError, match=rf"article #{a.id} is already in digest"):
        _digest(corpus, [a.id], message_id="<d2@newsmon>")
    assert [d.message_id for d in corpus.digests()] == ["<d1@newsmon>"]


def test_record_digest_error_keeps_it_pending(corpus: Corpus) -> None:
    a = corpus.add_article(
        make_article("https://a.example/1"), source="feed", matches=relevant("Moscow")
    )
    digest = _digest(corpus, [a.id])
    corpus.record_digest_error(digest.id, "SMTP 451 try again later")
    pending = corpus.pending_digest(WATCH)
    assert pending is not None and pending.error == "SMTP 451 try again later"
    corpus.mark_digest_sent(digest.id)
    assert corpus.digests()[0].error is None


def test_bad_source_is_rejected(corpus: Corpus) -> None:
    with pytest.raises(ValueError, match="source"):
        corpus.add_article(replace(make_article("https://a.example/1")), source="web")


def test_nul_characters_are_dropped_on_every_backend(corpus: Corpus) -> None:
    stored = corpus.add_article(
        make_article("https://a.example/1", "Talks\x00 in Moscow."), source="feed"
    )
    assert corpus.get_article(stored.id).body == "Talks in Moscow."


def test_in_memory_sqlite_works() -> None:
    with open_corpus("sqlite://") as corpus:
        corpus.add_article(make_article("https://a.example/1"), source="feed")
        assert corpus.article_count() == 1


def test_migrations_to_covering_indexes_keep_the_data(database_url: str) -> None:
    """0007-0009 change indexes (and on SQLite the term_stats table): nothing stored is lost,
    and the lookups read the new indexes alone."""
    engine = engine_at(database_url, "0006")
    with engine.begin() as conn:
        conn.execute(term_stats.insert(), [{"term": "", "df": 2}, {"term": "kabul", "df": 2}])
    engine.dispose()
    with open_corpus(database_url) as corpus:
        with corpus.engine.connect() as conn:
            assert dict(conn.execute(sa.select(term_stats.c.term, term_stats.c.df)).all()) == {
                "": 2,
                "kabul": 2,
            }
            if conn.dialect.name == "sqlite":
                table = conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'term_stats'"
                ).scalar()
                assert table.endswith("WITHOUT ROWID")
                plan = conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT article_id FROM text_anchors WHERE anchor = 2"
                ).all()
                assert "USING PRIMARY KEY (anchor=?)" in str(plan)
        assert corpus.add_article(make_article("https://a.example/1"), source="feed").is_new


def test_migration_0011_keeps_the_story_index_within_retention(database_url: str) -> None:
    engine = engine_at(database_url, "0010")
    newest = datetime(2024, 6, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for story_id, last in ((1, newest - timedelta(days=31)), (2, newest - timedelta(days=29))):
            store_story(conn, story_id, last)
        conn.execute(story_terms.insert().values(term="moscow", story_id=2, last_published=newest))
    engine.dispose()
    with open_corpus(database_url) as corpus:
        with corpus.engine.connect() as conn:
            kept = conn.execute(sa.select(story_terms.c.story_id, story_terms.c.term)).all()
        assert sorted(kept) == [(2, "kabul"), (2, "moscow")]
        assert "ix_story_terms_last_published" in {
            index["name"] for index in sa.inspect(corpus.engine).get_indexes("story_terms")
        }
