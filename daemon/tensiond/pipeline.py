"""The thin pipeline: calls each stage's I/O in order. It decides nothing itself.

poll:     claim due feeds -> fetch -> parse -> store new items -> schedule the next poll
classify: unclassified items -> model -> store verdicts -> cluster into events -> decide alerts
          -> commit notices and outbox rows (one transaction)
digest:   what quiet hours held back -> one message per route at its scheduled times
deliver:  claim pending outbox rows -> within each channel's budget, render and send
          (post, chat.update, thread reply) -> mark sent / retry / failed

Per-feed and per-alert failures come back as values and are logged; one bad feed or channel never
stops the batch. The clock is read here, once per stage, and passed down.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from tensiond.alerts import route
from tensiond.alerts.pacing import TokenBucket
from tensiond.alerts.render import render, render_list, render_reply, render_signal
from tensiond.alerts.slack import Posted, Sender
from tensiond.classify.model import Classifier, Story
from tensiond.classify.text import prepare
from tensiond.clock import Clock
from tensiond.config.schema import Settings
from tensiond.crashpoints import crash_point
from tensiond.events.cluster import Report, cluster, story_terms
from tensiond.exceptions import DeliveryError, FeedError, TensiondError
from tensiond.feeds.delta import SeenEntries
from tensiond.feeds.fetch import Fetcher
from tensiond.feeds.parse import parse_feed
from tensiond.feeds.pool import Parsed, ParsePool, result_of
from tensiond.feeds.schedule import next_poll
from tensiond.index import IndexKey, Observation, update_index
from tensiond.index.view import index_chart
from tensiond.metrics import Metrics
from tensiond.storage.index_store import IndexStore
from tensiond.storage.repository import Repository
from tensiond.types import (
    FeedState,
    FetchRequest,
    FetchResult,
    Item,
    Message,
    OutboxEntry,
    Source,
)

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
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    parse_pool: ParsePool | None = None
    index_store: IndexStore | None = None
    seen_entries: SeenEntries = field(default_factory=SeenEntries)


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
    entries: frozenset[bytes] | None = None  # entry fingerprints to remember (None: keep)
    skipped: int = 0  # entries not parsed again: seen at the previous poll


def _has_body(result: FetchResult) -> bool:
    return result.error is None and result.status != 304 and result.content is not None


def _parse(
    state: FeedState,
    result: FetchResult,
    now: datetime,
    known: frozenset[bytes],
    future: Future[Parsed] | None = None,
) -> _Outcome:
    if not _has_body(result):
        return _Outcome(state, result, (), result.error)
    try:
        parsed = result_of(future, state.url) if future is not None else None
        if parsed is None:
            content = result.content or b""
            parsed = parse_feed(content, result.headers, state.url, state.name, now, known)
    except FeedError as error:
        return _Outcome(state, result, (), error, frozenset())
    if parsed.bozo:
        log.info("feed_bozo feed=%s reason=%r items=%d", state.name, parsed.bozo, len(parsed.items))
    return _Outcome(state, result, parsed.items, None, parsed.entries, parsed.skipped)


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
            "feed_polled feed=%s status=%s items=%d unchanged=%d new=%d next=%s",
            state.name, outcome.result.status, len(outcome.items), outcome.skipped, new, next_at,
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
    seen = [services.seen_entries.known(state.url) for state in due]
    pool = services.parse_pool if len(due) >= PARALLEL_PARSE_FROM else None

    def start_parsing(index: int, result: FetchResult) -> None:
        if pool is None or not _has_body(result):
            return
        state = due[index]
        try:
            futures[index] = pool.submit(
                result.content or b"", result.headers, state.url, state.name, now, seen[index]
            )
        except Exception as error:  # a broken pool parses inline, it never stops a poll
            log.warning("parse_pool_unavailable error=%r", error)

    results = services.fetcher.fetch_all(requests, start_parsing)
    outcomes = [
        _parse(state, result, now, seen[index], futures.get(index))
        for index, (state, result) in enumerate(zip(due, results, strict=True))
    ]
    now = services.clock.now()
    fresh = services.repository.add_items([item for o in outcomes for item in o.items])
    for outcome in outcomes:  # only now that their items are stored
        if outcome.entries is not None:
            services.seen_entries.remember(outcome.state.url, outcome.entries)
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


def classify_pending(services: Services, limit: int = 512) -> list[Message]:
    """Classify stored items that have no verdict yet, cluster them into events, and commit the
    alerts those events call for."""
    enqueued: list[Message] = []
    observations: list[Observation] = []
    while not services.stopping.is_set():
        items = services.repository.unclassified_items(limit)
        if not items:
            break
        messages, observed = _classify_batch(services, items)
        enqueued += messages
        observations += observed
        if len(items) < limit:
            break
    enqueued += _update_index(services, observations)
    return enqueued


def _update_index(services: Services, observations: list[Observation]) -> list[Message]:
    """Feed new events to the tension index (every cycle: easing is checked even without news)
    and commit the spike and easing alerts it raises."""
    settings = services.settings
    if not settings.index.enabled or services.index_store is None:
        return []
    now = services.clock.now()
    region_of = services.classifier.gazetteer.region
    signals = update_index(
        services.index_store, observations, settings.index, now, region_of=region_of
    )
    messages = []
    for signal in signals:
        services.metrics.index_signals.labels(signal.scope, signal.kind).inc()
        log.info(
            "index_%s scope=%s key=%s value=%.2f baseline=%.2f z=%.1f",
            signal.kind, signal.scope, signal.key, signal.value, signal.baseline, signal.z,
        )  # fmt: skip
        actors = tuple(signal.key.split("-"))
        dyads = (signal.key,) if signal.scope == "dyad" else ()
        for target in route.routes_for_signal(actors, dyads, settings.alerting, region_of):
            messages.append(route.signal_message(target, signal, now))
    if messages:
        added = services.repository.enqueue(messages, now)
        services.metrics.alerts.labels("pending").inc(added)
    return messages


def _classify_batch(
    services: Services, items: list[Item]
) -> tuple[list[Message], list[Observation]]:
    texts = [prepare(item.title, item.summary) for item in items]
    verdicts = services.classifier.classify(
        [Story(item.id, text) for item, text in zip(items, texts, strict=True)]
    )
    now = services.clock.now()
    services.repository.save_classifications(verdicts, now)
    for verdict in verdicts:
        services.metrics.classifications.labels(verdict.label).inc()
    chosen = [
        (item, verdict, text)
        for item, verdict, text in zip(items, verdicts, texts, strict=True)
        if verdict.label != "other"
    ]
    if not chosen:
        return [], []
    vectors = services.classifier.story_vectors([text for _, _, text in chosen])
    tags = {feed.url: feed.tags for feed in services.settings.feeds}
    events = services.settings.events
    reports = []
    for (item, verdict, text), vector in zip(chosen, vectors, strict=True):
        name = route.source_of(item)
        source = Source(
            name=name,
            tier=events.tier_of(name),
            item_id=item.id,
            title=item.title or item.summary[:200],
            link=item.link,
            at=min(item.published or item.seen_at, now),
            label=verdict.label,
            tension=verdict.tension,
        )
        reports.append(
            Report(item, verdict, vector, story_terms(text), source, tags.get(item.feed_url, ()))
        )
    return _decide(services, reports, now)


def _decide(
    services: Services, reports: list[Report], now: datetime
) -> tuple[list[Message], list[Observation]]:
    """Cluster, decide and commit in one transaction; a crash keeps all of it or none."""
    settings = services.settings
    alerting = settings.alerting
    gazetteer = services.classifier.gazetteer
    severities = settings.scoring.severities
    lookback = max([alerting.easing_window, *(rule.duration for rule in alerting.inhibit_rules)])
    with services.repository.events_unit() as work:
        done = work.clustered([report.item.id for report in reports])
        reports = [report for report in reports if report.item.id not in done]
        if not reports:
            return [], []
        since = min(report.at for report in reports) - settings.events.window
        known = work.recent_events(since)
        clustered, assignments, changed = cluster(reports, known, settings.events, now)
        saved = {index: work.save_event(clustered[index], now) for index in sorted(changed)}
        work.add_members(((a.report.item.id, saved[a.event].id, a.score) for a in assignments), now)
        stored = work.notices(event.id for event in saved.values())
        context = route.Context(
            open_notices=work.open_notices(now - lookback),
            pending_updates=work.pending_updates(),
            region_of=gazetteer.region,
            severity=lambda label: float(severities.get(label, 0)),
            confirm_tier=settings.events.confirm_tier,
        )
        notices, messages = [], []
        for event in sorted(saved.values(), key=lambda event: -event.tension):
            plan = route.plan(event, stored.get(event.id, {}), alerting, context, now)
            notices += plan.notices
            messages += plan.messages
            services.metrics.alerts.labels("muted").inc(plan.muted)
            services.metrics.alerts.labels("inhibited").inc(plan.inhibited)
            events_of = {pair[0].event_id: pair[1] for pair in context.open_notices}
            events_of[event.id] = event
            fresh = [
                (notice, events_of[notice.event_id])
                for notice in plan.notices
                if notice.state in ("open", "grouped") and notice.event_id in events_of
            ]
            replaced = {(notice.route, notice.event_id) for notice, _ in fresh}
            kept = [
                pair for pair in context.open_notices
                if (pair[0].route, pair[0].event_id) not in replaced
            ]  # fmt: skip
            context = replace(context, open_notices=kept + fresh)
        messages, notices = route.group_overflow(messages, notices, alerting.rate.group_after, now)
        work.save_notices(notices)
        added = work.add_messages(messages, now)
    if added:
        crash_point("alert_committed")
    services.metrics.alerts.labels("pending").inc(added)
    services.metrics.events.inc(sum(1 for index in changed if index >= len(known)))
    for message in messages:
        log.info(
            "alert_queued kind=%s channel=%s route=%s event=%s key=%s",
            message.kind, message.channel, message.route, message.event_id, message.key,
        )  # fmt: skip
    # the index counts each new event once, however many outlets go on to report it
    started: dict[int, Report] = {}
    for assignment in assignments:
        if assignment.event >= len(known):
            started.setdefault(assignment.event, assignment.report)
    observed = [Observation.of(report.verdict, report.at) for report in started.values()]
    return messages, observed


def digest(services: Services) -> int:
    """Enqueue each route's digest of what quiet hours held back, at its scheduled times."""
    now = services.clock.now()
    queued = 0
    for target in route.all_routes(services.settings.alerting):
        slot = route.digest_slot(target.digest, now)
        key = f"{target.name}:digest:{slot.isoformat()}"
        with services.repository.events_unit() as work:
            held = work.held(target.name, slot)
            if not held:
                continue
            ids = [event.id for _, event in held]
            message = Message(
                key=key, kind="digest", route=target.name, channel=held[0][0].channel,
                event_id=None, item_id=held[0][1].item_id, due=now,
                payload={"events": ids, "since": min(n.created_at for n, _ in held).isoformat()},
            )  # fmt: skip
            queued += work.add_messages([message], now)
            work.mark_digested(target.name, ids, key, now)
        log.info("digest_queued route=%s events=%d key=%s", target.name, len(ids), key)
    return queued


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    retried: int
    failed: int


