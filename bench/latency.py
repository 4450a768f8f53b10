"""Latency from the poll that sees a new story to the message at the Slack server.

    .venv/bin/python bench/latency.py            # --feeds 100 --rounds 40

100 loopback feeds (a farm in its own process) of 20 items each, built from the team's corpus;
a Slack-compatible server on loopback records when each request arrives. After a warm-up poll
(every item is new once), each round puts one new story on top of one random feed, runs what the
daemon's poll job runs (poll all due feeds -> classify -> cluster -> decide -> commit -> deliver),
and measures from the start of that poll to the arrival of the message carrying the story's link.
The stories are the team's test-split headlines of distinct happenings that the model alerts on;
one that joins an event already alerted becomes an in-place update paced by ``group_interval``
(by design), and is reported apart. The real model is used; the clock for scheduling is
simulated (each round is an hour later, so every feed is due and the rate budget is full).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from tests.slackserver import SlackServer  # noqa: E402

from feedfarm import FeedFarm  # noqa: E402
from tensiond import app, pipeline  # noqa: E402
from tensiond.alerts.slack import SlackSender  # noqa: E402
from tensiond.classify.model import Story  # noqa: E402
from tensiond.clock import SimulatedClock  # noqa: E402
from tensiond.config.load import settings_from_mapping  # noqa: E402

START = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def stories(services: pipeline.Services, count: int, rng: random.Random) -> list[str]:
    """Headlines of distinct happenings from the test split that would alert."""
    rows = [json.loads(line) for line in (ROOT / "models/splits/test.jsonl").open()]
    seen, texts = set(), []
    for row in rng.sample(rows, len(rows)):
        if row["story"] not in seen and len(row["text"]) < 160 and row["label"] != "other":
            seen.add(row["story"])
            texts.append(row["text"])
    verdicts = services.classifier.classify([Story(str(n), t) for n, t in enumerate(texts)])
    threshold = services.settings.alerting.default_threshold
    alerting = [t for t, v in zip(texts, verdicts, strict=True) if v.tension >= threshold]
    return alerting[:count]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=40)
    arguments = parser.parse_args()
    rng = random.Random(11)
    with (
        FeedFarm(arguments.feeds, items=20, ports=10, base_port=18300) as farm,
        SlackServer() as slack,
        tempfile.TemporaryDirectory() as state,
    ):
        settings = settings_from_mapping(
            {
                "state_dir": state,
                "feeds": [{"url": url} for url in farm.urls],
                "fetch": {"allow_private_networks": True, "interval": "10m", "jitter": 0},
                "slack": {"api_url": slack.url},
                "alerting": {"max_age": "3650d"},
            },
            "bench",
            Path(state),
        )
        clock = SimulatedClock(START)
        services = app.build(settings, clock=clock, sender=SlackSender(settings.slack, "xoxb-b"))
        started = time.perf_counter()
        pipeline.poll(services)
        pipeline.classify_pending(services)
        pipeline.drain(
            services, timedelta(minutes=10), lambda s: clock.advance(timedelta(seconds=s))
        )
        print(f"warm-up: {services.repository.count('items')} items, "
              f"{len(slack.posts())} messages, {time.perf_counter() - started:.1f} s")  # fmt: skip
        texts = stories(services, arguments.rounds, rng)
        posts, updates, silent = [], [], 0
        for number, text in enumerate(texts):
            clock.advance(timedelta(hours=1))
            link = f"https://latency.example/story/{number}"
            title, _, rest = text.partition(". ")
            farm.add(rng.randrange(arguments.feeds), title, rest, link, clock.now())
            before = len(slack.requests)
            seen = time.monotonic()
            pipeline.poll(services)
            pipeline.classify_pending(services)
            pipeline.deliver(services)
            with slack.lock:
                arrived = [r for r in slack.requests[before:] if link in json.dumps(r.body)]
            if arrived and arrived[0].method == "chat.postMessage":
                posts.append(arrived[0].at - seen)
            elif arrived:
                updates.append(arrived[0].at - seen)
            else:
                silent += 1  # joined an alerted event: its update waits for group_interval
        posts.sort()
        p95 = posts[max(0, round(0.95 * len(posts)) - 1)]
        print(
            f"{len(texts)} new stories at {arguments.feeds} feeds: {len(posts)} new alerts, "
            f"{len(updates) + silent} joined an event already alerted"
        )
        print(
            f"poll -> Slack: median {statistics.median(posts):.2f} s, p95 {p95:.2f} s, "
            f"max {posts[-1]:.2f} s"
        )


if __name__ == "__main__":
    main()
