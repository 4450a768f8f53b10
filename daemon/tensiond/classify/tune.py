"""Fine-tuning the encoder with a low-rank adapter on the team's corpus (SetFit's idea, cheaper).

The encoder learns, through small adapters on its linear layers, to pull apart what the corpus
separates (a missile test from a missile strike, a football "missile" from either); the heads are
then trained on the tuned embeddings as before. Only the adapter is saved (a few hundred KB).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tensiond.classify.adapter import attach, detach, export, merge
from tensiond.classify.corpus import Example
from tensiond.classify.encoder import Encoder
from tensiond.types import LABELS, MODALITIES

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TuneOptions:
    rank: int = 8
    alpha: float = 16.0
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-3
    max_length: int = 64
    seed: int = 13


def _weights(targets: np.ndarray, classes: int) -> np.ndarray:
    counts = np.bincount(targets, minlength=classes).astype(np.float32)
    balance = np.sqrt(counts.mean() / np.maximum(counts, 1))
    return np.asarray(balance / balance.mean(), dtype=np.float32)


def fine_tune(
    encoder: Encoder,
    examples: Sequence[Example],
    options: TuneOptions,
    progress: Progress | None = None,
) -> tuple[dict[str, np.ndarray], float]:
    """Train an adapter on ``examples``, merge it into ``encoder``; returns (adapter, scale)."""
    import torch
    from torch import nn

    torch.manual_seed(options.seed)
    model = encoder.model
    wrapped = attach(model, options.rank, options.alpha, options.seed)
    heads = nn.ModuleDict(
        {
            "label": nn.Linear(encoder.dimension, len(LABELS)),
            "modality": nn.Linear(encoder.dimension, len(MODALITIES)),
        }
    )
    labels = np.array([LABELS.index(e.label) for e in examples])
    modalities = np.array([MODALITIES.index(e.modality) for e in examples])
    losses = {
        "label": nn.CrossEntropyLoss(
            torch.from_numpy(_weights(labels, len(LABELS))), label_smoothing=0.05
        ),
        "modality": nn.CrossEntropyLoss(torch.from_numpy(_weights(modalities, len(MODALITIES)))),
    }
    trainable = [p for m in wrapped.values() for p in (m.down, m.up)] + list(heads.parameters())
    optimiser = torch.optim.AdamW(trainable, lr=options.learning_rate, weight_decay=0.01)
    generator = torch.Generator().manual_seed(options.seed)
    steps = options.epochs * -(-len(examples) // options.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, options.learning_rate, total_steps=steps
    )
    dropout = nn.Dropout(0.1)
    model.train()
    step = 0
    for _epoch in range(options.epochs):
        for batch in torch.split(
            torch.randperm(len(examples), generator=generator), options.batch_size
        ):
            indexes = batch.tolist()
            tokens = encoder.tokenizer(
                [examples[i].text for i in indexes], padding=True, truncation=True,
                max_length=options.max_length, return_tensors="pt",
            )  # fmt: skip
            hidden = model(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = dropout((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9))
            loss = losses["label"](heads["label"](pooled), torch.from_numpy(labels[indexes]))
            loss = loss + 0.5 * losses["modality"](
                heads["modality"](pooled), torch.from_numpy(modalities[indexes])
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            if progress:
                progress("tuning", step, steps)
    model.eval()
    tensors = export(wrapped)
    detach(model, wrapped)
    scale = options.alpha / options.rank
    merge(model, tensors, scale)
    return tensors, scale
