"""Composing a digest email: the items of one watch → one reproducible multipart message.

Plain functions on plain data. `compose_digest` renders the two Jinja2 templates in
`alerts/templates/` (the HTML one autoescaped, the text one not) into one
multipart/alternative `EmailMessage`. Everything in the message derives from the arguments —
the Date comes from `now`, the Message-ID from the watch and the article ids, the MIME
boundary from a hash of the content — so composing the same digest twice gives the same bytes,
and `digest.message.as_bytes()` is what is stored before sending and re-sent after a crash.
"""

from __future__ import annotations

import email.policy
import hashlib
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
TEXT_TEMPLATE = "digest.txt.j2"
HTML_TEMPLATE = "digest.html.j2"

# Header lines are folded by the policy; bodies go out quoted-printable, so the bytes are 7-bit
# clean and need neither 8BITMIME nor SMTPUTF8 from the server.
POLICY = email.policy.SMTP
FALLBACK_DOMAIN = "newsmon.invalid"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class DigestItem:
    """One article of a digest, as the caller selected it."""

    article_id: int
    title: str
    url: str
    site: str | None
    published: datetime | None
    excerpt: str  # see excerpt()
    matched: tuple[str, ...]  # query terms found in the article
    story_id: int | None = None


@dataclass(frozen=True)
class DigestEntry:
    """One entry of a digest: a story (several articles) or a single article."""

    title: str
    url: str
    site: str | None
    published: datetime | None
    excerpt: str
    matched: tuple[str, ...]  # union over the sources, first-seen order
    sources: tuple[DigestItem, ...]  # the lead article first
    story_id: int | None = None

    @property
    def is_story(self) -> bool:
        return len(self.sources) > 1


@dataclass(frozen=True)
class Digest:
    watch: str
    subject: str
    recipients: tuple[str, ...]
    sender: str
    message_id: str
    items: tuple[DigestItem, ...]
    message: EmailMessage


# --- excerpt ---------------------------------------------------------------------------------

_IMAGE = re.compile(r"!\[[^\]]*\]\((?:[^()\s]|\([^()\s]*\))*\)")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()\s]*\))*\)")
_LINE_MARKER = re.compile(r"^\s*(?:#{1,6}\s+|>\s?|(?:[-*+•]|\d{1,3}[.)])\s+)+")
_BOLD = re.compile(r"(\*\*|__)(\S(?:.*?\S)?)\1")
_SPACES = re.compile(r"\s+")
_TERMINAL = ".!?…:;"
_CLOSERS = "\"'”’»)]"
# A sentence ends at . ! ? … (plus closing quotes/brackets) followed by space and a capital,
# a digit or an opening quote.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*\s+(?=[\"“‘«(\[]?[A-Z0-9À-ÖØ-Þ])")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "gen", "col", "lt", "sgt", "capt", "maj", "sen", "rep"}
    | {"gov", "prof", "jr", "sr", "vs", "no", "fig", "inc", "ltd", "co", "corp"}
)


def _plain_chunks(body: str) -> list[str]:
    """Paragraphs and list items of a clean-text body as single lines of plain text."""
    chunks: list[str] = []
    for paragraph in re.split(r"\n\s*\n", body.replace("\r\n", "\n")):
        lines: list[str] = []
        for raw in paragraph.split("\n"):
            is_item = bool(_LINE_MARKER.match(raw))
            line = _LINE_MARKER.sub("", raw)
            line = _LINK.sub(r"\1", _IMAGE.sub("", line))
            line = _BOLD.sub(r"\2", line)
            line = _SPACES.sub(" ", line).strip()
            if not line:
                continue
            if is_item or not lines:
                lines.append(line)
            else:
                lines[-1] = f"{lines[-1]} {line}"
        chunks.extend(lines)
    # A heading-like paragraph or a list item without final punctuation would run into the next
    # one; end it so it reads (and splits) as a sentence.
    return [c if c.rstrip(_CLOSERS)[-1:] in _TERMINAL else f"{c}." for c in chunks if c]


