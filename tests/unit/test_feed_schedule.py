"""When a feed is polled next: intervals, server hints, backoff, jitter, and which feeds are due."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tensiond.config.schema import FetchSettings
from tensiond.feeds.schedule import Outcome, due, next_poll, parse_max_age, parse_retry_after
from tensiond.types import FeedState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MINUTE = 60.0
EXACT = FetchSettings(
    interval=timedelta(minutes=10),
    min_interval=timedelta(minutes=1),
    max_backoff=timedelta(hours=6),
    jitter=0.0,
)


def delay_of(
    outcome: Outcome,
    failures: int = 0,
    retry_after: float | None = None,
    max_age: float | None = None,
    interval: timedelta = timedelta(minutes=10),
    settings: FetchSettings = EXACT,
    rng: random.Random | None = None,
) -> tuple[float, int]:
    moment, count = next_poll(
        NOW,
        interval=interval,
        outcome=outcome,
        failures=failures,
        retry_after=retry_after,
        max_age=max_age,
        settings=settings,
        rng=rng or random.Random(7),
    )
    return (moment - NOW).total_seconds(), count


@pytest.mark.parametrize(
    ("outcome", "failures", "retry_after", "max_age", "expected"),
    [
        pytest.param("ok", 3, None, None, (10 * MINUTE, 0), id="ok-resets-failures"),
        pytest.param("not_modified", 5, None, None, (10 * MINUTE, 0), id="304-resets-failures"),
        pytest.param("ok", 0, None, 30 * MINUTE, (30 * MINUTE, 0), id="max-age-longer"),
        pytest.param("ok", 0, None, 5 * MINUTE, (10 * MINUTE, 0), id="max-age-shorter-ignored"),
        pytest.param("ok", 0, None, 10 * 3600, (40 * MINUTE, 0), id="max-age-capped-4x"),
        pytest.param("error", 0, None, None, (10 * MINUTE, 1), id="first-error"),
        pytest.param("error", 1, None, None, (20 * MINUTE, 2), id="second-error"),
        pytest.param("error", 3, None, None, (80 * MINUTE, 4), id="fourth-error"),
        pytest.param("error", 10, None, None, (6 * 3600, 11), id="backoff-capped"),
        pytest.param("error", 10_000, None, None, (6 * 3600, 10_001), id="huge-count"),
        pytest.param("error", 0, 3600, None, (3600, 1), id="retry-after-honoured"),
        pytest.param("error", 0, 60, None, (10 * MINUTE, 1), id="short-retry-after"),
        pytest.param("error", 0, 10**9, None, (6 * 3600, 1), id="retry-after-capped"),
        pytest.param("error", 0, None, 30 * MINUTE, (10 * MINUTE, 1), id="max-age-not-for-errors"),
        pytest.param("ok", 0, 7200, None, (7200, 0), id="retry-after-on-success"),
    ],
)
def test_next_poll(
    outcome: Outcome,
    failures: int,
    retry_after: float | None,
    max_age: float | None,
    expected: tuple[float, int],
) -> None:
    assert delay_of(outcome, failures, retry_after, max_age) == expected


def test_never_sooner_than_min_interval() -> None:
    assert delay_of("ok", interval=timedelta(seconds=5)) == (MINUTE, 0)


def test_jitter_spreads_feeds_within_its_fraction() -> None:
    settings = EXACT.model_copy(update={"jitter": 0.2})
    rng = random.Random(1)
    delays = {delay_of("ok", settings=settings, rng=rng)[0] for _ in range(50)}
    assert len(delays) > 40
    assert all(480 <= delay <= 720 for delay in delays)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_poll(
            NOW.replace(tzinfo=None),
            interval=timedelta(minutes=10),
            outcome="ok",
            failures=0,
            retry_after=None,
            max_age=None,
            settings=EXACT,
            rng=random.Random(),
        )


optional_seconds = st.one_of(st.none(), st.floats(0, 10**8, allow_nan=False))


@given(
    outcome=st.sampled_from(["ok", "not_modified", "error"]),
    failures=st.integers(0, 10_000),
    retry_after=optional_seconds,
    max_age=optional_seconds,
    interval=st.integers(1, 7 * 86400),
    jitter=st.floats(0, 0.5),
    seed=st.integers(),
)
def test_next_poll_bounds(
    outcome: Outcome,
    failures: int,
    retry_after: float | None,
    max_age: float | None,
    interval: int,
    jitter: float,
    seed: int,
) -> None:
    settings = EXACT.model_copy(update={"jitter": jitter})
    delay, count = delay_of(
        outcome,
        failures,
        retry_after,
        max_age,
        timedelta(seconds=interval),
        settings,
        random.Random(seed),
    )
    assert delay >= MINUTE
    if retry_after is not None:
        assert delay >= min(retry_after, max(6 * 3600, 4 * interval)) - 1e-6
    if max_age is not None and outcome != "error":
        assert delay >= min(max_age, 4 * interval) - 1e-6
    assert delay <= max(6 * 3600, 4 * interval, MINUTE) * (1 + jitter) + 1e-6
    assert count == (failures + 1 if outcome == "error" else 0)


def feed(name: str, next_poll_at: datetime | None) -> FeedState:
    return FeedState(url=f"https://{name}.example/rss", name=name, next_poll_at=next_poll_at)


def test_due_feeds_never_polled_first_then_most_overdue() -> None:
    feeds = [
        feed("later", NOW + timedelta(seconds=1)),
        feed("now", NOW),
        feed("overdue", NOW - timedelta(hours=1)),
        feed("new", None),
    ]
    assert [state.name for state in due(feeds, NOW)] == ["new", "overdue", "now"]


def test_nothing_due() -> None:
    assert due([feed("later", NOW + timedelta(minutes=1))], NOW) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("120", 120.0, id="seconds"),
        pytest.param("Sun, 01 Mar 2026 12:05:00 GMT", 300.0, id="http-date"),
        pytest.param("Sun, 01 Mar 2026 11:00:00 GMT", 0.0, id="date-in-the-past"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("-5", None, id="negative"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("max-age=600", 600.0, id="plain"),
        pytest.param("public, s-maxage=10, max-age=60", 60.0, id="among-others"),
        pytest.param('max-age="30"', 30.0, id="quoted"),
        pytest.param("no-cache, max-age=600", None, id="no-cache"),
        pytest.param("private", None, id="absent"),
        pytest.param(None, None, id="no-header"),
    ],
)
def test_parse_max_age(value: str | None, expected: float | None) -> None:
    assert parse_max_age(value) == expected
