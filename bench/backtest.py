"""Benchmark: ``tensiond backtest`` over 100,000 stored items (target: under 30 s on 2 cores).

    .venv/bin/python bench/backtest.py            # --items 100000 --runs 5

Fills a SQLite database through the real repository with a week of synthetic history: items
from 60 outlets, each classified (labels and tensions drawn per label, 40 countries, 2% not
actual), clustered into events that grow for up to a day and a half (about 3 items each), as the
daemon's decide step stores them (``add_items``, ``save_classifications``, then ``save_event``
and ``add_members`` in one events unit per ten-minute poll), plus an outbox row for every tenth
event. The database is kept (``--database``, default in the temp folder) and reused by later runs
with the same ``--items`` and ``--seed``.

Then it times the whole command, in process, as an operator runs it: ``tensiond backtest
--config candidate.yaml --since 7d --json`` (read the history, regrow the events, simulate the
current and the candidate settings, read the outbox, print), ``--runs`` times, and reports the
median; the stages are timed apart once; and a ``--sweep`` of 9 thresholds is timed once.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from sqlalchemy import func, select  # noqa: E402

from tensiond.backtest.simulation import simulate  # noqa: E402
from tensiond.backtest.timeline import grow, report_of, timeline  # noqa: E402
from tensiond.cli import main as cli  # noqa: E402
from tensiond.storage.engine import make_engine, migrate  # noqa: E402
from tensiond.storage.history import History, Sighting, open_readonly  # noqa: E402
from tensiond.storage.repository import Repository  # noqa: E402
from tensiond.storage.schema import EventItemRow  # noqa: E402
from tensiond.types import Classification, Event, Item, Message  # noqa: E402

END = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
SPAN = timedelta(days=7)
POLL = timedelta(minutes=10)
COUNTRIES = [
    *("US", "CN", "RU", "UA", "KP", "KR", "JP", "TW", "IN", "PK", "IR", "IL", "SY", "IQ"),
    *("TR", "SA", "YE", "AF", "FR", "DE", "GB", "PL", "BY", "RS", "XK", "AM", "AZ", "GE"),
    *("VE", "CO", "BR", "MX", "ET", "SD", "SO", "ML", "NE", "NG", "CD", "PH"),
]
LABELS = {  # label: (share, mean tension)
    "weapons_test": (0.05, 78), "armed_conflict": (0.20, 80), "military_posture": (0.12, 62),
    "threat": (0.10, 66), "coercion": (0.08, 58), "diplomatic_dispute": (0.20, 48),
    "cooperation": (0.10, 12), "unrest": (0.15, 55),
}  # fmt: skip
CANDIDATE = """\
alerting:
  default_threshold: 70
  thresholds: {unrest: 80}
  routes:
    - {name: asia, channel: "#asia", regions: [east_asia, south_asia]}
    - {name: europe, channel: "#europe", regions: [eastern_europe, western_europe, russia]}
  mutes:
    - {actors: [VE], until: "2027-01-01T00:00:00Z"}
"""


def verdict(
    rng: random.Random, item_id: str, label: str, actors: tuple[str, ...]
) -> Classification:
    _share, mean = LABELS[label]
    tension = max(0, min(100, int(rng.gauss(mean, 12))))
    dyads = ("-".join(sorted(actors)),) if len(actors) == 2 else ()
    modality = "actual" if rng.random() > 0.02 else rng.choice(("hypothetical", "historical"))
    return Classification(
        item_id=item_id, label=label, probabilities={label: 0.9}, tension=tension, actors=actors,
        dyads=dyads, modality=modality, why=(f"{label} 90%",), model_version="bench",
    )  # fmt: skip


class Filler:
    """Stores a synthetic week the way the daemon's decide step does."""

    def __init__(self, repository: Repository, seed: int) -> None:
        self.repository = repository
        self.rng = random.Random(seed)
        self.events: dict[int, Event] = {}
        self.open: list[tuple[int, datetime, str, tuple[str, ...]]] = []  # id, start, label, actors
        self.serial = 0

    def story(self, at: datetime) -> tuple[int | None, str, tuple[str, ...]]:
        """An existing event to report again (None: a new happening), its label and actors."""
        self.open = [e for e in self.open if at - e[1] < timedelta(hours=36)]
        if self.open and self.rng.random() < 0.68:
            event_id, _start, label, actors = self.open[
                -1 - int(self.rng.expovariate(0.05)) % len(self.open)
            ]
            return event_id, label, actors
        label = self.rng.choices(list(LABELS), weights=[s for s, _m in LABELS.values()])[0]
        first = self.rng.choice(COUNTRIES[:12] if self.rng.random() < 0.6 else COUNTRIES)
        second = self.rng.choice([c for c in COUNTRIES if c != first])
        return None, label, (first, second) if self.rng.random() < 0.8 else (first,)

    def poll(self, at: datetime, count: int) -> int:
        items, verdicts, placements = [], [], []
        for _ in range(count):
            self.serial += 1
            event_id, label, actors = self.story(at)
            outlet = f"outlet{self.rng.randrange(60)}.example"
            item = Item(
                id=f"https://{outlet}/{self.serial}", feed_url=f"https://{outlet}/rss",
                feed_name=outlet, title=f"Story {self.serial}: {label} between {'/'.join(actors)}",
                summary="", link=f"https://{outlet}/{self.serial}",
                published=at - timedelta(minutes=self.rng.randrange(30)), seen_at=at,
            )  # fmt: skip
            items.append(item)
            verdicts.append(verdict(self.rng, item.id, label, actors))
            placements.append(event_id)
        self.repository.add_items(items)
        self.repository.save_classifications(verdicts, at)
        with self.repository.events_unit() as work:
            members, outbox = [], []
            for item, found, event_id in zip(items, verdicts, placements, strict=True):
                sighting = Sighting(
                    0, at, item.id, item.feed_url, item.feed_name, item.title, item.link,
                    item.published, at, found.label, found.tension, found.actors, found.dyads,
                    found.modality,
                )  # fmt: skip
                report = report_of(sighting, lambda _name: 2, ())
                event = grow(self.events.get(event_id or 0), report, event_id or 0, at)
                event = work.save_event(event, at)
                if event_id is None:
                    self.open.append((event.id, at, found.label, found.actors))
                    if event.id % 10 == 0:
                        key = f"default:event:{event.id}"
                        channel = "#tension-alerts"
                        outbox.append(
                            Message(key, "post", "default", channel, event.id, item.id, at)
                        )
                self.events[event.id] = event
                members.append((item.id, event.id, 1.0))
            work.add_members(members, at)
            work.add_messages(outbox, at)
        return count


