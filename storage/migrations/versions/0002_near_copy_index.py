"""Near-copy index, second scheme: content 3-shingles, full-text and lead band keys.

The MinHash signatures (`articles.minhash`) and the LSH band keys (`lsh_bands`) are recomputed
for every stored article with `storage.dedup.fingerprint`: signatures now cover the body's
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

import sqlalchemy as sa
from alembic import op

from storage import dedup

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500

_articles = sa.table(
    "articles",
    sa.column("id", sa.Integer),
    sa.column("body", sa.Text),
    sa.column("minhash", sa.LargeBinary),
)
_lsh_bands = sa.table(
    "lsh_bands",
    sa.column("article_id", sa.Integer),
    sa.column("band", sa.SmallInteger),
    sa.column("key", sa.BigInteger),
)


def upgrade() -> None:
    conn = op.get_bind()
    conn.execute(_lsh_bands.delete())
    last_id = 0
    while True:
        rows = conn.execute(
            sa.select(_articles.c.id, _articles.c.body)
            .where(_articles.c.id > last_id)
            .order_by(_articles.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        bands = []
        for article_id, body in rows:
            found = dedup.fingerprint(body)
            conn.execute(
                _articles.update()
                .where(_articles.c.id == article_id)
                .values(minhash=found.signature)
            )
            bands += [{"article_id": article_id, "band": b, "key": k} for b, k in found.band_keys]
        if bands:
            conn.execute(_lsh_bands.insert(), bands)
        last_id = rows[-1].id


def downgrade() -> None:
    # The first scheme's keys cannot be rebuilt from here: leave its index empty (near copies
    # of articles stored before the downgrade are then not found; exact copies still are).
    op.get_bind().execute(_lsh_bands.delete())
