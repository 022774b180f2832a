"""Sites: `site_pages` (recent extraction outcomes and block keys per site) and
`site_templates` (the blocks learnt as each site's template).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.schema import UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("seen_at", UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("block_keys", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_site_pages"),
    )
    op.create_index("ix_site_pages_site_id", "site_pages", ["site", "id"])
    op.create_table(
        "site_templates",
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("block_key", sa.String(16), nullable=False),
        sa.Column("sample", sa.Text(), nullable=False),
        sa.Column("learnt_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("site", "block_key", name="pk_site_templates"),
    )


def downgrade() -> None:
    op.drop_table("site_templates")
    op.drop_index("ix_site_pages_site_id", table_name="site_pages")
    op.drop_table("site_pages")
