"""Composing a digest email: the items of one watch → one reproducible multipart message.

Plain functions on plain data. `compose_digest` groups the items into stories (items sharing a
`story_id`), orders them by size then recency, and renders the Jinja2 templates in
`alerts/templates/` (the HTML one autoescaped, the text one not) into one
multipart/alternative `EmailMessage`; `digest_markdown` renders the same content as Markdown
(for a Prefect artifact). Everything in the message derives from the arguments —
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
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
TEXT_TEMPLATE = "digest.txt.j2"
HTML_TEMPLATE = "digest.html.j2"
MARKDOWN_TEMPLATE = "digest.md.j2"

# With no multi-source story in a digest, up to this many single articles are shown in full;
# the rest (and, when there are stories, every single article) go to the compact
# "Also matched" list.
FULL_SINGLETONS = 10

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
    # Sent in an earlier digest: pass the earlier sources of a story along with its new ones,
    # flagged so, and the story is shown as an update ("new since last digest: N sources").
    # Such items are shown but not delivered again (they are not in `Digest.items`).
    previously_delivered: bool = False


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

    @property
    def new_sources(self) -> tuple[DigestItem, ...]:
        """The sources not delivered before: what this digest delivers of the entry."""
        return tuple(s for s in self.sources if not s.previously_delivered)

    @property
    def is_update(self) -> bool:
        """A story delivered before that grew: some sources are old, some new."""
        return any(s.previously_delivered for s in self.sources) and bool(self.new_sources)

    @property
    def latest(self) -> datetime | None:
        """The most recent publication date of the sources (None if none is known)."""
        dates = [_utc(s.published) for s in self.sources if s.published is not None]
        return max(dates) if dates else None


@dataclass(frozen=True)
class DigestLayout:
    """What a digest shows, in order; the templates render exactly this."""

    watch: str
    title: str  # "Russia–Taliban"
    summary: str  # "2 stories, 7 articles"
    date: str  # "23 Nov 2026"
    sent_at: str  # "2026-11-23 07:30 UTC"
    entries: tuple[DigestEntry, ...]  # shown in full: stories by size then recency
    also: tuple[DigestEntry, ...]  # single articles in the compact "Also matched" list
    notes: tuple[str, ...]  # feed and extraction health problems
    unsubscribe: str | None  # a mailto: URL, or None


@dataclass(frozen=True)
class Digest:
    watch: str
    subject: str
    recipients: tuple[str, ...]
    sender: str
    message_id: str
    items: tuple[DigestItem, ...]  # the articles this digest delivers (not previously delivered)
    message: EmailMessage
    layout: DigestLayout
    text: str  # the text/plain part
    html: str  # the text/html part


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


def excerpt(body: str, max_chars: int = 360, max_sentences: int = 3) -> str:
    """A short plain-text lead (2–3 sentences) of a clean-text body.

    Markdown links `[text](url)` become their text, images and list/heading/quote markers are
    dropped, whitespace is collapsed. Whole first sentences (at most max_sentences) are kept
    while they fit in max_chars; when they would make less than half of it, the text is cut at
    a word boundary instead, ending with "…". The result is never longer than max_chars.
    """
    if max_chars < 2:
        raise ValueError(f"max_chars must be at least 2, not {max_chars}")
    text = " ".join(_plain_chunks(body))
    sentences = _sentences(text)
    if len(text) <= max_chars:
        return text if len(sentences) <= max_sentences else " ".join(sentences[:max_sentences])
    kept, count = "", 0
    for sentence in sentences[:max_sentences]:
        candidate = f"{kept} {sentence}" if kept else sentence
        if len(candidate) > max_chars:
            break
        kept, count = candidate, count + 1
    if kept and (len(kept) >= max_chars // 2 or count == max_sentences):
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


# --- grouping and ordering -------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    """An aware datetime in UTC (a naive one is taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
        previously_delivered=item.previously_delivered,
    )


def _published_key(item: DigestItem) -> tuple[bool, datetime]:
    """Oldest first, unknown dates last."""
    if item.published is None:
        return (True, datetime.max.replace(tzinfo=UTC))
    return (False, _utc(item.published))


