"""Fetch feeds over HTTP, politely and within limits; one result per request, errors as values.

Each fetch sends an explicit User-Agent and the validators of the last good fetch (a 304 costs
no body), follows at most ``max_redirects`` http(s) redirects by hand (checking each hop's host
with :mod:`tensiond.feeds.netguard` unless private networks are allowed), and must finish within
``timeout`` in total, DNS, connect, headers and body together, so a trickling server is cut. The
body is decompressed here, chunk by chunk, and refused past ``max_body`` decompressed bytes. A
failed feed comes back as ``FetchResult(error=FetchError(...))`` whose ``kind`` is one of
:data:`ERROR_KINDS`; anything else raised is a bug and propagates.

A batch runs on httpx's synchronous client in ``concurrency`` worker threads: on a poll of
hundreds of feeds it costs a quarter of the CPU of httpx's async client (docs/benchmarks.md).
Under it sits our own network backend, which

- resolves each host once per batch, in threads of the batch's own, and connects only to the
  addresses that were resolved and checked: the guard and the connection see the same DNS answer;
- gives every socket operation what is left of the fetch's total deadline at most, so a server
  that trickles a byte at a time is cut at the deadline, not at the deadline plus a read timeout.

Connections are kept alive within a batch, in one small pool per host (closed when the batch
is done with the host), so a host serving several feeds is connected to once or twice per
poll, not once per feed. A request that gets no answer at all on a kept-alive connection is
sent once more on another.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import ipaddress
import queue
import ssl
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import httpcore
import httpx

from tensiond.clock import Clock, SystemClock
from tensiond.config.schema import FetchSettings
from tensiond.exceptions import FetchError
from tensiond.feeds.netguard import Resolver, check_host, system_resolve
from tensiond.feeds.schedule import http_date, parse_max_age, parse_retry_after
from tensiond.types import FetchRequest, FetchResult

OnResult = Callable[[int, FetchResult], None]

ERROR_KINDS: Final = frozenset(
    {"network", "timeout", "too_large", "too_many_redirects", "blocked", "http_4xx", "http_5xx",
     "bad_scheme"}
)  # fmt: skip
ACCEPT: Final = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_DRAIN_LIMIT: Final = 64 * 1024  # a 304, redirect or error body up to this is read: keep-alive
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "tensiond_fetch_deadline", default=None
)
"""The running fetch's total deadline (``time.monotonic()``); each worker thread has its own."""


class _Body:
    """Collects a body, decompressing gzip or deflate and refusing more than ``cap`` bytes."""

    def __init__(self, url: str, encoding: str, cap: int) -> None:
        self._url, self._encoding, self._room = url, encoding, cap
        self._chunks: list[bytes] = []
        self._inflater: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._inflater = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            raise FetchError(url, f"unsupported Content-Encoding {encoding[:40]!r}", kind="network")

    def _add(self, data: bytes) -> None:
        if len(data) > self._room:
            raise FetchError(self._url, "body larger than fetch.max_body", kind="too_large")
        self._room -= len(data)
        self._chunks.append(data)

    def _inflate(self, data: bytes) -> None:
        assert self._inflater is not None
        try:
            self._add(self._inflater.decompress(data, self._room + 1))
            while self._encoding != "deflate" and self._inflater.eof and self._inflater.unused_data:
                rest = self._inflater.unused_data  # another gzip member follows
                self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
                self._add(self._inflater.decompress(rest, self._room + 1))
        except zlib.error as error:
            if self._encoding != "deflate" or self._chunks:
                raise FetchError(self._url, f"bad {self._encoding} body", kind="network") from error
            self._encoding, self._inflater = "raw deflate", zlib.decompressobj(-zlib.MAX_WBITS)
            self._inflate(data)  # servers that send raw deflate without the zlib header

    def feed(self, data: bytes) -> None:
        """Add a raw chunk as received."""
        if self._inflater is None:
            self._add(data)
        elif data:
            self._inflate(data)

    def finish(self) -> bytes:
        """Return the whole decoded body."""
        if self._inflater is not None:
            self._add(self._inflater.flush())
        return b"".join(self._chunks)


