"""The pipeline, written once: feeds → entries → pages → articles → corpus, and corpus → digest.

Every step is a plain function on plain data. `poll_watch` and `send_watch_digest` put the steps
in order; the Prefect flows pass task-wrapped versions of the same steps (see flows/poll.py), so
the order lives here and nowhere else. One failing feed or page is recorded with its reason and
never stops the rest.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import make_msgid
from typing import TypeVar

from alerts.delivery import DeliveryError
from alerts.digest import (
    Digest,
    DigestItem,
    compose_digest,
    digest_markdown,
    excerpt,
    sender_domain,
)
from alerts.notify import StoryLine, story_list
from extractors.article import ExtractionError, extract_article
from extractors.cleantext import render_document
from extractors.extraction_health import FAILED, outcome_of
from extractors.feeds import poll_feeds
from extractors.http import FetchError, fetch_pages
from extractors.records import Article, FeedEntry, FeedPoll, FetchResult, RelevanceMatch
from extractors.relevance import match_article
from extractors.site_templates import block_samples, site_of, strip_template
from flows.delivery import deliver, notify_channels
from flows.settings import Settings, WatchSettings
from storage import ingest
from storage.repository import ArticleRecord, Corpus, DigestRecord, NewArticle

log = logging.getLogger("newsmon")
_T = TypeVar("_T")

# Below this many pages a process pool costs more to start than it saves.
POOL_MIN_PAGES = 16


@dataclass(frozen=True)
class FeedReport:
    url: str
    status: str  # ok | not_modified | error
    new_entries: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class PageFailure:
    url: str
    feed_url: str
    reason: str


@dataclass
class BatchResult:
    fetched: int = 0
    stored: int = 0  # new articles, originals and duplicates
    duplicates: int = 0
    already_known: int = 0  # same canonical URL as a stored article
    relevant: dict[str, int] = field(default_factory=dict)  # watch → new relevant originals
    failures: list[PageFailure] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        self.fetched += other.fetched
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.already_known += other.already_known
        for watch, count in other.relevant.items():
            self.relevant[watch] = self.relevant.get(watch, 0) + count
        self.failures.extend(other.failures)


@dataclass(frozen=True)
class PollSummary:
    watch: str
    feeds: tuple[FeedReport, ...]
    articles: BatchResult

    @property
    def failed_feeds(self) -> list[FeedReport]:
        return [f for f in self.feeds if f.status == "error"]

    @property
    def relevant(self) -> int:
        return self.articles.relevant.get(self.watch, 0)


# --- poll ------------------------------------------------------------------------------------


def poll_watch_feeds(
    settings: Settings, corpus: Corpus, feed_urls: Sequence[str]
) -> list[FeedPoll]:
    """Conditional GET of every feed (concurrently); each outcome is recorded in the corpus."""
    states = {url: corpus.feed_state(url) for url in feed_urls}
    requests = [
        (url, state.etag if state else None, state.last_modified if state else None)
        for url, state in states.items()
    ]
    polls = asyncio.run(poll_feeds(settings.fetch.limits(), requests))
    for poll in polls:
        if poll.status == "error":
            log.warning(
                "feed %s failed: %s", poll.feed_url, poll.error, extra={"feed_url": poll.feed_url}
            )
    return polls


def select_new_entries(corpus: Corpus, polls: Sequence[FeedPoll]) -> list[FeedEntry]:
    """Entries whose page was never fetched, oldest first (so an original precedes its copies).

    Records each feed's poll with its count of new entries.
    """
    chosen: dict[str, FeedEntry] = {}
    for poll in polls:
        unseen = set(corpus.unseen_urls([e.url for e in poll.entries]))
        fresh = [e for e in poll.entries if e.url in unseen and e.url not in chosen]
        corpus.record_poll(poll, new_entries=len(fresh))
        chosen.update((e.url, e) for e in fresh)
    oldest = datetime.max.replace(tzinfo=UTC)
    return sorted(chosen.values(), key=lambda e: (e.published or oldest, e.url))


def ingest_entries(settings: Settings, corpus: Corpus, entries: Sequence[FeedEntry]) -> BatchResult:
    """Fetch, extract, match and store one batch of entries."""
    result = BatchResult()
    pages = asyncio.run(fetch_pages(settings.fetch.limits(), [e.url for e in entries]))
    fetched: list[tuple[FeedEntry, FetchResult]] = []
    for entry, page in zip(entries, pages, strict=True):
        if isinstance(page, FetchError):
            _fail(corpus, result, entry, page.reason)
        else:
            fetched.append((entry, page))
    result.fetched = len(fetched)
    extracted = extract_many([(page.content, page.final_url) for _, page in fetched])
    kept: list[tuple[FeedEntry, NewArticle]] = []
    for (entry, page), extracted_article in zip(fetched, extracted, strict=True):
        site = site_of(page.final_url)
        if isinstance(extracted_article, ExtractionError):
            corpus.sites.record_page(site, FAILED, reason=extracted_article.reason)
            _fail(corpus, result, entry, extracted_article.reason)
            continue
        article = finish_article(extracted_article, entry, corpus.sites.template(site))
        # The template is learnt from pages as extracted (template blocks included); health is
        # judged on the body that is kept.
        samples = block_samples(extracted_article.body)
        corpus.sites.record_page(
            site, outcome_of(article.body), block_keys=list(samples), samples=samples
        )
        item = NewArticle(
            article, "feed", feed_url=entry.feed_url, raw_html=page.content, fetched_url=entry.url
        )
        kept.append((entry, item))
    # One transaction for the batch (at a million articles one per article cost ~25 ms each).
    stored = store_articles(settings, corpus, [item for _, item in kept], result=result)
    for (entry, _), article_id in zip(kept, stored, strict=True):
        log.info(
            "stored as article #%s",
            article_id,
            extra={"feed_url": entry.feed_url, "entry_url": entry.url},
        )
    return result


def extract_many(pages: Sequence[tuple[bytes, str]]) -> list[Article | ExtractionError]:
    """Extract articles from (html, url) pairs; CPU-bound, so large batches use all cores."""
    if len(pages) < POOL_MIN_PAGES or (os.cpu_count() or 1) < 2:
        return [_extract_or_error(p) for p in pages]
    # forkserver: forking a process that runs Prefect's threads and event loops can deadlock.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=context) as pool:
        return list(pool.map(_extract_or_error, pages, chunksize=8))


def _extract_or_error(page: tuple[bytes, str]) -> Article | ExtractionError:
    html, url = page
    try:
        return extract_article(html, url)
    except ExtractionError as exc:
        return exc


def store_article(
    settings: Settings,
    corpus: Corpus,
    article: Article,
    *,
    source: str,
    result: BatchResult,
    watches: Iterable[WatchSettings] | None = None,
    feed_url: str | None = None,
    raw_html: bytes | None = None,
    fetched_url: str | None = None,
) -> int:
    """Match the article against the watches (all configured ones by default), then store it."""
    new = NewArticle(article, source, feed_url=feed_url, raw_html=raw_html, fetched_url=fetched_url)
    return store_articles(settings, corpus, [new], result=result, watches=watches)[0]


def store_articles(
    settings: Settings,
    corpus: Corpus,
    items: Sequence[NewArticle],
    *,
    result: BatchResult,
    watches: Iterable[WatchSettings] | None = None,
) -> list[int]:
    """Match each article against the watches (all configured ones by default), then store
    them in one batch (`Corpus.add_articles`); their ids."""
    return next(store_batches(settings, corpus, [items], result=result, watches=watches))


def store_batches(
    settings: Settings,
    corpus: Corpus,
    batches: Iterable[Sequence[NewArticle]],
    *,
    result: BatchResult,
    watches: Iterable[WatchSettings] | None = None,
) -> Iterator[list[int]]:
    """`store_articles` of each batch in order (`Corpus.add_batches`: the next batch is
    prepared while one is written); yields each batch's ids once it is stored."""
    chosen = list(settings.watch if watches is None else watches)
    matched: deque[list[NewArticle]] = deque()  # batches handed over, not yet stored

    def matching() -> Iterator[list[NewArticle]]:
        for items in batches:
            matched.append([replace(i, matches=match_watches(i.article, chosen)) for i in items])
            yield matched[-1]

    for stored in corpus.add_batches(matching()):
        items = matched.popleft()
        for item, outcome in zip(items, stored, strict=True):
            if not outcome.is_new:
                result.already_known += 1
                continue
            result.stored += 1
            if outcome.duplicate_of is not None:
                result.duplicates += 1
                continue
            for match in item.matches:
                if match.matched:
                    result.relevant[match.watch] = result.relevant.get(match.watch, 0) + 1
        yield [outcome.id for outcome in stored]


