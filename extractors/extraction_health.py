"""How well extraction works per site, judged on its recent pages.

A site that changes its markup does not announce it: its pages start coming out empty or cut
short. Each page's outcome is recorded; a site whose recent pages mostly fail is flagged (in
`newsmon feeds` and in the digest footer) so that a person looks at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OK, SHORT, FAILED = "ok", "short", "failed"
# A news article body under this many words is suspicious: a teaser, a paywall, a broken page.
SHORT_WORDS = 50
# A site is flagged when at least this many recent pages were judged and this share was bad.
MIN_PAGES_TO_FLAG = 5
BAD_SHARE_TO_FLAG = 0.5

_WORD = re.compile(r"\w+")


def outcome_of(body: str | None) -> str:
    """FAILED for no body (the extractor gave up), SHORT for a suspiciously short one."""
    if body is None:
        return FAILED
    return SHORT if len(_WORD.findall(body)) < SHORT_WORDS else OK


@dataclass(frozen=True)
class SiteHealth:
    site: str
    pages: int  # recent pages judged
    failed: int
    short: int
    last_reason: str | None  # the latest failure's reason

    @property
    def bad_share(self) -> float:
        return (self.failed + self.short) / self.pages if self.pages else 0.0

    @property
    def broken(self) -> bool:
        return self.pages >= MIN_PAGES_TO_FLAG and self.bad_share >= BAD_SHARE_TO_FLAG

    def describe(self) -> str:
        bad = self.failed + self.short
        why = f" ({self.last_reason})" if self.last_reason else ""
        return (
            f"Extraction from {self.site} is failing: {bad} of its last {self.pages} pages "
            f"came out empty or short{why}"
        )
