"""The index's one public step: fold a batch of observations in, return spike and easing signals.

The pipeline calls :func:`update_index` after each classification batch (an empty batch is fine:
it lets a quiet spiking key be seen easing). The work is O(batch): the keys the batch touches and
the keys currently spiking. Each key's baseline is cached and recomputed at most hourly from the
stored series. All decisions are pure (:func:`step`); this module only orders the storage calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from tensiond.config.schema import IndexSettings
from tensiond.index.baseline import compute_baseline, is_stale
from tensiond.index.decay import Contribution, advance, contributions
from tensiond.index.detect import RegionOf, detect, thresholds_for
from tensiond.index.records import Baseline, IndexKey, IndexPoint, KeyState, Observation, Signal

Change = Callable[[Mapping[IndexKey, KeyState]], tuple[list[KeyState], list[Signal]]]


class IndexStorage(Protocol):
    """What the index needs from storage (:class:`tensiond.storage.index_store.IndexStore`)."""

    def states(self, keys: Iterable[IndexKey]) -> dict[IndexKey, KeyState]: ...

    def spiking_keys(self) -> list[IndexKey]: ...

    def series(self, key: IndexKey, start: datetime, end: datetime) -> list[IndexPoint]: ...

    def modify(self, keys: Sequence[IndexKey], now: datetime, change: Change) -> list[Signal]: ...


def step(
    states: Mapping[IndexKey, KeyState],
    added: Mapping[IndexKey, Sequence[Contribution]],
    baselines: Mapping[IndexKey, Baseline],
    settings: IndexSettings,
    now: datetime,
    region_of: RegionOf,
) -> tuple[list[KeyState], list[Signal]]:
    """Advance every key in ``added`` or spiking to ``now`` and decide its signal (pure).

    ``baselines`` replace the cached ones where given (fresh ones, computed by the caller).
    """
    keys = sorted(set(added) | {key for key, state in states.items() if state.spiking})
    changed: list[KeyState] = []
    signals: list[Signal] = []
    for key in keys:
        state = states.get(key) or KeyState(key.scope, key.key, 0.0, now, now)
        value = advance(state.value, state.updated_at, added.get(key, ()), now, settings.half_life)
        state = replace(state, value=value, updated_at=max(now, state.updated_at))
        if key in baselines:
            state = replace(state, baseline=baselines[key])
        state, signal = detect(state, thresholds_for(key, settings, region_of), settings, now)
        changed.append(state)
        if signal is not None:
            signals.append(signal)
    return changed, signals


def fresh_baselines(
    store: IndexStorage,
    states: Mapping[IndexKey, KeyState],
    keys: Iterable[IndexKey],
    settings: IndexSettings,
    now: datetime,
) -> dict[IndexKey, Baseline]:
    """Recompute the baselines that are missing or older than an hour (reads the series)."""
    fresh = {}
    for key in keys:
        state = states.get(key)
        if state is None:
            continue  # a new key: nothing stored, its first baseline comes on its next update
        if is_stale(state.baseline, now):
            points = store.series(key, now - settings.baseline_window, now)
            fresh[key] = compute_baseline(
                points, state.first_at, now, settings.baseline_window, settings.half_life
            )
    return fresh


def update_index(
    store: IndexStorage,
    observations: Sequence[Observation],
    settings: IndexSettings,
    now: datetime,
    *,
    region_of: RegionOf,
) -> list[Signal]:
    """Fold ``observations`` into the index at ``now``; return the spikes and easings it caused.

    ``region_of`` maps an actor code to its region (``Gazetteer.region``) for per-region
    thresholds. Two replicas may call this at once: the key rows are locked while they change.
    """
    if not settings.enabled:
        return []
    added = contributions(observations, settings, now)
    keys = sorted(set(added) | set(store.spiking_keys()))
    if not keys:
        return []
    cached = store.states(keys)
    baselines = fresh_baselines(store, cached, keys, settings, now)

    def change(locked: Mapping[IndexKey, KeyState]) -> tuple[list[KeyState], list[Signal]]:
        return step(locked, added, baselines, settings, now, region_of)

    return store.modify(keys, now, change)
