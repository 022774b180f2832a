"""Composing digests: excerpts, Message-IDs, the two parts, grouping, escaping, reproducibility."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime

import pytest

from alerts.digest import (
    FULL_SINGLETONS,
    DigestItem,
    compose_digest,
    digest_markdown,
    excerpt,
    group_entries,
    make_message_id,
    sender_domain,
    template_environment,
    watch_title,
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
    assert message["Subject"] == "Russia–Taliban: 1 story, 3 articles — 23 Nov"
    assert message["Subject"] == sample_digest.subject
    assert message["Date"].datetime == NOW
    assert message["Message-ID"] == sample_digest.message_id
    assert message["List-Unsubscribe"].strip() == (
        "<mailto:alerts@news.example.org?subject=unsubscribe%20russia-taliban>"
    )
    assert "List-Unsubscribe-Post" not in message  # only for an https unsubscribe URL
    assert sample_digest.recipients == ("analyst@example.com", "desk@example.net")


def test_subject_without_stories(make_item):
    digest = compose([make_item(1), make_item(2), make_item(3)])
    assert digest.subject == "Russia–Taliban: 3 articles — 23 Nov"
    assert compose([make_item(1)]).subject == "Russia–Taliban: 1 article — 23 Nov"


def test_subject_counts_only_real_stories(make_item):
    items = [make_item(1, story_id=7), make_item(2, story_id=7), make_item(3)]
    assert compose(items).subject == "Russia–Taliban: 1 story, 3 articles — 23 Nov"
    items += [make_item(4, story_id=8), make_item(5, story_id=8), make_item(6, story_id=9)]
    assert compose(items).subject == "Russia–Taliban: 2 stories, 6 articles — 23 Nov"


def test_subject_title_is_given_or_the_humanised_watch_name(make_item):
    assert watch_title("russia-taliban") == "Russia–Taliban"
    assert watch_title("china_us trade") == "China–Us–Trade"
    assert watch_title("Kabul") == "Kabul"
    digest = compose([make_item(1)], title="Russia & the Taliban")
    assert digest.subject == "Russia & the Taliban: 1 article — 23 Nov"
    text, html = parts(digest.message)
    assert text.startswith("Russia & the Taliban — newsmon digest\n")
    assert "Russia &amp; the Taliban</h1>" in html


def test_subject_is_utf8_encoded_in_the_header(make_item):
    data = compose([make_item(1)]).message.as_bytes()
    subject = re.search(rb"^Subject: (.+?)\r\n(?! )", data, flags=re.MULTILINE | re.DOTALL)
    assert subject and subject.group(1).startswith(b"=?utf-8?")
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["Subject"] == "Russia–Taliban: 1 article — 23 Nov"


def test_no_unsubscribe_header_without_a_sender_address(make_item):
    digest = compose([make_item(1)], sender="newsmon")
    assert "List-Unsubscribe" not in digest.message


def test_every_item_is_in_both_parts(sample_digest, sample_items):
    text, html = parts(sample_digest.message)
    for item in sample_items:
        assert item.url in text
        assert item.url.replace("&", "&amp;") in html
        assert item.site in text and item.site in html
    assert "Taliban delegation in Kazan" in text and "Taliban delegation in Kazan" in html
    assert "Moscow keeps aid flowing to Kabul" in text and "Moscow keeps aid flowing" in html
    assert "Excerpt of article 1." in text and "Excerpt of article 1." in html
    assert "22 Nov 2026" in text and "22 Nov 2026" in html
    assert "22 Nov 18:00" in text and "22 Nov 18:00" in html  # the time of each source
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
    assert [n for n, _ in numbered] == ["1"]
    assert numbered[0][1].startswith("Russia hosts <script>")
    story, also = text.split("\nAlso matched\n")
    assert "2 sources" in story
    assert "News One" in story and "Wire Two" in story
    assert "https://site2.example/news/2" in story
    assert html.count("2 sources") == 1
    # The single article: one compact line after the stories, without its excerpt.
    assert also.startswith("------------\n- Moscow keeps aid flowing to Kabul · Paper Three · ")
    assert "Excerpt of article 3." not in text and "Excerpt of article 3." not in html
    assert html.index("Also matched") > html.index("Wire Two")


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


# --- stories, updates and the compact list ---------------------------------------------------


def at(hour: int) -> datetime:
    return datetime(2026, 11, 22, hour, 0, tzinfo=UTC)


def test_stories_are_ordered_by_size_then_recency(make_item):
    items = [
        make_item(1, published=at(9)),  # single, older
        make_item(2, story_id=20, published=at(8)),
        make_item(3, story_id=20, published=at(10)),
        make_item(4, story_id=30, published=at(7)),
        make_item(5, story_id=30, published=at(8)),
        make_item(6, story_id=30, published=at(6)),
        make_item(7, story_id=40, published=at(11)),
        make_item(8, story_id=40, published=at(12)),
        make_item(9, published=at(15)),  # single, newer
        make_item(10, published=None),  # single, undated: last
    ]
    digest = compose(items)
    layout = digest.layout
    # 3 sources first; then the two 2-source stories, the one with the latest source first.
    assert [e.story_id for e in layout.entries] == [30, 40, 20]
    assert [e.sources[0].article_id for e in layout.also] == [9, 1, 10]
    # The lead (first in the input) comes first, the other sources oldest first.
    assert [s.article_id for s in layout.entries[0].sources] == [4, 6, 5]
    assert digest.subject == "Russia–Taliban: 3 stories, 10 articles — 23 Nov"
    text, _ = parts(digest.message)
    assert text.index("Article 4") < text.index("Article 7") < text.index("Article 2")


def test_singletons_only_are_shown_in_full(make_item):
    digest = compose([make_item(1), make_item(2, published=at(20))])
    text, html = parts(digest.message)
    assert [e.sources[0].article_id for e in digest.layout.entries] == [2, 1]
    assert digest.layout.also == ()
    assert "Also matched" not in text and "Also matched" not in html
    assert re.findall(r"^(\d+)\. (.+)$", text, flags=re.MULTILINE) == [
        ("1", "Article 2"),
        ("2", "Article 1"),
    ]
    for part in (text, html):
        assert "Excerpt of article 1." in part and "Excerpt of article 2." in part
        assert "Site 1 · 22 Nov 2026" in part
        assert "sources" not in part


def test_many_singletons_overflow_into_the_compact_list(make_item):
    items = [make_item(n, published=at(n)) for n in range(1, FULL_SINGLETONS + 4)]
    digest = compose(items)
    assert len(digest.layout.entries) == FULL_SINGLETONS
    assert len(digest.layout.also) == 3
    text, html = parts(digest.message)
    assert "\nAlso matched\n------------\n" in text and ">Also matched</div>" in html
    assert "Excerpt of article 1." not in text  # the oldest are compact


def test_a_story_delivered_before_comes_back_as_an_update(make_item):
    items = [
        make_item(1, story_id=5, title="Original", previously_delivered=True),
        make_item(2, story_id=5, published=at(20)),
        make_item(3, story_id=5, published=at(21)),
        make_item(4, story_id=6, previously_delivered=True),  # nothing new: not shown
        make_item(5),
    ]
    digest = compose(items)
    (entry,) = digest.layout.entries
    assert entry.is_update and entry.title == "Original"
    assert [s.article_id for s in entry.new_sources] == [2, 3]
    assert [i.article_id for i in digest.items] == [2, 3, 5]  # what this digest delivers
    assert digest.message_id == make_message_id("russia-taliban", [2, 3, 5], "news.example.org")
    assert digest.subject == "Russia–Taliban: 1 story, 3 articles — 23 Nov"
    text, html = parts(digest.message)
    for part in (text, html):
        assert "3 sources" in part and "new since last digest: 2 sources" in part
        assert "Article 4" not in part
    assert "Article 2 (new)" in text
    fresh = compose([make_item(1, story_id=5), make_item(2, story_id=5)])
    assert "new since" not in parts(fresh.message)[0]


def test_a_story_without_dates_or_sites_still_renders(make_item):
    items = [
        make_item(1, story_id=3, site=None, published=None, url="https://www.paper.example/a"),
        make_item(2, story_id=3, site=None, published=None, excerpt=""),
    ]
    text, html = parts(compose(items).message)
    for part in (text, html):
        assert "paper.example" in part and "site2.example" in part  # outlet from the URL
        assert "2 sources" in part


# --- what mail clients need ------------------------------------------------------------------


def test_html_is_built_for_mail_clients(sample_digest):
    _, html = parts(sample_digest.message)
    assert '<meta name="color-scheme" content="light dark">' in html
    assert '<meta name="supported-color-schemes" content="light dark">' in html
    assert "@media (prefers-color-scheme: dark)" in html
    assert 'role="presentation"' in html and "max-width:640px" in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    # Layout is inline: the only <style> holds media queries and the color-scheme root rule.
    style = re.search(r"<style>(.*?)</style>", html, flags=re.DOTALL).group(1)
    outside = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*\s*\}", "", style)
    assert re.sub(r":root \{[^}]*\}", "", outside).strip() == ""
    # No external assets: no images, fonts, stylesheets or scripts.
    lowered = html.lower()
    for marker in ("<img", "<link", "<script", "@import", "url(", "src=", "@font-face"):
        assert marker not in lowered
    assert html.count("<table") == html.count('role="presentation"')
    # Only links to the articles and the unsubscribe address.
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert all(h.startswith(("https://", "mailto:")) for h in hrefs)
    assert hrefs[-1] == "mailto:alerts@news.example.org?subject=unsubscribe%20russia-taliban"


def test_text_part_has_the_same_content(sample_digest):
    text, html = parts(sample_digest.message)
    layout = sample_digest.layout
    for entry in (*layout.entries, *layout.also):
        for source in entry.sources:
            assert source.url in text
            assert source.title in text
    for note in layout.notes:
        assert note in text and note in html
    assert "Unsubscribe: mailto:alerts@news.example.org?subject=unsubscribe%20russia-taliban" in (
        text
    )
    assert max(len(line) for line in text.splitlines()) <= 100  # wrapped, long URLs aside


def test_empty_digest_says_so(make_item):
    digest = compose([])
    text, html = parts(digest.message)
    assert digest.subject == "Russia–Taliban: no new articles — 23 Nov"
    assert "No new articles." in text and "No new articles." in html


# --- Markdown --------------------------------------------------------------------------------


def test_markdown_has_the_same_content(sample_digest, sample_items):
    markdown = digest_markdown(sample_digest)
    assert markdown.startswith("# Russia–Taliban\n\n**1 story, 3 articles** · 23 Nov 2026\n")
    assert "## 1. [Russia hosts \\<script\\>alert('x')\\</script\\> Taliban & friends](" in markdown
    assert "(<https://news-one.example/russia-taliban?id=1&ref=rss>)" in markdown
    assert "- **Wire Two** · 22 Nov 18:00 · [Taliban delegation in Kazan](" in markdown
    assert "## Also matched\n\n- [Moscow keeps aid flowing to Kabul](" in markdown
    assert "*matched: Russia, Taliban*" in markdown
    assert "## Feed and extraction health\n\n- Feed https://feeds.example/rss failing" in markdown


def test_markdown_escapes_and_refuses_unsafe_links(make_item):
    item = make_item(1, title="*bold* [x](javascript:alert(1))", url="javascript:alert(1)")
    markdown = digest_markdown(compose([item]))
    assert "\\*bold\\* \\[x\\](javascript:alert(1))" in markdown
    assert "(<javascript" not in markdown
    assert re.search(r"(?<!\\)\]\(", markdown) is None  # no link but escaped text


# --- excerpt: a 2–3 sentence lead ------------------------------------------------------------


def test_excerpt_keeps_at_most_three_sentences():
    body = "One happened. Two followed. Three ended it. Four is extra."
    assert excerpt(body) == "One happened. Two followed. Three ended it."
    assert excerpt(body, max_sentences=2) == "One happened. Two followed."
