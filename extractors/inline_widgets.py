"""Widgets hidden inside the article's paragraphs: hover cards, inline promos.

Some sites put a card inside a sentence (a person's name that opens a box with a photo and
links to their latest stories); the card is hidden by the stylesheet, so a reader never sees
it, but its text sits in the paragraph's markup. A ``<span>`` or ``<div>`` inside a ``<p>``
holding an image and two or more links is such a card, never running text:
`drop_inline_widgets` removes the innermost ones, so the sentence around them stays whole.
"""

from __future__ import annotations

from lxml import etree
from lxml.html import HtmlElement

_CARDS = etree.XPath("//p//*[self::span or self::div][.//img][count(.//a[@href]) >= 2]")


def drop_inline_widgets(tree: HtmlElement) -> None:
    cards = _CARDS(tree)
    if not cards:
        return
    found = set(cards)
    for card in cards:
        if any(inner in found for inner in card.iterdescendants("span", "div")):
            continue  # not the innermost: removing it would take the sentence's words too
        card.drop_tree()
