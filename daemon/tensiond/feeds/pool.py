"""Parsing in worker processes, so a big poll uses every core while it is still downloading.

feedparser is pure Python and holds the GIL; with hundreds of changed feeds, parsing dominates a
poll. The pool's workers are spawned (not forked from a threaded daemon) and import only the
parser. Errors come back as values, never as pickled exceptions.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime

from tensiond.exceptions import ParseError
from tensiond.feeds.parse import ParsedFeed, parse_feed

Parsed = tuple[ParsedFeed | None, str | None]


def _parse(
    content: bytes,
    headers: Mapping[str, str],
    url: str,
    name: str,
    now: datetime,
    known: frozenset[bytes],
) -> Parsed:
    try:
        return parse_feed(content, headers, url, name, now, known), None
    except ParseError as error:
        return None, error.message


class ParsePool:
    """A small pool of parser processes, started on first use."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    def submit(
        self,
        content: bytes,
        headers: Mapping[str, str],
        url: str,
        name: str,
        now: datetime,
        known: frozenset[bytes] = frozenset(),
    ) -> Future[Parsed]:
        if self._executor is None:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(self.processes, mp_context=context)
        return self._executor.submit(_parse, content, dict(headers), url, name, now, known)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def result_of(future: Future[Parsed], url: str) -> ParsedFeed | None:
    """The parsed feed, the worker's parse error raised again, or None if the pool broke."""
    try:
        parsed, error = future.result()
    except (BrokenProcessPool, OSError, RuntimeError):
        return None
    if parsed is None:
        raise ParseError(url, error or "unparseable")
    return parsed
