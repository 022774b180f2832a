"""Databases left at an older schema revision, for the migration tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from storage import dedup
from storage.database import MIGRATIONS, create_engine
from storage.schema import articles


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


def store_old_article(conn: sa.Connection, n: int, body: str, **values: Any) -> None:
    """Article #n (https://a.example/n) as an older newsmon stored it: the columns every revision
    has, the signature of the current scheme unless `minhash` says otherwise."""
    row = {
        "id": n,
        "url": f"https://a.example/{n}",
        "canonical_url": f"https://a.example/{n}",
        "title": "t",
        "body": body,
        "text": body,
        "source": "feed",
        "fetched": datetime.now(UTC),
        "text_hash": dedup.text_hash(body),
        "minhash": dedup.minhash_signature(body),
    }
    conn.execute(articles.insert().values(row | values))
