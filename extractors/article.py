"""An article page (HTML) → an `Article` in the clean-text format.

trafilatura finds the main text and the metadata; htmldate (through trafilatura) the date.
The steps, in order:

1. the page's markup is read for what trafilatura gets wrong on news pages in general:
   embedded posts are lifted out of their wrappers (`extractors.embeds`), hover cards inside
   sentences (`extractors.inline_widgets`) and other posts on the page
   (`extractors.other_posts`) are removed;
2. trafilatura extracts the body (`_trafilatura_options`: precision over recall);
   `_render_body` turns its XML into clean text (links as ``[text](absolute url)``, lists as
   ``- item``, headings as plain paragraphs, no emphasis markers or Markdown escapes);
3. a body split over several containers gets the chunks trafilatura left out
   (`extractors.split_body`);
4. `clean_body` drops what is not article text: the headline, byline or date repeated at the
   start, furniture paragraphs (`extractors.boilerplate`), repeated paragraphs.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import html as htmllib
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.json_metadata import normalize_authors
from trafilatura.metadata import (
    META_URL,
    Document,
    examine_meta,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.utils import decode_file, load_html, trim
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

from extractors.boilerplate import is_furniture, without_link_runs
from extractors.cleantext import (
    clean_author,
    normalise_body,
    parse_date_line,
    render_document,
)
from extractors.embeds import unwrap_embedded_posts
from extractors.inline_widgets import drop_inline_widgets
from extractors.language import detect_language
from extractors.other_posts import drop_other_posts
from extractors.records import Article
from extractors.split_body import split_body_blocks
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


def read_saved_page(path: Path) -> bytes:
    """The bytes of a saved page (`.html`, or gzipped `.html.gz`)."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def extract_saved_page(path: Path, url: str) -> Article:
    """The article of a page saved to `path` (gzipped if it ends in `.gz`), fetched from `url`.
    Raises OSError when the file cannot be read (or ungzipped), ExtractionError as
    `extract_article`."""
    return extract_article(read_saved_page(path), url)


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
        document = _metadata(tree, url)
        # what the markup says before extraction: embedded posts are part of the article,
        # hover cards inside its sentences and other posts on the page are not
        unwrap_embedded_posts(tree)
        drop_inline_widgets(tree)
        drop_other_posts(tree)
        extracted = bare_extraction(tree, **_trafilatura_options(url))
        found = extracted.body if extracted is not None else None
        rendered = _render_body(found) if found is not None else ""
        if rendered:
            before, after = split_body_blocks(tree, rendered.split("\n\n"))
            rendered = "\n\n".join([*before, rendered, *after])
    except (ValueError, TypeError, LookupError, etree.LxmlError, RecursionError) as exc:
        # one odd page must not take down a whole batch in the process pool
        raise ExtractionError(url, f"extraction failed ({type(exc).__name__})") from exc
    if extracted is None or not rendered:
        raise ExtractionError(url, "no article text found")

    site = (
        _site_name(page.site_name, page.host or "")
        or _site_name(document.sitename, page.host or "")
        or page.host
    )
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
        language=detect_language(
            body, _language(getattr(document, "language", None)) or page.language
        ),
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
        "output_format": "xml",  # the body tree is all we read: no plain-text rendering
    }


def _metadata(tree: HtmlElement, url: str) -> Document:
    """trafilatura's metadata (`extract_metadata`) without what newsmon does not use
    (categories, tags, licence): meta tags and JSON-LD first, then the page itself. The date
    is htmldate's, markup only (meta tags, JSON-LD, <time>, URL); `_extensive_date` is the
    fallback that reads the text too."""
    metadata = examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None
    with contextlib.suppress(Exception):  # trafilatura's JSON-LD reading has bugs
        metadata = extract_meta_json(tree, metadata)
    if not metadata.title:
        metadata.title = extract_title(tree)
    if not metadata.author:
        metadata.author = _byline_author(tree)
    if not metadata.url:
        metadata.url = extract_url(tree, url)
    metadata.date = find_date(tree, **_date_params(extensive=False), url=metadata.url or url)
    if not metadata.sitename:
        metadata.sitename = extract_sitename(tree)
    if metadata.sitename:
        metadata.sitename = metadata.sitename.lstrip("@")
        if "." not in metadata.sitename and not metadata.sitename[:1].isupper():
            metadata.sitename = metadata.sitename.title()
    elif metadata.url and (found := META_URL.match(metadata.url)):
        metadata.sitename = found[1]
    metadata.clean_and_trim()
    return metadata


