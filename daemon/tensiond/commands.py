"""What each ``tensiond`` subcommand does (the parser lives in :mod:`tensiond.cli`)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tensiond import app, logs, pipeline
from tensiond.cli import _settings
from tensiond.config.load import load_settings
from tensiond.config.schema import Settings
from tensiond.exceptions import ModelError, TensiondError
from tensiond.metrics import Metrics
from tensiond.types import Classification

if TYPE_CHECKING:
    import numpy as np

    from tensiond.classify.corpus import Example

log = logging.getLogger("tensiond")


def _classifier(arguments: argparse.Namespace):  # type: ignore[no-untyped-def]
    from tensiond.classify.model import Classifier

    started = time.monotonic()
    classifier = Classifier.load(_settings(getattr(arguments, "config", None)))
    log.info("model_loaded version=%s seconds=%.1f", classifier.version, time.monotonic() - started)
    return classifier


def run(arguments: argparse.Namespace, settings: Settings | None = None) -> int:
    from tensiond.health import HealthServer
    from tensiond.scheduler import Daemon

    settings = settings or _settings(arguments.config)
    _configure_logs(settings)
    started = time.monotonic()
    metrics = Metrics()
    loaded: list[Daemon] = []  # empty until config, database and model are loaded
    server = None
    if settings.http.listen:  # up before the model loads: /readyz says 503 until then
        server = HealthServer(
            settings.http.listen,
            metrics,
            alive=lambda: not loaded or loaded[0].alive(),
            ready=lambda: bool(loaded) and _ready(loaded[0].services),
        )
        server.start()
    services = app.build(settings, metrics=metrics)
    daemon = Daemon(services, arguments.config or os.environ.get("TENSIOND_CONFIG"))
    loaded.append(daemon)
    metrics.ready.set(1)
    log.info(
        "started feeds=%d model=%s sender=%s seconds=%.1f",
        len(settings.feeds), services.classifier.version, services.sender.name,
        time.monotonic() - started,
    )  # fmt: skip
    try:
        return daemon.run()
    finally:
        if server:
            server.stop()
        if services.parse_pool:
            services.parse_pool.close()


def _configure_logs(settings: Settings) -> None:
    logs.configure(
        os.environ.get("TENSIOND_LOG_LEVEL", settings.logging.level),
        os.environ.get("TENSIOND_LOG_FORMAT", settings.logging.format),
    )


def _ready(services: pipeline.Services) -> bool:
    services.repository.ping()
    return True


def once(arguments: argparse.Namespace, settings: Settings | None = None) -> int:
    settings = settings or _settings(arguments.config)
    _configure_logs(settings)
    services = app.build(settings)
    report, queued, delivered = pipeline.cycle(services)
    log.info(
        "once_done feeds=%d new_items=%d feed_errors=%d alerts=%d sent=%d failed=%d",
        report.feeds, report.new_items, report.errors, queued, delivered.sent, delivered.failed,
    )  # fmt: skip
    return 0


def replay(arguments: argparse.Namespace) -> int:
    """Run captured snapshots through the pipeline on a simulated clock (see :mod:`.replay`)."""
    from tensiond.clock import SimulatedClock
    from tensiond.config.units import parse_duration
    from tensiond.replay import load_manifest
    from tensiond.replay import replay as run_replay

    settings = _settings(arguments.config)
    _configure_logs(settings)
    directory = Path(arguments.directory)
    snapshots = load_manifest(directory)
    with tempfile.TemporaryDirectory(prefix="tensiond-replay-") as scratch:
        database = arguments.database or f"sqlite:///{Path(scratch) / 'replay.db'}"
        storage = settings.storage.model_copy(update={"url": database})
        fetch = settings.fetch.model_copy(update={"parse_processes": 0})
        settings = settings.model_copy(update={"storage": storage, "fetch": fetch})
        clock = SimulatedClock(snapshots[0].at)
        services = app.build(settings, clock=clock)
        report = run_replay(
            services,
            clock,
            snapshots,
            step=parse_duration(arguments.step),
            tail=parse_duration(arguments.tail),
        )
        events = services.repository.count("events")
        services.repository.engine.dispose()
    first, last = snapshots[0].at, snapshots[-1].at
    print(
        f"replayed {report.snapshots} snapshots from {first:%Y-%m-%d %H:%M} to "
        f"{last:%Y-%m-%d %H:%M} UTC: {report.items} new items, {events} events"
    )
    for problem in report.errors:
        print(f"  unreadable: {problem}")
    channels = sorted({channel for channel, _kind in report.messages})
    for channel in channels:
        kinds = {kind: n for (name, kind), n in report.messages.items() if name == channel}
        summary = ", ".join(f"{kinds[kind]} {kind}" for kind in sorted(kinds))
        print(f"  {channel}: {summary}")
    if not channels:
        print("  no messages")
    return 0


def check_config(arguments: argparse.Namespace) -> int:
    settings = load_settings(arguments.path)
    print(
        f"{arguments.path}: ok ({len(settings.feeds)} feeds, "
        f"{len(settings.alerting.routes)} routes, default threshold "
        f"{settings.alerting.default_threshold:g})"
    )
    return 0


def _stories(stream: Iterator[str]) -> Iterator[tuple[int, dict[str, str]]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise TensiondError(f"stdin line {number}: not JSON ({error.msg})") from error
        if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("text"), str):
            raise TensiondError(f"stdin line {number}: needs an object with 'id' and 'text'")
        yield number, row


def classify(arguments: argparse.Namespace) -> int:
    from tensiond.classify.model import Story
    from tensiond.classify.text import prepare

    classifier = _classifier(arguments)
    batch: list[dict[str, str]] = []

    def flush() -> None:
        stories = [
            Story(str(r["id"]), prepare(r["text"], str(r.get("summary") or ""))) for r in batch
        ]
        for row, verdict in zip(batch, classifier.classify(stories), strict=True):
            out = {
                "id": row["id"],
                "label": verdict.label,
                "tension": verdict.tension,
                "probabilities": verdict.probabilities,
                "actors": list(verdict.actors),
                "modality": verdict.modality,
                "dyads": list(verdict.dyads),
                "why": list(verdict.why),
            }
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        batch.clear()

    for _number, row in _stories(iter(sys.stdin)):
        batch.append(row)
        if len(batch) >= 256:
            flush()
    if batch:
        flush()
    return 0


def score(arguments: argparse.Namespace) -> int:
    from tensiond.classify.explain import explain_text

    print(explain_text(_classifier(arguments), " ".join(arguments.text)))
    return 0


def train(arguments: argparse.Namespace) -> int:
    from tensiond.classify.corpus import load_corpus
    from tensiond.classify.encoder import Encoder, resolve_encoder
    from tensiond.classify.train import TrainOptions
    from tensiond.classify.train import train as fit

    settings = _settings(arguments.config)
    examples = load_corpus(Path(arguments.corpus))
    encoder = Encoder(resolve_encoder(settings.model.encoder, settings.base_dir))
    options = TrainOptions(
        Path(arguments.corpus),
        Path(arguments.output),
        arguments.seed,
        arguments.epochs,
        adapter_rank=arguments.adapter_rank,
        adapter_epochs=arguments.adapter_epochs,
        quantize=settings.model.quantize,
    )
    progress = _progress_bar()
    result = fit(encoder, examples, options, cache=Path(".cache/embeddings"), progress=progress)
    print(f"examples: {result.sizes}")
    print("\ndev (label)\n" + result.dev.render())
    print("\ntest (label)\n" + result.test.render())
    print("\ndev (modality)\n" + result.modality_dev.render())
    print(f"\nwrote {options.output}/ (version {result.head.version})")
    return 0


def _progress_bar() -> Callable[[str, int, int], None]:
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None or bar.total != total or done < bar.n:
            if bar is not None:
                bar.close()
            bar = bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr, leave=False)
        bar.update(done - bar.n)

    return update


def evaluate(arguments: argparse.Namespace) -> int:
    import numpy as np

    from tensiond.classify.corpus import read_jsonl
    from tensiond.classify.metrics import report
    from tensiond.classify.model import Story
    from tensiond.types import LABELS

    examples = read_jsonl(Path(arguments.file))
    if not examples:
        raise ModelError(f"{arguments.file}: no examples")
    classifier = _classifier(arguments)
    verdicts = classifier.classify([Story(str(i), e.text) for i, e in enumerate(examples)])
    truth = np.array([LABELS.index(e.label) for e in examples])
    probabilities = np.array([[v.probabilities[name] for name in LABELS] for v in verdicts])
    print(report(LABELS, truth, probabilities).render())
    threshold = classifier_threshold(arguments)
    print("\n" + _alert_shares(examples, verdicts, threshold))
    print("\n" + _by_style(examples, truth, probabilities, verdicts, threshold))
    if arguments.mistakes:
        print("\n" + _mistakes(examples, verdicts, threshold, arguments.mistakes))
    return 0


def _alert_shares(
    examples: Sequence[Example], verdicts: Sequence[Classification], threshold: float
) -> str:
    """How many ``other`` items would page someone; how many conflict items would (those that
    report a clash that happened, and all of them, retrospectives and hypotheticals included)."""

    def conflict(example: Example) -> bool:
        return example.label == "armed_conflict"

    groups = (
        ("'other' items", lambda e: e.label == "other"),
        ("armed_conflict items, actual", lambda e: conflict(e) and e.modality == "actual"),
        ("armed_conflict items, any modality", conflict),
    )
    lines = []
    for what, member in groups:
        tensions = [v.tension for v, e in zip(verdicts, examples, strict=True) if member(e)]
        if tensions:
            over = sum(t >= threshold for t in tensions)
            lines.append(
                f"{what} at or over the alert threshold ({threshold:g}): "
                f"{over}/{len(tensions)} = {over / len(tensions):.1%}"
            )
    return "\n".join(lines)


def _by_style(
    examples: Sequence[Example],
    truth: np.ndarray,
    probabilities: np.ndarray,
    verdicts: Sequence[Classification],
    threshold: float,
) -> str:
    """Macro F1 and false alerts per style: wire sentences, incident notes, headlines, ledes."""
    from tensiond.classify.metrics import report
    from tensiond.types import LABELS

    lines = [f"{'style':<15}{'items':>6}{'macro F1':>10}{'accuracy':>10}{'other >= thr':>14}"]
    for style in sorted({e.style for e in examples}):
        rows = [i for i, e in enumerate(examples) if e.style == style]
        part = report(LABELS, truth[rows], probabilities[rows])
        others = [verdicts[i].tension for i in rows if examples[i].label == "other"]
        share = f"{sum(t >= threshold for t in others) / len(others):.1%}" if others else "-"
        lines.append(
            f"{style:<15}{len(rows):6d}{part.macro_f1:10.3f}{part.accuracy:10.3f}{share:>14}"
        )
    return "\n".join(lines)


def _mistakes(
    examples: Sequence[Example],
    verdicts: Sequence[Classification],
    threshold: float,
    count: int,
) -> str:
    """The most confident wrong labels and every false alert, worst first."""
    wrong = [
        (v.probabilities[v.label], e, v)
        for e, v in zip(examples, verdicts, strict=True)
        if v.label != e.label or (e.label == "other" and v.tension >= threshold)
    ]
    wrong.sort(
        key=lambda row: (-(row[1].label == "other" and row[2].tension >= threshold), -row[0])
    )
    lines = [f"mistakes ({len(wrong)}; the {min(count, len(wrong))} most confident):"]
    for confidence, example, verdict in wrong[:count]:
        lines.append(
            f"  {example.label} -> {verdict.label} {confidence:.0%} tension {verdict.tension} "
            f"[{example.style}] {example.text[:160]}"
        )
    return "\n".join(lines)


def classifier_threshold(arguments: argparse.Namespace) -> float:
    return _settings(getattr(arguments, "config", None)).alerting.default_threshold


def demo(arguments: argparse.Namespace) -> int:
    from tensiond.demo import serve_demo_feeds

    checkout = Path(__file__).resolve().parents[2] / "config" / "demo.yaml"
    packaged = Path(__file__).resolve().parent / "data" / "demo" / "demo.yaml"
    config = arguments.config or str(checkout if checkout.is_file() else packaged)
    settings = load_settings(config)
    with tempfile.TemporaryDirectory(prefix="tensiond-demo-") as state:
        if not settings.state_dir and not settings.storage.url:
            settings = settings.model_copy(update={"state_dir": state})
        server = serve_demo_feeds(arguments.port)
        print(
            f"demo feeds on http://127.0.0.1:{arguments.port}/ ; config {config}", file=sys.stderr
        )
        try:
            return once(arguments, settings) if arguments.once else run(arguments, settings)
        finally:
            server.shutdown()


def healthcheck(arguments: argparse.Namespace) -> int:
    listen = _settings(arguments.config).http.listen
    if not listen:
        print("http.listen is empty: no health endpoint to check", file=sys.stderr)
        return 1
    host, _, port = listen.rpartition(":")
    any_address = ("", "0.0.0.0", "[::]")  # noqa: S104 (compared, not bound)
    host = "127.0.0.1" if host in any_address else host.strip("[]")
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=5) as response:
            return 0 if response.status == 200 else 1
    except OSError as error:
        print(f"healthcheck failed: {error}", file=sys.stderr)
        return 1


def index(arguments: argparse.Namespace) -> int:
    from tensiond.index.command import run as show_index

    return show_index(arguments, _settings(arguments.config))


def backtest(arguments: argparse.Namespace) -> int:
    """The stored history through a candidate config's alerting (see :mod:`.backtest`)."""
    from tensiond.backtest.command import run as run_backtest

    return run_backtest(arguments)
