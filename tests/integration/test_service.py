"""The service side: health endpoints, reload keeping the last good config, the scheduler rules."""

from __future__ import annotations

import types
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tensiond import pipeline
from tensiond.clock import SystemClock
from tensiond.feeds.fetch import Fetcher
from tensiond.health import HealthServer
from tensiond.metrics import Metrics
from tensiond.scheduler import Daemon
from tensiond.storage.repository import Repository
from tests.conftest import make_settings


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def services(repository: Repository, tmp_path: Path) -> pipeline.Services:
    settings = make_settings(tmp_path)
    return pipeline.Services(
        settings=settings,
        repository=repository,
        fetcher=Fetcher(settings.fetch),
        classifier=types.SimpleNamespace(scoring=settings.scoring),  # type: ignore[arg-type]
        sender=None,  # type: ignore[arg-type]
        clock=SystemClock(),
        metrics=Metrics(),
        owner="test",
    )


def test_health_endpoints_answer_and_metrics_have_bounded_labels(repository, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = services(repository, tmp_path)
    state = {"ready": False}
    server = HealthServer("127.0.0.1:0", run.metrics, lambda: True, lambda: state["ready"])
    server.start()
    try:
        base = f"http://{server.address}"
        assert get(base + "/healthz")[0] == 200
        assert get(base + "/readyz")[0] == 503
        state["ready"] = True
        assert get(base + "/readyz")[0] == 200
        run.metrics.fetches.labels("ok").inc()
        run.metrics.fetch_errors.labels("timeout").inc()
        status, body = get(base + "/metrics")
        assert status == 200
        assert 'tensiond_fetches_total{outcome="ok"} 1.0' in body
        assert "http://" not in body and "https://" not in body
        assert get(base + "/nope")[0] == 404
    finally:
        server.stop()


def test_a_failing_readiness_check_is_503_not_a_crash(repository, tmp_path) -> None:  # type: ignore[no-untyped-def]
    def broken() -> bool:
        raise RuntimeError("database down")

    server = HealthServer("127.0.0.1:0", Metrics(), lambda: True, broken)
    server.start()
    try:
        assert get(f"http://{server.address}/readyz")[0] == 503
    finally:
        server.stop()


def write(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data))


def test_reload_applies_a_good_config_and_keeps_the_last_good_one(repository, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "tensiond.yaml"
    state = str(tmp_path / "state")
    write(config, {"state_dir": state, "alerting": {"default_threshold": 70}})
    daemon = Daemon(services(repository, tmp_path), str(config))
    assert daemon.reload()
    assert daemon.services.settings.alerting.default_threshold == 70
    write(config, {"state_dir": state, "alerting": {"default_threshold": 500}, "bogus": 1})
    assert not daemon.reload()
    assert daemon.services.settings.alerting.default_threshold == 70
    metrics = daemon.services.metrics
    assert metrics.config_last_reload_ok._value.get() == 0
    assert metrics.config_reloads.labels("rejected")._value.get() == 1
    write(config, {"state_dir": state, "feeds": [{"url": "https://new.example/rss"}]})
    assert daemon.reload()
    assert [s.url for s in repository.feed_states()] == ["https://new.example/rss"]
    assert metrics.config_last_reload_ok._value.get() == 1


def test_jobs_run_one_at_a_time_and_coalesce_missed_runs(repository, tmp_path) -> None:  # type: ignore[no-untyped-def]
    daemon = Daemon(services(repository, tmp_path))
    daemon.start()
    try:
        for job in daemon.scheduler.get_jobs():
            assert job.max_instances == 1
            assert job.coalesce is True
            assert job.misfire_grace_time == 30
    finally:
        daemon.stop()


@pytest.mark.parametrize("stuck_for", [10.0, 10_000.0], ids=["working", "hung"])
def test_a_hung_job_makes_the_loop_unhealthy(repository, tmp_path, stuck_for: float) -> None:  # type: ignore[no-untyped-def]
    import time

    daemon = Daemon(services(repository, tmp_path))
    daemon._busy["poll"] = time.monotonic() - stuck_for
    assert daemon.alive() is (stuck_for < 300)
