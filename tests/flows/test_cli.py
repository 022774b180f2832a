"""The smaller CLI commands, in process (Typer's runner), on real files and a real database."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from extractors.urls import url_key
from flows.cli import app
from tests.configfile import write_config
from tests.httpsite import HttpSite
from tests.newsite import STORIES, article_page, story

runner = CliRunner()

WIRE_TEXT = (
    "Russian Foreign Minister Sergei Lavrov met a Taliban delegation in Moscow on Monday to "
    "discuss trade, security on the Afghan border with Tajikistan and the fight against the "
    "Islamic State, which has claimed attacks in Kabul and in Russia this year. Both sides "
    "agreed to meet again before the spring and to study new routes for grain and fuel."
)


def invoke(config: Path, *args: str) -> str:
    result = runner.invoke(app, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, ["http://127.0.0.1:9/feed.xml"])


def write_jsonl(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def test_ingest_then_export_links_copies_in_published_order(config: Path, tmp_path: Path) -> None:
    # The copy is listed first but published later: ingest goes by `published`.
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {
                "url": "https://copy.example/b?utm_source=x",
                "title": "Moscow hosts Taliban",
                "text": "MOSCOW (Wire) -- " + WIRE_TEXT + "\n\nShare this story.",
                "published": "2026-11-20T12:00:00Z",
            },
            {
                "url": "https://wire.example/a",
                "title": "Lavrov meets Taliban",
                "text": WIRE_TEXT,
                "published": "2026-11-20T09:00:00+00:00",
                "source": "Wire",
            },
            {
                "url": "https://sport.example/c",
                "title": "Derby",
                "text": "A late goal settled the derby in front of a full stadium on Sunday night.",
                "published": "2026-11-21T09:00:00Z",
            },
        ],
    )
    assert "ingested 3 articles (1 duplicates" in invoke(config, "ingest", str(source))
    out = tmp_path / "out.jsonl"
    invoke(config, "export", "--format", "jsonl", "--output", str(out))
    rows = {r["url"]: r for r in map(json.loads, out.read_text().splitlines())}
    original, copy = rows["https://wire.example/a"], rows["https://copy.example/b?utm_source=x"]
    assert copy["duplicate_of"] == original["id"] and original["duplicate_of"] is None
    assert copy["canonical_url"] == "https://copy.example/b"
    assert original["watches"] == ["russia-taliban"]
    assert set(original["matched"]) >= {"Lavrov", "Taliban", "Kabul"}
    assert rows["https://sport.example/c"]["watches"] == []
    assert set(original) >= {"id", "title", "author", "site", "published", "fetched", "body"}
    assert original["site"] == "Wire" and original["published"].startswith("2026-11-20T09:00")

    # Search reads the same corpus with the query language.
    found = invoke(config, "search", "Lavrov AND Tajikistan")
    assert "https://wire.example/a" in found and "2 articles" in found
    assert "duplicate of" in found

    # Seed-format export: NNN_<16 hex of sha256(canonical url)>.txt, title first.
    folder = tmp_path / "seeds-out"
    invoke(config, "export", "--format", "seeds", "--output", str(folder))
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 3 and names[0].startswith("000_")
    assert f"_{url_key('https://wire.example/a')}.txt" in " ".join(names)
    wire_file = next(folder.glob(f"*_{url_key('https://wire.example/a')}.txt"))
    assert wire_file.read_text().startswith("Lavrov meets Taliban\n\n")


def test_ingest_names_the_bad_line(config: Path, tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"url": "https://a.example/1", "text": "x"}\n{"title": "no url"}\n')
    result = runner.invoke(app, ["--config", str(config), "ingest", str(source)])
    assert result.exit_code == 2
    assert f"{source}:2: missing key 'url'" in " ".join(result.output.split())


def test_extract_writes_one_line_per_file(tmp_path: Path) -> None:
    site = HttpSite()  # only for its URLs: extract reads files, fetches nothing
    talks = story("russia-hosts-taliban-kazan")
    page = tmp_path / "talks.html.gz"
    page.write_bytes(gzip.compress(article_page(site, talks).encode()))
    junk = tmp_path / "empty.html"
    junk.write_text("<html><body></body></html>")
    out = tmp_path / "x.jsonl"
    result = runner.invoke(app, ["extract", str(page), str(junk), "--output", str(out)])
    assert result.exit_code == 0, result.output
    good, bad = map(json.loads, out.read_text().splitlines())
    assert good["title"] == talks.title and good["author"] == talks.author
    assert good["site"] == "The Kabul Ledger" and good["date"] == "2026-11-20"
    assert good["body"].startswith(talks.paragraphs[0])
    assert "newsletter" not in good["text"].lower() and "Related stories" not in good["text"]
    assert good["text"].startswith(talks.title + "\n\nBy Nadia Rahimi · The Kabul Ledger")
    assert bad["file"] == str(junk) and "error" in bad
    assert len(STORIES) == 5


def test_digest_dry_run_sends_nothing(config: Path, tmp_path: Path) -> None:
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [{"url": "https://wire.example/a", "title": "Lavrov meets Taliban", "text": WIRE_TEXT}],
    )
    invoke(config, "ingest", str(source))
    assert "would send digest of 1 article" in invoke(config, "digest", "--dry-run")
    assert not (tmp_path / "outbox").exists()
    assert "sent digest of 1 article" in invoke(config, "digest")
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    assert "nothing new" in invoke(config, "digest")


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        ["http://127.0.0.1:9/f"],
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/x",
    )
    result = runner.invoke(app, ["--config", str(config), "feeds"])
    assert result.exit_code == 2
    assert "cannot connect to postgresql+psycopg://postgres@127.0.0.1:1/x" in result.output
