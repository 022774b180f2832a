"""Site templates learnt across pages of one fake site, on bodies the real extractor produced."""

from __future__ import annotations

from extractors.article import extract_article
from extractors.site_templates import (
    block_keys,
    learn_template,
    site_of,
    strip_template,
)

PITCH = "Support independent journalism from Kabul: become a member of the Ledger today."
FOOTER = "Reporting from Kabul and Moscow; reproduction of this article requires permission."

STORIES = [
    (
        "Taliban envoy meets Russian diplomats",
        [
            "A Taliban envoy met Russian diplomats in Moscow on Monday to discuss grain "
            "shipments and the security of the northern border with Tajikistan.",
            "The talks lasted three hours and ended with an agreement to meet again in Kabul "
            "before the end of the year, officials on both sides said.",
        ],
    ),
    (
        "Kabul power imports rise",
        [
            "Afghanistan imported more electricity from Uzbekistan this winter than in any "
            "year before, the state power company said in Kabul on Tuesday.",
            "Engineers blamed low water in the reservoirs behind the country's dams and said "
            "imports would fall again once the snow in the mountains melts.",
        ],
    ),
    (
        "Herat traders wait for the new border crossing",
        [
            "Traders in Herat say trucks are waiting up to a week at the Islam Qala crossing "
            "while customs officers check cargo under rules introduced this month.",
            "The chamber of commerce asked the ministry to open a second lane for perishable "
            "goods such as grapes and melons, which spoil in the heat.",
        ],
    ),
    (
        "University entrance exam results published",
        [
            "Results of the national university entrance exam were published on Thursday, "
            "with more candidates than last year choosing medicine and engineering.",
            "The ministry said the exam had been held in all thirty-four provinces and that "
            "appeals could be filed within two weeks of the announcement.",
        ],
    ),
]


def page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<html><head><title>{title}</title>
<meta property="og:site_name" content="Kabul Ledger"></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>{title}</h1><div class="content">{body}
<p><strong>{PITCH}</strong></p><p><em>{FOOTER}</em></p></div></article>
<footer>Kabul Ledger</footer></body></html>"""


def bodies() -> list[str]:
    return [
        extract_article(page(t, ps), f"https://www.ledger.example/{n}").body
        for n, (t, ps) in enumerate(STORIES)
    ]


def test_the_extractor_alone_keeps_the_sites_pitch_and_footer() -> None:
    # The premise: these blocks sit inside the article, where no page-level rule can tell.
    assert all(PITCH in body and FOOTER in body for body in bodies())


def test_blocks_recurring_on_three_pages_are_learnt_and_stripped_from_the_fourth() -> None:
    *learning, fourth = bodies()
    template = learn_template([block_keys(b) for b in learning])
    assert len(template) == 2
    cleaned = strip_template(fourth, template)
    assert PITCH not in cleaned and FOOTER not in cleaned
    assert cleaned == "\n\n".join(STORIES[3][1])


def test_two_pages_are_not_enough_to_learn_from() -> None:
    assert learn_template([block_keys(b) for b in bodies()[:2]]) == set()


def test_a_background_paragraph_repeated_on_a_few_pages_is_not_template() -> None:
    background = "Russia designated the Taliban a terrorist organisation in 2003."
    pages = [block_keys(b) for b in bodies() * 2]  # eight pages of the site
    for keys in pages[:3]:
        keys.extend(block_keys(background))
    template = learn_template(pages)
    assert block_keys(background)[0] not in template
    assert len(template) == 2  # the pitch and the footer still are


def test_keys_ignore_links_markers_and_spacing_but_not_words() -> None:
    (a,) = block_keys("Follow us on [Telegram](https://t.me/x) for  updates.")
    (b,) = block_keys("- Follow us on Telegram for updates")
    (c,) = block_keys("Follow us on Telegram for news")
    assert a == b != c
    assert block_keys("x" * 500) == []


def test_a_body_that_is_all_template_is_left_alone() -> None:
    template = set(block_keys(f"{PITCH}\n\n{FOOTER}"))
    assert strip_template(f"{PITCH}\n\n{FOOTER}", template) == f"{PITCH}\n\n{FOOTER}"


def test_site_is_the_host_without_www() -> None:
    assert site_of("https://WWW.Ledger.example:8443/a?b=1") == "ledger.example"
    assert site_of("https://news.ledger.example/a") == "news.ledger.example"
