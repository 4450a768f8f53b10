"""The trained head over the encoder: a small MLP per task, stored as safetensors plus JSON.

Inference is plain numpy (no autograd); training lives in ``train.py``. The sidecar JSON records
the label names, the version, the settings and the sha256 of the weights, which is checked on load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from tensiond.exceptions import ModelError

WEIGHTS = "head.safetensors"
SIDECAR = "head.json"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exponent = np.exp(shifted)
    return np.asarray(exponent / exponent.sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class TaskHead:
    """One classification task: hidden layer (optional), output layer and a temperature."""

    names: tuple[str, ...]
    weights: Mapping[str, np.ndarray]
    temperature: float

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        hidden = embeddings
        if "hidden.weight" in self.weights:
            hidden = hidden @ self.weights["hidden.weight"].T + self.weights["hidden.bias"]
            hidden = np.maximum(hidden, 0.0)
        logits = hidden @ self.weights["out.weight"].T + self.weights["out.bias"]
        return softmax(logits / self.temperature)


@dataclass(frozen=True)
class Head:
    """Every task the model predicts (``label`` and ``modality``), with its metadata.

    ``adapter`` holds the encoder's low-rank adapter (empty when the encoder is used as is).
    """

    tasks: Mapping[str, TaskHead]
    metadata: Mapping[str, Any]
    adapter: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def adapter_scale(self) -> float:
        return float(self.metadata.get("adapter", {}).get("scale", 0.0))

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unversioned"))

    @classmethod
    def load(cls, folder: Path) -> Head:
        weights_path, sidecar_path = folder / WEIGHTS, folder / SIDECAR
        try:
            metadata = json.loads(sidecar_path.read_text(encoding="utf-8"))
            tensors = load_file(str(weights_path))
        except (OSError, ValueError) as error:
            raise ModelError(f"cannot load the classifier head from {folder}: {error}") from error
        if metadata.get("sha256") != sha256_of(weights_path):
            raise ModelError(f"{weights_path}: sha256 does not match {SIDECAR}; retrain or restore")
        adapter = {k[len("adapter.") :]: v for k, v in tensors.items() if k.startswith("adapter.")}
        tasks = {}
        for task, spec in metadata["tasks"].items():
            prefix = f"{task}."
            task_weights = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            tasks[task] = TaskHead(tuple(spec["names"]), task_weights, float(spec["temperature"]))
        return cls(tasks, metadata, adapter)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {
            f"{task}.{name}": np.ascontiguousarray(value, dtype=np.float32)
            for task, head in self.tasks.items()
            for name, value in head.weights.items()
        }
        for name, value in self.adapter.items():
            tensors[f"adapter.{name}"] = np.ascontiguousarray(value, dtype=np.float32)
        weights_path = folder / WEIGHTS
        save_file(tensors, str(weights_path))
        metadata = dict(self.metadata)
        metadata["tasks"] = {
            task: {"names": list(head.names), "temperature": head.temperature}
            for task, head in self.tasks.items()
        }
        metadata["sha256"] = sha256_of(weights_path)
        (folder / SIDECAR).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")


def default_head_path() -> Path:
    """models/head in a source checkout, else the copy packaged inside tensiond."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "models" / "head"
        if (candidate / SIDECAR).exists():
            return candidate
    return here.parent.parent / "data" / "head"
