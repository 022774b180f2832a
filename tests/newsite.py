"""A small local news site for end-to-end tests, served for real on 127.0.0.1.

Two outlets share the server (the Kabul Ledger at /ledger/, the Steppe Wire at /wire/), each with
the boilerplate real pages carry: nav, share bar, newsletter box, related links, footer. What it
serves, and what a correct run makes of it:

- /ledger/rss.xml (RSS 2.0, ETag): the talks story, a story on Lavrov and Kabul, an off-topic
  football story, the talks story again under a tracking-parameter URL, and a page that redirects
  to 127.0.0.2 (a loopback address outside allow_private_hosts: refused).
- /wire/atom.xml (Atom, Last-Modified): a near copy of the talks story under another headline,
  with a trimmed paragraph and the wire's own boilerplate; and a story on the Moscow format
  carrying the text of seed 003 (a duplicate of the seed corpus when seeds are imported).
- /broken.xml: an HTML page where a feed should be. /missing.xml: 404.

Relevant and new: talks, lavrov (and the moscow-format page when seeds are not imported).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from tests.httpsite import HttpSite, Route

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@dataclass(frozen=True)
class Story:
    slug: str
    outlet: str  # "ledger" or "wire"
    title: str
    author: str
    published: str  # RFC 3339
    paragraphs: tuple[str, ...]


TALKS_PARAGRAPHS = (
    "Russia hosted a Taliban delegation in Kazan on Friday for talks on regional security, "
    "the latest sign that Moscow is deepening its ties with the rulers of Afghanistan despite "
    "their international isolation.",
    "Zamir Kabulov, the Kremlin's special envoy for Afghanistan, told reporters that Moscow "
    "would keep sending wheat and fuel to Kabul and would press the United Nations to release "
    "frozen Afghan assets held in Western banks.",
    "Foreign Minister Sergei Lavrov, in a letter read to the delegates, said Western countries "
    "bore the main responsibility for rebuilding a country they had left in ruins after twenty "
    "years of war.",
    "The Taliban's acting foreign minister, Amir Khan Muttaqi, thanked his hosts and invited "
    "Russian companies to invest in Afghan mining, energy and transport corridors that would "
    "link Central Asia with the ports of Pakistan.",
    "Diplomats from China, Iran, India, Pakistan and the Central Asian states attended the "
    "meeting, the fifth round of the so-called Moscow format, which Russia has convened since "
    "2017.",
    "Russia still lists the Taliban as a terrorist organisation, although officials have said "
    "for months that the designation is under review and could be lifted once the movement "
    "forms a more inclusive government.",
)

LAVROV_PARAGRAPHS = (
    "Sergei Lavrov said on Tuesday that Russia was ready to expand trade with Afghanistan and "
    "would open a permanent trade mission in Kabul before the end of the year.",
    "Speaking after a meeting with a visiting Taliban minister, Lavrov said the two sides had "
    "agreed to study a railway that would carry Russian grain through Uzbekistan to Afghan "
    "markets and bring Afghan fruit north.",
    "He repeated Moscow's call for the release of Afghan central bank reserves frozen abroad "
    "and said sanctions were deepening the humanitarian crisis that the United Nations has "
    "described as one of the worst in the world.",
    "Western governments have criticised the talks, saying that engagement without conditions "
    "rewards the Taliban's ban on secondary education for girls.",
)

FOOTBALL_PARAGRAPHS = (
    "The home side came from two goals down to win a thrilling derby on Saturday evening, with "
    "their veteran striker scoring twice in the final ten minutes.",
    "The manager praised the crowd, saying the noise in the second half had lifted a tired team "
    "that had played three matches in eight days.",
    "The victory moves the club up to third place in the table, two points behind the leaders "
    "with six games left to play in the season.",
)


def _seed_paragraphs(name: str) -> tuple[str, ...]:
    """The body paragraphs of a seed file (its first non-empty line is the title)."""
    lines = [p.strip() for p in (SEEDS / name).read_text(encoding="utf-8").split("\n\n")]
    return tuple(p for p in lines if p)[1:]


STORIES = (
    Story(
        "russia-hosts-taliban-kazan",
        "ledger",
        "Russia hosts Taliban in Kazan, vows aid to Kabul",
        "Nadia Rahimi",
        "2026-11-20T09:00:00Z",
        TALKS_PARAGRAPHS,
    ),
    Story(
        "lavrov-trade-mission-kabul",
        "ledger",
        "Lavrov: Russia to open trade mission in Kabul",
        "Nadia Rahimi",
        "2026-11-21T10:30:00Z",
        LAVROV_PARAGRAPHS,
    ),
    Story(
        "derby-comeback",
        "ledger",
        "Late double completes derby comeback",
        "Tom Okafor",
        "2026-11-21T18:00:00Z",
        FOOTBALL_PARAGRAPHS,
    ),
    Story(
        # The wire's copy: other headline, last paragraph trimmed, other boilerplate.
        "moscow-courts-afghan-rulers",
        "wire",
        "Moscow courts Afghanistan's rulers at Kazan meeting",
        "Wire staff",
        "2026-11-20T11:15:00Z",
        TALKS_PARAGRAPHS[:-1],
    ),
    Story(
        "taliban-delegation-moscow-format",
        "wire",
        "Taliban delegation to attend Moscow format talks",
        "Wire staff",
        "2026-11-22T08:00:00Z",
        _seed_paragraphs("003_1f0cf2954ae08370.txt"),
    ),
)

OUTLETS = {"ledger": "The Kabul Ledger", "wire": "Steppe Wire"}


def story(slug: str) -> Story:
    return next(s for s in STORIES if s.slug == slug)


def article_page(site: HttpSite, s: Story) -> str:
    outlet = OUTLETS[s.outlet]
    base = site.url(f"/{s.outlet}/")
    paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in s.paragraphs)
    related = "".join(
        f'<li><a href="{base}{o.slug}">{html.escape(o.title)}</a></li>'
        for o in STORIES
        if o.outlet == s.outlet and o.slug != s.slug
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(s.title)} | {outlet}</title>
<link rel="canonical" href="{base}{s.slug}">
<meta property="og:site_name" content="{outlet}">
<meta property="og:title" content="{html.escape(s.title)}">
<meta property="article:published_time" content="{s.published}">
<meta name="author" content="{s.author}">
</head><body>
<header><nav><a href="{base}">Home</a> <a href="{base}world">World</a>
<a href="{base}politics">Politics</a> <a href="{base}sport">Sport</a>
<a href="{base}subscribe">Subscribe</a></nav></header>
<main><article>
<h1>{html.escape(s.title)}</h1>
<div class="byline">By {s.author} · <time datetime="{s.published}">{s.published[:10]}</time></div>
<div class="share-bar"><a href="#">Share on Facebook</a> <a href="#">Share on X</a>
<a href="#">Email this article</a></div>
<div class="article-body">
{paragraphs}
</div>
<aside class="newsletter"><h3>Get the {outlet} newsletter</h3>
<p>Subscribe to our newsletter for the day's top stories, delivered every morning.</p>
<form><input type="email" placeholder="Your email"><button>Sign up</button></form></aside>
<section class="related"><h3>Related stories</h3><ul>{related}</ul></section>
</article></main>
<footer><p>© 2026 {outlet}. All rights reserved.</p>
<p><a href="{base}privacy">Privacy policy</a> · <a href="{base}cookies">Cookie settings</a></p>
</footer></body></html>"""


