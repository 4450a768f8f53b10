"""Fetch feeds over HTTP, politely and within limits; one result per request, errors as values.

Each fetch sends an explicit User-Agent and the validators of the last good fetch (a 304 costs
no body), follows at most ``max_redirects`` http(s) redirects by hand (checking each hop's host
with :mod:`tensiond.feeds.netguard` unless private networks are allowed), and must finish within
``timeout`` in total, connect, headers and body together, so a trickling server is cut. The body
is decompressed here, chunk by chunk, and refused past ``max_body`` decompressed bytes. A failed
feed comes back as ``FetchResult(error=FetchError(...))`` whose ``kind`` is one of
:data:`ERROR_KINDS`; anything else raised is a bug and propagates.
"""

from __future__ import annotations

import asyncio
import functools
import zlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import httpx

from tensiond.clock import Clock, SystemClock
from tensiond.config.schema import FetchSettings
from tensiond.exceptions import FetchError
from tensiond.feeds.netguard import Resolver, check_host
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


class _Run:
    """One ``fetch_all`` call: a shared client and the concurrency limits."""

    def __init__(
        self,
        settings: FetchSettings,
        client: httpx.AsyncClient,
        resolver: Resolver | None,
        resolving: ThreadPoolExecutor,
    ) -> None:
        self.settings, self.client, self.resolver = settings, client, resolver
        self.resolving = resolving
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.host_slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host_concurrency)
        )

    def _target(self, url: str, feed_url: str) -> httpx.URL:
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as error:
            raise FetchError(feed_url, f"invalid URL: {error}", kind="bad_scheme") from error
        if target.scheme not in _DEFAULT_PORTS or not target.host:
            raise FetchError(feed_url, f"refused non-http(s) URL {url[:200]!r}", kind="bad_scheme")
        return target

    async def _exchange(self, target: httpx.URL, request: FetchRequest) -> _Hop:
        headers = {"Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"}
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        async with self.client.stream("GET", target, headers=headers) as response:
            found = dict(response.headers.items())
            status = response.status_code
            if status in _REDIRECTS and "location" in response.headers:
                return _Hop(status, found, location=response.headers["location"])
            if not 200 <= status < 300:
                return _Hop(status, found)
            return _Hop(status, found, content=await self._read(response, request.url))

    async def _read(self, response: httpx.Response, feed_url: str) -> bytes:
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
        async for chunk in response.aiter_raw():
            body.feed(chunk)
        return body.finish()

    async def _hop(self, target: httpx.URL, request: FetchRequest, budget: float) -> _Hop:
        """One request of the chain, within ``budget`` seconds including DNS and the guard."""
        port = target.port or _DEFAULT_PORTS[target.scheme]
        async with asyncio.timeout(budget):
            if not self.settings.allow_private_networks:
                check = functools.partial(
                    check_host, target.host, port, False, url=request.url, resolver=self.resolver
                )
                await asyncio.get_running_loop().run_in_executor(self.resolving, check)
            try:
                return await self._exchange(target, request)
            except httpx.TimeoutException as error:
                raise FetchError(request.url, "timed out", kind="timeout") from error
            except httpx.HTTPError as error:
                message = f"{type(error).__name__}: {error}"[:300]
                raise FetchError(request.url, message, kind="network") from error

    async def _follow(self, request: FetchRequest) -> _Hop:
        """Fetch ``request``, following redirects; the deadline covers every hop's I/O."""
        loop = asyncio.get_running_loop()
        budget = self.settings.timeout.total_seconds()
        url = request.url
        for _ in range(self.settings.max_redirects + 1):
            target = self._target(url, request.url)
            port = target.port or _DEFAULT_PORTS[target.scheme]
            async with self.host_slots[f"{target.host}:{port}"]:
                started = loop.time()
                try:
                    hop = await self._hop(target, request, budget)
                except TimeoutError as error:
                    raise FetchError(request.url, "total deadline passed", "timeout") from error
                budget -= loop.time() - started
            if hop.location is None:
                return hop
            try:
                url = str(target.join(hop.location))
            except httpx.InvalidURL as error:
                raise FetchError(request.url, "invalid redirect", kind="bad_scheme") from error
        raise FetchError(
            request.url, f"more than {self.settings.max_redirects} redirects", "too_many_redirects"
        )

    async def fetch(self, request: FetchRequest, now: datetime) -> FetchResult:
        """Fetch one feed; a feed failure comes back as a result with ``error`` set."""
        async with self.slots:
            started = asyncio.get_running_loop().time()
            try:
                hop = await self._follow(request)
            except FetchError as error:
                elapsed = asyncio.get_running_loop().time() - started
                return FetchResult(request.url, error=error, elapsed=elapsed)
            elapsed = asyncio.get_running_loop().time() - started
        return _result(request, hop, now, elapsed)


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
    """Fetches batches of feeds with one HTTP client per batch.

    ``transport`` replaces the network (``httpx.MockTransport`` in tests); ``resolver`` replaces
    DNS for the address check; ``clock`` dates Retry-After when the response has no Date.
    DNS lookups for the check run in threads of each batch's own, left behind when the batch
    ends, so a lookup that hangs past the deadline does not hold up the batch.
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._resolver = resolver
        self._clock = clock or SystemClock()

    def _client(self) -> httpx.AsyncClient:
        settings = self._settings
        return httpx.AsyncClient(
            transport=self._transport,
            headers={"User-Agent": settings.user_agent},
            timeout=httpx.Timeout(
                settings.timeout.total_seconds(), connect=settings.connect_timeout.total_seconds()
            ),
            limits=httpx.Limits(
                max_connections=settings.concurrency,
                max_keepalive_connections=settings.concurrency,
                keepalive_expiry=30,
            ),
            follow_redirects=False,
            trust_env=False,
        )

    async def fetch_all_async(
        self, requests: Sequence[FetchRequest], on_result: OnResult | None = None
    ) -> list[FetchResult]:
        """Fetch every request concurrently; one result per request, in the same order.

        ``on_result(index, result)`` is called as each fetch completes, so a caller can start
        parsing while other feeds are still downloading.
        """
        client = self._client()
        workers = max(2, min(self._settings.concurrency, 16))
        resolving = ThreadPoolExecutor(workers, thread_name_prefix="tensiond-dns")
        try:
            run = _Run(self._settings, client, self._resolver, resolving)
            now = self._clock.now()

            async def one(index: int, request: FetchRequest) -> FetchResult:
                result = await run.fetch(request, now)
                if on_result is not None:
                    on_result(index, result)
                return result

            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(i, request)) for i, request in enumerate(requests)]
            return [task.result() for task in tasks]
        finally:
            resolving.shutdown(wait=False, cancel_futures=True)
            if self._transport is None:  # a transport passed in belongs to the caller
                await client.aclose()

    def fetch_all(
        self, requests: Sequence[FetchRequest], on_result: OnResult | None = None
    ) -> list[FetchResult]:
        """Fetch every request and wait for all; call from synchronous code only."""
        if not requests:
            return []
        return asyncio.run(self.fetch_all_async(requests, on_result))

    def close(self) -> None:
        """Release resources: each batch releases its own, so there is nothing left to do."""
