"""The `newsmon` command line.

Commands call the plain pipeline functions directly (no Prefect server needed); `serve` hands the
same steps to Prefect's scheduler. Exit status: 0 when a run completed, even if some feeds or
pages failed (they are in the summary); 2 with a one-line reason for a bad config, an unreachable
database or SMTP server, or a malformed input file.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from alerts.delivery import DeliveryError, check_smtp
from extractors.article import ExtractionError, extract_saved_page
from extractors.relevance import Query, QuerySyntaxError
from flows.delivery import smtp_settings
from flows.exports import export_jsonl, export_seeds
from flows.imports import InputError, import_seeds, ingest_jsonl, seed_folder
from flows.processor import (
    PollSummary,
    digest_if_immediate,
    poll_watch,
    send_watch_digest,
)
from flows.report import digest_line
from flows.settings import ConfigError, Settings, load_settings
from storage.repository import Corpus, DatabaseError, open_corpus

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="newsmon: poll news feeds, keep clean deduplicated articles, send digests.",
)
out = Console()
err = Console(stderr=True)


class _State:
    config: str | None = None
    verbose: bool = False


state = _State()


@app.callback()
def _options(
    config: Annotated[
        str | None,
        typer.Option(
            "--config", "-c", help="Config file (default: $NEWSMON_CONFIG or ./newsmon.toml)."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every feed and page.")
    ] = False,
) -> None:
    state.config = config
    state.verbose = verbose
    _configure_logging(verbose)


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_FieldsFormatter())
    logger = logging.getLogger("newsmon")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO if verbose else logging.ERROR)
    logger.propagate = False


class _FieldsFormatter(logging.Formatter):
    """`level message feed_url=… entry_url=…`: the structured fields ride on every line."""

    FIELDS = ("feed_url", "entry_url")

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{name}={getattr(record, name)}" for name in self.FIELDS if hasattr(record, name)
        )
        return f"{record.levelname.lower()} {record.getMessage()} {fields}".rstrip()


def _fail(reason: str) -> typer.Exit:
    err.print(f"[bold red]newsmon:[/] {reason}", highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _settings() -> Settings:
    try:
        return load_settings(state.config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


@contextmanager
def _corpus(settings: Settings) -> Iterator[Corpus]:
    try:
        corpus = open_corpus(settings.database_url)
    except DatabaseError as exc:
        raise _fail(str(exc)) from None
    with corpus:
        yield corpus


def _check_smtp(settings: Settings) -> None:
    try:
        smtp = smtp_settings(settings)
        if smtp is not None:
            check_smtp(smtp)
    except DeliveryError as exc:
        raise _fail(str(exc)) from None


@app.command()
def init(
    no_seeds: Annotated[bool, typer.Option("--no-seeds", help="Do not import seeds/.")] = False,
    seeds: Annotated[
        Path | None,
        typer.Option(help="Seed folder (default: seeds/ beside the config, else newsmon's own)."),
    ] = None,
) -> None:
    """Create the database (or migrate it) and import the seed articles."""
    settings = _settings()
    folder = seeds or seed_folder(settings)
    if not no_seeds and not folder.is_dir():
        raise _fail(f"seed folder {folder} does not exist")
    with _corpus(settings) as corpus:
        out.print(f"database ready: {_safe_url(settings.database_url)}", highlight=False)
        if no_seeds:
            return
        result = import_seeds(settings, corpus, folder)
        out.print(
            f"seeds: {result.stored} imported, {result.already_known} already there "
            f"({result.duplicates} duplicates) from {folder}",
            highlight=False,
        )


def _poll(settings: Settings, corpus: Corpus, watch_name: str | None) -> list[PollSummary]:
    summaries = []
    for watch in settings.watches(watch_name):
        with Progress(
            TextColumn(f"[bold]{watch.name}[/] articles"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err,
            transient=True,
        ) as progress:
            bar = progress.add_task("articles", total=None)
            summary = poll_watch(
                settings,
                corpus,
                watch,
                on_batch=_advance(progress, bar),
            )
        summaries.append(summary)
        _print_poll(summary)
        with _delivery_errors(watch.name):
            immediate = digest_if_immediate(settings, corpus, watch, summary)
        if immediate:
            out.print(digest_line(immediate), highlight=False, soft_wrap=True)
    return summaries


def _advance(progress: Progress, bar: TaskID) -> Callable[[int, int], None]:
    def advance(done: int, total: int) -> None:
        progress.update(bar, completed=done, total=total)

    return advance


def _print_poll(summary: PollSummary) -> None:
    a = summary.articles
    feeds = summary.feeds
    ok = sum(1 for f in feeds if f.status == "ok")
    unchanged = sum(1 for f in feeds if f.status == "not_modified")
    out.print(
        f"[bold]{summary.watch}[/]: {len(feeds)} feeds ({ok} ok, {unchanged} unchanged, "
        f"{len(summary.failed_feeds)} failed); {a.fetched} pages fetched, "
        f"{len(a.failures)} failed; {a.stored} new articles ({a.duplicates} duplicates), "
        f"{summary.relevant} relevant",
        highlight=False,
        soft_wrap=True,
    )
    for f in summary.failed_feeds:
        out.print(f"  feed failed: {f.url}: {f.reason}", highlight=False, soft_wrap=True)
    for p in a.failures:
        out.print(f"  page failed: {p.url}: {p.reason}", highlight=False, soft_wrap=True)


def _digest(settings: Settings, corpus: Corpus, watch_name: str | None, dry_run: bool) -> None:
    for watch in settings.watches(watch_name):
        with _delivery_errors(watch.name):
            outcome = send_watch_digest(settings, corpus, watch, dry_run=dry_run)
        out.print(digest_line(outcome), highlight=False, soft_wrap=True)


@contextmanager
def _delivery_errors(watch: str) -> Iterator[None]:
    try:
        yield
    except DeliveryError as exc:
        if exc.permanent:
            raise _fail(
                f"{watch}: digest refused, marked failed: {exc} (fix the cause, then run "
                f"`newsmon digest --watch {watch} --retry-failed`)"
            ) from None
        raise _fail(f"{watch}: digest not delivered (kept pending): {exc}") from None


WatchOption = Annotated[str | None, typer.Option("--watch", "-w", help="Only this watch.")]


@app.command()
def poll(watch: WatchOption = None) -> None:
    """Poll the feeds once and store every new article."""
    settings = _settings()
    with _corpus(settings) as corpus:
        _poll(settings, corpus, watch)


@app.command()
def digest(
    watch: WatchOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compose, do not send.")] = False,
    preview: Annotated[
        bool,
        typer.Option(
            "--preview",
            help="Write the HTML that would be sent to <preview-dir>/digest-<watch>.html and "
            "print its path; record and send nothing.",
        ),
    ] = False,
    retry_failed: Annotated[
        bool,
        typer.Option("--retry-failed", help="Send again digests a server refused for good."),
    ] = False,
    preview_dir: Annotated[
        Path, typer.Option("--preview-dir", help="Folder of the --preview files.")
    ] = Path("build"),
) -> None:
    """Send each watch's digest of what it has not received yet."""
    settings = _settings()
    if preview:
        from alerts.preview import preview_path, write_preview

        with _corpus(settings) as corpus:
            for each in settings.watches(watch):
                outcome = send_watch_digest(settings, corpus, each, dry_run=True)
                if outcome.html is None:
                    out.print(digest_line(outcome), highlight=False, soft_wrap=True)
                    continue
                path = write_preview(outcome.html, preview_path(each.name, preview_dir))
                out.print(str(path), highlight=False, soft_wrap=True)
        return
    if not dry_run:
        _check_smtp(settings)
    with _corpus(settings) as corpus:
        if retry_failed:
            for each in settings.watches(watch):
                count = corpus.retry_failed_digests(each.name)
                out.print(f"{each.name}: {count} failed digests to send again", highlight=False)
        _digest(settings, corpus, watch, dry_run)


