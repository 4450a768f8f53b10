"""Routing: what alerts and where, decided from data and `now` alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tensiond.alerts.route import Candidate, decide, routes_for, source_of, unsent
from tensiond.config.load import settings_from_mapping
from tensiond.types import LABELS, Classification, Item

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REGIONS = {
    "KP": "east_asia",
    "KR": "east_asia",
    "JP": "east_asia",
    "RU": "russia",
    "UA": "eastern_europe",
}


def item(**changes: object) -> Item:
    base = Item(
        id="https://news.example/a",
        feed_url="https://feed.example/rss",
        feed_name="Example Wire",
        title="North Korea fires ballistic missile",
        summary="",
        link="https://www.news.example/a",
        published=NOW - timedelta(minutes=20),
        seen_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def verdict(
    label: str = "weapons_test", tension: int = 80, actors: tuple[str, ...] = ("KP",)
) -> Classification:
    return Classification(
        item_id="https://news.example/a",
        label=label,
        probabilities={name: float(name == label) for name in LABELS},
        tension=tension,
        actors=actors,
        dyads=(),
        modality="actual",
        why=(),
        model_version="test",
    )


def alerting(**data: object):  # type: ignore[no-untyped-def]
    return settings_from_mapping({"alerting": data}, "t", Path(".")).alerting


@pytest.mark.parametrize(
    ("label", "tension", "config", "alerts"),
    [
        ("weapons_test", 80, {}, True),
        ("weapons_test", 59, {}, False),
        ("weapons_test", 60, {}, True),
        ("other", 100, {}, False),
        ("unrest", 70, {"thresholds": {"unrest": 75}}, False),
        ("unrest", 76, {"thresholds": {"unrest": 75}}, True),
        ("threat", 45, {"default_threshold": 40}, True),
    ],
    ids=["above", "below", "at-threshold", "other-never", "label-override-below",
         "label-override-above", "lowered-default"],
)  # fmt: skip
def test_thresholds(label: str, tension: int, config: dict, alerts: bool) -> None:
    candidate = Candidate(item(), verdict(label, tension))
    assert bool(decide([candidate], alerting(**config), REGIONS.get, NOW)) is alerts


def test_stale_stories_do_not_page() -> None:
    old = Candidate(item(published=NOW - timedelta(hours=30)), verdict())
    assert decide([old], alerting(), REGIONS.get, NOW) == []


def test_first_matching_route_wins_and_default_catches_the_rest() -> None:
    settings = alerting(
        routes=[
            {"name": "korea", "channel": "#korea", "actors": ["KP", "KR"]},
            {"name": "asia", "channel": "#asia", "regions": ["east_asia"]},
        ],
        default_channel="#all",
    )
    assert routes_for(Candidate(item(), verdict()), settings, REGIONS.get) == [("korea", "#korea")]
    japan = Candidate(item(), verdict(actors=("JP",)))
    assert routes_for(japan, settings, REGIONS.get) == [("asia", "#asia")]
    russia = Candidate(item(), verdict(actors=("RU",)))
    assert routes_for(russia, settings, REGIONS.get) == [("default", "#all")]


def test_continue_sends_to_several_routes() -> None:
    settings = alerting(
        routes=[
            {"name": "korea", "channel": "#korea", "actors": ["KP"], "continue": True},
            {"name": "tests", "channel": "#tests", "labels": ["weapons_test"]},
        ]
    )
    alerts = decide([Candidate(item(), verdict())], settings, REGIONS.get, NOW)
    assert [(a.route, a.channel) for a in alerts] == [("korea", "#korea"), ("tests", "#tests")]


@pytest.mark.parametrize(
    ("route", "matches"),
    [
        ({"labels": ["armed_conflict"]}, False),
        ({"min_tension": 90}, False),
        ({"min_tension": 80}, True),
        ({"feed_tags": ["asia"]}, True),
        ({"feed_tags": ["europe"]}, False),
    ],
    ids=["label-mismatch", "tension-too-low", "tension-enough", "tag-match", "tag-mismatch"],
)
def test_route_matchers(route: dict, matches: bool) -> None:
    settings = alerting(routes=[{"name": "r", "channel": "#r", **route}])
    chosen = routes_for(Candidate(item(), verdict(), ("asia",)), settings, REGIONS.get)
    assert (chosen == [("r", "#r")]) is matches


def test_alert_keys_dedupe_a_story_seen_again() -> None:
    alerts = decide([Candidate(item(), verdict())], alerting(), REGIONS.get, NOW)
    assert unsent(alerts, {alerts[0].key}) == []
    assert unsent(alerts, set()) == alerts


def test_source_is_the_link_host_or_the_feed() -> None:
    assert source_of(item()) == "news.example"
    assert source_of(item(link=None)) == "Example Wire"
