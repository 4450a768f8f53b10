"""What alerts, where and when: pure decisions over events, in the manner of Alertmanager.

``plan`` takes an event that changed, what each route has already told about it (its notices),
the open alerts that may inhibit or ease it, the settings and ``now``, and returns the notices to
store and the outbox messages to add. It never touches the network or the database.

The life of an alert, per route:

* the event crosses its threshold: one post, ``group_wait`` after it is first seen (0 by default:
  a fast first message), unless a mute matches, an inhibit rule holds it (an armed_conflict alert
  for a dyad mutes threat alerts for that dyad), or the route is in quiet hours (then it waits
  for the route's digest, unless its tension reaches the quiet hours' ``bypass_tension``);
* more outlets report it: the same message is updated in place (at most once per
  ``group_interval``), "5 sources", and marked confirmed once ``confirm_sources`` independent
  outlets carry it;
* it develops (tension up by ``develop_delta``, or a more severe label such as threat turning
  into armed_conflict): a reply in the message's thread;
* it is still being reported ``repeat_interval`` after the last notification: a reply that is
  also sent to the channel;
* a later de-escalation (cooperation: talks, ceasefire, withdrawal) for one of its dyads: an
  easing reply in its thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from tensiond.config.schema import (
    WEEKDAYS,
    AlertingSettings,
    DigestSettings,
    InhibitRule,
    Matchers,
    QuietHours,
    RouteSettings,
)
from tensiond.types import Event, Item, Message, Notice

DEFAULT_ROUTE = "default"
ESCALATIONS = frozenset(
    {"weapons_test", "armed_conflict", "military_posture", "threat", "coercion", "unrest"}
)
RegionOf = Callable[[str], "str | None"]
Severity = Callable[[str], float]


def source_of(item: Item) -> str:
    """The outlet to credit: the link's host without www., else the feed's name."""
    host = urlsplit(item.link or "").hostname or ""
    return host.removeprefix("www.") or item.feed_name


@dataclass(frozen=True)
class Route:
    """A route of the tree with everything inherited from its parents filled in."""

    name: str
    channel: str
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    quiet_hours: tuple[QuietHours, ...]
    digest: DigestSettings


@dataclass(frozen=True)
class Context:
    """What else a decision needs to know: open alerts, pending updates, the budget used."""

    open_notices: Sequence[tuple[Notice, Event]] = ()
    pending_updates: frozenset[str] = frozenset()
    region_of: RegionOf = lambda _code: None
    severity: Severity = lambda _label: 0.0
    confirm_tier: int = 2


@dataclass
class Plan:
    """The outcome of a decision: notices to store (new or changed) and messages to add."""

    notices: list[Notice] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    muted: int = 0
    inhibited: int = 0


# matching ------------------------------------------------------------------------------------


def matches(matchers: Matchers, event: Event, region_of: RegionOf) -> bool:
    """Every matcher that is set must hold (an unset matcher matches anything)."""
    if matchers.labels and event.label not in matchers.labels:
        return False
    if matchers.actors and not set(matchers.actors) & set(event.actors):
        return False
    if matchers.regions:
        regions = {region_of(actor) for actor in event.actors}
        if not set(matchers.regions) & regions:
            return False
    if matchers.dyads and not set(matchers.dyads) & set(event.dyads):
        return False
    if matchers.feed_tags and not set(matchers.feed_tags) & set(event.feed_tags):
        return False
    return matchers.min_tension is None or event.tension >= matchers.min_tension


def _child(parent: Route, route: RouteSettings) -> Route:
    return Route(
        name=route.name,
        channel=route.channel or parent.channel,
        group_wait=route.group_wait if route.group_wait is not None else parent.group_wait,
        group_interval=(
            route.group_interval if route.group_interval is not None else parent.group_interval
        ),
        repeat_interval=(
            route.repeat_interval if route.repeat_interval is not None else parent.repeat_interval
        ),
        quiet_hours=route.quiet_hours if route.quiet_hours is not None else parent.quiet_hours,
        digest=route.digest or parent.digest,
    )


def root(settings: AlertingSettings) -> Route:
    return Route(
        name=DEFAULT_ROUTE,
        channel=settings.default_channel,
        group_wait=settings.group_wait,
        group_interval=settings.group_interval,
        repeat_interval=settings.repeat_interval,
        quiet_hours=settings.quiet_hours,
        digest=settings.digest,
    )


def _walk(
    parent: Route, children: Sequence[RouteSettings], event: Event, region_of: RegionOf
) -> list[Route]:
    chosen: list[Route] = []
    for child in children:
        if not matches(child, event, region_of):
            continue
        resolved = _child(parent, child)
        chosen += _walk(resolved, child.routes, event, region_of) or [resolved]
        if not child.continue_:
            break
    return chosen


def routes_for(event: Event, settings: AlertingSettings, region_of: RegionOf) -> list[Route]:
    """The routes an event goes to: the deepest matching node of each matching branch; the root
    (``default_channel``) when no route matches."""
    return _walk(root(settings), settings.routes, event, region_of) or [root(settings)]


def _signal_matches(
    matchers: Matchers, actors: tuple[str, ...], dyads: tuple[str, ...], region_of: RegionOf
) -> bool:
    """Index alerts match on actors, dyads and regions; a route that also asks for labels,
    a tension or feed tags is about stories, and never takes them."""
    if matchers.labels or matchers.min_tension is not None or matchers.feed_tags:
        return False
    if matchers.actors and not set(matchers.actors) & set(actors):
        return False
    if matchers.dyads and not set(matchers.dyads) & set(dyads):
        return False
    return not matchers.regions or bool(
        set(matchers.regions) & {region_of(actor) for actor in actors}
    )


def routes_for_signal(
    actors: tuple[str, ...],
    dyads: tuple[str, ...],
    settings: AlertingSettings,
    region_of: RegionOf,
) -> list[Route]:
    """The routes a spike or easing of the tension index goes to (see :func:`_signal_matches`)."""

    def walk(parent: Route, children: Sequence[RouteSettings]) -> list[Route]:
        chosen: list[Route] = []
        for child in children:
            if not _signal_matches(child, actors, dyads, region_of):
                continue
            resolved = _child(parent, child)
            chosen += walk(resolved, child.routes) or [resolved]
            if not child.continue_:
                break
        return chosen

    return walk(root(settings), settings.routes) or [root(settings)]


def signal_message(target: Route, signal: Any, now: datetime) -> Message:
    """A spike is a new message; an easing is a reply in its spike's thread."""
    facts = {
        "scope": signal.scope, "key": signal.key, "kind": signal.kind,
        "at": signal.at.isoformat(), "value": round(signal.value, 3),
        "baseline": round(signal.baseline, 3), "spread": round(signal.spread, 3),
        "z": round(signal.z, 2), "peak": round(signal.peak, 3),
        "since": signal.since.isoformat() if signal.since else None,
        "cold_start": signal.cold_start,
    }  # fmt: skip
    key = f"{target.name}:{signal.id}"
    parent = None
    if signal.kind == "easing" and signal.since is not None:
        parent = f"{target.name}:index:{signal.scope}:{signal.key}:spike:{signal.since.isoformat()}"
    return Message(
        key=key,
        kind="reply" if parent else "post",
        route=target.name,
        channel=target.channel,
        event_id=None,
        item_id=key,
        due=now,
        parent_key=parent,
        payload={"signal": facts},
    )


