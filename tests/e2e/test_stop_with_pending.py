"""SIGTERM with alerts pending: a clean exit within 8 s, then the rest after a restart, none lost,
none twice."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tensiond.demo import serve_demo_feeds
from tests.slackserver import Reply, SlackServer

pytestmark = pytest.mark.slow


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TENSIOND_TEST_TOKEN": "xoxb-stop-test"}
    with log.open("a") as stream:
        return subprocess.Popen(
            [sys.executable, "-m", "tensiond", "run", "--config", str(config)],
            env=env, stdout=subprocess.DEVNULL, stderr=stream,
        )  # fmt: skip


def test_sigterm_with_alerts_pending_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    feeds = serve_demo_feeds(0)
    base = f"http://127.0.0.1:{feeds.server_address[1]}"
    try:
        with SlackServer() as slack:
            slack.then(*[Reply(delay=1.5) for _ in range(20)])  # a slow Slack: alerts queue up
            config = tmp_path / "tensiond.yaml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "state_dir": str(tmp_path / "state"),
                        "feeds": [
                            {"url": f"{base}/world-wire.xml"},
                            {"url": f"{base}/asia-desk.xml"},
                            {"url": f"{base}/middle-east.xml"},
                            {"url": f"{base}/africa-americas.xml"},
                        ],
                        "fetch": {"allow_private_networks": True},
                        "slack": {"api_url": slack.url, "token_env": "TENSIOND_TEST_TOKEN"},
                        "http": {"listen": ""},
                    }
                )
            )
            log = tmp_path / "stderr.log"
            first = start(config, log)
            try:
                assert slack.wait_for(1, timeout=120), log.read_text()
                stopped_at = time.monotonic()
                first.send_signal(signal.SIGTERM)
                assert first.wait(timeout=8) == 0
                assert time.monotonic() - stopped_at < 8
            finally:
                if first.poll() is None:
                    first.kill()
            database = sqlite3.connect(tmp_path / "state" / "tensiond.db")
            total = database.execute("SELECT count(*) FROM alerts").fetchone()[0]
            sent_before = len(slack.posts())
            assert 1 <= sent_before < total, "the test needs alerts still pending at SIGTERM"
            second = start(config, log)
            try:
                slack.wait_for(total, timeout=120)
                time.sleep(2)
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(timeout=8)
            texts = [post.body["text"] for post in slack.posts()]
            assert len(texts) == total and len(set(texts)) == total
            states = database.execute("SELECT DISTINCT state FROM alerts").fetchall()
            assert states == [("sent",)]
    finally:
        feeds.shutdown()
