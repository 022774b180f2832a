"""SQLite: `term_stats` becomes a WITHOUT ROWID table, its rows kept in the order of their
primary key (the term). A document frequency read or counted is then one B-tree search, not a
search of the primary-key index and another of the table (every ingest batch reads and upserts
thousands of terms). PostgreSQL: nothing.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CREATE = (
    "CREATE TABLE term_stats_new (term VARCHAR(100) NOT NULL, df INTEGER NOT NULL, "
    "CONSTRAINT pk_term_stats PRIMARY KEY (term)){}"
)


def upgrade() -> None:
    _recreate(" WITHOUT ROWID")


def downgrade() -> None:
    _recreate("")


def _recreate(options: str) -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql(_CREATE.format(options))
    conn.exec_driver_sql("INSERT INTO term_stats_new (term, df) SELECT term, df FROM term_stats")
    conn.exec_driver_sql("DROP TABLE term_stats")
    conn.exec_driver_sql("ALTER TABLE term_stats_new RENAME TO term_stats")
