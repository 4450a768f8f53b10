"""Replay: the whole pipeline over captured feed snapshots, on a simulated clock.

What would tensiond have sent during last week's crisis? ``DIR/manifest.jsonl`` lists the
snapshots, one JSON object a line: ``feed`` (a name; the config's feed of that name lends its URL
and tags), ``at`` (ISO 8601, when it was captured) and ``path`` (the file, relative to DIR).

The clock starts at the first snapshot and moves forward to each moment where something can
happen: a due outbox row (at least ``step`` apart, so ``group_wait``, ``group_interval``, rate
budgets and Retry-After holds play out in simulated time), a digest time, the next snapshot. At a
snapshot's time its feed is parsed, new items are stored, classified, clustered and decided,
exactly as a poll would. Messages go to the configured
Slack endpoint (or the console without a token); the database is a fresh SQLite file unless
``--database`` names one.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tensiond import pipeline
from tensiond.clock import SimulatedClock
from tensiond.exceptions import ConfigError, FeedError
from tensiond.feeds.parse import parse_feed
from tensiond.types import Item


@dataclass(frozen=True)
class Snapshot:
    feed: str
    at: datetime
    path: Path


@dataclass
class ReplayReport:
    snapshots: int = 0
    items: int = 0
    errors: list[str] = field(default_factory=list)
    messages: Counter[tuple[str, str]] = field(default_factory=Counter)  # (channel, kind)


def load_manifest(directory: Path) -> list[Snapshot]:
    """The snapshots in time order; every bad line is reported with its number at once."""
    manifest = directory / "manifest.jsonl"
    if not manifest.is_file():
        raise ConfigError(str(directory), ["no manifest.jsonl in the replay folder"])
    snapshots, problems = [], []
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"manifest.jsonl:{number}"
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            missing = [key for key in ("feed", "at", "path") if not row.get(key)]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
            at = datetime.fromisoformat(str(row["at"]).replace("Z", "+00:00"))
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            path = (directory / str(row["path"])).resolve()
            if not path.is_relative_to(directory.resolve()):
                raise ValueError(f"path {row['path']!r} leaves the replay folder")
            if not path.is_file():
                raise ValueError(f"no file {row['path']!r}")
        except (ValueError, TypeError) as error:
            problems.append(f"{where}: {error}")
            continue
        snapshots.append(Snapshot(str(row["feed"]), at.astimezone(UTC), path))
    if problems:
        raise ConfigError(str(manifest), problems)
    if not snapshots:
        raise ConfigError(str(manifest), ["no snapshots listed"])
    return sorted(snapshots, key=lambda snapshot: snapshot.at)


def replay(
    services: pipeline.Services,
    clock: SimulatedClock,
    snapshots: list[Snapshot],
    *,
    step: timedelta = timedelta(seconds=15),
    tail: timedelta = timedelta(minutes=10),
) -> ReplayReport:
    """Run the snapshots through the pipeline; returns what was read and what was sent."""
    report = ReplayReport()
    feeds = {feed.name: feed for feed in services.settings.feeds}
    clock.set(snapshots[0].at)
    previous = snapshots[0].at
    index = 0
    while index < len(snapshots) and not services.stopping.is_set():
        moment = snapshots[index].at
        _run_until(services, clock, moment, step)
        clock.set(moment)
        batch = []
        while index < len(snapshots) and snapshots[index].at == moment:
            batch.append(snapshots[index])
            index += 1
        items: list[Item] = []
        for snapshot in batch:
            feed = feeds.get(snapshot.feed)
            url = feed.url if feed else f"https://replay.invalid/{snapshot.feed}"
            try:
                parsed = parse_feed(snapshot.path.read_bytes(), {}, url, snapshot.feed, moment)
            except (FeedError, OSError) as error:
                report.errors.append(f"{snapshot.path.name}: {error}")
                continue
            items += parsed.items
            report.snapshots += 1
        report.items += len(services.repository.add_items(items))
        pipeline.classify_pending(services)
        _tick(services)
        previous = moment
    _run_until(services, clock, previous + tail, step)
    for row in services.repository.alerts("sent"):
        report.messages[(row["channel"], row["kind"])] += 1
    return report


def _run_until(
    services: pipeline.Services, clock: SimulatedClock, end: datetime, step: timedelta
) -> None:
    """Move the clock to ``end`` in steps, stopping only where something can happen: an outbox
    row falling due, a digest time; idle days and years between snapshots cost nothing."""
    while True:
        now = clock.now()
        moments = [due for due in (services.repository.next_due(),) if due is not None]
        moments.append(next_digest(services, now))
        upcoming = max(min(moments), now + step)
        if upcoming >= end:
            return
        clock.set(upcoming)
        _tick(services)


def next_digest(services: pipeline.Services, now: datetime) -> datetime:
    """The first scheduled digest time after ``now`` on any route."""
    from tensiond.alerts import route

    soonest = now + timedelta(days=2)
    for target in route.all_routes(services.settings.alerting):
        slot = route.digest_slot(target.digest, now)
        for hours in range(1, 49):
            following = route.digest_slot(target.digest, now + timedelta(hours=hours))
            if following > slot:
                soonest = min(soonest, following)
                break
    return soonest


def _tick(services: pipeline.Services) -> None:
    pipeline.digest(services)
    pipeline.deliver(services, limit=200)
