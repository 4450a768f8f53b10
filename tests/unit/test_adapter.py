"""Adapters: merged weights give exactly what the wrapped layers computed."""

from __future__ import annotations

import torch
from torch import nn

from tensiond.classify.adapter import attach, detach, export, merge


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList([nn.Module()])
        self.encoder.layer[0].query = nn.Linear(6, 6)  # type: ignore[index]
        self.encoder.layer[0].other = nn.Linear(6, 6)  # type: ignore[index]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        layer = self.encoder.layer[0]  # type: ignore[index]
        return layer.other(layer.query(inputs))  # type: ignore[no-any-return]


def test_only_target_layers_are_wrapped_and_merging_matches_training_time_output() -> None:
    torch.manual_seed(0)
    model = Tiny()
    wrapped = attach(model, rank=2, alpha=4.0, seed=1)
    assert list(wrapped) == ["encoder.layer.0.query"]
    for module in wrapped.values():
        nn.init.normal_(module.up)
    inputs = torch.randn(3, 6)
    with torch.no_grad():
        expected = model(inputs)
    tensors = export(wrapped)
    detach(model, wrapped)
    assert merge(model, tensors, scale=2.0) == 1
    with torch.no_grad():
        torch.testing.assert_close(model(inputs), expected)
