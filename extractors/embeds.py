"""Embedded social posts (tweets, Instagram posts) quoted in an article are part of it.

Sites wrap the embed's ``<blockquote>`` in containers named like ``social-media-embed``,
which trafilatura discards as page furniture along with the quote. `unwrap_embedded_posts`
lifts each such blockquote out of wrappers that hold nothing else, so the quote stays in the
text where the article put it.
"""

from __future__ import annotations

from lxml import etree
from lxml.html import HtmlElement

_EMBEDDED_POSTS = etree.XPath(
    '//blockquote[contains(@class, "twitter-tweet") or contains(@class, "instagram-media")'
    ' or contains(@class, "tiktok-embed")]'
)
_WRAPPERS = frozenset({"div", "figure", "section", "aside", "span"})


def unwrap_embedded_posts(tree: HtmlElement) -> None:
    for quote in _EMBEDDED_POSTS(tree):
        outermost = quote
        parent = quote.getparent()
        while parent is not None and parent.tag in _WRAPPERS and _only_holds(parent, outermost):
            outermost = parent
            parent = parent.getparent()
        holder = outermost.getparent()
        if outermost is not quote and holder is not None:
            quote.tail = outermost.tail
            holder.replace(outermost, quote)


def _only_holds(wrapper: HtmlElement, child: HtmlElement) -> bool:
    """The wrapper holds `child` and otherwise only scripts, empty elements and whitespace."""
    if (wrapper.text or "").strip():
        return False
    for other in wrapper:
        if other is child:
            if (other.tail or "").strip():
                return False
            continue
        if not isinstance(other.tag, str) or other.tag in ("script", "noscript", "style"):
            if (other.tail or "").strip():
                return False
            continue
        if other.text_content().strip() or (other.tail or "").strip():
            return False
    return True