@app.command()
def run() -> None:
    """Poll every watch, then send every digest."""
    settings = _settings()
    _check_smtp(settings)
    with _corpus(settings) as corpus:
        _poll(settings, corpus, None)
        _digest(settings, corpus, None, dry_run=False)


@app.command()
def serve(
    limit: Annotated[int, typer.Option(help="Flow runs at once.")] = 4,
) -> None:
    """Run every watch's poll and digest schedules in this process (needs a Prefect API)."""
    from flows.schedule import serve_watches

    serve_watches(_settings(), limit=limit)


@app.command()
def feeds(
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of tables.")] = False,
) -> None:
    """Per-feed status (last poll, last error, entries seen) and per-site extraction health."""
    settings = _settings()
    with _corpus(settings) as corpus:
        states = corpus.feed_states()
        sites = corpus.sites.health()
        templates = corpus.sites.templates()
    configured = {url: w.name for w in settings.watch for url in w.feeds}
    if as_json:
        feed_rows = [
            {
                "url": s.url,
                "watch": configured.get(s.url),
                "status": s.last_status,
                "http_status": s.last_http_status,
                "error": s.last_error,
                "last_polled": s.last_polled_at.isoformat() if s.last_polled_at else None,
                "last_ok": s.last_ok_at.isoformat() if s.last_ok_at else None,
                "entries_seen": s.entries_seen,
                "consecutive_failures": s.consecutive_failures,
            }
            for s in states
        ]
        site_rows = [
            {
                "site": h.site,
                "recent_pages": h.pages,
                "failed": h.failed,
                "short": h.short,
                "broken": h.broken,
                "last_reason": h.last_reason,
                "template_blocks": templates.get(h.site, []),
            }
            for h in sites
        ]
        out.print_json(json.dumps({"feeds": feed_rows, "sites": site_rows}))
        return
    table = Table("feed", "status", "entries", "last polled", "reason", title="Feeds")
    for s in states:
        polled = s.last_polled_at.strftime("%Y-%m-%d %H:%M") if s.last_polled_at else "never"
        style = "red" if s.last_status == "error" else None
        table.add_row(
            s.url,
            s.last_status or "-",
            str(s.entries_seen),
            polled,
            s.last_error or "",
            style=style,
        )
    out.print(table)
    if not sites:
        return
    health = Table(
        "site",
        "recent pages",
        "failed",
        "short",
        "template blocks",
        "last reason",
        title="Extraction by site",
    )
    for h in sites:
        health.add_row(
            h.site,
            str(h.pages),
            str(h.failed),
            str(h.short),
            str(len(templates.get(h.site, []))),
            h.last_reason or "",
            style="red" if h.broken else None,
        )
    out.print(health)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="e.g. 'Lavrov AND \"Islamic Emirate\"'")],
    limit: Annotated[int, typer.Option(help="At most this many results.")] = 50,
) -> None:
    """Search the stored corpus with the watch query language."""
    try:
        parsed = Query.parse(query)
    except QuerySyntaxError as exc:
        raise _fail(f"query: {exc}") from None
    settings = _settings()
    shown = 0
    with _corpus(settings) as corpus:
        for a in corpus.iter_articles():
            terms = parsed.match(f"{a.title}\n{a.body}")
            if not terms:
                continue
            date = a.published.date().isoformat() if a.published else "          "
            dup = f"  (duplicate of #{a.duplicate_of})" if a.duplicate_of else ""
            out.print(
                f"#{a.id:<6} {date}  {a.title}{dup}\n        {a.url}  [{', '.join(terms)}]",
                highlight=False,
            )
            shown += 1
            if shown >= limit:
                break
    out.print(f"{shown} articles", highlight=False)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines file.")],
    watch: WatchOption = None,
) -> None:
    """Ingest articles from JSON lines {url, title, text, published, source?}."""
    settings = _settings()
    with _corpus(settings) as corpus:
        try:
            result = ingest_jsonl(
                settings, corpus, file, settings.get_watch(watch) if watch else None
            )
        except InputError as exc:
            raise _fail(str(exc)) from None
        except ConfigError as exc:
            raise _fail(str(exc)) from None
    out.print(
        f"ingested {result.stored} articles ({result.duplicates} duplicates, "
        f"{result.already_known} already known)",
        highlight=False,
    )