def all_routes(settings: AlertingSettings) -> list[Route]:
    """Every route of the tree, resolved (for digests)."""
    found = [root(settings)]

    def visit(parent: Route, children: Sequence[RouteSettings]) -> None:
        for child in children:
            resolved = _child(parent, child)
            found.append(resolved)
            visit(resolved, child.routes)

    visit(found[0], settings.routes)
    return found


# rules -----------------------------------------------------------------------------------


def is_alertable(event: Event, settings: AlertingSettings, now: datetime) -> bool:
    """Above its label's threshold, not `other`, and not stale."""
    if event.label == "other":
        return False
    if event.tension < settings.threshold_for(event.label):
        return False
    return now - event.last_seen <= settings.max_age


def muted(event: Event, settings: AlertingSettings, now: datetime, region_of: RegionOf) -> bool:
    return any(mute.until > now and matches(mute, event, region_of) for mute in settings.mutes)


def _shares(rule: InhibitRule, event: Event, other: Event, region_of: RegionOf) -> bool:
    for fact in rule.equal:
        if fact == "dyad" and not set(event.dyads) & set(other.dyads):
            return False
        if fact == "actors" and set(event.actors) != set(other.actors):
            return False
        if fact == "region":
            regions = {region_of(code) for code in event.actors} - {None}
            if not regions & ({region_of(code) for code in other.actors} - {None}):
                return False
    return True


def inhibited(
    event: Event,
    rules: Iterable[InhibitRule],
    open_notices: Sequence[tuple[Notice, Event]],
    now: datetime,
    region_of: RegionOf,
) -> bool:
    """Does an open alert (matching a rule's source) hold this one (matching its target)?"""
    for rule in rules:
        if not matches(rule.target, event, region_of):
            continue
        for notice, source in open_notices:
            if source.id == event.id or notice.state not in ("open", "grouped"):
                continue
            if now - notice.notified_at > rule.duration:
                continue
            if matches(rule.source, source, region_of) and _shares(rule, event, source, region_of):
                return True
    return False


