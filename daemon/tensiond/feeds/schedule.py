"""When to poll a feed next: pure decisions from the last outcome, with no I/O and no clock.

The rules, in order:

* a success (200) or a 304 resets the failure count and waits ``interval``, or longer when the
  server's ``Cache-Control: max-age`` asks for it (capped at four intervals);
* an error waits ``interval * 2**failures`` (failures before this one), capped at ``max_backoff``;
* ``Retry-After`` is never undercut (capped at the longer of ``max_backoff`` and four intervals,
  so a hostile header cannot silence a feed for a year);
* the delay is spread by +- ``jitter`` (a fraction) so feeds do not poll in lockstep, and is never
  below ``min_interval``, the ``max-age`` floor or ``Retry-After``.

The server's hints arrive as header values; :func:`parse_retry_after` and :func:`parse_max_age`
turn them into the seconds these rules take.
"""

from __future__ import annotations

import email.utils
import random
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from tensiond.config.schema import FetchSettings
from tensiond.types import FeedState

Outcome = Literal["ok", "not_modified", "error"]
MAX_AGE_INTERVALS: Final = 4
_MAX_EXPONENT: Final = 32
_MAX_AGE: Final = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,10})", re.IGNORECASE)
_NO_CACHE: Final = re.compile(r"(?:^|[,\s])(no-store|no-cache)\b", re.IGNORECASE)


def http_date(value: str | None) -> datetime | None:
    """Read an HTTP date (``Date``, ``Retry-After``) as an aware datetime; ``None`` if it is not."""
    try:
        moment = email.utils.parsedate_to_datetime(value or "")
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delta seconds or an HTTP date), never negative."""
    text = (value or "").strip()
    if text.isdigit():
        return float(text)
    moment = http_date(text)
    return None if moment is None else max((moment - now).total_seconds(), 0.0)


def parse_max_age(value: str | None) -> float | None:
    """Cache-Control ``max-age`` in seconds; ``None`` if absent or no-store/no-cache."""
    if not value or _NO_CACHE.search(value):
        return None
    match = _MAX_AGE.search(value)
    return float(match[1]) if match else None


def _backoff(interval: float, failures: int, max_backoff: float) -> float:
    """The delay after an error when ``failures`` errors came before it."""
    exponent = min(max(failures, 0), _MAX_EXPONENT)
    return min(interval * 2.0**exponent, max(max_backoff, interval))


def _floor(
    outcome: Outcome,
    interval: float,
    retry_after: float | None,
    max_age: float | None,
    settings: FetchSettings,
) -> float:
    """The earliest the next poll may be: min_interval, max-age (on success), Retry-After."""
    floor = settings.min_interval.total_seconds()
    if max_age is not None and outcome != "error":
        floor = max(floor, min(max_age, MAX_AGE_INTERVALS * interval))
    if retry_after is not None:
        cap = max(settings.max_backoff.total_seconds(), MAX_AGE_INTERVALS * interval)
        floor = max(floor, min(retry_after, cap))
    return floor


def next_poll(
    now: datetime,
    *,
    interval: timedelta,
    outcome: Outcome,
    failures: int,
    retry_after: float | None,
    max_age: float | None,
    settings: FetchSettings,
    rng: random.Random,
) -> tuple[datetime, int]:
    """Return when to poll a feed next and its new count of consecutive failures.

    ``interval`` is the feed's own polling interval (``settings.interval`` unless the feed sets
    one); ``failures`` is the count before this outcome; ``retry_after`` and ``max_age`` are in
    seconds, from the response. ``rng`` draws the jitter, so tests can seed it.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    seconds = interval.total_seconds()
    if outcome == "error":
        new_failures = max(failures, 0) + 1
        delay = _backoff(seconds, failures, settings.max_backoff.total_seconds())
    else:
        new_failures = 0
        delay = seconds
    delay *= 1 + rng.uniform(-settings.jitter, settings.jitter)
    delay = max(delay, _floor(outcome, seconds, retry_after, max_age, settings))
    return now + timedelta(seconds=delay), new_failures


def due(feeds: Iterable[FeedState], now: datetime) -> list[FeedState]:
    """Return the feeds to poll at ``now``, never-polled first, then the most overdue first."""
    ready = [feed for feed in feeds if feed.next_poll_at is None or feed.next_poll_at <= now]
    return sorted(ready, key=lambda feed: (feed.next_poll_at is not None, feed.next_poll_at or now))
