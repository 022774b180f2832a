"""Anchors are sampled at 1/32 of the content's shingles instead of 1/16 (`storage.dedup`
ANCHOR_RATE; the lead's stay at 1/4): ~17 index entries per article instead of ~24, each a
random write at ingest and a bucket read at lookup. The index is rebuilt from the bodies with the
live fingerprint (the signatures are unchanged): the entries go into a plain table first, then
into the keyed one in key order (SQLite) or the key is built once they are in (PostgreSQL): one
sort instead of ~17M random inserts at 1M articles.

The downgrade keeps the index: a 1/32 sample is a part of the 1/16 one (a shingle whose hash is
0 modulo 32 is 0 modulo 16), so the older code finds the candidates of the articles indexed here
through the anchors they kept, only fewer of them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage import dedup

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 2_000
_COLUMNS = "anchor BIGINT NOT NULL, article_id INTEGER NOT NULL, anchor_count SMALLINT NOT NULL"
_KEYS = (
    "CONSTRAINT pk_text_anchors PRIMARY KEY (anchor, article_id), "
    "CONSTRAINT fk_text_anchors_article_id_articles FOREIGN KEY(article_id) "
    "REFERENCES articles (id)"
)
_POSTGRESQL_KEYS = (
    "ALTER TABLE text_anchors ADD CONSTRAINT pk_text_anchors PRIMARY KEY (anchor, article_id) "
    "INCLUDE (anchor_count), ADD CONSTRAINT fk_text_anchors_article_id_articles "
    "FOREIGN KEY(article_id) REFERENCES articles (id)"
)
_INSERT = "INSERT INTO {table} (anchor, article_id, anchor_count) VALUES (:a, :i, :n)"


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    staged = "text_anchors_staged" if sqlite else "text_anchors_new"
    conn.exec_driver_sql(f"CREATE TABLE {staged} ({_COLUMNS})")
    _index_every_article(conn, staged)
    if sqlite:
        conn.exec_driver_sql(f"CREATE TABLE text_anchors_new ({_COLUMNS}, {_KEYS}) WITHOUT ROWID")
        conn.exec_driver_sql(
            "INSERT INTO text_anchors_new (anchor, article_id, anchor_count) SELECT anchor, "
            f"article_id, anchor_count FROM {staged} ORDER BY anchor, article_id"
        )
        conn.exec_driver_sql(f"DROP TABLE {staged}")
    conn.exec_driver_sql("DROP TABLE text_anchors")
    conn.exec_driver_sql("ALTER TABLE text_anchors_new RENAME TO text_anchors")
    if not sqlite:
        conn.exec_driver_sql(_POSTGRESQL_KEYS)


def _index_every_article(conn: sa.Connection, table: str) -> None:
    """Every article's anchors (the live `dedup.fingerprint`'s: `dedup.index_anchors`) and their
    number, into `table`, _BATCH articles at a time."""
    insert = sa.text(_INSERT.format(table=table))
    last_id = 0
    while rows := conn.execute(
        sa.text("SELECT id, body FROM articles WHERE id > :last ORDER BY id LIMIT :n"),
        {"last": last_id, "n": _BATCH},
    ).all():
        entries = []
        for article_id, body in rows:
            anchors = dedup.index_anchors(body)
            entries += [{"a": a, "i": article_id, "n": len(anchors)} for a in anchors]
        if entries:
            conn.execute(insert, entries)
        last_id = rows[-1].id


def downgrade() -> None:
    pass  # (see the module docstring)
