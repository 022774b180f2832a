"""Near-duplicate detection on the bench stream (../shared/bench/dedup/), as in production.

    .venv/bin/python bench/dedup.py [--database URL] [--stream FILE] [--pairs FILE]

The stream is written out in the `newsmon ingest` JSON-lines format and ingested with
`flows.imports.ingest_jsonl` (the code path of `newsmon ingest`: published order, which is the
stream's arrival order `ts`, each article compared only with what came before) into a fresh
temporary SQLite corpus, or into the database at --database (it should be empty). Then the
links the corpus recorded (`duplicate_of`) are scored against the gold groups: the transitive
closure of `id -> dup_group` and of the `near_dup = 1` pairs of natural_dup_pairs.tsv.

Printed: pairwise precision/recall/F1 over all pairs of articles put in one group; the
same-story false merges (predicted pairs of one gold story that are not gold near copies) and
their share of the predicted pairs; throughput. Story metrics (pairwise and B-cubed against
`story_id`, over every article of the stream, copies included) are printed when the corpus
assigned stories.

`--write-stream FILE` writes the stream for `newsmon ingest` and stops; `--export FILE` scores a
`newsmon export --format jsonl` of such an ingest instead (the same figures, throughput aside).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flows.imports import ingest_jsonl  # noqa: E402
from flows.settings import Settings  # noqa: E402
from storage.repository import open_corpus  # noqa: E402

DATA = ROOT.parent / "shared" / "bench" / "dedup"
URL_PREFIX = "https://bench.newsmon.invalid/"


@dataclass(frozen=True)
class Stored:
    """What the scoring reads of a stored article (from the corpus or an export)."""

    id: int
    url: str
    duplicate_of: int | None
    story_id: int | None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--stream", type=Path, default=DATA / "news_stream.jsonl")
    parser.add_argument("--pairs", type=Path, default=DATA / "natural_dup_pairs.tsv")
    parser.add_argument("--show-errors", action="store_true", help="list wrong and missed links")
    parser.add_argument(
        "--write-stream", type=Path, help="only write the stream for `newsmon ingest` there"
    )
    parser.add_argument(
        "--export", type=Path, help="score this `newsmon export --format jsonl` file instead"
    )
    args = parser.parse_args(argv)

    records = [json.loads(line) for line in args.stream.open(encoding="utf-8") if line.strip()]
    if args.write_stream:
        _write_stream(records, args.write_stream)
        return 0
    elapsed = None
    if args.export:
        with args.export.open(encoding="utf-8") as lines:
            exported = [json.loads(line) for line in lines if line.strip()]
        stored = [Stored(a["id"], a["url"], a["duplicate_of"], a["story_id"]) for a in exported]
        where = str(args.export)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            feed = Path(tmp) / "stream.jsonl"
            _write_stream(records, feed)
            url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
            with open_corpus(url) as corpus:
                if corpus.article_count():
                    print(f"{corpus.url} is not empty", file=sys.stderr)
                    return 2
                started = time.perf_counter()
                ingest_jsonl(Settings(), corpus, feed)
                elapsed = time.perf_counter() - started
                stored = [
                    Stored(a.id, a.url, a.duplicate_of, a.story_id) for a in corpus.iter_articles()
                ]
                where = corpus.url
    _score(records, stored, _natural_pairs(args.pairs), show_errors=args.show_errors)
    if elapsed is not None:
        print(f"throughput: {len(records) / elapsed:.1f} articles/s ({elapsed:.1f} s, {where})")
    return 0


def _write_stream(records: list[dict], path: Path) -> None:
    """The stream in the `newsmon ingest` JSON-lines format (its arrival time as `published`)."""
    with path.open("w", encoding="utf-8") as out:
        for r in records:
            row = {"url": URL_PREFIX + r["id"], "title": r["title"], "text": r["text"]}
            out.write(json.dumps(row | {"published": r["ts"]}) + "\n")


def _score(
    records: list[dict],
    stored: list[Stored],
    near_dup_pairs: list[tuple[str, str]],
    *,
    show_errors: bool,
) -> None:
    by_db_id = {a.id: a.url.removeprefix(URL_PREFIX) for a in stored}
    predicted = {
        by_db_id[a.id]: by_db_id[a.duplicate_of] if a.duplicate_of else by_db_id[a.id]
        for a in stored
    }
    gold = _closure(
        [r["id"] for r in records],
        [(r["id"], r["dup_group"]) for r in records] + near_dup_pairs,
    )
    story = {r["id"]: r["story_id"] for r in records}
    print(
        f"articles: {len(records)} ({len(stored)} stored), gold near-copy groups: "
        f"{len(set(gold.values()))}, predicted: {len(set(predicted.values()))}"
    )
    p, r, f1, pred_pairs, false_pairs = _pairwise(predicted, gold)
    same_story = [(a, b) for a, b in false_pairs if story[a] == story[b]]
    print(f"near copies, pairwise: P {p:.3f} R {r:.3f} F1 {f1:.3f} ({pred_pairs} pairs predicted)")
    share = len(same_story) / pred_pairs if pred_pairs else 0.0
    print(
        f"same-story false merges: {len(same_story)} pairs ({share:.2%} of predicted pairs); "
        f"other false merges: {len(false_pairs) - len(same_story)}"
    )

    stories = {by_db_id[a.id]: a.story_id for a in stored if a.story_id is not None}
    if stories:
        # Every article of the stream counts, copies included (a copy is in its original's
        # story); one the corpus left without a story is a story of its own.
        predicted_story = {k: stories.get(k, ("alone", k)) for k in story}
        sp, sr, sf, _, _ = _pairwise(predicted_story, story)
        bp, br, bf = _bcubed(predicted_story, story)
        print(
            f"stories: gold {len(set(story.values()))}, predicted "
            f"{len(set(predicted_story.values()))} ({len(story) - len(stories)} without one)"
        )
        print(f"stories, pairwise: P {sp:.3f} R {sr:.3f} F1 {sf:.3f}")
        print(f"stories, B-cubed:  P {bp:.3f} R {br:.3f} F1 {bf:.3f}")

    if show_errors:
        for a, b in sorted(false_pairs):
            print(f"false: {a} ~ {b}")
        gold_pairs = _pairs(gold)
        for a, b in sorted(gold_pairs - _pairs(predicted)):
            print(f"missed: {a} ~ {b}")


def _natural_pairs(path: Path) -> list[tuple[str, str]]:
    pairs = []
    with path.open(encoding="utf-8") as lines:
        header = next(lines).rstrip("\n").split("\t")
        for line in lines:
            row = dict(zip(header, line.rstrip("\n").split("\t"), strict=True))
            if row["near_dup"] == "1":
                pairs.append((row["id_a"], row["id_b"]))
    return pairs


def _closure(ids: Iterable[str], links: Iterable[tuple[str, str]]) -> dict[str, str]:
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links:
        parent[find(a)] = find(b)
    return {i: find(i) for i in parent}


def _pairs(labels: dict[str, Hashable]) -> set[tuple[str, str]]:
    groups: dict[Hashable, list[str]] = defaultdict(list)
    for item, label in labels.items():
        groups[label].append(item)
    return {
        (a, b) if a < b else (b, a)
        for members in groups.values()
        for a, b in itertools.combinations(members, 2)
    }


def _pairwise(
    predicted: dict[str, Hashable], gold: dict[str, Hashable]
) -> tuple[float, float, float, int, list[tuple[str, str]]]:
    pred, true = _pairs(predicted), _pairs(gold)
    tp = len(pred & true)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(true) if true else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1, len(pred), sorted(pred - true)


def _bcubed(predicted: dict[str, Hashable], gold: dict[str, Hashable]) -> tuple[float, ...]:
    pred_groups: dict[Hashable, set[str]] = defaultdict(set)
    gold_groups: dict[Hashable, set[str]] = defaultdict(set)
    for item in gold:
        pred_groups[predicted[item]].add(item)
        gold_groups[gold[item]].add(item)
    p = r = 0.0
    for item in gold:
        mine, true = pred_groups[predicted[item]], gold_groups[gold[item]]
        shared = len(mine & true)
        p += shared / len(mine)
        r += shared / len(true)
    p, r = p / len(gold), r / len(gold)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


if __name__ == "__main__":
    sys.exit(main())