def group_entries(items: Sequence[DigestItem]) -> list[DigestEntry]:
    """One entry per story (items sharing a story_id), else one per article, in input order.

    A story's lead is its first previously delivered item (so an update keeps the headline it
    was sent with), else its first item in the input — put the original first: its title,
    link, date and excerpt stand for the story. The other sources follow, oldest first. A
    story with nothing new (every item previously delivered) makes no entry. Repeated article
    ids count once.
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
    for group in groups.values():
        if all(s.previously_delivered for s in group):
            continue
        lead = next((s for s in group if s.previously_delivered), group[0])
        others = sorted((s for s in group if s is not lead), key=_published_key)
        sources = (lead, *others)
        matched = tuple(dict.fromkeys(term for s in sources for term in s.matched))
        entries.append(
            DigestEntry(
                title=lead.title,
                url=lead.url,
                site=lead.site,
                published=lead.published,
                excerpt=lead.excerpt or next((s.excerpt for s in sources if s.excerpt), ""),
                matched=matched,
                sources=sources,
                story_id=lead.story_id,
            )
        )
    return entries


def order_entries(entries: Sequence[DigestEntry]) -> list[DigestEntry]:
    """Biggest stories first (number of sources), then the most recent; ties keep their order."""

    def key(entry: DigestEntry) -> tuple[int, float]:
        latest = entry.latest
        return (-len(entry.sources), -latest.timestamp() if latest else float("inf"))

    return sorted(entries, key=key)


def split_entries(
    entries: Sequence[DigestEntry],
) -> tuple[tuple[DigestEntry, ...], tuple[DigestEntry, ...]]:
    """(shown in full, compact "Also matched" list) of ordered entries.

    With multi-source stories, the stories are shown in full and single articles go to the
    compact list. Without any, a digest of single articles still reads well: the first
    FULL_SINGLETONS are shown in full, only the rest in the compact list.
    """
    stories = tuple(e for e in entries if e.is_story)
    singles = tuple(e for e in entries if not e.is_story)
    if stories:
        return stories, singles
    return singles[:FULL_SINGLETONS], singles[FULL_SINGLETONS:]


# --- subject and wording ---------------------------------------------------------------------


def format_date(value: datetime | None) -> str:
    """'23 Nov 2026', independent of the locale; '' for None."""
    if value is None:
        return ""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


def format_short_date(value: datetime) -> str:
    """'23 Nov'."""
    return f"{value.day} {_MONTHS[value.month - 1]}"


def format_time(value: datetime | None) -> str:
    """'22 Nov 18:05' in UTC; just '22 Nov' at midnight (feeds often give dates only)."""
    if value is None:
        return ""
    value = _utc(value)
    day = format_short_date(value)
    if (value.hour, value.minute, value.second) == (0, 0, 0):
        return day
    return f"{day} {value:%H:%M}"


def watch_title(watch: str) -> str:
    """A display title from a watch name: "russia-taliban" → "Russia–Taliban"."""
    parts = [p for p in re.split(r"[-_\s]+", watch.strip()) if p]
    return "–".join(p[:1].upper() + p[1:] for p in parts) or watch.strip() or "newsmon"


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def summarise(stories: int, articles: int) -> str:
    """'3 articles', '1 story, 4 articles', 'no new articles'."""
    if articles == 0:
        return "no new articles"
    counted = _count(articles, "article")
    return f"{_count(stories, 'story', 'stories')}, {counted}" if stories else counted


def make_subject(title: str, stories: int, articles: int, now: datetime) -> str:
    """'Russia–Taliban: 4 stories, 11 articles — 23 Nov'."""
    return f"{title}: {summarise(stories, articles)} — {format_short_date(now)}"


def unsubscribe_url(sender: str, watch: str) -> str | None:
    """`mailto:<sender>?subject=unsubscribe%20<watch>`, or None without a sender address."""
    _, address = parseaddr(sender)
    if "@" not in address or any(c in address for c in "<>\"' \t\r\n"):
        return None
    return f"mailto:{address}?subject={quote('unsubscribe ' + watch, safe='')}"


# --- rendering -------------------------------------------------------------------------------


def _href(url: str) -> str | None:
    """The URL if it is safe to put in an HTML link (http, https, mailto), else None."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https", "mailto") else None


def outlet(item: DigestItem | DigestEntry) -> str:
    """The site name, else the host of the URL without "www."."""
    if item.site:
        return item.site
    try:
        host = urlsplit(item.url).hostname or ""
    except ValueError:
        host = ""
    return host.removeprefix("www.")