def deliver(services: Services, limit: int = 20) -> DeliveryReport:
    """Send due outbox rows within each channel's rate budget; a 429 holds only its channel,
    until Retry-After; no worker ever sleeps (a held row is put back with its time)."""
    now = services.clock.now()
    settings = services.settings
    lease = settings.slack.timeout * (settings.slack.max_retries + 2) + timedelta(seconds=10)
    entries = services.repository.claim_pending_alerts(now, services.owner, lease, limit)
    parents = services.repository.message_refs(
        [entry.parent_key for entry in entries if entry.parent_key]
    )
    sent = retried = failed = 0
    for entry in entries:
        now = services.clock.now()
        wait = _held_until(services, entry, parents, now)
        if isinstance(wait, str):
            services.repository.mark_failed(entry.id, wait)
            services.metrics.alerts.labels("failed").inc()
            failed += 1
            continue
        if wait is not None:
            services.repository.defer(entry.id, wait[0], wait[1])
            continue
        outcome, posted = _send(services, entry, parents)
        if posted is not None:
            parents[entry.key] = ("sent", posted.channel, posted.ts)
        sent += outcome == "sent"
        retried += outcome == "retry"
        failed += outcome == "failed"
    return DeliveryReport(sent, retried, failed)


def _held_until(
    services: Services,
    entry: OutboxEntry,
    parents: dict[str, tuple[str, str | None, str | None]],
    now: datetime,
) -> tuple[datetime, str] | str | None:
    """Why a claimed row cannot go now: (until when, reason); a string when it never can."""
    if services.stopping.is_set():
        return now, "stopping"
    hold = services.channel_holds.get(entry.channel)
    if hold and hold > now:
        return hold, "ratelimited"
    if entry.parent_key:
        state, _channel, ts = parents.get(entry.parent_key, ("missing", None, None))
        if state == "failed" or state == "missing":
            return f"parent_{state}"
        if state != "sent" or not ts:
            return now + settings_step(services), "waiting_for_parent"
    rate = services.settings.alerting.rate
    bucket = services.buckets.setdefault(entry.channel, TokenBucket(rate.per_second, rate.burst))
    wait = bucket.take(now)
    if wait > 0:
        return now + timedelta(seconds=wait), "paced"
    return None