@dataclass(frozen=True)
class _Hop:
    """What one request of a redirect chain answered."""

    status: int
    headers: Mapping[str, str]
    content: bytes | None = None
    location: str | None = None


def _within(timeout: float | None, late: type[httpcore.TimeoutException]) -> float | None:
    """``timeout`` cut to what is left of the running fetch's deadline; ``late`` once it passed."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise late("total deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _within(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _within(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _within(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Addresses:
    """Each host resolved once per batch, in threads of the batch's own, and checked on use.

    A lookup that hangs is waited for until the fetch's deadline only; its thread is left
    behind when the batch ends.
    """

    def __init__(self, settings: FetchSettings, resolver: Resolver | None) -> None:
        self._allow_private = settings.allow_private_networks
        self._resolver = resolver or system_resolve
        workers = max(2, min(settings.concurrency, 16))
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="tensiond-dns")
        self._lookups: dict[tuple[str, int], Future[Sequence[str]]] = {}
        self._lock = threading.Lock()

    def approved(self, host: str, port: int, url: str) -> list[str]:
        """The addresses of ``host``, refused (:class:`BlockedAddressError`) if one is private."""
        with self._lock:
            lookup = self._lookups.get((host, port))
            if lookup is None and _is_ip(host):  # nothing to look up
                lookup = Future()
                lookup.set_result([host.strip("[]")])
            elif lookup is None:
                lookup = self._threads.submit(self._resolver, host.strip("[]"), port)
            self._lookups[host, port] = lookup
        deadline = _DEADLINE.get()
        wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not concurrent.futures.wait([lookup], wait).done:
            raise FetchError(url, f"resolving {host} passed the total deadline", "timeout")
        return check_host(
            host, port, self._allow_private, url=url, resolver=lambda _host, _port: lookup.result()
        )

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class _Backend(httpcore.NetworkBackend):
    """Connects only to the addresses :class:`_Addresses` resolved (and checked), in order."""

    def __init__(self, addresses: _Addresses) -> None:
        self._addresses = addresses
        self._tcp = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._addresses.approved(host, port, host)
        except FetchError as error:  # the fetch checked the host first: not refused here
            late = error.kind == "timeout"
            raise (httpcore.ConnectTimeout if late else httpcore.ConnectError)(
                error.message
            ) from error
        failure: Exception = httpcore.ConnectError(f"cannot connect to {host}")
        for address in addresses:
            try:
                stream = self._tcp.connect_tcp(
                    address,
                    port,
                    timeout=_within(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
                continue
            return _DeadlineStream(stream)
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not feeds")


class _Transport(httpx.HTTPTransport):
    """httpx's own transport, with :class:`_Backend` under its connection pool."""

    def __init__(self, context: ssl.SSLContext, backend: _Backend, idle: int) -> None:
        super().__init__(verify=context, trust_env=False)
        if not isinstance(self._pool, httpcore.ConnectionPool):  # pragma: no cover
            raise TypeError("httpx.HTTPTransport no longer keeps its pool in _pool")
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=None,  # in flight: bounded by the host slots; idle: below
            max_keepalive_connections=idle,
            keepalive_expiry=30,
            network_backend=backend,
        )


