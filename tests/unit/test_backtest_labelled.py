"""`tensiond backtest --labelled`: reading the file, the gold rule, precision and recall per
threshold, with a stub in place of the model (one slow test runs the real one)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from tensiond.backtest import BacktestError
from tensiond.backtest.command import run
from tensiond.backtest.labelled import best, classify_all, read_labelled, scores, should_alert
from tensiond.backtest.sweep import parse_sweep, variants
from tensiond.classify.model import Story
from tensiond.cli import build_parser, main
from tensiond.config.schema import AlertingSettings
from tensiond.types import Classification

# text: (the model's label, its tension); gold labels are in the file
READS = {
    "Pyongyang fires two ballistic missiles": ("weapons_test", 82),
    "Artillery duel on the border kills four": ("armed_conflict", 74),
    "Ministry summons ambassador over map": ("diplomatic_dispute", 52),
    "Striker's missile wins the derby": ("weapons_test", 64),  # a false alarm above 60
    "Oil prices slip on demand worries": ("other", 90),  # other never alerts
    "Troops mass near the frontier, satellite images show": ("military_posture", 58),
}
FILE = [
    {"text": "Pyongyang fires two ballistic missiles", "label": "weapons_test"},
    {"text": "Artillery duel on the border", "summary": "kills four", "label": "armed_conflict"},
    {"text": "Ministry summons ambassador over map", "label": "diplomatic_dispute",
     "alert": False},  # the team does not want these paged
    {"text": "Striker's missile wins the derby", "label": "other"},
    {"text": "Oil prices slip on demand worries", "label": "other"},
    {"text": "Troops mass near the frontier, satellite images show",
     "label": "military_posture", "modality": "actual"},
]  # fmt: skip


class Stub:
    """Reads what READS says; records every batch it is given."""

    version = "stub-1"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def classify(self, stories: Sequence[Story]) -> list[Classification]:
        self.batches.append([story.text for story in stories])
        return [self._read(story) for story in stories]

    def _read(self, story: Story) -> Classification:
        text = story.text.replace("border. kills four", "border kills four")
        label, tension = READS[text]
        return Classification(
            item_id=story.id, label=label, probabilities={label: 1.0}, tension=tension,
            actors=(), dyads=(), modality="actual", why=(), model_version="stub",
        )  # fmt: skip


def write(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("label", "modality", "alert"),
    [("weapons_test", "actual", True), ("threat", "threatened", True),
     ("armed_conflict", "historical", False), ("coercion", "hypothetical", False),
     ("cooperation", "actual", False), ("other", "actual", False)],
)  # fmt: skip
def test_what_should_alert_without_an_explicit_answer(
    label: str, modality: str, alert: bool
) -> None:
    assert should_alert(label, modality) is alert


def test_the_file_is_read_with_the_gold_answer_of_each_story(tmp_path: Path) -> None:
    examples = read_labelled(write(tmp_path / "l.jsonl", FILE))
    assert [e.line for e in examples] == [1, 2, 3, 4, 5, 6]
    assert [e.should_alert for e in examples] == [True, True, False, False, False, True]
    assert examples[1].summary == "kills four"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "l.jsonl:2: not JSON"),
        ("[1, 2]", "l.jsonl:2: expected an object"),
        ('{"label": "threat"}', "l.jsonl:2: needs a non-empty 'text'"),
        ('{"text": "x", "label": "war"}', "l.jsonl:2: 'label' 'war' is not one of"),
        ('{"text": "x", "label": "threat", "modality": "maybe"}', "l.jsonl:2: 'modality' 'maybe'"),
        ('{"text": "x", "label": "threat", "alert": "yes"}', "l.jsonl:2: 'alert' must be true"),
        ('{"text": "x", "label": "threat", "summary": 3}', "l.jsonl:2: 'summary' must be text"),
    ],
    ids=["not-json", "not-object", "no-text", "bad-label", "bad-modality", "bad-alert",
         "bad-summary"],
)  # fmt: skip
def test_a_bad_line_is_named_by_its_number(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text(json.dumps(FILE[0]) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(BacktestError) as caught:
        read_labelled(path)
    assert problem in str(caught.value)


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(BacktestError, match="no stories"):
        read_labelled(tmp_path / "e.jsonl")


def test_precision_and_recall_per_threshold(tmp_path: Path) -> None:
    examples = read_labelled(write(tmp_path / "l.jsonl", FILE))
    verdicts = classify_all(examples, Stub())
    settings = AlertingSettings()
    tried = variants(settings, parse_sweep("default_threshold=50:80:10", settings))
    found = scores(examples, verdicts, [(float(str(value)), s) for value, s in tried])
    table = {s.threshold: (s.alerts, s.hits, s.false_alarms, s.missed) for s in found}
    assert table == {
        50: (5, 3, 2, 0),  # the envoy (gold: no) and the striker are false alarms
        60: (3, 2, 1, 1),  # the troops (58) are missed, the striker (64) still alerts
        70: (2, 2, 0, 1),
        80: (1, 1, 0, 2),
    }
    at_70 = found[2]
    assert (at_70.precision, at_70.recall) == (1.0, pytest.approx(2 / 3))
    top = best(found)
    assert top is not None and top.threshold == 70 and top.f1 == pytest.approx(0.8)


def test_per_label_thresholds_of_the_config_still_apply(tmp_path: Path) -> None:
    examples = read_labelled(write(tmp_path / "l.jsonl", FILE))
    settings = AlertingSettings(thresholds={"military_posture": 55})
    tried = variants(settings, parse_sweep("default_threshold=70,80", settings))
    found = scores(examples, classify_all(examples, Stub()), [(70.0, tried[0][1])])
    assert (found[0].hits, found[0].missed) == (3, 0)  # the troops, at 58, now alert


def test_the_model_reads_in_chunks_prepared_as_the_daemon_prepares(tmp_path: Path) -> None:
    rows = [{"text": "Pyongyang fires two ballistic missiles", "label": "weapons_test"}] * 300
    stub = Stub()
    classify_all(read_labelled(write(tmp_path / "l.jsonl", rows)), stub)
    assert [len(batch) for batch in stub.batches] == [256, 44]


def labelled(*arguments: str) -> argparse.Namespace:
    return build_parser().parse_args(["backtest", *arguments])


def test_the_command_prints_the_table_and_the_best_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "l.jsonl", FILE)
    arguments = labelled("--labelled", str(path), "--thresholds", "50:80:10")
    assert run(arguments, reader_factory=lambda _settings: Stub()) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "6 labelled stories, 3 should alert; model stub-1"
    assert lines[4].split() == ["50", "5", "3", "2", "0", "0.600", "1.000", "0.750"]
    assert lines[-1] == "best F1 0.800 at threshold 70 (precision 1.000, recall 0.667)"
    arguments = labelled("--labelled", str(path), "--thresholds", "50:80:10", "--json")
    assert run(arguments, reader_factory=lambda _settings: Stub()) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["best"]["threshold"] == 70 and len(result["thresholds"]) == 4


def test_the_command_names_a_bad_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path / "l.jsonl", [*FILE[:2], {"text": "x", "label": "nope"}])
    arguments = labelled("--labelled", str(path))
    assert run(arguments, reader_factory=lambda _settings: Stub()) == 2
    assert f"{path}:3: 'label' 'nope'" in capsys.readouterr().err
    arguments = labelled(
        "--labelled", str(write(tmp_path / "ok.jsonl", FILE)), "--thresholds", "90:200:5"
    )
    assert run(arguments, reader_factory=lambda _settings: Stub()) == 2
    assert "--thresholds=105: Input should be less than or equal to 100" in capsys.readouterr().err


@pytest.mark.slow
def test_the_real_model_on_a_tiny_labelled_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"text": "North Korea fires two ballistic missiles into the sea, Seoul says",
         "label": "weapons_test"},
        {"text": "Russian missile strike on Kharkiv kills five civilians",
         "label": "armed_conflict"},
        {"text": "Striker's late missile sinks rivals in cup final", "label": "other"},
        {"text": "Stocks close higher as tech shares rally", "label": "other"},
        {"text": "Leaders of India and Pakistan agree to resume talks", "label": "cooperation"},
    ]  # fmt: skip
    path = write(tmp_path / "tiny.jsonl", rows)
    assert main(["backtest", "--labelled", str(path), "--thresholds", "30:90:10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["stories"], result["should_alert"]) == (5, 2)
    at = {row["threshold"]: row for row in result["thresholds"]}
    assert at[30]["alerts"] >= at[60]["alerts"] >= at[90]["alerts"]
    assert at[60]["hits"] == 2 and at[60]["false_alarms"] == 0
    assert result["best"] is not None and result["best"]["f1"] == 1.0


def test_thresholds_without_a_labelled_file_is_an_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TENSIOND_CONFIG", raising=False)
    assert run(labelled("--thresholds", "40:60:10")) == 2
    assert "--thresholds scores a --labelled file" in capsys.readouterr().err
