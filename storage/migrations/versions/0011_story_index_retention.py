"""The story index keeps the stories an article can still join: an index on
`story_terms.last_published`, and the entries of stories whose last publication is more than
`storage.stories.INDEX_RETENTION` (30 days) before the newest entry's are deleted (later
batches delete them as they age, see storage/stories.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RETENTION = timedelta(days=30)  # storage.stories.INDEX_RETENTION when this was written
INDEX = "ix_story_terms_last_published"


def upgrade() -> None:
    op.create_index(INDEX, "story_terms", ["last_published"])
    conn = op.get_bind()
    newest = conn.scalar(sa.text("SELECT max(last_published) FROM story_terms"))
    if newest is None:
        return
    if isinstance(newest, str):  # SQLite: the text form SQLAlchemy stores (UTC, no offset)
        since: object = (datetime.fromisoformat(newest) - RETENTION).isoformat(
            sep=" ", timespec="microseconds"
        )
    else:
        since = newest - RETENTION
    conn.execute(sa.text("DELETE FROM story_terms WHERE last_published < :since"), {"since": since})


def downgrade() -> None:
    # The deleted entries are not rebuilt: those stories can no longer be joined.
    op.drop_index(INDEX, table_name="story_terms")
