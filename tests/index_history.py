"""Synthetic histories for the tension index: weeks of low-level noise, and injected spikes.

Seeded, so every run sees the same stories. A "poll" is one batch of observations at one
moment, as the pipeline would hand them to ``update_index``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tensiond.index.baseline import floor_hour
from tensiond.index.records import IndexKey, IndexPoint, KeyState, Observation, Signal
from tensiond.index.update import Change

POLL = timedelta(minutes=30)

# (label, low tension, high tension, share): everyday reporting about a watched pair.
NOISE = (
    ("diplomatic_dispute", 30, 50, 0.30),
    ("military_posture", 40, 60, 0.15),
    ("coercion", 40, 60, 0.08),
    ("threat", 45, 65, 0.05),
    ("cooperation", 5, 10, 0.17),
    ("other", 0, 5, 0.25),
)
MODALITY_MIX = (("actual", 0.75), ("threatened", 0.05), ("historical", 0.1), ("hypothetical", 0.1))


def story(
    at: datetime, label: str, tension: int, actors: tuple[str, str], modality: str = "actual"
) -> Observation:
    dyad = "-".join(sorted(actors))
    return Observation(at, actors, (dyad,), label, tension, modality)


def noise_poll(
    rng: random.Random,
    at: datetime,
    actors: tuple[str, str],
    per_day: float,
    interval: timedelta = POLL,
) -> list[Observation]:
    """The stories one poll finds: Poisson-many, published within the last poll interval."""
    count, expected = 0, per_day * (interval / timedelta(days=1))
    threshold, product = pow(2.718281828459045, -expected), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    stories = []
    for _ in range(count):
        label, low, high, _share = rng.choices(NOISE, weights=[n[3] for n in NOISE])[0]
        modality = rng.choices([m for m, _ in MODALITY_MIX], [w for _, w in MODALITY_MIX])[0]
        published = at - interval * rng.random()
        stories.append(story(published, label, rng.randint(low, high), actors, modality))
    return stories


def spike_poll(at: datetime, actors: tuple[str, str], count: int = 8) -> list[Observation]:
    """A sudden crisis: ``count`` tense, actual stories in one poll."""
    labels = ("weapons_test", "armed_conflict", "military_posture", "threat")
    return [story(at - POLL / 2, labels[n % 4], 85, actors) for n in range(count)]


def polls(start: datetime, days: float, interval: timedelta = POLL) -> Iterator[datetime]:
    moment = start
    while moment < start + timedelta(days=days):
        yield moment
        moment += interval


@dataclass
class MemoryIndexStore:
    """The index's storage as plain dicts (a fake of IndexStore, same contract)."""

    rows: dict[IndexKey, KeyState] = field(default_factory=dict)
    points: dict[IndexKey, dict[datetime, IndexPoint]] = field(default_factory=dict)

    def states(self, keys: Iterable[IndexKey]) -> dict[IndexKey, KeyState]:
        return {key: self.rows[key] for key in keys if key in self.rows}

    def spiking_keys(self) -> list[IndexKey]:
        return [key for key, state in self.rows.items() if state.spiking]

    def series(self, key: IndexKey, start: datetime, end: datetime) -> list[IndexPoint]:
        points = sorted(self.points.get(key, {}).values(), key=lambda point: point.at)
        before = [point for point in points if point.at <= start][-1:]
        return before + [point for point in points if start < point.at <= end]

    def modify(self, keys: Sequence[IndexKey], now: datetime, change: Change) -> list[Signal]:
        locked = {key: self.rows.get(key) or KeyState(key.scope, key.key, 0.0, now, now)
                  for key in keys}  # fmt: skip
        states, signals = change(locked)
        for state in states:
            self.rows[state.index_key] = state
            hourly = self.points.setdefault(state.index_key, {})
            hourly[floor_hour(now)] = IndexPoint(state.scope, state.key, now, state.value)
        return signals