def _wrap(text: str, indent: int = 0, hang: int | None = None, width: int = 76) -> str:
    return textwrap.fill(
        text,
        width=width,
        initial_indent=" " * indent,
        subsequent_indent=" " * (indent if hang is None else hang),
        break_long_words=False,
        break_on_hyphens=False,
    )


def _meta(site: str | None, published: datetime | None) -> str:
    return " · ".join(part for part in (site, format_date(published)) if part)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def _md(text: str) -> str:
    """Text with every Markdown-special character backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_url(url: str) -> str:
    """A link destination for Markdown: `<url>`, the characters it cannot hold %-encoded."""
    return "<" + quote(url, safe="/:?#[]@!$&'()*+,;=%~.-_") + ">"


@lru_cache(maxsize=1)
def template_environment() -> Environment:
    """Jinja2 environment on alerts/templates: `*.html.j2` autoescaped, the others not."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(
            enabled_extensions=("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2"),
            disabled_extensions=("txt", "txt.j2", "md", "md.j2"),
            default_for_string=True,
            default=False,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = format_date
    env.filters["time"] = format_time
    env.filters["wrap"] = _wrap
    env.filters["href"] = _href
    env.filters["md"] = _md
    env.filters["md_url"] = _md_url
    env.globals["meta"] = _meta
    env.globals["outlet"] = outlet
    env.globals["count"] = _count
    return env


def _context(layout: DigestLayout, subject: str) -> dict:
    return {"subject": subject, "layout": layout, **vars(layout)}


def render_parts(context: dict) -> tuple[str, str]:
    """The text/plain and text/html bodies for a template context."""
    env = template_environment()
    text = env.get_template(TEXT_TEMPLATE).render(context)
    html = env.get_template(HTML_TEMPLATE).render(context)
    return text, html


def digest_markdown(digest: Digest) -> str:
    """The digest as Markdown (the same content as the email), e.g. for a Prefect artifact."""
    context = _context(digest.layout, digest.subject)
    return template_environment().get_template(MARKDOWN_TEMPLATE).render(context)


def compose_digest(
    watch: str,
    items: Sequence[DigestItem],
    *,
    sender: str,
    recipients: Sequence[str],
    now: datetime,
    footer_notes: Sequence[str] = (),
    title: str | None = None,
) -> Digest:
    """One multipart/alternative email (text + HTML) listing the items of one watch.

    Stories (items sharing a story_id) make one entry with every article as a source, ordered
    by size then recency; single articles follow in a compact "Also matched" list when there
    are stories, else are shown in full (see split_entries). Items flagged
    `previously_delivered` only give context to an update of their story. `footer_notes`
    (e.g. failing feeds) appear in a footer of both parts. `title` is the watch's display
    title (default: the name humanised, "russia-taliban" → "Russia–Taliban"). The subject reads
    "Russia–Taliban: 2 stories, 7 articles — 23 Nov". The result depends only on the
    arguments, byte for byte. A naive `now` is taken as UTC.
    """
    recipients = tuple(r.strip() for r in recipients if r.strip())
    if not recipients:
        raise ValueError("a digest needs at least one recipient")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    display = _one_line(title or "") or watch_title(watch)
    entries = order_entries(group_entries([_clean_item(i) for i in items]))
    shown, also = split_entries(entries)
    delivered = tuple(s for e in entries for s in e.new_sources)
    stories = sum(1 for e in entries if e.is_story)
    subject = make_subject(display, stories, len(delivered), now)
    message_id = make_message_id(watch, [i.article_id for i in delivered], sender_domain(sender))
    unsubscribe = unsubscribe_url(sender, watch)
    layout = DigestLayout(
        watch=watch,
        title=display,
        summary=summarise(stories, len(delivered)),
        date=format_date(now),
        sent_at=now.strftime("%Y-%m-%d %H:%M %Z").strip(),
        entries=shown,
        also=also,
        notes=tuple(n for n in (_one_line(n) for n in footer_notes) if n),
        unsubscribe=unsubscribe,
    )
    text, html = render_parts(_context(layout, subject))

    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    if unsubscribe:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
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
        items=delivered,
        message=message,
        layout=layout,
        text=text,
        html=html,
    )
