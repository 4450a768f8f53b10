"""The daemon as systemd sees it: READY after loading, WATCHDOG from the live loop, RELOADING on
SIGHUP and on a config change, a bad config keeping the last good one, STOPPING on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def messages(sock: socket.socket, until: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            seen.append(sock.recv(4096).decode())
        except TimeoutError:
            break
        if any(until in message for message in seen):
            break
    return seen


def wait_for_log(path: Path, text: str, timeout: float = 20, count: int = 1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.read_text().count(text) >= count:
            return True
        time.sleep(0.2)
    return False


def test_notify_protocol_reload_and_stop(tmp_path: Path) -> None:
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    port = free_port()
    config = tmp_path / "tensiond.yaml"
    good = {"state_dir": str(tmp_path / "state"), "http": {"listen": f"127.0.0.1:{port}"}}
    config.write_text(yaml.safe_dump(good))
    env = {**os.environ, "NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "2000000"}
    env.pop("WATCHDOG_PID", None)
    stderr = tmp_path / "stderr.log"
    with stderr.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tensiond", "run", "--config", str(config)],
            env=env, stderr=log, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        answers = []
        while process.poll() is None and len(answers) < 400:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    answers.append(r.status)
                    break
            except urllib.error.HTTPError as error:
                answers.append(error.code)
            except OSError:
                pass
            time.sleep(0.1)
        assert 503 in answers and answers[-1] == 200, answers  # not ready while the model loads
        seen = messages(sock, "READY=1", timeout=90)
        assert any(m.startswith("READY=1") for m in seen), stderr.read_text()
        assert "model=" in stderr.read_text()  # the model was loaded before READY
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            assert response.status == 200
        assert "WATCHDOG=1" in messages(sock, "WATCHDOG=1", timeout=5)

        process.send_signal(signal.SIGHUP)
        seen = messages(sock, "READY=1", timeout=10)
        assert any(m.startswith("RELOADING=1") for m in seen)
        assert wait_for_log(stderr, "reload_applied")

        config.write_text(yaml.safe_dump({**good, "alerting": {"default_threshold": 900}}))
        assert wait_for_log(stderr, "reload_rejected"), stderr.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert "tensiond_config_last_reload_ok 0.0" in response.read().decode()

        time.sleep(1.1)  # a new modification time
        config.write_text(yaml.safe_dump({**good, "alerting": {"default_threshold": 70}}))
        assert wait_for_log(stderr, "reload_applied", timeout=20, count=2)

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=8) == 0
        assert time.monotonic() - started < 8
        assert any("STOPPING=1" in m for m in messages(sock, "STOPPING=1", timeout=2))
    finally:
        if process.poll() is None:
            process.kill()
        sock.close()


def test_a_bad_config_at_start_exits_non_zero_with_every_error(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("feeds:\n  - url: gopher://x\nalerting:\n  default_threshold: high\n")
    result = subprocess.run(
        [sys.executable, "-m", "tensiond", "run", "--config", str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "feeds[0].url" in result.stderr and "alerting.default_threshold" in result.stderr
