"""The index over synthetic histories: weeks of low-level noise, then an injected crisis.

Each poll is one ``update_index`` call, as the pipeline makes after a classification batch.
The noise is seeded; the storage is the in-memory fake of the IndexStore contract.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tensiond.config.schema import IndexSettings
from tensiond.index import IndexKey, Signal, update_index
from tensiond.index.decay import decay_factor
from tests.index_history import POLL, MemoryIndexStore, noise_poll, polls, spike_poll, story

START = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
PAIR = ("CN", "TW")
DYAD = IndexKey("dyad", "CN-TW")
REGIONS = {"CN": "east_asia", "TW": "east_asia", "KP": "east_asia", "KR": "east_asia"}.get

COLD_START = IndexSettings(cold_start_level=6.0)  # spikes before a week of history


def simulate(
    store: MemoryIndexStore,
    settings: IndexSettings,
    *,
    days: float,
    per_day: float,
    seed: int,
    spike_at: datetime | None = None,
    start: datetime = START,
) -> list[Signal]:
    rng = random.Random(seed)
    signals = []
    for at in polls(start, days):
        batch = noise_poll(rng, at, PAIR, per_day)
        if at == spike_at:
            batch += spike_poll(at, PAIR)
        signals += update_index(store, batch, settings, at, region_of=REGIONS)
    return signals


@pytest.mark.parametrize("per_day", [1, 3, 8, 20], ids=lambda n: f"{n}-stories-a-day")
@pytest.mark.parametrize("seed", [1, 2])
def test_weeks_of_low_level_news_never_spike(per_day: int, seed: int) -> None:
    store = MemoryIndexStore()
    signals = simulate(store, IndexSettings(), days=42, per_day=per_day, seed=seed)
    assert signals == []
    baseline = store.rows[DYAD].baseline  # the pair was watched, not silent
    assert baseline is not None and baseline.samples == 672 and baseline.median > 0


@pytest.mark.parametrize("per_day", [1, 3, 8], ids=lambda n: f"{n}-stories-a-day")
def test_an_injected_crisis_spikes_in_the_same_poll_and_eases_when_it_falls_back(
    per_day: int,
) -> None:
    store = MemoryIndexStore()
    crisis = START + 35 * DAY
    signals = simulate(store, IndexSettings(), days=42, per_day=per_day, seed=7, spike_at=crisis)
    dyad = [signal for signal in signals if signal.key == "CN-TW"]
    assert [signal.kind for signal in dyad] == ["spike", "easing"]
    spike, easing = dyad
    assert spike.at == crisis and spike.scope == "dyad" and not spike.cold_start
    assert spike.z >= 5 and spike.value >= spike.baseline + 5 * spike.spread
    assert spike.value - spike.baseline > 8 * 0.85 * 0.9  # the eight tense stories, nearly all
    assert crisis + DAY < easing.at < crisis + 6 * DAY
    assert easing.since == crisis and easing.peak >= spike.value
    assert easing.z <= 1.0
    countries = sorted((s.key, s.kind) for s in signals if s.scope == "country")
    assert countries == [("CN", "easing"), ("CN", "spike"), ("TW", "easing"), ("TW", "spike")]


def test_a_busy_pair_shrugs_off_a_burst_that_would_spike_a_quiet_one() -> None:
    store = MemoryIndexStore()
    signals = simulate(store, IndexSettings(), days=36, per_day=30, seed=3,
                       spike_at=START + 35 * DAY)  # fmt: skip
    assert signals == []


def test_cold_start_a_new_pair_does_not_spike_on_its_first_stories() -> None:
    store = MemoryIndexStore()
    first = [story(START, "weapons_test", 100, ("KP", "KR"))]
    assert update_index(store, first, IndexSettings(), START, region_of=REGIONS) == []
    assert store.rows[IndexKey("dyad", "KP-KR")].value == pytest.approx(1.0)
    three = [story(START, "armed_conflict", 90, ("KP", "KR"))] * 3
    later = START + POLL
    assert update_index(store, three, IndexSettings(), later, region_of=REGIONS) == []


def test_cold_start_a_new_pair_spikes_only_when_asked_and_the_level_is_high() -> None:
    store = MemoryIndexStore()
    quiet = [story(START, "armed_conflict", 90, ("KP", "KR"))] * 20
    assert update_index(MemoryIndexStore(), quiet, IndexSettings(), START, region_of=REGIONS) == []
    war = [story(START, "armed_conflict", 90, ("KP", "KR"))] * 7  # 6.3 >= cold_start_level 6
    signals = update_index(store, war, COLD_START, START, region_of=REGIONS)
    assert {(s.key, s.kind, s.cold_start) for s in signals} == {
        ("KP-KR", "spike", True), ("KP", "spike", True), ("KR", "spike", True)
    }  # fmt: skip


def test_cooperation_pulls_the_index_down() -> None:
    store = MemoryIndexStore()
    settings = IndexSettings()
    clash = [story(START, "armed_conflict", 80, PAIR)] * 3
    update_index(store, clash, settings, START, region_of=REGIONS)
    talks = [story(START + POLL, "cooperation", 10, PAIR)] * 2
    update_index(store, talks, settings, START + POLL, region_of=REGIONS)
    expected = 2.4 * decay_factor(POLL, settings.half_life) - 2 * 0.5
    assert store.rows[DYAD].value == pytest.approx(expected)


def test_historical_hypothetical_and_negated_stories_do_not_move_it() -> None:
    store = MemoryIndexStore()
    stories = [
        story(START, "armed_conflict", 90, PAIR, "historical"),
        story(START, "weapons_test", 80, PAIR, "hypothetical"),
        story(START, "armed_conflict", 70, PAIR, "negated"),
        story(START, "other", 5, PAIR),
    ]
    assert update_index(store, stories * 5, IndexSettings(), START, region_of=REGIONS) == []
    assert store.rows == {}


def test_a_spiking_key_is_seen_easing_even_when_no_story_names_it() -> None:
    store = MemoryIndexStore()
    settings = COLD_START
    war = [story(START, "armed_conflict", 90, ("KP", "KR"))] * 8
    update_index(store, war, settings, START, region_of=REGIONS)
    eased: list[Signal] = []
    for at in polls(START + POLL, 6):
        eased += update_index(store, [], settings, at, region_of=REGIONS)
    assert sorted(signal.key for signal in eased) == ["KP", "KP-KR", "KR"]
    assert {signal.kind for signal in eased} == {"easing"}


def test_a_region_threshold_reaches_its_dyads_through_update_index() -> None:
    quiet, sensitive = MemoryIndexStore(), MemoryIndexStore()
    crisis = START + 35 * DAY
    tuned = IndexSettings.model_validate({"regions": {"east_asia": {"spike_z": 50}}})
    assert simulate(quiet, tuned, days=36, per_day=3, seed=7, spike_at=crisis) == []
    assert simulate(sensitive, IndexSettings(), days=36, per_day=3, seed=7, spike_at=crisis)


def test_disabled_index_does_nothing() -> None:
    store = MemoryIndexStore()
    war = [story(START, "armed_conflict", 90, PAIR)] * 10
    assert update_index(store, war, IndexSettings(enabled=False), START, region_of=REGIONS) == []
    assert store.rows == {}


def test_the_series_keeps_at_most_one_point_per_key_and_hour() -> None:
    store = MemoryIndexStore()
    for minute in range(0, 120, 10):
        at = START + timedelta(minutes=minute)
        update_index(store, [story(at, "threat", 60, PAIR)], IndexSettings(), at,
                     region_of=REGIONS)  # fmt: skip
    points = store.points[DYAD]
    assert sorted(points) == [START, START + timedelta(hours=1)]
    assert points[START].at == START + timedelta(minutes=50)
