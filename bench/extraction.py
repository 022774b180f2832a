"""Article body extraction on the Article Extraction Benchmark layout: newsmon vs trafilatura.

Usage: ``python bench/extraction.py [FOLDER]`` (default ``../shared/bench/extraction`` from
the project root). FOLDER holds ``ground-truth.json`` ({id: {articleBody, url}}) and
``html/<id>.html.gz``. newsmon runs through the same code path as ``newsmon extract``
(`extract_saved_page`); plain trafilatura runs as ``extract(html, include_comments=False,
favor_precision=True)``. Both are timed on one core. Prints precision, recall, F1, the share
of pages with F1 ≥ 0.9 and pages/s for both, then the ten pages newsmon does worst on.
Nothing is written.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from extractors.article import ExtractionError, extract_saved_page  # noqa: E402

DEFAULT_FOLDER = ROOT.parent / "shared" / "bench" / "extraction"
_TOKEN = re.compile(r"\w+")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)\s]*\)")
_LIST_MARKER = re.compile(r"(?m)^[ \t]*[-*•][ \t]+")


@dataclass(frozen=True)
class Score:
    tp: float
    fp: float
    fn: float

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp > 0 else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn > 0 else None

    @property
    def f1(self) -> float:
        p, r = self.precision or 0.0, self.recall or 0.0
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


def scored_text(body: str) -> str:
    """What is scored: link targets and list markers removed."""
    return _LIST_MARKER.sub("", _MD_LINK.sub(r"\1", body))


def shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    if not tokens:
        return Counter()
    if len(tokens) < 4:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3))


def page_score(true: str, predicted: str) -> Score:
    t, p = shingles(true), shingles(predicted)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    if total == 0:
        return Score(1.0, 0.0, 0.0)
    return Score(tp / total, fp / total, fn / total)


@dataclass(frozen=True)
class Summary:
    precision: float
    recall: float
    f1: float
    share: float
    pages_per_s: float


def summarise(scores: list[Score], seconds: float) -> Summary:
    precisions = [s.precision for s in scores if s.precision is not None]
    recalls = [s.recall for s in scores if s.recall is not None]
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
    share = sum(s.f1 >= 0.9 for s in scores) / len(scores) if scores else 0.0
    return Summary(p, r, f1, share, len(scores) / seconds if seconds > 0 else 0.0)


def score(
    extract: Callable[[str], str], ids: list[str], truth: dict[str, dict[str, str]]
) -> dict[str, Score]:
    return {
        page_id: page_score(truth[page_id]["articleBody"], scored_text(extract(page_id)))
        for page_id in ids
    }


def timed(extractors: list[Callable[[str], str]], ids: list[str], rounds: int = 3) -> list[float]:
    """Seconds each extractor needs for all pages: per page the best of `rounds` runs.

    The extractors take turns page by page, so a burst of load from elsewhere on the machine
    hits both alike, and the best of several runs drops what such bursts add.
    """
    best = [[float("inf")] * len(ids) for _ in extractors]
    for _ in range(rounds):
        for i, page_id in enumerate(ids):
            for which, extract in enumerate(extractors):
                start = time.perf_counter()
                extract(page_id)
                best[which][i] = min(best[which][i], time.perf_counter() - start)
    return [sum(times) for times in best]


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else DEFAULT_FOLDER
    console = Console(width=None if sys.stdout.isatty() else 120)
    truth_file = folder / "ground-truth.json"
    if not truth_file.exists():
        console.print(f"no benchmark at {folder} (ground-truth.json missing)")
        return 1
    truth: dict[str, dict[str, str]] = json.loads(truth_file.read_text(encoding="utf-8"))
    ids = sorted(truth)
    pages = {page_id: folder / "html" / f"{page_id}.html.gz" for page_id in ids}
    raw = {page_id: gzip.decompress(path.read_bytes()) for page_id, path in pages.items()}
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    def newsmon(page_id: str) -> str:
        try:
            return extract_saved_page(pages[page_id], truth[page_id]["url"]).body
        except ExtractionError:
            return ""

    def plain_trafilatura(page_id: str) -> str:
        found = trafilatura.extract(raw[page_id], include_comments=False, favor_precision=True)
        return found or ""

    # scoring runs each over every page once, which also warms both up (imports, lazily built
    # caches such as justext's stoplists) before the timed rounds
    ours = score(newsmon, ids, truth)
    theirs = score(plain_trafilatura, ids, truth)
    ours_s, theirs_s = timed([newsmon, plain_trafilatura], ids)
    results = {
        "newsmon": summarise(list(ours.values()), ours_s),
        "trafilatura (precision)": summarise(list(theirs.values()), theirs_s),
    }

    table = Table(title=f"Article body extraction, {len(ids)} pages ({folder})")
    for column in ("extractor", "P", "R", "F1", "share F1≥0.9", "pages/s"):
        table.add_column(column, justify="left" if column == "extractor" else "right")
    for name, s in results.items():
        table.add_row(
            name,
            f"{s.precision:.3f}",
            f"{s.recall:.3f}",
            f"{s.f1:.3f}",
            f"{s.share:.3f}",
            f"{s.pages_per_s:.1f}",
        )
    console.print(table)
    baseline = results["trafilatura (precision)"].pages_per_s
    speed = results["newsmon"].pages_per_s / max(baseline, 1e-9)
    console.print(f"newsmon speed: {speed:.2f}× plain trafilatura")

    worst = Table(title="newsmon's 10 worst pages")
    worst.add_column("id", no_wrap=True, min_width=16)
    worst.add_column("url", overflow="ellipsis", no_wrap=True, max_width=60)
    for column in ("P", "R", "F1"):
        worst.add_column(column, justify="right")
    for page_id in sorted(ids, key=lambda i: ours[i].f1)[:10]:
        s = ours[page_id]
        worst.add_row(
            page_id[:16],
            truth[page_id]["url"],
            "-" if s.precision is None else f"{s.precision:.3f}",
            "-" if s.recall is None else f"{s.recall:.3f}",
            f"{s.f1:.3f}",
        )
    console.print(worst)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
