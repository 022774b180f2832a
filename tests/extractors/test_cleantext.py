"""The clean-text format: writer, reader, round trip, and the seed files read tolerantly."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from extractors.cleantext import (
    ParsedDocument,
    clean_author,
    normalise_body,
    parse_date_line,
    parse_document,
    render_document,
)

SEEDS = Path(__file__).resolve().parents[2] / "seeds"

BODY = (
    "Russia hosted a Taliban delegation for talks on regional security on Friday.\n\n"
    "The meeting was the fifth session of the [Moscow format](https://example.org/moscow-format)."
    "\n\n- drug trafficking\n- the Islamic State group\n\n"
    "Zamir Kabulov read out a letter from Sergei Lavrov."
)


def test_render_document_writes_the_design_format() -> None:
    text = render_document(
        "Russia hosts Taliban for talks in Kazan",
        BODY,
        author="Jane Doe",
        site="The Daily Ledger",
        published=datetime(2023, 9, 29, 11, 5, tzinfo=UTC),
    )
    assert text == (
        "Russia hosts Taliban for talks in Kazan\n\n"
        "By Jane Doe · The Daily Ledger · 2023-09-29\n\n"
        f"{BODY}\n"
    )


@pytest.mark.parametrize(
    ("author", "site", "published", "byline"),
    [
        ("Jane Doe", None, None, "By Jane Doe"),
        (None, "The Daily Ledger", None, "The Daily Ledger"),
        (None, None, date(2023, 9, 29), "2023-09-29"),
        (None, "Reuters", date(2023, 9, 29), "Reuters · 2023-09-29"),
        ("Jane Doe", None, date(2023, 9, 29), "By Jane Doe · 2023-09-29"),
    ],
)
def test_byline_has_only_the_known_parts(
    author: str | None, site: str | None, published: date | None, byline: str
) -> None:
    text = render_document("Title", "Body.", author=author, site=site, published=published)
    assert text == f"Title\n\n{byline}\n\nBody.\n"


def test_no_byline_line_when_nothing_is_known() -> None:
    assert render_document("Title", "Body.") == "Title\n\nBody.\n"


def test_render_normalises_the_body() -> None:
    text = render_document("  A  title\n", "\n\nFirst.  \n\n\n\nSecond\u00a0part.\n\n")
    assert text == "A title\n\nFirst.\n\nSecond part.\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a  \nb\t\n", "a\nb"),
        ("\n\n\nfirst\n\n\n\nsecond\n\n\n", "first\n\nsecond"),
        ("one\u00a0two\u202fthree", "one two three"),
        ("Af\u00adghan\u00adistan\u200b", "Afghanistan"),
        ("line\r\nother\r\n\r\n\r\nthird", "line\nother\n\nthird"),
        ("   \n  \n", ""),
        ("para\n   \n\t\n  \npara", "para\n\npara"),
    ],
)
def test_normalise_body(raw: str, expected: str) -> None:
    assert normalise_body(raw) == expected


ROUND_TRIPS = [
    (
        "Russia hosts Taliban for talks in Kazan",
        BODY,
        "Jane Doe",
        "The Daily Ledger",
        date(2023, 9, 29),
    ),
    ("Russia hosts Taliban", BODY, None, None, None),
    ("Russia hosts Taliban", BODY, "Jane Doe", None, None),
    ("Russia hosts Taliban", BODY, None, "The Daily Ledger", None),
    ("Russia hosts Taliban", BODY, None, "Associated Press", date(2021, 10, 20)),
    ("Russia hosts Taliban", BODY, None, None, date(2021, 10, 20)),
    ("Lavrov: Russia to open trade mission", "One paragraph only.", "AFP", "Le Monde", None),
    ("Taliban “Islamic Emirate” talks", BODY, "Vladimir Isachenkov", "Associated Press", None),
    ("Title", "Body", "Jane Doe; John Roe", "bbc.com", date(2023, 1, 2)),
    ("Title", "By the way, this first paragraph starts like a byline.", None, None, None),
    ("Title", "September 29, 2023 was a Friday, and this paragraph says so.", "X Y", None, None),
    ("Title", "Short first line\n\nand more", None, "Site", date(2023, 9, 29)),
    ("Title", "", "Jane Doe", "Site", date(2023, 9, 29)),
    ("Title", "Reuters\n\nBy Jane Doe\n\nText.", None, None, date(2023, 9, 29)),
]


@pytest.mark.parametrize(("title", "body", "author", "site", "published"), ROUND_TRIPS)
def test_round_trip_is_lossless(
    title: str, body: str, author: str | None, site: str | None, published: date | None
) -> None:
    text = render_document(title, body, author=author, site=site, published=published)
    parsed = parse_document(text)
    assert parsed == ParsedDocument(title, normalise_body(body), author, site, published)
    assert (
        render_document(
            parsed.title,
            parsed.body,
            author=parsed.author,
            site=parsed.site,
            published=parsed.published,
        )
        == text
    )


def test_round_trip_of_a_datetime_keeps_its_day() -> None:
    when = datetime(2023, 9, 29, 23, 30, tzinfo=UTC)
    parsed = parse_document(render_document("T", "B.", published=when))
    assert parsed.published == date(2023, 9, 29)


# --- the seed files --------------------------------------------------------------------------

SEED_EXPECTATIONS = {
    "000_5139f3bc387595ab.txt": (
        "Russia Hosts Taliban at “Regional Threat” Talks and Affirms Support for Kabul",
        "Luis Miguel",
        None,
        date(2023, 9, 29),
        "The Taliban may be a pariah to the Western geopolitical establishment",
    ),
    "001_198658e7dfa2d531.txt": (
        "Russia Pelages Support for Afghanistan Amid Taliban’s Global Isolation",
        None,
        None,
        date(2023, 9, 29),
        "icon-facebook icon-twitter icon-whatsapp\n\nMoscow: Russia has pledged",
    ),
    "002_e863bb10987ccbc4.txt": (
        "Russia Hosts Taliban Talks as It Seeks Regional Influence",
        "AFP",
        None,
        date(2023, 9, 29),
        "Amir Khan Muttaki, right, foreign minister of Afghanistan's interim Taliban-led",
    ),
    "003_1f0cf2954ae08370.txt": (
        "Taliban to Visit Russia as Group Cozy Up to America's Adversaries",
        None,
        None,
        None,
        "A Taliban delegation will arrive in Moscow next week",
    ),
    "004_30d30edba93f37e1.txt": (
        "Russia hosts talks aimed at stabilising Afghanistan under the Taliban",
        "Vladimir Isachenkov",
        "Associated Press",
        None,
        "The Taliban delegation in Moscow, © AP/Press Association Images\nShare this article\n\n"
        "Russia hosted talks on Afghanistan on Wednesday",
    ),
}


@pytest.mark.parametrize("name", sorted(SEED_EXPECTATIONS))
def test_seed_files_parse_tolerantly(name: str) -> None:
    title, author, site, published, body_start = SEED_EXPECTATIONS[name]
    raw = (SEEDS / name).read_text(encoding="utf-8")
    parsed = parse_document(raw)
    assert (parsed.title, parsed.author, parsed.site, parsed.published) == (
        title,
        author,
        site,
        published,
    )
    assert parsed.body.startswith(body_start)
    # header lines are gone from the body, nothing else is
    assert title.casefold() not in parsed.body.casefold()[:300]
    assert "](#)" not in parsed.body.split("\n\n")[0] or name == "000_5139f3bc387595ab.txt"
    assert "\n\n\n" not in parsed.body
    last_line = raw.rstrip().splitlines()[-1].strip()
    assert parsed.body.rstrip().endswith(last_line)


def test_seed_boilerplate_is_imported_as_it_is() -> None:
    seed = parse_document((SEEDS / "000_5139f3bc387595ab.txt").read_text(encoding="utf-8"))
    assert "As seen in an [Associated Press](#) report" in seed.body
    assert seed.body.endswith("- Cancel anytime.")
    seed = parse_document((SEEDS / "004_30d30edba93f37e1.txt").read_text(encoding="utf-8"))
    assert "Share this article" in seed.body
    assert "By Vladimir Isachenkov" not in seed.body
    assert "Russia Hosts Talks Aimed At" not in seed.body


def test_seeds_survive_a_render_and_parse_round_trip() -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        parsed = parse_document(path.read_text(encoding="utf-8"))
        text = render_document(
            parsed.title,
            parsed.body,
            author=parsed.author,
            site=parsed.site,
            published=parsed.published,
        )
        assert parse_document(text) == parsed, path.name


@pytest.mark.parametrize(
    ("text", "title", "author", "site", "published", "body"),
    [
        (
            "Kabul talks\n\nBy Jane Doe, Senior Correspondent\n\nText.\n",
            "Kabul talks",
            "Jane Doe",
            None,
            None,
            "Text.",
        ),
        (
            "Kabul talks\n\nBy Vladimir Isachenkov, Associated Press\n\nText.\n",
            "Kabul talks",
            "Vladimir Isachenkov",
            "Associated Press",
            None,
            "Text.",
        ),
        (
            "\n\nBy [Jane Doe](#) | September 29, 2023\n\n## Kabul talks\n\nText.",
            "Kabul talks",
            "Jane Doe",
            None,
            date(2023, 9, 29),
            "Text.",
        ),
        (
            "Kabul talks\nPublished: 29 September 2023 14:05 GMT\n\nText.",
            "Kabul talks",
            None,
            None,
            date(2023, 9, 29),
            "Text.",
        ),
        (
            "Kabul talks\n\nKABUL TALKS\n\nText.",
            "Kabul talks",
            None,
            None,
            None,
            "Text.",
        ),
        ("", "", None, None, None, ""),
        ("Only a title", "Only a title", None, None, None, ""),
    ],
)
def test_tolerant_variants(
    text: str,
    title: str,
    author: str | None,
    site: str | None,
    published: date | None,
    body: str,
) -> None:
    assert parse_document(text) == ParsedDocument(title, body, author, site, published)


def test_prose_starting_with_by_is_not_a_byline() -> None:
    text = "Kabul talks\n\nBy the end of the day, the delegates had agreed on nothing at all.\n"
    parsed = parse_document(text)
    assert parsed.author is None
    assert parsed.body.startswith("By the end of the day")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Fri Sep 29 2023", date(2023, 9, 29)),
        ("September 29, 2023", date(2023, 9, 29)),
        ("29 September 2023", date(2023, 9, 29)),
        ("2023-09-29", date(2023, 9, 29)),
        ("2023-09-29T14:05:00+03:00", date(2023, 9, 29)),
        ("Updated: Sept. 29, 2023, 2:05 p.m. ET", date(2023, 9, 29)),
        ("Share this article", None),
        ("The talks began in 2023", None),
        ("2023", None),
        ("Moscow Format on Afghanistan", None),
    ],
)
def test_parse_date_line(line: str, expected: date | None) -> None:
    assert parse_date_line(line) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("By Jane Doe, Senior Correspondent", "Jane Doe"),
        ("Jane Doe; Senior Correspondent", "Jane Doe"),
        ("Written by [Luis Miguel](#)", "Luis Miguel"),
        ("Jane Doe | Staff Writer", "Jane Doe"),
        ("Analysis by Chris Cillizza", "Chris Cillizza"),
        ("Jane Doe; John Roe; Jane Doe", "Jane Doe; John Roe"),
        ("Wire staff", "Wire staff"),
        ("  ", None),
        (None, None),
    ],
)
def test_clean_author(raw: str | None, expected: str | None) -> None:
    assert clean_author(raw) == expected