class _Hosts(httpx.BaseTransport):
    """One small connection pool per host and port, closed when the batch is done with it.

    httpcore scans every connection of a pool on each request, and counts the idle ones for
    each idle one: one pool for the hundreds of connections of a poll costs more CPU than the
    requests themselves.
    """

    def __init__(self, context: ssl.SSLContext, backend: _Backend, idle: int) -> None:
        self._context, self._backend, self._idle = context, backend, idle
        self._open: dict[str, _Transport] = {}
        self._lock = threading.Lock()
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = _host_key(request.url) or ""
        with self._lock:
            if self._closed:  # a batch cut short by a bug: open nothing more
                raise httpx.ConnectError("the batch is over", request=request)
            transport = self._open.get(key)
            if transport is None:
                transport = _Transport(self._context, self._backend, self._idle)
                self._open[key] = transport
        return transport.handle_request(request)

    def forget(self, key: str) -> httpx.BaseTransport | None:
        """Take ``key``'s pool out, for the caller to close once no request uses it."""
        with self._lock:
            return self._open.pop(key, None)

    def close(self) -> None:
        with self._lock:
            transports, self._open, self._closed = list(self._open.values()), {}, True
        for transport in transports:
            transport.close()


class _Slots:
    """Hands requests to worker threads, at most ``limit`` per host and port at a time.

    When a host has nothing in flight and nothing waiting, its connections are closed
    (``hosts.forget``), so a poll of many hosts keeps few sockets open.
    """

    def __init__(self, limit: int, requests: Sequence[FetchRequest], hosts: _Hosts | None) -> None:
        self._limit, self._hosts = limit, hosts
        self._busy: Counter[str] = Counter()
        self._waiting: dict[str | None, deque[tuple[int, FetchRequest]]] = {}
        for index, request in enumerate(requests):
            self._waiting.setdefault(_host_key(request.url), deque()).append((index, request))
        self._changed = threading.Condition()

    def take(self) -> tuple[int, FetchRequest, str | None] | None:
        """The next request whose host has a free slot (now taken); ``None`` when none is left."""
        with self._changed:
            while self._waiting:
                for key, waiting in self._waiting.items():
                    if key is None or self._busy[key] < self._limit:
                        index, request = waiting.popleft()
                        if not waiting:
                            del self._waiting[key]
                        if key is not None:
                            self._busy[key] += 1
                        return index, request, key
                self._changed.wait()
            return None

    def acquire(self, key: str) -> bool:
        """Take a slot of ``key``, waiting until the fetch's deadline at most."""
        deadline = _DEADLINE.get()
        with self._changed:
            while self._busy[key] >= self._limit:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(left)
            self._busy[key] += 1
            return True

    def release(self, key: str) -> None:
        done: httpx.BaseTransport | None = None
        with self._changed:
            self._busy[key] -= 1
            if not self._busy[key]:
                del self._busy[key]
                if key not in self._waiting and self._hosts is not None:
                    done = self._hosts.forget(key)
            self._changed.notify_all()
        if done is not None:
            done.close()

    def stop(self) -> None:
        """Hand out nothing more."""
        with self._changed:
            self._waiting.clear()
            self._changed.notify_all()


def _host_key(url: str | httpx.URL) -> str | None:
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    if target.scheme not in _DEFAULT_PORTS or not target.host:
        return None
    return f"{target.host}:{target.port or _DEFAULT_PORTS[target.scheme]}"


