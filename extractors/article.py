"""An article page (HTML) → an `Article` in the clean-text format.

trafilatura finds the main text and the metadata; htmldate (through trafilatura) the date. Two
functions hold the choices a better extractor would revisit: `_trafilatura_options` (how
trafilatura is asked) and `clean_body` (what is done to its output). In between,
`_render_body` turns trafilatura's XML into the clean-text body itself (links as
``[text](absolute url)``, lists as ``- item``, headings as plain paragraphs, no emphasis
markers or Markdown escapes).
"""

from __future__ import annotations

import codecs
import html as htmllib
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.utils import decode_file, load_html

from extractors.cleantext import (
    clean_author,
    normalise_body,
    parse_date_line,
    render_document,
)
from extractors.records import Article
from extractors.urls import canonical_url


class ExtractionError(Exception):
    """The page gave no article. `reason`: "empty page", "not HTML", "no article text found" (or
    "extraction failed (<exception>)" when the extractor itself broke on the page)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:  # survives a process pool
        return (type(self), (self.url, self.reason))


def extract_article(html: bytes | str, url: str) -> Article:
    """The article of an HTML page fetched from `url` (bytes: the charset is sniffed)."""
    text = decode_html(html) if isinstance(html, bytes) else html
    if not text.strip():
        raise ExtractionError(url, "empty page")
    if not _looks_like_html(text):
        raise ExtractionError(url, "not HTML")
    tree = load_html(text)
    if tree is None:
        raise ExtractionError(url, "not HTML")

    page = _PageFacts(tree, url)
    _absolutise_links(tree, page.base_url)
    try:
        document = bare_extraction(tree, **_trafilatura_options(url))
        found = document.body if document is not None else None
        rendered = _render_body(found) if found is not None else ""
    except (ValueError, TypeError, LookupError, etree.LxmlError, RecursionError) as exc:
        # one odd page must not take down a whole batch in the process pool
        raise ExtractionError(url, f"extraction failed ({type(exc).__name__})") from exc
    if document is None or not rendered:
        raise ExtractionError(url, "no article text found")

    site = _site_name(page.site_name) or _site_name(document.sitename) or page.host
    title = _title(document.title or "", site)
    body = clean_body(rendered, title=title)
    if not body:
        raise ExtractionError(url, "no article text found")

    author = _author(document.author)
    published = _published(document.date or _extensive_date(tree, url), page.published_time)
    return Article(
        url=url,
        canonical_url=page.canonical or canonical_url(url),
        title=title,
        body=body,
        text=render_document(title, body, author=author, site=site, published=published),
        author=author,
        site=site,
        published=published,
        language=_language(getattr(document, "language", None)) or page.language,
    )


# --- how trafilatura is asked ----------------------------------------------------------------


def _trafilatura_options(url: str) -> dict[str, Any]:
    """The trafilatura settings: precision over recall, no comments, links and lists kept."""
    return {
        "url": url,
        "include_comments": False,
        "favor_precision": True,
        "include_formatting": True,
        "include_links": True,
        "include_tables": True,
        "include_images": False,
        "with_metadata": True,
        # htmldate, markup only (meta tags, JSON-LD, <time>, URL); `_extensive_date` is the
        # fallback that reads the text too
        "date_extraction_params": _date_params(extensive=False),
    }


def _date_params(*, extensive: bool) -> dict[str, Any]:
    return {
        "original_date": True,  # the publication date, not the last update
        "extensive_search": extensive,
        "outputformat": "%Y-%m-%d",
        "max_date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def _extensive_date(tree: HtmlElement, url: str) -> str | None:
    """htmldate's text search ("publiziert am 30. Juli 2018"), for pages whose markup has no
    date. A bare year (a copyright line) comes back as 1 January: that is no date."""
    found = find_date(tree, url=url, **_date_params(extensive=True))
    return None if found is None or found.endswith("-01-01") else found


# --- what is done to its output --------------------------------------------------------------

# Whole paragraphs that are page furniture, not article text (matched case-insensitively).
_BOILERPLATE = re.compile(
    r"^(?:advertisement|advertising|sponsored(?: content)?|ad|"
    r"(?:read|see|show|load) (?:more|less|also|next)\b.{0,80}|continue reading.{0,80}|"
    r"(?:share|tweet|email|print) (?:this|on|via)\b.{0,40}|share|"
    r"(?:share|email|print) (?:the )?(?:article|story|page)\b.{0,20}|"
    r"(?:sign up|subscribe|register)\b.*\b(?:newsletters?|inbox|updates|free)\b.*|"
    r"subscribe(?: now| today| here)?!?|(?:get|receive) (?:our|the) .*newsletter.*|"
    r"(?:editor'?s|editors'?|our) (?:picks?|choice)|"
    r"related(?: stories| articles| content| news| coverage)?:?|"
    r"recommended(?: for you| stories| articles)?:?|most (?:read|popular|viewed)|trending(?: now)?|"
    r"follow us\b.*|click here\b.*|(?:the )?story continues below.*|skip (?:to|advert).*|"
    r"we use cookies\b.*|this (?:site|website) uses cookies\b.*|accept (?:all )?cookies|"
    r"(?:image|photo|picture)s?(?: credits?| source)?: .{0,60}|(?:image|photo) credits?\b.{0,60}|"
    r"icon-[\w-]+(?: icon-[\w-]+)*|"
    r"(?:copyright\b|©|\(c\)).{0,120}|all rights reserved\.?|"
    r"(?:don'?t|do not) miss:?|must read:?|(?:also|read) (?:also|more):?|see also:?|"
    r"more (?:from|on) .{0,40})$",
    re.I,
)
_BOILERPLATE_MAX_WORDS = 25
_LEFTOVER_TAG = re.compile(
    r"</?(?:p|br|div|span|strong|em|b|i|u|a|img|figure|figcaption|h[1-6]|ul|ol|li|blockquote)\b[^>]*>",
    re.I,
)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]{1,31});", re.I)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)\s]*\)")
_DOUBLED_LINK = re.compile(r"(\[[^\]]+\]\([^)\s]+\))\1+")
_WORD = re.compile(r"\w+")
_BY_LINE = re.compile(r"^(?:written |posted |reported )?by\s+\S", re.I)


def clean_body(text: str, *, title: str = "") -> str:
    """trafilatura's text as a clean-text body: no repeated headline, byline or date at the
    start, no furniture paragraphs ("Share this", newsletter boxes, "Read more", runs of
    related links), no repeated paragraphs, no leftover tags or entities, clean-text spacing."""
    if _ENTITY.search(text):
        text = htmllib.unescape(text)
    text = _DOUBLED_LINK.sub(r"\1", _LEFTOVER_TAG.sub("", text))
    paragraphs = [p.strip() for p in normalise_body(text).split("\n\n")]
    title_words = _words(title)
    kept: list[str] = []
    seen: set[str] = set()
    for paragraph in paragraphs:
        if not paragraph or _is_boilerplate(paragraph):
            continue
        if not kept and _is_header_line(paragraph, title_words):
            continue  # the headline, byline or date again, above the first real paragraph
        key = " ".join(_words(paragraph))
        if key in seen and (len(key) > 40 or (kept and paragraph == kept[-1])):
            continue
        seen.add(key)
        kept.append(paragraph)
    return normalise_body("\n\n".join(_without_link_runs(kept)))


def _is_boilerplate(paragraph: str) -> bool:
    if len(paragraph.split()) > _BOILERPLATE_MAX_WORDS:
        return False
    plain = _MD_LINK.sub(r"\1", paragraph).strip(" -•|>")
    return bool(_BOILERPLATE.match(plain))


def _is_header_line(paragraph: str, title_words: list[str]) -> bool:
    plain = _one_line(paragraph).lstrip("#").strip()
    if title_words and _words(plain) == title_words:
        return True
    if "\n" in paragraph or len(plain.split()) > 15:
        return False
    if _BY_LINE.match(plain) and clean_author(plain) is not None:
        return not plain.endswith((".", "!", "?"))
    return parse_date_line(plain) is not None


def _is_link_block(paragraph: str) -> bool:
    """A paragraph or list that is nothing but links (a "related stories" block)."""
    links = _MD_LINK.findall(paragraph)
    if not links:
        return False
    rest = _MD_LINK.sub("", paragraph)
    rest = re.sub(r"(?m)^\s*- ", "", rest)
    return len(_words(rest)) <= 2 * len(links) and len(_words(rest)) <= 6


def _without_link_runs(paragraphs: list[str]) -> list[str]:
    """Drop runs of two or more link-only blocks, and link-only blocks ending the article."""
    flags = [_is_link_block(p) for p in paragraphs]
    drop = [False] * len(paragraphs)
    i = 0
    while i < len(paragraphs):
        if not flags[i]:
            i += 1
            continue
        j = i
        while j < len(paragraphs) and flags[j]:
            j += 1
        if j - i >= 2 or j == len(paragraphs) or "\n- " in paragraphs[i]:
            drop[i:j] = [True] * (j - i)
        i = j
    # a short label ("DON'T MISS", "Related:") left just above a dropped run goes with it
    for k in range(len(paragraphs) - 1):
        if (
            drop[k + 1]
            and not drop[k]
            and len(paragraphs[k].split()) <= 4
            and not paragraphs[k].endswith(".")
        ):
            drop[k] = True
    return [p for p, dropped in zip(paragraphs, drop, strict=True) if not dropped]


# --- trafilatura's XML → clean text ----------------------------------------------------------

_BLOCKS = frozenset({"p", "head", "quote", "list", "table", "code", "div", "section", "article"})


def _render_body(body: etree._Element) -> str:
    """Blocks separated by a blank line; links `[text](url)`, items `- text`, rows `a | b`."""
    out: list[str] = []
    _render_blocks(body, out, depth=0)
    return "\n\n".join(block for block in out if block.strip())


def _render_blocks(element: etree._Element, out: list[str], depth: int) -> None:
    loose: list[str] = []  # inline content sitting directly in a container

    def flush() -> None:
        text = _tidy_inline("".join(loose))
        if text:
            out.append(text)
        loose.clear()

    if element.text:
        loose.append(element.text)
    for child in element:
        if not isinstance(child.tag, str):
            if child.tail:
                loose.append(child.tail)
            continue
        if child.tag == "list":
            flush()
            items: list[str] = []
            _render_list(child, items, depth)
            if items:
                out.append("\n".join(items))
        elif child.tag == "table":
            flush()
            rows = [_render_row(row) for row in child.iter("row")]
            table = "\n".join(row for row in rows if row)
            if table:
                out.append(table)
        elif child.tag in ("div", "section", "article", "quote") and any(
            isinstance(c.tag, str) and c.tag in _BLOCKS for c in child
        ):
            flush()
            _render_blocks(child, out, depth)
        elif child.tag in _BLOCKS:
            flush()
            text = _tidy_inline(_inline(child))
            if text:
                out.append(text)
        else:
            loose.append(_inline(child))
            continue
        if child.tail:
            loose.append(child.tail)
    flush()


def _render_list(element: etree._Element, lines: list[str], depth: int) -> None:
    indent = "  " * depth
    for item in element:
        if item.tag != "item":
            continue
        nested = [c for c in item if c.tag == "list"]
        text = _tidy_inline(_inline(item, skip=("list",))).replace("\n", " ")
        if text:
            lines.append(f"{indent}- {text}")
        for sub in nested:
            _render_list(sub, lines, depth + 1)


def _render_row(row: etree._Element) -> str:
    cells = [_tidy_inline(_inline(cell)).replace("\n", " ") for cell in row if cell.tag == "cell"]
    return " | ".join(cell for cell in cells if cell)


def _inline(element: etree._Element, skip: tuple[str, ...] = ()) -> str:
    """The text of an element with its links as Markdown and line breaks as newlines."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and child.tag not in skip:
            if child.tag == "lb":
                parts.append("\n")
            elif child.tag == "ref":
                parts.append(_link(child))
            elif child.tag in ("list", "p", "head", "quote", "item", "row"):
                parts.append(" " + _inline(child) + " ")
            elif child.tag != "graphic":
                parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _link(element: etree._Element) -> str:
    text = _tidy_inline(_inline(element)).replace("\n", " ")
    target = (element.get("target") or "").strip()
    if not text:
        return ""
    if not target.startswith(("http://", "https://")):
        return text
    text = text.replace("[", "(").replace("]", ")")
    target = target.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"[{text}]({target})"


