"""Clustering items into events: a pure function of vectors, terms, actors and time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from tensiond.config.schema import EventSettings
from tensiond.events.cluster import Report, cluster, overlap, story_terms
from tensiond.types import LABELS, Classification, Item, Source

NOW = datetime(2026, 10, 14, 6, 0, tzinfo=UTC)
SETTINGS = EventSettings()


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def report(
    number: int,
    vector: np.ndarray,
    *,
    outlet: str = "news.example",
    actors: tuple[str, ...] = ("KP",),
    title: str = "North Korea fires ballistic missile into the sea",
    label: str = "weapons_test",
    tension: int = 80,
    modality: str = "actual",
    at: datetime = NOW,
) -> Report:
    item = Item(
        id=f"https://{outlet}/{number}", feed_url=f"https://{outlet}/rss", feed_name=outlet,
        title=title, summary="", link=f"https://{outlet}/{number}", published=at, seen_at=at,
    )  # fmt: skip
    verdict = Classification(
        item_id=item.id, label=label, probabilities=dict.fromkeys(LABELS, 0.1), tension=tension,
        actors=actors, dyads=(), modality=modality, why=(), model_version="t",
    )  # fmt: skip
    source = Source(outlet, 2, item.id, title, item.link, at, label, tension)
    return Report(item, verdict, vector, story_terms(title), source)


def test_one_story_from_several_outlets_is_one_event() -> None:
    reports = [
        report(1, unit(1, 0.1, 0), outlet="yna.co.kr"),
        report(2, unit(1, 0.2, 0), outlet="nhk.or.jp", title="N. Korea launches missile: Japan"),
        report(3, unit(1, 0.15, 0.1), outlet="bbc.co.uk", at=NOW + timedelta(minutes=30)),
    ]
    events, assignments, changed = cluster(reports, [], SETTINGS, NOW + timedelta(hours=1))
    assert len(events) == 1 and changed == {0}
    (event,) = events
    assert [source.name for source in event.sources] == ["yna.co.kr", "nhk.or.jp", "bbc.co.uk"]
    assert event.size == 3 and event.last_seen == NOW + timedelta(minutes=30)
    assert abs(float(np.linalg.norm(event.centroid)) - 1.0) < 1e-3
    assert [a.event for a in assignments] == [0, 0, 0]


def test_different_stories_stay_apart() -> None:
    reports = [report(1, unit(1, 0, 0)), report(2, unit(0, 1, 0), title="Sanctions on Iran")]
    events, _, _ = cluster(reports, [], SETTINGS, NOW)
    assert len(events) == 2


def test_similar_stories_about_other_actors_need_the_strong_similarity() -> None:
    north_korea = report(1, unit(1, 0, 0))
    same_actor = report(2, unit(1, 1, 0))  # cosine 0.71: similar, below the strong similarity
    iran = report(3, unit(1, 1, 0), actors=("IR",), title="Iran test-fires ballistic missile")
    assert len(cluster([north_korea, same_actor], [], SETTINGS, NOW)[0]) == 1
    assert len(cluster([north_korea, iran], [], SETTINGS, NOW)[0]) == 2
    loose = SETTINGS.model_copy(update={"strong_similarity": 0.7})
    assert len(cluster([north_korea, iran], [], loose, NOW)[0]) == 1


def test_an_item_with_no_actors_can_join_by_similarity_alone() -> None:
    events, _, _ = cluster(
        [report(1, unit(1, 0.1, 0)), report(2, unit(1, 0.12, 0), actors=())], [], SETTINGS, NOW
    )
    assert len(events) == 1


def test_old_events_are_not_joined_outside_the_window_or_the_span() -> None:
    (first,), _, _ = cluster([report(1, unit(1, 0, 0))], [], SETTINGS, NOW)
    later = NOW + SETTINGS.window + timedelta(minutes=1)
    events, _, _ = cluster([report(2, unit(1, 0, 0), at=later)], [first], SETTINGS, later)
    assert len(events) == 2
    long_running = replace(first, last_seen=NOW + timedelta(hours=70))  # joined all along
    after_span = NOW + SETTINGS.max_span + timedelta(hours=1)
    events, _, _ = cluster(
        [report(3, unit(1, 0, 0), at=after_span)], [long_running], SETTINGS, after_span
    )
    assert len(events) == 2


def test_the_most_tense_actual_report_speaks_for_the_event() -> None:
    threat = report(1, unit(1, 0.1, 0), label="threat", tension=70, title="Seoul warns")
    strike = report(2, unit(1, 0.1, 0.05), label="armed_conflict", tension=90, title="Shelling")
    memory = report(3, unit(1, 0.1, 0.02), tension=95, modality="historical", title="In 1983")
    (event,), _, _ = cluster([threat, strike, memory], [], SETTINGS, NOW)
    assert (event.label, event.tension, event.title) == ("armed_conflict", 90, "Shelling")
    assert event.size == 3 and len(event.sources) == 1  # one outlet, counted once


def test_story_terms_keep_names_and_numbers_not_filler() -> None:
    terms = story_terms("N. Korea fires 2 missiles 1,000 km into the East Sea, says the JCS")
    assert {"korea", "fires", "missiles", "1,000", "east", "sea", "jcs"} <= terms
    assert not {"the", "into", "says", "km"} & terms
    assert overlap(terms, story_terms("Korea fires missiles")) == 1.0
    assert overlap(frozenset(), terms) == 0.0


def test_the_same_dyad_and_label_within_hours_join_at_a_lower_similarity() -> None:
    def pair(number: int, vector: np.ndarray, label: str, at: datetime) -> Report:
        base = report(number, vector, actors=("KP", "US"), label=label, at=at, title=f"T{number}")
        verdict = replace(base.verdict, dyads=("KP-US",))
        return replace(base, verdict=verdict, terms=frozenset())

    first = pair(1, unit(1, 0, 0), "threat", NOW)
    close = pair(2, unit(1, 1.6, 0), "threat", NOW + timedelta(hours=3))  # cosine 0.53
    assert len(cluster([first, close], [], SETTINGS, NOW + timedelta(hours=3))[0]) == 1
    assert len(cluster([first, replace(close, verdict=replace(close.verdict, label="coercion"))],
                       [], SETTINGS, NOW + timedelta(hours=3))[0]) == 2  # fmt: skip
    late = pair(3, unit(1, 1.6, 0), "threat", NOW + timedelta(hours=13))
    assert len(cluster([first, late], [], SETTINGS, NOW + timedelta(hours=13))[0]) == 2
    no_bonus = SETTINGS.model_copy(update={"dyad_bonus": 0.0})
    assert len(cluster([first, close], [], no_bonus, NOW + timedelta(hours=3))[0]) == 2
