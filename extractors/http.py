"""The HTTP client for feeds and article pages.

One `httpx.AsyncClient` per `Fetcher`, shaped by `FetchLimits`. Every failure becomes a `FetchError`
whose `reason` says what went wrong, so a poll or digest can report it as is. Three things are
refused rather than worked around: private addresses (checked at connect time, see
`_GuardedBackend`), bodies over `max_bytes`, and redirect chains over `max_redirects`.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType

import anyio
import httpcore
import httpx

from extractors.records import FetchLimits, FetchResult

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_HTML_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Types servers use when they don't know better: judged by sniffing the body instead.
_VAGUE_TYPES = frozenset({"", "text/plain", "application/octet-stream", "binary/octet-stream"})
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<title")

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# httpcore's SOCKET_OPTION, which it doesn't export.
_SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class FetchError(Exception):
    """A GET that produced no usable response; `reason` is short and specific."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url, reason)
        self.url = url
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.url}: {self.reason}"

    def _at(self, url: str, note: str = "") -> FetchError:
        # Errors raised deep inside the transport don't know the URL asked for; the Fetcher
        # fills it in on the way out (args too, so the exception still pickles faithfully).
        self.url = url
        self.reason += note
        self.args = (url, self.reason, *self.args[2:])
        return self


class PrivateAddressError(FetchError):
    """The host is, or resolves to, an address outside the public internet."""


class ResponseTooLarge(FetchError):
    """The (decoded) body is larger than `FetchLimits.max_bytes`."""


class TooManyRedirects(FetchError):
    """More than `FetchLimits.max_redirects` redirects in a row."""


class HttpStatusError(FetchError):
    """The final response was neither 2xx nor 304."""

    def __init__(self, url: str, reason: str, status: int) -> None:
        super().__init__(url, reason)
        self.status = status
        self.args = (url, reason, status)


class FetchTimeout(FetchError):
    """Connecting or reading took longer than `FetchLimits.timeout`."""


class ConnectError(FetchError):
    """No connection: DNS failure, refused, unreachable, TLS handshake failure."""


def _normalise_host(host: str) -> str:
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(host))  # so "::0001" matches "::1"
    except ValueError:
        return host


