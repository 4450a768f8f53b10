"""``--sweep KEY=START:STOP:STEP``: one alerting setting stepped through a range of values.

The key is a path into ``alerting`` (the ``alerting.`` prefix is optional): ``default_threshold``,
``thresholds.threat``, ``rate.group_after``, ``routes[0].min_tension``, ``develop_delta``... Any
number can be swept, and so can a duration (``repeat_interval=6h:48h:6h``). ``KEY=A,B,C`` lists
the values instead of stepping. Each value is validated as the YAML would be: a value the schema
refuses (a threshold over 100, a fractional ``group_after``) is an error naming key and value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from tensiond.backtest import BacktestError
from tensiond.config.schema import AlertingSettings
from tensiond.config.units import parse_duration
from tensiond.types import LABELS

MAX_VALUES = 200
Value = int | float | timedelta
PathPart = str | int


@dataclass(frozen=True)
class Sweep:
    """The setting to vary and its values."""

    key: str
    path: tuple[PathPart, ...]
    values: tuple[Value, ...]
    option: str = "--sweep"  # the flag it came from, for errors

    @property
    def named(self) -> str:
        return f"{self.option} {self.key}" if self.option == "--sweep" else self.option


def _thaw(value: Any) -> Any:
    """A dump with lists and dicts everywhere, so a path can be set in it."""
    if isinstance(value, dict):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(item) for item in value]
    return value


def _path(key: str, option: str) -> tuple[PathPart, ...]:
    parts: list[PathPart] = []
    for word in key.removeprefix("alerting.").split("."):
        name, _, rest = word.partition("[")
        if not name:
            raise BacktestError(f"{option} {key}: empty name in the key path")
        parts.append(name)
        for index in rest.split("[") if rest else ():
            if not index.endswith("]") or not index[:-1].isdigit():
                raise BacktestError(f"{option} {key}: {word!r} is not name or name[number]")
            parts.append(int(index[:-1]))
    return tuple(parts)


def _numbers(data: Any, prefix: str = "") -> list[str]:
    """The paths of every number and duration in the dump (for the error message)."""
    if isinstance(data, dict):
        return [p for key, item in data.items() for p in _numbers(item, f"{prefix}{key}.")]
    if isinstance(data, list):
        return [p for i, item in enumerate(data) for p in _numbers(item, f"{prefix[:-1]}[{i}].")]
    numeric = isinstance(data, int | float | timedelta) and not isinstance(data, bool)
    return [prefix[:-1]] if numeric else []


_MISSING = object()


def _child(node: Any, part: PathPart) -> Any:
    if isinstance(node, dict) and isinstance(part, str):
        return node.get(part, _MISSING)
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return _MISSING


def _current(data: Any, path: tuple[PathPart, ...], key: str) -> Any:
    """The value at ``path`` now (None when unset), or an error naming the key."""
    node = data
    for depth, part in enumerate(path):
        node = _child(node, part)
        unset_label = depth == len(path) - 1 and path[:-1] == ("thresholds",) and part in LABELS
        if node is _MISSING and unset_label:
            return None  # a label without its own threshold yet
        if node is _MISSING:
            known = ", ".join([*_numbers(data), "thresholds.<label>"])
            raise BacktestError(f"{key}: no such alerting setting (numbers: {known})")
    if isinstance(node, bool) or not (node is None or isinstance(node, int | float | timedelta)):
        raise BacktestError(f"{key}: not a number or a duration ({node!r})")
    return node


def _bounds(text: str, durations: bool) -> tuple[Decimal, Decimal, Decimal]:
    parts = [part.strip() for part in text.split(":")]
    if len(parts) != 3:
        raise ValueError(f"{len(parts)} parts")
    if durations:
        seconds = [parse_duration(part).total_seconds() for part in parts]
        return Decimal(str(seconds[0])), Decimal(str(seconds[1])), Decimal(str(seconds[2]))
    return Decimal(parts[0]), Decimal(parts[1]), Decimal(parts[2])


def _steps(text: str, durations: bool, key: str) -> tuple[Value, ...]:
    try:
        if "," in text or ":" not in text:
            words = [word.strip() for word in text.split(",") if word.strip()]
            if not words:
                raise ValueError("no values")
            return tuple(_one(word, durations) for word in words)
        low, high, size = _bounds(text, durations)
    except (ValueError, InvalidOperation) as error:
        detail = str(error) if isinstance(error, ValueError) and str(error) else "bad number"
        raise BacktestError(f"{key}={text}: use START:STOP:STEP or A,B,C ({detail})") from None
    if size <= 0 or low > high:
        raise BacktestError(f"{key}={text}: needs START <= STOP and a STEP above 0")
    count = int((high - low) / size) + 1
    if count > MAX_VALUES:
        raise BacktestError(f"{key}={text}: {count} values; at most {MAX_VALUES}")
    points = [low + size * n for n in range(count)]
    if durations:
        return tuple(timedelta(seconds=float(point)) for point in points)
    whole = all(point == point.to_integral_value() for point in (low, size))
    return tuple(int(point) if whole else float(point) for point in points)


def _one(word: str, durations: bool) -> Value:
    if durations:
        return parse_duration(word)
    number = Decimal(word)
    return int(number) if number == number.to_integral_value() else float(number)


def parse_sweep(text: str, settings: AlertingSettings, option: str = "--sweep") -> Sweep:
    """Read ``KEY=START:STOP:STEP`` (or ``KEY=A,B,C``) against the settings it will vary;
    errors start with ``option``, the command-line flag it came from."""
    key, equals, spec = text.partition("=")
    key = key.strip()
    if not equals or not key:
        raise BacktestError(
            f"{option} {text}: use KEY=START:STOP:STEP, e.g. default_threshold=40:80:5"
        )
    sweep = Sweep(key, _path(key, option), (), option)
    current = _current(_thaw(settings.model_dump(by_alias=True)), sweep.path, sweep.named)
    values = _steps(spec, isinstance(current, timedelta), sweep.named)
    return Sweep(key, sweep.path, values, option)


def variant(settings: AlertingSettings, sweep: Sweep, value: Value) -> AlertingSettings:
    """The settings with the swept key at ``value``, validated as YAML would be."""
    data = _thaw(settings.model_dump(by_alias=True))
    node = data
    for part in sweep.path[:-1]:
        node = node[part]
    node[sweep.path[-1]] = value
    try:
        return AlertingSettings.model_validate(data)
    except ValidationError as error:
        problem = error.errors()[0]["msg"].removeprefix("Value error, ")
        raise BacktestError(f"{sweep.named}={show(value)}: {problem}") from None


def variants(settings: AlertingSettings, sweep: Sweep) -> list[tuple[Value, AlertingSettings]]:
    """Every value with its settings; an invalid value is an error before anything runs."""
    return [(value, variant(settings, sweep, value)) for value in sweep.values]


def show(value: Value | None) -> str:
    """A value as a person would write it in the YAML."""
    if value is None:
        return "unset"
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        text = ""
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
            if seconds >= size:
                text += f"{seconds // size}{unit}"
                seconds %= size
        return text or "0s"
    return f"{value:g}" if isinstance(value, float) else str(value)


def current_value(settings: AlertingSettings, sweep: Sweep) -> Value | None:
    """The swept key's value in ``settings`` (None when unset)."""
    value: Value | None = _current(_thaw(settings.model_dump(by_alias=True)), sweep.path, sweep.key)
    if value is None and sweep.path[:-1] == ("thresholds",):
        return settings.default_threshold  # a label without its own threshold uses the default
    return value
