"""The `index:` section: defaults, overrides keyed by dyad, country and region, every error."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from tensiond.classify.actors import default_gazetteer_path
from tensiond.config.load import load_settings, settings_from_mapping
from tensiond.config.schema import REGIONS, normalise_dyad
from tensiond.exceptions import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def index(**data: object):  # type: ignore[no-untyped-def]
    return settings_from_mapping({"index": data}, "t.yaml", Path(".")).index


def problems(**data: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        index(**data)
    return list(caught.value.problems)


def test_defaults() -> None:
    settings = index()
    assert settings.enabled
    assert settings.half_life == timedelta(days=1)
    assert settings.baseline_window == timedelta(days=28)
    assert settings.min_history == timedelta(days=7)
    assert (settings.spike_z, settings.easing_z) == (5.0, 1.0)
    assert (settings.min_level, settings.cold_start_level) == (1.5, None)
    assert settings.modality_weights == {
        "actual": 1.0, "threatened": 1.0, "hypothetical": 0.0, "historical": 0.0, "negated": 0.0
    }  # fmt: skip


def test_the_example_config_states_the_index_defaults() -> None:
    example = load_settings(ROOT / "config" / "tensiond.yaml").index
    assert example == index()
    documented = yaml.safe_load((ROOT / "config" / "tensiond.yaml").read_text())["index"]
    assert set(documented) == set(type(example).model_fields)


@pytest.mark.parametrize(
    ("text", "dyad"),
    [("KP-KR", "KP-KR"), ("kr-kp", "KP-KR"), (" TW-CN ", "CN-TW"), ("HAMAS-IL", "HAMAS-IL")],
    ids=["sorted", "lower-and-reversed", "spaces", "organisation"],
)
def test_dyads_are_normalised(text: str, dyad: str) -> None:
    assert normalise_dyad(text) == dyad
    assert list(index(dyads={text: {"spike_z": 3}}).dyads) == [dyad]


@pytest.mark.parametrize("text", ["KPKR", "KP-KR-JP", "K-KR", "KP-", "KP-KP", "K1-KR", "KP_KR"])
def test_a_bad_dyad_key_is_an_error_with_its_path(text: str) -> None:
    (problem,) = problems(dyads={text: {"spike_z": 3}})
    assert problem.startswith("index.dyads: ")
    assert repr(text) in problem


def test_the_same_dyad_twice_is_an_error() -> None:
    (problem,) = problems(dyads={"KP-KR": {}, "KR-KP": {}})
    assert "repeats the dyad KP-KR" in problem


def test_unknown_regions_and_bad_country_codes_are_errors() -> None:
    found = problems(regions={"east_asia": {}, "far_east": {}}, countries={"kp": {}, "KOR": {}})
    assert any(p.startswith("index.regions: unknown region(s) ['far_east']") for p in found)
    assert any(p.startswith("index.countries: ") and "'KOR'" in p for p in found)


def test_the_regions_are_those_of_the_gazetteer() -> None:
    gazetteer = yaml.safe_load(default_gazetteer_path().read_text())
    assert tuple(gazetteer["regions"]) == REGIONS


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"easing_z": 5}, "easing_z (5) must be below spike_z (5)"),
        ({"regions": {"east_asia": {"spike_z": 0.5}}}, "(at regions.east_asia)"),
        ({"dyads": {"KP-KR": {"easing_z": 6}}}, "(at dyads.KP-KR)"),
        ({"half_life": "0s"}, "half_life must be longer than 0s"),
        ({"baseline_window": "12h"}, "baseline_window must be at least 1d"),
        ({"min_history": "60d"}, "min_history cannot be longer than baseline_window"),
        ({"cold_start_level": 1}, "cold_start_level cannot be below min_level"),
    ],
    ids=["easing-not-below-spike", "region-override", "dyad-override", "zero-half-life",
         "short-window", "long-history", "low-cold-start"],
)  # fmt: skip
def test_inconsistent_settings_are_errors(data: dict[str, object], message: str) -> None:
    (problem,) = problems(**data)
    assert problem.startswith("index: ") and message in problem


def test_field_errors_carry_their_path() -> None:
    found = problems(spike_z=-1, half_life="soon", modality_weights={"rumour": 1},
                     dyads={"KP-KR": {"spike_z": "high"}}, lookback=3)  # fmt: skip
    joined = "\n".join(found)
    assert "index.spike_z" in joined
    assert "index.half_life: 'soon' is not a duration" in joined
    assert "index.modality_weights: unknown modality(ies) ['rumour']" in joined
    assert "index.dyads.KP-KR.spike_z" in joined
    assert "index.lookback: unknown key" in joined


def test_unlisted_modalities_keep_their_default_weight() -> None:
    weights = index(modality_weights={"historical": 0.25}).modality_weights
    assert weights["historical"] == 0.25 and weights["actual"] == 1.0