def in_quiet_hours(windows: Iterable[QuietHours], now: datetime) -> QuietHours | None:
    """The quiet-hours window ``now`` falls in, if any (windows may cross midnight)."""
    for window in windows:
        local = now.astimezone(ZoneInfo(window.timezone))
        start, end = time.fromisoformat(window.start), time.fromisoformat(window.end)
        moment = local.time()
        weekday = WEEKDAYS[local.weekday()]
        yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
        if start <= end:
            if start <= moment < end and weekday in window.days:
                return window
        elif (moment >= start and weekday in window.days) or (
            moment < end and yesterday in window.days
        ):
            return window
    return None


def digest_slot(digest: DigestSettings, now: datetime) -> datetime:
    """The latest scheduled digest time at or before ``now`` (UTC)."""
    zone = ZoneInfo(digest.timezone)
    local = now.astimezone(zone)
    slots = []
    for days_back in (0, 1):
        day = (local - timedelta(days=days_back)).date()
        for clock in digest.times:
            moment = datetime.combine(day, time.fromisoformat(clock), zone)
            if moment <= local:
                slots.append(moment)
    return max(slots).astimezone(now.tzinfo)


# the plan ----------------------------------------------------------------------------------


def post_key(route: str, event_id: int) -> str:
    return f"{route}:event:{event_id}"


def plan(
    event: Event,
    notices: dict[str, Notice],
    settings: AlertingSettings,
    context: Context,
    now: datetime,
) -> Plan:
    """The notices and messages one changed event calls for, on every route it goes to."""
    result = Plan()
    for route in routes_for(event, settings, context.region_of):
        notice = notices.get(route.name)
        if notice is None:
            _first(result, route, event, settings, context, now)
        else:
            _again(result, route, notice, event, settings, context, now)
    if event.label == "cooperation" and event.modality == "actual":
        _ease(result, event, settings, context, now)
    return result


def _first(
    result: Plan,
    route: Route,
    event: Event,
    settings: AlertingSettings,
    context: Context,
    now: datetime,
) -> None:
    if not is_alertable(event, settings, now):
        return
    if muted(event, settings, now, context.region_of):
        result.muted += 1
        return
    if inhibited(event, settings.inhibit_rules, context.open_notices, now, context.region_of):
        result.inhibited += 1
        return
    quiet = in_quiet_hours(route.quiet_hours, now)
    held = quiet is not None and (
        quiet.bypass_tension is None or event.tension < quiet.bypass_tension
    )
    notice = Notice(
        route=route.name,
        channel=route.channel,
        event_id=event.id,
        state="held",
        post_key=None,
        label=event.label,
        tension=event.tension,
        sources=len(event.sources),
        confirmed=False,
        dyads=event.dyads,
        messages=0,
        eased=(),
        created_at=now,
        notified_at=now,
    )
    if held:
        result.notices.append(notice)
        return
    result.notices.append(_opened(notice, route, event, context, settings, now))
    result.messages.append(_post(route, event, now))


def _opened(
    notice: Notice,
    route: Route,
    event: Event,
    context: Context,
    settings: AlertingSettings,
    now: datetime,
) -> Notice:
    return replace(
        notice,
        state="open",
        post_key=post_key(route.name, event.id),
        label=event.label,
        tension=event.tension,
        sources=len(event.sources),
        confirmed=event.independent_sources(context.confirm_tier) >= settings.confirm_sources,
        messages=1,
        notified_at=now,
    )


def _post(route: Route, event: Event, now: datetime) -> Message:
    return Message(
        key=post_key(route.name, event.id),
        kind="post",
        route=route.name,
        channel=route.channel,
        event_id=event.id,
        item_id=event.item_id,
        due=now + route.group_wait,
    )


