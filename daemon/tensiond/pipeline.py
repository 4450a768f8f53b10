"""The thin pipeline: calls each stage's I/O in order. It decides nothing itself.

poll:     claim due feeds -> fetch -> parse -> store new items -> schedule the next poll
classify: unclassified items -> model -> store verdicts -> decide alerts -> commit outbox rows
deliver:  claim pending outbox rows -> send -> mark sent / retry / failed

Per-feed and per-alert failures come back as values and are logged; one bad feed or channel never
stops the batch. The clock is read here, once per stage, and passed down.
"""

from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from tensiond.alerts import route
from tensiond.alerts.render import render
from tensiond.alerts.slack import Sender
from tensiond.classify.model import Classifier, Story
from tensiond.classify.text import prepare
from tensiond.clock import Clock
from tensiond.config.schema import Settings
from tensiond.crashpoints import crash_point
from tensiond.exceptions import DeliveryError, FeedError
from tensiond.feeds.fetch import Fetcher
from tensiond.feeds.parse import parse_feed
from tensiond.feeds.pool import Parsed, ParsePool, result_of
from tensiond.feeds.schedule import next_poll
from tensiond.metrics import Metrics
from tensiond.storage.repository import Repository
from tensiond.types import Alert, FeedState, FetchRequest, FetchResult, Item, OutboxEntry

log = logging.getLogger("tensiond.pipeline")
PARALLEL_PARSE_FROM = 16  # due feeds in one poll before parsing moves to worker processes


@dataclass
class Services:
    """Everything the pipeline calls; built once by :mod:`tensiond.app`, swapped on reload."""

    settings: Settings
    repository: Repository
    fetcher: Fetcher
    classifier: Classifier
    sender: Sender
    clock: Clock
    metrics: Metrics
    owner: str
    stopping: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=random.Random)
    channel_holds: dict[str, datetime] = field(default_factory=dict)
    parse_pool: ParsePool | None = None


@dataclass(frozen=True)
class PollReport:
    feeds: int
    new_items: int
    errors: int


def _intervals(services: Services) -> dict[str, timedelta]:
    default = services.settings.fetch.interval
    return {feed.url: feed.interval or default for feed in services.settings.feeds}


def _outcome(result: FetchResult) -> str:
    if result.error is not None:
        return "error"
    return "not_modified" if result.status == 304 else "ok"


@dataclass(frozen=True)
class _Outcome:
    """One feed's poll, decided: its items, its error, its next state."""

    state: FeedState
    result: FetchResult
    items: tuple[Item, ...]
    error: Exception | None


def _has_body(result: FetchResult) -> bool:
    return result.error is None and result.status != 304 and result.content is not None


def _parse(
    state: FeedState, result: FetchResult, now: datetime, future: Future[Parsed] | None = None
) -> _Outcome:
    if not _has_body(result):
        return _Outcome(state, result, (), result.error)
    try:
        parsed = result_of(future, state.url) if future is not None else None
        if parsed is None:
            parsed = parse_feed(result.content or b"", result.headers, state.url, state.name, now)
    except FeedError as error:
        return _Outcome(state, result, (), error)
    if parsed.bozo:
        log.info("feed_bozo feed=%s reason=%r items=%d", state.name, parsed.bozo, len(parsed.items))
    return _Outcome(state, result, parsed.items, None)


def _next_state(
    services: Services, outcome: _Outcome, interval: timedelta, now: datetime
) -> FeedState:
    result, state = outcome.result, outcome.state
    kind = "error" if outcome.error is not None else _outcome(result)
    next_at, failures = next_poll(
        now,
        interval=interval,
        outcome=kind,  # type: ignore[arg-type]
        failures=state.failures,
        retry_after=result.retry_after,
        max_age=result.max_age,
        settings=services.settings.fetch,
        rng=services.rng,
    )
    updated = replace(state, next_poll_at=next_at, failures=failures)
    if kind == "ok":
        updated = replace(updated, etag=result.etag, last_modified=result.last_modified)
    return updated