class _Batch:
    """One ``fetch_all`` call: a shared client, the address cache and the host slots."""

    def __init__(
        self,
        settings: FetchSettings,
        client: httpx.Client,
        addresses: _Addresses,
        slots: _Slots,
        now: datetime,
    ) -> None:
        self.settings, self.client, self.addresses = settings, client, addresses
        self.slots, self.now = slots, now

    def _target(self, url: str, feed_url: str) -> httpx.URL:
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as error:
            raise FetchError(feed_url, f"invalid URL: {error}", kind="bad_scheme") from error
        if target.scheme not in _DEFAULT_PORTS or not target.host:
            raise FetchError(feed_url, f"refused non-http(s) URL {url[:200]!r}", kind="bad_scheme")
        return target

    def _exchange(self, target: httpx.URL, request: FetchRequest) -> _Hop:
        headers = {"Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"}
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        outgoing = self.client.build_request("GET", target, headers=headers)
        try:
            response = self.client.send(outgoing, stream=True)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            # No answer at all: most likely a kept-alive connection the server had just closed.
            # A GET can be sent again, once, on another connection.
            response = self.client.send(outgoing, stream=True)
        try:
            found = dict(response.headers.items())
            status = response.status_code
            if 200 <= status < 300:
                return _Hop(status, found, content=self._read(response, request.url))
            _drain(response)
            if status in _REDIRECTS and "location" in response.headers:
                return _Hop(status, found, location=response.headers["location"])
            return _Hop(status, found)
        finally:
            response.close()

    def _read(self, response: httpx.Response, feed_url: str) -> bytes:
        cap = self.settings.max_body
        encoding = response.headers.get("content-encoding", "").strip().lower()
        length = response.headers.get("content-length", "")
        if encoding in ("", "identity") and length.isdigit() and int(length) > cap:
            raise FetchError(feed_url, f"Content-Length {length} over fetch.max_body", "too_large")
        if response.is_stream_consumed:  # a mock built from bytes: httpx already decoded it
            body = _Body(feed_url, "identity", cap)
            body.feed(response.content)
            return body.finish()
        body = _Body(feed_url, encoding, cap)
        for chunk in response.iter_raw():
            body.feed(chunk)
        return body.finish()

    def _hop(self, target: httpx.URL, request: FetchRequest) -> _Hop:
        """One request of the chain, DNS and the guard included."""
        port = target.port or _DEFAULT_PORTS[target.scheme]
        if not self.settings.allow_private_networks:
            self.addresses.approved(target.host, port, request.url)
        try:
            return self._exchange(target, request)
        except httpx.TimeoutException as error:
            raise FetchError(request.url, "timed out", kind="timeout") from error
        except httpx.HTTPError as error:
            message = f"{type(error).__name__}: {error}"[:300]
            raise FetchError(request.url, message, kind="network") from error

    def _follow(self, request: FetchRequest, held: str | None) -> _Hop:
        """Fetch ``request``, following redirects, holding one slot of each hop's host."""
        url = request.url
        try:
            for _ in range(self.settings.max_redirects + 1):
                target = self._target(url, request.url)
                key = f"{target.host}:{target.port or _DEFAULT_PORTS[target.scheme]}"
                if key != held:
                    if held is not None:
                        self.slots.release(held)
                        held = None
                    if not self.slots.acquire(key):
                        raise FetchError(request.url, "total deadline passed", "timeout")
                    held = key
                hop = self._hop(target, request)
                if hop.location is None:
                    return hop
                try:
                    url = str(target.join(hop.location))
                except httpx.InvalidURL as error:
                    raise FetchError(request.url, "invalid redirect", kind="bad_scheme") from error
        finally:
            if held is not None:
                self.slots.release(held)
        raise FetchError(
            request.url, f"more than {self.settings.max_redirects} redirects", "too_many_redirects"
        )

    def fetch(self, request: FetchRequest, held: str | None) -> FetchResult:
        """Fetch one feed within the total deadline; a failure comes back as a result."""
        started = time.monotonic()
        token = _DEADLINE.set(started + self.settings.timeout.total_seconds())
        try:
            hop = self._follow(request, held)
        except FetchError as error:
            return FetchResult(request.url, error=error, elapsed=time.monotonic() - started)
        finally:
            _DEADLINE.reset(token)
        return _result(request, hop, self.now, time.monotonic() - started)


def _drain(response: httpx.Response) -> None:
    """Read a short body that is not kept, so the connection can serve the next request."""
    length = response.headers.get("content-length", "")
    if response.status_code != 304 and not (length.isdigit() and int(length) <= _DRAIN_LIMIT):
        return  # closed unread: the connection is dropped
    try:
        for _ in response.iter_raw():
            pass
    except httpx.HTTPError:
        return  # the status is what counts; the connection is dropped