def settings_step(services: Services) -> timedelta:
    return min(services.settings.alerting.deliver_interval, timedelta(seconds=2))


def _compose(services: Services, entry: OutboxEntry) -> dict[str, Any] | None:
    """The message to send, rendered now from the stored event (so it shows its latest state)."""
    payload: dict[str, Any] = dict(entry.payload)
    if "signal" in payload:
        return render_signal(payload["signal"], services.classifier.gazetteer.name)
    if entry.kind in ("group", "digest"):
        events = [services.repository.event(int(i)) for i in payload.get("events") or []]
        found = [event for event in events if event is not None]
        if not found:
            return None
        if entry.kind == "group":
            heading = f"{len(found)} more alerts (this channel's message budget was spent)"
        else:
            heading = f"Digest: {len(found)} alerts held back during quiet hours"
        return render_list(heading, found)
    if entry.event_id is None:
        return payload or None  # a row written before events existed: already rendered
    event = services.repository.event(entry.event_id)
    if event is None:
        return None
    if entry.kind == "reply":
        return render_reply(str(payload.get("headline", "Update")), event)
    settings = services.settings
    return render(
        event,
        services.classifier.gazetteer.name,
        confirm_tier=settings.events.confirm_tier,
        confirm_sources=settings.alerting.confirm_sources,
    )


