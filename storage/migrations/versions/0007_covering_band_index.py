"""The LSH band index covers the bucket members: (band, key, article_id) instead of (band, key),
so that a lookup reads a bucket's members from the index alone (replaced by 0010).

At a million articles this builds an index of ~84M entries: several minutes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "ix_lsh_bands_band_key"
NEW = "ix_lsh_bands_band_key_article_id"


def upgrade() -> None:
    conn = op.get_bind()
    # (IF NOT EXISTS: migrations 0002 and 0005 once rebuilt the band index with storage.lsh, which
    # makes the new one.)
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {NEW} ON lsh_bands (band, key, article_id)")
    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {OLD}")


def downgrade() -> None:
    conn = op.get_bind()
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {OLD} ON lsh_bands (band, key)")
    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {NEW}")