def _again(
    result: Plan,
    route: Route,
    notice: Notice,
    event: Event,
    settings: AlertingSettings,
    context: Context,
    now: datetime,
) -> None:
    if notice.state == "held":
        quiet = in_quiet_hours(route.quiet_hours, now)
        bypass = quiet.bypass_tension if quiet is not None else None
        if bypass is not None and event.tension >= bypass and is_alertable(event, settings, now):
            result.notices.append(_opened(notice, route, event, context, settings, now))
            result.messages.append(_post(route, event, now))
        return  # otherwise it waits for its digest: the end of quiet hours pages nobody
    if notice.state != "open" or notice.post_key is None:
        return
    changed = replace(notice, sources=len(event.sources), dyads=event.dyads)
    confirmed = event.independent_sources(context.confirm_tier) >= settings.confirm_sources
    messages = notice.messages
    if (len(event.sources) != notice.sources or confirmed != notice.confirmed) and (
        notice.post_key not in context.pending_updates
    ):
        last = notice.updated_at or notice.notified_at
        messages += 1
        result.messages.append(
            Message(
                key=f"{notice.post_key}:update:{messages}",
                kind="update",
                route=route.name,
                channel=notice.channel,
                event_id=event.id,
                item_id=event.item_id,
                due=max(now, last + route.group_interval),
                parent_key=notice.post_key,
            )
        )
        changed = replace(changed, updated_at=max(now, last + route.group_interval))
    changed = replace(changed, confirmed=confirmed)
    risen = event.tension >= notice.tension + settings.develop_delta
    graver = event.label != notice.label and context.severity(event.label) > context.severity(
        notice.label
    )
    if event.label in ESCALATIONS and (risen or graver):
        messages += 1
        what = "now " + event.label.replace("_", " ") if graver else "tension rising"
        result.messages.append(
            _reply(notice, event, messages, now, "develops", f"Developing: {what}")
        )
        changed = replace(changed, label=event.label, tension=max(event.tension, notice.tension))
    elif now - notice.notified_at >= route.repeat_interval and event.last_seen > (
        notice.notified_at
    ):
        messages += 1
        count = len(event.sources)
        result.messages.append(
            _reply(
                notice, event, messages, now, "repeat",
                f"Still being reported: {count} source{'s' if count != 1 else ''}",
                broadcast=True,
            )
        )  # fmt: skip
        changed = replace(changed, notified_at=now)
    if changed != notice or messages != notice.messages:
        result.notices.append(replace(changed, messages=messages))


def _reply(
    notice: Notice,
    event: Event,
    number: int,
    now: datetime,
    reason: str,
    headline: str,
    broadcast: bool = False,
) -> Message:
    assert notice.post_key is not None
    return Message(
        key=f"{notice.post_key}:reply:{number}",
        kind="reply",
        route=notice.route,
        channel=notice.channel,
        event_id=event.id,
        item_id=event.item_id,
        due=now,
        parent_key=notice.post_key,
        payload={"reason": reason, "headline": headline, "broadcast": broadcast},
    )


def _ease(
    result: Plan, event: Event, settings: AlertingSettings, context: Context, now: datetime
) -> None:
    """A de-escalation for a dyad with an open alert: an easing reply in that alert's thread."""
    planned = {notice.route: notice for notice in result.notices}
    for notice, source in context.open_notices:
        notice = planned.get(notice.route, notice) if notice.event_id == event.id else notice
        if source.id == event.id or notice.state != "open" or notice.post_key is None:
            continue
        if event.id in notice.eased or now - notice.notified_at > settings.easing_window:
            continue
        if source.label not in ESCALATIONS or not set(event.dyads) & set(source.dyads):
            continue
        number = notice.messages + 1
        result.messages.append(_reply(notice, event, number, now, "easing", "Easing"))
        result.notices.append(replace(notice, messages=number, eased=(*notice.eased, event.id)))


def group_overflow(
    messages: Sequence[Message], notices: Sequence[Notice], limit: int, now: datetime
) -> tuple[list[Message], list[Notice]]:
    """Keep at most ``limit`` new posts per channel from one pass; the rest become grouped
    messages (up to 20 events each) so a burst is never dropped and never floods a channel."""
    posts: dict[str, list[Message]] = {}
    for message in messages:
        if message.kind == "post":
            posts.setdefault(message.channel, []).append(message)
    overflow = {m.key for channel in posts.values() for m in channel[limit:]}
    if not overflow:
        return list(messages), list(notices)
    kept = [message for message in messages if message.key not in overflow]
    grouped_notices = []
    for channel, channel_posts in posts.items():
        extra = channel_posts[limit:]
        for start in range(0, len(extra), 20):
            chunk = extra[start : start + 20]
            ids = [m.event_id for m in chunk if m.event_id is not None]
            key = f"{chunk[0].route}:group:{now.isoformat()}:{min(ids)}-{max(ids)}"
            kept.append(
                Message(
                    key=key,
                    kind="group",
                    route=chunk[0].route,
                    channel=channel,
                    event_id=None,
                    item_id=chunk[0].item_id,
                    due=max(m.due for m in chunk),
                    payload={"events": ids},
                )
            )
            members = {m.key for m in chunk}
            grouped_notices += [
                replace(n, state="grouped", post_key=key) for n in notices if n.post_key in members
            ]
    changed = {(n.route, n.event_id) for n in grouped_notices}
    rest = [n for n in notices if (n.route, n.event_id) not in changed]
    return kept, rest + grouped_notices
