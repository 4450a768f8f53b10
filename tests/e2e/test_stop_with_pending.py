"""SIGTERM with alerts pending: a clean exit within 8 s, then the rest after a restart, none lost,
none twice."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tensiond.demo import serve_demo_feeds
from tests.e2e.daemon import demo_config, start_daemon
from tests.slackserver import Reply, SlackServer

pytestmark = pytest.mark.slow


def test_sigterm_with_alerts_pending_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    feeds = serve_demo_feeds(0)
    base = f"http://127.0.0.1:{feeds.server_address[1]}"
    try:
        with SlackServer() as slack:
            slack.then(*[Reply(delay=1.5) for _ in range(20)])  # a slow Slack: alerts queue up
            config = demo_config(tmp_path, base, slack.url)
            log = tmp_path / "stderr.log"
            first = start_daemon(config, log)
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
            second = start_daemon(config, log)
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