def _sentences(text: str) -> list[str]:
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        words = text[start : match.start()].rsplit(None, 1)
        if words and words[-1].lower().rstrip(".") in _ABBREVIATIONS and match.group()[0] == ".":
            continue
        if words and re.fullmatch(r"(?:[A-Za-z]\.)*[A-Za-z]", words[-1]):
            continue  # "U.S" of "U.S. officials", an initial such as "J." of "J. Smith"
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def _cut(text: str, max_chars: int) -> str:
    """Cut at a word boundary to at most max_chars, the last one being "…"."""
    if len(text) <= max_chars:
        return text
    room = max_chars - 1
    head = text[:room]
    if text[room] != " ":
        space = head.rfind(" ")
        if space >= room // 2:
            head = head[:space]
    return head.rstrip(" ,;:-–—(/") + "…"


def excerpt(body: str, max_chars: int = 280) -> str:
    """A short plain-text excerpt (~2 lines) of a clean-text body.

    Markdown links `[text](url)` become their text, images and list/heading/quote markers are
    dropped, whitespace is collapsed. Whole first sentences are kept while they fit in
    max_chars; when they would make less than half of it, the text is cut at a word boundary
    instead, ending with "…". The result is never longer than max_chars.
    """
    if max_chars < 2:
        raise ValueError(f"max_chars must be at least 2, not {max_chars}")
    text = " ".join(_plain_chunks(body))
    if len(text) <= max_chars:
        return text
    kept = ""
    for sentence in _sentences(text):
        candidate = f"{kept} {sentence}" if kept else sentence
        if len(candidate) > max_chars:
            break
        kept = candidate
    if len(kept) >= max_chars // 2:
        return kept
    return _cut(text, max_chars)


# --- Message-ID ------------------------------------------------------------------------------


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:64].strip("-") or "watch"


def sender_domain(sender: str) -> str:
    """The domain of an address such as "newsmon <alerts@example.org>"."""
    _, address = parseaddr(sender)
    domain = address.rpartition("@")[2].strip().strip("[]").lower() if "@" in address else ""
    domain = re.sub(r"[^a-z0-9.\-]", "", domain)
    return domain or FALLBACK_DOMAIN


def make_message_id(watch: str, article_ids: Sequence[int], domain: str) -> str:
    """A Message-ID that depends only on the watch and the set of article ids.

    `<digest.{watch-slug}.{first 16 hex of sha256 of the sorted ids}@{domain}>`: composing the
    digest of the same items again (after a crash) gives the same id; other items another one.
    """
    ids = sorted({int(i) for i in article_ids})
    digest = hashlib.sha256(",".join(map(str, ids)).encode("ascii")).hexdigest()[:16]
    return f"<digest.{_slug(watch)}.{digest}@{domain or FALLBACK_DOMAIN}>"


# --- composing -------------------------------------------------------------------------------


def format_date(value: datetime | None) -> str:
    """'23 Nov 2026', independent of the locale; '' for None."""
    if value is None:
        return ""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _clean_item(item: DigestItem) -> DigestItem:
    return DigestItem(
        article_id=item.article_id,
        title=_one_line(item.title) or item.url,
        url=item.url.strip(),
        site=_one_line(item.site) if item.site else None,
        published=item.published,
        excerpt=_one_line(item.excerpt),
        matched=tuple(dict.fromkeys(t for t in (_one_line(m) for m in item.matched) if t)),
        story_id=item.story_id,
    )


