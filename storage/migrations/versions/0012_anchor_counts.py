"""Each entry of the near-copy index holds its article's number of anchors (`anchor_count`):
a candidate that shares a small share of the anchors of the text with fewer is dropped without
reading its signature (`storage.dedup.worth_verifying`), and a bucket's members come with
their counts from the index alone (PostgreSQL: an INCLUDE column of the primary key).

The table is rebuilt in index order with the counts of its own rows (no text is read again):
an UPDATE of every entry would rewrite each at a random place (22M entries at 1M articles).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CREATE = (
    "CREATE TABLE {table} (anchor BIGINT NOT NULL, article_id INTEGER NOT NULL{count}{keys})"
    "{options}"
)
_KEYS = (
    ", CONSTRAINT pk_text_anchors PRIMARY KEY (anchor, article_id), "
    "CONSTRAINT fk_text_anchors_article_id_articles FOREIGN KEY(article_id) "
    "REFERENCES articles (id)"
)
_COUNT = ", anchor_count SMALLINT NOT NULL"
_COUNTED = (
    "INSERT INTO {table} (anchor, article_id, anchor_count) "
    "SELECT t.anchor, t.article_id, c.n FROM text_anchors AS t "
    "JOIN (SELECT article_id, count(*) AS n FROM text_anchors GROUP BY article_id) AS c "
    "ON c.article_id = t.article_id ORDER BY t.anchor, t.article_id"
)
_POSTGRESQL_KEYS = (
    "ALTER TABLE text_anchors ADD CONSTRAINT pk_text_anchors PRIMARY KEY (anchor, article_id)"
    "{include}, ADD CONSTRAINT fk_text_anchors_article_id_articles FOREIGN KEY(article_id) "
    "REFERENCES articles (id)"
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            _CREATE.format(
                table="text_anchors_new", count=_COUNT, keys=_KEYS, options=" WITHOUT ROWID"
            )
        )
        conn.exec_driver_sql(_COUNTED.format(table="text_anchors_new"))
        _replace(conn)
        return
    # PostgreSQL: the keys are built once the rows are in (one sort instead of random inserts).
    conn.exec_driver_sql(
        _CREATE.format(table="text_anchors_new", count=_COUNT, keys="", options="")
    )
    conn.exec_driver_sql(_COUNTED.format(table="text_anchors_new"))
    _replace(conn)
    conn.exec_driver_sql(_POSTGRESQL_KEYS.format(include=" INCLUDE (anchor_count)"))


def downgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    conn.exec_driver_sql(
        _CREATE.format(
            table="text_anchors_new",
            count="",
            keys=_KEYS if sqlite else "",
            options=" WITHOUT ROWID" if sqlite else "",
        )
    )
    conn.exec_driver_sql(
        "INSERT INTO text_anchors_new (anchor, article_id) SELECT anchor, article_id "
        "FROM text_anchors ORDER BY anchor, article_id"
    )
    _replace(conn)
    if not sqlite:
        conn.exec_driver_sql(_POSTGRESQL_KEYS.format(include=""))


def _replace(conn: sa.Connection) -> None:
    conn.exec_driver_sql("DROP TABLE text_anchors")
    conn.exec_driver_sql("ALTER TABLE text_anchors_new RENAME TO text_anchors")
