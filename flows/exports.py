"""Writing the corpus out: JSON lines, or text files in the seed format."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from extractors.urls import url_key
from storage.repository import Corpus


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_jsonl(corpus: Corpus, output: Path) -> int:
    output.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with output.open("w", encoding="utf-8") as out:
        for a in corpus.iter_articles():
            record = {
                "id": a.id,
                "url": a.url,
                "canonical_url": a.canonical_url,
                "title": a.title,
                "author": a.author,
                "site": a.site,
                "published": _iso(a.published),
                "fetched": _iso(a.fetched),
                "body": a.body,
                "text": a.text,
                "duplicate_of": a.duplicate_of,
                "story_id": a.story_id,
                "watches": list(a.watches),
                "matched": list(a.matched),
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def export_seeds(corpus: Corpus, folder: Path) -> int:
    """`NNN_<16 hex of sha256(canonical url)>.txt` files, the clean-text document in each."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, a in enumerate(corpus.iter_articles(), start=1):
        name = f"{count - 1:03d}_{url_key(a.canonical_url)}.txt"
        (folder / name).write_text(a.text.rstrip("\n") + "\n", encoding="utf-8")
    return count
