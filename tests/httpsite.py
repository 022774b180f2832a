"""A real HTTP server on 127.0.0.1 for tests: a table of routes, and a log of the requests it saw.

Tests register what each path answers (status, headers, body, or a redirect); the server runs in a
thread for the test's lifetime. It honours If-None-Match on routes that carry an ETag, so
conditional GET is exercised for real.
"""

from __future__ import annotations

import gzip
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    gzip: bool = False
    chunked: bool = False  # Transfer-Encoding: chunked, so no Content-Length is sent


@dataclass(frozen=True)
class SeenRequest:
    path: str
    headers: dict[str, str]
    method: str = "GET"
    body: bytes = b""


class _Server(ThreadingHTTPServer):
    connections = 0  # TCP connections accepted, whether or not a request followed

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing its keep-alive connection is normal, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class HttpSite:
    """Routes by path (query string included when a route names one, else path alone).

    `host` is the loopback address to listen on (127.0.0.1 unless a test needs another one).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route | Callable[[], Route]] = {}
        self.requests: list[SeenRequest] = []
        self._server = _Server((host, 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval makes stop() (and so every test teardown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (a refused-before-connect client makes none)."""
        return self._server.connections

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, route: Route | None = None, **kwargs: object) -> str:
        self.routes[path] = route or Route(**kwargs)  # type: ignore[arg-type]
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        return self.add(path, Route(status=status, headers={"Location": location}))

    def requests_to(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path == path]

    def start(self) -> HttpSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HttpSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:
                # Webhook targets (Apprise's json://): record the body, answer from the routes.
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                self._serve("POST", body)

            def do_GET(self) -> None:
                self._serve("GET", b"")

            def _serve(self, method: str, body: bytes) -> None:
                site.requests.append(
                    SeenRequest(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, method, body
                    )
                )
                entry = site.routes.get(self.path) or site.routes.get(self.path.split("?")[0])
                route = entry() if callable(entry) else entry
                if route is None:
                    route = Route(status=404, body=b"<h1>Not found</h1>")
                if route.delay:
                    threading.Event().wait(route.delay)
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    self._answer(304, b"", route, include_type=False)
                    return
                if route.last_modified and self.headers.get("If-Modified-Since") == (
                    route.last_modified
                ):
                    self._answer(304, b"", route, include_type=False)
                    return
                self._answer(route.status, route.body, route)

            def _answer(
                self, status: int, body: bytes, route: Route, include_type: bool = True
            ) -> None:
                if route.gzip and body:
                    body = gzip.compress(body)
                self.send_response(status)
                if include_type and body:
                    self.send_header("Content-Type", route.content_type)
                if route.gzip and body:
                    self.send_header("Content-Encoding", "gzip")
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.last_modified:
                    self.send_header("Last-Modified", route.last_modified)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if route.chunked:
                        for start in range(0, len(body), 4096):
                            piece = body[start : start + 4096]
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
