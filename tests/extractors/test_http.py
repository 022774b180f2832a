"""extractors.http against a real HTTP server on loopback (tests/httpsite.py); httpx is not mocked.

127.0.0.1 is the allowed test server; 127.0.0.2 is the forbidden target of the private-address
rule. No test touches any other address.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import pickle
import socket
from collections.abc import Iterator

import pytest

from extractors.http import (
    ConnectError,
    Fetcher,
    FetchError,
    FetchTimeout,
    HttpStatusError,
    PrivateAddressError,
    ResponseTooLarge,
    TooManyRedirects,
    _forbidden_kind,
    fetch_pages,
)
from extractors.records import FetchLimits, FetchResult
from tests.httpsite import HttpSite, Route

LOOPBACK = FetchLimits(allow_private_hosts=("127.0.0.1",), timeout=5.0)


@pytest.fixture
def site() -> Iterator[HttpSite]:
    with HttpSite() as server:
        yield server


@pytest.fixture
def forbidden_site() -> Iterator[HttpSite]:
    """A server on 127.0.0.2: any TCP connection it accepts is a failure of the rule."""
    with HttpSite(host="127.0.0.2") as server:
        yield server


def get(url: str, limits: FetchLimits = LOOPBACK, **kwargs: str | None) -> FetchResult:
    async def run() -> FetchResult:
        async with Fetcher(limits) as fetcher:
            return await fetcher.get(url, **kwargs)

    return asyncio.run(run())


def get_error(url: str, limits: FetchLimits = LOOPBACK, **kwargs: str | None) -> FetchError:
    with pytest.raises(FetchError) as info:
        get(url, limits, **kwargs)
    return info.value


def test_get_returns_body_lowercased_headers_and_sends_user_agent(site: HttpSite) -> None:
    url = site.add("/page", body=b"<p>hi</p>", headers={"X-Custom-Thing": "yes"})
    result = get(url, accept="text/html")
    assert result.status == 200
    assert result.url == result.final_url == url
    assert result.content == b"<p>hi</p>"
    assert result.content_type == "text/html"
    assert result.headers["x-custom-thing"] == "yes"
    assert all(name == name.lower() for name in result.headers)
    seen = site.requests_to("/page")[0].headers
    assert seen["user-agent"] == LOOPBACK.user_agent
    assert seen["accept"] == "text/html"
    assert "if-none-match" not in seen


def test_etag_round_trip_gets_304_with_empty_content(site: HttpSite) -> None:
    url = site.add("/feed", body=b"<rss/>", etag='"v1"')
    first = get(url)
    assert (first.status, first.etag) == (200, '"v1"')
    second = get(url, etag=first.etag)
    assert second.status == 304 and second.not_modified
    assert second.content == b""
    assert second.etag == '"v1"'
    assert site.requests_to("/feed")[1].headers["if-none-match"] == '"v1"'


def test_last_modified_round_trip(site: HttpSite) -> None:
    stamp = "Mon, 02 Oct 2023 10:00:00 GMT"
    url = site.add("/feed", body=b"<rss/>", last_modified=stamp)
    first = get(url)
    assert first.last_modified == stamp and first.etag is None
    second = get(url, last_modified=first.last_modified)
    assert second.not_modified
    assert site.requests_to("/feed")[1].headers["if-modified-since"] == stamp


def test_relative_redirects_are_resolved(site: HttpSite) -> None:
    site.redirect("/a/old", "new?x=1", status=301)
    site.redirect("/a/new", "../b/final", status=308)
    site.add("/b/final", body=b"done")
    result = get(site.url("/a/old"))
    assert result.url == site.url("/a/old")
    assert result.final_url == site.url("/b/final")
    assert result.content == b"done"
    assert [r.path for r in site.requests] == ["/a/old", "/a/new?x=1", "/b/final"]


def chain(site: HttpSite, hops: int) -> str:
    for n in range(hops):
        site.redirect(f"/hop{n}", f"/hop{n + 1}")
    site.add(f"/hop{hops}", body=b"end of chain")
    return site.url("/hop0")


def test_five_redirects_are_followed(site: HttpSite) -> None:
    result = get(chain(site, 5))
    assert result.content == b"end of chain"
    assert len(site.requests) == 6


def test_six_redirects_are_refused_without_a_seventh_request(site: HttpSite) -> None:
    error = get_error(chain(site, 6))
    assert isinstance(error, TooManyRedirects)
    assert error.reason == "too many redirects (more than 5)"
    assert str(error) == f"{site.url('/hop0')}: too many redirects (more than 5)"
    assert len(site.requests) == 6


def test_redirect_to_another_scheme_is_refused(site: HttpSite) -> None:
    url = site.redirect("/ftp", "ftp://files.example.org/x")
    error = get_error(url)
    assert error.reason == "bad redirect: unsupported URL scheme: ftp"


def test_redirect_to_private_address_is_refused_before_connecting(
    site: HttpSite, forbidden_site: HttpSite
) -> None:
    target = forbidden_site.add("/secret", body=b"internal")
    url = site.redirect("/innocent", target)
    error = get_error(url)
    assert isinstance(error, PrivateAddressError)
    assert error.url == url
    assert error.reason.startswith("refused: 127.0.0.2 is a private/loopback address")
    assert target in error.reason  # says where the redirect pointed
    assert error.args == (url, error.reason)
    assert forbidden_site.connections == 0


def test_direct_private_address_is_refused(forbidden_site: HttpSite) -> None:
    error = get_error(forbidden_site.add("/secret", body=b"internal"))
    assert isinstance(error, PrivateAddressError)
    assert error.reason == "refused: 127.0.0.2 is a private/loopback address"
    assert forbidden_site.connections == 0


def test_localhost_is_refused_unless_listed_by_name(site: HttpSite) -> None:
    port = site.base_url.rsplit(":", 1)[1]
    url = site.add("/x", body=b"local")
    local = url.replace("127.0.0.1", "localhost")
    # Listing the IP does not allow a name: the list matches the host as written.
    error = get_error(local)
    assert isinstance(error, PrivateAddressError)
    assert error.reason.startswith("refused: localhost resolves to ")
    assert error.reason.endswith("a private/loopback address")
    assert site.connections == 0
    # Nothing is allowed by default, not even the literal.
    error = get_error(url, FetchLimits())
    assert isinstance(error, PrivateAddressError)
    assert site.connections == 0
    allowed = FetchLimits(allow_private_hosts=("LOCALHOST",))
    assert get(f"http://localhost:{port}/x", allowed).content == b"local"


def test_forbidden_address_kinds() -> None:
    # Pure classification: nothing here connects anywhere.
    kinds = {
        "127.0.0.2": "a private/loopback address",
        "10.1.2.3": "a private/loopback address",
        "192.168.1.1": "a private/loopback address",
        "::1": "a private/loopback address",
        "::ffff:127.0.0.2": "a private/loopback address",
        "169.254.169.254": "a link-local address",
        "224.0.0.1": "a multicast address",
        "0.0.0.0": "an unspecified address",
        "240.0.0.1": "a reserved address",
        "100.64.0.1": "a non-public address",
    }
    for address, kind in kinds.items():
        assert _forbidden_kind(ipaddress.ip_address(address)) == kind, address


def test_body_over_max_bytes_is_refused_by_content_length(site: HttpSite) -> None:
    url = site.add("/big", body=b"x" * 2000)
    error = get_error(url, FetchLimits(allow_private_hosts=("127.0.0.1",), max_bytes=1000))
    assert isinstance(error, ResponseTooLarge)
    assert error.reason == "response larger than 1000 bytes"


def test_body_over_max_bytes_is_refused_without_content_length(site: HttpSite) -> None:
    url = site.add("/big", Route(body=b"x" * 50_000, chunked=True))
    limits = FetchLimits(allow_private_hosts=("127.0.0.1",), max_bytes=10_000)
    assert isinstance(get_error(url, limits), ResponseTooLarge)
    exact = site.add("/exact", Route(body=b"y" * 10_000, chunked=True))
    assert get(exact, limits).content == b"y" * 10_000  # the limit itself is allowed


def test_gzip_body_is_counted_decoded(site: HttpSite) -> None:
    body = b"word " * 4000  # 20 000 bytes, a few hundred when compressed
    assert len(gzip.compress(body)) < 1000
    small = FetchLimits(allow_private_hosts=("127.0.0.1",), max_bytes=10_000)
    url = site.add("/zipped", Route(body=body, gzip=True))
    assert isinstance(get_error(url, small), ResponseTooLarge)
    result = get(url)
    assert result.content == body  # decoded, not the gzip bytes
    assert result.headers["content-encoding"] == "gzip"


def test_slow_server_times_out(site: HttpSite) -> None:
    url = site.add("/slow", delay=2.0, body=b"late")
    error = get_error(url, FetchLimits(allow_private_hosts=("127.0.0.1",), timeout=0.3))
    assert isinstance(error, FetchTimeout)
    assert error.reason == "timed out after 0.3s"


def test_404_is_an_http_status_error(site: HttpSite) -> None:
    error = get_error(site.url("/missing"))
    assert isinstance(error, HttpStatusError)
    assert error.status == 404
    assert str(error) == f"{site.url('/missing')}: HTTP 404 Not Found"


def test_connection_refused() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = get_error(f"http://127.0.0.1:{port}/")
    assert isinstance(error, ConnectError)
    assert error.reason == "connection refused"


def test_tls_failure_is_a_connect_error(site: HttpSite) -> None:
    # https:// to a plain-HTTP server: the handshake fails, and the reason says it was TLS.
    error = get_error(site.add("/plain", body=b"x").replace("http://", "https://"))
    assert isinstance(error, ConnectError)
    assert error.reason.startswith("TLS error: ")


def test_unsupported_scheme_is_refused() -> None:
    assert get_error("file:///etc/passwd").reason == "unsupported URL scheme: file"


def test_errors_pickle_with_their_attributes() -> None:
    error = pickle.loads(pickle.dumps(HttpStatusError("http://x/", "HTTP 410 Gone", 410)))
    assert (error.url, error.reason, error.status) == ("http://x/", "HTTP 410 Gone", 410)
    refused = pickle.loads(pickle.dumps(PrivateAddressError("http://y/", "refused: z")))
    assert isinstance(refused, PrivateAddressError) and str(refused) == "http://y/: refused: z"


def test_fetch_pages_keeps_order_and_isolates_failures(site: HttpSite) -> None:
    urls = [
        site.add("/article", body=b"<html><body>story</body></html>"),
        site.add("/report.pdf", body=b"%PDF-1.7", content_type="application/pdf"),
        site.url("/gone"),
        site.add("/photo", body=b"\x89PNG", content_type="image/png"),
        site.add("/untyped", body=b"<!DOCTYPE html><html></html>", content_type=""),
        site.add("/binary", body=b"\x00\x01", content_type="application/octet-stream"),
        site.add("/xhtml", body=b"<html/>", content_type="application/xhtml+xml"),
    ]
    results = asyncio.run(fetch_pages(LOOPBACK, urls, concurrency=3))
    assert len(results) == len(urls)
    assert isinstance(results[0], FetchResult) and results[0].content.endswith(b"</html>")
    assert isinstance(results[1], FetchError)
    assert results[1].reason == "not HTML: application/pdf"
    assert results[1].url == urls[1]
    assert isinstance(results[2], HttpStatusError) and results[2].status == 404
    assert isinstance(results[3], FetchError) and results[3].reason == "not HTML: image/png"
    assert isinstance(results[4], FetchResult)
    assert isinstance(results[5], FetchError)
    assert results[5].reason == "not HTML: application/octet-stream"
    assert isinstance(results[6], FetchResult)
    assert site.requests_to("/article")[0].headers["accept"].startswith("text/html")
