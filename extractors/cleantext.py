"""The clean-text format: the writer, and a tolerant reader.

A document is UTF-8 Markdown-flavoured plain text::

    Title of the article

    By Author Name · Site Name · 2023-09-29

    First paragraph.

    Second paragraph with a [link text](https://example.org/target).

    - list item

Title first, then one byline line (author, site and date, whichever are known; "By " only when
there is an author; no line at all when nothing is known), then the body: paragraphs separated by
exactly one blank line, links as ``[text](url)``, lists as ``- item``.

`parse_document` reads that back losslessly, and also reads the seed files other tools wrote:
leading blank lines, a "# " heading as title, a byline before or after the title ("Written by
[Luis Miguel](#) on September 29, 2023", "By [AFP](#)", "By Vladimir Isachenkov, Associated
Press"), a date on its own line ("Fri Sep 29 2023"), a headline repeated on the next line. Only
those header lines are taken out: the body is otherwise kept as it is, boilerplate included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from dateutil import parser as dateparser

BYLINE_SEPARATOR = " · "

# Lines the reader looks at for the title and the byline before giving up on finding a header.
_HEADER_LINES = 10
# A line at least this long (in words) is prose: the header is over.
_PROSE_WORDS = 14

# No-break spaces become spaces; zero-width spaces, BOMs and soft hyphens go (a soft hyphen
# inside "Af\u00adghanistan" would split the word for search).
_NBSP = str.maketrans(
    {"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\ufeff": "", "\u200b": "", "\u00ad": ""}
)
_BLANK_RUN = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.M)
_SPACES = re.compile(r"\s+")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"\*\*|__")
_HEADING = re.compile(r"^#{1,6}\s+")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")

_BY = re.compile(
    r"^(?:(?:written|posted|reported|words|story|text|analysis|opinion|commentary|review)\s+)?"
    r"by[:\s]\s*(?P<rest>.+)$",
    re.I,
)
# "<who> on <date>", "<who> | <date>", "<who> - <date>", "<who>, <date>"
_WHO_THEN_DATE = re.compile(
    r"^(?P<who>.+?)(?:\s+on|\s*[|•·—–]|\s+-|,)\s+(?P<when>[^|•·—–]*\b(?:19|20)\d{2}\b.*)$", re.I
)
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_WEEKDAY = (
    r"mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|"
    r"sat(?:urday)?|sun(?:day)?"
)
_DATE_PREFIX = re.compile(
    r"^(?:(?:first\s+)?published|updated|last\s+updated|posted|modified|date|on)\s*:?\s*", re.I
)
# What a date-only line may contain besides numbers and separators.
_DATE_WORDS = re.compile(
    rf"^(?:{_MONTH}|{_WEEKDAY}|at|of|the|am|pm|a\.m|p\.m|gmt|utc|bst|cet|cest|msk|est|edt|pst|pdt|et|pt"
    r"|st|nd|rd|th|z|t)\.?$",
    re.I,
)
_NUMERIC_DATE = re.compile(r"\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b")
_NAME_CONNECTORS = frozenset(
    {"and", "&", "de", "da", "di", "del", "der", "den", "van", "von", "la", "le", "al", "el"}
    | {"bin", "ibn", "y", "e", "of", "the", "du", "des", "dos", "das"}
)
# Trailing job titles after a comma in a byline: "Jane Doe, Senior Correspondent".
_JOB_WORDS = re.compile(
    r"\b(?:correspondent|writer|editor|reporter|staff|contributor|columnist|journalist|chief|"
    r"analyst|producer|photographer|intern|fellow|bureau|desk|team|critic|commentator|"
    r"contributing|special\s+to)\b",
    re.I,
)
# Dates run into author names by sloppy markup: "Malcolm Owen Monday", "November".
_DATE_TAIL = re.compile(
    r"(?:^|\s+)(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|"
    r"march|april|june|july|august|september|october|november|december|updated|published)\b.*$",
    re.I,
)
_AUTHOR_SEGMENTS = re.compile(r",|\s+[|/–—-]\s+")
_SENTENCE_END = re.compile(r"[.!?:;…\"”]$")


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    body: str
    author: str | None = None
    site: str | None = None
    published: date | None = None


def render_document(
    title: str,
    body: str,
    *,
    author: str | None = None,
    site: str | None = None,
    published: datetime | date | None = None,
) -> str:
    """The whole clean-text document: title line, byline line (if anything is known), body."""
    parts = [_one_line(title)]
    byline = render_byline(author=author, site=site, published=published)
    if byline:
        parts.append(byline)
    text = normalise_body(body)
    if text:
        parts.append(text)
    return "\n\n".join(parts) + "\n"


def render_byline(
    *, author: str | None = None, site: str | None = None, published: datetime | date | None = None
) -> str:
    """`By Author · Site · 2023-09-29`, with only the known parts; "" when nothing is known."""
    parts = []
    if author and author.strip():
        parts.append(f"By {_one_line(author)}")
    if site and site.strip():
        parts.append(_one_line(site))
    if published is not None:
        day = published.date() if isinstance(published, datetime) else published
        parts.append(day.isoformat())
    return BYLINE_SEPARATOR.join(parts)


def normalise_body(text: str) -> str:
    """Whitespace normalisation to the format: NBSP → space (zero-width spaces and soft hyphens
    removed), no trailing spaces, no runs of blank lines (one blank line at most), no leading or
    trailing blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_NBSP)
    text = _TRAILING_SPACE.sub("", text)
    text = _BLANK_RUN.sub("\n\n", text)
    return text.strip("\n").strip()


