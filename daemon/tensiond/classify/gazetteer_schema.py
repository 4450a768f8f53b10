"""Reading and checking the actors gazetteer (config/actors.yaml) into frozen entries.

Every problem found is collected with the entry it concerns ("countries.KP.region: ...") and
raised together as one :class:`GazetteerError` naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tensiond.exceptions import ConfigError

KINDS = ("intergovernmental", "armed_group", "court", "other")
SURFACE_FIELDS = ("aliases", "demonyms", "capitals", "leaders")
_COUNTRY_CODE = re.compile(r"[A-Z]{2}\Z")
_ORG_ID = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_COUNTRY_KEYS = frozenset({"name", "region", "ambiguous", *SURFACE_FIELDS})
_ORG_KEYS = frozenset({"name", "kind", "country", "aliases", "leaders", "ambiguous"})
_RULE_KEYS = frozenset({"surface", "not", "person", "unless_near", "switch", "headline"})


class GazetteerError(ConfigError):
    """The gazetteer cannot be read, or entries in it are invalid; each problem names its entry."""


@dataclass(frozen=True)
class Rule:
    """Context rule for one ambiguous surface (see the header of config/actors.yaml)."""

    surface: str
    blockers: tuple[str, ...] = ()
    person: bool = False
    unless_near: tuple[str, ...] = ()
    switch_to: str | None = None
    switch_near: tuple[str, ...] = ()
    headline: bool = True


@dataclass(frozen=True)
class Entry:
    """One actor as read from the file; ``kind`` is "country" or the organisation's kind."""

    code: str
    name: str
    kind: str
    region: str | None
    country: str | None
    surfaces: tuple[str, ...]
    rules: tuple[Rule, ...]
    leaders: tuple[str, ...] = ()


def load_entries(path: Path) -> tuple[Entry, ...]:
    """Read and check ``path``; raise :class:`GazetteerError` listing every problem."""
    data = _read(path)
    problems: list[str] = []
    regions = _strings(data.get("regions"), "regions", problems)
    if not regions:
        problems.append("regions: must list the allowed region names")
    entries = [
        *_section(
            data, "countries", lambda c, r, w: _country(c, r, w, regions, problems), problems
        ),
        *_section(
            data, "organisations", lambda c, r, w: _organisation(c, r, w, problems), problems
        ),
    ]
    _cross_check(entries, problems)
    if problems:
        raise GazetteerError(str(path), problems)
    return tuple(entries)


def _read(path: Path) -> Mapping[str, Any]:
    try:
        # libyaml's safe loader when PyYAML has it: the same safe subset, 0.07 s instead of 0.5 s
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (safe)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise GazetteerError(str(path), [f"cannot read: {error}"]) from error
    if not isinstance(data, Mapping):
        raise GazetteerError(str(path), ["top level: must be a mapping with countries:"])
    return data


def _section(
    data: Mapping[str, Any],
    key: str,
    parse: Callable[[Any, Any, str], Entry | None],
    problems: list[str],
) -> list[Entry]:
    raw = data.get(key)
    if not isinstance(raw, Mapping) or not raw:
        problems.append(f"{key}: must be a non-empty mapping")
        return []
    parsed = (parse(code, value, f"{key}.{code}") for code, value in raw.items())
    return [entry for entry in parsed if entry is not None]


def _country(
    code: Any, raw: Any, where: str, regions: tuple[str, ...], problems: list[str]
) -> Entry | None:
    if not isinstance(code, str) or not _COUNTRY_CODE.match(code):
        problems.append(f"{where}: key must be a quoted ISO 3166-1 alpha-2 code, got {code!r}")
        return None
    fields = _fields(raw, _COUNTRY_KEYS, where, problems)
    if fields is None:
        return None
    region = fields.get("region")
    if region not in regions:
        problems.append(f"{where}.region: {region!r} is not one of the listed regions")
    name, surfaces = _surfaces(fields, SURFACE_FIELDS, where, problems)
    rules = _rules(fields.get("ambiguous"), surfaces, where, problems)
    leaders = _strings(fields.get("leaders"), f"{where}.leaders", [])
    return Entry(code, name, "country", region, code, surfaces, rules, leaders)


def _organisation(code: Any, raw: Any, where: str, problems: list[str]) -> Entry | None:
    if not isinstance(code, str) or not _ORG_ID.match(code):
        problems.append(f"{where}: id must be upper-case letters, digits and _, got {code!r}")
        return None
    fields = _fields(raw, _ORG_KEYS, where, problems)
    if fields is None:
        return None
    kind = fields.get("kind")
    if kind not in KINDS:
        problems.append(f"{where}.kind: {kind!r} is not one of {', '.join(KINDS)}")
    country = fields.get("country")
    if country is not None and not isinstance(country, str):
        problems.append(f"{where}.country: must be a country code, got {country!r}")
    name, surfaces = _surfaces(fields, ("aliases", "leaders"), where, problems)
    rules = _rules(fields.get("ambiguous"), surfaces, where, problems)
    leaders = _strings(fields.get("leaders"), f"{where}.leaders", [])
    return Entry(code, name, str(kind), None, country, surfaces, rules, leaders)