def _send(
    services: Services,
    entry: OutboxEntry,
    parents: dict[str, tuple[str, str | None, str | None]],
) -> tuple[str, Posted | None]:
    metrics = services.metrics
    message = _compose(services, entry)
    if message is None:
        services.repository.mark_failed(entry.id, "event_pruned")
        return "failed", None
    parent = parents.get(entry.parent_key or "", ("", None, None))
    try:
        with metrics.slack_latency.time():
            if entry.kind == "update":
                services.sender.update(parent[1] or entry.channel, parent[2] or "", message)
                posted = Posted(parent[1] or entry.channel, parent[2] or "")
            else:
                posted = services.sender.post(
                    entry.channel,
                    message,
                    thread_ts=parent[2] if entry.kind == "reply" else None,
                    broadcast=bool(entry.payload.get("broadcast")),
                )
    except DeliveryError as error:
        return _failed_delivery(services, entry, error), None
    crash_point("slack_accepted")
    services.repository.mark_sent(
        entry.id, posted.ts, services.clock.now(), slack_channel=posted.channel, payload=message
    )
    if "signal" in entry.payload:
        thread = parent[2] if entry.kind == "reply" and parent[2] else posted.ts
        _attach_chart(services, entry, Posted(posted.channel, thread))
    metrics.slack_requests.labels("ok").inc()
    metrics.alerts.labels("sent").inc()
    log.info(
        "alert_sent kind=%s channel=%s via=%s id=%d", entry.kind, entry.channel,
        services.sender.name, entry.id,
    )  # fmt: skip
    return "sent", (posted if entry.kind != "update" else None)


def _attach_chart(services: Services, entry: OutboxEntry, posted: Posted) -> None:
    """The index chart in the alert's thread; a failed upload never fails the alert."""
    if services.index_store is None:
        return
    signal: Any = entry.payload["signal"]
    try:
        png = index_chart(
            services.index_store,
            IndexKey(signal["scope"], signal["key"]),
            services.settings.index,
            services.clock.now(),
            region_of=services.classifier.gazetteer.region,
        )
        services.sender.upload(
            posted.channel, posted.ts, png, f"tension-{signal['key']}.png", signal["key"]
        )
    except (DeliveryError, TensiondError, ValueError, OSError) as error:
        log.warning("chart_not_attached key=%s error=%r", signal.get("key"), str(error)[:200])


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


def drain(
    services: Services, within: timedelta, sleep: Callable[[float], object]
) -> DeliveryReport:
    """Deliver until nothing pending falls due within ``within`` (the rate budget paces it)."""
    sent = retried = failed = 0
    deadline = services.clock.now() + within
    while not services.stopping.is_set():
        report = deliver(services, limit=1000)
        sent, retried, failed = sent + report.sent, retried + report.retried, failed + report.failed
        due = services.repository.next_due()
        now = services.clock.now()
        if due is None or due > deadline:
            break
        sleep(max(0.05, min(5.0, (due - now).total_seconds())))
    return DeliveryReport(sent, retried, failed)


def cycle(
    services: Services,
    within: timedelta = timedelta(minutes=2),
    sleep: Callable[[float], object] = time.sleep,
) -> tuple[PollReport, int, DeliveryReport]:
    """One full pass: poll, classify, digest, then deliver what falls due ``within`` (what
    ``tensiond once`` runs; rate-budgeted messages wait their turn, retries after it do not)."""
    report = poll(services)
    alerts = classify_pending(services)
    digest(services)
    delivered = drain(services, within, sleep)
    return report, len(alerts), delivered