def rss(site: HttpSite, items: list[tuple[str, str, str]]) -> str:
    entries = "\n".join(
        f"<item><title>{html.escape(title)}</title><link>{html.escape(link)}</link>"
        f"<guid>{html.escape(link)}</guid><pubDate>{date}</pubDate></item>"
        for title, link, date in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>The Kabul Ledger</title><link>{site.url("/ledger/")}</link>
<description>News from Kabul</description>
{entries}
</channel></rss>"""


def atom(site: HttpSite, stories: list[Story]) -> str:
    entries = "\n".join(
        f"<entry><title>{html.escape(s.title)}</title>"
        f'<link href="{site.url(f"/{s.outlet}/{s.slug}")}"/>'
        f"<id>urn:wire:{s.slug}</id><updated>{s.published}</updated>"
        f"<summary>{html.escape(s.paragraphs[0])}</summary></entry>"
        for s in stories
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Steppe Wire</title>
<id>urn:wire</id><updated>2026-11-22T08:00:00Z</updated>
{entries}
</feed>"""


RSS_DATES = {
    "russia-hosts-taliban-kazan": "Fri, 20 Nov 2026 09:00:00 +0000",
    "lavrov-trade-mission-kabul": "Sat, 21 Nov 2026 10:30:00 +0000",
    "derby-comeback": "Sat, 21 Nov 2026 18:00:00 +0000",
}


def build_news_site(site: HttpSite) -> HttpSite:
    """Register every route of the news site on `site` (started or not) and return it."""
    for s in STORIES:
        site.add(f"/{s.outlet}/{s.slug}", body=article_page(site, s).encode())
    ledger = [story(slug) for slug in RSS_DATES]
    items = [(s.title, site.url(f"/ledger/{s.slug}"), RSS_DATES[s.slug]) for s in ledger]
    talks = story("russia-hosts-taliban-kazan")
    items.append(
        (
            talks.title,
            site.url(f"/ledger/{talks.slug}?utm_source=rss&utm_medium=feed&fbclid=xyz"),
            RSS_DATES[talks.slug],
        )
    )
    items.append(
        (
            "Kabul embassy reopens",
            site.url("/ledger/embassy-reopens"),
            "Sun, 22 Nov 2026 07:00:00 +0000",
        )
    )
    # The redirect target is another loopback address: refused unless allow_private_hosts says so.
    site.redirect("/ledger/embassy-reopens", "http://127.0.0.2:9/ledger/embassy-reopens")
    site.add(
        "/ledger/rss.xml",
        Route(
            body=rss(site, items).encode(),
            content_type="application/rss+xml; charset=utf-8",
            etag='"ledger-v1"',
        ),
    )
    wire = [s for s in STORIES if s.outlet == "wire"]
    site.add(
        "/wire/atom.xml",
        Route(
            body=atom(site, wire).encode(),
            content_type="application/atom+xml; charset=utf-8",
            last_modified="Sun, 22 Nov 2026 08:00:00 GMT",
        ),
    )
    site.add(
        "/broken.xml", body=b"<html><body><h1>We moved!</h1><p>Our feed is gone.</p></body></html>"
    )
    site.add("/missing.xml", Route(status=404, body=b"<h1>Not found</h1>"))
    return site


def feed_urls(site: HttpSite) -> list[str]:
    return [
        site.url(p) for p in ("/ledger/rss.xml", "/wire/atom.xml", "/broken.xml", "/missing.xml")
    ]