def match_watches(article: Article, watches: Iterable[WatchSettings]) -> list[RelevanceMatch]:
    return [match_article(article, w.name, w.parsed_query) for w in watches]


def finish_article(article: Article, entry: FeedEntry, template: set[str]) -> Article:
    """The extracted article, completed from its feed entry and cleaned of its site's template.

    The feed often knows what the page hides (a date, a title); the site's template holds the
    blocks it repeats on every page (extractors/site_templates.py).
    """
    published = article.published or entry.published
    title = article.title or entry.title
    body = strip_template(article.body, template)
    if (published, title, body) == (article.published, article.title, article.body):
        return article
    text = render_document(
        title, body, author=article.author, site=article.site, published=published
    )
    return replace(article, published=published, title=title, body=body, text=text)


def _fail(corpus: Corpus, result: BatchResult, entry: FeedEntry, reason: str) -> None:
    corpus.record_page_failure(entry.url, entry.feed_url, reason)
    result.failures.append(PageFailure(entry.url, entry.feed_url, reason))
    log.warning(
        "page failed: %s", reason, extra={"feed_url": entry.feed_url, "entry_url": entry.url}
    )


def batches(items: Sequence[_T], size: int = ingest.BATCH_SIZE) -> list[list[_T]]:
    """Items cut into batches of one transaction each (one Prefect task run each, for feed
    entries: task overhead, tens of ms, is noise; a crash loses little; progress shows)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


PollStep = Callable[[Settings, Corpus, Sequence[str]], list[FeedPoll]]
BatchStep = Callable[[Settings, Corpus, Sequence[FeedEntry]], BatchResult]


def poll_watch(
    settings: Settings,
    corpus: Corpus,
    watch: WatchSettings,
    *,
    poll_step: PollStep = poll_watch_feeds,
    batch_step: BatchStep = ingest_entries,
    on_batch: Callable[[int, int], None] | None = None,
) -> PollSummary:
    """Poll one watch's feeds and bring every new article into the corpus.

    The flow passes Prefect tasks as `poll_step`/`batch_step`; the CLI passes nothing.
    """
    polls = poll_step(settings, corpus, watch.feeds)
    entries = select_new_entries(corpus, polls)
    total = BatchResult()
    done = 0
    for batch in batches(entries):
        total.add(batch_step(settings, corpus, batch))
        done += len(batch)
        if on_batch:
            on_batch(done, len(entries))
    reports = tuple(
        FeedReport(
            p.feed_url,
            p.status,
            sum(1 for e in entries if e.feed_url == p.feed_url),
            p.error,
        )
        for p in polls
    )
    return PollSummary(watch.name, reports, total)


# --- digest ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestOutcome:
    watch: str
    status: str  # sent | resent | sent_empty | nothing_new | dry_run
    items: int = 0
    message_id: str | None = None
    delivered_to: str | None = None  # "smtp host:port" or the outbox file
    subject: str | None = None
    html: str | None = None  # the HTML part that would be sent (dry runs only)
    markdown: str | None = None  # the digest as Markdown (new digests and dry runs)


def feed_health_notes(corpus: Corpus, watch: WatchSettings) -> list[str]:
    """Footer lines: this watch's feeds that are failing, sites whose extraction broke."""
    notes = []
    for state in corpus.feed_states():
        if state.url in watch.feeds and state.last_status == "error":
            notes.append(f"Feed {state.url} is failing: {state.last_error}")
    notes.extend(health.describe() for health in corpus.sites.health() if health.broken)
    return notes


