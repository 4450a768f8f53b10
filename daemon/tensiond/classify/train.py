"""Training the head: seeded and reproducible, kept apart from inference.

A low-rank adapter first tunes the encoder to the corpus (see :mod:`.tune`); the encoder is then
quantised as the daemon will run it (``model.quantize``), so that the heads are fitted on the very
vectors they will read. Each task (label, modality) gets a small MLP trained with class-balanced
cross-entropy on the train split, then a temperature fitted on dev so probabilities are calibrated.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import numpy as np

from tensiond.classify import corpus as corpus_module
from tensiond.classify.corpus import Example
from tensiond.classify.encoder import Encoder
from tensiond.classify.head import Head, TaskHead
from tensiond.classify.metrics import Report, report
from tensiond.classify.tune import TuneOptions, fine_tune
from tensiond.types import LABELS, MODALITIES

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainOptions:
    corpus: Path
    output: Path
    seed: int = 13
    epochs: int = 80
    hidden: int = 256
    dropout: float = 0.2
    weight_decay: float = 1e-3
    learning_rate: float = 2e-3
    adapter_rank: int = 8  # 0: keep the encoder as it is, train only the heads
    adapter_epochs: int = 3
    quantize: str = "none"  # as model.quantize: heads fit what the daemon's encoder computes


@dataclass(frozen=True)
class TrainResult:
    head: Head
    dev: Report
    test: Report
    modality_dev: Report
    sizes: dict[str, int]


def _seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def embed_cached(encoder: Encoder, texts: Sequence[str], cache: Path | None) -> np.ndarray:
    """Embeddings of ``texts``, reusing a cache file keyed by the encoder and the texts."""
    key = hashlib.sha256(("\n".join(texts) + str(encoder.path)).encode()).hexdigest()[:16]
    path = cache / f"embeddings-{key}.npy" if cache else None
    if path and path.exists():
        return np.asarray(np.load(path))
    vectors = encoder.encode(texts, batch_size=64)
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return vectors


def fit_task(
    features: np.ndarray,
    targets: np.ndarray,
    classes: int,
    options: TrainOptions,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Train one MLP head; returns its weights as numpy arrays."""
    import torch
    from torch import nn

    _seed(options.seed)
    model = nn.Sequential(
        nn.Dropout(options.dropout),
        nn.Linear(features.shape[1], options.hidden),
        nn.ReLU(),
        nn.Dropout(options.dropout),
        nn.Linear(options.hidden, classes),
    )
    counts = np.bincount(targets, minlength=classes).astype(np.float32)
    balance = np.sqrt(counts.mean() / np.maximum(counts, 1))  # soften: sqrt of inverse frequency
    weights = torch.tensor(balance / balance.mean(), dtype=torch.float32)
    loss_function = nn.CrossEntropyLoss(weight=weights, label_smoothing=0.05)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    inputs, labels = torch.tensor(features), torch.tensor(targets)
    generator = torch.Generator().manual_seed(options.seed)
    for epoch in range(options.epochs):
        model.train()
        order = torch.randperm(len(inputs), generator=generator)
        for batch in torch.split(order, 64):
            optimiser.zero_grad()
            loss_function(model(inputs[batch]), labels[batch]).backward()
            optimiser.step()
        if progress:
            progress("epochs", epoch + 1, options.epochs)
    hidden, out = cast(nn.Linear, model[1]), cast(nn.Linear, model[4])
    return {
        "hidden.weight": hidden.weight.detach().numpy().copy(),
        "hidden.bias": hidden.bias.detach().numpy().copy(),
        "out.weight": out.weight.detach().numpy().copy(),
        "out.bias": out.bias.detach().numpy().copy(),
    }


def fit_temperature(head: TaskHead, features: np.ndarray, targets: np.ndarray) -> float:
    """The temperature that minimises negative log-likelihood on dev (grid search, robust)."""
    best, best_loss = 1.0, float("inf")
    for temperature in np.exp(np.linspace(np.log(0.3), np.log(5.0), 60)):
        candidate = TaskHead(head.names, head.weights, float(temperature))
        probabilities = candidate.probabilities(features)
        loss = -np.log(probabilities[np.arange(len(targets)), targets] + 1e-12).mean()
        if loss < best_loss:
            best, best_loss = float(temperature), float(loss)
    return best


def _task(
    name: str,
    names: Sequence[str],
    values: Sequence[str],
    features: np.ndarray,
    splits: dict[str, list[int]],
    options: TrainOptions,
    progress: Progress | None,
) -> TaskHead:
    targets = np.array([names.index(value) for value in values])
    train, dev = splits["train"], splits["dev"]
    weights = fit_task(features[train], targets[train], len(names), options, progress)
    head = TaskHead(tuple(names), weights, 1.0)
    temperature = fit_temperature(head, features[dev], targets[dev]) if dev else 1.0
    return TaskHead(tuple(names), weights, temperature)


def train(
    encoder: Encoder,
    examples: Sequence[Example],
    options: TrainOptions,
    cache: Path | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Split, embed, fit both tasks, calibrate, evaluate on dev and test, save the head."""
    texts = [example.text for example in examples]
    features = embed_cached(encoder, texts, cache)
    splits = corpus_module.split(examples, features)
    adapter: dict[str, np.ndarray] = {}
    tuning: dict[str, object] = {}
    if options.adapter_rank:
        tune = TuneOptions(rank=options.adapter_rank, alpha=2.0 * options.adapter_rank,
                           epochs=options.adapter_epochs, seed=options.seed)  # fmt: skip
        adapter, scale = fine_tune(encoder, [examples[i] for i in splits["train"]], tune, progress)
        tuning = {"rank": tune.rank, "alpha": tune.alpha, "scale": scale, "epochs": tune.epochs}
    if options.quantize != "none":
        encoder.quantize(options.quantize)
    if options.adapter_rank or options.quantize != "none":
        features = encoder.encode(texts, batch_size=64)
    labels = [example.label for example in examples]
    modalities = [example.modality for example in examples]
    label_head = _task("label", LABELS, labels, features, splits, options, progress)
    modality_head = _task("modality", MODALITIES, modalities, features, splits, options, progress)
    metadata = {
        "version": f"head-{datetime.now(UTC):%Y%m%d}-s{options.seed}",
        "encoder": encoder.path.name if encoder.path.name != "model" else "all-MiniLM-L6-v2",
        "seed": options.seed,
        "epochs": options.epochs,
        "hidden": options.hidden,
        "quantize": options.quantize,
        "examples": {name: len(indexes) for name, indexes in splits.items()},
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if tuning:
        metadata["adapter"] = tuning
    head = Head({"label": label_head, "modality": modality_head}, metadata, adapter)
    head.save(options.output)
    for name in ("dev", "test"):
        corpus_module.write_jsonl(
            options.output.parent / "splits" / f"{name}.jsonl", [examples[i] for i in splits[name]]
        )

    def evaluate(task: TaskHead, values: Sequence[str], split: str) -> Report:
        indexes = splits[split]
        truth = np.array([task.names.index(values[i]) for i in indexes])
        return report(task.names, truth, task.probabilities(features[indexes]))

    return TrainResult(
        head=head,
        dev=evaluate(label_head, labels, "dev"),
        test=evaluate(label_head, labels, "test"),
        modality_dev=evaluate(modality_head, modalities, "dev"),
        sizes={name: len(indexes) for name, indexes in splits.items()},
    )
