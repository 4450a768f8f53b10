"""The daemon loop: APScheduler 3.x jobs for polling and delivery, signals, watchdog, reload.

Jobs run with ``max_instances=1``, ``coalesce`` and a misfire grace, so a pause of ten minutes
gives one poll, not ten. The main thread only waits: it pings the systemd watchdog while the jobs
make progress, applies reloads on SIGHUP, and stops everything on SIGTERM or SIGINT.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from tensiond import pipeline, systemd
from tensiond.config.load import load_settings
from tensiond.exceptions import ConfigError, TensiondError
from tensiond.feeds.fetch import Fetcher
from tensiond.pipeline import Services

log = logging.getLogger("tensiond.scheduler")

POLL_TICK = timedelta(seconds=15)
STOP_GRACE = 6.0


class Daemon:
    """Runs the pipeline on a schedule until told to stop."""

    def __init__(self, services: Services, config_path: str | None = None) -> None:
        self.services = services
        self.config_path = config_path
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()
        self._busy: dict[str, float] = {}
        self._config_stamp: int | None = None
        self._lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 30},
        )
        self.scheduler.add_listener(self._on_job_error, EVENT_JOB_ERROR)

    # jobs ------------------------------------------------------------------------------------

    def _guarded(self, name: str, work: Callable[[], object]) -> None:
        if self.services.stopping.is_set():
            return
        with self._lock:
            self._busy[name] = time.monotonic()
        try:
            work()
        except TensiondError as error:
            log.error("job_failed job=%s error=%s", name, error)
        finally:
            with self._lock:
                self._busy.pop(name, None)

    def poll_job(self) -> None:
        def work() -> None:
            report = pipeline.poll(self.services)
            queued = pipeline.classify_pending(self.services)
            if report.feeds:
                log.info(
                    "poll_cycle feeds=%d new_items=%d errors=%d alerts=%d",
                    report.feeds, report.new_items, report.errors, len(queued),
                )  # fmt: skip
            if queued:
                pipeline.deliver(self.services)

        self._guarded("poll", work)

    def deliver_job(self) -> None:
        self._guarded("deliver", lambda: pipeline.deliver(self.services))

    def digest_job(self) -> None:
        def work() -> None:
            if pipeline.digest(self.services):
                pipeline.deliver(self.services)

        self._guarded("digest", work)

    def _on_job_error(self, event: JobExecutionEvent) -> None:
        log.error("job_crashed job=%s error=%r", event.job_id, event.exception)

    # health ----------------------------------------------------------------------------------

    def alive(self) -> bool:
        """False when a job has been stuck far longer than any fetch or delivery can take."""
        limit = max(300.0, self.services.settings.fetch.timeout.total_seconds() * 5)
        with self._lock:
            started = list(self._busy.values())
        return all(time.monotonic() - start < limit for start in started)

    # lifecycle -------------------------------------------------------------------------------

    def _on_signal(self, number: int, _frame: FrameType | None) -> None:
        if number == signal.SIGHUP:
            self.reload_requested.set()
        else:
            self.stop_requested.set()

    def install_signals(self) -> None:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, self._on_signal)

    def housekeeping_job(self) -> None:
        def work() -> None:
            now = self.services.clock.now()
            retention = self.services.settings.storage.retention
            items, alerts = self.services.repository.prune(now - retention)
            if items or alerts:
                log.info("pruned items=%d alerts=%d older_than=%s", items, alerts, retention)
            store = self.services.index_store
            if store is not None:  # an index keeps at least its baseline window of history
                index = self.services.settings.index
                keep = max(retention, index.baseline_window + timedelta(days=1))
                points, states = store.prune(now - keep)
                if points or states:
                    log.info("pruned index_points=%d index_states=%d", points, states)

        self._guarded("housekeeping", work)

    def _config_changed(self) -> bool:
        """True once each time the config file's modification time moves."""
        if not self.config_path:
            return False
        try:
            stamp = os.stat(self.config_path).st_mtime_ns
        except OSError:
            return False
        changed = self._config_stamp is not None and stamp != self._config_stamp
        self._config_stamp = stamp
        return changed

    def start(self) -> None:
        now = datetime.now(UTC)
        tick = min(POLL_TICK, self.services.settings.fetch.min_interval)
        self.scheduler.add_job(
            self.poll_job, "interval", seconds=tick.total_seconds(), id="poll", next_run_time=now
        )
        delivery = self.services.settings.alerting.deliver_interval.total_seconds()
        self.scheduler.add_job(self.deliver_job, "interval", seconds=delivery, id="deliver")
        self.scheduler.add_job(self.digest_job, "interval", minutes=1, id="digest")
        self.scheduler.add_job(self.housekeeping_job, "interval", hours=1, id="housekeeping")
        self._config_changed()
        self.scheduler.start()

    def run(self) -> int:
        """Block until SIGTERM/SIGINT; returns the exit code."""
        self.install_signals()
        self.start()
        systemd.ready("polling")
        ping = systemd.watchdog_interval() or 5.0
        while not self.stop_requested.wait(min(ping, 1.0)):
            if self.reload_requested.is_set() or self._config_changed():
                self.reload_requested.clear()
                self.reload()
            if self.alive():
                systemd.watchdog()
        self.stop()
        return 0

    def stop(self) -> None:
        log.info("stopping reason=signal")
        systemd.stopping()
        self.services.stopping.set()
        self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + STOP_GRACE
        while self._busy and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._busy:
            log.warning("stopped_with_jobs_running jobs=%s", ",".join(self._busy))
        log.info("stopped")

    def reload(self) -> bool:
        """Validate the config file again and swap it in; a bad one keeps the last good one."""
        if not self.config_path:
            return False
        systemd.reloading()
        metrics = self.services.metrics
        try:
            settings = load_settings(self.config_path)
        except ConfigError as error:
            metrics.config_reloads.labels("rejected").inc()
            metrics.config_last_reload_ok.set(0)
            log.error("reload_rejected keeping=last_good problems=%s", "; ".join(error.problems))
            systemd.ready("reload rejected; running the last good config")
            return False
        now = self.services.clock.now()
        self.services.repository.sync_feeds([(f.url, f.name) for f in settings.feeds], now)
        self.services.settings = settings
        self.services.fetcher = Fetcher(settings.fetch)
        self.services.classifier.scoring = settings.scoring
        metrics.config_reloads.labels("applied").inc()
        metrics.config_last_reload_ok.set(1)
        log.info("reload_applied feeds=%d", len(settings.feeds))
        systemd.ready("polling")
        return True