def send_watch_digest(
    settings: Settings,
    corpus: Corpus,
    watch: WatchSettings,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> DigestOutcome:
    """Deliver what the watch has not received yet, exactly once.

    A digest left pending by a crash is re-sent first, byte for byte (same Message-ID, same
    items); only then is a new digest composed from what is still undelivered. The digest is
    recorded (pending, with its items) before it is sent and marked sent after.
    """
    pending = None if dry_run else corpus.pending_digest(watch.name)
    if pending is not None:
        where = _deliver_recorded(settings, corpus, watch, pending)
        return DigestOutcome(
            watch.name,
            "resent",
            len(pending.article_ids),
            pending.message_id,
            where,
            pending.subject,
        )
    now = now or datetime.now(UTC)
    records = [r for r in corpus.undelivered(watch.name) if r.source != "seed"]
    if not records:
        if watch.send_empty and not dry_run:
            return _send_nothing_new(settings, corpus, watch, now)
        return DigestOutcome(watch.name, "nothing_new")
    # Stories delivered before that grew are shown as updates: their delivered articles go
    # along, marked, so the digest can say "new since last digest: N sources".
    earlier = corpus.delivered_in_stories(
        watch.name, (r.story_id for r in records if r.story_id is not None)
    )
    items = [digest_item(r, previously_delivered=True) for r in earlier]
    items += [digest_item(r) for r in records]
    digest = _compose(settings, corpus, watch, items, now)
    message = digest.message.as_bytes()
    if dry_run:
        return DigestOutcome(
            watch.name,
            "dry_run",
            len(digest.items),
            digest.message_id,
            None,
            digest.subject,
            html=digest.html,
            markdown=digest_markdown(digest),
        )
    record = corpus.create_digest(
        watch.name,
        message_id=digest.message_id,
        subject=digest.subject,
        recipients=list(watch.recipients),
        message=message,
        article_ids=[i.article_id for i in digest.items],
    )
    where = _deliver_recorded(settings, corpus, watch, record)
    return DigestOutcome(
        watch.name,
        "sent",
        len(digest.items),
        digest.message_id,
        where,
        digest.subject,
        markdown=digest_markdown(digest),
    )


def digest_item(record: ArticleRecord, *, previously_delivered: bool = False) -> DigestItem:
    return DigestItem(
        article_id=record.id,
        title=record.title,
        url=record.url,
        site=record.site,
        published=record.published,
        excerpt=excerpt(record.body),
        matched=tuple(record.matched),
        story_id=record.story_id,
        previously_delivered=previously_delivered,
    )


def _compose(
    settings: Settings,
    corpus: Corpus,
    watch: WatchSettings,
    items: Sequence[DigestItem],
    now: datetime,
) -> Digest:
    return compose_digest(
        watch.name,
        items,
        sender=settings.email.sender,
        recipients=watch.recipients,
        now=now,
        footer_notes=feed_health_notes(corpus, watch),
        title=watch.title or None,
    )


def _deliver_recorded(
    settings: Settings, corpus: Corpus, watch: WatchSettings, record: DigestRecord
) -> str:
    """Send a recorded digest, tell the Apprise channels, then mark it sent.

    A failure is written on the record and raised: after a transient one the digest stays
    pending for the next run; one refused for good (5xx) is marked failed.
    """
    try:
        where = deliver(settings, record.message, record.message_id, record.recipients)
    except DeliveryError as exc:
        # A 5xx will be refused again: stop retrying it until a person says so.
        corpus.record_digest_error(record.id, str(exc), failed=exc.permanent)
        raise
    if watch.notify:
        articles = [corpus.get_article(i) for i in record.article_ids]
        notify_channels(watch.notify, record.subject, story_list(story_lines(articles)))
    corpus.mark_digest_sent(record.id)
    return where


def story_lines(records: Sequence[ArticleRecord]) -> list[StoryLine]:
    """One line per story (or per article without a story), biggest stories first."""
    groups: dict[object, list[ArticleRecord]] = {}
    for r in records:
        groups.setdefault(r.story_id if r.story_id is not None else ("article", r.id), []).append(r)
    ordered = sorted(groups.values(), key=len, reverse=True)  # stable: arrival order within size
    return [StoryLine(g[0].title, g[0].url, g[0].site, len(g)) for g in ordered]


def _send_nothing_new(
    settings: Settings, corpus: Corpus, watch: WatchSettings, now: datetime
) -> DigestOutcome:
    """The short "nothing new" mail of a watch with send_empty = true.

    It carries no items, so there is nothing to deliver twice and it is not recorded; its
    Message-ID is fresh (an item-derived one would be the same every day).
    """
    digest = _compose(settings, corpus, watch, [], now)
    message_id = make_msgid("nothing-new", domain=sender_domain(settings.email.sender))
    digest.message.replace_header("Message-ID", message_id)
    where = deliver(settings, digest.message.as_bytes(), message_id, watch.recipients)
    return DigestOutcome(watch.name, "sent_empty", 0, message_id, where, digest.subject)


def digest_if_immediate(
    settings: Settings, corpus: Corpus, watch: WatchSettings, summary: PollSummary
) -> DigestOutcome | None:
    """For a watch with frequency = "immediate": the digest right after a poll found news."""
    if watch.frequency != "immediate" or summary.relevant == 0:
        return None
    return send_watch_digest(settings, corpus, watch)
