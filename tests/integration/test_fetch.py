"""The fetcher against a real HTTP server on loopback: politeness, limits, refusals, errors."""

from __future__ import annotations

import email.utils
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tensiond.config.schema import FetchSettings
from tensiond.exceptions import BlockedAddressError, FetchError
from tensiond.feeds import netguard
from tensiond.feeds.fetch import ERROR_KINDS, Fetcher
from tensiond.types import FetchRequest, FetchResult
from tests.feedserver import FeedServer, Route, zeros

FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Loopback news</title>
<item><title>Border talks resume</title><link>https://news.example/a</link></item>
</channel></rss>"""
MIB = 2**20


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def settings(**overrides: Any) -> FetchSettings:
    """Loopback allowed, a short deadline and a 1 MiB body cap unless overridden."""
    values: dict[str, Any] = {
        "allow_private_networks": True,
        "timeout": timedelta(seconds=2),
        "connect_timeout": timedelta(seconds=1),
        "max_body": MIB,
        "user_agent": "tensiond-test/1.0",
    }
    return FetchSettings(**{**values, **overrides})


def fetch(*urls: str, **overrides: Any) -> list[FetchResult]:
    return Fetcher(settings(**overrides)).fetch_all([FetchRequest(url) for url in urls])


def kind_of(result: FetchResult) -> str:
    assert isinstance(result.error, FetchError), result
    assert result.error.kind in ERROR_KINDS
    return result.error.kind


def test_200_then_304_sends_the_validators(server: FeedServer) -> None:
    last_modified = "Sun, 01 Mar 2026 10:00:00 GMT"
    url = server.route("/feed", Route(body=FEED, etag='"v1"', last_modified=last_modified))
    fetcher = Fetcher(settings())

    [first] = fetcher.fetch_all([FetchRequest(url)])
    [second] = fetcher.fetch_all([FetchRequest(url, first.etag, first.last_modified)])

    assert (first.status, first.content, first.etag) == (200, FEED, '"v1"')
    assert first.last_modified == last_modified
    assert second.not_modified and second.content is None and second.etag == '"v1"'
    sent = server.requests_to("/feed")
    assert "if-none-match" not in sent[0].headers
    assert sent[1].headers["if-none-match"] == '"v1"'
    assert sent[1].headers["if-modified-since"] == last_modified
    assert {seen.headers["user-agent"] for seen in sent} == {"tensiond-test/1.0"}


def test_gzip_body_is_decompressed(server: FeedServer) -> None:
    url = server.route("/gz", Route(body=FEED, gzip=True))
    [result] = fetch(url)
    assert result.ok and result.content == FEED


@pytest.mark.parametrize(
    "route",
    [
        pytest.param(Route(body=zeros(50 * MIB), gzip=True), id="gzip-bomb-50MiB"),
        pytest.param(Route(body=zeros(100 * MIB), content_length=False), id="100MB-no-length"),
        pytest.param(Route(body=bytes(2 * MIB)), id="content-length-over-cap"),
    ],
)
def test_bodies_over_the_cap_are_cut_quickly_with_flat_memory(
    server: FeedServer, route: Route
) -> None:
    url = server.route("/big", route)
    tracemalloc.start()
    started = time.monotonic()
    try:
        [result] = fetch(url)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert kind_of(result) == "too_large"
    assert time.monotonic() - started < 5
    assert peak < 16 * MIB


def test_slow_servers_are_cut_at_the_deadline_while_others_are_fetched(
    server: FeedServer,
) -> None:
    trickle = server.route("/trickle", Route(mode="trickle", trickle_every=0.5))
    hang = server.route("/hang", Route(mode="hang"))
    fine = server.route("/feed", Route(body=FEED))
    started = time.monotonic()

    results = fetch(trickle, hang, fine, timeout=timedelta(seconds=2))

    assert [r.error.kind if isinstance(r.error, FetchError) else "ok" for r in results] == [
        "timeout",
        "timeout",
        "ok",
    ]
    assert results[2].content == FEED
    assert 1.9 < time.monotonic() - started < 4


def test_a_body_that_stalls_after_late_headers_is_cut_at_the_deadline(server: FeedServer) -> None:
    # Headers at 1.5 s, then a byte every 5 s: a per-read timeout alone would wait until 3.5 s.
    url = server.route("/late", Route(mode="trickle", delay=1.5, trickle_every=5))
    started = time.monotonic()

    [result] = fetch(url, timeout=timedelta(seconds=2))

    assert kind_of(result) == "timeout"
    assert 1.9 < time.monotonic() - started < 2.6


def test_redirects_are_followed(server: FeedServer) -> None:
    server.route("/feed", Route(body=FEED))
    server.route("/moved", Route(status=301, redirect="/feed"))
    [result] = fetch(server.url("/moved"))
    assert result.ok and result.content == FEED and result.url == server.url("/moved")


def test_redirect_cap(server: FeedServer) -> None:
    url = server.route("/loop", Route(redirect="/loop"))
    [result] = fetch(url, max_redirects=3)
    assert kind_of(result) == "too_many_redirects"
    assert len(server.requests_to("/loop")) == 4


def test_redirect_to_another_scheme_is_refused(server: FeedServer) -> None:
    url = server.route("/file", Route(redirect="file:///etc/passwd"))
    [result] = fetch(url)
    assert kind_of(result) == "bad_scheme"


def test_loopback_is_refused_by_default(server: FeedServer) -> None:
    url = server.route("/feed", Route(body=FEED))
    [result] = fetch(url, allow_private_networks=False)
    assert isinstance(result.error, BlockedAddressError)
    assert result.error.address == "127.0.0.1" and kind_of(result) == "blocked"
    assert server.seen == []


def test_redirect_from_an_allowed_host_to_loopback_is_refused(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The connection goes to the address the guard checked, so the first hop's host must
    # resolve to the loopback server: 127.0.0.1 plays a public address here, ::1 does not.
    public = netguard.is_public_address
    monkeypatch.setattr(netguard, "is_public_address", lambda ip: ip == "127.0.0.1" or public(ip))
    server.route("/hop", Route(redirect=server.url("/feed", host="[::1]")))
    server.route("/feed", Route(body=FEED))
    fetcher = Fetcher(settings(allow_private_networks=False))

    [result] = fetcher.fetch_all([FetchRequest(server.url("/hop"))])

    assert kind_of(result) == "blocked"
    assert isinstance(result.error, BlockedAddressError) and result.error.address == "::1"
    assert len(server.requests_to("/hop")) == 1
    assert server.requests_to("/feed") == []


def test_connections_go_to_the_checked_address_and_each_host_is_resolved_once(
    server: FeedServer,
) -> None:
    asked: list[str] = []

    def resolver(host: str, port: int) -> Sequence[str]:  # what DNS answers: no second lookup
        asked.append(host)
        return ["127.0.0.1"]

    paths = [
        server.route(f"/f{n}", Route(body=FEED)).removeprefix(server.url("")) for n in range(5)
    ]
    urls = [server.url(path, host="feeds.test") for path in paths]
    fetcher = Fetcher(settings(), resolver=resolver)

    results = fetcher.fetch_all([FetchRequest(url) for url in urls])

    assert [result.content for result in results] == [FEED] * 5
    assert asked == ["feeds.test"]
    assert {seen.headers["host"] for seen in server.seen} == {f"feeds.test:{server.port}"}


def test_a_kept_alive_connection_closed_by_the_server_is_retried_once_on_a_new_one() -> None:
    """Each connection answers one request, then hangs up on the next without a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    connections: list[int] = []

    def serve(connection: socket.socket) -> None:
        with connection:
            for answered in (True, False):
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                if answered:
                    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(FEED)}\r\n\r\n"
                    connection.sendall(head.encode() + FEED)

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connections.append(1)
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    port = listener.getsockname()[1]
    try:
        results = fetch(*(f"http://127.0.0.1:{port}/f{n}" for n in range(3)), concurrency=1)
    finally:
        listener.close()
    assert [result.content for result in results] == [FEED] * 3
    assert len(connections) == 3