@app.command()
def extract(
    files: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, help="HTML files (.html or .html.gz)."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON lines to write.")],
    url: Annotated[
        str | None, typer.Option(help="Page URL (for relative links); default file://…")
    ] = None,
) -> None:
    """Extract clean text from saved HTML pages, one JSON line per file."""
    output.parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    with output.open("w", encoding="utf-8") as sink:
        for path in files:
            record: dict[str, object] = {"file": str(path)}
            try:
                article = extract_saved_page(path, url or path.resolve().as_uri())
            except (ExtractionError, OSError) as exc:
                failed += 1
                record["error"] = getattr(exc, "reason", str(exc))
                err.print(f"{path}: {record['error']}", highlight=False)
            else:
                record |= {
                    "url": article.canonical_url,
                    "title": article.title,
                    "author": article.author,
                    "date": article.published.date().isoformat() if article.published else None,
                    "site": article.site,
                    "body": article.body,
                    "text": article.text,
                }
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.print(f"extracted {len(files) - failed} of {len(files)} files → {output}", highlight=False)


@app.command()
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="File (jsonl) or folder (seeds).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl | seeds")] = "jsonl",
) -> None:
    """Export the corpus as JSON lines or as seed-format text files."""
    if fmt not in ("jsonl", "seeds"):
        raise _fail(f"--format: {fmt!r} is not one of jsonl, seeds")
    settings = _settings()
    with _corpus(settings) as corpus:
        count = export_jsonl(corpus, output) if fmt == "jsonl" else export_seeds(corpus, output)
    out.print(f"exported {count} articles → {output}", highlight=False)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    app()
