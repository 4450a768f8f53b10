"""Benchmark: one poll cycle over 500 loopback feeds, 20% changed and 80% answering 304,
against a plain loop of ``feedparser.parse(url)`` over the same feeds, in the same run.

A changed feed changes in one of two ways, both measured in every run against the same loop:

- *news*: three new stories on top, three dropped at the bottom, the other 37 as they were (how a
  news feed changes between polls ten minutes apart);
- *all new*: every one of its 40 stories new (the worst case: parsing all 4,000 entries).

The tensiond cycle is the real one (``pipeline.poll``): lease due feeds, conditional GETs with
bounded concurrency, parse what changed, store new items in SQLite, schedule next polls. The
classifier is not part of a poll cycle. Reports the median of several runs and the ratio.

    python bench/poll_cycle.py [--feeds 500] [--runs 5] [--breakdown]

``--breakdown`` also prints, for each tensiond cycle, where its time went: the fetch (until the
last response), the wait for parsing after it, storing items and poll states, and the CPU
seconds spent by tensiond's own process, its parser processes and the feed farm (Linux /proc).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


NEWS_STORIES = 3  # new stories on top of a changed feed in the "news" case


def tensiond_cycle(
    farm: FeedFarm, run: pipeline.Services, changed: list[int], stories: int
) -> float:
    farm.advance(changed, stories)
    run.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    started = time.perf_counter()
    report = pipeline.poll(run)
    elapsed = time.perf_counter() - started
    assert report.feeds == farm.feeds and report.errors == 0, report
    assert report.new_items == len(changed) * stories, report
    return elapsed


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a process, from /proc (0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Breakdown:
    """Times the steps of ``pipeline.poll`` by wrapping the services it calls."""

    def __init__(self, run: pipeline.Services, farm: FeedFarm) -> None:
        self.farm, self.steps = farm, dict.fromkeys(("fetch", "parse wait", "store"), 0.0)
        self._wrap(run, "fetcher", "fetch_all", "fetch")
        self._wrap(run, "repository", "add_items", "store")
        self._wrap(run, "repository", "record_polls", "store")
        self._parse = pipeline._parse  # waits for the parser processes, feed by feed

        def parse(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return self._parse(*args)
            finally:
                self.steps["parse wait"] += time.perf_counter() - started

        pipeline._parse = parse  # type: ignore[assignment]

    def _wrap(self, run: pipeline.Services, service: str, method: str, step: str) -> None:
        target = getattr(run, service)
        original = getattr(target, method)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.steps[step] += time.perf_counter() - started

        setattr(target, method, timed)

    def cycle(self, run: pipeline.Services, changed: list[int], stories: int) -> float:
        self.steps = dict.fromkeys(self.steps, 0.0)
        farm_pid = self.farm.process.pid or 0
        parsers = [c.pid or 0 for c in multiprocessing.active_children() if c.pid != farm_pid]
        parsing, farm = -sum(map(_cpu_seconds, parsers)), -_cpu_seconds(farm_pid)
        own = time.process_time()
        elapsed = tensiond_cycle(self.farm, run, changed, stories)
        own = time.process_time() - own
        parsing += sum(map(_cpu_seconds, parsers))
        farm += _cpu_seconds(farm_pid)
        steps = "  ".join(f"{name} {seconds:.2f}s" for name, seconds in self.steps.items())
        print(f"  tensiond, {stories} new per changed feed, {elapsed:.2f}s: {steps}; "
              f"CPU: tensiond {own:.2f}s, parsers {parsing:.2f}s, feed farm {farm:.2f}s",
              file=sys.stderr)  # fmt: skip
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
    parser.add_argument("--breakdown", action="store_true", help="where tensiond's time goes")
    arguments = parser.parse_args()
    rng = random.Random(7)
    with FeedFarm(arguments.feeds) as farm, tempfile.TemporaryDirectory() as state:
        run = services(farm.urls, Path(state))
        pipeline.poll(run)  # first sight of every feed: store validators and items
        breakdown = Breakdown(run, farm) if arguments.breakdown else None
        cases = {"news": NEWS_STORIES, "all new": farm.items}
        ours: dict[str, list[float]] = {case: [] for case in cases}
        theirs: list[float] = []
        size = int(arguments.feeds * arguments.changed)
        for number in range(arguments.runs):
            for case, stories in cases.items():
                changed = rng.sample(range(arguments.feeds), size)
                if breakdown is not None:
                    ours[case].append(breakdown.cycle(run, changed, stories))
                else:
                    ours[case].append(tensiond_cycle(farm, run, changed, stories))
            theirs.append(feedparser_loop(farm.urls))
            times = "  ".join(f"tensiond ({case}) {ours[case][-1]:.2f}s" for case in cases)
            print(f"run {number + 1}: {times}  feedparser loop {theirs[-1]:.2f}s", file=sys.stderr)
    theirs_median = statistics.median(theirs)
    for case, stories in cases.items():
        ours_median = statistics.median(ours[case])
        print(f"| poll cycle, {arguments.feeds} feeds, {arguments.changed:.0%} changed, "
              f"{stories} new stories each ({case}) | tensiond {ours_median:.2f} s | "
              f"feedparser.parse(url) loop {theirs_median:.2f} s | "
              f"{theirs_median / ours_median:.1f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
