"""Storage on real SQLite and real PostgreSQL: migrations, dedupe, leases, the outbox."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import inspect

from tensiond.storage.repository import Repository
from tensiond.storage.schema import Base
from tensiond.types import LABELS, Classification, Item, Message
from tests.factories import make_event, store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def item(number: int, **changes: object) -> Item:
    base = Item(
        id=f"https://news.example/{number}",
        feed_url="https://feed.example/rss",
        feed_name="Wire",
        title=f"Story {number}",
        summary="",
        link=f"https://news.example/{number}",
        published=NOW,
        seen_at=NOW,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def alert(key: str, item_id: str = "https://news.example/1", at: datetime = NOW) -> Message:
    return Message(
        key=key, kind="post", route="default", channel="#c", event_id=None, item_id=item_id,
        due=at, payload={"text": key},
    )  # fmt: skip


def test_migrations_create_exactly_the_schema_the_models_declare(repository: Repository) -> None:
    inspector = inspect(repository.engine)
    for table in Base.metadata.sorted_tables:
        columns = {column["name"] for column in inspector.get_columns(table.name)}
        assert columns == {column.name for column in table.columns}, table.name


def test_an_item_is_new_only_once_through_any_feed(repository: Repository) -> None:
    first = repository.add_items([item(1), item(2), item(1)])
    assert [i.id for i in first] == ["https://news.example/1", "https://news.example/2"]
    again = repository.add_items([item(1, feed_url="https://other.example/rss"), item(3)])
    assert [i.id for i in again] == ["https://news.example/3"]
    assert repository.count("items") == 3


def test_datetimes_come_back_utc_aware(repository: Repository) -> None:
    repository.add_items([item(1)])
    stored = repository.item("https://news.example/1")
    assert stored is not None and stored.published == NOW and stored.published.tzinfo is not None


def test_classifications_mark_items_done(repository: Repository) -> None:
    repository.add_items([item(1), item(2)])
    verdict = Classification(
        item_id="https://news.example/1", label="threat", probabilities=dict.fromkeys(LABELS, 0.1),
        tension=70, actors=("IR",), dyads=(), modality="threatened", why=("threat",),
        model_version="t",
    )  # fmt: skip
    repository.save_classifications([verdict], NOW)
    assert [i.id for i in repository.unclassified_items(10)] == ["https://news.example/2"]


def test_due_feeds_are_leased_to_one_owner(repository: Repository) -> None:
    repository.sync_feeds([("https://a.example/rss", "a"), ("https://b.example/rss", "b")], NOW)
    first = repository.claim_due_feeds(NOW, "one", timedelta(minutes=1))
    assert len(first) == 2
    assert repository.claim_due_feeds(NOW, "two", timedelta(minutes=1)) == []
    later = NOW + timedelta(minutes=2)
    assert len(repository.claim_due_feeds(later, "two", timedelta(minutes=1))) == 2


def test_a_recorded_poll_releases_the_lease_and_schedules_the_next(repository: Repository) -> None:
    repository.sync_feeds([("https://a.example/rss", "a")], NOW)
    (state,) = repository.claim_due_feeds(NOW, "one", timedelta(minutes=5))
    updated = replace(state, etag='"v1"', next_poll_at=NOW + timedelta(minutes=10))
    repository.record_poll(updated, polled_at=NOW, status=200, error=None)
    assert repository.claim_due_feeds(NOW + timedelta(minutes=1), "two", timedelta(minutes=1)) == []
    (again,) = repository.claim_due_feeds(NOW + timedelta(minutes=11), "two", timedelta(minutes=1))
    assert again.etag == '"v1"'


def test_removed_feeds_are_deactivated_not_deleted(repository: Repository) -> None:
    repository.sync_feeds([("https://a.example/rss", "a"), ("https://b.example/rss", "b")], NOW)
    repository.sync_feeds([("https://a.example/rss", "a")], NOW)
    assert [s.url for s in repository.feed_states()] == ["https://a.example/rss"]
    assert repository.count("feeds") == 2


def test_the_outbox_keeps_one_row_per_key(repository: Repository) -> None:
    assert repository.enqueue([alert("k1"), alert("k2")], NOW) == 2
    assert repository.enqueue([alert("k1")], NOW) == 0
    assert repository.alerted_keys(["k1", "k3"]) == {"k1"}


def test_pending_alerts_are_leased_sent_and_retried(repository: Repository) -> None:
    repository.enqueue([alert("k1"), alert("k2")], NOW)
    claimed = repository.claim_pending_alerts(NOW, "one", timedelta(seconds=30))
    assert [e.key for e in claimed] == ["k1", "k2"] and claimed[0].attempts == 1
    assert repository.claim_pending_alerts(NOW, "two", timedelta(seconds=30)) == []
    repository.mark_sent(claimed[0].id, "1700000000.000001", NOW)
    repository.mark_retry(claimed[1].id, NOW + timedelta(seconds=10), "http_503")
    assert (
        repository.claim_pending_alerts(NOW + timedelta(seconds=5), "two", timedelta(seconds=30))
        == []
    )
    (retry,) = repository.claim_pending_alerts(
        NOW + timedelta(seconds=11), "two", timedelta(seconds=30)
    )
    assert retry.key == "k2" and retry.attempts == 2
    repository.mark_failed(retry.id, "channel_not_found")
    assert repository.alert_counts() == {"sent": 1, "failed": 1}
    sent = repository.alerts("sent")[0]
    assert sent["slack_ts"] == "1700000000.000001"


def test_racing_replicas_never_claim_the_same_alert(repository: Repository) -> None:
    count = 40
    repository.enqueue([alert(f"k{i}") for i in range(count)], NOW)
    claimed: list[list[str]] = []
    lock = threading.Lock()

    def replica(name: str) -> None:
        mine = []
        for _ in range(10):
            mine += [
                e.key for e in repository.claim_pending_alerts(NOW, name, timedelta(minutes=1), 3)
            ]
        with lock:
            claimed.append(mine)

    threads = [threading.Thread(target=replica, args=(f"r{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [key for keys in claimed for key in keys]
    assert len(every) == len(set(every)) == count


def test_pruning_keeps_what_a_pending_alert_needs(repository: Repository) -> None:
    old = NOW - timedelta(days=40)
    repository.add_items([item(1, seen_at=old), item(2, seen_at=old), item(3)])
    repository.enqueue([alert("k1", "https://news.example/1")], NOW)
    assert repository.prune(NOW - timedelta(days=30)) == (1, 0)
    assert repository.item("https://news.example/1") is not None
    assert repository.item("https://news.example/2") is None


def test_pruning_drops_finished_alerts_but_never_pending_ones(repository: Repository) -> None:
    old = NOW - timedelta(days=40)
    repository.add_items([item(1, seen_at=old), item(2, seen_at=old)])
    repository.enqueue(
        [alert("k1", "https://news.example/1", old), alert("k2", "https://news.example/2", old)],
        old,
    )
    (first, _second) = repository.claim_pending_alerts(NOW, "one", timedelta(seconds=30))
    repository.mark_sent(first.id, "1.2", NOW)
    assert repository.prune(NOW - timedelta(days=30)) == (1, 1)
    assert [row["key"] for row in repository.alerts()] == ["k2"]
    assert repository.item("https://news.example/2") is not None


def test_the_same_article_through_two_feeds_with_different_guids_is_one_item(
    repository: Repository,
) -> None:
    first = item(1, id="guid:aaa", link="https://News.example/story?utm_source=rss&id=7")
    second = item(1, id="guid:bbb", link="https://news.example/story?id=7&utm_medium=feed")
    assert len(repository.add_items([first])) == 1
    assert repository.add_items([second]) == []
    third = item(1, id="guid:ccc", link="https://news.example/story?id=8")
    assert len(repository.add_items([third])) == 1


def test_pruning_keeps_events_a_pending_alert_needs_and_their_items(
    repository: Repository,
) -> None:
    old = NOW - timedelta(days=40)
    repository.add_items([item(1, seen_at=old), item(2, seen_at=old)])
    kept = store(repository, make_event("kept", at=old), old)
    gone = store(repository, make_event("gone", at=old), old)
    with repository.events_unit() as work:
        work.add_members([("https://news.example/1", kept.id, 1.0)], old)
        work.add_members([("https://news.example/2", gone.id, 1.0)], old)
    pending = replace(alert("k1", "https://news.example/1", old), event_id=kept.id)
    repository.enqueue([pending], old)
    repository.prune(NOW - timedelta(days=30))
    assert [event.title for event in repository.events()] == ["kept"]
    assert repository.item("https://news.example/1") is not None
    assert repository.item("https://news.example/2") is None


def test_events_round_trip_with_sources_terms_and_centroid(repository: Repository) -> None:
    from tests.factories import source

    event = replace(
        make_event(sources=(source("bbc.co.uk", tier=1), source("yna.co.kr"))),
        terms=frozenset({"missile", "pyongyang"}), centroid=(0.6, 0.8), dyads=("KP-KR",),
    )  # fmt: skip
    saved = store(repository, event)
    assert saved.id > 0
    loaded = repository.event(saved.id)
    assert loaded is not None
    assert loaded.sources == event.sources and loaded.terms == event.terms
    assert loaded.centroid == (0.6, 0.8) and loaded.dyads == ("KP-KR",)
    assert loaded.independent_sources(1) == 1 and loaded.independent_sources(2) == 2
