"""The team's labelled corpus: loading, validation and the split into train / dev / test.

Examples that share a ``story`` always land in the same split, and so do stories whose texts are
near-duplicates (cosine similarity of their embeddings above a bar), so no split can be passed by
remembering a paraphrase from another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tensiond.exceptions import ModelError
from tensiond.types import LABELS, MODALITIES

STYLES = ("headline", "lede", "sentence", "incident_note")
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    modality: str
    story: str
    style: str
    source: str  # "file:line" for error messages and audits


def _parse(line: str, where: str) -> Example:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ModelError(f"{where}: not JSON: {error.msg}") from error
    if not isinstance(data, dict):
        raise ModelError(f"{where}: expected an object")
    text = str(data.get("text", "")).strip()
    label, modality = data.get("label"), data.get("modality", "actual")
    if not text:
        raise ModelError(f"{where}: empty text")
    if label not in LABELS:
        raise ModelError(f"{where}: unknown label {label!r}")
    if modality not in MODALITIES:
        raise ModelError(f"{where}: unknown modality {modality!r}")
    style = data.get("style", "headline")
    story = str(data.get("story") or hashlib.sha256(text.encode()).hexdigest()[:12])
    return Example(text, label, modality, story, style if style in STYLES else "headline", where)


def read_jsonl(path: Path) -> list[Example]:
    """Read labelled examples from one JSONL file; errors name the file and line."""
    examples = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                examples.append(_parse(line, f"{path.name}:{number}"))
    return examples


def load_corpus(folder: Path) -> list[Example]:
    """Every example in ``folder/*.jsonl``, exact duplicate texts dropped (first one wins)."""
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise ModelError(f"no corpus files (*.jsonl) in {folder}")
    seen: set[str] = set()
    examples = []
    for path in files:
        for example in read_jsonl(path):
            key = " ".join(example.text.lower().split())
            if key not in seen:
                seen.add(key)
                examples.append(example)
    return examples


def _bucket(story: str) -> str:
    digest = int(hashlib.sha256(story.encode()).hexdigest()[:8], 16) % 100
    return "test" if digest < 15 else "dev" if digest < 30 else "train"


def _groups(stories: Sequence[str], embeddings: np.ndarray, bar: float) -> list[str]:
    """Union stories whose examples are near-duplicates; return each example's group key."""
    parent = {story: story for story in stories}

    def find(story: str) -> str:  # union-find with path halving
        while parent[story] != story:
            parent[story] = parent[parent[story]]
            story = parent[story]
        return story

    for start in range(0, len(stories), 512):
        block = embeddings[start : start + 512] @ embeddings.T
        for row, column in zip(*np.nonzero(block > bar), strict=True):
            first, second = find(stories[start + row]), find(stories[column])
            if first != second:
                parent[max(first, second)] = min(first, second)
    return [find(story) for story in stories]


def split(
    examples: Sequence[Example], embeddings: np.ndarray, near_duplicate: float = 0.9
) -> dict[str, list[int]]:
    """Indexes of the train, dev and test examples, by story and near-duplicate group."""
    groups = _groups([example.story for example in examples], embeddings, near_duplicate)
    result: dict[str, list[int]] = {name: [] for name in SPLITS}
    for index, group in enumerate(groups):
        result[_bucket(group)].append(index)
    return result


def write_jsonl(path: Path, examples: Iterable[Example]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            row = {
                "text": example.text,
                "label": example.label,
                "modality": example.modality,
                "story": example.story,
                "style": example.style,
            }
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
