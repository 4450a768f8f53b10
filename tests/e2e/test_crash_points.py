"""Hard crashes at the outbox's edges, then a restart: nothing lost; nothing twice, except at
most one duplicate in the window after Slack accepted and before the row was marked sent."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from tensiond.crashpoints import EXIT_CODE
from tensiond.demo import serve_demo_feeds
from tests.e2e.daemon import demo_config, start_daemon
from tests.slackserver import SlackServer

pytestmark = pytest.mark.slow


def alert_rows(tmp_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "state" / "tensiond.db") as database:
        return database.execute("SELECT key, state FROM alerts ORDER BY id").fetchall()


@pytest.mark.parametrize(
    ("crash_at", "duplicates_allowed"),
    [("alert_committed", 0), ("slack_accepted", 1)],
    ids=["after-commit-before-slack", "after-slack-before-mark"],
)
def test_a_crash_then_a_restart_loses_nothing(
    tmp_path: Path, crash_at: str, duplicates_allowed: int
) -> None:
    feeds = serve_demo_feeds(0)
    try:
        with SlackServer() as slack:
            config = demo_config(
                tmp_path,
                f"http://127.0.0.1:{feeds.server_address[1]}",
                slack.url,
                # short Slack timeouts keep the crashed process's leases short
                slack={"timeout": "1s", "max_retries": 0},
                alerting={"deliver_interval": "1s"},
            )
            log = tmp_path / "stderr.log"
            crashed = start_daemon(config, log, TENSIOND_CRASH_AT=crash_at)
            assert crashed.wait(timeout=120) == EXIT_CODE, log.read_text()
            rows = alert_rows(tmp_path)
            assert rows and all(state == "pending" for _, state in rows)
            assert len(slack.posts()) == (0 if crash_at == "alert_committed" else 1)
            restarted = start_daemon(config, log)
            try:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    if all(state == "sent" for _, state in alert_rows(tmp_path)):
                        break
                    time.sleep(0.5)
            finally:
                restarted.send_signal(signal.SIGTERM)
                restarted.wait(timeout=8)
            assert all(state == "sent" for _, state in alert_rows(tmp_path)), log.read_text()
            counts = Counter(post.body["text"] for post in slack.posts())
            assert len(counts) == len(rows)
            assert sum(count - 1 for count in counts.values()) <= duplicates_allowed
    finally:
        feeds.shutdown()