def fill(path: Path, items: int, seed: int) -> None:
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    filler = Filler(Repository(engine), seed)
    polls = int(SPAN / POLL)
    started, stored = time.perf_counter(), 0
    for number in range(polls):
        at = END - SPAN + POLL * (number + 1)
        stored += filler.poll(at, items * (number + 1) // polls - stored)
        if number % 500 == 0:
            print(
                f"  filled {stored} items ({time.perf_counter() - started:.0f} s)", file=sys.stderr
            )
    engine.dispose()


def stored_items(path: Path) -> int:
    if not path.exists():
        return 0
    engine = open_readonly(f"sqlite:///{path}")
    with engine.connect() as connection:
        count = int(
            connection.execute(select(func.count()).select_from(EventItemRow)).scalar() or 0
        )
    engine.dispose()
    return count


def run_cli(*arguments: str) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one ``tensiond backtest`` (the CPU time shows what a busy
    machine's other processes take from the wall clock)."""
    began, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli(["backtest", *arguments])
    if code != 0:
        raise SystemExit(f"backtest exited {code}")
    return time.perf_counter() - began, time.process_time() - cpu


def stages(path: Path) -> str:
    from tensiond.config.load import load_settings

    settings = load_settings(path.with_suffix(".candidate.yaml"))
    began = time.perf_counter()
    history = History(open_readonly(f"sqlite:///{path}"))
    sightings = history.sightings(END - SPAN - timedelta(days=5), END)
    read = time.perf_counter()
    batches = timeline(sightings)
    grown = time.perf_counter()
    outcome = simulate(batches, settings.alerting, count_from=END - SPAN, until=END)
    done = time.perf_counter()
    return (
        f"{len(sightings)} items, {len(batches)} batches, {outcome.total('post')} posts: "
        f"read {read - began:.1f} s, regrow {grown - read:.1f} s, simulate {done - grown:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", type=Path)
    arguments = parser.parse_args()
    path = arguments.database or Path(tempfile.gettempdir()) / (
        f"tensiond-bench-backtest-{arguments.items}-{arguments.seed}.db"
    )
    if stored_items(path) != arguments.items:
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
        print(f"filling {path} with {arguments.items} items", file=sys.stderr)
        fill(path, arguments.items, arguments.seed)
    current = path.with_suffix(".current.yaml")
    current.write_text(f"storage: {{url: 'sqlite:///{path}'}}\nhttp: {{listen: ''}}\n")
    candidate = path.with_suffix(".candidate.yaml")
    candidate.write_text(CANDIDATE)
    common = ["--current", str(current), "--since", "7d", "--until", END.isoformat(), "--json"]
    times, cpus = [], []
    for run in range(arguments.runs):
        wall, cpu = run_cli(*common, "--config", str(candidate))
        times.append(wall)
        cpus.append(cpu)
        print(f"run {run + 1}: {wall:.1f} s ({cpu:.1f} s CPU)", file=sys.stderr)
    sweep, sweep_cpu = run_cli(*common, "--sweep", "default_threshold=40:80:5")
    print(f"backtest over {arguments.items} stored items (candidate vs current vs outbox):")
    print(f"  median {statistics.median(times):.1f} s of {arguments.runs} runs "
          f"(min {min(times):.1f}, max {max(times):.1f}); "
          f"median CPU {statistics.median(cpus):.1f} s")  # fmt: skip
    print(f"  stages, once: {stages(path)}")
    print(f"  --sweep default_threshold=40:80:5 (9 values and the current): {sweep:.1f} s "
          f"({sweep_cpu:.1f} s CPU)")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak resident memory of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
