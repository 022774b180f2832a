"""The initial corpus: feeds, pages, articles, LSH bands, watch matches, digests.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.Text()),
        sa.Column("last_status", sa.String(16)),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_http_status", sa.Integer()),
        sa.Column("last_polled_at", UTC_DATETIME),
        sa.Column("last_ok_at", UTC_DATETIME),
        sa.Column("entries_seen", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_feeds"),
        sa.UniqueConstraint("url", name="uq_feeds_url"),
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("author", sa.Text()),
        sa.Column("site", sa.Text()),
        sa.Column("published", UTC_DATETIME),
        sa.Column("fetched", UTC_DATETIME, nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("text_hash", sa.String(64)),
        sa.Column("minhash", sa.LargeBinary(), nullable=False),
        sa.Column("duplicate_of", sa.Integer()),
        sa.Column("duplicate_reason", sa.Text()),
        sa.Column("similarity", sa.Float()),
        sa.Column("story_id", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name="pk_articles"),
        sa.UniqueConstraint("canonical_url", name="uq_articles_canonical_url"),
        sa.ForeignKeyConstraint(
            ["duplicate_of"], ["articles.id"], name="fk_articles_duplicate_of_articles"
        ),
    )
    op.create_index("ix_articles_text_hash", "articles", ["text_hash"])
    op.create_index("ix_articles_duplicate_of", "articles", ["duplicate_of"])
    op.create_index("ix_articles_published", "articles", ["published"])
    op.create_index("ix_articles_story_id", "articles", ["story_id"])
    op.create_index(
        "uq_articles_text_hash_original",
        "articles",
        ["text_hash"],
        unique=True,
        sqlite_where=sa.text("duplicate_of IS NULL"),
        postgresql_where=sa.text("duplicate_of IS NULL"),
    )
    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("feed_url", sa.Text()),
        sa.Column("final_url", sa.Text()),
        sa.Column("http_status", sa.Integer()),
        sa.Column("fetched_at", UTC_DATETIME),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text()),
        sa.Column("raw_html", sa.LargeBinary()),
        sa.Column("article_id", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name="pk_pages"),
        sa.UniqueConstraint("url", name="uq_pages_url"),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name="fk_pages_article_id_articles"
        ),
    )
    op.create_index("ix_pages_article_id", "pages", ["article_id"])
    op.create_table(
        "lsh_bands",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("article_id", "band", name="pk_lsh_bands"),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name="fk_lsh_bands_article_id_articles"
        ),
    )
    op.create_index("ix_lsh_bands_band_key", "lsh_bands", ["band", "key"])
    op.create_table(
        "article_watches",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("watch", sa.String(200), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("article_id", "watch", name="pk_article_watches"),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name="fk_article_watches_article_id_articles"
        ),
    )
    op.create_index("ix_article_watches_watch", "article_watches", ["watch"])
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watch", sa.String(200), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("sent_at", UTC_DATETIME),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_digests"),
        sa.UniqueConstraint("message_id", name="uq_digests_message_id"),
    )
    op.create_index("ix_digests_watch_status", "digests", ["watch", "status"])
    op.create_table(
        "digest_items",
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("watch", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("digest_id", "article_id", name="pk_digest_items"),
        sa.UniqueConstraint("watch", "article_id", name="uq_digest_items_watch_article_id"),
        sa.ForeignKeyConstraint(
            ["digest_id"], ["digests.id"], name="fk_digest_items_digest_id_digests"
        ),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name="fk_digest_items_article_id_articles"
        ),
    )


def downgrade() -> None:
    op.drop_table("digest_items")
    op.drop_index("ix_digests_watch_status", table_name="digests")
    op.drop_table("digests")
    op.drop_index("ix_article_watches_watch", table_name="article_watches")
    op.drop_table("article_watches")
    op.drop_index("ix_lsh_bands_band_key", table_name="lsh_bands")
    op.drop_table("lsh_bands")
    op.drop_index("ix_pages_article_id", table_name="pages")
    op.drop_table("pages")
    for name in (
        "uq_articles_text_hash_original",
        "ix_articles_story_id",
        "ix_articles_published",
        "ix_articles_duplicate_of",
        "ix_articles_text_hash",
    ):
        op.drop_index(name, table_name="articles")
    op.drop_table("articles")
    op.drop_table("feeds")