def test_503_carries_retry_after(server: FeedServer) -> None:
    later = email.utils.formatdate(time.time() + 300, usegmt=True)
    seconds = server.route("/busy", Route(status=503, headers={"Retry-After": "120"}))
    dated = server.route("/dated", Route(status=503, headers={"Retry-After": later}))
    gone = server.route("/gone", Route(status=404))

    busy, by_date, missing = fetch(seconds, dated, gone)

    assert (kind_of(busy), busy.status, busy.retry_after) == ("http_5xx", 503, 120.0)
    assert "503" in str(busy.error) and busy.content is None
    assert by_date.retry_after is not None and 295 <= by_date.retry_after <= 301
    assert (kind_of(missing), missing.retry_after) == ("http_4xx", None)


def test_cache_control_max_age(server: FeedServer) -> None:
    url = server.route("/feed", Route(body=FEED, headers={"Cache-Control": "public, max-age=900"}))
    [result] = fetch(url)
    assert result.max_age == 900.0


def test_one_failing_feed_does_not_affect_the_others(server: FeedServer) -> None:
    good = [server.route(f"/ok{n}", Route(body=FEED)) for n in range(6)]
    broken = server.route("/broken", Route(status=500))
    refused = "http://127.0.0.1:1/feed"

    results = fetch(good[0], broken, *good[1:3], refused, *good[3:])

    assert [r.url for r in results] == [good[0], broken, *good[1:3], refused, *good[3:]]
    assert [kind_of(r) for r in results if not r.ok] == ["http_5xx", "network"]
    assert all(r.content == FEED for r in results if r.ok)
    assert sum(r.ok for r in results) == 6


