"""Canonical URLs: one spelling per article, the key of same-URL deduplication and export names."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from courlan import normalize_url, scrub_url

# Google's AMP cache: https://www-example-com.cdn.ampproject.org/c/s/www.example.com/path
_AMP_CACHE = re.compile(r"^/[cv]/(?:s/)?(?P<rest>[^/]+\..+)$")
_AMP_SEGMENT = re.compile(r"(?:^|/)amp(?=/|$)", re.I)
_AMP_SUFFIX = re.compile(r"(?:\.amp|/amp\.html?)$", re.I)
# Query parameters that only select the AMP rendering of a page.
_AMP_PARAMS = {"amp", "_amp", "amp_js_v", "usqp", "outputtype", "ampcf"}
_AMP_VALUED = {"outputtype": "amp", "ampcf": "1"}


def canonical_url(url: str) -> str:
    """The normalised spelling of an http(s) URL.

    courlan's normalisation (tracking parameters such as utm_*, fbclid and gclid removed, the
    remaining parameters sorted, default ports and dot segments dropped), plus: lower-case
    scheme and host, no ``www.``, no fragment, no AMP variant (``/amp`` suffix or segment,
    ``.amp``, ``?amp=1``, ``?outputType=amp``, Google's AMP cache), no trailing slash.
    Meaningful query parameters (``?id=…``) are kept. Idempotent and deterministic; anything
    that is not an http(s) URL comes back trimmed and otherwise unchanged.
    """
    text = url.strip()
    try:
        parts = urlsplit(scrub_url(text))
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return text
        parts = _without_amp_cache(parts)
        host = parts.hostname or ""
        if host.startswith("www.") and host.count(".") >= 2:
            host = host[4:]
        if host.startswith("amp.") and host.count(".") >= 2:
            host = host[4:]
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        netloc = host + (f":{parts.port}" if parts.port else "")
        path = _AMP_SUFFIX.sub("", _AMP_SEGMENT.sub("", _without_dot_segments(parts.path)))
        query = _without_amp_params(parts.query)
        cleaned = normalize_url(
            urlunsplit((parts.scheme.lower(), netloc, path, query, "")),
            strict=False,
            trailing_slash=False,
        )
        scheme, netloc, path, query, _ = urlsplit(cleaned)
        path = path.rstrip("/") or "/"
        return urlunsplit((scheme, netloc, path, query, ""))
    except ValueError:
        return text


def url_key(url: str) -> str:
    """First 16 hex digits of the SHA-256 of the canonical URL: export file names."""
    return hashlib.sha256(canonical_url(url).encode("utf-8")).hexdigest()[:16]


def _without_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: "/a/./b/../c" → "/a/c"."""
    if "." not in path:
        return path
    kept: list[str] = []
    segments = path.split("/")
    for segment in segments[1:] if path.startswith("/") else segments:
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
    if segments[-1] in (".", ".."):
        kept.append("")
    return "/" + "/".join(kept)


def _without_amp_cache(parts: SplitResult) -> SplitResult:
    host = parts.hostname or ""
    if not host.endswith(".cdn.ampproject.org"):
        return parts
    found = _AMP_CACHE.match(parts.path)
    if not found:
        return parts
    scheme = "https" if parts.path.startswith(("/c/s/", "/v/s/")) else "http"
    return urlsplit(
        f"{scheme}://{unquote(found['rest'])}" + (f"?{parts.query}" if parts.query else "")
    )


def _without_amp_params(query: str) -> str:
    if not query:
        return ""
    kept = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        lowered = key.lower()
        if lowered in _AMP_PARAMS and _AMP_VALUED.get(lowered, value.lower()) == value.lower():
            continue
        kept.append((key, value))
    return urlencode(kept)
