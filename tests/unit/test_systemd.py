"""sd_notify over a real unix datagram socket."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tensiond import systemd


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    path = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield server
    server.close()


def test_ready_and_watchdog_reach_systemd(notify_socket: socket.socket) -> None:
    assert systemd.ready("polling")
    assert notify_socket.recv(1024) == b"READY=1\nSTATUS=polling"
    assert systemd.watchdog()
    assert notify_socket.recv(1024) == b"WATCHDOG=1"
    assert systemd.stopping()
    assert notify_socket.recv(1024) == b"STOPPING=1"
    assert systemd.reloading()
    assert notify_socket.recv(1024).startswith(b"RELOADING=1\nMONOTONIC_USEC=")


def test_nothing_happens_without_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.ready() is False


def test_watchdog_interval_is_half_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert systemd.watchdog_interval() == 15.0
