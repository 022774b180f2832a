"""Composing digests: excerpts, Message-IDs, the two parts, grouping, escaping, reproducibility."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime

import pytest

from alerts.digest import (
    DigestItem,
    compose_digest,
    excerpt,
    group_entries,
    make_message_id,
    sender_domain,
    template_environment,
)

NOW = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
SENDER = "newsmon <alerts@news.example.org>"


def parts(message):
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


def compose(items, **kwargs):
    values = {"sender": SENDER, "recipients": ["a@example.com"], "now": NOW}
    values.update(kwargs)
    return compose_digest("russia-taliban", items, **values)


# --- excerpt ---------------------------------------------------------------------------------


def test_excerpt_short_body_is_kept_whole():
    assert excerpt("Moscow hosted the talks.\n\nKabul sent a delegation.") == (
        "Moscow hosted the talks. Kabul sent a delegation."
    )


def test_excerpt_turns_links_into_their_text():
    body = "As [Associated Press](#) reported, [Lavrov](https://x.example/a_(b)) wrote a letter."
    assert excerpt(body) == "As Associated Press reported, Lavrov wrote a letter."


def test_excerpt_drops_list_markers_and_images():
    body = (
        "Main points:\n\n"
        "- food aid via the [WFP](https://wfp.example)\n"
        "- talks in Kazan\n\n"
        "![map](m.png)"
    )
    result = excerpt(body)
    assert result == "Main points: food aid via the WFP. talks in Kazan."
    assert "- " not in result and "](" not in result


def test_excerpt_keeps_whole_first_sentences_that_fit():
    first = "Russia hosted Taliban representatives in Kazan on Friday for regional talks."
    second = "Moscow said it would keep sending aid to Afghanistan through the UN food agency."
    third = "The meeting " + "went on and on " * 30 + "until late."
    result = excerpt(f"{first} {second}\n\n{third}", max_chars=200)
    assert result == f"{first} {second}"


def test_excerpt_cuts_a_long_sentence_at_a_word_boundary():
    body = "The Taliban delegation " + "travelled very far " * 40 + "to Moscow."
    result = excerpt(body, max_chars=100)
    assert len(result) <= 100
    assert result.endswith("…")
    assert result[:-1] == result[:-1].rstrip()  # no space before the ellipsis
    assert body.startswith(result[:-1])
    assert body[len(result) - 1] == " "  # the cut is at a word boundary


def test_excerpt_does_not_split_on_abbreviations():
    body = "Mr. Putin met U.S. officials. " + "Then " + "nothing happened again " * 20 + "."
    result = excerpt(body, max_chars=60)
    assert result.startswith("Mr. Putin met U.S. officials")


def test_excerpt_of_nothing_is_empty():
    assert excerpt("") == ""
    assert excerpt("\n\n   \n") == ""


def test_excerpt_never_exceeds_max_chars():
    body = "x" * 500
    result = excerpt(body, max_chars=50)
    assert len(result) <= 50 and result.endswith("…")


# --- Message-ID ------------------------------------------------------------------------------


def test_message_id_is_stable_and_order_independent():
    a = make_message_id("russia-taliban", [3, 1, 2], "example.org")
    assert a == make_message_id("russia-taliban", [1, 2, 3], "example.org")
    assert re.fullmatch(r"<digest\.russia-taliban\.[0-9a-f]{16}@example\.org>", a)


def test_message_id_differs_for_other_items_or_watch():
    base = make_message_id("russia-taliban", [1, 2, 3], "example.org")
    assert make_message_id("russia-taliban", [1, 2], "example.org") != base
    assert make_message_id("russia-taliban", [1, 2, 4], "example.org") != base
    assert make_message_id("china-taliban", [1, 2, 3], "example.org") != base


def test_message_id_slugs_the_watch_name():
    message_id = make_message_id("Russia / Taliban (Kazan)", [1], "example.org")
    assert message_id.startswith("<digest.russia-taliban-kazan.")


def test_sender_domain():
    assert sender_domain("newsmon <Alerts@News.Example.org>") == "news.example.org"
    assert sender_domain("alerts@localhost") == "localhost"
    assert sender_domain("nobody") == "newsmon.invalid"


def test_compose_uses_the_stable_message_id(make_item):
    items = [make_item(5), make_item(9)]
    first = compose(items)
    again = compose(list(reversed(items)), now=datetime(2026, 12, 1, tzinfo=UTC))
    other = compose([make_item(5)])
    assert first.message_id == again.message_id
    assert first.message_id == make_message_id("russia-taliban", [5, 9], "news.example.org")
    assert other.message_id != first.message_id
    assert first.message["Message-ID"] == first.message_id


# --- the message -----------------------------------------------------------------------------


def test_digest_headers_and_structure(sample_digest):
    message = email.message_from_bytes(
        sample_digest.message.as_bytes(), policy=email.policy.default
    )
    assert message.get_content_type() == "multipart/alternative"
    types = [part.get_content_type() for part in message.iter_parts()]
    assert types == ["text/plain", "text/html"]
    assert message["From"] == SENDER
    assert message["To"] == "analyst@example.com, desk@example.net"
    assert message["Subject"] == (
        "newsmon · russia-taliban: 3 new articles in 2 stories — 23 Nov 2026"
    )
    assert message["Subject"] == sample_digest.subject
    assert message["Date"].datetime == NOW
    assert message["Message-ID"] == sample_digest.message_id
    assert sample_digest.recipients == ("analyst@example.com", "desk@example.net")


def test_subject_without_stories(make_item):
    digest = compose([make_item(1), make_item(2), make_item(3)])
    assert digest.subject == "newsmon · russia-taliban: 3 new articles — 23 Nov 2026"
    assert compose([make_item(1)]).subject.endswith(": 1 new article — 23 Nov 2026")


def test_every_item_is_in_both_parts(sample_digest, sample_items):
    text, html = parts(sample_digest.message)
    for item in sample_items:
        assert item.url in text
        assert item.url.replace("&", "&amp;") in html
        assert item.site in text and item.site in html
    assert "Taliban delegation in Kazan" in text and "Taliban delegation in Kazan" in html
    assert "Moscow keeps aid flowing to Kabul" in text and "Moscow keeps aid flowing" in html
    assert "Excerpt of article 3." in text and "Excerpt of article 3." in html
    assert "22 Nov 2026" in text and "22 Nov 2026" in html
    assert "matched: Russia, Taliban" in text and "matched: Russia, Taliban" in html
    assert "matched: Russia\n" in text


def test_html_part_is_escaped_and_text_part_is_not(sample_digest):
    text, html = parts(sample_digest.message)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(" in html
    assert "Taliban &amp; friends" in html
    assert "Russia hosts <script>alert('x')</script> Taliban & friends" in text
    assert "&lt;" not in text and "&amp;" not in text


def test_template_autoescape_is_on_for_html_only():
    env = template_environment()
    assert env.autoescape("digest.html.j2") is True
    assert env.autoescape("digest.txt.j2") is False


def test_items_of_one_story_make_one_entry_with_both_sources(sample_digest):
    text, html = parts(sample_digest.message)
    numbered = re.findall(r"^(\d+)\. (.+)$", text, flags=re.MULTILINE)
    assert [n for n, _ in numbered] == ["1", "2"]
    assert numbered[0][1].startswith("Russia hosts <script>")
    assert numbered[1][1] == "Moscow keeps aid flowing to Kabul"
    story = text.split("\n2. ")[0]
    assert "2 sources" in story
    assert "News One" in story and "Wire Two" in story
    assert "https://site2.example/news/2" in story
    assert html.count("2 sources") == 1


def test_group_entries_keeps_input_order_and_merges_matched(make_item):
    items = [
        make_item(1, story_id=7, matched=("Russia",)),
        make_item(2),
        make_item(3, story_id=7, matched=("Taliban", "Russia")),
        make_item(2),  # repeated: counted once
    ]
    entries = group_entries(items)
    assert [[s.article_id for s in e.sources] for e in entries] == [[1, 3], [2]]
    assert entries[0].title == "Article 1" and entries[0].is_story
    assert entries[0].matched == ("Russia", "Taliban")
    assert not entries[1].is_story


def test_footer_notes_in_both_parts(sample_digest):
    text, html = parts(sample_digest.message)
    note = "Feed https://feeds.example/rss failing: HTTP 404"
    assert note in text and note in html
    assert text.index(note) > text.index("Moscow keeps aid flowing")


def test_unsafe_links_are_not_linked_in_html(make_item):
    digest = compose([make_item(1, url="javascript:alert(1)")])
    _, html = parts(digest.message)
    assert 'href="javascript' not in html
    assert "javascript:alert(1)" in html  # shown as text, not as a link


def test_items_without_site_date_or_excerpt(make_item):
    digest = compose([make_item(1, site=None, published=None, excerpt="", matched=())])
    text, html = parts(digest.message)
    assert "Article 1" in text and "Article 1" in html
    assert "matched:" not in text and "matched:" not in html


def test_message_bytes_are_reproducible(sample_items):
    def build():
        return compose(sample_items, footer_notes=["note"]).message.as_bytes()

    first = build()
    assert first == build()
    digest = compose(sample_items)
    assert digest.message.as_bytes() == digest.message.as_bytes()
    assert b"\r\n" in first and b"\n" not in first.replace(b"\r\n", b"")
    assert max(len(line) for line in first.split(b"\r\n")) <= 998
    assert first.isascii()  # 7-bit clean: needs neither 8BITMIME nor SMTPUTF8


def test_naive_now_is_taken_as_utc(make_item):
    digest = compose([make_item(1)], now=datetime(2026, 11, 23, 7, 30))
    assert digest.message["Date"].datetime == NOW


def test_no_recipients_is_an_error(make_item):
    with pytest.raises(ValueError):
        compose([make_item(1)], recipients=[])


def test_digest_item_is_frozen(make_item):
    with pytest.raises(AttributeError):
        make_item(1).title = "x"  # type: ignore[misc]
    assert isinstance(make_item(1), DigestItem)
