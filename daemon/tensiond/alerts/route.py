"""What alerts, and where: pure decisions over classified items.

``decide`` takes data and ``now`` and returns :class:`Alert` records; it never touches the network
or the database, so every rule here is tested with plain values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from tensiond.config.schema import AlertingSettings, RouteSettings
from tensiond.types import Alert, Classification, Item

DEFAULT_ROUTE = "default"
RegionOf = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Candidate:
    """A classified item with what routing may match on besides the verdict."""

    item: Item
    classification: Classification
    feed_tags: tuple[str, ...] = ()


def source_of(item: Item) -> str:
    """The outlet to credit: the link's host without www., else the feed's name."""
    host = urlsplit(item.link or "").hostname or ""
    return host.removeprefix("www.") or item.feed_name


def is_alertable(candidate: Candidate, settings: AlertingSettings, now: datetime) -> bool:
    """Above its label's threshold, not `other`, and not stale."""
    verdict = candidate.classification
    if verdict.label == "other":
        return False
    if verdict.tension < settings.threshold_for(verdict.label):
        return False
    published = candidate.item.published or candidate.item.seen_at
    return now - published <= settings.max_age


def route_matches(route: RouteSettings, candidate: Candidate, region_of: RegionOf) -> bool:
    """Every matcher the route sets must hold (an unset matcher matches anything)."""
    verdict = candidate.classification
    if route.labels and verdict.label not in route.labels:
        return False
    if route.actors and not set(route.actors) & set(verdict.actors):
        return False
    if route.regions:
        regions = {region_of(actor) for actor in verdict.actors}
        if not set(route.regions) & regions:
            return False
    if route.feed_tags and not set(route.feed_tags) & set(candidate.feed_tags):
        return False
    return route.min_tension is None or verdict.tension >= route.min_tension


def routes_for(
    candidate: Candidate, settings: AlertingSettings, region_of: RegionOf
) -> list[tuple[str, str]]:
    """(route name, channel) pairs for a candidate; the default channel when nothing matches."""
    chosen = []
    for route in settings.routes:
        if route_matches(route, candidate, region_of):
            chosen.append((route.name, route.channel))
            if not route.continue_:
                break
    return chosen or [(DEFAULT_ROUTE, settings.default_channel)]


def decide(
    candidates: Iterable[Candidate],
    settings: AlertingSettings,
    region_of: RegionOf,
    now: datetime,
) -> list[Alert]:
    """The alerts due for these candidates, one per (route, story)."""
    alerts = []
    for candidate in candidates:
        if not is_alertable(candidate, settings, now):
            continue
        for route, channel in routes_for(candidate, settings, region_of):
            alerts.append(_alert(candidate, route, channel, now))
    return alerts


def _alert(candidate: Candidate, route: str, channel: str, now: datetime) -> Alert:
    item, verdict = candidate.item, candidate.classification
    return Alert(
        key=f"{route}:{item.id}",
        item_id=item.id,
        route=route,
        channel=channel,
        label=verdict.label,
        tension=verdict.tension,
        title=item.title or item.summary[:200],
        link=item.link,
        source=source_of(item),
        actors=verdict.actors,
        modality=verdict.modality,
        why=verdict.why,
        published=item.published,
        created_at=now,
    )


def unsent(alerts: Sequence[Alert], already: set[str]) -> list[Alert]:
    """Drop alerts whose key was already enqueued (a story seen again, through restarts)."""
    return [alert for alert in alerts if alert.key not in already]
