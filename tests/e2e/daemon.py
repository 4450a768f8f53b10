"""Helpers for tests that run the real daemon as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

DEMO_FEEDS = ("world-wire", "asia-desk", "middle-east", "africa-americas")
TOKEN_ENV = "TENSIOND_TEST_TOKEN"


def demo_config(tmp_path: Path, feeds_url: str, slack_url: str, **sections: Any) -> Path:
    """A config on the demo feeds and a test Slack server; ``sections`` add or override."""
    slack = {"api_url": slack_url, "token_env": TOKEN_ENV, **sections.pop("slack", {})}
    data = {
        "state_dir": str(tmp_path / "state"),
        "feeds": [{"url": f"{feeds_url}/{name}.xml"} for name in DEMO_FEEDS],
        "fetch": {"allow_private_networks": True},
        "slack": slack,
        "http": {"listen": ""},
        **sections,
    }
    path = tmp_path / "tensiond.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def start_daemon(config: Path, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """``tensiond run`` with a Slack token set; stderr appended to ``log``."""
    environment = {**os.environ, TOKEN_ENV: "xoxb-e2e-token", **env}
    environment.pop("TENSIOND_CRASH_AT", None)
    environment.update(env)
    with log.open("a") as stream:
        return subprocess.Popen(
            [sys.executable, "-m", "tensiond", "run", "--config", str(config)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stream,
        )