def test_concurrency_per_host_is_bounded(server: FeedServer) -> None:
    urls = [server.route(f"/slow{n}", Route(body=FEED, delay=0.3)) for n in range(6)]
    results = fetch(*urls, per_host_concurrency=2)
    assert all(result.ok for result in results)
    assert server.max_in_flight == 2


def test_empty_batch() -> None:
    assert Fetcher(settings()).fetch_all([]) == []


# The rest need no server: MockTransport is the seam for what a real server rarely does.


class Streamed(httpx.SyncByteStream):
    """A body that arrives as a stream (``content=`` bytes are read by httpx at once)."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __iter__(self) -> Iterator[bytes]:
        yield self.payload


def mock_fetch(handler: Any, url: str = "http://feeds.test/rss") -> FetchResult:
    transport = httpx.MockTransport(handler)
    return Fetcher(settings(), transport=transport).fetch_all([FetchRequest(url)])[0]


@pytest.mark.parametrize(
    ("encoding", "payload"),
    [
        pytest.param("deflate", zlib.compress(FEED), id="zlib-deflate"),
        pytest.param("deflate", zlib.compress(FEED)[2:-4], id="raw-deflate"),
        pytest.param("identity", FEED, id="identity"),
    ],
)
def test_content_encodings(encoding: str, payload: bytes) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Encoding": encoding}
        return httpx.Response(200, stream=Streamed(payload), headers=headers)

    assert mock_fetch(answer).content == FEED


def test_a_mock_response_built_from_bytes_is_read_too() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=FEED)

    assert mock_fetch(answer).content == FEED


@pytest.mark.parametrize(
    ("url", "headers", "kind"),
    [
        pytest.param("ftp://feeds.test/rss", {}, "bad_scheme", id="ftp-url"),
        pytest.param("http://[::1/rss", {}, "bad_scheme", id="invalid-url"),
        pytest.param("http://feeds.test/rss", {"Content-Encoding": "br"}, "network", id="brotli"),
        pytest.param("http://feeds.test/rss", {"Content-Encoding": "gzip"}, "network", id="bad-gz"),
    ],
)
def test_refusals_without_a_server(url: str, headers: dict[str, str], kind: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Streamed(b"not compressed"), headers=headers)

    assert kind_of(mock_fetch(answer, url)) == kind


def test_a_bug_in_the_transport_is_raised() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        mock_fetch(broken)


def test_a_hanging_dns_lookup_is_cut_at_the_deadline() -> None:
    release = threading.Event()

    def resolver(host: str, port: int) -> Sequence[str]:
        release.wait(10)
        return ["93.184.216.34"]

    fetcher = Fetcher(settings(allow_private_networks=False), resolver=resolver)
    started = time.monotonic()
    try:
        [result] = fetcher.fetch_all([FetchRequest("http://slow-dns.test/rss")])
    finally:
        release.set()
    assert kind_of(result) == "timeout"
    assert time.monotonic() - started < 3
