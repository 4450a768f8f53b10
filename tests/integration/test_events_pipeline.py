"""Events through real storage and a real Slack-compatible server: the life of an alert.

Reports are built by hand (story vectors chosen so the stories are told apart), then go through
the pipeline's own cluster-decide-commit step and its delivery, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tensiond import pipeline
from tensiond.alerts.slack import SlackSender
from tensiond.classify.actors import Gazetteer, default_gazetteer_path
from tensiond.clock import SimulatedClock
from tensiond.events.cluster import Report, story_terms
from tensiond.metrics import Metrics
from tensiond.storage.repository import Repository
from tensiond.types import LABELS, Classification, Item, Source
from tests.conftest import make_settings
from tests.factories import NOW
from tests.slackserver import SlackServer

GAZETTEER = Gazetteer.load(default_gazetteer_path())


class Names:
    gazetteer = GAZETTEER


@pytest.fixture
def slack():  # type: ignore[no-untyped-def]
    with SlackServer() as server:
        yield server


def services(repository: Repository, slack: SlackServer, tmp_path: Path, **alerting: Any):  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, slack={"api_url": slack.url}, alerting=alerting)
    return pipeline.Services(
        settings=settings, repository=repository, fetcher=None,  # type: ignore[arg-type]
        classifier=Names(), sender=SlackSender(settings.slack, "xoxb-t"),  # type: ignore[arg-type]
        clock=SimulatedClock(NOW), metrics=Metrics(), owner="test",
    )  # fmt: skip


def axis(number: int, size: int = 256) -> np.ndarray:
    vector = np.zeros(size, dtype=np.float32)
    vector[number % size] = 1.0
    return vector


def report(
    run: pipeline.Services,
    story: int,
    outlet: str,
    title: str,
    *,
    label: str = "weapons_test",
    tension: int = 80,
    actors: tuple[str, ...] = ("KP",),
) -> Report:
    now = run.clock.now()
    item = Item(
        id=f"https://{outlet}/{story}-{title[:10]}", feed_url=f"https://{outlet}/rss",
        feed_name=outlet, title=title, summary="", link=f"https://{outlet}/{story}",
        published=now, seen_at=now,
    )  # fmt: skip
    dyads = tuple("-".join(sorted(pair)) for pair in [actors] if len(pair) == 2)
    verdict = Classification(
        item_id=item.id, label=label, probabilities=dict.fromkeys(LABELS, 0.1), tension=tension,
        actors=actors, dyads=dyads, modality="actual", why=(f"{label} 90%",), model_version="t",
    )  # fmt: skip
    run.repository.add_items([item])
    run.repository.save_classifications([verdict], now)
    source = Source(outlet, 2, item.id, title, item.link, now, label, tension)
    return Report(item, verdict, axis(story), story_terms(title), source)


def decide(run: pipeline.Services, reports: list[Report], now: Any) -> list[Any]:
    return pipeline._decide(run, reports, now)[0]


def deliver_for(run: pipeline.Services, seconds: int) -> list[int]:
    """Run delivery once a simulated second; how many requests each second made."""
    counts = []
    for _ in range(seconds):
        report = pipeline.deliver(run, limit=500)
        counts.append(report.sent)
        run.clock.advance(timedelta(seconds=1))
    return counts


def test_a_burst_of_120_alerts_is_grouped_and_paced_and_nothing_is_dropped(
    repository, slack, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    reports = [
        report(run, n, "wire.example", f"Story number {n} about a launch") for n in range(120)
    ]
    messages = decide(run, reports, NOW)
    kinds = [m.kind for m in messages]
    assert kinds.count("post") == 5 and kinds.count("group") == 6
    per_second = deliver_for(run, 15)
    assert per_second[0] == 3 and max(per_second[1:]) <= 1  # the burst, then one a second
    assert sum(per_second) == 11 and repository.alert_counts() == {"sent": 11}
    listed = "".join(str(p.body.get("blocks")) for p in slack.posts())
    for n in range(120):
        assert f"Story number {n} about" in listed, n


def test_the_same_reports_again_change_nothing(repository, slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path)
    reports = [report(run, 1, "a.example", "North Korea fires missile")]
    assert len(decide(run, reports, NOW)) == 1
    assert decide(run, reports, NOW) == []  # already clustered: a retried batch
    assert repository.count("events") == 1


def test_sources_update_one_message_and_a_war_inhibits_threats_then_talks_ease_it(
    repository, slack, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, slack, tmp_path, group_interval="30s")
    war = [
        report(run, 1, outlet, "Shelling across the border kills 3", label="armed_conflict",
               tension=90, actors=("KP", "KR"))
        for outlet in ("a.example", "b.example")
    ]  # fmt: skip
    decide(run, war[:1], NOW)
    deliver_for(run, 2)
    decide(run, war[1:], run.clock.now())
    threat = report(run, 2, "c.example", "Pyongyang vows revenge", label="threat", tension=75,
                    actors=("KP", "KR"))  # fmt: skip
    assert decide(run, [threat], run.clock.now()) == []  # inhibited by the war
    talks = report(run, 3, "d.example", "Generals agree to talks at Panmunjom",
                   label="cooperation", tension=10, actors=("KP", "KR"))  # fmt: skip
    (easing,) = decide(run, [talks], run.clock.now())
    assert easing.kind == "reply"
    deliver_for(run, 40)
    (post, reply) = slack.posts()
    (update,) = slack.posts("chat.update")
    assert reply.body["thread_ts"] == update.body["ts"] == repository.alerts("sent")[0]["slack_ts"]
    assert "Easing" in reply.body["text"]
    assert "2 sources" in str(slack.message(post.body["channel"], update.body["ts"])["blocks"])


def test_quiet_hours_hold_alerts_for_the_digest(repository, slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = services(
        repository, slack, tmp_path,
        quiet_hours=[{"start": "11:00", "end": "13:00"}], digest={"times": ["13:00"]},
    )  # fmt: skip
    held = [report(run, n, "a.example", f"Held story {n}") for n in range(3)]
    assert decide(run, held, NOW) == []
    assert pipeline.digest(run) == 0  # the 08:00 slot came before they were held
    run.clock.advance(timedelta(hours=1, minutes=1))
    assert pipeline.digest(run) == 1 and pipeline.digest(run) == 0
    deliver_for(run, 2)
    (digest,) = slack.posts()
    assert "Digest: 3 alerts held back" in digest.body["text"]
    assert all(f"Held story {n}" in str(digest.body["blocks"]) for n in range(3))


def test_an_index_spike_is_routed_posted_with_its_chart_and_eases_in_its_thread(
    repository, slack, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from tensiond.index import Observation
    from tensiond.storage.index_store import IndexStore

    run = services(
        repository, slack, tmp_path,
        routes=[{"name": "korea", "channel": "#korea", "dyads": ["KP-KR"]},
                {"name": "wars", "channel": "#wars", "labels": ["armed_conflict"]}],
    )  # fmt: skip
    index = run.settings.index.model_copy(update={"cold_start_level": 6.0})
    run.settings = run.settings.model_copy(update={"index": index})
    run.index_store = IndexStore(repository.engine)
    burst = [
        Observation(NOW, ("KP", "KR"), ("KP-KR",), "armed_conflict", 95, "actual") for _ in range(8)
    ]
    messages = pipeline._update_index(run, burst)
    spikes = [m for m in messages if m.payload and m.payload["signal"]["key"] == "KP-KR"]  # type: ignore[index]
    assert [m.channel for m in spikes] == ["#korea"]  # label routes never take index alerts
    deliver_for(run, 5)
    (post,) = [p for p in slack.posts() if p.body["channel"] == "#korea"]
    assert "Tension spike" in post.body["text"] and "North Korea" in post.body["text"]
    charts = [f for f in slack.files if f["channel"] == slack.channel_id("#korea")]
    assert len(charts) == 1 and charts[0]["bytes"].startswith(b"\x89PNG")
    assert charts[0]["thread_ts"] == post_ts(repository, "#korea")
    for _day in range(12):  # quiet days: the index decays back to normal
        run.clock.advance(timedelta(days=1))
        pipeline._update_index(run, [])
        deliver_for(run, 2)
    easings = [p for p in slack.posts() if "Tension easing" in p.body.get("text", "")]
    assert easings and any(
        e.body.get("thread_ts") == post_ts(repository, "#korea") for e in easings
    )


def post_ts(repository: Repository, channel: str) -> str:
    rows = [r for r in repository.alerts("sent") if r["channel"] == channel and r["kind"] == "post"]
    return str(rows[0]["slack_ts"])


def test_two_replicas_deciding_one_story_at_once_make_one_event_and_one_post(
    repository, slack, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import threading

    first = services(repository, slack, tmp_path)
    second = services(repository, slack, tmp_path)
    reports = [
        report(run, 5, outlet, "North Korea fires ballistic missile")
        for run, outlet in ((first, "a.example"), (second, "b.example"))
    ]
    results: list[list[Any]] = []
    barrier = threading.Barrier(2)

    def replica(run: pipeline.Services, mine: Report) -> None:
        barrier.wait()
        results.append(decide(run, [mine], NOW))

    threads = [
        threading.Thread(target=replica, args=(run, mine))
        for run, mine in zip((first, second), reports, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kinds = sorted(message.kind for found in results for message in found)
    assert kinds == ["post", "update"] and repository.count("events") == 1
