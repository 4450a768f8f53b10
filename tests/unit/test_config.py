"""Config: YAML in, one frozen Settings out, every error with its path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tensiond.cli import main
from tensiond.config.load import load_settings, settings_from_mapping
from tensiond.config.schema import Settings
from tensiond.config.units import format_duration, parse_duration, parse_size
from tensiond.exceptions import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def problems_of(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping(data, "t.yaml", Path("."))
    return list(caught.value.problems)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("1h30m", 5400), ("7d", 604800), (45, 45), ("1.5h", 5400)],
    ids=["seconds", "minutes", "compound", "days", "bare-number", "fraction"],
)
def test_durations_read_like_people_write_them(text: object, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "ten minutes", "10x", "-5", True, [1]], ids=repr)
def test_a_bad_duration_says_what_is_expected(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@given(st.integers(min_value=0, max_value=10**8))
def test_durations_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(timedelta(seconds=seconds))) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "size"),
    [("15MiB", 15 * 2**20), ("512KiB", 512 * 1024), ("1GB", 10**9), (2048, 2048), ("100", 100)],
    ids=["MiB", "KiB", "GB", "int", "bare-string"],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    problems = problems_of(
        {
            "feeds": [
                {"url": "https://ok.example/rss"},
                {"url": "file:///etc/passwd"},
                {"url": "x"},
            ],
            "fetch": {"timeout": "soon", "max_body": "lots"},
            "alerting": {"default_threshold": 120, "thresholds": {"missiles": 50}},
            "slakc": {},
        }
    )
    joined = "\n".join(problems)
    assert "feeds[1].url: only http and https" in joined
    assert "feeds[2].url" in joined
    assert "fetch.timeout: 'soon' is not a duration" in joined
    assert "fetch.max_body" in joined
    assert "alerting.default_threshold" in joined
    assert "alerting.thresholds: unknown label(s) ['missiles']" in joined
    assert "slakc: unknown key" in joined
    assert len(problems) == 7


def test_unknown_keys_inside_a_feed_are_errors() -> None:
    (problem,) = problems_of({"feeds": [{"url": "https://a.example/", "intervall": "5m"}]})
    assert problem.startswith("feeds[0].intervall: unknown key (check the spelling")


def test_a_repeated_feed_url_is_an_error() -> None:
    feed = {"url": "https://a.example/rss"}
    assert any("repeats the URL of feeds[0]" in p for p in problems_of({"feeds": [feed, feed]}))


def test_settings_are_frozen() -> None:
    settings = settings_from_mapping({}, "t", Path("."))
    with pytest.raises(Exception, match="frozen"):
        settings.alerting.default_threshold = 10  # type: ignore[misc]


def test_defaults_match_the_design() -> None:
    settings = settings_from_mapping({}, "t", Path("."))
    assert settings.alerting.default_threshold == 60
    assert settings.fetch.allow_private_networks is False
    assert settings.slack.token_env == "SLACK_BOT_TOKEN"
    assert settings.http.listen.startswith("127.0.0.1:")


def _keys(model: type, prefix: str = "") -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key == "base_dir":
            continue
        keys.add(prefix + key)
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            keys |= _keys(annotation, prefix + key + ".")
    return keys


def _yaml_keys(data: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in data.items():
        keys.add(prefix + key)
        if isinstance(value, dict) and key not in ("severities", "modality_factors"):
            keys |= _yaml_keys(value, prefix + key + ".")
    return keys


def test_the_commented_example_config_lists_every_option_and_validates() -> None:
    path = ROOT / "config" / "tensiond.yaml"
    settings = load_settings(path)
    assert len(settings.feeds) >= 10
    documented = _yaml_keys(yaml.safe_load(path.read_text()))
    assert _keys(Settings) <= documented


def test_the_example_config_states_the_real_defaults() -> None:
    example = load_settings(ROOT / "config" / "tensiond.yaml")
    defaults = settings_from_mapping({"feeds": []}, "t", example.base_dir)
    for section in (
        "fetch",
        "model",
        "scoring",
        "events",
        "alerting",
        "slack",
        "storage",
        "http",
        "logging",
    ):
        assert getattr(example, section) == getattr(defaults, section), section


def test_the_demo_config_validates() -> None:
    assert load_settings(ROOT / "config" / "demo.yaml").fetch.allow_private_networks


def test_check_config_exits_non_zero_with_every_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds:\n  - url: ftp://x\nfetch:\n  timeout: never\n")
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "feeds[0].url" in err and "fetch.timeout" in err


def test_check_config_reports_yaml_syntax_with_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds:\n  - url: [unclosed\n")
    assert main(["check-config", str(bad)]) == 2
    assert "line " in capsys.readouterr().err


def test_check_config_accepts_the_example(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check-config", str(ROOT / "config" / "tensiond.yaml")]) == 0
    assert "ok" in capsys.readouterr().out


def test_yaml_is_read_safely(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("feeds: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_settings(evil)