def _report(services: Services, outcome: _Outcome, state: FeedState, new: int) -> None:
    metrics, error = services.metrics, outcome.error
    metrics.fetches.labels("error" if error else _outcome(outcome.result)).inc()
    next_at = state.next_poll_at.isoformat(timespec="seconds") if state.next_poll_at else "-"
    if error is not None:
        kind = getattr(error, "kind", "feed")
        metrics.fetch_errors.labels(kind).inc()
        log.warning(
            "feed_error feed=%s kind=%s failures=%d retry_at=%s error=%r",
            state.name, kind, state.failures, next_at, str(error)[:500],
        )  # fmt: skip
    else:
        log.info(
            "feed_polled feed=%s status=%s items=%d new=%d next=%s",
            state.name, outcome.result.status, len(outcome.items), new, next_at,
        )  # fmt: skip


def poll(services: Services) -> PollReport:
    """Fetch every due feed once, store what is new, schedule each feed's next poll."""
    now = services.clock.now()
    lease = services.settings.fetch.timeout * 3 + timedelta(minutes=1)
    due = services.repository.claim_due_feeds(now, services.owner, lease)
    if not due:
        return PollReport(0, 0, 0)
    requests = [FetchRequest(state.url, state.etag, state.last_modified) for state in due]
    futures: dict[int, Future[Parsed]] = {}
    pool = services.parse_pool if len(due) >= PARALLEL_PARSE_FROM else None

    def start_parsing(index: int, result: FetchResult) -> None:
        if pool is None or not _has_body(result):
            return
        state = due[index]
        try:
            futures[index] = pool.submit(
                result.content or b"", result.headers, state.url, state.name, now
            )
        except Exception as error:  # a broken pool parses inline, it never stops a poll
            log.warning("parse_pool_unavailable error=%r", error)

    results = services.fetcher.fetch_all(requests, start_parsing)
    outcomes = [
        _parse(state, result, now, futures.get(index))
        for index, (state, result) in enumerate(zip(due, results, strict=True))
    ]
    now = services.clock.now()
    fresh = services.repository.add_items([item for o in outcomes for item in o.items])
    new_by_feed: dict[str, int] = {}
    for item in fresh:
        new_by_feed[item.feed_url] = new_by_feed.get(item.feed_url, 0) + 1
    intervals = _intervals(services)
    default = services.settings.fetch.interval
    states = [_next_state(services, o, intervals.get(o.state.url, default), now) for o in outcomes]
    services.repository.record_polls(
        [
            (state, o.result.status, str(o.error)[:500] if o.error is not None else None)
            for state, o in zip(states, outcomes, strict=True)
        ],
        polled_at=now,
    )
    for state, outcome in zip(states, outcomes, strict=True):
        _report(services, outcome, state, new_by_feed.get(state.url, 0))
    services.metrics.items.inc(len(fresh))
    services.metrics.last_cycle.set(now.timestamp())
    errors = sum(outcome.error is not None for outcome in outcomes)
    return PollReport(len(due), len(fresh), errors)


def classify_pending(services: Services, limit: int = 512) -> list[Alert]:
    """Classify stored items that have no verdict yet, then commit the alerts they call for."""
    enqueued: list[Alert] = []
    while not services.stopping.is_set():
        items = services.repository.unclassified_items(limit)
        if not items:
            break
        enqueued += _classify_batch(services, items)
        if len(items) < limit:
            break
    return enqueued


def _classify_batch(services: Services, items: list[Item]) -> list[Alert]:
    stories = [Story(item.id, prepare(item.title, item.summary)) for item in items]
    verdicts = services.classifier.classify(stories)
    now = services.clock.now()
    services.repository.save_classifications(verdicts, now)
    for verdict in verdicts:
        services.metrics.classifications.labels(verdict.label).inc()
    tags = {feed.url: feed.tags for feed in services.settings.feeds}
    candidates = [
        route.Candidate(item, verdict, tags.get(item.feed_url, ()))
        for item, verdict in zip(items, verdicts, strict=True)
    ]
    gazetteer = services.classifier.gazetteer
    alerts = route.decide(candidates, services.settings.alerting, gazetteer.region, now)
    alerts = route.unsent(alerts, services.repository.alerted_keys([a.key for a in alerts]))
    if alerts:
        payloads = [_payload(alert, gazetteer.name) for alert in alerts]
        services.repository.enqueue_alerts(alerts, payloads)
        crash_point("alert_committed")
        services.metrics.alerts.labels("pending").inc(len(alerts))
        for alert in alerts:
            log.info(
                "alert_queued channel=%s label=%s tension=%d actors=%s item=%s",
                alert.channel, alert.label, alert.tension, ",".join(alert.actors), alert.item_id,
            )  # fmt: skip
    return alerts


