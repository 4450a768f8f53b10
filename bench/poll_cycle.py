"""Benchmark: one poll cycle over 500 loopback feeds, 20% changed and 80% answering 304,
against a plain loop of ``feedparser.parse(url)`` over the same feeds, in the same run.

The tensiond cycle is the real one (``pipeline.poll``): lease due feeds, conditional GETs with
bounded concurrency, parse what changed, store new items in SQLite, schedule next polls. The
classifier is not part of a poll cycle. Reports the median of several runs and the ratio.

    python bench/poll_cycle.py [--feeds 500] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent))
from feedfarm import FeedFarm
from tensiond import pipeline
from tensiond.app import open_repository
from tensiond.clock import SimulatedClock
from tensiond.config.load import settings_from_mapping
from tensiond.feeds.fetch import Fetcher
from tensiond.feeds.pool import ParsePool
from tensiond.metrics import Metrics


def services(urls: list[str], state: Path) -> pipeline.Services:
    settings = settings_from_mapping(
        {
            "state_dir": str(state),
            "feeds": [{"url": url} for url in urls],
            "fetch": {"allow_private_networks": True, "interval": "10m", "jitter": 0},
        },
        "bench",
        state,
    )
    repository = open_repository(settings)
    clock = SimulatedClock(datetime(2026, 3, 1, tzinfo=UTC))
    repository.sync_feeds([(f.url, f.name) for f in settings.feeds], clock.now())
    return pipeline.Services(
        settings=settings, repository=repository, fetcher=Fetcher(settings.fetch),
        classifier=None, sender=None, clock=clock, metrics=Metrics(), owner="bench",  # type: ignore[arg-type]
        parse_pool=ParsePool(settings.fetch.parse_processes),
    )  # fmt: skip


def tensiond_cycle(farm: FeedFarm, run: pipeline.Services, changed: list[int]) -> float:
    farm.bump(changed)
    run.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    started = time.perf_counter()
    report = pipeline.poll(run)
    elapsed = time.perf_counter() - started
    assert report.feeds == farm.feeds and report.errors == 0, report
    assert report.new_items == len(changed) * farm.items, report
    return elapsed


def feedparser_loop(urls: list[str]) -> float:
    started = time.perf_counter()
    for url in urls:
        parsed = feedparser.parse(url)
        assert parsed.entries, url
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--changed", type=float, default=0.2)
    arguments = parser.parse_args()
    rng = random.Random(7)
    with FeedFarm(arguments.feeds) as farm, tempfile.TemporaryDirectory() as state:
        run = services(farm.urls, Path(state))
        pipeline.poll(run)  # first sight of every feed: store validators and items
        ours, theirs = [], []
        for number in range(arguments.runs):
            changed = rng.sample(range(arguments.feeds), int(arguments.feeds * arguments.changed))
            ours.append(tensiond_cycle(farm, run, changed))
            theirs.append(feedparser_loop(farm.urls))
            print(f"run {number + 1}: tensiond {ours[-1]:.2f}s  feedparser loop {theirs[-1]:.2f}s",
                  file=sys.stderr)  # fmt: skip
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(f"| poll cycle, {arguments.feeds} feeds, {arguments.changed:.0%} changed | "
          f"tensiond {ours_median:.2f} s | feedparser.parse(url) loop {theirs_median:.2f} s | "
          f"{theirs_median / ours_median:.1f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
