"""Databases left at an older schema revision, for the migration tests."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from storage.database import MIGRATIONS, create_engine


def engine_at(database_url: str, revision: str) -> sa.Engine:
    """An engine on the database migrated to `revision`, not further: what an older newsmon
    left (a migration test stores rows there, then opens the corpus, which migrates on)."""
    engine = create_engine(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return engine
