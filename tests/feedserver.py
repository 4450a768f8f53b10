"""A feed server on loopback for tests: scripted routes, hostile modes, and a record of requests.

Each path answers as its :class:`Route` says: a status, headers and a body (bytes, or a callable
that yields chunks lazily so a 100 MB body never sits in memory), gzip on the fly, 304 when the
request's validators match, redirects, a trickle (one byte every ``trickle_every`` seconds) or
no answer at all. Every request is recorded with its headers, so a test can check what the
second poll sent.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal

Body = bytes | Callable[[], Iterable[bytes]]


@dataclass
class Route:
    """How one path answers."""

    status: int = 200
    body: Body = b""
    headers: dict[str, str] = field(default_factory=dict)
    gzip: bool = False
    etag: str | None = None
    last_modified: str | None = None
    content_length: bool = True
    mode: Literal["normal", "trickle", "hang"] = "normal"
    redirect: str | None = None
    delay: float = 0.0
    trickle_every: float = 2.0


@dataclass(frozen=True)
class Seen:
    """One request as the server received it (header names lower-cased)."""

    path: str
    headers: dict[str, str]


def zeros(total: int, chunk: int = 64 * 1024) -> Callable[[], Iterator[bytes]]:
    """A lazy body of ``total`` zero bytes, made chunk by chunk."""

    def chunks() -> Iterator[bytes]:
        block = bytes(chunk)
        for start in range(0, total, chunk):
            yield block[: min(chunk, total - start)]

    return chunks


def _gzipped(chunks: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    for chunk in chunks:
        if piece := compressor.compress(chunk):
            yield piece
    yield compressor.flush()


class FeedServer:
    """``with FeedServer() as server: url = server.route("/feed", Route(body=...))``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.in_flight = 0
        self.max_in_flight = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle(self) -> None:
                try:
                    super().handle()
                except ConnectionError:  # a client that hangs up between requests
                    self.close_connection = True

            def do_GET(self) -> None:
                owner._handle(self)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def route(self, path: str, route: Route) -> str:
        """Serve ``route`` at ``path``; returns the path's URL."""
        with self.lock:
            self.routes[path] = route
        return self.url(path)

    def requests_to(self, path: str) -> list[Seen]:
        with self.lock:
            return [seen for seen in self.seen if seen.path == path]

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self.lock:
            self.seen.append(Seen(handler.path, headers))
            route = self.routes.get(handler.path)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._answer(handler, route or Route(status=404, body=b"not found"), headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            handler.close_connection = True  # the client hung up: that is what limits do
        finally:
            with self.lock:
                self.in_flight -= 1

    def _answer(self, handler: BaseHTTPRequestHandler, route: Route, seen: dict[str, str]) -> None:
        if route.delay:
            self.stopping.wait(route.delay)
        if route.mode == "hang":
            self.stopping.wait(60)
            handler.close_connection = True
            return
        if self._not_modified(route, seen):
            self._head(handler, 304, route, {"Content-Length": "0"})
            return
        if route.redirect is not None:
            status = route.status if 300 <= route.status < 400 else 302
            extra = {"Location": route.redirect, "Content-Length": "0"}
            self._head(handler, status, route, extra)
            return
        if route.mode == "trickle":
            self._trickle(handler, route)
            return
        self._send_body(handler, route)

    @staticmethod
    def _not_modified(route: Route, seen: dict[str, str]) -> bool:
        if route.etag is not None and route.etag in seen.get("if-none-match", ""):
            return True
        return (
            route.last_modified is not None and seen.get("if-modified-since") == route.last_modified
        )

    def _head(
        self, handler: BaseHTTPRequestHandler, status: int, route: Route, extra: dict[str, str]
    ) -> None:
        handler.send_response(status)
        for name, value in {**route.headers, **extra}.items():
            handler.send_header(name, value)
        if route.etag is not None:
            handler.send_header("ETag", route.etag)
        if route.last_modified is not None:
            handler.send_header("Last-Modified", route.last_modified)
        handler.end_headers()

    def _send_body(self, handler: BaseHTTPRequestHandler, route: Route) -> None:
        extra = {"Content-Encoding": "gzip"} if route.gzip else {}
        if isinstance(route.body, bytes):
            payload = gzip.compress(route.body) if route.gzip else route.body
            if route.content_length:
                extra["Content-Length"] = str(len(payload))
            chunks: Iterable[bytes] = [payload]
        else:
            chunks = _gzipped(route.body()) if route.gzip else route.body()
        if "Content-Length" not in extra:
            extra["Connection"] = "close"
            handler.close_connection = True
        self._head(handler, route.status, route, extra)
        for chunk in chunks:
            if self.stopping.is_set():
                return
            handler.wfile.write(chunk)

    def _trickle(self, handler: BaseHTTPRequestHandler, route: Route) -> None:
        handler.close_connection = True
        self._head(handler, 200, route, {"Connection": "close"})
        handler.wfile.flush()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.stopping.wait(route.trickle_every):
            handler.wfile.write(b"<")
            handler.wfile.flush()