def _result(request: FetchRequest, hop: _Hop, now: datetime, elapsed: float) -> FetchResult:
    """Turn the last hop into a result: 2xx and 304 are successes, anything else an error."""
    headers = hop.headers
    server_now = http_date(headers.get("date")) or now
    error: FetchError | None = None
    if hop.status >= 400:
        kind = "http_4xx" if hop.status < 500 else "http_5xx"
        error = FetchError(request.url, f"HTTP status {hop.status}", kind=kind)
    elif hop.status != 304 and not 200 <= hop.status < 300:
        error = FetchError(request.url, f"unexpected HTTP status {hop.status}", kind="network")
    return FetchResult(
        url=request.url,
        status=hop.status,
        content=hop.content if error is None else None,
        headers=headers,
        etag=headers.get("etag") or (request.etag if hop.status == 304 else None),
        last_modified=headers.get("last-modified")
        or (request.last_modified if hop.status == 304 else None),
        max_age=parse_max_age(headers.get("cache-control")) if error is None else None,
        retry_after=parse_retry_after(headers.get("retry-after"), server_now),
        elapsed=elapsed,
        error=error,
    )


class Fetcher:
    """Fetches batches of feeds with one HTTP client and ``concurrency`` threads per batch.

    ``transport`` replaces the network (``httpx.MockTransport`` in tests); ``resolver`` replaces
    DNS for the address check; ``clock`` dates Retry-After when the response has no Date.
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._resolver = resolver
        self._clock = clock or SystemClock()
        self._context: ssl.SSLContext | None = None  # loading the CA bundle costs ~80 ms: once

    def _client(self, transport: httpx.BaseTransport) -> httpx.Client:
        settings = self._settings
        return httpx.Client(
            transport=transport,
            headers={"User-Agent": settings.user_agent},
            timeout=httpx.Timeout(
                settings.timeout.total_seconds(), connect=settings.connect_timeout.total_seconds()
            ),
            follow_redirects=False,
            trust_env=False,
        )

    def fetch_all(
        self, requests: Sequence[FetchRequest], on_result: OnResult | None = None
    ) -> list[FetchResult]:
        """Fetch every request concurrently; one result per request, in the same order.

        ``on_result(index, result)`` is called in the calling thread as each fetch completes, so
        a caller can start parsing while other feeds are still downloading.
        """
        if not requests:
            return []
        settings = self._settings
        addresses = _Addresses(settings, self._resolver)
        hosts: _Hosts | None = None
        transport = self._transport
        if transport is None:
            if self._context is None:
                self._context = httpx.create_ssl_context(trust_env=False)
            idle = settings.per_host_concurrency
            transport = hosts = _Hosts(self._context, _Backend(addresses), idle)
        client = self._client(transport)
        slots = _Slots(settings.per_host_concurrency, requests, hosts)
        batch = _Batch(settings, client, addresses, slots, self._clock.now())
        done: queue.SimpleQueue[tuple[int, FetchResult | BaseException]] = queue.SimpleQueue()

        def work() -> None:
            while (taken := slots.take()) is not None:
                index, request, held = taken
                try:
                    done.put((index, batch.fetch(request, held)))
                except BaseException as bug:  # not a feed's failure: stop and raise it
                    slots.stop()
                    done.put((index, bug))
                    return

        workers = min(settings.concurrency, len(requests))
        threads = ThreadPoolExecutor(workers, thread_name_prefix="tensiond-fetch")
        results: list[FetchResult | None] = [None] * len(requests)
        finished = False
        try:
            for _ in range(workers):
                threads.submit(work)
            for _ in requests:
                index, outcome = done.get()
                if isinstance(outcome, BaseException):
                    raise outcome
                results[index] = outcome
                if on_result is not None:
                    on_result(index, outcome)
            finished = True
        finally:
            slots.stop()
            threads.shutdown(wait=finished, cancel_futures=True)
            addresses.close()
            if self._transport is None:  # a transport passed in belongs to the caller
                client.close()
        return [result for result in results if result is not None]

    def close(self) -> None:
        """Release resources: each batch releases its own, so there is nothing left to do."""
