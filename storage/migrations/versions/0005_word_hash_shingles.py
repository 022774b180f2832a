"""Near-copy index, third scheme: shingle hashes from word hashes.

A shingle's hash is now a polynomial of the 64-bit hashes of its words (one BLAKE2 hash per
distinct word, cached) instead of a SHA-1 of the shingle's text, and a band key a polynomial of
its MinHash values instead of a BLAKE2 hash: the fingerprint of a 900-word text costs a third
of what it did. The signatures (`articles.minhash`) and band keys (`lsh_bands`) of every stored
article were recomputed (now by migration 0010); no table changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The former scheme's keys no longer match: dropped. (This revision once recomputed them
    # with the live storage code; migration 0010 now computes every signature and the anchor
    # index that replaced the bands, from the bodies.)
    op.get_bind().exec_driver_sql("DELETE FROM lsh_bands")


def downgrade() -> None:
    # The second scheme's keys cannot be rebuilt from here: leave its index empty (near copies
    # of articles stored before the downgrade are then not found; exact copies still are).
    op.get_bind().exec_driver_sql("DELETE FROM lsh_bands")
