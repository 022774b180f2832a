"""The LSH band index in the database (`lsh_bands`): an article's band keys, the candidates of
a new text, and the rebuild of the whole index when the fingerprint scheme changes.

The keys are `storage.dedup.band_keys` of an article's full-text and lead signatures. The
index lives in the database, not in memory: every worker shares it and nothing is lost on a
restart. Statements are driver SQL with positional parameters: SQLAlchemy's processing of 168
named parameters cost more than the query itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from operator import itemgetter

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage import dedup
from storage.schema import SIGNATURE_INDEX, articles, lsh_bands

# Members read per bucket (see bucket_members).
BUCKET_SAMPLE = 20
# The band index covers the members (migration 0007): a bucket's members are read from the
# index alone. Without article_id in it, each member was a random read of its table row (~1.3 ms
# of a lookup at 1M articles, SQLite).
INDEX_NAME = "ix_lsh_bands_band_key_article_id"
_OLD_INDEX_NAME = "ix_lsh_bands_band_key"  # (band, key): migrations 0001 to 0006
# A bulk load (the rebuild below, bench/scale.py's fill) drops the index and builds it once at
# its end: inserting keys into a live index costs several times more at a million articles.
DROP_INDEX = [f"DROP INDEX IF EXISTS {name}" for name in (_OLD_INDEX_NAME, INDEX_NAME)]
CREATE_INDEX = f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON lsh_bands (band, key, article_id)"
REBUILD_BATCH = 500

Pair = tuple[int, int]  # (band, key)


def add_keys(conn: Connection, rows: Sequence[tuple[int, int, int]]) -> None:
    """Index (article_id, band, key) rows, in one statement, in key order (neighbouring
    entries of the index are written together)."""
    if not rows:
        return
    ordered = sorted(rows, key=itemgetter(1, 2, 0))
    if conn.dialect.name == "postgresql":
        columns = list(zip(*ordered, strict=True))
        conn.exec_driver_sql(_POSTGRESQL_INSERT, tuple(list(c) for c in columns))
    else:
        conn.exec_driver_sql(_SQLITE_INSERT, ordered)


def bucket_members(conn: Connection, pairs: Sequence[Pair]) -> dict[Pair, list[int]]:
    """The articles in each (band, key) bucket, at most BUCKET_SAMPLE of each, the oldest
    first. A bucket of thousands (texts that share a common phrase, "one of the", whose hash
    is the minimum in both rows: 3,355 articles in one bucket at 1M synthetic articles) says
    nothing about any of them, and reading it all cost more than the rest of the lookup; a
    large duplicate group is found through any of its members."""
    pairs = list(dict.fromkeys(pairs))
    members: dict[Pair, list[int]] = {pair: [] for pair in pairs}
    if not pairs:
        return members
    if conn.dialect.name == "postgresql":
        bands, keys = [b for b, _ in pairs], [k for _, k in pairs]
        for i, article_id in conn.exec_driver_sql(_POSTGRESQL_QUERY, (bands, keys)):
            members[pairs[i]].append(article_id)
    else:
        for i, found in conn.exec_driver_sql(_SQLITE_QUERY, (json.dumps(pairs),)):
            if found:
                members[pairs[i]] = [int(a) for a in found.split(",")]
    for found in members.values():
        found.sort()
    return members


def signatures(conn: Connection, article_ids: Sequence[int]) -> dict[int, bytes]:
    """The stored MinHash signatures of these articles."""
    ids = sorted(set(article_ids))
    if conn.dialect.name == "sqlite":  # (the planner would take the row by its id)
        rows = conn.exec_driver_sql(_SQLITE_SIGNATURES, (json.dumps(ids),))
    else:
        rows = conn.exec_driver_sql(_POSTGRESQL_SIGNATURES, (ids,))
    return {i: bytes(m) for i, m in rows}


def rebuild(conn: Connection) -> int:
    """Recompute every article's signature and band keys with the current `dedup.fingerprint`
    (the migrations that change the fingerprint scheme call this), in the caller's
    transaction, the band index dropped meanwhile. Returns the number of articles done."""
    for drop in DROP_INDEX:
        conn.exec_driver_sql(drop)
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


# A correlated subquery per pair, its members as one text: 3x faster than a UNION ALL of a
# subquery per pair.
_SQLITE_QUERY = (
    "SELECT q.key, (SELECT group_concat(article_id) FROM (SELECT article_id FROM lsh_bands "
    "WHERE band = q.value ->> 0 AND key = q.value ->> 1 "
    f"ORDER BY article_id LIMIT {BUCKET_SAMPLE})) FROM json_each(?) AS q"
)
# One subquery over the pairs as arrays: planned once, whatever their number. (In both, the
# ORDER BY makes "the oldest BUCKET_SAMPLE" the rule, not the plan's; the covering index
# answers it in order, without a sort.)
_POSTGRESQL_QUERY = (
    "SELECT q.i - 1, m.article_id "
    "FROM unnest(CAST(%s AS smallint[]), CAST(%s AS bigint[])) WITH ORDINALITY AS q(band, key, i) "
    "CROSS JOIN LATERAL (SELECT article_id FROM lsh_bands "
    "WHERE lsh_bands.band = q.band AND lsh_bands.key = q.key ORDER BY article_id "
    f"LIMIT {BUCKET_SAMPLE}) AS m"
)
_SQLITE_SIGNATURES = (
    f"SELECT id, minhash FROM articles INDEXED BY {SIGNATURE_INDEX} "
    "WHERE id IN (SELECT value FROM json_each(?))"
)
_POSTGRESQL_SIGNATURES = "SELECT id, minhash FROM articles WHERE id = ANY(CAST(%s AS integer[]))"
_SQLITE_INSERT = "INSERT INTO lsh_bands (article_id, band, key) VALUES (?, ?, ?)"
# Arrays, not parameters per row: psycopg parses a statement of more than 50 parameters on every
# call.
_POSTGRESQL_INSERT = (
    "INSERT INTO lsh_bands (article_id, band, key) SELECT * FROM "
    "unnest(CAST(%s AS integer[]), CAST(%s AS smallint[]), CAST(%s AS bigint[]))"
)
