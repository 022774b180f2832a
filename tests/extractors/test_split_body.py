"""Bodies split over several containers: the chunks trafilatura leaves out are found."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from lxml import html as lxml_html

from extractors.article import extract_article, extract_saved_page
from extractors.split_body import split_body_blocks

TESTDATA = Path(__file__).parent / "testdata"
SPLIT_URL = "https://techweekly.example/story/future-of-banking/"
FIRST_CHUNK = [
    "The latest wave of financial startups has a new angle on the banking sector: they assume "
    "that everyone is out of money, and then they try to make a business of it.",
    "So-called challenger banks have been all the rage in Europe and Australia for the past few "
    "years. Now they are arriving in the United States with slick apps and friendly names.",
    "Their pitch is simple. No overdraft fees, paychecks two days early, and a [credit score]"
    "(https://techweekly.example/story/credit-scores-explained/) that climbs while you sleep, "
    "all from a phone.",
]


def split_page() -> bytes:
    return (TESTDATA / "article_split_body.html").read_bytes()


def test_the_chunks_left_out_are_found_in_page_order() -> None:
    tree = lxml_html.fromstring(split_page())
    before, after = split_body_blocks(tree, FIRST_CHUNK)
    assert before == []
    assert [block.split(",")[0] for block in after] == [
        "In fact",
        "There was a lot that was appealing about the gig economy at first. Ride-hailing "
        "commercials were everywhere in 2016",
        "It was only scale",
        "But there are two problems with this potential disruption",
        "A second problem is more serious. No amount of friendly design will solve the "
        "underlying problems that made these services necessary in the first place.",
    ]


def test_a_chunk_found_in_the_middle_gets_the_others_before_and_after() -> None:
    tree = lxml_html.fromstring(split_page())
    chunks = tree.find_class("body__container")
    middle = [p.text_content() for p in chunks[1].iter("p")]
    before, after = split_body_blocks(tree, middle)
    assert before[0].startswith("The latest wave") and len(before) == 3
    assert after[0].startswith("But there are two problems") and len(after) == 2


def test_no_recovery_without_sibling_chunks_of_the_same_kind() -> None:
    page = (
        "<html><body><article><div class='body'><p>One paragraph of the article that is long "
        "enough to be found again in the page.</p><p>Another paragraph of the article that is "
        "also long enough to be found.</p></div></article><aside><div class='teaser'><p>A "
        "teaser for another story with quite a few words in it, more than twenty-five words "
        "in all, so that only its class keeps it out of the article body here.</p></div>"
        "</aside></body></html>"
    )
    tree = lxml_html.fromstring(page)
    found = [p.text_content() for p in tree.iterfind(".//div[@class='body']/p")]
    assert split_body_blocks(tree, found) == ([], [])


def test_split_page_gives_the_whole_body_in_clean_text() -> None:
    article = extract_article(split_page(), SPLIT_URL)
    paragraphs = article.body.split("\n\n")
    assert paragraphs[:3] == FIRST_CHUNK
    assert paragraphs[-1].startswith("A second problem is more serious.")
    assert len(paragraphs) == 8
    # clean-text properties: one blank line between paragraphs, absolute Markdown links,
    # no repeated headline, no leftover markup or furniture
    assert "\n\n\n" not in article.body and article.body == article.body.strip()
    assert re.findall(r"\]\(([^)]*)\)", article.body) == [
        "https://techweekly.example/story/credit-scores-explained/"
    ]
    assert article.title not in article.body
    assert not re.search(r"</?\w+[^>]*>|&\w+;", article.body)
    for furniture in ("Advertisement", "newsletter", "More from", "unionize", "©", "Dana Fields"):
        assert furniture not in article.body


def test_saved_gzipped_page_extracts_like_the_bytes(tmp_path: Path) -> None:
    saved = tmp_path / "page.html.gz"
    saved.write_bytes(gzip.compress(split_page()))
    assert extract_saved_page(saved, SPLIT_URL) == extract_article(split_page(), SPLIT_URL)
