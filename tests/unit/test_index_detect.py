"""Spike and easing decisions, and whose thresholds apply, from plain states."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tensiond.config.schema import IndexSettings
from tensiond.index.detect import Thresholds, detect, thresholds_for
from tensiond.index.records import Baseline, IndexKey, KeyState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SETTINGS = IndexSettings(cold_start_level=6.0)
DEFAULT = Thresholds(spike_z=5.0, easing_z=1.0, min_level=1.5)
REGIONS = {"KP": "east_asia", "KR": "east_asia", "CN": "east_asia", "TW": "east_asia",
           "RU": "russia", "UA": "eastern_europe", "US": "north_america"}  # fmt: skip


def settings(**data: object) -> IndexSettings:
    return IndexSettings.model_validate(data)


def state(value: float, *, age: timedelta = 30 * DAY, median: float = 1.0, spread: float = 0.5,
          samples: int = 672, **changes: object) -> KeyState:  # fmt: skip
    baseline = Baseline(median, spread, samples, NOW - timedelta(minutes=5))
    base = KeyState("dyad", "CN-TW", value, NOW, NOW - age, baseline)
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "fires"),
    [(3.4, False), (3.5, True), (9.0, True)],
    ids=["just-below-5-spreads", "at-5-spreads", "far-above"],
)
def test_a_warm_key_spikes_at_spike_z_spreads_above_its_median(value: float, fires: bool) -> None:
    after, signal = detect(state(value), DEFAULT, SETTINGS, NOW)
    assert (signal is not None) == fires
    assert after.spiking == fires
    if signal:
        assert (signal.kind, signal.scope, signal.key) == ("spike", "dyad", "CN-TW")
        assert (signal.baseline, signal.spread) == (1.0, 0.5)
        assert signal.z == pytest.approx((value - 1.0) / 0.5)
        assert (signal.threshold, signal.at, signal.cold_start) == (5.0, NOW, False)


def test_a_quiet_key_needs_min_level_whatever_its_z() -> None:
    quiet = state(1.4, median=0.0, spread=0.0)  # z = 1.4 / min_spread 0.25 = 5.6, level < 1.5
    assert detect(quiet, DEFAULT, SETTINGS, NOW)[1] is None
    after, signal = detect(replace(quiet, value=1.5), DEFAULT, SETTINGS, NOW)
    assert after.spiking
    assert signal is not None and signal.spread == 0.25 and signal.z == pytest.approx(6.0)


def test_cold_start_the_first_story_never_spikes() -> None:
    first = KeyState("dyad", "CN-TW", 1.0, NOW, NOW)  # one story of tension 100, no baseline
    assert detect(first, DEFAULT, SETTINGS, NOW) == (first, None)


@pytest.mark.parametrize(
    ("value", "age", "fires"),
    [
        (5.9, timedelta(hours=2), False),
        (6.0, timedelta(hours=2), True),
        (6.0, 3 * DAY, False),
        (12.0, 3 * DAY, True),
    ],
    ids=["below-level", "at-level-first-hours", "level-but-low-z", "level-and-high-z"],
)
def test_cold_start_needs_the_absolute_level(value: float, age: timedelta, fires: bool) -> None:
    young = state(value, age=age, median=3.0, spread=1.0, samples=int(age / timedelta(hours=1)))
    after, signal = detect(young, DEFAULT, SETTINGS, NOW)
    assert (signal is not None) == fires == after.spiking
    if signal:
        assert signal.cold_start and signal.threshold == 6.0


def test_a_spiking_key_does_not_spike_again_and_remembers_its_peak() -> None:
    spiking, _ = detect(state(6.0), DEFAULT, SETTINGS, NOW)
    higher, signal = detect(replace(spiking, value=9.0), DEFAULT, SETTINGS, NOW + DAY)
    assert signal is None and higher.spiking and higher.peak == 9.0
    assert higher.spike_at == NOW


def test_easing_when_back_within_easing_z_of_the_median_frozen_at_the_spike() -> None:
    spiking, _ = detect(state(6.0), DEFAULT, SETTINGS, NOW)
    # the baseline the spike itself lifted does not hide the fall
    lifted = Baseline(1.0, 2.0, 672, NOW + DAY)
    still, signal = detect(replace(spiking, value=1.6, baseline=lifted), DEFAULT, SETTINGS, NOW)
    assert signal is None and still.spiking
    later = NOW + 3 * DAY
    eased, signal = detect(replace(still, value=1.5, baseline=lifted), DEFAULT, SETTINGS, later)
    assert signal is not None and signal.kind == "easing"
    assert (signal.baseline, signal.spread) == (1.0, 0.5) and signal.z == pytest.approx(1.0)
    assert (signal.since, signal.peak, signal.at) == (NOW, 6.0, later)
    assert not eased.spiking and eased.spike_at is None


def test_a_lasting_new_normal_ends_the_spike_once_the_median_catches_up() -> None:
    spiking, _ = detect(state(6.0), DEFAULT, SETTINGS, NOW)
    new_normal = Baseline(5.0, 0.5, 672, NOW + 20 * DAY)
    _, signal = detect(replace(spiking, value=5.4, baseline=new_normal), DEFAULT, SETTINGS, NOW)
    assert signal is not None and signal.kind == "easing" and signal.baseline == 5.0


def test_after_easing_the_key_can_spike_again() -> None:
    spiking, _ = detect(state(6.0), DEFAULT, SETTINGS, NOW)
    eased, _ = detect(replace(spiking, value=1.0), DEFAULT, SETTINGS, NOW + DAY)
    again, signal = detect(replace(eased, value=7.0), DEFAULT, SETTINGS, NOW + 2 * DAY)
    assert signal is not None and signal.kind == "spike" and again.spike_at == NOW + 2 * DAY


OVERRIDES = settings(
    dyads={"kr-kp": {"spike_z": 3}, "CN-TW": {"min_level": 0.5}},
    countries={"US": {"spike_z": 4.5}},
    regions={"east_asia": {"spike_z": 4, "easing_z": 0.5}, "russia": {"spike_z": 3.5}},
)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (IndexKey("dyad", "KP-KR"), Thresholds(3.0, 1.0, 1.5)),
        (IndexKey("dyad", "CN-TW"), Thresholds(5.0, 1.0, 0.5)),
        (IndexKey("dyad", "CN-KP"), Thresholds(4.0, 0.5, 1.5)),
        (IndexKey("dyad", "RU-UA"), Thresholds(3.5, 1.0, 1.5)),
        (IndexKey("dyad", "CN-US"), Thresholds(4.5, 1.0, 1.5)),
        (IndexKey("country", "KP"), Thresholds(4.0, 0.5, 1.5)),
        (IndexKey("country", "US"), Thresholds(4.5, 1.0, 1.5)),
        (IndexKey("country", "UA"), DEFAULT),
        (IndexKey("dyad", "HAMAS-IL"), DEFAULT),
    ],
    ids=[
        "own-dyad-override", "own-override-keeps-other-defaults", "region-of-both",
        "most-sensitive-region", "country-before-region", "country-region", "country-override",
        "no-override", "organisation-without-region",
    ],
)  # fmt: skip
def test_whose_thresholds_apply(key: IndexKey, expected: Thresholds) -> None:
    assert thresholds_for(key, OVERRIDES, REGIONS.get) == expected


def test_a_per_dyad_threshold_changes_what_spikes() -> None:
    value = state(2.6)  # z = 3.2: a spike for KP-KR (spike_z 3), not for the default 5
    korea = replace(value, key="KP-KR")
    assert detect(korea, thresholds_for(korea.index_key, OVERRIDES, REGIONS.get),
                  OVERRIDES, NOW)[1] is not None  # fmt: skip
    assert detect(value, thresholds_for(value.index_key, OVERRIDES, REGIONS.get),
                  OVERRIDES, NOW)[1] is None  # fmt: skip
