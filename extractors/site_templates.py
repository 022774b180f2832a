"""Site templates: the blocks a site repeats on every page, learnt from the pages themselves.

An extractor sees one page; newsmon sees many pages of a site. A paragraph that recurs across
most recent pages of one site — a subscription pitch, a footer sentence, a "follow us" line —
is the site's template, not its news, and is removed from that site's bodies.

The rule is deliberately strict, because a false template deletes news: a block must recur on
at least `MIN_PAGES` different pages *and* on at least `MIN_SHARE` of the site's recent pages,
and be short (`MAX_BLOCK_CHARS`). A background paragraph a wire service repeats in follow-up
stories recurs on a few pages of a topic, not on half of everything the site publishes.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

MIN_PAGES = 3
MIN_SHARE = 0.5
MAX_BLOCK_CHARS = 400
# Recent pages of a site that the template is learnt from (and extraction health measured on).
WINDOW = 20

_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKER = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+", re.M)
_NON_WORD = re.compile(r"[\W_]+")


def site_of(url: str) -> str:
    """The site a page belongs to: its host, lower-case, without `www.`."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def blocks(body: str) -> list[str]:
    """The paragraphs (and list blocks) of a clean-text body."""
    return [b.strip() for b in body.split("\n\n") if b.strip()]


def block_key(block: str) -> str | None:
    """A key equal for the same block however its links and spacing differ; None for a block
    too long to be template (long blocks are articles' own text)."""
    if len(block) > MAX_BLOCK_CHARS:
        return None
    text = _NON_WORD.sub(" ", _MARKER.sub("", _LINK.sub(r"\1", block))).strip().lower()
    if not text:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def block_keys(body: str) -> list[str]:
    """The distinct keys of a body's template-sized blocks, in order."""
    return list(block_samples(body))


def block_samples(body: str) -> dict[str, str]:
    """Each template-sized block of a body by its key (the first block with a key wins)."""
    found: dict[str, str] = {}
    for block in blocks(body):
        key = block_key(block)
        if key and key not in found:
            found[key] = block
    return found


def learn_template(pages: Sequence[Iterable[str]]) -> set[str]:
    """The block keys that recur on enough of these pages (each page: its block keys)."""
    counts = Counter(key for page in pages for key in set(page))
    needed = max(MIN_PAGES, MIN_SHARE * len(pages))
    return {key for key, count in counts.items() if count >= needed}


def strip_template(body: str, template: set[str]) -> str:
    """The body without its template blocks; unchanged if nothing else would be left."""
    if not template:
        return body
    kept = [b for b in blocks(body) if block_key(b) not in template]
    return "\n\n".join(kept) if kept else body
