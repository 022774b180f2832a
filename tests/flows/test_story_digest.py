"""A story that grows after it was mailed comes back as an update, not as a new story."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

from typer.testing import CliRunner

from flows.cli import app
from tests.configfile import write_config

runner = CliRunner()

WRITE_UPS = [
    (
        "https://ledger.example/kazan",
        "Russia and Taliban sign grain deal in Kazan",
        "Russia and the Taliban signed a grain supply deal in Kazan on Friday. Deputy prime "
        "minister Abdul Ghani Baradar and Russian deputy minister Alexei Overchuk signed the "
        "Kazan agreement, which covers wheat, flour and fuel shipments to Afghanistan through "
        "Uzbekistan. Baradar called the Kazan deal a turning point for Afghan food security.",
    ),
    (
        "https://wire.example/kazan-deal",
        "Kazan deal: Moscow to ship wheat to Afghanistan",
        "Moscow will ship wheat and fuel to Afghanistan under a deal the Taliban signed in "
        "Kazan, Russian officials said. Overchuk told reporters in Kazan that the first trains "
        "would leave in spring. Baradar, who led the Taliban delegation to Kazan, thanked "
        "Russia and said the Kazan deal would feed millions of Afghans.",
    ),
    (
        "https://daily.example/kazan-reaction",
        "Afghan traders welcome Kazan grain deal",
        "Traders in Kabul welcomed the Kazan grain deal between Russia and the Taliban. The "
        "agreement Baradar and Overchuk signed in Kazan should lower flour prices in Afghanistan, "
        "merchants said, if the Russian wheat and fuel arrive through Uzbekistan as planned.",
    ),
]


def ingest(config: Path, tmp_path: Path, rows: list[tuple[str, str, str]], day: int) -> None:
    source = tmp_path / f"in{day}.jsonl"
    source.write_text(
        "\n".join(
            json.dumps(
                {"url": u, "title": t, "text": x, "published": f"2026-11-2{day}T0{n}:00:00Z"}
            )
            for n, (u, t, x) in enumerate(rows)
        )
    )
    result = runner.invoke(app, ["--config", str(config), "ingest", str(source)])
    assert result.exit_code == 0, result.output


def test_a_grown_story_is_mailed_as_an_update(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    ingest(config, tmp_path, WRITE_UPS[:2], day=0)
    first = runner.invoke(app, ["--config", str(config), "digest"])
    assert "sent digest of 2 articles" in first.output

    ingest(config, tmp_path, WRITE_UPS[2:], day=1)
    second = runner.invoke(app, ["--config", str(config), "digest"])
    assert "sent digest of 1 article" in second.output

    last = max((tmp_path / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime)
    message = email.message_from_bytes(last.read_bytes(), policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    assert "new since last digest: 1 source" in text
    # The update keeps the headline it was first sent with and lists every source.
    assert text.index(WRITE_UPS[0][1]) < text.index(WRITE_UPS[2][1])
    assert WRITE_UPS[1][0] in text and WRITE_UPS[2][0] in text