def _payload(alert: Alert, actor_name: Any) -> dict[str, Any]:
    message = render(alert, actor_name)
    message["alert"] = {
        "label": alert.label,
        "tension": alert.tension,
        "title": alert.title,
        "link": alert.link,
        "source": alert.source,
        "actors": [actor_name(code) for code in alert.actors],
        "modality": alert.modality,
        "why": list(alert.why),
    }
    return message


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    retried: int
    failed: int


def deliver(services: Services, limit: int = 20) -> DeliveryReport:
    """Send due outbox rows; a 429 holds only its channel, until Retry-After."""
    now = services.clock.now()
    settings = services.settings
    lease = settings.slack.timeout * (settings.slack.max_retries + 2) + timedelta(seconds=10)
    entries = services.repository.claim_pending_alerts(now, services.owner, lease, limit)
    sent = retried = failed = 0
    for entry in entries:
        hold = services.channel_holds.get(entry.channel)
        if services.stopping.is_set() or (hold and hold > services.clock.now()):
            services.repository.mark_retry(entry.id, hold or now, "deferred")
            continue
        outcome = _send(services, entry)
        sent += outcome == "sent"
        retried += outcome == "retry"
        failed += outcome == "failed"
    return DeliveryReport(sent, retried, failed)


def _send(services: Services, entry: OutboxEntry) -> str:
    metrics = services.metrics
    try:
        with metrics.slack_latency.time():
            ts = services.sender.post(entry.channel, entry.payload)
    except DeliveryError as error:
        return _failed_delivery(services, entry, error)
    crash_point("slack_accepted")
    services.repository.mark_sent(entry.id, ts, services.clock.now())
    metrics.slack_requests.labels("ok").inc()
    metrics.alerts.labels("sent").inc()
    log.info("alert_sent channel=%s via=%s id=%d", entry.channel, services.sender.name, entry.id)
    return "sent"


def _failed_delivery(services: Services, entry: OutboxEntry, error: DeliveryError) -> str:
    now = services.clock.now()
    services.metrics.slack_requests.labels("error").inc()
    if error.reason == "ratelimited":
        services.metrics.slack_ratelimited.inc()
        services.channel_holds[entry.channel] = now + timedelta(seconds=error.retry_after or 30)
    if not error.retriable or entry.attempts >= services.settings.alerting.max_attempts:
        services.repository.mark_failed(entry.id, error.reason)
        services.metrics.alerts.labels("failed").inc()
        log.error("alert_failed channel=%s id=%d reason=%s", entry.channel, entry.id, error.reason)
        return "failed"
    backoff = error.retry_after or min(600.0, 5.0 * 2 ** (entry.attempts - 1))
    at = now + timedelta(seconds=backoff * (1 + services.rng.uniform(0, 0.2)))
    services.repository.mark_retry(entry.id, at, error.reason)
    log.warning(
        "alert_retry channel=%s id=%d reason=%s attempt=%d at=%s",
        entry.channel, entry.id, error.reason, entry.attempts, at.isoformat(timespec="seconds"),
    )  # fmt: skip
    return "retry"


def cycle(services: Services) -> tuple[PollReport, int, DeliveryReport]:
    """One full pass: poll, classify, deliver (what ``tensiond once`` runs)."""
    report = poll(services)
    alerts = classify_pending(services)
    delivered = deliver(services, limit=1000)
    return report, len(alerts), delivered
