"""The real daemon as a subprocess: feeds on loopback in, Slack-compatible server out, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tensiond.demo import serve_demo_feeds
from tests.slackserver import SlackServer

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_feeds():  # type: ignore[no-untyped-def]
    server = serve_demo_feeds(0)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def write_config(tmp_path: Path, feeds_url: str, slack_url: str) -> Path:
    config = {
        "state_dir": str(tmp_path / "state"),
        "feeds": [
            {"name": "Wire", "url": f"{feeds_url}/world-wire.xml"},
            {"name": "Asia", "url": f"{feeds_url}/asia-desk.xml"},
            {"name": "Mideast", "url": f"{feeds_url}/middle-east.xml"},
            {"name": "Broken", "url": f"{feeds_url}/broken.xml"},
        ],
        "fetch": {"allow_private_networks": True},
        "slack": {"api_url": slack_url, "token_env": "TENSIOND_TEST_TOKEN"},
        "http": {"listen": "127.0.0.1:0"},
    }
    path = tmp_path / "tensiond.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def environment() -> dict[str, str]:
    return {**os.environ, "TENSIOND_TEST_TOKEN": "xoxb-e2e-token", "PYTHONUNBUFFERED": "1"}


def test_the_daemon_alerts_once_and_stops_cleanly_on_sigterm(
    tmp_path: Path, demo_feeds: str
) -> None:
    with SlackServer() as slack:
        config = write_config(tmp_path, demo_feeds, slack.url)
        log = (tmp_path / "stderr.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "tensiond", "run", "--config", str(config)],
            env=environment(), stdout=subprocess.PIPE, stderr=log, cwd=tmp_path,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not slack.posts() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert slack.posts(), (tmp_path / "stderr.log").read_text()
            time.sleep(3)
            posts = slack.posts()
            texts = [p.body["text"] for p in posts]
            assert any("North Korea" in t or "N. Korea" in t for t in texts), texts
            assert sum("Korea" in t and "missile" in t for t in texts) == 1, texts
            assert not any("derby" in t or "Nikkei" in t for t in texts), texts
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=8) == 0
            assert time.monotonic() - started < 8
        finally:
            if process.poll() is None:
                process.kill()
        stderr = (tmp_path / "stderr.log").read_text()
        assert "xoxb-e2e-token" not in stderr
        assert "feed_error feed=Broken" in stderr
        assert "stopped" in stderr


def test_once_polls_delivers_and_exits(tmp_path: Path, demo_feeds: str) -> None:
    with SlackServer() as slack:
        config = write_config(tmp_path, demo_feeds, slack.url)
        command = [sys.executable, "-m", "tensiond", "once", "--config", str(config)]
        result = subprocess.run(
            command, env=environment(), capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, result.stderr
        first = len(slack.posts())
        assert first >= 3
        again = subprocess.run(
            command, env=environment(), capture_output=True, text=True, timeout=180
        )
        assert again.returncode == 0
        assert len(slack.posts()) == first, "a story seen again must not alert again"


def test_classify_speaks_the_jsonl_contract(tmp_path: Path) -> None:
    stories = [
        {"id": "a", "text": "North Korea fires ballistic missile into the sea off its east coast"},
        {
            "id": 7,
            "text": "Late missile from 30 yards wins the derby",
            "summary": "A stunning strike.",
        },
        {"id": "c", "text": "EU imposes new sanctions on Russian banks"},
    ]
    stdin = "\n".join(json.dumps(s) for s in stories) + "\n"
    result = subprocess.run(
        [sys.executable, "-m", "tensiond", "classify"],
        input=stdin, capture_output=True, text=True, timeout=180, env=environment(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["id"] for row in rows] == ["a", 7, "c"]
    for row in rows:
        assert {"id", "label", "tension", "probabilities", "actors", "modality"} <= set(row)
        assert 0 <= row["tension"] <= 100
        assert abs(sum(row["probabilities"].values()) - 1) < 0.01
    assert rows[0]["label"] == "weapons_test" and "KP" in rows[0]["actors"]
    assert rows[1]["label"] == "other" and rows[1]["tension"] < 60
    assert rows[2]["label"] == "coercion"


def test_classify_names_the_bad_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tensiond", "classify"],
        input='{"id": 1, "text": "ok"}\nnot json\n', capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 1
    assert "line 2" in result.stderr
