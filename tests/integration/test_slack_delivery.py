"""Delivery through slack-sdk to a real Slack-compatible HTTP server on loopback."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tensiond import pipeline
from tensiond.alerts.slack import ConsoleSender, SlackSender
from tensiond.clock import SimulatedClock
from tensiond.metrics import Metrics
from tensiond.storage.repository import Repository
from tensiond.types import Alert
from tests.conftest import make_settings
from tests.slackserver import Reply, SlackServer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = "xoxb-test-123456-secret"


def alert(key: str, channel: str = "#alerts") -> Alert:
    return Alert(
        key=key, item_id=key, route="default", channel=channel, label="weapons_test",
        tension=82, title="North Korea fires <!channel> missile", link="https://news.example/a",
        source="news.example", actors=("KP",), modality="actual", why=("weapons_test 97%",),
        published=NOW, created_at=NOW,
    )  # fmt: skip


@pytest.fixture
def slack():  # type: ignore[no-untyped-def]
    with SlackServer() as server:
        yield server


def services(repository: Repository, slack: SlackServer, tmp_path: Path, **slack_settings: object):  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path, slack={"api_url": slack.url, "max_retries": 2, **slack_settings}
    )
    return pipeline.Services(
        settings=settings,
        repository=repository,
        fetcher=None,  # type: ignore[arg-type]
        classifier=None,  # type: ignore[arg-type]
        sender=SlackSender(settings.slack, TOKEN),
        clock=SimulatedClock(NOW),
        metrics=Metrics(),
        owner="test",
    )


def enqueue(repository: Repository, *alerts: Alert) -> None:
    from tensiond.alerts.render import render

    repository.enqueue_alerts(list(alerts), [render(a) for a in alerts])


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
    from tensiond.pipeline import _payload

    stream = io.StringIO()
    settings = make_settings(tmp_path)
    run = pipeline.Services(
        settings=settings, repository=repository, fetcher=None, classifier=None,  # type: ignore[arg-type]
        sender=ConsoleSender(stream), clock=SimulatedClock(NOW), metrics=Metrics(), owner="t",
    )  # fmt: skip
    repository.enqueue_alerts([alert("a1")], [_payload(alert("a1"), str)])
    assert pipeline.deliver(run).sent == 1
    text = stream.getvalue()
    assert "ALERT #alerts" in text and "weapons_test" in text and "tension 82" in text
    assert repository.alerts("sent")[0]["slack_ts"] == "console-1"
