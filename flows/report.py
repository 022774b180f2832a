"""Summaries of runs as Markdown: the same text for Prefect artifacts and `--json`-free logs."""

from __future__ import annotations

import re

from flows.processor import DigestOutcome, PollSummary


def artifact_key(kind: str, watch: str) -> str:
    # Prefect artifact keys allow only lower-case letters, digits and dashes.
    return re.sub(r"[^a-z0-9-]+", "-", f"{kind}-{watch}".lower())


def poll_markdown(summary: PollSummary) -> str:
    a = summary.articles
    lines = [
        f"# Poll of watch `{summary.watch}`",
        "",
        f"- feeds: {len(summary.feeds)} ({len(summary.failed_feeds)} failed)",
        f"- pages fetched: {a.fetched}, failed: {len(a.failures)}",
        f"- new articles: {a.stored} ({a.duplicates} duplicates, {a.already_known} already known)",
        f"- new relevant articles: {summary.relevant}",
        "",
        "| feed | status | new entries | reason |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {f.url} | {f.status} | {f.new_entries} | {f.reason or ''} |" for f in summary.feeds
    ]
    if a.failures:
        lines += ["", "| page | reason |", "|---|---|"]
        lines += [f"| {p.url} | {p.reason} |" for p in a.failures]
    return "\n".join(lines) + "\n"


def digest_line(outcome: DigestOutcome) -> str:
    if outcome.status == "nothing_new":
        return f"{outcome.watch}: nothing new, no digest sent"
    if outcome.status == "sent_empty":
        return f"{outcome.watch}: nothing new; sent a short note (send_empty = true)"
    verb = {"sent": "sent", "resent": "re-sent pending", "dry_run": "would send"}[outcome.status]
    where = f" → {outcome.delivered_to}" if outcome.delivered_to else ""
    articles = f"{outcome.items} article{'' if outcome.items == 1 else 's'}"
    return f"{outcome.watch}: {verb} digest of {articles} ({outcome.subject}){where}"
