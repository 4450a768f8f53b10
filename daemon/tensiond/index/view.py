"""One key's index as people look at it: the hourly series, the value now, its normal and z.

Read-only; used by ``tensiond index`` and for the chart attached to a spike alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tensiond.config.schema import IndexSettings
from tensiond.index.baseline import compute_baseline, resample, sample_times
from tensiond.index.chart import render_chart
from tensiond.index.detect import RegionOf, Thresholds, thresholds_for, z_score
from tensiond.index.records import Baseline, IndexKey, KeyState
from tensiond.index.update import IndexStorage


@dataclass(frozen=True)
class IndexView:
    """A key's index over the last ``days``: hourly values ending with the value at ``now``."""

    key: IndexKey
    now: datetime
    days: int
    times: tuple[datetime, ...]
    values: tuple[float, ...]
    baseline: Baseline
    spread: float
    z: float
    thresholds: Thresholds
    state: KeyState | None

    @property
    def value(self) -> float:
        return self.values[-1]

    @property
    def spike_level(self) -> float:
        """The index at which the key spikes now (when it has history enough)."""
        return self.baseline.median + self.thresholds.spike_z * self.spread


def index_view(
    store: IndexStorage,
    key: IndexKey,
    settings: IndexSettings,
    now: datetime,
    *,
    days: int,
    region_of: RegionOf,
) -> IndexView:
    """Read the key's series and compute its baseline at ``now`` (fresh, not the cached one)."""
    state = store.states([key]).get(key)
    span = max(settings.baseline_window, timedelta(days=days))
    points = store.series(key, now - span, now)
    times = sample_times(now - timedelta(days=days), now)
    if not times or times[-1] != now:
        times.append(now)
    values = resample(points, times, settings.half_life)
    if state is None:
        baseline = Baseline(median=0.0, spread=0.0, samples=0, computed_at=now)
    else:
        window = settings.baseline_window
        baseline = compute_baseline(points, state.first_at, now, window, settings.half_life)
    spread = max(baseline.spread, settings.min_spread)
    return IndexView(
        key=key, now=now, days=days, times=tuple(times), values=tuple(values), baseline=baseline,
        spread=spread, z=z_score(values[-1], baseline.median, spread, settings.min_spread),
        thresholds=thresholds_for(key, settings, region_of), state=state,
    )  # fmt: skip


def chart_png(view: IndexView) -> bytes:
    """The view as a 600x200 PNG line chart (see :func:`tensiond.index.chart.render_chart`)."""
    return render_chart(
        view.times,
        view.values,
        title=f"{view.key.key} tension index, {view.days} days",
        median=view.baseline.median,
        spread=view.spread,
        spike_level=view.spike_level,
        note=f"now {view.value:.2f}  z {view.z:+.1f}",
    )


def index_chart(
    store: IndexStorage,
    key: IndexKey,
    settings: IndexSettings,
    now: datetime,
    *,
    region_of: RegionOf,
    days: int | None = None,
) -> bytes:
    """The PNG to attach to a spike or easing alert: the last ``chart_days`` of the key."""
    view = index_view(
        store, key, settings, now, days=days or settings.chart_days, region_of=region_of
    )
    return chart_png(view)
