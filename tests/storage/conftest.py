"""The `corpus` fixture: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL (NEWSMON_TEST_POSTGRES_URL, default the local `test` database) gets a fresh schema
per test, dropped afterwards. When it is unreachable the tests fail, unless
NEWSMON_SKIP_POSTGRES=1 says to skip them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.repository import Corpus, open_corpus

POSTGRES_URL = os.environ.get(
    "NEWSMON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'newsmon.db'}"
        return
    if os.environ.get("NEWSMON_SKIP_POSTGRES") == "1":
        pytest.skip("NEWSMON_SKIP_POSTGRES=1")
    schema = f"newsmon_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is unreachable at {POSTGRES_URL} ({exc.orig}); "
            "start it or set NEWSMON_SKIP_POSTGRES=1",
            pytrace=False,
        )
    url = sa.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def corpus(database_url: str) -> Iterator[Corpus]:
    with open_corpus(database_url) as opened:
        yield opened
