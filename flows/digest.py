"""Prefect flow `send-digest`: one watch's undelivered articles → one digest, exactly once."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows.processor import DigestOutcome, send_watch_digest
from flows.report import artifact_key, digest_line
from flows.settings import load_settings
from storage.repository import open_corpus


@flow(name="send-digest")
def send_digest(watch: str, config: str | None = None) -> DigestOutcome:
    settings = load_settings(config)
    with open_corpus(settings.database_url) as corpus:
        outcome = send_watch_digest(settings, corpus, settings.get_watch(watch))
    # The artifact shows the digest itself when one was composed, else what happened.
    markdown = outcome.markdown or digest_line(outcome)
    create_markdown_artifact(markdown, key=artifact_key("digest", watch))
    return outcome