def _tidy_inline(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


# --- page facts trafilatura does not give (or gives differently) -----------------------------


class _PageFacts:
    """What the page says about itself in <head>: base, canonical URL, site name, language."""

    def __init__(self, tree: HtmlElement, url: str) -> None:
        self.url = url
        base = _first_attr(tree, ".//base[@href]", "href")
        self.base_url = urljoin(url, base) if base else url
        self.host = _host(url)
        self.site_name = _one_line(_meta(tree, "og:site_name") or "") or None
        self.canonical = self._canonical(tree)
        lang = tree.get("lang") or tree.get("xml:lang") or _meta(tree, "og:locale")
        self.language = _language(lang)
        self.published_time = _meta(tree, "article:published_time") or _first_attr(
            tree, './/*[@itemprop="datePublished"]', "content"
        )

    def _canonical(self, tree: HtmlElement) -> str | None:
        candidates = [
            _first_attr(tree, './/link[@rel="canonical"][@href]', "href"),
            _meta(tree, "og:url"),
        ]
        fetched_path = urlsplit(self.url).path.rstrip("/")
        for candidate in candidates:
            if not candidate or not candidate.strip():
                continue
            absolute = urljoin(self.base_url, candidate.strip())
            if not absolute.startswith(("http://", "https://")):
                continue
            # A site-wide canonical pointing at the home page would make every article one.
            if urlsplit(absolute).path.rstrip("/") == "" and fetched_path:
                continue
            return canonical_url(absolute)
        return None


def _meta(tree: HtmlElement, name: str) -> str | None:
    for element in tree.iterfind(".//meta[@content]"):
        if name in (element.get("property"), element.get("name")):
            value = element.get("content", "").strip()
            if value:
                return value
    return None


def _first_attr(tree: HtmlElement, xpath: str, attribute: str) -> str | None:
    found = tree.find(xpath)
    return found.get(attribute) if found is not None else None


def _absolutise_links(tree: HtmlElement, base_url: str) -> None:
    """Resolve every <a href> against the page (trafilatura resolves against the host only)."""
    for anchor in tree.iter("a"):
        href = anchor.get("href")
        if href is None:
            continue
        if href.startswith(("https://", "http://")):
            continue
        href = href.strip()
        if href.startswith(("#", "javascript:", "mailto:", "tel:")) or not href:
            anchor.attrib.pop("href")
            continue
        try:
            anchor.set("href", urljoin(base_url, href))
        except ValueError:
            anchor.attrib.pop("href")


# --- small conversions -----------------------------------------------------------------------

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_HTML_START = re.compile(r"<\s*(?:!doctype|html|head|body|meta|title|div|p|article|main)\b", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_html(data: bytes) -> str:
    """Bytes of a page as text: BOM, else UTF-8 if it decodes, else the declared <meta> charset,
    else trafilatura's detection (charset_normalizer)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _CHARSET.search(data[:4096])
    if declared:
        try:
            return data.decode(declared[1].decode("ascii").lower())
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_file(data)


def _looks_like_html(text: str) -> bool:
    head = text[:4096]
    if "\x00" in head or head.lstrip().startswith(("%PDF", "{", "[")):
        return False
    return _HTML_START.search(text[:65536]) is not None


def _title(raw: str, site: str | None) -> str:
    """The headline without a trailing " | Site Name" (or " - ", " — ", " :: ")."""
    title = _one_line(raw)
    if site:
        found = re.match(rf"^(?P<head>.+?)\s+(?:[|–—:-]|::)\s+{re.escape(site)}\s*$", title, re.I)
        if found:
            return found["head"]
    return title


def _site_name(raw: str | None) -> str | None:
    """ "The Daily Ledger"; a URL becomes its host; "@handle" loses its "@"; junk is dropped."""
    name = _one_line(raw or "").lstrip("@").strip()
    if not name or len(name) > 80 or re.match(r"(?:copyright|©)", name, re.I):
        return None
    if re.match(r"https?://", name, re.I):
        return _host(name)
    return name


def _author(raw: str | None) -> str | None:
    name = clean_author(raw)
    if not name or len(name) > 120 or "://" in name or "@" in name:
        return None
    return name


def _published(found: str | None, precise: str | None) -> datetime | None:
    """htmldate's publication date, at the exact time when the page's article:published_time
    agrees on the day; midnight UTC otherwise. Timezone-aware UTC."""
    if not found:
        return None
    try:
        day = date.fromisoformat(found[:10])
    except ValueError:
        return None
    if precise:
        try:
            moment = datetime.fromisoformat(precise.strip().replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.date() == day:
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _language(value: str | None) -> str | None:
    """ "en-GB", "en_US", "EN" → "en"; None for anything that is not a language tag."""
    if not value:
        return None
    primary = re.split(r"[-_]", value.strip())[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def _host(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text.replace("\n", " ")).strip()
