"""Other posts on the article's page: the next story of an endless scroll, teaser cards.

The article is the ``<article>`` element that holds the page's ``<h1>``. Other ``<article>``
elements outside it (neither inside it nor around it) are other posts: blog themes append the
next posts in full, news sites show teaser cards. trafilatura may take their text along with
the article's. `drop_other_posts` removes them, but only those shorter than the article itself,
so a page whose ``<h1>`` sits in a small header ``<article>`` keeps its body.
"""

from __future__ import annotations

from lxml.html import HtmlElement

_MAIN_MIN_CHARS = 400  # an <article> with less text than this is no article's body


def drop_other_posts(tree: HtmlElement) -> None:
    articles = list(tree.iter("article"))
    if len(articles) < 2:
        return
    main = _article_of_headline(tree)
    if main is None:
        return
    main_length = len(main.text_content())
    if main_length < _MAIN_MIN_CHARS:
        return
    around = set(main.iterancestors("article"))
    inside = set(main.iterdescendants("article"))
    for other in articles:
        if other is main or other in around or other in inside:
            continue
        if other.find(".//article") is not None:
            continue  # a wrapper: its posts are judged one by one
        if len(other.text_content()) < main_length and other.getparent() is not None:
            other.drop_tree()


def _article_of_headline(tree: HtmlElement) -> HtmlElement | None:
    headlines = [h for h in tree.iter("h1") if h.text_content().strip()]
    if len(headlines) != 1:
        return None
    for ancestor in headlines[0].iterancestors("article"):
        return ancestor
    return None
