"""Prefect flow `poll-feeds`: one watch's feeds → new articles in the corpus.

Thin on purpose: the steps and their order are in flows/processor.py; here they become task
runs (one for all feeds, one per batch of articles — never one per article).
"""

from __future__ import annotations

from collections.abc import Sequence

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from extractors.records import FeedEntry, FeedPoll
from flows.processor import (
    BatchResult,
    PollSummary,
    digest_if_immediate,
    ingest_entries,
    poll_watch,
    poll_watch_feeds,
)
from flows.report import artifact_key, poll_markdown
from flows.settings import Settings, load_settings
from storage.repository import Corpus, open_corpus


# NO_CACHE: the inputs hold a live database handle, which cannot (and must not) be hashed.
@task(name="poll-feeds", cache_policy=NO_CACHE)
def poll_feeds_task(settings: Settings, corpus: Corpus, feed_urls: Sequence[str]) -> list[FeedPoll]:
    return poll_watch_feeds(settings, corpus, feed_urls)


@task(name="ingest-batch", cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10)
def ingest_batch_task(
    settings: Settings, corpus: Corpus, entries: Sequence[FeedEntry]
) -> BatchResult:
    # A retry is harmless: pages already stored are skipped by their unique URL.
    return ingest_entries(settings, corpus, entries)


@flow(name="poll-feeds")
def poll_feeds(watch: str, config: str | None = None) -> PollSummary:
    settings = load_settings(config)
    watch_settings = settings.get_watch(watch)
    with open_corpus(settings.database_url) as corpus:
        summary = poll_watch(
            settings,
            corpus,
            watch_settings,
            poll_step=poll_feeds_task,
            batch_step=ingest_batch_task,
        )
        digest_if_immediate(settings, corpus, watch_settings, summary)
    create_markdown_artifact(poll_markdown(summary), key=artifact_key("poll", watch))
    return summary
