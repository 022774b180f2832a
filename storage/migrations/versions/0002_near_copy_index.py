"""Near-copy index, second scheme: content 3-shingles, full-text and lead band keys.

The MinHash signatures (`articles.minhash`) and the LSH band keys (`lsh_bands`) were recomputed
for every stored article (now by migration 0010): signatures now cover the body's
content (edge boilerplate and wire dateline removed) in word 3-shingles, and each article has
band keys for its whole content (bands 0..41) and for its lead (bands 42..83). Copies are
indexed as well as originals. No table changes: band numbers fit the SMALLINT column and the
(band, key) index serves both kinds of keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def upgrade() -> None:
    # The former scheme's keys no longer match: dropped. (This revision once recomputed them
    # with the live storage code; migration 0010 now computes every signature and the anchor
    # index that replaced the bands, from the bodies.)
    op.get_bind().exec_driver_sql("DELETE FROM lsh_bands")


def downgrade() -> None:
    # The first scheme's keys cannot be rebuilt from here: leave its index empty (near copies
    # of articles stored before the downgrade are then not found; exact copies still are).
    op.get_bind().exec_driver_sql("DELETE FROM lsh_bands")
