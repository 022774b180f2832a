"""Bodies split over several containers: trafilatura keeps one chunk, this finds the rest.

News pages often cut the body into several containers of the same kind (``<div
class="body">`` chunks with ads, newsletter boxes or widgets between them). trafilatura keeps
the chunk it scores best; `split_body_blocks` finds the text of the sibling chunks it left out.
"""

from __future__ import annotations

import re
from collections import Counter

from lxml import etree
from lxml.html import HtmlElement

_WORD = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)\s]*\)")
_START_CHARS = 24
_MATCH_MIN_WORDS = 6  # paragraphs shorter than this do not locate the body container
_CHUNK_MIN_WORDS = 25  # a left-out chunk must hold at least this much text to be recovered
_SAME_KIND = etree.XPath("//*[local-name() = $tag][@class = $css_class]")
_BLOCK_TAGS = ("p", "h2", "h3", "h4", "blockquote")


def split_body_blocks(tree: HtmlElement, found: list[str]) -> tuple[list[str], list[str]]:
    """The text blocks (clean-text paragraphs) of the body chunks trafilatura left out, as
    (before, after) its text: chunks are elements of the same tag and class as the element
    whose paragraphs trafilatura found. ([], []) when the body is not split."""
    keys = {_key(text) for text in found}
    keys.discard("")
    starts = {key[:_START_CHARS] for key in keys}
    parents: Counter[HtmlElement] = Counter()
    for paragraph in tree.iter("p"):
        # cheap test on the paragraph's leading text before the full one
        if " ".join(_WORD.findall(paragraph.text or ""))[:_START_CHARS] not in starts:
            continue
        key = _key(paragraph.text_content())
        if key in keys and len(key.split()) >= _MATCH_MIN_WORDS:
            parent = paragraph.getparent()
            if parent is not None:
                parents[parent] += 1
    if not parents:
        return [], []
    container, count = parents.most_common(1)[0]
    css_class = container.get("class")
    if count < 2 or not css_class:
        return [], []
    chunks = [
        chunk
        for chunk in _SAME_KIND(tree, tag=container.tag, css_class=css_class)
        if chunk is container or _siblings_or_cousins(chunk, container)
    ]
    if len(chunks) < 2:
        return [], []
    found_shingles = {s for key in keys for s in _shingles(key)}
    before: list[str] = []
    after: list[str] = []
    seen_main = False
    for chunk in chunks:
        if chunk is container:
            seen_main = True
            continue
        blocks = [
            text
            for child in chunk
            if isinstance(child.tag, str) and child.tag in _BLOCK_TAGS
            for text in _render(child)
            if _is_new(_key(text), keys, found_shingles)
        ]
        if sum(len(_WORD.findall(text)) for text in blocks) < _CHUNK_MIN_WORDS:
            continue
        (after if seen_main else before).extend(blocks)
    return before, after


def _is_new(key: str, keys: set[str], found_shingles: set[tuple[str, ...]]) -> bool:
    """Not a block trafilatura has already found (whole, or most of it in other blocks)."""
    if not key or key in keys:
        return False
    shingles = _shingles(key)
    return sum(s in found_shingles for s in shingles) * 2 < len(shingles)


def _shingles(key: str) -> list[tuple[str, ...]]:
    words = key.split()
    if len(words) < 4:
        return [tuple(words)]
    return [tuple(words[i : i + 4]) for i in range(len(words) - 3)]


def _siblings_or_cousins(a: HtmlElement, b: HtmlElement) -> bool:
    """Same parent, or parents of the same kind under the same grandparent."""
    pa, pb = a.getparent(), b.getparent()
    if pa is None or pb is None:
        return False
    if pa is pb:
        return True
    ga, gb = pa.getparent(), pb.getparent()
    return ga is not None and ga is gb and (pa.tag, pa.get("class")) == (pb.tag, pb.get("class"))


def _key(text: str) -> str:
    return " ".join(_WORD.findall(_MD_LINK.sub(r"\1", text)))


def _render(element: HtmlElement) -> list[str]:
    if element.tag in ("ul", "ol"):
        items = [_inline(item) for item in element.iter("li")]
        listed = "\n".join(f"- {item}" for item in items if item)
        return [listed] if listed else []
    text = _inline(element)
    return [text] if text else []


def _inline(element: HtmlElement) -> str:
    """Text with links as ``[text](url)`` (hrefs are already absolute) and <br> as newlines."""
    parts = [element.text or ""]
    for child in element:
        if not isinstance(child.tag, str) or child.tag in ("script", "style", "noscript"):
            parts.append(child.tail or "")
            continue
        if child.tag == "br":
            parts.append("\n")
        elif child.tag == "a" and (child.get("href") or "").startswith(("http://", "https://")):
            text = _SPACES.sub(" ", _inline(child)).strip().replace("[", "(").replace("]", ")")
            href = child.get("href", "").strip().replace(" ", "%20")
            href = href.replace("(", "%28").replace(")", "%29")
            parts.append(f"[{text}]({href})" if text else "")
        else:
            parts.append(_inline(child))
        parts.append(child.tail or "")
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)
