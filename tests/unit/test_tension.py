"""The tension formula: bounded, monotone in what matters, damped for non-actual stories."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tensiond.classify.cues import intensity, off_topic
from tensiond.classify.tension import tension
from tensiond.config.load import settings_from_mapping
from tensiond.types import LABELS, MODALITIES

SCORING = settings_from_mapping({}, "t", Path(".")).scoring
NONE = intensity("")


def certain(label: str) -> dict[str, float]:
    return {name: float(name == label) for name in LABELS}


ACTUAL = {name: float(name == "actual") for name in MODALITIES}


def distribution(size: int) -> st.SearchStrategy[dict[str, float]]:
    names = LABELS if size == len(LABELS) else MODALITIES
    return st.lists(st.floats(0.001, 1.0), min_size=size, max_size=size).map(
        lambda values: {n: v / sum(values) for n, v in zip(names, values, strict=True)}
    )


@given(distribution(len(LABELS)), distribution(len(MODALITIES)), st.text(max_size=200))
def test_tension_is_always_in_range(labels: dict, modalities: dict, text: str) -> None:
    assert 0 <= tension(labels, modalities, intensity(text), ("KP",), SCORING) <= 100


@pytest.mark.parametrize(
    ("label", "expected"),
    [("armed_conflict", 90), ("weapons_test", 80), ("cooperation", 10), ("other", 0)],
)
def test_a_certain_actual_story_scores_its_severity(label: str, expected: int) -> None:
    assert tension(certain(label), ACTUAL, NONE, (), SCORING) == expected


@pytest.mark.parametrize("modality", ["hypothetical", "historical", "negated"])
def test_non_actual_stories_fall_below_the_default_threshold(modality: str) -> None:
    modalities = {name: float(name == modality) for name in MODALITIES}
    cues = intensity("nuclear war kills 300 people")
    assert tension(certain("armed_conflict"), modalities, cues, (), SCORING) < 60


def test_intensity_cues_raise_conflict_but_never_other() -> None:
    cues = intensity("Massive strike kills 120 civilians as nuclear plant is shelled")
    assert cues.nuclear and cues.casualties == 120
    assert tension(certain("armed_conflict"), ACTUAL, cues, (), SCORING) > 90
    assert tension(certain("other"), ACTUAL, cues, (), SCORING) == 0


def test_actor_weights_from_config_scale_tension() -> None:
    weighted = settings_from_mapping(
        {"scoring": {"actor_weights": {"TW": 1.2}}}, "t", Path(".")
    ).scoring
    assert tension(certain("military_posture"), ACTUAL, NONE, ("CN", "TW"), weighted) == 78


@pytest.mark.parametrize(
    ("text", "count"),
    [("at least 40 people were killed", 40), ("dozens dead", 24), ("three soldiers killed", 3),
     ("1,200 troops", 1200), ("a quiet day", 0)],
)  # fmt: skip
def test_casualty_counts(text: str, count: int) -> None:
    assert intensity(text).casualties == count


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("Shaheen's missile rips through England's top order as Test cricket returns", "sports"),
        ("Call of Duty patch nerfs the cruise missile killstreak after gamers complain", "games"),
        ("Earthquake death toll in southern Turkey climbs past 40,000", "natural hazards"),
        ("Four astronauts blast off for the space station on a crewed mission", "spaceflight"),
        ("Workers end pay strike at a nuclear power plant in Busan", "energy"),
        ("Defence group's shares jump on record earnings", "markets"),
        ("Private Japanese rocket lifts off with a weather satellite", "spaceflight"),
    ],
)
def test_stories_far_from_geopolitics_are_named_off_topic(text: str, field: str) -> None:
    found = off_topic(text)
    assert found is not None and found.startswith(field)


@pytest.mark.parametrize(
    "text",
    [
        "Russian drones struck a power plant in Kharkiv overnight, cutting heat to 200,000 homes",
        "Army deployed as wildfires close in on Athens suburbs",
        "North Korea's nuclear test set off an artificial earthquake of magnitude 6.3",
        "Missiles hit a football stadium used as a shelter in Kharkiv; militants claim the attack",
        "FIFA moves qualifier after Houthi rocket fire near the stadium",
        "Eurofighter Typhoon jets scrambled over the Baltic",
        "Seoul says North fired two ballistic missiles into the sea",
        "North Korea puts a military reconnaissance satellite into orbit",
        "Iran's Simorgh rocket fails to put a communications satellite into orbit",
        "China destroyed an old weather satellite with a missile, US officials say",
    ],
)
def test_security_stories_are_never_off_topic(text: str) -> None:
    assert off_topic(text) is None


def test_off_topic_stories_are_damped_below_the_threshold_even_when_the_model_is_sure() -> None:
    sure = tension(certain("armed_conflict"), ACTUAL, NONE, (), SCORING, off_topic=True)
    assert sure == round(90 * SCORING.off_topic_factor) < 60
    off = settings_from_mapping({"scoring": {"off_topic_factor": 1.0}}, "t", Path(".")).scoring
    assert tension(certain("armed_conflict"), ACTUAL, NONE, (), off, off_topic=True) == 90
