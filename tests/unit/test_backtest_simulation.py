"""The backtest's replay: events regrown as clustering grows them, alerts decided as the daemon
decides them, from hand-built histories and a simulated clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensiond.alerts.route import source_of
from tensiond.backtest.simulation import Outcome, next_slot, simulate
from tensiond.backtest.timeline import outlets, timeline
from tensiond.config.load import settings_from_mapping
from tensiond.config.schema import AlertingSettings, DigestSettings
from tensiond.storage.history import Sighting
from tensiond.types import Item

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning
REGIONS = {"KP": "east_asia", "KR": "east_asia", "RU": "russia", "UA": "eastern_europe"}
SEVERITY = {"threat": 70.0, "armed_conflict": 90.0, "weapons_test": 80.0}
KOREA, WAR = ("KP", "KR"), ("RU", "UA")


def alerting(**data: Any) -> AlertingSettings:
    return settings_from_mapping({"alerting": data}, "t", Path(".")).alerting


def seen(
    event_id: int,
    at: datetime,
    outlet: str = "a.example",
    *,
    label: str = "weapons_test",
    tension: int = 80,
    actors: tuple[str, ...] = KOREA,
    modality: str = "actual",
    title: str = "",
) -> Sighting:
    """An item joining ``event_id`` at ``at`` (its decide time; published a minute before)."""
    dyads = ("-".join(sorted(actors)),) if len(actors) == 2 else ()
    return Sighting(
        event_id=event_id,
        joined_at=at,
        item_id=f"{outlet}/{event_id}/{at:%H%M%S}/{tension}",
        feed_url=f"https://{outlet}/rss",
        feed_name=outlet,
        title=title or f"story {event_id}",
        link=f"https://{outlet}/{event_id}/{tension}",
        published=at - timedelta(minutes=1),
        seen_at=at,
        label=label,
        tension=tension,
        actors=actors,
        dyads=dyads,
        modality=modality,
    )


def replay(sightings: list[Sighting], settings: AlertingSettings, **options: Any) -> Outcome:
    return simulate(
        timeline(sightings),
        settings,
        region_of=REGIONS.get,
        severity=lambda label: SEVERITY.get(label, 0.0),
        **options,
    )


def kinds(outcome: Outcome) -> dict[str, int]:
    return {
        kind: outcome.total(kind)
        for kind in ("post", "update", "reply", "group", "digest")
        if outcome.total(kind)
    }


def alerted(outcome: Outcome) -> list[tuple[int, str, str]]:
    return [(alert.event_id, alert.channel, alert.how) for alert in outcome.alerted]


# growing events ------------------------------------------------------------------------------


def test_events_grow_as_clustering_grows_them() -> None:
    batches = timeline(
        [
            seen(7, T, "a.example", tension=70, actors=("KP",)),
            seen(
                7,
                T + timedelta(minutes=5),
                "www.b.example",
                tension=90,
                actors=KOREA,
                modality="hypothetical",
            ),  # more tense, but only what could happen
            seen(
                7,
                T + timedelta(minutes=9),
                "a.example",
                tension=75,
                label="armed_conflict",
                actors=("KR", "JP"),
            ),  # a second item from the same outlet
        ],
        tier_of=lambda name: 1 if name == "b.example" else 2,
    )
    assert [batch.items for batch in batches] == [1, 1, 1]
    first, second, third = (batch.events[0] for batch in batches)
    assert (first.id, first.label, first.tension, first.sources[0].name) == (
        7,
        "weapons_test",
        70,
        "a.example",
    )
    assert (second.tension, second.modality) == (70, "actual")  # the actual report keeps the lead
    assert [(s.name, s.tier) for s in second.sources] == [("a.example", 2), ("b.example", 1)]
    assert (third.label, third.tension, len(third.sources)) == ("armed_conflict", 75, 2)
    assert third.actors == ("KP", "KR", "JP") and third.dyads == ("JP-KR", "KP-KR")
    assert third.first_seen == T - timedelta(minutes=1)
    assert third.last_seen == T + timedelta(minutes=8)


@pytest.mark.parametrize(
    "link",
    ["https://www.Reuters.com/world/x?y=1", "https://reuters.com", "https://www.reuters.com/b",
     "http://user:pw@bbc.co.uk:8080/a", "https://x.example?q=/a", "https://x.example#f/a", "",
     None, "www.no-scheme.example/a", "  https://www.y.example/a", "https://[::1]:80/x",
     "https:///no-host"],
)  # fmt: skip
def test_outlets_are_credited_as_the_daemon_credits_them(link: str | None) -> None:
    outlet = outlets()
    for feed in ("feed one", "feed two"):  # remembered per host and feed: the feed is a fallback
        item = Item("id", "https://feed/rss", feed, "title", "", link, None, T)
        assert outlet(item) == outlet(item) == source_of(item)


def test_a_batch_is_one_decide_time_and_plans_the_most_tense_first() -> None:
    batches = timeline(
        [
            seen(1, T, tension=70),
            seen(2, T, tension=90),
            seen(1, T, "b.example", tension=75),
            seen(3, T, tension=90),
        ]
    )
    (batch,) = batches
    assert batch.items == 4
    assert [(event.id, event.tension) for event in batch.events] == [(2, 90), (3, 90), (1, 75)]


# what alerts ---------------------------------------------------------------------------------


def test_thresholds_change_how_many_posts_go_out() -> None:
    history = [
        seen(n, T + timedelta(minutes=n), tension=tension)
        for n, tension in enumerate((55, 65, 75, 85), start=1)
    ]
    posts = [replay(history, alerting(default_threshold=t)).total("post") for t in (50, 60, 70, 80)]
    assert posts == [4, 3, 2, 1]
    per_label = alerting(default_threshold=90, thresholds={"weapons_test": 60})
    assert replay(history, per_label).total("post") == 3


def test_a_mute_removes_posts_while_it_lasts() -> None:
    history = [
        seen(1, T),
        seen(2, T + timedelta(hours=2), actors=WAR),
        seen(3, T + timedelta(hours=5)),
    ]
    settings = alerting(mutes=[{"actors": ["KP"], "until": (T + timedelta(hours=4)).isoformat()}])
    outcome = replay(history, settings)
    assert [event_id for event_id, _c, _h in alerted(outcome)] == [2, 3]
    assert outcome.muted == 1


def test_an_open_war_inhibits_threats_for_its_dyad_for_the_rules_duration() -> None:
    history = [
        seen(1, T, label="armed_conflict", tension=90, actors=WAR),
        seen(2, T + timedelta(hours=1), label="threat", tension=80, actors=WAR),
        seen(3, T + timedelta(hours=2), label="threat", tension=80, actors=("RU", "PL")),
        seen(4, T + timedelta(hours=30), label="threat", tension=80, actors=WAR),
    ]
    outcome = replay(history, alerting())
    assert [event_id for event_id, _c, _h in alerted(outcome)] == [1, 3, 4]
    assert outcome.inhibited == 1
    unruled = replay(history, alerting(inhibit_rules=[]))
    assert unruled.total("post") == 4 and unruled.inhibited == 0


def test_an_inhibit_rule_on_regions_looks_past_dyads() -> None:
    rule = {
        "source": {"labels": ["armed_conflict"]},
        "target": {"labels": ["threat"]},
        "equal": ["region"],
    }
    history = [
        seen(1, T, label="armed_conflict", tension=90, actors=("RU",)),
        seen(2, T + timedelta(hours=1), label="threat", tension=80, actors=("RU", "PL")),
    ]
    outcome = replay(history, alerting(inhibit_rules=[rule]))
    assert alerted(outcome) == [(1, "#tension-alerts", "post")] and outcome.inhibited == 1


def test_a_war_expired_from_the_open_alerts_comes_back_when_it_repeats() -> None:
    war = [seen(1, T, label="armed_conflict", tension=90, actors=WAR)]
    later = [
        seen(2, T + timedelta(hours=75), label="threat", tension=80, actors=WAR),  # war expired
        seen(
            1, T + timedelta(hours=80), "b.example", label="armed_conflict", tension=90, actors=WAR
        ),  # still reported: a repeat, and the alert is open again
        seen(3, T + timedelta(hours=81), label="threat", tension=80, actors=WAR),
    ]
    outcome = replay(war + later, alerting())
    assert [(e, how) for e, _c, how in alerted(outcome)] == [(1, "post"), (2, "post")]
    assert outcome.inhibited == 1 and kinds(outcome) == {"post": 2, "update": 1, "reply": 1}


def test_routes_send_to_their_own_channels() -> None:
    settings = alerting(
        routes=[
            {"name": "asia", "channel": "#asia", "regions": ["east_asia"]},
            {"name": "wars", "channel": "#wars", "labels": ["armed_conflict"], "continue": True},
            {"name": "europe", "channel": "#europe", "actors": ["UA"]},
        ]
    )
    history = [
        seen(1, T),
        seen(2, T + timedelta(hours=1), label="armed_conflict", tension=90, actors=WAR),
        seen(3, T + timedelta(hours=2), actors=("BR",)),
    ]
    outcome = replay(history, settings)
    assert sorted(outcome.messages) == [
        ("asia", "#asia", "post"),
        ("default", "#tension-alerts", "post"),
        ("europe", "#europe", "post"),
        ("wars", "#wars", "post"),
    ]
    assert outcome.by_channel("post") == {
        "#asia": 1,
        "#wars": 1,
        "#europe": 1,
        "#tension-alerts": 1,
    }


def test_more_outlets_update_once_per_group_interval_and_a_rise_replies() -> None:
    history = [
        seen(1, T, "a.example"),
        seen(1, T + timedelta(minutes=1), "b.example"),  # an update, due at T+5m
        seen(1, T + timedelta(minutes=2), "c.example"),  # that update is still waiting
        seen(1, T + timedelta(minutes=10), "d.example", tension=95),  # another update; it rises
    ]
    outcome = replay(history, alerting(group_interval="5m"))
    assert kinds(outcome) == {"post": 1, "update": 2, "reply": 1}


def test_talks_ease_an_open_war() -> None:
    history = [
        seen(1, T, label="armed_conflict", tension=90, actors=WAR),
        seen(2, T + timedelta(hours=5), label="cooperation", tension=10, actors=WAR),
        seen(3, T + timedelta(hours=80), label="cooperation", tension=10, actors=WAR),
    ]
    assert kinds(replay(history, alerting())) == {"post": 1, "reply": 1}


def test_a_burst_beyond_the_budget_is_grouped_least_tense_last() -> None:
    history = [seen(n, T, tension=70 + n) for n in range(1, 6)]
    outcome = replay(history, alerting(rate={"group_after": 2}))
    assert kinds(outcome) == {"post": 2, "group": 1}
    assert alerted(outcome) == [
        (5, "#tension-alerts", "post"),
        (4, "#tension-alerts", "post"),
        (3, "#tension-alerts", "group"),
        (2, "#tension-alerts", "group"),
        (1, "#tension-alerts", "group"),
    ]
    later = [seen(n, T + timedelta(hours=1), "b.example", tension=70 + n) for n in (1, 5)]
    grown = replay(history + later, alerting(rate={"group_after": 2}))
    assert kinds(grown) == {"post": 2, "group": 1, "update": 1}  # a grouped event is not updated


def test_history_before_the_window_builds_state_without_being_counted() -> None:
    history = [
        seen(1, T),
        seen(1, T + timedelta(hours=2), "b.example"),
        seen(2, T + timedelta(hours=3)),
    ]
    outcome = replay(history, alerting(), count_from=T + timedelta(hours=1))
    assert kinds(outcome) == {"post": 1, "update": 1}  # event 1 was posted before the window
    assert [event_id for event_id, _c, _h in alerted(outcome)] == [2]


def test_quiet_hours_hold_for_the_digest_at_its_time() -> None:
    settings = alerting(
        quiet_hours=[{"start": "08:00", "end": "10:00", "bypass_tension": 95}],
        digest={"times": ["12:00"]},
    )
    history = [
        seen(1, T),
        seen(2, T + timedelta(minutes=5)),
        seen(3, T + timedelta(minutes=6), tension=96),
        seen(2, T + timedelta(minutes=20), "b.example", tension=97),
    ]
    done = replay(history, settings, until=T + timedelta(hours=4))
    assert kinds(done) == {"post": 2, "digest": 1}  # 2 turned urgent while held: posted
    assert done.held == 1 and [(e, how) for e, _c, how in alerted(done)] == [
        (3, "post"),
        (2, "post"),
        (1, "digest"),
    ]
    waiting = replay(history, settings, until=T + timedelta(hours=2))
    assert kinds(waiting) == {"post": 2} and waiting.held == 1
    assert alerted(waiting)[-1] == (1, "#tension-alerts", "held")


def test_the_next_digest_slot_is_in_its_time_zone_and_may_be_tomorrow() -> None:
    digest = DigestSettings(times=("07:00", "19:00"), timezone="Asia/Seoul")
    assert next_slot(digest, T) == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # 19:00 in Seoul
    assert next_slot(digest, T.replace(hour=11)) == datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    assert next_slot(digest, datetime(2026, 3, 2, 10, 0, tzinfo=UTC)) == datetime(
        2026, 3, 2, 10, 0, tzinfo=UTC)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 6),
            st.integers(0, 48),
            st.integers(30, 100),
            st.sampled_from(["weapons_test", "threat", "unrest", "armed_conflict"]),
            st.sampled_from([KOREA, WAR, ("BR",)]),
        ),
        min_size=1,
        max_size=25,
    ),
    st.integers(35, 95),
)
def test_a_lower_threshold_alerts_at_least_what_a_higher_one_does(
    rows: list[tuple[int, int, int, str, tuple[str, ...]]], threshold: int
) -> None:
    """Without inhibition (which can let a higher threshold send *more*: a war that no longer
    alerts no longer holds back threats), lowering the threshold never loses an alert."""
    history = sorted(
        (
            seen(
                event,
                T + timedelta(hours=hour),
                f"o{hour}.example",
                label=label,
                tension=tension,
                actors=actors,
            )
            for event, hour, tension, label, actors in rows
        ),
        key=lambda sighting: sighting.joined_at,
    )

    def events(at: int) -> set[int]:
        outcome = replay(history, alerting(default_threshold=at, inhibit_rules=[]))
        return {alert.event_id for alert in outcome.alerted}

    assert events(threshold - 5) >= events(threshold)
