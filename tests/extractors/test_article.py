"""HTML page → Article: a realistic news page, edge cases, and the ways a page can fail."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest

from extractors.article import ExtractionError, clean_body, extract_article
from extractors.cleantext import parse_document

TESTDATA = Path(__file__).parent / "testdata"
NEWS_URL = (
    "https://www.dailyledger.example/world/2023/09/29/russia-taliban-kazan"
    "?utm_source=rss&utm_medium=feed"
)

NEWS_BODY = """\
Russia hosted a Taliban delegation for talks on regional security on Friday, pledging continued \
food aid to Afghanistan through the United Nations despite the group’s international isolation.

The meeting in Kazan, the fifth session of the so-called Moscow format, brought together envoys \
from China, India, Iran, Pakistan and the former Soviet republics of Central Asia, according to \
the [Russian foreign ministry](https://www.dailyledger.example/topics/russian-foreign-ministry).

Zamir Kabulov, President Vladimir Putin’s special representative for Afghanistan, read out a \
letter from Foreign Minister Sergei Lavrov that accused Western countries of a “complete \
failure” in Afghanistan.

Delegates discussed three issues at length:

- the threat posed by the Islamic State group in northern Afghanistan;
- drug trafficking across the Central Asian borders;
- the formation of an inclusive government in Kabul.

Acting Foreign Minister Amir Khan Muttaqi told the meeting that the Islamic Emirate did not \
prescribe forms of governance to others and expected the same in return. The full statement \
was published on the [ministry’s website](https://www.mfa.gov.af/en/statement-kazan).

Russia has not formally recognised the Taliban government, but it has kept its embassy in Kabul \
open since the group took power in August 2021."""

BOILERPLATE = (
    "cookie",
    "Subscribe",
    "Share on",
    "Email this",
    "newsletter",
    "Morning Briefing",
    "Sign up",
    "Related stories",
    "China becomes first country",
    "Flights resume",
    "Most read",
    "Oil prices",
    "About us",
    "Privacy",
    "All rights reserved",
    "Tags:",
    "Senior Correspondent",
    "Photo: Press pool",
)


@pytest.fixture(scope="module")
def news_html() -> bytes:
    return (TESTDATA / "article_news.html").read_bytes()


def test_realistic_news_page(news_html: bytes) -> None:
    article = extract_article(news_html, NEWS_URL)
    assert article.url == NEWS_URL
    assert article.canonical_url == (
        "https://dailyledger.example/world/2023/09/29/russia-taliban-kazan"
    )
    assert article.title == "Russia hosts Taliban for talks in Kazan"
    assert article.author == "Jane Doe"
    assert article.site == "The Daily Ledger"
    assert article.published == datetime(2023, 9, 29, 11, 5, tzinfo=UTC)
    assert article.language == "en"
    assert article.body == NEWS_BODY
    assert article.text == (
        "Russia hosts Taliban for talks in Kazan\n\n"
        "By Jane Doe · The Daily Ledger · 2023-09-29\n\n"
        f"{NEWS_BODY}\n"
    )


def test_news_body_is_free_of_boilerplate(news_html: bytes) -> None:
    body = extract_article(news_html, NEWS_URL).body
    for furniture in BOILERPLATE:
        assert furniture not in body, furniture
    assert "<" not in body and "&rsquo;" not in body and "&amp;" not in body
    assert "\n\n\n" not in body
    assert not body.startswith("Russia hosts Taliban for talks in Kazan")


def test_extracted_text_parses_back(news_html: bytes) -> None:
    article = extract_article(news_html, NEWS_URL)
    parsed = parse_document(article.text)
    assert (parsed.title, parsed.author, parsed.site) == (article.title, "Jane Doe", article.site)
    assert parsed.published == article.published.date()
    assert parsed.body == article.body


def test_str_input_gives_the_same_article(news_html: bytes) -> None:
    assert extract_article(news_html.decode("utf-8"), NEWS_URL) == extract_article(
        news_html, NEWS_URL
    )


def page(body: str, head: str = "", charset: str = "utf-8") -> str:
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>Kabul embassy reopens'
        f"</title>{head}</head><body><header><nav><a href='/'>Home</a> <a href='/world'>World"
        f"</a></nav></header><main><article><h1>Kabul embassy reopens</h1>{body}</article></main>"
        "<footer><p>© 2024 The Steppe Wire. All rights reserved.</p></footer></body></html>"
    )


PARAGRAPHS = (
    "<p>The embassy in Kabul reopened on Monday after a two-year closure, the foreign ministry "
    "said in a statement that was read out to reporters at the gates of the compound.</p>"
    "<p>Officials said consular services would resume next month and that visa applications "
    "would again be accepted from Afghan students who had been admitted to universities.</p>"
)


def test_relative_links_resolve_against_the_page_and_base() -> None:
    body = (
        "<p>The embassy in Kabul reopened on Monday after a two-year closure, the "
        "<a href='../ministry/statement.html'>ministry said</a> in a statement read out to "
        "reporters at the gates of the compound in the centre of the city.</p>"
        "<p>Consular services resume next month, according to "
        "<a href='//cdn.example.net/notice.pdf'>a notice</a> posted on the gates, and visas "
        "will again be issued to students admitted to universities abroad.</p>"
    )
    article = extract_article(page(body), "https://wire.example/news/2024/embassy.html")
    assert "[ministry said](https://wire.example/news/ministry/statement.html)" in article.body
    assert "[a notice](https://cdn.example.net/notice.pdf)" in article.body
    with_base = page(body, head='<base href="https://static.wire.example/archive/x/">')
    article = extract_article(with_base, "https://wire.example/news/2024/embassy.html")
    assert "[ministry said](https://static.wire.example/archive/ministry/statement.html)" in (
        article.body
    )


def test_bytes_in_a_declared_legacy_charset() -> None:
    html = page(PARAGRAPHS.replace("Kabul", "Kabul café"), charset="windows-1252")
    article = extract_article(html.encode("cp1252"), "https://wire.example/cafe")
    assert "Kabul café reopened" in article.body


def test_bytes_with_a_utf8_bom() -> None:
    html = "\ufeff" + page(PARAGRAPHS.replace("Kabul", "Kābul"))
    assert "Kābul reopened" in extract_article(html.encode("utf-8"), "https://w.example/a").body


def test_fallbacks_without_head_metadata() -> None:
    url = "https://www.wire.example/news/embassy?utm_campaign=x"
    article = extract_article(page(PARAGRAPHS), url)
    assert article.canonical_url == "https://wire.example/news/embassy"
    assert article.site == "wire.example"
    assert article.title == "Kabul embassy reopens"
    assert article.author is None
    assert article.published is None
    assert article.language == "en"  # detected from the text: no tag says so
    assert article.text.startswith("Kabul embassy reopens\n\nwire.example\n\nThe embassy in Kabul")


def test_og_url_and_a_home_page_canonical() -> None:
    head = (
        '<link rel="canonical" href="https://wire.example/">'
        '<meta property="og:url" content="https://wire.example/news/embassy-reopens/amp">'
    )
    article = extract_article(page(PARAGRAPHS, head), "https://wire.example/n/123")
    assert article.canonical_url == "https://wire.example/news/embassy-reopens"


def test_headline_byline_and_date_repeated_in_the_text_are_dropped() -> None:
    body = (
        "<div class='content'><p>Kabul Embassy Reopens</p><p>By Jane Doe, Staff Writer</p>"
        "<p>March 4, 2024</p>" + PARAGRAPHS + "</div>"
    )
    article = extract_article(page(body), "https://wire.example/news/embassy")
    assert article.body.startswith("The embassy in Kabul reopened on Monday")


def test_title_loses_the_site_suffix() -> None:
    head = '<meta property="og:site_name" content="The Steppe Wire">'
    html = page(PARAGRAPHS, head).replace("<h1>Kabul embassy reopens</h1>", "")
    html = html.replace(
        "<title>Kabul embassy reopens", "<title>Kabul embassy reopens | The Steppe Wire"
    )
    article = extract_article(html, "https://wire.example/news/embassy")
    assert article.title == "Kabul embassy reopens"
    assert article.site == "The Steppe Wire"


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        (b"", "empty page"),
        (b"  \r\n\t ", "empty page"),
        ("", "empty page"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not HTML"),
        (b'{"error": "not found"}', "not HTML"),
        (b"plain words, no markup at all", "not HTML"),
        (
            b"<!DOCTYPE html><html><head><title>Home</title></head><body><nav><ul>"
            b"<li><a href='/a'>World</a></li><li><a href='/b'>Sport</a></li></ul></nav>"
            b"<footer>&copy; 2024 Wire</footer></body></html>",
            "no article text found",
        ),
        (b"<html><head><title>x</title></head><body></body></html>", "no article text found"),
    ],
)
def test_pages_without_an_article(html: bytes | str, reason: str) -> None:
    url = "https://wire.example/x"
    with pytest.raises(ExtractionError) as caught:
        extract_article(html, url)
    assert caught.value.reason == reason
    assert caught.value.url == url


def test_extraction_error_survives_a_process_pool() -> None:
    error = pickle.loads(pickle.dumps(ExtractionError("https://w.example/x", "not HTML")))
    assert (error.url, error.reason) == ("https://w.example/x", "not HTML")


def test_clean_body_removes_furniture_and_keeps_the_article() -> None:
    raw = (
        "Kabul Embassy Reopens\n\n"
        "By Jane Doe\n\n"
        "The embassy reopened on Monday &amp; consular services resume next month.\n\n"
        "Share on Facebook\n\n"
        "Officials said visas would again be issued to students.<br>\n\n\n\n"
        "Sign up for our newsletter and get the top stories in your inbox\n\n"
        "Officials said visas would again be issued to students.\n\n"
        "- first point\n- second point\n\n"
        "DON'T MISS\n\n"
        "[China names ambassador](https://w.example/a)\n\n"
        "[Flights resume at Kabul airport](https://w.example/b)\n\n"
        "The ministry did not say when the ambassador would return to the "
        "[compound](https://w.example/c).\n\n"
        "- [Related one](https://w.example/d)\n- [Related two](https://w.example/e)\n\n"
        "© 2024 The Steppe Wire. All rights reserved."
    )
    assert clean_body(raw, title="Kabul embassy reopens") == (
        "The embassy reopened on Monday & consular services resume next month.\n\n"
        "Officials said visas would again be issued to students.\n\n"
        "- first point\n- second point\n\n"
        "The ministry did not say when the ambassador would return to the "
        "[compound](https://w.example/c)."
    )


def test_clean_body_keeps_prose_that_merely_starts_like_furniture() -> None:
    raw = (
        "By the time the delegates arrived, the talks had already begun.\n\n"
        "Picture this: a ministry with no ministers.\n\n"
        "Email the ministry, and nobody answers."
    )
    assert clean_body(raw, title="Talks") == raw


def test_headline_with_a_kicker_and_a_foreign_date_line_are_dropped() -> None:
    body = (
        "<div class='content'><p>World | Kabul embassy reopens</p>"
        "<p>segunda-feira, 4 de março de 2024 às 10:13</p>" + PARAGRAPHS + "</div>"
    )
    article = extract_article(page(body), "https://wire.example/news/embassy")
    assert article.body.startswith("The embassy in Kabul reopened on Monday")


def test_a_first_paragraph_that_only_mentions_the_headline_words_is_kept() -> None:
    raw = (
        "Kabul embassy reopens, the ministry said, and consular services resume next month.\n\n"
        "Officials said visas would again be issued to students."
    )
    assert clean_body(raw, title="Kabul embassy reopens") == raw


def test_trailing_promos_credits_and_captions_are_dropped() -> None:
    raw = (
        "The embassy reopened on Monday and consular services resume next month.\n\n"
        "Related: Kabul airport reopens to international flights\n\n"
        "The ambassador is expected to return in the spring. (Photo: Wire Agency)\n\n"
        "Officials said visas would again be issued to students.\n\n"
        "Reporting by Jane Doe; Editing by John Roe\n\n"
        "Sign up for The Steppe Wire's free daily newsletter, delivered to your inbox.\n\n"
        "Email Jane Doe at jdoe@wire.example or follow her on Twitter @janedoe."
    )
    assert clean_body(raw, title="Kabul embassy reopens") == (
        "The embassy reopened on Monday and consular services resume next month.\n\n"
        "Officials said visas would again be issued to students."
    )


def test_language_comes_from_the_text_not_the_template() -> None:
    paragraphs = "".join(
        f"<p>{p}</p>"
        for p in (
            "Россия провела в пятницу в Казани переговоры с делегацией талибов о торговле, "
            "безопасности и поставках зерна в Афганистан.",
            "Специальный представитель президента Замир Кабулов заявил, что Москва продолжит "
            "отправлять в Кабул пшеницу и топливо в ближайшие месяцы.",
        )
    )
    page = f"""<html lang="en"><head><title>Переговоры в Казани</title></head><body>
<article><h1>Переговоры в Казани</h1>{paragraphs}</article></body></html>"""
    assert extract_article(page, "https://ru.example/kazan").language == "ru"


def test_a_host_fragment_as_site_name_becomes_the_host_and_a_bio_is_not_an_author() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {n}: Russian and Taliban officials met in Kabul to discuss grain, fuel "
        f"and a railway through Uzbekistan, the foreign ministry said on Tuesday.</p>"
        for n in range(4)
    )
    page = f"""<html><head><title>Talks in Kabul</title>
<meta property="og:site_name" content="nj">
<meta name="author" content="Phil Helsel is a reporter for the wire desk"></head>
<body><article><h1>Talks in Kabul</h1>{paragraphs}</article></body></html>"""
    article = extract_article(page, "https://www.nj.com/news/kabul-talks")
    assert article.site == "nj.com"
    assert article.author == "Phil Helsel"