def _fields(raw: Any, allowed: frozenset[str], where: str, problems: list[str]) -> Any:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a mapping, got {type(raw).__name__}")
        return None
    for key in sorted(set(raw) - allowed, key=str):
        problems.append(f"{where}.{key}: unknown field (allowed: {', '.join(sorted(allowed))})")
    return raw


def _surfaces(
    fields: Mapping[str, Any], keys: tuple[str, ...], where: str, problems: list[str]
) -> tuple[str, tuple[str, ...]]:
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}.name: must be a non-empty string")
        name = ""
    found = [name] if name else []
    for key in keys:
        found.extend(_strings(fields.get(key), f"{where}.{key}", problems))
    return name, tuple(dict.fromkeys(found))


def _strings(value: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{where}: must be a list of non-empty strings, got {value!r}")
        return ()
    return tuple(v.strip() for v in value)


def _rules(
    raw: Any, surfaces: tuple[str, ...], where: str, problems: list[str]
) -> tuple[Rule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append(f"{where}.ambiguous: must be a list of rules")
        return ()
    rules = (_rule(item, surfaces, f"{where}.ambiguous", problems) for item in raw)
    return tuple(rule for rule in rules if rule is not None)


def _rule(raw: Any, surfaces: tuple[str, ...], where: str, problems: list[str]) -> Rule | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("surface"), str):
        problems.append(f"{where}: each rule must be a mapping with a surface, got {raw!r}")
        return None
    surface = raw["surface"]
    where = f"{where}[{surface}]"
    _fields(raw, _RULE_KEYS, where, problems)
    if surface not in surfaces:
        problems.append(f"{where}: surface is not among this entry's surfaces")
    blockers = _strings(raw.get("not"), f"{where}.not", problems)
    for phrase in blockers:
        if surface not in phrase or phrase == surface:
            problems.append(f"{where}.not: {phrase!r} must be a longer phrase containing it")
    switch_to, switch_near = _switch(raw.get("switch"), f"{where}.switch", problems)
    return Rule(
        surface=surface,
        blockers=blockers,
        person=_flag(raw, "person", False, where, problems),
        unless_near=_strings(raw.get("unless_near"), f"{where}.unless_near", problems),
        switch_to=switch_to,
        switch_near=switch_near,
        headline=_flag(raw, "headline", True, where, problems),
    )


def _switch(raw: Any, where: str, problems: list[str]) -> tuple[str | None, tuple[str, ...]]:
    if raw is None:
        return None, ()
    if not isinstance(raw, Mapping) or not isinstance(raw.get("to"), str):
        problems.append(f"{where}: must be a mapping with to: CODE and near: [cues]")
        return None, ()
    near = _strings(raw.get("near"), f"{where}.near", problems)
    if not near:
        problems.append(f"{where}.near: must list at least one cue")
    return raw["to"], near


def _flag(raw: Mapping[str, Any], key: str, default: bool, where: str, problems: list[str]) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        problems.append(f"{where}.{key}: must be true or false, got {value!r}")
        return default
    return value


def _cross_check(entries: list[Entry], problems: list[str]) -> None:
    """Codes unique, references resolvable, and every surface owned by one actor."""
    kinds = {}
    for entry in entries:
        if entry.code in kinds:
            problems.append(f"organisations.{entry.code}: id collides with a country code")
        kinds[entry.code] = entry.kind
    owner: dict[str, str] = {}
    for entry in entries:
        where = _where(entry)
        if entry.kind != "country" and entry.country and kinds.get(entry.country) != "country":
            problems.append(f"{where}.country: {entry.country!r} is not a country code")
        for rule in entry.rules:
            if rule.switch_to and kinds.get(rule.switch_to) is None:
                problems.append(f"{where}.ambiguous[{rule.surface}].switch.to: unknown code")
        for surface in entry.surfaces:
            first = owner.setdefault(surface, where)
            if first != where:
                problems.append(f"{where}: surface {surface!r} is already claimed by {first}")
    for entry in entries:
        for phrase in (p for rule in entry.rules for p in rule.blockers):
            if phrase in owner:
                problems.append(
                    f"{_where(entry)}: blocked phrase {phrase!r} is a surface of {owner[phrase]}"
                )


def _where(entry: Entry) -> str:
    return f"{'countries' if entry.kind == 'country' else 'organisations'}.{entry.code}"