def group_entries(items: Sequence[DigestItem]) -> list[DigestEntry]:
    """One entry per story (items sharing a story_id), else one per article, in input order.

    A story's lead is its first item in the input: its title, link, date and excerpt stand for
    the story; every item of the story is listed as a source. Repeated article ids count once.
    """
    groups: dict[tuple[str, int], list[DigestItem]] = {}
    seen: set[int] = set()
    for item in items:
        if item.article_id in seen:
            continue
        seen.add(item.article_id)
        story = item.story_id
        key = ("story", story) if story is not None else ("article", item.article_id)
        groups.setdefault(key, []).append(item)
    entries = []
    for sources in groups.values():
        lead = sources[0]
        matched = tuple(dict.fromkeys(term for s in sources for term in s.matched))
        entries.append(
            DigestEntry(
                title=lead.title,
                url=lead.url,
                site=lead.site,
                published=lead.published,
                excerpt=lead.excerpt or next((s.excerpt for s in sources if s.excerpt), ""),
                matched=matched,
                sources=tuple(sources),
                story_id=lead.story_id,
            )
        )
    return entries


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _summary(articles: int, entries: int) -> str:
    if articles == 0:
        return "no new articles"
    text = f"{_count(articles, 'new article')}"
    if entries != articles:
        text += f" in {_count(entries, 'story', 'stories')}"
    return text


def make_subject(watch: str, articles: int, entries: int, now: datetime) -> str:
    return f"newsmon · {watch}: {_summary(articles, entries)} — {format_date(now)}"


def _href(url: str) -> str | None:
    """The URL if it is safe to put in an HTML link (http, https, mailto), else None."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https", "mailto") else None


def _wrap(text: str, indent: int = 0, width: int = 76) -> str:
    pad = " " * indent
    return textwrap.fill(
        text,
        width=width,
        initial_indent=pad,
        subsequent_indent=pad,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _meta(site: str | None, published: datetime | None) -> str:
    return " · ".join(part for part in (site, format_date(published)) if part)


@lru_cache(maxsize=1)
def template_environment() -> Environment:
    """Jinja2 environment on alerts/templates: `*.html.j2` autoescaped, `*.txt.j2` not."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2"),
            disabled_extensions=("txt", "txt.j2"),
            default_for_string=True,
            default=False,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = format_date
    env.filters["wrap"] = _wrap
    env.filters["href"] = _href
    env.globals["meta"] = _meta
    return env


def render_parts(context: dict) -> tuple[str, str]:
    """The text/plain and text/html bodies for a template context."""
    env = template_environment()
    text = env.get_template(TEXT_TEMPLATE).render(context)
    html = env.get_template(HTML_TEMPLATE).render(context)
    return text, html


def compose_digest(
    watch: str,
    items: Sequence[DigestItem],
    *,
    sender: str,
    recipients: Sequence[str],
    now: datetime,
    footer_notes: Sequence[str] = (),
) -> Digest:
    """One multipart/alternative email (text + HTML) listing the items of one watch.

    Stories (items sharing a story_id) make one entry with every article as a source; other
    items one entry each, in input order. `footer_notes` (e.g. failing feeds) appear in a footer
    of both parts. The result depends only on the arguments, byte for byte. A naive `now` is
    taken as UTC.
    """
    recipients = tuple(r.strip() for r in recipients if r.strip())
    if not recipients:
        raise ValueError("a digest needs at least one recipient")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    cleaned = [_clean_item(i) for i in items]
    entries = group_entries(cleaned)
    kept = tuple(s for e in entries for s in e.sources)
    subject = make_subject(watch, len(kept), len(entries), now)
    message_id = make_message_id(watch, [i.article_id for i in kept], sender_domain(sender))
    notes = [n for n in (_one_line(n) for n in footer_notes) if n]
    context = {
        "watch": watch,
        "subject": subject,
        "summary": _summary(len(kept), len(entries)),
        "date": format_date(now),
        "sent_at": now.strftime("%Y-%m-%d %H:%M %Z").strip(),
        "entries": entries,
        "notes": notes,
    }
    text, html = render_parts(context)

    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    # The generator would pick a random boundary; derive it from the content instead so the
    # same digest always serialises to the same bytes.
    seed = "\0".join((message_id, subject, text, html)).encode("utf-8")
    message.set_boundary(f"=_newsmon_{hashlib.sha256(seed).hexdigest()[:32]}")

    return Digest(
        watch=watch,
        subject=subject,
        recipients=recipients,
        sender=sender,
        message_id=message_id,
        items=kept,
        message=message,
    )
