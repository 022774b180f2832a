"""The corpus schema: SQLAlchemy Core tables, the same on SQLite and PostgreSQL.

The migrations in storage/migrations/versions/ create exactly these tables (a test compares
them); change both together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on every backend.

    SQLite keeps no offset: values are stored as UTC and come back with tzinfo=UTC.
    A naive datetime given to the database is taken to be UTC already.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


feeds = sa.Table(
    "feeds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.Text, nullable=False, unique=True),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("last_status", sa.String(16)),  # ok | not_modified | error
    sa.Column("last_error", sa.Text),
    sa.Column("last_http_status", sa.Integer),
    sa.Column("last_polled_at", UtcDateTime),
    sa.Column("last_ok_at", UtcDateTime),
    sa.Column("entries_seen", sa.Integer, nullable=False, server_default="0"),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
)

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("canonical_url", sa.Text, nullable=False, unique=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("author", sa.Text),
    sa.Column("site", sa.Text),
    sa.Column("published", UtcDateTime),
    sa.Column("fetched", UtcDateTime, nullable=False),  # when it was stored
    sa.Column("language", sa.String(16)),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # seed | feed | ingest
    sa.Column("text_hash", sa.String(64)),  # NULL for a text without words
    sa.Column("minhash", sa.LargeBinary, nullable=False),
    sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("articles.id")),
    sa.Column("duplicate_reason", sa.Text),
    sa.Column("similarity", sa.Float),
    sa.Column("story_id", sa.Integer),  # its story (stories.id); a copy has its original's
    sa.Index(None, "duplicate_of"),
    sa.Index(None, "published"),
    sa.Index(None, "story_id"),
    # One original per text: a second article with the same text can only be a duplicate,
    # whatever races between workers.
    sa.Index(
        "uq_articles_text_hash_original",
        "text_hash",
        unique=True,
        sqlite_where=sa.text("duplicate_of IS NULL"),
        postgresql_where=sa.text("duplicate_of IS NULL"),
    ),
)
# SQLite only: the signatures of near-copy candidates are read from this index. In the table the
# signature comes after the texts, in the row's overflow pages, and reading it walked them
# (~15 us a candidate at 1M articles). PostgreSQL keeps long texts apart (TOAST): no need.
SIGNATURE_INDEX = "ix_articles_id_minhash"
sa.Index(SIGNATURE_INDEX, articles.c.id, articles.c.minhash).ddl_if(dialect="sqlite")

pages = sa.Table(
    "pages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.Text, nullable=False, unique=True),  # as listed by the feed
    sa.Column("feed_url", sa.Text),
    sa.Column("final_url", sa.Text),  # after redirects
    sa.Column("http_status", sa.Integer),
    sa.Column("fetched_at", UtcDateTime),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),  # the last failure's reason; NULL once stored
    sa.Column("raw_html", sa.LargeBinary),  # zlib-compressed page bytes
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id")),
    sa.Index(None, "article_id"),
)

# The near-copy candidate index: one row per anchor of every near-copy candidate (copies
# included), see storage/anchor_index.py. The primary key is the index; on SQLite the table is
# that index alone.
text_anchors = sa.Table(
    "text_anchors",
    metadata,
    sa.Column("anchor", sa.BigInteger, nullable=False),
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False),
    # The article's number of anchors, in every entry: read with a bucket, from the index alone.
    sa.Column("anchor_count", sa.SmallInteger, nullable=False),
    sa.PrimaryKeyConstraint("anchor", "article_id", postgresql_include=["anchor_count"]),
    sqlite_with_rowid=False,
)

# Stories (dedup level 4): clusters of original articles about one event, see storage/stories.py.
stories = sa.Table(
    "stories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created", UtcDateTime, nullable=False),
    sa.Column("first_published", UtcDateTime, nullable=False),
    sa.Column("last_published", UtcDateTime, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),  # articles, copies included
    # The centroid: its heaviest terms and their weights, {term: weight}.
    sa.Column("centroid", sa.JSON, nullable=False),
    sa.Index(None, "last_published"),
)

# Candidate lookup: each story's heaviest terms (a bounded number), with the story's last
# publication time so that a lookup only reads the stories of the time window. Keyed by story
# (SQLite: WITHOUT ROWID, the rows in key order): a story's entries are written, moved and
# dropped together, on a page or two, where a key by term put each at a random place.
story_terms = sa.Table(
    "story_terms",
    metadata,
    sa.Column("story_id", sa.Integer, sa.ForeignKey("stories.id"), primary_key=True),
    sa.Column("term", sa.String(100), primary_key=True),
    sa.Column("last_published", UtcDateTime, nullable=False),
    sa.Index(None, "term", "last_published", "story_id"),  # covering: the candidate search
    sa.Index(None, "last_published"),  # the entries past retention (storage/stories.py)
    sqlite_with_rowid=False,
)

# Document frequencies of the terms of original articles, for IDF; the row of the empty
# term counts the documents.
term_stats = sa.Table(
    "term_stats",
    metadata,
    sa.Column("term", sa.String(100), primary_key=True),
    sa.Column("df", sa.Integer, nullable=False),
    sqlite_with_rowid=False,  # one B-tree search per term read or counted (migration 0009)
)

article_watches = sa.Table(
    "article_watches",
    metadata,
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), primary_key=True),
    sa.Column("watch", sa.String(200), primary_key=True),
    sa.Column("terms", sa.JSON, nullable=False),  # the query terms found, a list of strings
    sa.Index(None, "watch"),
)

digests = sa.Table(
    "digests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("watch", sa.String(200), nullable=False),
    sa.Column("message_id", sa.Text, nullable=False, unique=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending | sent | failed
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime),
    sa.Column("recipients", sa.JSON, nullable=False),
    sa.Column("message", sa.LargeBinary, nullable=False),  # the RFC 5322 bytes as sent
    sa.Column("error", sa.Text),  # the last delivery failure
    sa.Index(None, "watch", "status"),
)

digest_items = sa.Table(
    "digest_items",
    metadata,
    sa.Column("digest_id", sa.Integer, sa.ForeignKey("digests.id"), primary_key=True),
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), primary_key=True),
    sa.Column("watch", sa.String(200), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # order of the items in the digest
    # An article is delivered at most once per watch.
    sa.UniqueConstraint("watch", "article_id"),
)

# Every page an extraction was tried on, per site: its outcome (ok | short | failed) and the keys
# of its template-sized blocks. The recent rows of a site give its extraction health and its
# template (extractors/site_templates.py); older rows are pruned.
site_pages = sa.Table(
    "site_pages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(255), nullable=False),
    sa.Column("seen_at", UtcDateTime, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text),  # why extraction failed
    sa.Column("block_keys", sa.JSON, nullable=False),
    sa.Index(None, "site", "id"),
)

# The learnt template of each site: the blocks removed from its bodies (one sample text each,
# so a person can see what is being removed).
site_templates = sa.Table(
    "site_templates",
    metadata,
    sa.Column("site", sa.String(255), primary_key=True),
    sa.Column("block_key", sa.String(16), primary_key=True),
    sa.Column("sample", sa.Text, nullable=False),
    sa.Column("learnt_at", UtcDateTime, nullable=False),
)
