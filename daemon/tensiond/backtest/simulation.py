"""What alerting settings would have sent over a timeline: the daemon's decisions, replayed.

:func:`simulate` walks the batches in order with a simulated ``now`` (each batch's decide time)
and keeps the state the daemon keeps in its database: every route's notice per event, the open
alerts that inhibit and ease others, the updates still waiting to be delivered, what quiet hours
hold for the digests. For each batch it calls :func:`tensiond.alerts.route.plan` for every changed
event, most tense first, and :func:`~tensiond.alerts.route.group_overflow` once, as
``pipeline._decide`` does; digests go out at their scheduled times, as ``pipeline.digest`` sends
them.

Open alerts are indexed by dyad and expire lazily once older than the longest inhibit or easing
window, so a plan sees only the alerts that can touch its event (when every inhibit rule needs a
shared dyad, as the default one does) and a long history stays linear.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from tensiond.alerts import route
from tensiond.backtest.timeline import Batch
from tensiond.config.schema import AlertingSettings, DigestSettings
from tensiond.types import Event, Message, Notice

LIVE = ("open", "grouped")
MessageKey = tuple[str, str, str]  # (route, channel, kind)


@dataclass(frozen=True)
class Alerted:
    """One event a channel was told about, and how: its own post, a grouped message (the
    channel's budget was spent) or a digest of what quiet hours held (``held`` when the digest
    is still to come)."""

    at: datetime
    route: str
    channel: str
    event_id: int
    label: str
    tension: int
    title: str
    how: str


@dataclass
class Outcome:
    """What the settings sent from ``count_from`` on: messages by (route, channel, kind), the
    events alerted, and how many first alerts mutes and inhibit rules stopped."""

    messages: Counter[MessageKey] = field(default_factory=Counter)
    alerted: list[Alerted] = field(default_factory=list)
    held: int = 0
    muted: int = 0
    inhibited: int = 0

    def total(self, kind: str) -> int:
        return sum(count for (_r, _c, name), count in self.messages.items() if name == kind)

    def by_channel(self, kind: str) -> Counter[str]:
        found: Counter[str] = Counter()
        for (_route, channel, name), count in self.messages.items():
            if name == kind:
                found[channel] += count
        return found


def next_slot(digest: DigestSettings, moment: datetime) -> datetime:
    """The first scheduled digest time at or after ``moment`` (a digest has at least one)."""
    zone = ZoneInfo(digest.timezone)
    local = moment.astimezone(zone)
    slots = [
        datetime.combine(local.date() + timedelta(days=ahead), time.fromisoformat(clock), zone)
        for ahead in (0, 1)
        for clock in digest.times
    ]
    return min(slot for slot in slots if slot >= local).astimezone(moment.tzinfo)


class _Replay:
    """The state one simulation keeps between batches (what the daemon keeps in storage)."""

    def __init__(
        self, settings: AlertingSettings, context: route.Context, count_from: datetime | None
    ) -> None:
        self.settings = settings
        self.context = context
        self.count_from = count_from
        self.lookback = max([settings.easing_window, *(r.duration for r in settings.inhibit_rules)])
        self.dyads_suffice = all("dyad" in rule.equal for rule in settings.inhibit_rules)
        self.digests = {target.name: target.digest for target in route.all_routes(settings)}
        self.outcome = Outcome()
        self.events: dict[int, Event] = {}
        self.notices: dict[int, dict[str, Notice]] = {}
        self.live: set[int] = set()  # events with an open or grouped notice (maybe expired)
        self.live_by_dyad: dict[str, set[int]] = {}
        self.pending: dict[str, datetime] = {}  # post key -> when its waiting update goes out
        self.held: list[tuple[datetime, str, int]] = []  # (digest slot, route, event id) heap

    def counts(self, moment: datetime) -> bool:
        return self.count_from is None or moment >= self.count_from

    # the state --------------------------------------------------------------------------------

    def see(self, event: Event) -> None:
        self.events[event.id] = event
        if event.id in self.live:
            for dyad in event.dyads:
                self.live_by_dyad.setdefault(dyad, set()).add(event.id)

    def store(self, notices: Iterable[Notice]) -> None:
        for notice in notices:
            known = self.notices.setdefault(notice.event_id, {})
            before = known.get(notice.route)
            known[notice.route] = notice
            if notice.state in LIVE:
                self.live.add(notice.event_id)
                for dyad in self.events[notice.event_id].dyads:
                    self.live_by_dyad.setdefault(dyad, set()).add(notice.event_id)
            elif notice.state == "held" and (before is None or before.state != "held"):
                slot = next_slot(self.digests[notice.route], notice.created_at)
                heapq.heappush(self.held, (slot, notice.route, notice.event_id))

    def needs_open_alerts(self, event: Event, now: datetime) -> bool:
        """Could the plan read the open alerts at all? Only to ease (an actual cooperation) or
        to inhibit (an alertable event that an inhibit rule targets)."""
        if event.label == "cooperation" and event.modality == "actual":
            return True
        region_of = self.context.region_of
        return route.is_alertable(event, self.settings, now) and any(
            route.matches(rule.target, event, region_of) for rule in self.settings.inhibit_rules
        )

    def open_alerts(self, event: Event, now: datetime) -> list[tuple[Notice, Event]]:
        """The open alerts that can inhibit or ease ``event`` (what ``open_notices`` reads)."""
        if not self.needs_open_alerts(event, now):
            return []
        if self.dyads_suffice:
            candidates: set[int] = set()
            for dyad in event.dyads:
                candidates |= self._alive(self.live_by_dyad.get(dyad, set()), now)
        else:
            candidates = self._alive(self.live, now)
        since = now - self.lookback
        return [
            (notice, self.events[event_id])
            for event_id in candidates
            for notice in self.notices[event_id].values()
            if notice.state in LIVE and notice.notified_at >= since
        ]

    def _alive(self, event_ids: set[int], now: datetime) -> set[int]:
        """Drop (from ``event_ids``, for good) events whose alerts are all past the lookback; a
        later notice puts an event back."""
        since = now - self.lookback
        expired = {
            event_id
            for event_id in event_ids
            if not any(
                n.state in LIVE and n.notified_at >= since for n in self.notices[event_id].values()
            )
        }
        event_ids -= expired
        return set(event_ids)

    def waiting(self, notices: dict[str, Notice], now: datetime) -> frozenset[str]:
        return frozenset(
            notice.post_key
            for notice in notices.values()
            if notice.post_key and self.pending.get(notice.post_key, now) > now
        )

    # the passes -------------------------------------------------------------------------------

    def decide(self, batch: Batch) -> None:
        now = batch.at
        for event in batch.events:
            self.see(event)
        messages: list[Message] = []
        notices: list[Notice] = []
        muted = inhibited = 0
        for event in batch.events:
            own = self.notices.get(event.id, {})
            context = route.Context(  # built, not replace()d: this runs once per plan
                open_notices=self.open_alerts(event, now),
                pending_updates=self.waiting(own, now),
                region_of=self.context.region_of,
                severity=self.context.severity,
                confirm_tier=self.context.confirm_tier,
            )
            plan = route.plan(event, own, self.settings, context, now)
            self.store(plan.notices)
            messages += plan.messages
            notices += plan.notices
            muted, inhibited = muted + plan.muted, inhibited + plan.inhibited
        for message in messages:
            if message.kind == "update" and message.parent_key:
                self.pending[message.parent_key] = message.due
        kept, final = route.group_overflow(messages, notices, self.settings.rate.group_after, now)
        if len(kept) != len(messages):
            self.store(notice for notice in final if notice.state == "grouped")
        if self.counts(now):
            self.outcome.muted += muted
            self.outcome.inhibited += inhibited
            self.count(kept, now)

    def count(self, messages: Sequence[Message], now: datetime) -> None:
        for message in messages:
            self.outcome.messages[(message.route, message.channel, message.kind)] += 1
            if message.kind == "post" and message.event_id is not None:
                self.alert(now, message.route, message.channel, message.event_id, "post")
            elif message.kind == "group":
                listed = (message.payload or {}).get("events")
                for event_id in listed if isinstance(listed, list) else ():
                    self.alert(now, message.route, message.channel, int(event_id), "group")

    def alert(self, at: datetime, name: str, channel: str, event_id: int, how: str) -> None:
        event = self.events[event_id]
        self.outcome.alerted.append(
            Alerted(at, name, channel, event_id, event.label, event.tension, event.title, how)
        )

    def digest(self, now: datetime) -> None:
        """Send every digest scheduled by ``now``: one message per route and slot."""
        sent: set[tuple[str, datetime]] = set()
        while self.held and self.held[0][0] <= now:
            slot, name, event_id = heapq.heappop(self.held)
            notice = self.notices[event_id][name]
            if notice.state != "held":
                continue  # it became urgent enough to post meanwhile
            key = f"{name}:digest:{slot.isoformat()}"
            self.notices[event_id][name] = replace(
                notice, state="digested", digested_at=slot, post_key=key
            )
            if not self.counts(slot):
                continue
            if (name, slot) not in sent:
                sent.add((name, slot))
                self.outcome.messages[(name, notice.channel, "digest")] += 1
            self.outcome.held += 1
            self.alert(slot, name, notice.channel, event_id, "digest")

    def finish(self, until: datetime) -> None:
        """Send the digests due by ``until``; count what is still held for a later one."""
        self.digest(until)
        for event_id, notices in self.notices.items():
            for notice in notices.values():
                if notice.state == "held" and self.counts(notice.created_at):
                    self.outcome.held += 1
                    self.alert(notice.created_at, notice.route, notice.channel, event_id, "held")


def simulate(
    batches: Iterable[Batch],
    settings: AlertingSettings,
    *,
    region_of: route.RegionOf = lambda _code: None,
    severity: route.Severity = lambda _label: 0.0,
    confirm_tier: int = 2,
    count_from: datetime | None = None,
    until: datetime | None = None,
) -> Outcome:
    """Replay ``batches`` through ``settings``; count what goes out from ``count_from`` (earlier
    batches only build up state: alerts already open, events already posted) to ``until``."""
    context = route.Context(region_of=region_of, severity=severity, confirm_tier=confirm_tier)
    replay = _Replay(settings, context, count_from)
    last: datetime | None = None
    for batch in batches:
        replay.digest(batch.at)
        replay.decide(batch)
        last = batch.at
    end = until or last
    if end is not None:
        replay.finish(end)
    return replay.outcome
