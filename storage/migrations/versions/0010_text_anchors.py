"""Near-copy index, fourth scheme: anchors instead of MinHash LSH bands.

The candidates of a text are now the texts that share its anchors (`storage.dedup.anchors`:
its word 3-shingles sampled by their hash, densely in the lead) instead of one of its 84 LSH
band keys: ~18 index entries per article instead of 84, each a random write at ingest and a
probe at lookup. `lsh_bands` is dropped; `text_anchors` (anchor, article_id), its primary key
the index (SQLite: WITHOUT ROWID), is built for every stored article, and the signatures are
recomputed (the MinHash scheme itself is unchanged). The rebuild is written here, not called
from `storage.anchor_index`: its rows must be the table's of this revision (0012 adds a column).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage import dedup

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CREATE_ANCHORS = (
    "CREATE TABLE text_anchors (anchor BIGINT NOT NULL, article_id INTEGER NOT NULL, "
    "CONSTRAINT pk_text_anchors PRIMARY KEY (anchor, article_id), "
    "CONSTRAINT fk_text_anchors_article_id_articles FOREIGN KEY(article_id) "
    "REFERENCES articles (id)){}"
)
_CREATE_BANDS = (
    "CREATE TABLE lsh_bands (article_id INTEGER NOT NULL, band SMALLINT NOT NULL, "
    "key BIGINT NOT NULL, CONSTRAINT pk_lsh_bands PRIMARY KEY (article_id, band), "
    "CONSTRAINT fk_lsh_bands_article_id_articles FOREIGN KEY(article_id) "
    "REFERENCES articles (id))"
)


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    conn.exec_driver_sql(_CREATE_ANCHORS.format(" WITHOUT ROWID" if sqlite else ""))
    conn.exec_driver_sql("DROP TABLE lsh_bands")
    _rebuild(conn)


def _rebuild(conn: sa.Connection) -> None:
    """Every article's signature and anchors, with the fingerprint of the live code (a later
    scheme change brings its own rebuild), 500 articles at a time."""
    last_id = 0
    while rows := conn.execute(
        sa.text("SELECT id, body FROM articles WHERE id > :last ORDER BY id LIMIT 500"),
        {"last": last_id},
    ).all():
        found = [(article_id, dedup.fingerprint(body)) for article_id, body in rows]
        conn.execute(
            sa.text("UPDATE articles SET minhash = :signature WHERE id = :id"),
            [{"id": i, "signature": f.signature} for i, f in found],
        )
        anchors = sorted((a, i) for i, f in found for a in f.anchors)
        if anchors:
            conn.execute(
                sa.text("INSERT INTO text_anchors (anchor, article_id) VALUES (:anchor, :id)"),
                [{"anchor": a, "id": i} for a, i in anchors],
            )
        last_id = rows[-1].id


def downgrade() -> None:
    # The band keys cannot be rebuilt from here: the band index is left empty (near copies of
    # articles stored before the downgrade are then not found; exact copies still are).
    conn = op.get_bind()
    conn.exec_driver_sql("DROP TABLE text_anchors")
    conn.exec_driver_sql(_CREATE_BANDS)
    conn.exec_driver_sql(
        "CREATE INDEX ix_lsh_bands_band_key_article_id ON lsh_bands (band, key, article_id)"
    )
