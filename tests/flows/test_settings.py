from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]

VALID = """
[storage]
url = "sqlite:///data/newsmon.db"

[fetch]
timeout = 7

[email]
host = ""

[[watch]]
name = "first"
query = 'Russia AND Taliban'
feeds = ["https://example.org/rss"]

[[watch]]
name = "second"
query = 'Kabul'
feeds = ["https://example.org/atom"]
recipients = ["a@example.org"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsmon.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    return caught.value


def test_the_shipped_config_loads() -> None:
    settings = load_settings(ROOT / "newsmon.toml")
    (watch,) = settings.watch
    assert watch.name == "russia-taliban"
    assert len(watch.feeds) >= 5
    assert watch.parsed_query.match("Lavrov met the Taliban in Kabul")


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, VALID))
    assert settings.storage.url == f"sqlite:///{tmp_path.resolve()}/data/newsmon.db"
    assert settings.outbox == tmp_path.resolve() / "outbox"
    assert settings.fetch.limits().timeout == 7


def test_database_url_from_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSMON_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/test")
    assert load_settings(write(tmp_path, VALID)).database_url.startswith("postgresql")


@pytest.mark.parametrize(
    ("bad", "good", "key", "words"),
    [
        ("timeout = 7", 'timeout = "soon"', "fetch.timeout", "number"),
        ("query = 'Kabul'", "query = 'Kabul AND (Taliban'", "watch[1].query", "position"),
        (
            'feeds = ["https://example.org/atom"]',
            'feeds = ["ftp://example.org/atom"]',
            "watch[1].feeds",
            "not an http(s) URL",
        ),
        (
            'recipients = ["a@example.org"]',
            'recipients = ["nobody"]',
            "watch[1].recipients",
            "email",
        ),
        ('name = "second"', 'name = "Second Watch"', "watch[1].name", "lower-case"),
        ('host = ""', 'security = "tls"', "email.security", "none"),
    ],
)
def test_errors_name_file_line_and_key(
    tmp_path: Path, bad: str, good: str, key: str, words: str
) -> None:
    text = VALID.replace(bad, good)
    error = error_for(tmp_path, text)
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.strip() == good)
    assert str(error).startswith(f"{tmp_path / 'newsmon.toml'}:{line}: {key}: ")
    assert words in str(error)


def test_malformed_toml_names_the_line(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace("timeout = 7", "timeout = = 7"))
    assert error.line == 6
    assert "not valid TOML" in str(error)


def test_duplicate_watch_names_are_refused(tmp_path: Path) -> None:
    error = error_for(tmp_path, VALID.replace('name = "second"', 'name = "first"'))
    assert "duplicate watch 'first'" in str(error)
    assert error.key == "watch[1].name"


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    assert "config file not found" in str(error_for_missing(tmp_path))


def error_for_missing(tmp_path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "nope.toml")
    return caught.value


def test_unknown_watch_is_named(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, VALID))
    with pytest.raises(ConfigError, match="no watch named 'third'"):
        settings.get_watch("third")


def test_prefect_yaml_matches_the_shipped_watches() -> None:
    settings = load_settings(ROOT / "newsmon.toml")
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    for watch in settings.watch:
        mine = [d for d in deployments if d["parameters"]["watch"] == watch.name]
        by_flow = {d["entrypoint"]: d for d in mine}
        poll = by_flow["flows/poll.py:poll_feeds"]
        digest = by_flow["flows/digest.py:send_digest"]
        assert poll["schedules"][0]["cron"] == watch.poll
        assert digest["schedules"][0]["cron"] == watch.digest
        assert poll["concurrency_limit"] == digest["concurrency_limit"] == 1
