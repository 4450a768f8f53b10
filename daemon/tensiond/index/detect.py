"""Spike and easing: pure decisions over one key's state, its baseline and its thresholds.

    z = (index - baseline median) / max(baseline spread, min_spread)

A key that is not spiking spikes when z >= spike_z and the index >= min_level. While it is young
(first seen less than ``min_history`` ago) its baseline is not trusted: it spikes only when the
index reaches ``cold_start_level`` and, after its first 12 hours, z >= spike_z as well.
A spiking key eases when its index is back within easing_z spreads of its normal: the baseline
frozen when it spiked, or the current one if that has risen since (a lasting new normal).
Between the two it stays spiking: one spike, then one easing, never a flood of repeats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from tensiond.config.schema import IndexOverride, IndexSettings
from tensiond.index.records import IndexKey, KeyState, Signal

RegionOf = Callable[[str], "str | None"]
COLD_Z_SAMPLES = 12  # hours of history after which a young key's spike must also pass spike_z


@dataclass(frozen=True)
class Thresholds:
    spike_z: float
    easing_z: float
    min_level: float


def _apply(settings: IndexSettings, override: IndexOverride) -> Thresholds:
    return Thresholds(
        spike_z=settings.spike_z if override.spike_z is None else override.spike_z,
        easing_z=settings.easing_z if override.easing_z is None else override.easing_z,
        min_level=settings.min_level if override.min_level is None else override.min_level,
    )


def thresholds_for(key: IndexKey, settings: IndexSettings, region_of: RegionOf) -> Thresholds:
    """The key's thresholds: its own override (``dyads``/``countries``), else the most sensitive
    (lowest spike_z) of its countries' overrides, else of their regions', else the defaults."""
    own = settings.dyads if key.scope == "dyad" else settings.countries
    if key.key in own:
        return _apply(settings, own[key.key])
    codes = key.key.split("-") if key.scope == "dyad" else [key.key]
    candidates = [settings.countries[code] for code in codes if code in settings.countries]
    if not candidates:
        regions = [region_of(code) for code in codes]
        candidates = [settings.regions[name] for name in regions if name in settings.regions]
    if not candidates:
        return _apply(settings, IndexOverride())
    return min((_apply(settings, override) for override in candidates), key=lambda t: t.spike_z)


def z_score(value: float, median: float, spread: float, min_spread: float) -> float:
    return (value - median) / max(spread, min_spread)


def detect(
    state: KeyState, thresholds: Thresholds, settings: IndexSettings, now: datetime
) -> tuple[KeyState, Signal | None]:
    """The key's next state, and the signal it gives at ``now`` (if any)."""
    if state.spiking:
        return _easing(state, thresholds, settings, now)
    return _spike(state, thresholds, settings, now)


def _spike(
    state: KeyState, thresholds: Thresholds, settings: IndexSettings, now: datetime
) -> tuple[KeyState, Signal | None]:
    baseline = state.baseline
    median = baseline.median if baseline else 0.0
    spread = max(baseline.spread if baseline else 0.0, settings.min_spread)
    z = z_score(state.value, median, spread, settings.min_spread)
    cold = baseline is None or state.history(now) < settings.min_history
    if cold:
        formed = baseline is not None and baseline.samples >= COLD_Z_SAMPLES
        level = settings.cold_start_level
        fires = (
            level is not None and state.value >= level and (not formed or z >= thresholds.spike_z)
        )
        threshold = level or 0.0
    else:
        fires = z >= thresholds.spike_z and state.value >= thresholds.min_level
        threshold = thresholds.spike_z
    if not fires:
        return state, None
    spiking = replace(
        state, spiking=True, spike_at=now, peak=state.value,
        reference_median=median, reference_spread=spread,
    )  # fmt: skip
    signal = Signal(
        state.scope, state.key, "spike", now, state.value, median, spread, z, threshold,
        peak=state.value, cold_start=cold,
    )  # fmt: skip
    return spiking, signal


def _easing(
    state: KeyState, thresholds: Thresholds, settings: IndexSettings, now: datetime
) -> tuple[KeyState, Signal | None]:
    median, spread = state.reference_median, state.reference_spread
    if state.baseline is not None:  # a lasting new normal lifts the median, not the spread
        median = max(median, state.baseline.median)
    z = z_score(state.value, median, spread, settings.min_spread)
    peak = max(state.peak, state.value)
    if z > thresholds.easing_z:
        return replace(state, peak=peak), None
    eased = replace(
        state, spiking=False, spike_at=None, peak=0.0, reference_median=0.0, reference_spread=0.0
    )
    spread = max(spread, settings.min_spread)
    signal = Signal(
        state.scope, state.key, "easing", now, state.value, median, spread, z,
        thresholds.easing_z, peak=peak, since=state.spike_at,
    )  # fmt: skip
    return eased, signal
