"""The container image, built and run with podman by the project's own scripts.

packaging/container/build.sh builds the image (a Debian base made with debootstrap, the pinned
venv, the packaged encoder); packaging/container/check.sh runs it: non-root, --help, check-config,
the daemon with a mounted config and a state volume until `podman healthcheck run` passes and a
console alert comes out, a clean stop, and a second container on the same volume that repeats
nothing. The build takes minutes, so these run only when asked for:

    TENSIOND_TEST_CONTAINER=1 .venv/bin/python -m pytest -m container tests/e2e/test_container.py

TENSIOND_TEST_CONTAINER_BUILD_ARGS passes arguments to build.sh (e.g. "--committed").
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "packaging" / "container"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.container,
    pytest.mark.skipif(
        os.environ.get("TENSIOND_TEST_CONTAINER") != "1",
        reason="the image build takes minutes: set TENSIOND_TEST_CONTAINER=1 to run it",
    ),
    pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed"),
    pytest.mark.skipif(
        os.geteuid() != 0, reason="debootstrap and rootful podman need root (the scripts' host)"
    ),
]


def run_script(name: str, *arguments: str, timeout: float) -> tuple[int, str, dict[str, str]]:
    """Run one of the scripts; its exit code, its whole output, and its "result: k=v" pairs."""
    completed = subprocess.run(
        ["bash", str(SCRIPTS / name), *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    results: dict[str, str] = {}
    for line in completed.stdout.splitlines():
        if line.startswith("result: "):
            for pair in line.removeprefix("result: ").split():
                key, _, value = pair.partition("=")
                results[key] = value
    return completed.returncode, completed.stdout, results


def tail(output: str, lines: int = 60) -> str:
    return "\n".join(output.splitlines()[-lines:])


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    arguments = shlex.split(os.environ.get("TENSIOND_TEST_CONTAINER_BUILD_ARGS", ""))
    code, output, results = run_script("build.sh", *arguments, timeout=45 * 60)
    assert code == 0, f"build.sh failed ({code}):\n{tail(output)}"
    return results


def test_the_image_is_built_small_non_root_with_a_health_check(built: dict[str, str]) -> None:
    assert built["image"]
    assert built["user"] == "10001:10001"
    assert "tensiond" in built["healthcheck"] and "healthcheck" in built["healthcheck"]
    # The CPU build of torch keeps the image near 1.5 GB; a CUDA build would add several GB.
    assert 0 < int(built["size_mb"]) < 2500, f"image is {built['size_mb']} MB"


def test_the_image_runs_healthy_alerts_stops_cleanly_and_keeps_state(built: dict[str, str]) -> None:
    code, output, results = run_script("check.sh", timeout=15 * 60)
    assert code == 0, f"check.sh failed ({code}):\n{tail(output)}"
    assert results.get("ok") == "" and "all checks passed" in output
    assert results["health_status"] == "healthy"
    assert results["exit_code"] == "0"
    assert results["user"] == "tensiond/10001"
    assert float(results["healthy_seconds"]) <= float(results["ready_seconds"])
    assert float(results["ready_seconds"]) < 240
    assert "ALERT #container-check" in output
    assert "no alert repeated" in output
