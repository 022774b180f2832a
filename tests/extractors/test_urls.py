"""Canonical URLs: the same-URL dedup key and the export file names."""

from __future__ import annotations

import hashlib

import pytest

from extractors.urls import canonical_url, url_key

CASES = [
    # tracking parameters go, meaningful ones stay (sorted)
    (
        "https://www.example.com/world/story?utm_source=rss&utm_medium=feed&utm_campaign=x",
        "https://example.com/world/story",
    ),
    (
        "https://example.com/world/story?fbclid=IwAR0abc&gclid=Cj0KCQ",
        "https://example.com/world/story",
    ),
    (
        "https://example.com/article.php?id=123&utm_source=tw",
        "https://example.com/article.php?id=123",
    ),
    (
        "https://example.com/article.php?page=2&id=123",
        "https://example.com/article.php?id=123&page=2",
    ),
    ("https://example.com/x?story=9&ref=twitter", "https://example.com/x?story=9"),
    ("https://example.com/search?q=Kabul+Taliban", "https://example.com/search?q=Kabul+Taliban"),
    # case, www, fragments, ports, trailing slashes, dot segments
    ("HTTPS://WWW.Example.COM/World/Story#comments", "https://example.com/World/Story"),
    ("http://www.example.com:80/a/b/", "http://example.com/a/b"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/", "https://example.com/"),
    ("https://example.com/a/./b/../c", "https://example.com/a/c"),
    ("  https://example.com/x \n", "https://example.com/x"),
    ("https://example.com/café", "https://example.com/caf%C3%A9"),
    # AMP variants
    ("https://www.example.com/news/story/amp", "https://example.com/news/story"),
    ("https://example.com/news/story/amp/", "https://example.com/news/story"),
    ("https://example.com/amp/news/story", "https://example.com/news/story"),
    ("https://example.com/news/story.amp", "https://example.com/news/story"),
    ("https://example.com/news/story?amp=1", "https://example.com/news/story"),
    ("https://example.com/news/story?amp", "https://example.com/news/story"),
    ("https://example.com/news/story?outputType=amp&id=5", "https://example.com/news/story?id=5"),
    (
        "https://example.com/news/story?outputType=print",
        "https://example.com/news/story?outputType=print",
    ),
    (
        "https://www-example-com.cdn.ampproject.org/c/s/www.example.com/news/story/amp",
        "https://example.com/news/story",
    ),
    ("https://amp.example.co.uk/world/x", "https://example.co.uk/world/x"),
    ("https://example.com/ampere/news", "https://example.com/ampere/news"),
    # not http(s): trimmed, otherwise as given
    ("urn:newsmon:seed:000_5139f3bc387595ab", "urn:newsmon:seed:000_5139f3bc387595ab"),
    (" not a url ", "not a url"),
    ("", ""),
    ("https://example.com:bad/x", "https://example.com:bad/x"),
]


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(("url", "expected"), CASES)
def test_canonical_url_is_idempotent(url: str, expected: str) -> None:
    assert canonical_url(canonical_url(url)) == canonical_url(url)


def test_variants_of_one_article_share_a_canonical_url() -> None:
    variants = [
        "https://www.dailyledger.example/world/2023/09/29/russia-taliban-kazan",
        "https://dailyledger.example/world/2023/09/29/russia-taliban-kazan/",
        "https://dailyledger.example/world/2023/09/29/russia-taliban-kazan?utm_source=rss",
        "https://dailyledger.example/world/2023/09/29/russia-taliban-kazan#top",
        "https://dailyledger.example/world/2023/09/29/russia-taliban-kazan/amp",
        "https://dailyledger.example/world/2023/09/29/russia-taliban-kazan?fbclid=x&amp=1",
    ]
    assert len({canonical_url(v) for v in variants}) == 1


def test_different_ids_stay_different() -> None:
    assert canonical_url("https://example.com/a.php?id=1") != canonical_url(
        "https://example.com/a.php?id=2"
    )


def test_url_key_is_sha256_of_the_canonical_url() -> None:
    url = "https://www.example.com/world/story?utm_source=rss"
    expected = hashlib.sha256(b"https://example.com/world/story").hexdigest()[:16]
    assert url_key(url) == expected
    assert url_key("https://example.com/world/story/") == expected
    assert len(expected) == 16
