"""Near-copy index, fourth scheme: anchors instead of MinHash LSH bands.

The candidates of a text are now the texts that share its anchors (`storage.dedup.anchors`:
its word 3-shingles sampled by their hash, densely in the lead) instead of one of its 84 LSH
band keys: ~18 index entries per article instead of 84, each a random write at ingest and a
probe at lookup. `lsh_bands` is dropped; `text_anchors` (anchor, article_id), its primary key
the index (SQLite: WITHOUT ROWID), is built for every stored article, and the signatures are
recomputed (`storage.anchor_index.rebuild`; the MinHash scheme itself is unchanged).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from storage import anchor_index

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
    anchor_index.rebuild(conn)


def downgrade() -> None:
    # The band keys cannot be rebuilt from here: the band index is left empty (near copies of
    # articles stored before the downgrade are then not found; exact copies still are).
    conn = op.get_bind()
    conn.exec_driver_sql("DROP TABLE text_anchors")
    conn.exec_driver_sql(_CREATE_BANDS)
    conn.exec_driver_sql(
        "CREATE INDEX ix_lsh_bands_band_key_article_id ON lsh_bands (band, key, article_id)"
    )