def _byline_author(tree: HtmlElement) -> str | None:
    """trafilatura's `extract_author` without its copy of the whole page.

    It deep-copies the tree to prune the areas where a name is not the author (comments,
    related posts, …) and then searches the copy: a third of the extraction time of a page.
    Skipping matches inside those areas (and their text) finds the same name on the original.
    """
    discard: set[HtmlElement] | None = None  # found when there is a candidate to check
    for expression in AUTHOR_XPATHS:
        for element in expression(tree):
            if discard is None:
                discard = {el for expr in AUTHOR_DISCARD_XPATHS for el in expr(tree)}
            if element in discard or any(a in discard for a in element.iterancestors()):
                continue
            content = trim(" ".join(_text_outside(element, discard)))
            if content and 2 < len(content) < 120:
                return normalize_authors(None, content)
    return None


def _text_outside(element: HtmlElement, discard: set[HtmlElement]) -> list[str]:
    """The text of `element` except what lies inside a discarded descendant."""
    parts = [element.text or ""]
    for child in element:
        if child not in discard:
            parts.extend(_text_outside(child, discard))
        parts.append(child.tail or "")
    return parts


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

_LEFTOVER_TAG = re.compile(
    r"</?(?:p|br|div|span|strong|em|b|i|u|a|img|figure|figcaption|h[1-6]|ul|ol|li|blockquote)\b[^>]*>",
    re.I,
)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z][a-z0-9]{1,31});", re.I)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
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
        if not paragraph or is_furniture(paragraph):
            continue
        if not kept and _is_header_line(paragraph, title_words):
            continue  # the headline, byline or date again, above the first real paragraph
        key = " ".join(_words(paragraph))
        if key in seen and (len(key) > 40 or (kept and paragraph == kept[-1])):
            continue
        seen.add(key)
        kept.append(paragraph)
    return normalise_body("\n\n".join(without_link_runs(kept)))


def _is_header_line(paragraph: str, title_words: list[str]) -> bool:
    """The headline (alone, or with a section kicker: "Design Week | <headline>"), a byline or
    a date line ("Monday, 22 January 2018 at 0:13", in any language)."""
    plain = _one_line(paragraph).lstrip("#").strip()
    words = _words(plain)
    if title_words and words == title_words:
        return True
    if "\n" in paragraph or len(plain.split()) > 15:
        return _holds_headline(words, title_words) and not plain.endswith((".", "!", "?"))
    if _holds_headline(words, title_words) and not plain.endswith((".", "!", "?")):
        return True
    if _BY_LINE.match(plain) and clean_author(plain) is not None:
        return not plain.endswith((".", "!", "?"))
    return parse_date_line(plain) is not None or _is_date_stamp(words)


_HEADLINE_EXTRA_WORDS = 10  # a kicker, section or site name around a repeated headline
_YEAR = re.compile(r"(?:19|20)\d\d")


def _holds_headline(words: list[str], title_words: list[str]) -> bool:
    if len(title_words) < 3 or len(words) > len(title_words) + _HEADLINE_EXTRA_WORDS:
        return False
    return f" {' '.join(title_words)} " in f" {' '.join(words)} "


def _is_date_stamp(words: list[str]) -> bool:
    """A short line that is mostly numbers around a year: a date and time in any language."""
    numbers = [w for w in words if w.isdigit()]
    return (
        len(words) <= 10
        and any(_YEAR.fullmatch(w) for w in numbers)
        and len(numbers) >= 2
        and len(numbers) * 10 >= len(words) * 3
    )


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
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    for anchor in tree.iter("a"):
        href = anchor.get("href")
        if href is None:
            continue
        if href.startswith(("https://", "http://")):
            continue
        href = href.strip()
        if href.startswith("/") and not href.startswith("//") and "/." not in href:
            anchor.set("href", origin + href)  # the common case, without urljoin's cost
            continue
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
        wanted = site.casefold()
        for separator in _TITLE_SEPARATOR.finditer(title):
            if separator.start() > 0 and title[separator.end() :].casefold() == wanted:
                return title[: separator.start()]
    return title


_TITLE_SEPARATOR = re.compile(r"\s+(?:[|–—:-]|::)\s+")


def _site_name(raw: str | None, host: str = "") -> str | None:
    """ "The Daily Ledger"; a URL becomes its host; "@handle" loses its "@"; junk is dropped.

    A bare lower-case fragment of the host ("nj" on nj.com, "cleveland" on cleveland.com) is
    how some sites fill og:site_name; the host itself says more. A list of sections
    ("Autoracing | F1 | Indy") keeps its first part.
    """
    name = _one_line(raw or "").lstrip("@").strip(" _|-–—·")
    if not name or len(name) > 80 or re.match(r"(?:copyright|©)", name, re.I):
        return None
    if re.match(r"https?://", name, re.I):
        return _host(name)
    name = name.split(" | ", 1)[0].strip()
    labels = host.split(".")[:-1]  # the host's labels but its top-level domain
    if name.islower() and " " not in name and name in labels:
        return host
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
