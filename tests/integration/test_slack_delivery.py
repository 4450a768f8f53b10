"""Delivery through slack-sdk to a real Slack-compatible HTTP server on loopback."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tensiond import pipeline
from tensiond.alerts.slack import ConsoleSender, SlackSender
from tensiond.clock import SimulatedClock
from tensiond.metrics import Metrics
from tensiond.storage.repository import Repository
from tensiond.types import Message
from tests.conftest import make_settings
from tests.factories import NOW, grow, make_event, post, store
from tests.slackserver import Reply, SlackServer

TOKEN = "xoxb-test-123456-secret"


@pytest.fixture
def slack():  # type: ignore[no-untyped-def]
    with SlackServer() as server:
        yield server


class _Names:
    """What delivery asks of the classifier: actor names for the message."""

    class gazetteer:  # noqa: N801
        name = staticmethod(lambda code: {"KP": "North Korea"}.get(code, code))


def services(repository: Repository, slack: SlackServer, tmp_path: Path, **slack_settings: object):  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path,
        slack={"api_url": slack.url, "max_retries": 2, **slack_settings},
        alerting={"rate": {"per_second": 50, "burst": 50}},
    )
    return pipeline.Services(
        settings=settings,
        repository=repository,
        fetcher=None,  # type: ignore[arg-type]
        classifier=_Names(),  # type: ignore[arg-type]
        sender=SlackSender(settings.slack, TOKEN),
        clock=SimulatedClock(NOW),
        metrics=Metrics(),
        owner="test",
    )


def alert(key: str, channel: str = "#alerts") -> tuple[str, str]:
    return key, channel


def enqueue(repository: Repository, *alerts: tuple[str, str]) -> list[Message]:
    """One stored event and its post per (name, channel)."""
    messages = [post(store(repository, make_event()), channel) for _name, channel in alerts]
    repository.enqueue(messages, NOW)
    return messages


def test_an_alert_is_posted_once_with_safe_options_and_marked_sent(
    repository, slack, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    enqueue(repository, alert("a1"))
    assert pipeline.deliver(run).sent == 1
    assert pipeline.deliver(run).sent == 0
    (post,) = slack.posts()
    assert post.headers["Authorization"] == f"Bearer {TOKEN}"
    assert post.body["channel"] == "#alerts"
    assert post.body["unfurl_links"] is False and post.body["unfurl_media"] is False
    assert post.body["link_names"] is False
    assert "<!channel>" not in str(post.body)
    row = repository.alerts("sent")[0]
    assert row["slack_ts"].startswith("1700000000.")


def test_5xx_and_resets_are_retried_inside_the_client(repository, slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    slack.then(Reply(status=503), Reply(reset=True))
    enqueue(repository, alert("a1"))
    assert pipeline.deliver(run).sent == 1
    assert len(slack.posts()) == 3


def test_persistent_5xx_is_rescheduled_not_lost(repository, slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    slack.then(*[Reply(status=502)] * 3)
    enqueue(repository, alert("a1"))
    assert pipeline.deliver(run).retried == 1
    assert repository.alerts("pending")[0]["error"] == "http_502"
    run.clock.advance(timedelta(minutes=1))
    assert pipeline.deliver(run).sent == 1


@pytest.mark.parametrize(
    "reason", ["invalid_auth", "channel_not_found", "not_in_channel", "is_archived"]
)
def test_permanent_errors_are_not_retried(repository, slack, tmp_path, reason: str) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    slack.then(Reply(body={"ok": False, "error": reason}))
    enqueue(repository, alert("a1"))
    assert pipeline.deliver(run).failed == 1
    assert len(slack.posts()) == 1
    assert repository.alerts("failed")[0]["error"] == reason


def test_invalid_blocks_falls_back_to_plain_text_once(repository, slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    slack.then(Reply(body={"ok": False, "error": "invalid_blocks"}))
    enqueue(repository, alert("a1"))
    assert pipeline.deliver(run).sent == 1
    first, second = slack.posts()
    assert "blocks" in first.body and "blocks" not in second.body
    assert "&lt;!channel&gt;" in second.body["text"]


def test_429_holds_only_that_channel_until_retry_after(repository, slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    slack.then(
        Reply(status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"})
    )
    enqueue(repository, alert("a1", "#busy"), alert("a2", "#busy"), alert("b1", "#quiet"))
    report = pipeline.deliver(run)
    assert report.sent == 1 and report.retried == 1
    assert [p.body["channel"] for p in slack.posts()] == ["#busy", "#quiet"]
    run.clock.advance(timedelta(seconds=10))
    assert pipeline.deliver(run).sent == 0
    run.clock.advance(timedelta(seconds=30))  # past Retry-After and its jitter (at most 20%)
    assert pipeline.deliver(run).sent == 2
    assert repository.alert_counts() == {"sent": 3}
    assert run.metrics.slack_ratelimited._value.get() == 1


def test_the_token_appears_in_no_stored_column(repository, slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    slack.then(Reply(body={"ok": False, "error": "invalid_auth"}))
    enqueue(repository, alert("a1"))
    pipeline.deliver(run)
    assert TOKEN not in str(repository.alerts())


def test_without_a_token_alerts_go_to_the_console(repository, tmp_path) -> None:  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    settings = make_settings(tmp_path)
    run = pipeline.Services(
        settings=settings, repository=repository, fetcher=None, classifier=_Names(),  # type: ignore[arg-type]
        sender=ConsoleSender(stream), clock=SimulatedClock(NOW), metrics=Metrics(), owner="t",
    )  # fmt: skip
    enqueue(repository, alert("a1"))
    assert pipeline.deliver(run).sent == 1
    text = stream.getvalue()
    assert "ALERT #alerts" in text and "weapons_test" in text and "tension 82" in text
    assert "North Korea" in text
    assert repository.alerts("sent")[0]["slack_ts"] == "console-1"


def test_an_update_edits_the_posted_message_in_place_with_the_latest_sources(
    repository, slack, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    event = store(repository, make_event())
    first = post(event)
    repository.enqueue([first], NOW)
    update = Message(
        key=f"{first.key}:update:2", kind="update", route="default", channel="#alerts",
        event_id=event.id, item_id=event.item_id, due=NOW, parent_key=first.key,
    )  # fmt: skip
    repository.enqueue([update], NOW)
    grow(repository, event, "bbc.co.uk", "apnews.com", "yna.co.kr", "nhk.or.jp")
    assert pipeline.deliver(run).sent == 2
    assert len(slack.posts()) == 1
    (edited,) = slack.posts("chat.update")
    assert edited.body["ts"] == repository.alerts("sent")[0]["slack_ts"]
    assert edited.body["channel"] == slack.channel_id("#alerts")
    assert "5 sources" in str(edited.body["blocks"]) and "Confirmed" in str(edited.body["blocks"])
    assert slack.message("#alerts", edited.body["ts"])["text"] == edited.body["text"]


def test_an_update_waits_for_its_post_without_spending_attempts(
    repository, slack, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    event = store(repository, make_event())
    first = post(event)
    update = Message(
        key=f"{first.key}:update:2", kind="update", route="default", channel="#alerts",
        event_id=event.id, item_id=event.item_id, due=NOW, parent_key=first.key,
    )  # fmt: skip
    repository.enqueue([update, replace_due(first, NOW + timedelta(minutes=5))], NOW)
    for _ in range(3):
        assert pipeline.deliver(run).sent == 0
        run.clock.advance(timedelta(seconds=5))
    row = next(r for r in repository.alerts() if r["kind"] == "update")
    assert row["state"] == "pending" and row["attempts"] == 0
    run.clock.advance(timedelta(minutes=5))
    assert pipeline.deliver(run).sent == 1  # the post; the update was claimed before it went
    run.clock.advance(timedelta(seconds=5))
    assert pipeline.deliver(run).sent == 1
    assert len(slack.posts("chat.update")) == 1


def test_a_reply_goes_into_the_thread_of_its_post(repository, slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    event = store(repository, make_event())
    first = post(event)
    reply = Message(
        key=f"{first.key}:reply:2", kind="reply", route="default", channel="#alerts",
        event_id=event.id, item_id=event.item_id, due=NOW, parent_key=first.key,
        payload={"headline": "Developing: now armed conflict", "broadcast": False},
    )  # fmt: skip
    repository.enqueue([first, reply], NOW)
    assert pipeline.deliver(run).sent == 2
    _parent, answer = slack.posts()
    assert answer.body["thread_ts"] == repository.alerts("sent")[0]["slack_ts"]
    assert "Developing" in answer.body["text"]


def test_a_burst_to_one_channel_is_paced_not_dropped(repository, slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    run = pipeline.Services(**{**run.__dict__, "settings": make_settings(
        tmp_path, slack={"api_url": slack.url}, alerting={"rate": {"per_second": 1, "burst": 3}},
    )})  # fmt: skip
    enqueue(repository, *[alert(f"a{i}") for i in range(10)], alert("q", "#quiet"))
    sent_at = []
    for _second in range(12):
        before = len(slack.posts())
        pipeline.deliver(run, limit=100)
        sent_at.append(len(slack.posts()) - before)
        run.clock.advance(timedelta(seconds=1))
    assert sent_at[0] == 4  # the burst of three to #alerts, and #quiet is not held up
    assert max(sent_at[1:]) == 1  # then one a second
    assert len(slack.posts()) == 11
    assert repository.alert_counts() == {"sent": 11}
    assert all(row["attempts"] == 1 for row in repository.alerts())


def replace_due(message: Message, due: datetime) -> Message:
    from dataclasses import replace

    return replace(message, due=due)
