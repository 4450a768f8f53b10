"""``--labelled FILE.jsonl``: precision and recall of alerts against what people said should alert.

Each line is an object with ``text`` (optional ``summary``), the gold ``label`` of the taxonomy,
and optionally ``modality`` (default ``actual``) and ``alert`` (true or false). A story *should
alert* when ``alert`` says so; without it, when its label is neither ``other`` nor ``cooperation``
and its modality is ``actual`` or ``threatened`` (an anniversary piece or a "could strike" op-ed
should page nobody).

The model classifies every story once; then, for each threshold, a story *alerts* when routing
would alert a fresh event made of it alone: :func:`tensiond.alerts.route.is_alertable` with
``default_threshold`` at that value (per-label ``thresholds`` in the config still apply). Mutes,
inhibition and grouping are left out: they decide where and how often, not whether a story is
worth an alert.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from tensiond.alerts.route import is_alertable
from tensiond.backtest import BacktestError
from tensiond.classify.model import Story
from tensiond.classify.text import prepare
from tensiond.config.schema import AlertingSettings
from tensiond.types import LABELS, MODALITIES, Classification, Event

QUIET_LABELS = frozenset({"other", "cooperation"})
REAL_MODALITIES = frozenset({"actual", "threatened"})
CHUNK = 256  # stories per call to the model (bounds memory on long files)
_WHEN = datetime(2000, 1, 1, tzinfo=UTC)  # any moment: a labelled story is never stale


@dataclass(frozen=True)
class Labelled:
    """One labelled story and whether it should alert."""

    line: int
    text: str
    summary: str
    label: str
    modality: str
    should_alert: bool


class Reader(Protocol):
    """What reads stories: the real :class:`~tensiond.classify.model.Classifier`, or a stub."""

    def classify(self, stories: Sequence[Story]) -> list[Classification]: ...


def should_alert(label: str, modality: str) -> bool:
    return label not in QUIET_LABELS and modality in REAL_MODALITIES


def _example(line: str, number: int, where: str) -> Labelled:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise BacktestError(f"{where}:{number}: not JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise BacktestError(f"{where}:{number}: expected an object")
    text, summary = data.get("text"), data.get("summary", "")
    if not isinstance(text, str) or not text.strip():
        raise BacktestError(f"{where}:{number}: needs a non-empty 'text'")
    if not isinstance(summary, str):
        raise BacktestError(f"{where}:{number}: 'summary' must be text")
    label, modality = data.get("label"), data.get("modality", "actual")
    if label is None:
        raise BacktestError(f"{where}:{number}: needs a 'label' (one of {list(LABELS)})")
    if label not in LABELS:
        raise BacktestError(f"{where}:{number}: 'label' {label!r} is not one of {list(LABELS)}")
    if modality not in MODALITIES:
        raise BacktestError(f"{where}:{number}: 'modality' {modality!r} is not one of {MODALITIES}")
    alert = data.get("alert")
    if alert is not None and not isinstance(alert, bool):
        raise BacktestError(f"{where}:{number}: 'alert' must be true or false")
    gold = should_alert(label, modality) if alert is None else alert
    return Labelled(number, text, summary, label, modality, gold)


def read_labelled(path: Path) -> list[Labelled]:
    """Every story in the file; the first bad line is an error naming its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise BacktestError(f"{path}: cannot read it ({error})") from None
    examples = [
        _example(line, number, str(path))
        for number, line in enumerate(lines, start=1)
        if line.strip()
    ]
    if not examples:
        raise BacktestError(f"{path}: no stories")
    return examples


def classify_all(examples: Sequence[Labelled], reader: Reader) -> list[Classification]:
    """The model's verdict on every story, in order, prepared as the daemon prepares items."""
    verdicts: list[Classification] = []
    for start in range(0, len(examples), CHUNK):
        chunk = examples[start : start + CHUNK]
        stories = [Story(str(e.line), prepare(e.text, e.summary)) for e in chunk]
        verdicts += reader.classify(stories)
    return verdicts


@dataclass(frozen=True)
class Score:
    """Alerts at one threshold, against the gold answers."""

    threshold: float
    alerts: int
    hits: int  # alerts that should alert
    false_alarms: int
    missed: int

    @property
    def precision(self) -> float | None:
        return self.hits / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        should = self.hits + self.missed
        return self.hits / should if should else None

    @property
    def f1(self) -> float:
        precision, recall = self.precision or 0.0, self.recall or 0.0
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def alone(verdict: Classification) -> Event:
    """A fresh event made of one story (what routing would see first)."""
    return Event(
        id=0, label=verdict.label, tension=verdict.tension, modality=verdict.modality,
        actors=verdict.actors, dyads=verdict.dyads, feed_tags=(), item_id=verdict.item_id,
        title="", link=None, why=verdict.why, sources=(), terms=frozenset(), centroid=(), size=1,
        first_seen=_WHEN, last_seen=_WHEN,
    )  # fmt: skip


def scores(
    examples: Sequence[Labelled],
    verdicts: Sequence[Classification],
    variants: Sequence[tuple[float, AlertingSettings]],
) -> list[Score]:
    """Precision and recall at each (threshold, settings) pair."""
    events = [alone(verdict) for verdict in verdicts]
    found = []
    for threshold, settings in variants:
        alerts = [is_alertable(event, settings, _WHEN) for event in events]
        hits = sum(a and e.should_alert for a, e in zip(alerts, examples, strict=True))
        should = sum(e.should_alert for e in examples)
        found.append(Score(threshold, sum(alerts), hits, sum(alerts) - hits, should - hits))
    return found


def best(found: Sequence[Score]) -> Score | None:
    """The threshold with the best F1 (the higher threshold on a tie: fewer pages)."""
    useful = [score for score in found if score.f1 > 0]
    return max(useful, key=lambda score: (score.f1, score.threshold)) if useful else None
