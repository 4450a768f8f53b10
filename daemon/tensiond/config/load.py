"""Read YAML (safe_load only) and validate it into a frozen :class:`Settings`.

Every problem is collected and reported at once with its path, borgmatic style:
``feeds[3].url: only http and https feeds are allowed``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tensiond.config.schema import Settings
from tensiond.exceptions import ConfigError


def format_location(location: tuple[int | str, ...]) -> str:
    """Turn pydantic's ``('feeds', 3, 'url')`` into ``feeds[3].url``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for detail in error.errors():
        location = tuple(part for part in detail["loc"] if part not in ("function-after",))
        message = detail["msg"]
        if detail["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; config/tensiond.yaml lists every option)"
        message = message.removeprefix("Value error, ")
        problems.append(f"{format_location(location)}: {message}")
    return problems


def settings_from_mapping(data: Mapping[str, Any], source: str, base_dir: Path) -> Settings:
    """Validate an already-parsed mapping; raises ConfigError listing every problem."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, ["(top level): expected a mapping of sections"])
    if "base_dir" in data:
        raise ConfigError(source, ["base_dir: unknown key (it is set from the file's folder)"])
    try:
        return Settings.model_validate({**data, "base_dir": base_dir})
    except ValidationError as error:
        raise ConfigError(source, _problems(error)) from error


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Load and validate a config file; raises ConfigError with every problem and its path."""
    config_path = Path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(str(config_path), [f"cannot read the file: {error.strerror}"]) from error
    except UnicodeDecodeError as error:
        raise ConfigError(str(config_path), [f"not UTF-8 text: {error.reason}"]) from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(str(config_path), [f"{where}invalid YAML: {problem}"]) from error
    return settings_from_mapping(data or {}, str(config_path), config_path.resolve().parent)


def default_settings() -> Settings:
    """The embedded defaults: no feeds, SQLite in the state directory, console alerts."""
    return settings_from_mapping({}, "(defaults)", Path.cwd())
