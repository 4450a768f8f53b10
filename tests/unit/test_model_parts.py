"""The classifier's parts that need no encoder: head files, corpus splits, metrics, adapters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tensiond.classify.corpus import Example, load_corpus, read_jsonl, split
from tensiond.classify.head import SIDECAR, WEIGHTS, Head, TaskHead
from tensiond.classify.metrics import expected_calibration_error, report
from tensiond.exceptions import ModelError

ROOT = Path(__file__).resolve().parents[2]


def small_head() -> Head:
    rng = np.random.default_rng(1)
    weights = {
        "hidden.weight": rng.normal(size=(8, 4)).astype(np.float32),
        "hidden.bias": np.zeros(8, np.float32),
        "out.weight": rng.normal(size=(3, 8)).astype(np.float32),
        "out.bias": np.zeros(3, np.float32),
    }
    task = TaskHead(("a", "b", "c"), weights, 1.5)
    adapter = {"layer.0.down": np.ones((2, 4), np.float32)}
    return Head({"label": task}, {"version": "t1"}, adapter)


def test_a_head_round_trips_through_safetensors_and_json(tmp_path: Path) -> None:
    head = small_head()
    head.save(tmp_path)
    loaded = Head.load(tmp_path)
    features = np.random.default_rng(2).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(
        loaded.tasks["label"].probabilities(features), head.tasks["label"].probabilities(features)
    )
    assert loaded.version == "t1" and loaded.tasks["label"].temperature == 1.5
    assert set(loaded.adapter) == {"layer.0.down"}
    sidecar = json.loads((tmp_path / SIDECAR).read_text())
    assert len(sidecar["sha256"]) == 64


def test_a_tampered_head_is_refused(tmp_path: Path) -> None:
    small_head().save(tmp_path)
    weights = tmp_path / WEIGHTS
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        Head.load(tmp_path)


def test_the_committed_head_loads_and_knows_every_label() -> None:
    head = Head.load(ROOT / "models" / "head")
    from tensiond.types import LABELS, MODALITIES

    assert head.tasks["label"].names == LABELS
    assert head.tasks["modality"].names == MODALITIES


def example(story: str, text: str) -> Example:
    return Example(text, "other", "actual", story, "headline", "t")


def test_stories_and_near_duplicates_never_straddle_splits() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(size=(200, 16))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    examples = [example(f"s{i // 2}", f"text {i}") for i in range(200)]
    twin = base.copy()
    twin[101] = twin[7]  # a near-duplicate of another story's text
    splits = split(examples, twin.astype(np.float32))
    where = {i: name for name, indexes in splits.items() for i in indexes}
    for i in range(0, 200, 2):
        assert where[i] == where[i + 1]
    assert where[101] == where[7]
    assert sorted(where) == list(range(200))


def test_the_team_corpus_is_valid_and_big_enough() -> None:
    examples = load_corpus(ROOT / "models" / "corpus")
    counts: dict[str, int] = {}
    for item in examples:
        counts[item.label] = counts.get(item.label, 0) + 1
    assert len(examples) >= 3000
    assert min(counts.values()) >= 250 and counts["other"] >= 600
    assert sum(e.modality != "actual" for e in examples) >= 300


def test_a_bad_corpus_line_names_its_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok", "label": "other"}\n{"text": "x", "label": "missiles"}\n')
    with pytest.raises(ModelError, match=r"bad\.jsonl:2: unknown label 'missiles'"):
        read_jsonl(path)


def test_metrics_on_a_known_confusion() -> None:
    truth = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.eye(3)[[0, 1, 1, 1, 2, 0]] * 0.9 + 0.1 / 3
    result = report(("a", "b", "c"), truth, probabilities)
    assert result.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert result.f1_of("b") == pytest.approx(0.8)
    assert result.accuracy == pytest.approx(4 / 6)
    assert "macro F1" in result.render()


def test_calibration_error_is_zero_when_confidence_matches_accuracy() -> None:
    probabilities = np.array([[0.5, 0.5], [0.5, 0.5]])
    assert expected_calibration_error(probabilities, np.array([0, 1])) == pytest.approx(0.0)
