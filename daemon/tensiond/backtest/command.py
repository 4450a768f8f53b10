"""``tensiond backtest``: the command line of :mod:`tensiond.backtest` (reading, then printing).

tensiond backtest --config candidate.yaml --since 7d      candidate vs current vs the outbox
tensiond backtest --sweep alerting.default_threshold=40:80:5
tensiond backtest --labelled stories.jsonl --thresholds 40:90:5
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from tensiond.backtest import BacktestError
from tensiond.cli import iso_moment

if TYPE_CHECKING:
    from tensiond.backtest.labelled import Reader
    from tensiond.backtest.report import Window
    from tensiond.backtest.simulation import Outcome
    from tensiond.backtest.timeline import Batch
    from tensiond.config.schema import AlertingSettings, Settings
    from tensiond.storage.history import History, OutboxCount

log = logging.getLogger("tensiond.backtest")
THRESHOLDS = "40:90:5"
ReaderFactory = Callable[["Settings"], "Reader"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", metavar="CANDIDATE.yaml",
        help="the candidate config whose alerting settings to try (default: none, only the "
        "current config is simulated)",
    )  # fmt: skip
    parser.add_argument(
        "--current", metavar="PATH",
        help="the config the daemon runs with; its database holds the history "
        "(default: $TENSIOND_CONFIG, else the built-in defaults)",
    )  # fmt: skip
    parser.add_argument("--since", default="7d", help="how far back to count (default: 7d)")
    parser.add_argument("--until", type=iso_moment, help="count up to this ISO 8601 time (now)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--sweep", metavar="KEY=START:STOP:STEP",
        help="messages per value of one alerting setting, e.g. default_threshold=40:80:5",
    )  # fmt: skip
    mode.add_argument(
        "--labelled", metavar="FILE.jsonl",
        help="precision and recall of alerts against labelled stories (runs the model)",
    )  # fmt: skip
    parser.add_argument(
        "--thresholds", metavar="START:STOP:STEP",
        help=f"with --labelled: the thresholds to score (default: {THRESHOLDS})",
    )  # fmt: skip
    parser.add_argument("--limit", type=int, default=20, help="alerts listed per list (0: all)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of tables")


def run(arguments: argparse.Namespace, reader_factory: ReaderFactory | None = None) -> int:
    """The command; a :class:`BacktestError` (bad input) is printed and exits 2."""
    try:
        lines, data = _run(arguments, reader_factory)
    except BacktestError as error:
        print(f"tensiond backtest: {error}", file=sys.stderr)
        return 2
    if arguments.json:
        print(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        print("\n".join(lines))
    return 0


def _run(
    arguments: argparse.Namespace, reader_factory: ReaderFactory | None
) -> tuple[list[str], dict[str, object]]:
    from tensiond.config.load import default_settings, load_settings

    path = arguments.current or os.environ.get("TENSIOND_CONFIG")
    current = load_settings(path) if path else default_settings()
    candidate = load_settings(arguments.config) if arguments.config else None
    if arguments.labelled:
        return _labelled(Path(arguments.labelled), arguments.thresholds or THRESHOLDS,
                         candidate or current, reader_factory or _load_model)  # fmt: skip
    if arguments.thresholds:
        raise BacktestError("--thresholds scores a --labelled file; for history use --sweep")
    return _replay(arguments, current, candidate)


# replays -----------------------------------------------------------------------------------


def _replay(
    arguments: argparse.Namespace, current: Settings, candidate: Settings | None
) -> tuple[list[str], dict[str, object]]:
    from tensiond.backtest import report
    from tensiond.backtest.sweep import current_value, parse_sweep, variants
    from tensiond.config.units import parse_duration

    until = arguments.until or datetime.now(UTC)
    try:
        since = until - parse_duration(arguments.since)
    except ValueError as error:
        raise BacktestError(f"--since {arguments.since}: {error}") from None
    base = candidate or current
    sweep = parse_sweep(arguments.sweep, base.alerting) if arguments.sweep else None
    tried = variants(base.alerting, sweep) if sweep else []
    everything = [current, *([candidate] if candidate else [])]
    tried_alerting = [alerting for _value, alerting in tried]
    start = since - max(
        _warmup(settings, alerting)
        for settings in everything
        for alerting in (settings.alerting, *tried_alerting)
    )
    window, timelines = _history(current, everything, start, since, until)
    now_settings = _simulate(timelines, current, since, until)
    if sweep is not None:
        results = [
            (value, _simulate(timelines, base.model_copy(update={"alerting": alerting}), since,
                              until))
            for value, alerting in tried
        ]  # fmt: skip
        reference = current_value(current.alerting, sweep)
        return (
            report.sweep_lines(window, sweep, results, now_settings, reference),
            report.sweep_json(window, sweep, results, now_settings),
        )
    trial = _simulate(timelines, candidate, since, until) if candidate else None
    outbox, posted = _outbox(current, since, until)
    return (
        report.comparison_lines(window, outbox, now_settings, trial, posted, arguments.limit),
        report.comparison_json(window, outbox, now_settings, trial, posted),
    )


def _warmup(settings: Settings, alerting: AlertingSettings) -> timedelta:
    """How much history before ``since`` rebuilds the state at ``since``: the longest an event
    can grow, an alert can stay open for inhibition or easing, or an event can alert at all."""
    return max(
        settings.events.window + settings.events.max_span,
        alerting.max_age,
        alerting.easing_window,
        *(rule.duration for rule in alerting.inhibit_rules),
    )


def _open_history(settings: Settings) -> History:
    from tensiond.app import state_dir
    from tensiond.storage.engine import database_url
    from tensiond.storage.history import History, open_readonly

    return History(open_readonly(database_url(settings.storage.url, state_dir(settings))))


def _history(
    current: Settings,
    everything: Sequence[Settings],
    start: datetime,
    since: datetime,
    until: datetime,
) -> tuple[Window, dict[tuple[object, ...], list[Batch]]]:
    """Read the sightings once; regrow events once per distinct source tiers and feed tags."""
    from tensiond.backtest.report import Window
    from tensiond.backtest.timeline import timeline

    began = time.monotonic()
    history = _open_history(current)
    try:
        sightings = history.sightings(start, until)
    finally:
        history.engine.dispose()
    read = time.monotonic()
    timelines: dict[tuple[object, ...], list[Batch]] = {}
    for settings in everything:
        key = _growth_key(settings)
        if key not in timelines:
            tags = {feed.url: feed.tags for feed in settings.feeds}
            timelines[key] = timeline(sightings, settings.events.tier_of, tags)
    batches = timelines[_growth_key(current)]
    counted = [batch for batch in batches if batch.at >= since]
    window = Window(
        since=since, until=until, items=sum(batch.items for batch in counted),
        events=len({event.id for batch in counted for event in batch.events}), warmup=start,
    )  # fmt: skip
    log.info(
        "backtest_history sightings=%d read_seconds=%.1f grow_seconds=%.1f",
        len(sightings), read - began, time.monotonic() - read,
    )  # fmt: skip
    return window, timelines


def _growth_key(settings: Settings) -> tuple[object, ...]:
    events = settings.events
    tags = tuple(sorted((feed.url, feed.tags) for feed in settings.feeds))
    return (tuple(sorted(events.source_tiers.items())), events.default_tier, tags)


def _simulate(
    timelines: dict[tuple[object, ...], list[Batch]],
    settings: Settings,
    since: datetime,
    until: datetime,
) -> Outcome:
    from tensiond.backtest.simulation import simulate

    began = time.monotonic()
    severities = settings.scoring.severities
    outcome = simulate(
        timelines[_growth_key(settings)], settings.alerting, region_of=_regions(settings),
        severity=lambda label: float(severities.get(label, 0)),
        confirm_tier=settings.events.confirm_tier, count_from=since, until=until,
    )  # fmt: skip
    log.info("backtest_simulated seconds=%.1f", time.monotonic() - began)
    return outcome


def _regions(settings: Settings) -> Callable[[str], str | None]:
    """The gazetteer's region of each actor code (what region matchers compare)."""
    from tensiond.classify.actors import default_gazetteer_path

    path = default_gazetteer_path()
    if settings.actors:
        named = Path(settings.actors).expanduser()
        path = named if named.is_absolute() else settings.base_dir / named
    return _region_table(path).get


