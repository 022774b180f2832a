"""Engines and migrations: SQLite (embedded default, WAL) or PostgreSQL (psycopg 3).

`connect(url)` returns an engine whose schema is at the newest Alembic revision. The upgrade
is serialised between processes (PostgreSQL: a transaction-scoped advisory lock; SQLite:
BEGIN IMMEDIATE), so any number of workers may open the same database at once.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any constant will do: every newsmon process on one PostgreSQL database uses the same one.
MIGRATION_LOCK_KEY = 0x6E6577736D6F6E  # "newsmon"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_CACHE_KIB = 65_536  # page cache per connection (SQLite's default: 2 MB)
SQLITE_CHECKPOINT_PAGES = 20_000  # WAL pages (4 KiB) before a checkpoint (default: 1,000)
POSTGRES_CONNECT_TIMEOUT_S = 10
# Execution option naming the BEGIN a SQLite transaction starts with (see _sqlite_events).
SQLITE_BEGIN = "newsmon_sqlite_begin"

T = TypeVar("T")
# JSON columns are parsed with orjson: an ingest batch or a lookup reads dozens of story
# centroids (100 terms each), and json.loads was most of the time of reading them.
JSON_DESERIALIZER = orjson.loads


def json_text(value: Any) -> str:
    """JSON text of a value (orjson: 5-10x faster than json.dumps), for JSON columns and for the
    JSON list parameters of SQLite statements (json_each)."""
    return orjson.dumps(value).decode()


_JSON = {"json_deserializer": JSON_DESERIALIZER, "json_serializer": json_text}


class DatabaseError(Exception):
    """The database cannot be used: unreachable, unwritable, not a database. One-line reason."""


def safe_url(url: str | URL) -> str:
    """The URL as text without its password, for messages and logs."""
    parsed = sa.make_url(url) if isinstance(url, str) else url
    return parsed._replace(password=None).render_as_string(hide_password=False)


def create_engine(url: str) -> Engine:
    """An engine for `url` (not yet connected, schema not checked)."""
    parsed = _normalise_url(sa.make_url(url))
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
    return sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **_JSON)


def connect(url: str) -> Engine:
    """An engine for `url` whose schema is migrated to the newest revision.

    Raises DatabaseError when the database cannot be reached or opened.
    """
    try:
        engine = create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:
        raise DatabaseError(f"bad database URL {safe_url_or_text(url)}: {exc}") from None
    except OSError as exc:
        raise DatabaseError(f"cannot open {safe_url_or_text(url)}: {exc.strerror or exc}") from None
    try:
        upgrade_database(engine)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = describe_error(exc)
        raise DatabaseError(f"cannot connect to {safe_url(engine.url)}: {reason}") from None
    except BaseException:
        engine.dispose()
        raise
    return engine


def upgrade_database(engine: Engine) -> None:
    """Alembic `upgrade head`, once, however many processes try at the same moment."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if engine.dialect.name == "sqlite":
        # BEGIN IMMEDIATE takes SQLite's write lock: a second process waits (busy_timeout),
        # then finds the schema at head. SQLite DDL is transactional.
        with engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}).begin() as conn:
            _run_upgrade(config, conn)
    elif engine.dialect.name == "postgresql":
        # PostgreSQL DDL is transactional too; the advisory lock is released at commit.
        with engine.begin() as conn:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
            _run_upgrade(config, conn)
    else:
        with engine.begin() as conn:
            _run_upgrade(config, conn)


def _run_upgrade(config: Config, conn: Connection) -> None:
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def upsert(conn: Connection, table: sa.Table) -> Any:
    """INSERT with ON CONFLICT support (`on_conflict_do_*`) for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database {conn.dialect.name}")


def chunks(values: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """The values in slices of at most `size` (an IN (...) list each)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def advance_sequence(conn: Connection, table: sa.Table) -> None:
    """After rows were written with ids given by the writer (ingest gives them, serialised):
    PostgreSQL's id sequence moves past them, so that an insert without an id cannot take one.
    (SQLite takes the largest id plus one by itself.)"""
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"(SELECT max(id) FROM {table.name}))"
            )
        )


def describe_error(exc: sa.exc.DBAPIError) -> str:
    """The driver's reason in one short line, e.g. "connection refused"."""
    text = str(exc.orig) if exc.orig is not None else str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else type(exc.orig or exc).__name__
    # psycopg: 'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection
    # refused' – the host and port are in the URL already; keep what went wrong.
    if " failed: " in line:
        line = line.rsplit(" failed: ", 1)[1]
    line = line.removeprefix("connection failed: ").strip()
    if line[1:2].islower():  # "Connection refused" → "connection refused", "SSL …" unchanged
        line = line[0].lower() + line[1:]
    return line


def safe_url_or_text(url: str) -> str:
    try:
        return safe_url(url)
    except Exception:
        return "(unparsable URL)"


def _normalise_url(url: URL) -> URL:
    # Plain postgresql:// would pick psycopg2, which newsmon does not ship.
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if not memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = dict(_JSON)
    if memory:
        # One shared connection, or every checkout would see its own empty database.
        kwargs["poolclass"] = sa.StaticPool
        kwargs["connect_args"] = {"check_same_thread": False}
    engine = sa.create_engine(url, **kwargs)
    _sqlite_events(engine, wal=not memory)
    return engine


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Switch a new database file to WAL (the mode is stored in the file: once is enough).

    The switch needs an exclusive lock and SQLite does not always call the busy handler for it,
    so processes opening a fresh database together can get "database is locked": retry briefly.
    """
    for attempt in range(50):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)


def _sqlite_events(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # SQLAlchemy emits BEGIN itself (below), so that DDL is transactional and a writer can
        # take the write lock up front instead of failing to upgrade a read lock under load.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                _enable_wal(cursor)
                cursor.execute("PRAGMA synchronous = NORMAL")
                # A batch of 100 articles dirties thousands of index pages (~17 anchors each at
                # random places): with the default 2 MB cache SQLite writes them out in the
                # middle of the batch, and checkpoints (each an fsync) after every commit.
                # Measured at 100k articles: 49 -> 73 articles/s.
                cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
                cursor.execute(f"PRAGMA wal_autocheckpoint = {SQLITE_CHECKPOINT_PAGES}")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
