"""Routing and the life of an alert: decided from data and `now` alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tensiond.alerts.route import (
    Context,
    digest_slot,
    group_overflow,
    in_quiet_hours,
    plan,
    routes_for,
    source_of,
)
from tensiond.config.load import settings_from_mapping
from tensiond.types import Item, Notice
from tests.factories import make_event, source

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
REGIONS = {"KP": "east_asia", "KR": "east_asia", "JP": "east_asia", "RU": "russia"}
SEVERITY = {"threat": 70.0, "armed_conflict": 90.0, "weapons_test": 80.0, "cooperation": 10.0}
CONTEXT = Context(region_of=REGIONS.get, severity=lambda label: SEVERITY.get(label, 0.0))


def alerting(**data: object):  # type: ignore[no-untyped-def]
    return settings_from_mapping({"alerting": data}, "t", Path(".")).alerting


def event(**changes: object):  # type: ignore[no-untyped-def]
    base = make_event("North Korea fires ballistic missile", at=NOW, event_id=7)
    return replace(base, **changes)  # type: ignore[arg-type]


def first_plan(settings, the_event=None, context=CONTEXT, now=NOW):  # type: ignore[no-untyped-def]
    return plan(the_event or event(), {}, settings, context, now)


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
         "label-override-above", "default-lowered"],
)  # fmt: skip
def test_thresholds(label: str, tension: int, config: dict, alerts: bool) -> None:
    result = first_plan(alerting(**config), event(label=label, tension=tension))
    assert bool(result.messages) is alerts
    assert all(message.kind == "post" for message in result.messages)


def test_stale_events_do_not_page() -> None:
    old = event(last_seen=NOW - timedelta(hours=30), first_seen=NOW - timedelta(hours=30))
    assert first_plan(alerting(), old).messages == []


def test_the_first_message_waits_group_wait() -> None:
    (message,) = first_plan(alerting(group_wait="30s")).messages
    assert message.due == NOW + timedelta(seconds=30)
    assert message.key == "default:event:7" and message.payload is None


def test_route_tree_first_match_wins_children_refine_and_inherit() -> None:
    settings = alerting(
        default_channel="#all",
        routes=[
            {"name": "asia", "channel": "#asia", "regions": ["east_asia"], "routes": [
                {"name": "korea-tests", "channel": "#korea", "dyads": ["KR-KP"],
                 "labels": ["weapons_test"]},
                {"name": "asia-threats", "labels": ["threat"]},
            ]},
            {"name": "europe", "channel": "#europe", "actors": ["RU"]},
        ],
    )  # fmt: skip
    channels = lambda e: [r.channel for r in routes_for(e, settings, REGIONS.get)]  # noqa: E731
    assert channels(event(actors=("KP", "KR"), dyads=("KP-KR",))) == ["#korea"]
    assert channels(event(label="threat")) == ["#asia"]  # inherited from its parent
    assert channels(event(label="unrest")) == ["#asia"]  # no child matches: the parent
    assert channels(event(actors=("RU",))) == ["#europe"]
    assert channels(event(actors=("BR",))) == ["#all"]


def test_continue_sends_to_several_routes() -> None:
    settings = alerting(
        routes=[
            {"name": "all-tests", "channel": "#tests", "labels": ["weapons_test"],
             "continue": True},
            {"name": "asia", "channel": "#asia", "regions": ["east_asia"]},
        ]
    )  # fmt: skip
    assert [m.channel for m in first_plan(settings).messages] == ["#tests", "#asia"]


def test_matchers_on_tension_and_feed_tags() -> None:
    settings = alerting(
        routes=[{"name": "hot", "channel": "#hot", "min_tension": 90, "feed_tags": ["wire"]}]
    )
    assert [m.channel for m in first_plan(settings, event(tension=95)).messages] == [
        "#tension-alerts"
    ]
    tagged = event(tension=95, feed_tags=("wire",))
    assert [m.channel for m in first_plan(settings, tagged).messages] == ["#hot"]


def test_a_mute_silences_what_it_matches_until_it_expires() -> None:
    settings = alerting(mutes=[{"actors": ["KP"], "until": "2026-03-02T18:00:00Z"}])
    result = first_plan(settings)
    assert result.messages == [] and result.muted == 1
    assert first_plan(settings, now=NOW.replace(hour=19), the_event=event(
        first_seen=NOW.replace(hour=19), last_seen=NOW.replace(hour=19))).messages  # fmt: skip
    assert first_plan(settings, event(actors=("IR",))).messages


def open_notice(the_event, **changes: object) -> Notice:  # type: ignore[no-untyped-def]
    notice = Notice(
        route="default", channel="#tension-alerts", event_id=the_event.id, state="open",
        post_key=f"default:event:{the_event.id}", label=the_event.label,
        tension=the_event.tension, sources=len(the_event.sources), confirmed=False,
        dyads=the_event.dyads, messages=1, eased=(), created_at=NOW - timedelta(hours=1),
        notified_at=NOW - timedelta(hours=1),
    )  # fmt: skip
    return replace(notice, **changes)  # type: ignore[arg-type]


def test_an_open_armed_conflict_alert_inhibits_threats_for_its_dyad() -> None:
    war = event(id=1, label="armed_conflict", tension=90, dyads=("KP-KR",))
    context = replace(CONTEXT, open_notices=[(open_notice(war), war)])
    threat = event(label="threat", tension=75, dyads=("KP-KR",), actors=("KP", "KR"))
    result = first_plan(alerting(), threat, context)
    assert result.messages == [] and result.inhibited == 1
    other_dyad = replace(threat, dyads=("KP-US",))
    assert first_plan(alerting(), other_dyad, context).messages
    later = NOW + timedelta(hours=30)
    late = replace(threat, first_seen=later, last_seen=later)
    assert first_plan(alerting(), late, context, now=later).messages  # the rule's 24h passed


def test_quiet_hours_hold_for_the_digest_unless_the_tension_bypasses() -> None:
    quiet = {"start": "11:00", "end": "13:00", "timezone": "UTC", "bypass_tension": 90}
    settings = alerting(quiet_hours=[quiet])
    held = first_plan(settings)
    assert held.messages == [] and held.notices[0].state == "held"
    urgent = first_plan(settings, event(tension=95))
    assert [m.kind for m in urgent.messages] == ["post"]
    notice = held.notices[0]
    grown = plan(event(tension=96), {"default": notice}, settings, CONTEXT, NOW)
    assert [m.kind for m in grown.messages] == ["post"]  # it became urgent while held


def test_quiet_hours_cross_midnight_in_their_time_zone() -> None:
    settings = alerting(quiet_hours=[{"start": "22:00", "end": "07:00", "timezone": "Asia/Seoul",
                                      "days": ["mon"]}])  # fmt: skip
    (window,) = settings.quiet_hours
    monday_night_seoul = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 23:30 in Seoul
    tuesday_early_seoul = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)  # 05:00 Tuesday in Seoul
    tuesday_night_seoul = datetime(2026, 3, 3, 14, 30, tzinfo=UTC)
    assert in_quiet_hours([window], monday_night_seoul) is window
    assert in_quiet_hours([window], tuesday_early_seoul) is window  # Monday's window
    assert in_quiet_hours([window], tuesday_night_seoul) is None
    assert in_quiet_hours([window], NOW) is None


def test_digest_slot_is_the_latest_scheduled_time() -> None:
    settings = alerting(digest={"times": ["18:00", "08:00"], "timezone": "UTC"})
    assert digest_slot(settings.digest, NOW) == NOW.replace(hour=8)
    assert digest_slot(settings.digest, NOW.replace(hour=7)) == NOW.replace(day=1, hour=18)


def test_more_sources_update_the_message_at_most_once_per_group_interval() -> None:
    the_event = event(sources=(source("a.example"), source("b.example")))
    notice = open_notice(the_event, sources=1, updated_at=NOW - timedelta(seconds=20))
    settings = alerting(group_interval="1m")
    (update,) = plan(the_event, {"default": notice}, settings, CONTEXT, NOW).messages
    assert update.kind == "update" and update.parent_key == notice.post_key
    assert update.due == NOW + timedelta(seconds=40)
    waiting = replace(CONTEXT, pending_updates=frozenset({notice.post_key}))
    again = plan(the_event, {"default": notice}, settings, waiting, NOW)
    assert again.messages == []  # the pending update will render the latest sources


def test_a_graver_label_or_a_rise_is_a_thread_reply() -> None:
    notice = open_notice(event(label="threat", tension=70))
    war = event(label="armed_conflict", tension=88)
    (reply,) = plan(war, {"default": notice}, alerting(), CONTEXT, NOW).messages
    assert reply.kind == "reply" and reply.parent_key == notice.post_key
    assert "armed conflict" in str(reply.payload)
    small = plan(event(label="threat", tension=75), {"default": notice}, alerting(), CONTEXT, NOW)
    assert small.messages == []
    risen = plan(event(label="threat", tension=80), {"default": notice}, alerting(), CONTEXT, NOW)
    assert [m.kind for m in risen.messages] == ["reply"]
    assert risen.notices[0].tension == 80  # the next reply needs another rise


def test_still_reported_after_the_repeat_interval_is_one_broadcast_reply() -> None:
    notice = open_notice(event(), notified_at=NOW - timedelta(hours=25))
    (reply,) = plan(event(), {"default": notice}, alerting(), CONTEXT, NOW).messages
    assert reply.payload and reply.payload["broadcast"] is True
    quiet = plan(
        event(last_seen=NOW - timedelta(hours=26)), {"default": notice}, alerting(), CONTEXT, NOW
    )
    assert quiet.messages == []  # nothing new was reported: no repeat


def test_de_escalation_for_the_dyad_eases_the_open_alert_once() -> None:
    war = event(id=1, label="armed_conflict", tension=90, dyads=("KP-KR",))
    notice = open_notice(war)
    context = replace(CONTEXT, open_notices=[(notice, war)])
    talks = event(id=9, label="cooperation", tension=10, dyads=("KP-KR",))
    result = plan(talks, {}, alerting(), context, NOW)
    (reply,) = result.messages
    assert reply.kind == "reply" and reply.parent_key == notice.post_key
    assert result.notices[0].eased == (9,)
    eased = replace(context, open_notices=[(result.notices[0], war)])
    assert plan(talks, {}, alerting(), eased, NOW).messages == []


def test_a_burst_beyond_the_budget_is_grouped_not_dropped() -> None:
    results = [first_plan(alerting(), event(id=i)) for i in range(1, 31)]
    messages = [m for r in results for m in r.messages]
    notices = [n for r in results for n in r.notices]
    kept, changed = group_overflow(messages, notices, 5, NOW)
    posts = [m for m in kept if m.kind == "post"]
    groups = [m for m in kept if m.kind == "group"]
    assert len(posts) == 5 and len(groups) == 2
    listed = sorted(i for g in groups for i in g.payload["events"])  # type: ignore[index]
    assert listed == list(range(6, 31))
    assert sum(n.state == "grouped" for n in changed) == 25 and len(changed) == 30


def test_source_is_the_link_host_or_the_feed() -> None:
    item = Item(
        id="x", feed_url="https://feed.example/rss", feed_name="Example Wire", title="t",
        summary="", link="https://www.news.example/a", published=None, seen_at=NOW,
    )  # fmt: skip
    assert source_of(item) == "news.example"
    assert source_of(replace(item, link=None)) == "Example Wire"
