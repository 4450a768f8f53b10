"""A key's normal: the median and robust spread of its hourly index over the last weeks.

The stored series holds the index right after updates (at most one point per key and hour);
between two points the index only decays, so the hourly series is rebuilt exactly from them.
Median and spread are robust: one burst in a four-week window barely moves them.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from tensiond.index.decay import decayed
from tensiond.index.records import Baseline, IndexPoint

HOUR = timedelta(hours=1)
MAD_TO_SIGMA = 1.4826
P90_TO_SIGMA = 1.2816  # the 90th percentile of a normal distribution, in sigmas
REFRESH = HOUR  # a cached baseline is recomputed at most this often


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def sample_times(start: datetime, end: datetime, step: timedelta = HOUR) -> list[datetime]:
    """Whole hours (or steps from the hour) in (start, end]."""
    moment = floor_hour(start)
    if moment <= start:
        moment += step
    times = []
    while moment <= end:
        times.append(moment)
        moment += step
    return times


def resample(
    points: Sequence[IndexPoint], times: Sequence[datetime], half_life: timedelta
) -> list[float]:
    """The index at each of ``times`` (ascending), from ``points`` sorted by time."""
    values = []
    position = -1
    for moment in times:
        while position + 1 < len(points) and points[position + 1].at <= moment:
            position += 1
        if position < 0:
            values.append(0.0)
        else:
            point = points[position]
            values.append(decayed(point.value, point.at, moment, half_life))
    return values


def robust_stats(values: Sequence[float]) -> tuple[float, float]:
    """(median, spread) of ``values``; (0, 0) for none.

    The spread is the larger of 1.4826 x the median absolute deviation and (90th percentile -
    median) / 1.2816: both equal the standard deviation on normal data, and the second follows
    the upper tail that bursts of news fatten, so everyday bursts do not read as spikes.
    """
    if not values:
        return 0.0, 0.0
    ordered = sorted(values)
    median = statistics.median(ordered)
    deviation = MAD_TO_SIGMA * statistics.median(abs(value - median) for value in ordered)
    upper = (ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] - median) / P90_TO_SIGMA
    return float(median), float(max(deviation, upper))


def compute_baseline(
    points: Sequence[IndexPoint],
    first_at: datetime,
    now: datetime,
    window: timedelta,
    half_life: timedelta,
) -> Baseline:
    """The baseline at ``now`` from the hours of the window since the key was first seen."""
    times = sample_times(max(now - window, first_at), now)
    median, spread = robust_stats(resample(points, times, half_life))
    return Baseline(median=median, spread=spread, samples=len(times), computed_at=now)


def is_stale(baseline: Baseline | None, now: datetime) -> bool:
    return baseline is None or now - baseline.computed_at >= REFRESH
