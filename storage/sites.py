"""What the corpus knows about each site: the outcome of its recent extractions and its learnt
template. Reached as `corpus.sites`; the learning rules are in extractors/site_templates.py and
extractors/extraction_health.py, this module only keeps their inputs and results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from extractors.extraction_health import FAILED, SHORT, SiteHealth
from extractors.site_templates import WINDOW, learn_template
from storage.schema import site_pages, site_templates

# Rows kept per site: the window the rules look at, with room to spare for a larger one.
KEEP_PER_SITE = 2 * WINDOW


class SiteStore:
    def __init__(self, reader: Engine, writer: Engine, clock: Callable[[], datetime]) -> None:
        self._reader = reader
        self._writer = writer
        self._clock = clock

    def template(self, site: str) -> set[str]:
        """The block keys learnt as `site`'s template."""
        query = sa.select(site_templates.c.block_key).where(site_templates.c.site == site)
        with self._reader.connect() as conn:
            return set(conn.scalars(query))

    def record_page(
        self,
        site: str,
        outcome: str,
        *,
        block_keys: Sequence[str] = (),
        samples: Mapping[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        """Record one extraction of a page of `site` and learn the site's template anew.

        `samples` maps block keys of this page to their text, kept to show what is removed.
        """
        now = self._clock()
        with self._writer.begin() as conn:
            conn.execute(
                site_pages.insert().values(
                    site=site,
                    seen_at=now,
                    outcome=outcome,
                    reason=reason,
                    block_keys=list(block_keys),
                )
            )
            recent = conn.execute(
                sa.select(site_pages.c.id, site_pages.c.outcome, site_pages.c.block_keys)
                .where(site_pages.c.site == site)
                .order_by(site_pages.c.id.desc())
                .limit(KEEP_PER_SITE + 1)
            ).all()
            if len(recent) > KEEP_PER_SITE:
                conn.execute(
                    site_pages.delete().where(
                        site_pages.c.site == site, site_pages.c.id <= recent[KEEP_PER_SITE].id
                    )
                )
            extracted = [r.block_keys for r in recent[:WINDOW] if r.outcome != FAILED]
            self._store_template(conn, site, learn_template(extracted), samples or {}, now)

    def _store_template(
        self,
        conn: sa.Connection,
        site: str,
        learnt: set[str],
        samples: Mapping[str, str],
        now: datetime,
    ) -> None:
        where = site_templates.c.site == site
        known = dict(
            conn.execute(
                sa.select(site_templates.c.block_key, site_templates.c.sample).where(where)
            ).all()
        )
        gone = set(known) - learnt
        if gone:
            conn.execute(site_templates.delete().where(where, site_templates.c.block_key.in_(gone)))
        new = learnt - set(known)
        if new:
            conn.execute(
                site_templates.insert(),
                [
                    {
                        "site": site,
                        "block_key": key,
                        "sample": samples.get(key, ""),
                        "learnt_at": now,
                    }
                    for key in sorted(new)
                ],
            )

    def templates(self) -> dict[str, list[str]]:
        """Every site's learnt template, as sample texts."""
        query = sa.select(site_templates.c.site, site_templates.c.sample).order_by(
            site_templates.c.site, site_templates.c.learnt_at
        )
        found: dict[str, list[str]] = {}
        with self._reader.connect() as conn:
            for site, sample in conn.execute(query):
                found.setdefault(site, []).append(sample)
        return found

    def health(self, window: int = WINDOW) -> list[SiteHealth]:
        """Each site's extraction health over its last `window` pages, worst first."""
        ranked = sa.select(
            site_pages.c.site,
            site_pages.c.outcome,
            site_pages.c.reason,
            sa.func.row_number()
            .over(partition_by=site_pages.c.site, order_by=site_pages.c.id.desc())
            .label("age"),
        ).subquery()
        query = (
            sa.select(ranked).where(ranked.c.age <= window).order_by(ranked.c.site, ranked.c.age)
        )
        by_site: dict[str, list[sa.Row]] = {}
        with self._reader.connect() as conn:
            for row in conn.execute(query):
                by_site.setdefault(row.site, []).append(row)
        found = [
            SiteHealth(
                site=site,
                pages=len(rows),
                failed=sum(r.outcome == FAILED for r in rows),
                short=sum(r.outcome == SHORT for r in rows),
                last_reason=next((r.reason for r in rows if r.reason), None),
            )
            for site, rows in by_site.items()
        ]
        return sorted(found, key=lambda h: (-h.bad_share, h.site))
