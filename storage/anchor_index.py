"""The near-copy candidate index in the database (`text_anchors`): an article's anchors and the
candidates of a new text (a change of the fingerprint scheme brings a migration that rebuilds
it: 0014).

The anchors are `storage.dedup.anchors` of an article's content. The index lives in the
database, not in memory: every worker shares it and nothing is lost on a restart. It is one
B-tree keyed by (anchor, article_id) (SQLite: a WITHOUT ROWID table; PostgreSQL: the primary
key), each entry holding its article's number of anchors: a lookup reads a bucket's members,
and how many anchors each has (`dedup.worth_verifying` needs it), from the index alone, and an
article's ~17 anchors are ~17 entries to write, each at a random place of the tree (at a
million articles, what ingest spends most on). Statements are driver SQL with positional
parameters or arrays: SQLAlchemy's processing of many named parameters cost more than the
query itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from sqlalchemy.engine import Connection

from storage.database import json_text
from storage.schema import SIGNATURE_INDEX

# Members read per bucket (see bucket_members).
BUCKET_SAMPLE = 20


def add_anchors(conn: Connection, rows: Sequence[tuple[int, int, int]]) -> None:
    """Index (anchor, article_id, the article's number of anchors) rows, in one statement, in
    index order (neighbouring entries of the index are written together)."""
    if not rows:
        return
    ordered = sorted(rows)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_POSTGRESQL_INSERT, (json_text(ordered),))
    else:
        conn.exec_driver_sql(_SQLITE_INSERT, ordered)


def bucket_members(conn: Connection, anchors: Sequence[int]) -> dict[int, list[tuple[int, int]]]:
    """The articles holding each anchor, as (article_id, its number of anchors), the newest
    BUCKET_SAMPLE of each, newest first. A bucket of thousands (a phrase every article of a
    topic uses) says little about any of them, and reading it all would cost more than the rest
    of the lookup. The newest, because a copy most often follows its original by hours or days:
    at 1M synthetic articles every anchor of some copies was in a bucket of 24 to 90,000
    articles, their original among the newest of each, and the oldest BUCKET_SAMPLE missed 5
    copies in 100. A copy of an old article meets it in the buckets that are not full (names,
    rare phrases); a large duplicate group is found through any of its members."""
    anchors = list(dict.fromkeys(anchors))
    members: dict[int, list[tuple[int, int]]] = {anchor: [] for anchor in anchors}
    if not anchors:
        return members
    if conn.dialect.name == "postgresql":
        rows = conn.exec_driver_sql(_POSTGRESQL_QUERY, (json_text(anchors),)).all()
        for anchor, ids, counts in rows:
            if ids:
                members[anchor] = list(zip(ids, counts, strict=True))
    else:
        for anchor, found in conn.exec_driver_sql(_SQLITE_QUERY, (json_text(anchors),)).all():
            if found:  # "id,count,id,count": a JSON list once bracketed
                values = orjson.loads(f"[{found}]")
                members[anchor] = list(zip(values[::2], values[1::2], strict=True))
    for found in members.values():
        found.sort(reverse=True)
    return members


def signatures(conn: Connection, article_ids: Sequence[int]) -> dict[int, bytes]:
    """The stored MinHash signatures of these articles."""
    ids = sorted(set(article_ids))
    if conn.dialect.name == "sqlite":  # (the planner would take the row by its id)
        rows = conn.exec_driver_sql(_SQLITE_SIGNATURES, (json_text(ids),)).all()
    else:
        rows = conn.exec_driver_sql(_POSTGRESQL_SIGNATURES, (ids,)).all()
    return {i: bytes(m) for i, m in rows}


# A correlated subquery per anchor, its members as one text ("id,anchors,id,anchors"): 3x
# faster than a UNION ALL of a subquery per anchor, and parsed as JSON (orjson) 1.5x faster than
# with str.split (SQLite's own JSON functions were slower than either).
_SQLITE_QUERY = (
    "SELECT q.value, (SELECT group_concat(article_id || ',' || anchor_count) FROM "
    "(SELECT article_id, anchor_count FROM text_anchors WHERE anchor = q.value "
    f"ORDER BY article_id DESC LIMIT {BUCKET_SAMPLE})) FROM json_each(?) AS q"
)
# One statement over the anchors as a JSON list (planned once, whatever their number), a row
# per anchor with its members and their numbers of anchors as two arrays (aggregated from the
# same rows: in step): a row per member cost SQLAlchemy more than the query. (In both, the ORDER
# BY makes "the newest BUCKET_SAMPLE" the rule, not the plan's; the index answers it in order,
# without a sort, and from the index alone: the count is an INCLUDE column of the key.)
_POSTGRESQL_QUERY = (
    "SELECT q.anchor, b.ids, b.counts FROM "
    "(SELECT CAST(value AS bigint) AS anchor FROM json_array_elements_text(CAST(%s AS json))) AS q "
    "CROSS JOIN LATERAL (SELECT array_agg(article_id) AS ids, array_agg(anchor_count) AS counts "
    "FROM (SELECT article_id, anchor_count FROM text_anchors "
    "WHERE text_anchors.anchor = q.anchor ORDER BY article_id DESC "
    f"LIMIT {BUCKET_SAMPLE}) AS m) AS b"
)
_SQLITE_SIGNATURES = (
    f"SELECT id, minhash FROM articles INDEXED BY {SIGNATURE_INDEX} "
    "WHERE id IN (SELECT value FROM json_each(?))"
)
_POSTGRESQL_SIGNATURES = "SELECT id, minhash FROM articles WHERE id = ANY(CAST(%s AS integer[]))"
_SQLITE_INSERT = "INSERT INTO text_anchors (anchor, article_id, anchor_count) VALUES (?, ?, ?)"
# The rows as one JSON text, not parameters per row (psycopg parses a statement of more than 50
# parameters on every call) nor arrays (psycopg dumps a list element by element: 4x slower than
# orjson and the server's JSON parser together).
_POSTGRESQL_INSERT = (
    "INSERT INTO text_anchors (anchor, article_id, anchor_count) "
    "SELECT CAST(e ->> 0 AS bigint), CAST(e ->> 1 AS integer), CAST(e ->> 2 AS smallint) "
    "FROM json_array_elements(CAST(%s AS json)) AS e"
)