def parse_document(text: str) -> ParsedDocument:
    """Read a clean-text document back; tolerant of the seed files' variations (module doc)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").translate(_NBSP).split("\n")
    title: str | None = None
    author: str | None = None
    site: str | None = None
    published: date | None = None
    consumed: set[int] = set()
    seen = 0
    first = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    for index in range(first, len(lines)):
        line = lines[index].strip()
        if not line:
            continue
        seen += 1
        if seen > _HEADER_LINES:
            break
        if title is None:
            byline = _parse_byline(line, lenient=False)
            if byline:
                author, site, published = byline
                consumed.add(index)
                continue
            day = parse_date_line(line)
            if day and published is None:
                published = day
                consumed.add(index)
                continue
            title = _HEADING.sub("", line).strip()
            consumed.add(index)
            continue
        if _repeats(line, title):
            consumed.add(index)
            continue
        # Right under a title that opens the file is where this module's own writer puts the
        # byline: a "By …" line, a "… · …" line, a date or a lone site name there is one, and
        # the body follows it.
        canonical = index == first + 2 == 2 and not lines[1].strip()
        if published is None and (day := parse_date_line(line)) is not None:
            published = day
            consumed.add(index)
            if canonical:
                break
            continue
        if author is None and site is None:
            byline = _parse_byline(line, lenient=canonical)
            if byline:
                author, site, day = byline
                published = day or published
                consumed.add(index)
                if canonical:
                    break
                continue
        if len(line.split()) >= _PROSE_WORDS or ((author or site) and published):
            break
    body = "\n".join(line for i, line in enumerate(lines) if i not in consumed and i >= first)
    return ParsedDocument(
        title=title or "",
        body=normalise_body(body),
        author=author,
        site=site,
        published=published,
    )


_IS_A_BIO = re.compile(r"\s+(?:is|was)\s+(?:a|an|the)\s.*$", re.I)


def clean_author(name: str | None) -> str | None:
    """An author name as a byline shows it: no "By", no links, no job titles ("Jane Doe, Senior
    Correspondent" → "Jane Doe"). Several authors stay separated by "; "."""
    if not name:
        return None
    name = _one_line(_MD_EMPHASIS.sub("", _MD_LINK.sub(r"\1", name)))
    found = _BY.match(name)
    if found:
        name = found["rest"].strip()
    # "Phil Helsel is a reporter for NBC News" (a bio where a name should be) → "Phil Helsel"
    name = _IS_A_BIO.sub("", name)
    parts = [
        [
            seg
            for s in _AUTHOR_SEGMENTS.split(part)
            if (seg := _DATE_TAIL.sub("", s).strip(" ,:|-–—"))
        ]
        for part in name.split(";")
    ]
    # Job titles go when a name is left ("Jane Doe, Staff Writer"), not when they are all there is
    # ("Wire staff").
    named = any(not _JOB_WORDS.search(seg) for segments in parts for seg in segments)
    kept: list[str] = []
    for segments in parts:
        author = ", ".join(s for s in segments if not (named and _JOB_WORDS.search(s)))
        if author and author not in kept:
            kept.append(author)
    return "; ".join(kept) or None


def parse_date_line(line: str) -> date | None:
    """A line that is a date and nothing else ("Fri Sep 29 2023", "September 29, 2023",
    "Published: 29.09.2023 14:05 GMT"), as a date; None for anything else."""
    line = _DATE_PREFIX.sub("", _MD_EMPHASIS.sub("", line).strip())
    if len(line) > 60 or not _YEAR.search(line):
        return None
    iso = _ISO_TIMESTAMP.match(line)
    if iso:
        try:
            return date.fromisoformat(iso[1])
        except ValueError:
            return None
    words = [w for w in re.split(r"[\s,/|]+", line) if w]
    if not words or len(words) > 8:
        return None
    has_month = False
    for word in words:
        bare = word.strip(".()-–—:")
        if not bare or re.fullmatch(r"[\d:.+\-–/]+(?:st|nd|rd|th|h)?", bare, re.I):
            continue
        if not _DATE_WORDS.match(bare):
            return None
        has_month = has_month or re.fullmatch(_MONTH, bare.rstrip("."), re.I) is not None
    if not has_month and not _NUMERIC_DATE.search(line):
        return None
    try:
        parsed = dateparser.parse(line, fuzzy=True, ignoretz=True, default=datetime(2000, 1, 1))
    except (ValueError, OverflowError):
        return None
    return parsed.date() if parsed is not None and 1900 <= parsed.year <= 2100 else None


def _parse_byline(line: str, *, lenient: bool) -> tuple[str | None, str | None, date | None] | None:
    """(author, site, date) of a byline line, or None when the line is not one.

    Lenient (the line sits where the writer puts its byline) accepts any "By …" line and any
    "A · B" line; otherwise the name after "By" must look like a name.
    """
    line = _MD_EMPHASIS.sub("", _MD_LINK.sub(r"\1", line)).strip()
    if len(line) > 160:
        return None
    if BYLINE_SEPARATOR.strip() in line:
        return _parse_dotted(line, lenient=lenient)
    found = _BY.match(line)
    if found is None:
        if lenient and _looks_like_site(line):
            return None, line, None
        return None
    rest = found["rest"].strip()
    when: date | None = None
    split = _WHO_THEN_DATE.match(rest)
    if split:
        when = parse_date_line(split["when"])
        if when is not None:
            rest = split["who"].strip()
    if not rest or not (_looks_like_names(rest) or (lenient and _is_short_label(rest))):
        return None
    author, site = _author_and_site(rest)
    return author, site, when


def _parse_dotted(line: str, *, lenient: bool) -> tuple[str | None, str | None, date | None] | None:
    author = site = None
    when: date | None = None
    for part in (p.strip() for p in line.split(BYLINE_SEPARATOR.strip())):
        if not part:
            continue
        found = _BY.match(part)
        if found and author is None:
            author = found["rest"].strip()
        elif when is None and (day := _iso_or_date_line(part)) is not None:
            when = day
        elif site is None:
            site = part
        else:
            return None
    if not lenient and author is None and when is None:
        return None
    return author, site, when


def _iso_or_date_line(text: str) -> date | None:
    if _ISO_DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    return parse_date_line(text)


def _author_and_site(who: str) -> tuple[str | None, str | None]:
    """ "Vladimir Isachenkov, Associated Press" → author and site; job titles are dropped."""
    pieces = [p.strip() for p in who.split(",") if p.strip()]
    if len(pieces) == 2 and " and " not in who:
        name, other = pieces
        if _JOB_WORDS.search(other):
            return name, None
        return name, other
    return clean_author(who), None


def _looks_like_names(text: str) -> bool:
    """ "Jane Doe", "AFP", "Jane Doe and John Roe, Reuters": capitalised words, not prose."""
    words = text.replace(",", " ").split()
    if not words or len(words) > 10 or (_SENTENCE_END.search(text) and not text.endswith(".")):
        return False
    named = 0
    for word in words:
        if word.lower() in _NAME_CONNECTORS:
            continue
        if not (word[0].isupper() or word[0].isdigit()):
            return False
        named += 1
    return named > 0


def _is_short_label(text: str) -> bool:
    """Few words and no sentence punctuation: "staff", "the newsroom", not a sentence."""
    return len(text.split()) <= 6 and _SENTENCE_END.search(text) is None


def _looks_like_site(line: str) -> bool:
    """A site name alone on the byline line: "The Daily Ledger", "Associated Press", "bbc.com"."""
    words = line.split()
    if not words or len(words) > 6 or len(line) > 60 or _SENTENCE_END.search(line):
        return False
    if line.startswith(("- ", "* ", "[", "#", ">")):
        return False
    if re.fullmatch(r"[\w.-]+\.[a-z]{2,}", line, re.I):
        return True
    return _looks_like_names(line)


def _repeats(line: str, title: str) -> bool:
    """The headline again, in another case or repeated ("Title Case Title Title Case Title")."""
    wanted = _SPACES.sub(" ", title).casefold().strip()
    seen = _SPACES.sub(" ", _HEADING.sub("", line)).casefold().strip()
    if not wanted or not seen.startswith(wanted):
        return False
    return not seen.replace(wanted, "").strip()


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text.translate(_NBSP)).strip()
