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
from tensiond.exceptions import DeliveryError, FeedError
from tensiond.feeds.fetch import Fetcher
from tensiond.feeds.parse import parse_feed
from tensiond.feeds.schedule import next_poll
from tensiond.metrics import Metrics
from tensiond.storage.repository import Repository
from tensiond.types import Alert, FeedState, FetchRequest, FetchResult, Item, OutboxEntry

log = logging.getLogger("tensiond.pipeline")


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


@dataclass(frozen=True)
class PollReport:
    feeds: int
    new_items: int
    errors: int


def _feed_interval(services: Services, url: str) -> timedelta:
    for feed in services.settings.feeds:
        if feed.url == url and feed.interval:
            return feed.interval
    return services.settings.fetch.interval


def _outcome(result: FetchResult) -> str:
    if result.error is not None:
        return "error"
    return "not_modified" if result.status == 304 else "ok"


def _handle(
    services: Services, state: FeedState, result: FetchResult, now: datetime
) -> tuple[int, bool]:
    """Parse and store one feed's result, schedule its next poll; returns (new items, failed)."""
    error: Exception | None = result.error
    items: tuple[Item, ...] = ()
    if error is None and result.status != 304 and result.content is not None:
        try:
            parsed = parse_feed(result.content, result.headers, state.url, state.name, now)
            items = parsed.items
            if parsed.bozo:
                log.info(
                    "feed_bozo feed=%s reason=%r items=%d", state.name, parsed.bozo, len(items)
                )
        except FeedError as parse_error:
            error = parse_error
    outcome = "error" if error is not None else _outcome(result)
    new = services.repository.add_items(items) if items else []
    next_at, failures = next_poll(
        now,
        interval=_feed_interval(services, state.url),
        outcome=outcome,  # type: ignore[arg-type]
        failures=state.failures,
        retry_after=result.retry_after,
        max_age=result.max_age,
        settings=services.settings.fetch,
        rng=services.rng,
    )
    updated = replace(state, next_poll_at=next_at, failures=failures)
    if outcome == "ok":
        updated = replace(updated, etag=result.etag, last_modified=result.last_modified)
    message = str(error)[:500] if error is not None else None
    services.repository.record_poll(updated, polled_at=now, status=result.status, error=message)
    services.metrics.fetches.labels(outcome).inc()
    if error is not None:
        kind = getattr(error, "kind", "feed")
        services.metrics.fetch_errors.labels(kind).inc()
        log.warning(
            "feed_error feed=%s kind=%s failures=%d retry_at=%s error=%r",
            state.name, kind, failures, next_at.isoformat(timespec="seconds"), message,
        )  # fmt: skip
    else:
        log.info(
            "feed_polled feed=%s status=%s items=%d new=%d next=%s",
            state.name, result.status, len(items), len(new), next_at.isoformat(timespec="seconds"),
        )  # fmt: skip
    services.metrics.items.inc(len(new))
    return len(new), error is not None


def poll(services: Services) -> PollReport:
    """Fetch every due feed once and store what is new."""
    now = services.clock.now()
    lease = services.settings.fetch.timeout * 3 + timedelta(minutes=1)
    due = services.repository.claim_due_feeds(now, services.owner, lease)
    if not due:
        return PollReport(0, 0, 0)
    requests = [FetchRequest(state.url, state.etag, state.last_modified) for state in due]
    results = services.fetcher.fetch_all(requests)
    now = services.clock.now()
    new = errors = 0
    for state, result in zip(due, results, strict=True):
        count, failed = _handle(services, state, result, now)
        new += count
        errors += failed
    services.metrics.last_cycle.set(now.timestamp())
    return PollReport(len(due), new, errors)


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
