"""Service files are code: the systemd unit verifies and says what the daemon promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "packaging" / "systemd" / "tensiond.service"


def settings_of(unit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_is_a_notify_service_with_watchdog_state_and_hardening() -> None:
    unit = settings_of(UNIT.read_text())
    assert unit["Type"] == ["notify"]
    assert unit["WatchdogSec"] and unit["Restart"] == ["on-failure"]
    assert unit["StateDirectory"] == ["tensiond"]
    assert any("tensiond.env" in value for value in unit["EnvironmentFile"])
    for directive in ("ProtectSystem", "NoNewPrivileges", "PrivateTmp", "RestrictAddressFamilies"):
        assert directive in unit, directive


def test_every_directive_has_its_own_comment() -> None:
    lines = UNIT.read_text().splitlines()
    uncommented = [
        line
        for number, line in enumerate(lines)
        if "=" in line and not line.startswith("#") and not lines[number - 1].startswith("#")
    ]
    assert not uncommented


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    unit = UNIT.read_text().replace(
        "/opt/tensiond/bin/tensiond", shutil.which("true") or "/bin/true"
    )
    copy = tmp_path / "tensiond.service"
    copy.write_text(unit)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "tensiond.service" not in result.stderr, result.stderr