def _forbidden_kind(ip: _IPAddress) -> str | None:
    """What makes `ip` off-limits, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
    if ip.is_unspecified:
        return "an unspecified address"
    # Most specific first: is_private also covers link-local and reserved ranges.
    if ip.is_loopback:
        return "a private/loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private/loopback address"
    if not ip.is_global:  # e.g. 100.64.0.0/10 (carrier-grade NAT): not the public internet
        return "a non-public address"
    return None


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself, refuses private addresses, then connects to the checked IP.

    Checking here rather than before each request means the address we vet is the address we
    connect to: DNS rebinding (public answer for the check, private one for the connect) can't
    slip through, and every redirect hop and every new pooled connection is covered. TLS still
    verifies against the host name, because httpcore passes it to `start_tls` separately.
    """

    def __init__(self, allow_private_hosts: Iterable[str]) -> None:
        self._allowed = frozenset(_normalise_host(h) for h in allow_private_hosts)
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        if _normalise_host(host) in self._allowed:
            return await self._backend.connect_tcp(
                host, port, timeout, local_address, socket_options
            )
        addresses = await self._resolve(host, port, timeout)
        for ip in addresses:
            kind = _forbidden_kind(ip)
            if kind is not None:
                if str(ip) == _normalise_host(host):
                    raise PrivateAddressError("", f"refused: {ip} is {kind}")
                raise PrivateAddressError("", f"refused: {host} resolves to {ip}, {kind}")
        last_error = httpcore.ConnectError(f"no address to connect to for {host}")
        for ip in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(ip), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:  # try the host's next address
                last_error = exc
        raise last_error

    async def _resolve(self, host: str, port: int, timeout: float | None) -> list[_IPAddress]:
        try:
            return [ipaddress.ip_address(_normalise_host(host))]
        except ValueError:
            pass
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"DNS lookup of {host} timed out") from exc
        except (socket.gaierror, UnicodeError) as exc:
            detail = getattr(exc, "strerror", None) or str(exc)
            raise ConnectError("", f"DNS lookup failed: {host}: {detail}") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        if not addresses:
            raise ConnectError("", f"DNS lookup failed: {host}: no addresses")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise ConnectError("", "unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _transport_error(exc: httpx.HTTPError) -> FetchError:
    """The most specific reason buried in httpx's exception chain (httpcore, anyio, ssl, OS)."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return ConnectError("", f"TLS error: {cause.verify_message or cause.reason}")
        if isinstance(cause, ssl.SSLError):
            # OpenSSL's reason code ("WRONG_VERSION_NUMBER") reads better as words.
            readable = cause.reason.replace("_", " ").lower() if cause.reason else str(cause)
            return ConnectError("", f"TLS error: {readable}")
        if isinstance(cause, ConnectionRefusedError) or (
            isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED
        ):
            return ConnectError("", "connection refused")
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return ConnectError("", f"connection failed: {detail}")
    if isinstance(exc, httpx.DecodingError):
        return FetchError("", f"could not decode the response body: {detail}")
    if isinstance(exc, httpx.RemoteProtocolError):
        return FetchError("", f"protocol error: {detail}")
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return FetchError("", f"connection lost: {detail}")
    return FetchError("", f"{type(exc).__name__}: {detail}")


def _parse_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(url, f"invalid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise FetchError(url, f"unsupported URL scheme: {parsed.scheme or '(none)'}")
    if not parsed.host:
        raise FetchError(url, "invalid URL: no host")
    return parsed


class Fetcher:
    """An async context manager around one pooled HTTP/1.1 + HTTP/2 client.

    `get` never follows redirects through httpx: it walks them itself, so it can count hops,
    refuse non-HTTP schemes, and keep the body limit per hop.
    """

    def __init__(self, limits: FetchLimits) -> None:
        self.limits = limits
        transport = httpx.AsyncHTTPTransport(http2=True)
        # httpx has no public hook for the network backend, so swap in a pool built with the
        # public httpcore API and our guarded backend (same settings httpx would have used).
        default = httpx.Limits()
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=default.max_connections,
            max_keepalive_connections=default.max_keepalive_connections,
            keepalive_expiry=default.keepalive_expiry,
            http1=True,
            http2=True,
            network_backend=_GuardedBackend(limits.allow_private_hosts),
        )
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            timeout=httpx.Timeout(limits.timeout),
            headers={"User-Agent": limits.user_agent},
            # Environment proxies would get their own transports and bypass the guard.
            trust_env=False,
        )

    async def __aenter__(self) -> Fetcher:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """GET `url`, following redirects: returns a 2xx or 304, raises FetchError otherwise."""
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept

        current = _parse_url(url)
        for _ in range(self.limits.max_redirects + 1):
            try:
                response, content = await self._request(current, headers)
            except FetchError as exc:
                note = f" (redirected to {current})" if str(current) != url else ""
                raise exc._at(url, note) from exc.__cause__
            status = response.status_code
            location = response.headers.get("location")
            if status in _REDIRECT_STATUSES and location:
                try:
                    current = _parse_url(str(current.join(location.strip())))
                except FetchError as exc:
                    raise FetchError(url, f"bad redirect: {exc.reason}") from exc
                continue
            if not (200 <= status < 300 or status == 304):
                phrase = httpx.codes.get_reason_phrase(status)
                raise HttpStatusError(url, f"HTTP {status} {phrase}".rstrip(), status)
            return FetchResult(
                url=url,
                final_url=str(current),
                status=status,
                headers={name: value for name, value in response.headers.items()},
                content=content if status != 304 else b"",
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
        raise TooManyRedirects(url, f"too many redirects (more than {self.limits.max_redirects})")

    async def _request(
        self, target: httpx.URL, headers: dict[str, str]
    ) -> tuple[httpx.Response, bytes]:
        """One hop. The body is read only for 2xx, and never past `max_bytes` decoded bytes."""
        max_bytes = self.limits.max_bytes
        too_large = f"response larger than {max_bytes} bytes"
        try:
            async with self._client.stream("GET", target, headers=headers) as response:
                if not 200 <= response.status_code < 300:
                    return response, b""
                declared = response.headers.get("content-length", "").strip()
                # The declared length is of the encoded body; decoding only makes it bigger.
                if declared.isdigit() and int(declared) > max_bytes:
                    raise ResponseTooLarge("", too_large)
                chunks: list[bytes] = []
                size = 0
                # aiter_bytes yields decoded (gunzipped) bytes, so a compressed bomb is counted
                # at its real size; one network chunk inflates at most ~1000x before we check.
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise ResponseTooLarge("", too_large)
                    chunks.append(chunk)
                return response, b"".join(chunks)
        except httpx.TimeoutException as exc:
            raise FetchTimeout("", f"timed out after {self.limits.timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from exc


def _html_error(result: FetchResult) -> FetchError | None:
    """A FetchError when the page is clearly not HTML (a PDF, an image, a feed...)."""
    content_type = result.content_type
    if content_type in _HTML_TYPES:
        return None
    if content_type in _VAGUE_TYPES:
        head = result.content[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if not head or any(marker in head for marker in _HTML_MARKERS):
            return None
    return FetchError(result.url, f"not HTML: {content_type or 'no content type, no HTML markup'}")


async def fetch_pages(
    limits: FetchLimits, urls: Sequence[str], concurrency: int = 8
) -> list[FetchResult | FetchError]:
    """Fetch article pages concurrently: one result or error per URL, in input order."""
    semaphore = asyncio.Semaphore(concurrency)

    async with Fetcher(limits) as fetcher:

        async def fetch_one(url: str) -> FetchResult | FetchError:
            async with semaphore:
                try:
                    result = await fetcher.get(url, accept=_HTML_ACCEPT)
                except FetchError as exc:
                    return exc
            return _html_error(result) or result

        return list(await asyncio.gather(*(fetch_one(url) for url in urls)))
