"""Low-rank adapters (LoRA) for the encoder: a few hundred kilobytes that tune it to news.

Training wraps the encoder's linear layers with a trainable low-rank update ``up @ down``; the base
weights stay frozen. The saved adapter is merged into the base weights at load time
(``W += scale * up @ down``), so inference costs exactly what the plain encoder costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")


def _targets(model: Any) -> list[str]:
    import torch

    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name.endswith(TARGETS) and ".layer." in name
    ]


def attach(model: Any, rank: int, alpha: float, seed: int) -> dict[str, Any]:
    """Wrap every target linear layer with a trainable low-rank update; returns them by name."""
    import torch
    from torch import nn

    class LowRank(nn.Module):
        def __init__(self, base: nn.Linear) -> None:
            super().__init__()
            self.base = base
            generator = torch.Generator().manual_seed(seed + base.in_features + base.out_features)
            down = torch.randn(rank, base.in_features, generator=generator) / base.in_features**0.5
            self.down = nn.Parameter(down)
            self.up = nn.Parameter(torch.zeros(base.out_features, rank))
            self.scale = alpha / rank

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            update: torch.Tensor = (inputs @ self.down.T @ self.up.T) * self.scale
            result: torch.Tensor = self.base(inputs) + update
            return result

    for parameter in model.parameters():
        parameter.requires_grad_(False)
    wrapped = {}
    for name in _targets(model):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        module = LowRank(getattr(parent, child))
        setattr(parent, child, module)
        wrapped[name] = module
    return wrapped


def export(wrapped: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The adapter as plain arrays: ``<layer>.down`` and ``<layer>.up``."""
    tensors = {}
    for name, module in wrapped.items():
        tensors[f"{name}.down"] = module.down.detach().numpy().astype(np.float32)
        tensors[f"{name}.up"] = module.up.detach().numpy().astype(np.float32)
    return tensors


def detach(model: Any, wrapped: Mapping[str, Any]) -> None:
    """Put the original linear layers back (after training)."""
    for name, module in wrapped.items():
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, module.base)


def merge(model: Any, tensors: Mapping[str, np.ndarray], scale: float) -> int:
    """Add each low-rank update into its base weight; returns how many layers changed."""
    import torch

    layers = sorted({key.rsplit(".", 1)[0] for key in tensors})
    with torch.no_grad():
        for name in layers:
            linear = model.get_submodule(name)
            update = torch.from_numpy(tensors[f"{name}.up"] @ tensors[f"{name}.down"])
            linear.weight += scale * update.to(linear.weight.dtype)
    return len(layers)
