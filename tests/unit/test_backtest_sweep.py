"""`--sweep KEY=START:STOP:STEP`: key paths into `alerting`, values, and errors that name both."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tensiond.backtest import BacktestError
from tensiond.backtest.sweep import current_value, parse_sweep, show, variants
from tensiond.config.load import settings_from_mapping
from tensiond.config.schema import AlertingSettings

SETTINGS = settings_from_mapping(
    {"alerting": {
        "thresholds": {"unrest": 75},
        "routes": [{"name": "asia", "channel": "#asia", "regions": ["east_asia"],
                    "min_tension": 50, "continue": True}],
        "mutes": [{"actors": ["RU"], "until": "2027-01-01T00:00:00Z"}],
        "quiet_hours": [{"start": "22:00", "end": "06:00", "timezone": "Europe/Berlin"}],
    }},
    "t", Path("."),
).alerting  # fmt: skip


@pytest.mark.parametrize(
    ("text", "values", "now"),
    [
        ("alerting.default_threshold=40:80:10", ["40", "50", "60", "70", "80"], "60"),
        ("default_threshold=40:58:5", ["40", "45", "50", "55"], "60"),
        ("thresholds.unrest=70:80:5", ["70", "75", "80"], "75"),
        ("thresholds.threat=50:60:10", ["50", "60"], "60"),  # unset: the default applies
        ("rate.group_after=1:3:1", ["1", "2", "3"], "5"),
        ("rate.per_second=0.5:1.5:0.5", ["0.5", "1", "1.5"], "1"),
        ("routes[0].min_tension=40:60:20", ["40", "60"], "50"),
        ("repeat_interval=6h:1d:6h", ["6h", "12h", "18h", "1d"], "1d"),
        ("group_interval=30s,1m30s,5m", ["30s", "1m30s", "5m"], "1m"),
        ("develop_delta=5,15", ["5", "15"], "10"),
    ],
    ids=["prefixed", "stop-not-on-a-step", "label-threshold", "unset-label", "integer",
         "fractional", "route-matcher", "durations", "duration-list", "number-list"],
)  # fmt: skip
def test_a_sweep_steps_one_setting(text: str, values: list[str], now: str) -> None:
    sweep = parse_sweep(text, SETTINGS)
    tried = variants(SETTINGS, sweep)
    assert [show(value) for value, _settings in tried] == values
    assert show(current_value(SETTINGS, sweep)) == now
    for value, settings in tried:
        assert isinstance(settings, AlertingSettings)
        assert current_value(settings, sweep) == value
        assert settings.routes[0].continue_ and settings.mutes == SETTINGS.mutes
        assert settings.quiet_hours == SETTINGS.quiet_hours


def test_only_the_swept_setting_changes() -> None:
    (_value, settings), *_ = variants(SETTINGS, parse_sweep("rate.burst=9:9:1", SETTINGS))
    assert settings.rate.burst == 9
    assert settings.model_copy(update={"rate": SETTINGS.rate}) == SETTINGS


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("nosuch=1:2:1", "--sweep nosuch: no such alerting setting (numbers: default_threshold"),
        ("rate.nosuch=1:2:1", "--sweep rate.nosuch: no such alerting setting"),
        ("thresholds.war=1:2:1", "--sweep thresholds.war: no such alerting setting"),
        ("routes[4].min_tension=1:2:1", "--sweep routes[4].min_tension: no such"),
        ("routes[x].min_tension=1:2:1", "'routes[x]' is not name or name[number]"),
        ("default_channel=1:2:1", "--sweep default_channel: not a number or a duration"),
        ("routes[0].continue=1:2:1", "not a number or a duration (True)"),
        ("default_threshold=a:b:c", "--sweep default_threshold=a:b:c: use START:STOP:STEP"),
        ("default_threshold=1:2", "(2 parts)"),
        ("default_threshold=50:40:5", "needs START <= STOP and a STEP above 0"),
        ("default_threshold=40:50:0", "needs START <= STOP and a STEP above 0"),
        ("default_threshold=0:100:0.1", "1001 values; at most 200"),
        ("default_threshold=80:120:20", "--sweep default_threshold=120: Input should be less"),
        ("confirm_sources=1:3:1", "--sweep confirm_sources=1: Input should be greater than"),
        ("repeat_interval=1h:2x:1h", "is not a duration"),
        ("=1:2:1", "use KEY=START:STOP:STEP"),
        ("default_threshold", "use KEY=START:STOP:STEP"),
    ],
)
def test_a_bad_sweep_is_an_error_naming_key_and_value(text: str, problem: str) -> None:
    with pytest.raises(BacktestError) as caught:
        variants(SETTINGS, parse_sweep(text, SETTINGS))
    assert problem in str(caught.value)


def test_values_show_as_they_would_be_written() -> None:
    assert [show(v) for v in (40, 0.25, timedelta(hours=36), timedelta(0), None)] == [
        "40", "0.25", "1d12h", "0s", "unset"]  # fmt: skip
