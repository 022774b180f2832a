"""Stories: the `stories` table, its term index `story_terms` and the document frequencies
`term_stats`; every stored article is put into a story.

Originals are clustered in publication order (undated ones last) with
`storage.stories.StoryIndex`, as if they arrived now; copies then join their original's
story.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from storage import stories
from storage.schema import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500

_articles = sa.table(
    "articles",
    sa.column("id", sa.Integer),
    sa.column("title", sa.Text),
    sa.column("body", sa.Text),
    sa.column("published", UtcDateTime),
    sa.column("fetched", UtcDateTime),
    sa.column("duplicate_of", sa.Integer),
    sa.column("story_id", sa.Integer),
)


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created", UtcDateTime(), nullable=False),
        sa.Column("first_published", UtcDateTime(), nullable=False),
        sa.Column("last_published", UtcDateTime(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("centroid", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
    )
    op.create_index("ix_stories_last_published", "stories", ["last_published"])
    op.create_table(
        "story_terms",
        sa.Column("term", sa.String(100), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.Column("last_published", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("term", "story_id", name="pk_story_terms"),
        sa.ForeignKeyConstraint(
            ["story_id"], ["stories.id"], name="fk_story_terms_story_id_stories"
        ),
    )
    op.create_index(
        "ix_story_terms_term_last_published", "story_terms", ["term", "last_published"]
    )
    op.create_index("ix_story_terms_story_id", "story_terms", ["story_id"])
    op.create_table(
        "term_stats",
        sa.Column("term", sa.String(100), nullable=False),
        sa.Column("df", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("term", name="pk_term_stats"),
    )
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    now = datetime.now(UTC)
    originals = _articles.c.duplicate_of.is_(None)
    order = (_articles.c.published.asc().nulls_last(), _articles.c.id)
    index = stories.StoryIndex(conn, stories.DocumentFrequencies(), now)
    offset = 0
    while True:  # originals, in publication order
        rows = conn.execute(
            sa.select(_articles).where(originals).order_by(*order).offset(offset).limit(BATCH)
        ).all()
        assigned = []
        for row in rows:
            article = index.vector(
                stories.story_terms_of(row.title, row.body), row.published or row.fetched
            )
            story_id = index.add(index.find(article), article)
            assigned.append({"aid": row.id, "sid": story_id})
        index.flush()
        _set_stories(conn, assigned)
        if len(rows) < BATCH:
            break
        offset += BATCH
    last_id = 0
    while True:  # copies join their original's story
        rows = conn.execute(
            sa.select(_articles.c.id, _articles.c.published, _original.c.story_id)
            .join(_original, _original.c.id == _articles.c.duplicate_of)
            .where(_articles.c.id > last_id)
            .order_by(_articles.c.id)
            .limit(BATCH)
        ).all()
        assigned = []
        for row in rows:
            if row.story_id is not None:
                index.join(row.story_id, row.published)
                assigned.append({"aid": row.id, "sid": row.story_id})
        index.flush()
        _set_stories(conn, assigned)
        if len(rows) < BATCH:
            return
        last_id = rows[-1].id


_original = _articles.alias("original")


def _set_stories(conn: sa.Connection, assigned: list[dict[str, int]]) -> None:
    if assigned:
        conn.execute(
            _articles.update()
            .where(_articles.c.id == sa.bindparam("aid"))
            .values(story_id=sa.bindparam("sid")),
            assigned,
        )


def downgrade() -> None:
    op.get_bind().execute(_articles.update().values(story_id=None))
    op.drop_table("term_stats")
    op.drop_index("ix_story_terms_story_id", table_name="story_terms")
    op.drop_index("ix_story_terms_term_last_published", table_name="story_terms")
    op.drop_table("story_terms")
    op.drop_index("ix_stories_last_published", table_name="stories")
    op.drop_table("stories")
