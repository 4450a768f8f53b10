"""Evaluation metrics, pure numpy: precision / recall / F1 per class, confusion, calibration."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Report:
    names: tuple[str, ...]
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    f1: tuple[float, ...]
    support: tuple[int, ...]
    confusion: np.ndarray
    accuracy: float
    ece: float

    @property
    def macro_f1(self) -> float:
        present = [f for f, s in zip(self.f1, self.support, strict=True) if s]
        return float(np.mean(present)) if present else 0.0

    def f1_of(self, name: str) -> float:
        return self.f1[self.names.index(name)]

    def render(self) -> str:
        width = max(len(name) for name in self.names) + 2
        lines = [f"{'label':<{width}}precision  recall     f1  support"]
        for name, p, r, f, s in zip(
            self.names, self.precision, self.recall, self.f1, self.support, strict=True
        ):
            lines.append(f"{name:<{width}}{p:9.3f}{r:8.3f}{f:7.3f}{s:9d}")
        lines.append(f"{'macro F1':<{width}}{self.macro_f1:24.3f}")
        lines.append(f"{'accuracy':<{width}}{self.accuracy:24.3f}")
        lines.append(f"{'calibration error (ECE, 10 bins)':<{width}} {self.ece:.3f}")
        lines.append("")
        lines.append("confusion (rows: truth, columns: predicted)")
        short = [name[:6] for name in self.names]
        lines.append(" " * width + " ".join(f"{s:>6}" for s in short))
        for name, row in zip(self.names, self.confusion, strict=True):
            lines.append(f"{name:<{width}}" + " ".join(f"{int(v):6d}" for v in row))
        return "\n".join(lines)


def expected_calibration_error(
    probabilities: np.ndarray, truth: np.ndarray, bins: int = 10
) -> float:
    """ECE of the top prediction's confidence, equal-width bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in itertools.pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def report(names: Sequence[str], truth: np.ndarray, probabilities: np.ndarray) -> Report:
    """Compare predictions (argmax of ``probabilities``) with integer ``truth``."""
    predicted = probabilities.argmax(axis=1)
    size = len(names)
    confusion = np.zeros((size, size), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    true_positive = np.diag(confusion).astype(float)
    predicted_count = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = np.divide(
        true_positive, predicted_count, out=np.zeros(size), where=predicted_count > 0
    )
    recall = np.divide(true_positive, support, out=np.zeros(size), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros(size), where=denominator > 0)
    return Report(
        names=tuple(names),
        precision=tuple(map(float, precision)),
        recall=tuple(map(float, recall)),
        f1=tuple(map(float, f1)),
        support=tuple(map(int, support)),
        confusion=confusion,
        accuracy=float((predicted == truth).mean()) if len(truth) else 0.0,
        ece=expected_calibration_error(probabilities, truth) if len(truth) else 0.0,
    )