@cache
def _region_table(path: Path) -> dict[str, str | None]:
    from tensiond.classify.actors import Gazetteer

    gazetteer = Gazetteer.load(path)
    return {code: gazetteer.region(code) for code in gazetteer.codes()}


def _outbox(
    settings: Settings, since: datetime, until: datetime
) -> tuple[list[OutboxCount], set[tuple[int, str]]]:
    history = _open_history(settings)
    try:
        return history.outbox(since, until), history.posted(since, until)
    finally:
        history.engine.dispose()


# labelled evaluation -----------------------------------------------------------------------


def _load_model(settings: Settings) -> Reader:
    from tensiond.classify.model import Classifier

    began = time.monotonic()
    classifier = Classifier.load(settings)
    log.info("model_loaded version=%s seconds=%.1f", classifier.version, time.monotonic() - began)
    return classifier


def _labelled(
    path: Path, thresholds: str, settings: Settings, reader_factory: ReaderFactory
) -> tuple[list[str], dict[str, object]]:
    from tensiond.backtest import report
    from tensiond.backtest.labelled import best, classify_all, read_labelled, scores
    from tensiond.backtest.sweep import parse_sweep, variants

    examples = read_labelled(path)
    sweep = parse_sweep(f"default_threshold={thresholds}", settings.alerting, "--thresholds")
    tried = [
        (value.total_seconds() if isinstance(value, timedelta) else float(value), alerting)
        for value, alerting in variants(settings.alerting, sweep)
    ]
    reader = reader_factory(settings)
    verdicts = classify_all(examples, reader)
    found = scores(examples, verdicts, tried)
    top = best(found)
    should = sum(example.should_alert for example in examples)
    version = str(getattr(reader, "version", "unknown"))
    return (
        report.labelled_lines(len(examples), should, version, found, top),
        report.labelled_json(len(examples), should, version, found, top),
    )
