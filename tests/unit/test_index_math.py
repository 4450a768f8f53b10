"""The index's arithmetic: weights, decay, the running sum and the baseline, from plain values."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tensiond.config.schema import IndexSettings
from tensiond.index.baseline import compute_baseline, resample, robust_stats, sample_times
from tensiond.index.decay import advance, contributions, decay_factor, keys_of, weight
from tensiond.index.records import IndexKey, IndexPoint, Observation

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SETTINGS = IndexSettings()


def seen(label: str = "armed_conflict", tension: int = 80, modality: str = "actual",
         actors: tuple[str, ...] = ("CN", "TW"), at: datetime = NOW) -> Observation:  # fmt: skip
    dyads = ("-".join(sorted(actors[:2])),) if len(actors) > 1 else ()
    return Observation(at, actors, dyads, label, tension, modality)


@pytest.mark.parametrize(
    ("observation", "expected"),
    [
        (seen("armed_conflict", 80), 0.8),
        (seen("weapons_test", 100), 1.0),
        (seen("threat", 60, "threatened"), 0.6),
        (seen("other", 90), 0.0),
        (seen("cooperation", 10), -0.5),
        (seen("cooperation", 90), -0.5),
        (seen("armed_conflict", 80, "historical"), 0.0),
        (seen("weapons_test", 80, "hypothetical"), 0.0),
        (seen("armed_conflict", 80, "negated"), 0.0),
        (seen("cooperation", 10, "negated"), 0.0),
    ],
    ids=[
        "tension-over-100", "full-tension", "threatened-counts", "other-weighs-nothing",
        "cooperation-pulls-down", "cooperation-whatever-its-tension", "historical-ignored",
        "hypothetical-ignored", "negated-ignored", "failed-talks-do-not-ease",
    ],
)  # fmt: skip
def test_what_one_story_weighs(observation: Observation, expected: float) -> None:
    assert weight(observation, SETTINGS) == pytest.approx(expected)


def test_modality_and_cooperation_weights_come_from_the_config() -> None:
    settings = IndexSettings(modality_weights={"historical": 0.5}, cooperation_weight=1.0)
    assert weight(seen("armed_conflict", 80, "historical"), settings) == pytest.approx(0.4)
    assert weight(seen("armed_conflict", 80, "actual"), settings) == pytest.approx(0.8)
    assert weight(seen("cooperation", 10), settings) == pytest.approx(-1.0)


def test_a_story_counts_for_its_dyads_and_its_countries_not_organisations() -> None:
    story = Observation(NOW, ("IL", "HAMAS", "PS"), ("HAMAS-IL", "IL-PS", "HAMAS-PS"),
                        "armed_conflict", 90, "actual")  # fmt: skip
    assert keys_of(story) == [
        IndexKey("dyad", "HAMAS-IL"), IndexKey("dyad", "IL-PS"), IndexKey("dyad", "HAMAS-PS"),
        IndexKey("country", "IL"), IndexKey("country", "PS"),
    ]  # fmt: skip


def test_contributions_skip_weightless_stories_and_date_future_ones_now() -> None:
    later = NOW + timedelta(hours=3)
    found = contributions(
        [seen(at=later), seen("other"), seen("armed_conflict", 50, actors=("KP",))],
        SETTINGS,
        NOW,
    )
    assert found == {
        IndexKey("dyad", "CN-TW"): [(NOW, 0.8)],
        IndexKey("country", "CN"): [(NOW, 0.8)],
        IndexKey("country", "TW"): [(NOW, 0.8)],
        IndexKey("country", "KP"): [(NOW, 0.5)],
    }


@pytest.mark.parametrize(
    ("elapsed", "factor"),
    [(timedelta(0), 1.0), (DAY, 0.5), (2 * DAY, 0.25), (DAY / 2, 2**-0.5), (-DAY, 1.0)],
    ids=["none", "one-half-life", "two-half-lives", "half-a-half-life", "negative"],
)
def test_weight_halves_every_half_life(elapsed: timedelta, factor: float) -> None:
    assert decay_factor(elapsed, DAY) == pytest.approx(factor)


def test_advance_decays_the_old_value_and_each_new_story_from_its_own_time() -> None:
    value = advance(2.0, NOW - DAY, [(NOW - DAY, 1.0), (NOW, 0.5)], NOW, DAY)
    assert value == pytest.approx(2.0 * 0.5 + 1.0 * 0.5 + 0.5)


def test_cooperation_pulls_the_index_down_but_never_below_zero() -> None:
    assert advance(2.0, NOW, [(NOW, -0.5)], NOW, DAY) == pytest.approx(1.5)
    assert advance(0.2, NOW, [(NOW, -0.5), (NOW, -0.5)], NOW, DAY) == 0.0


amounts = st.lists(st.tuples(st.integers(0, 10_000), st.floats(0, 1, allow_nan=False)), max_size=20)


@given(amounts, st.integers(1, 10_000))
def test_updating_in_two_steps_equals_one_step(stories: list[tuple[int, float]], cut: int) -> None:
    """The running value is the decayed sum whatever the batching (for non-negative weights)."""
    start = NOW - timedelta(minutes=10_000)
    dated = sorted((start + timedelta(minutes=minute), amount) for minute, amount in stories)
    middle = start + timedelta(minutes=cut)
    first = [(at, amount) for at, amount in dated if at <= middle]
    second = [(at, amount) for at, amount in dated if at > middle]
    stepwise = advance(advance(0.0, start, first, middle, DAY), middle, second, NOW, DAY)
    assert stepwise == pytest.approx(advance(0.0, start, dated, NOW, DAY), abs=1e-9)


@given(st.floats(0, 100, allow_nan=False), st.integers(0, 100_000))
def test_without_news_the_index_only_falls(value: float, minutes: int) -> None:
    later = advance(value, NOW, [], NOW + timedelta(minutes=minutes), DAY)
    assert 0 <= later <= value


def test_sample_times_are_the_whole_hours_after_start_up_to_end() -> None:
    times = sample_times(NOW + timedelta(minutes=10), NOW + timedelta(hours=3))
    assert times == [NOW + timedelta(hours=hour) for hour in (1, 2, 3)]


def test_the_hourly_series_is_rebuilt_exactly_from_stored_points() -> None:
    points = [IndexPoint("dyad", "CN-TW", NOW, 4.0), IndexPoint("dyad", "CN-TW", NOW + DAY, 1.0)]
    times = [NOW - timedelta(hours=1), NOW, NOW + DAY / 2, NOW + DAY, NOW + 2 * DAY]
    assert resample(points, times, DAY) == pytest.approx([0.0, 4.0, 4.0 * 2**-0.5, 1.0, 0.5])


@pytest.mark.parametrize(
    ("values", "median", "spread"),
    [
        ([], 0.0, 0.0),
        ([2.0] * 50, 2.0, 0.0),
        ([1.0] * 45 + [3.0] * 10 + [5.0] * 45, 3.0, 2 * 1.4826),
        ([0.0] * 85 + [1.0] * 15, 0.0, 1.0 / 1.2816),
    ],
    ids=["none", "constant", "mad", "upper-tail"],
)
def test_robust_stats(values: list[float], median: float, spread: float) -> None:
    assert robust_stats(values) == pytest.approx((median, spread))


def test_one_burst_barely_moves_the_baseline() -> None:
    quiet = [1.0 + 0.2 * math.sin(hour) for hour in range(672)]
    burst = quiet[:-24] + [9.0] * 24
    assert robust_stats(burst)[0] == pytest.approx(robust_stats(quiet)[0], abs=0.05)
    assert robust_stats(burst)[1] == pytest.approx(robust_stats(quiet)[1], abs=0.05)


def test_the_baseline_covers_only_the_window_since_the_key_was_first_seen() -> None:
    first = NOW - 3 * DAY
    points = [IndexPoint("country", "KP", first, 2.0)]
    baseline = compute_baseline(points, first, NOW, 28 * DAY, DAY)
    assert baseline.samples == 72
    assert baseline.computed_at == NOW
    expected = sorted(2.0 * 0.5 ** (hour / 24) for hour in range(1, 73))
    assert baseline.median == pytest.approx((expected[35] + expected[36]) / 2)
