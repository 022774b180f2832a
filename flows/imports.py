"""Bringing articles into the corpus from files: the seed folder and JSON lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from extractors.cleantext import normalise_body, parse_document, render_document
from extractors.records import Article
from extractors.urls import canonical_url
from flows.processor import BatchResult, batches, store_article, store_batches
from flows.settings import Settings, WatchSettings
from storage.repository import Corpus, NewArticle

# Seed files were written by other tools; one of them ends with the page's address.
_ORIGINAL_URL = re.compile(r"^\s*Original url:\s*\n*\s*<?(https?://[^\s>]+)>?\s*$", re.I | re.M)


class InputError(ValueError):
    """A malformed input record; str() names the file and line."""


def seed_article(path: Path) -> Article:
    """A seed file as an Article. Its boilerplate stays: seeds are imported as they are."""
    raw = path.read_text(encoding="utf-8")
    found = _ORIGINAL_URL.search(raw)
    if found:
        raw = raw[: found.start()]
    doc = parse_document(raw)
    # Seeds without a recorded address get a stable URN, so re-imports are idempotent.
    url = found.group(1) if found else f"urn:newsmon:seed:{path.stem}"
    return Article(
        url=url,
        canonical_url=canonical_url(url) if found else url,
        title=doc.title,
        body=doc.body,
        text=render_document(
            doc.title, doc.body, author=doc.author, site=doc.site, published=doc.published
        ),
        author=doc.author,
        site=doc.site,
        published=_as_datetime(doc.published),
    )


# The seed corpus shipped with newsmon (the repository's seeds/ folder).
BUNDLED_SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def seed_folder(settings: Settings) -> Path:
    """seeds/ beside the config file when there is one, else the bundled seed corpus."""
    beside = settings.resolve("seeds")
    return beside if beside.is_dir() else BUNDLED_SEEDS


def import_seeds(settings: Settings, corpus: Corpus, folder: Path) -> BatchResult:
    result = BatchResult()
    for path in sorted(folder.glob("*.txt")):
        store_article(settings, corpus, seed_article(path), source="seed", result=result)
    return result


@dataclass(frozen=True)
class IngestRecord:
    url: str
    title: str
    text: str
    published: datetime | None
    source: str | None


def read_jsonl(path: Path) -> Iterator[IngestRecord]:
    """Records of a JSON-lines file; a bad line raises InputError naming file and line."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                yield IngestRecord(
                    url=str(data["url"]),
                    title=str(data.get("title") or ""),
                    text=str(data["text"]),
                    published=_parse_published(data.get("published")),
                    source=data.get("source"),
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                what = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
                raise InputError(f"{path}:{number}: {what}") from None


def ingest_jsonl(
    settings: Settings, corpus: Corpus, path: Path, watch: WatchSettings | None = None
) -> BatchResult:
    """Relevance (for `watch`, or every watch), dedup and storage, in `published` order, in
    batches of `ingest.BATCH_SIZE` articles (one transaction each)."""
    oldest = datetime.min.replace(tzinfo=UTC)
    records = sorted(read_jsonl(path), key=lambda r: r.published or oldest)
    result = BatchResult()
    watches = [watch] if watch else None
    items = (
        [NewArticle(_ingest_article(record), "ingest") for record in batch]
        for batch in batches(records)
    )
    for _ in store_batches(settings, corpus, items, result=result, watches=watches):
        pass  # (each batch is stored as the iteration reaches it)
    return result


def _ingest_article(record: IngestRecord) -> Article:
    body = normalise_body(record.text)
    return Article(
        url=record.url,
        canonical_url=canonical_url(record.url),
        title=record.title,
        body=body,
        text=render_document(record.title, body, site=record.source, published=record.published),
        site=record.source,
        published=record.published,
    )


def _parse_published(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _as_datetime(value: date | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)
