"""Short notifications on other channels (Telegram, Slack, Matrix, webhooks, …) via Apprise.

Each URL is notified on its own, so one channel that is down neither hides the others nor
stops the digest; the result says which target failed, with its secrets left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import apprise


@dataclass(frozen=True)
class NotifyResult:
    target: str  # the URL's scheme and host only: tokens sit in the rest
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class StoryLine:
    title: str
    url: str
    site: str | None = None
    sources: int = 1


def story_list(lines: Sequence[StoryLine], *, limit: int = 15) -> str:
    """A plain-text list, one story a line: "• Title — Site (+2 sources)\\n  https://…"."""
    rows = []
    for line in lines[:limit]:
        more = f" (+{line.sources - 1} sources)" if line.sources > 1 else ""
        site = f" — {line.site}" if line.site else ""
        rows.append(f"• {line.title}{site}{more}\n  {line.url}")
    if len(lines) > limit:
        rows.append(f"… and {len(lines) - limit} more in the email digest")
    return "\n".join(rows)


def _target(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}" if rest else url


def send_notifications(urls: Sequence[str], *, title: str, body: str) -> list[NotifyResult]:
    results = []
    for url in urls:
        sender = apprise.Apprise()
        if not sender.add(url):
            results.append(NotifyResult(_target(url), False, "not a usable Apprise URL"))
            continue
        ok = sender.notify(title=title, body=body, body_format=apprise.NotifyFormat.TEXT)
        results.append(NotifyResult(_target(url), bool(ok), None if ok else "the service refused"))
    return results
