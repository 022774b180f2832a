"""The LSH band index in the database (`lsh_bands`): an article's band keys, the candidates of
a new text, and the rebuild of the whole index when the fingerprint scheme changes.

The keys are `storage.dedup.band_keys` of an article's full-text and lead signatures. The
index lives in the database, not in memory: every worker shares it and nothing is lost on a
restart. Statements are driver SQL with positional parameters: SQLAlchemy's processing of 168
named parameters cost more than the query itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage import dedup
from storage.schema import articles, lsh_bands

# Candidates: the MAX_BAND_CANDIDATES articles sharing the most bands with the new text.
MAX_BAND_CANDIDATES = 50
# Members read per bucket (see _sqlite_query).
BUCKET_SAMPLE = 20
INDEX_NAME = "ix_lsh_bands_band_key"  # migration 0001's
# A bulk load (the rebuild below, bench/scale.py's fill) drops the index and builds it once at
# its end: inserting keys into a live index costs several times more at a million articles.
DROP_INDEX = f"DROP INDEX IF EXISTS {INDEX_NAME}"
CREATE_INDEX = f"CREATE INDEX {INDEX_NAME} ON lsh_bands (band, key)"
REBUILD_BATCH = 500

Keys = Sequence[tuple[int, int]]


def add_keys(conn: Connection, article_id: int, keys: Keys) -> None:
    """Index one article's (band, key) pairs, in one statement (one round trip)."""
    if not keys:
        return
    if conn.dialect.name == "postgresql":
        bands, band_keys = [b for b, _ in keys], [k for _, k in keys]
        conn.exec_driver_sql(_POSTGRESQL_INSERT, (article_id, bands, band_keys))
    else:
        insert = _sqlite_insert(len(keys))
        conn.exec_driver_sql(insert, tuple(v for pair in keys for v in (article_id, *pair)))


def candidates(conn: Connection, keys: Keys) -> list[tuple[int, int, bytes]]:
    """Articles sharing a band with these keys, with the number of bands shared and their
    signature (read in the same query), most bands first (ties: the newest first): at most
    BUCKET_SAMPLE members of each bucket, at most MAX_BAND_CANDIDATES articles."""
    if not keys:
        return []
    if conn.dialect.name == "postgresql":
        bands, band_keys = [b for b, _ in keys], [k for _, k in keys]
        rows = conn.exec_driver_sql(_POSTGRESQL_QUERY, (bands, band_keys))
    else:
        query = _sqlite_query(len(keys))
        rows = conn.exec_driver_sql(query, tuple(v for pair in keys for v in pair))
    return [(article_id, hits, bytes(signature)) for article_id, hits, signature in rows]


def rebuild(conn: Connection) -> int:
    """Recompute every article's signature and band keys with the current `dedup.fingerprint`
    (the migrations that change the fingerprint scheme call this), in the caller's
    transaction, the band index dropped meanwhile. Returns the number of articles done."""
    conn.exec_driver_sql(DROP_INDEX)
    conn.exec_driver_sql("DELETE FROM lsh_bands")
    done = last_id = 0
    select = sa.select(articles.c.id, articles.c.body).order_by(articles.c.id).limit(REBUILD_BATCH)
    update = (
        articles.update()
        .where(articles.c.id == sa.bindparam("aid"))
        .values(minhash=sa.bindparam("signature"))
    )
    while rows := conn.execute(select.where(articles.c.id > last_id)).all():
        signatures, bands = [], []
        for article_id, body in rows:
            found = dedup.fingerprint(body)
            signatures.append({"aid": article_id, "signature": found.signature})
            bands += [{"article_id": article_id, "band": b, "key": k} for b, k in found.band_keys]
        conn.execute(update, signatures)
        if bands:
            conn.execute(lsh_bands.insert(), bands)
        done += len(rows)
        last_id = rows[-1].id
    conn.exec_driver_sql(CREATE_INDEX)
    return done


@lru_cache(maxsize=8)
def _sqlite_query(n: int) -> str:
    """The candidate query (SQLite) for n (band, key) pairs: the members of each bucket, at most
    BUCKET_SAMPLE of them. A bucket of thousands (texts that share a common phrase, "one of
    the", whose hash is the minimum in both rows: 3,355 articles in one bucket at 1M synthetic
    articles) says nothing about any of them, and reading it all cost more than the rest of
    the lookup; a large duplicate group is found through any of its members."""
    bucket = (
        "SELECT article_id FROM (SELECT article_id FROM lsh_bands "
        f"WHERE band = ? AND key = ? LIMIT {BUCKET_SAMPLE}) AS b{{}}"
    )
    members = " UNION ALL ".join(bucket.format(i) for i in range(n))
    return _with_signatures(
        f"SELECT article_id, count(*) AS hits FROM ({members}) AS m GROUP BY article_id "
        f"ORDER BY hits DESC, article_id DESC LIMIT {MAX_BAND_CANDIDATES}"
    )


def _with_signatures(query: str) -> str:
    return (
        f"SELECT c.article_id, c.hits, a.minhash FROM ({query}) AS c "
        "JOIN articles AS a ON a.id = c.article_id ORDER BY c.hits DESC, c.article_id DESC"
    )


# PostgreSQL plans each of _sqlite_query's 84 subqueries on every call (17 ms at 1M articles,
# twice the execution): one subquery over the pairs as arrays is planned once.
_POSTGRESQL_QUERY = _with_signatures(
    "SELECT m.article_id, count(*) AS hits "
    "FROM unnest(CAST(%s AS smallint[]), CAST(%s AS bigint[])) AS q(band, key) "
    "CROSS JOIN LATERAL (SELECT article_id FROM lsh_bands "
    f"WHERE lsh_bands.band = q.band AND lsh_bands.key = q.key LIMIT {BUCKET_SAMPLE}) AS m "
    f"GROUP BY m.article_id ORDER BY hits DESC, m.article_id DESC LIMIT {MAX_BAND_CANDIDATES}"
)


@lru_cache(maxsize=8)
def _sqlite_insert(n: int) -> str:
    """n band rows in one statement."""
    return f"INSERT INTO lsh_bands (article_id, band, key) VALUES {', '.join(['(?, ?, ?)'] * n)}"


# Arrays, not 252 parameters: psycopg parses a statement of more than 50 parameters on every call
# (3 ms for this one).
_POSTGRESQL_INSERT = (
    "INSERT INTO lsh_bands (article_id, band, key) "
    "SELECT %s, band, key FROM unnest(CAST(%s AS smallint[]), CAST(%s AS bigint[])) AS q(band, key)"
)
