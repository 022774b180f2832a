"""What the page's markup says before extraction: embedded posts belong to the article, hover
cards inside its sentences do not, and other posts on the page are not part of it."""

from __future__ import annotations

from pathlib import Path

from lxml import html as lxml_html

from extractors.article import extract_article
from extractors.embeds import unwrap_embedded_posts
from extractors.inline_widgets import drop_inline_widgets
from extractors.other_posts import drop_other_posts

TESTDATA = Path(__file__).parent / "testdata"


def test_embedded_post_in_a_wrapper_stays_in_the_body() -> None:
    page = (TESTDATA / "article_embedded_post.html").read_bytes()
    article = extract_article(page, "https://gardenstate.example/2019/11/meth-campaign.html")
    paragraphs = article.body.split("\n\n")
    assert paragraphs[2].startswith("Yes this is real and yes the state spent")
    assert paragraphs[-1].startswith("Governor Kristi Noem defended the campaign")
    assert "may be reached" not in article.body  # the author-contact trailer is furniture


def test_unwrapping_keeps_wrappers_that_hold_other_content() -> None:
    tree = lxml_html.fromstring(
        "<div><div class='social-embed'><blockquote class='twitter-tweet'>A post</blockquote>"
        "<script src='w.js'></script></div><div class='embed'><p>A caption</p>"
        "<blockquote class='twitter-tweet'>Another post</blockquote></div></div>"
    )
    unwrap_embedded_posts(tree)
    assert [child.tag for child in tree] == ["blockquote", "div"]
    assert tree[1].get("class") == "embed"


HOVER_CARD = (
    "<p>A New York man pleaded guilty to threatening to kill Rep. <span class='person'>"
    "<a href='/people/ilhan-omar'>Ilhan Omar</a><span class='person-card'><span>"
    "<img src='/omar.jpg' alt=''><a href='/people/ilhan-omar'>Ilhan Omar</a>"
    "<a href='/news/1'>Progressives oppose funding bill</a> <a href='/news/2'>Senators call "
    "for 5G security coordinator</a></span></span></span> (D-Minn.), prosecutors said.</p>"
)


def test_a_hover_card_inside_a_sentence_goes_and_the_sentence_stays() -> None:
    tree = lxml_html.fromstring(f"<div>{HOVER_CARD}</div>")
    drop_inline_widgets(tree)
    assert " ".join(tree.text_content().split()) == (
        "A New York man pleaded guilty to threatening to kill Rep. Ilhan Omar (D-Minn.), "
        "prosecutors said."
    )


def test_links_and_images_in_running_text_stay() -> None:
    paragraph = (
        "<div><p>The <a href='/a'>ministry</a> and the <a href='/b'>embassy</a> said so "
        "<span class='icon'><img src='/flag.png' alt=''></span> on Monday.</p></div>"
    )
    tree = lxml_html.fromstring(paragraph)
    drop_inline_widgets(tree)
    assert " ".join(tree.text_content().split()) == (
        "The ministry and the embassy said so on Monday."
    )


def test_other_posts_appended_to_the_page_are_not_the_article() -> None:
    page = (TESTDATA / "article_next_posts.html").read_bytes()
    article = extract_article(page, "https://mensagens.example/quem-se-ama")
    assert article.body.startswith("Viver uma verdadeira experiência amorosa")
    assert article.body.rstrip().endswith("não damos o nosso a eles.")
    assert "otimismo" not in article.body and "família" not in article.body


def test_posts_inside_the_headline_article_stay() -> None:
    entries = "".join(
        f"<article class='entry'><p>Update {n}: the talks resumed after a short break, and "
        f"the delegates returned to the hall for round {n} of the negotiations.</p></article>"
        for n in range(1, 5)
    )
    tree = lxml_html.fromstring(
        f"<html><body><article><h1>Live: the talks</h1>{entries}</article>"
        "<article><p>Teaser for another story.</p></article></body></html>"
    )
    drop_other_posts(tree)
    text = tree.text_content()
    assert all(f"Update {n}" in text for n in (1, 2, 3, 4))
    assert "Teaser" not in text


def test_a_small_headline_article_keeps_the_longer_ones_beside_it() -> None:
    body = "<p>" + "The body of the story runs long enough to matter here. " * 12 + "</p>"
    tree = lxml_html.fromstring(
        "<html><body><article class='header'><h1>The story</h1><p>A standfirst of some length"
        " that sums the story up for the reader in a sentence or two, long enough to count as "
        "an article of its own were it not for the body beside it, which is much longer still"
        " than this header with its headline, standfirst, byline and date.</p><p>"
        + "More standfirst. " * 15
        + f"</p></article><article class='body'>{body}</article></body></html>"
    )
    drop_other_posts(tree)
    assert "The body of the story" in tree.text_content()
