"""The stored history as the daemon lived it: events regrown item by item, batch by batch.

The daemon clusters a batch of classified items, saves the events that changed and decides
their alerts with the batch's time as ``now``; every item of the batch is stored with that time
(``event_items.joined_at``). Replaying needs no model and no story vectors: which event each item
joined is already stored, so :func:`grow` only rebuilds what routing reads (label, tension and
modality of the lead report, sources by outlet, actors, dyads, feed tags, first and last seen)
with the very functions the daemon uses (:func:`tensiond.events.cluster.start` and ``join``, fed
an empty story vector).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache

import numpy as np

from tensiond.alerts.route import source_of
from tensiond.backtest import BacktestError
from tensiond.events.cluster import Report, join, start
from tensiond.storage.history import Sighting
from tensiond.types import Classification, Event, Item, Source

_NO_VECTOR = np.zeros(0, dtype=np.float32)
_NO_TERMS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Batch:
    """One decide pass: its time, how many items it placed, and the events it changed (their
    state after the pass) in the order the daemon plans them: most tense first, then by id."""

    at: datetime
    items: int
    events: tuple[Event, ...]


def outlets() -> Callable[[Item], str]:
    """:func:`~tensiond.alerts.route.source_of`, remembered per link authority (the part of a
    link it reads): parsing 100,000 links one by one is a good part of a replay's time."""
    known: dict[tuple[str, str], str] = {}

    def outlet(item: Item) -> str:
        link = item.link or ""
        start = link.find("://")
        if start < 0:
            return source_of(item)
        ends = [at for at in (link.find(mark, start + 3) for mark in "/?#") if at >= 0]
        key = (link[: min(ends, default=len(link))], item.feed_name)
        if key not in known:
            known[key] = source_of(replace(item, link=key[0]))
        return known[key]

    return outlet


def report_of(
    sighting: Sighting,
    tier_of: Callable[[str], int],
    feed_tags: tuple[str, ...],
    outlet_of: Callable[[Item], str] = source_of,
) -> Report:
    """The report the daemon built for this item (without its story vector and terms)."""
    item = Item(
        id=sighting.item_id, feed_url=sighting.feed_url, feed_name=sighting.feed_name,
        title=sighting.title, summary="", link=sighting.link, published=sighting.published,
        seen_at=sighting.seen_at,
    )  # fmt: skip
    verdict = Classification(
        item_id=item.id, label=sighting.label, probabilities={}, tension=sighting.tension,
        actors=sighting.actors, dyads=sighting.dyads, modality=sighting.modality, why=(),
        model_version="",
    )  # fmt: skip
    name = outlet_of(item)
    source = Source(
        name=name, tier=tier_of(name), item_id=item.id, title=item.title, link=item.link,
        at=min(item.published or item.seen_at, sighting.joined_at), label=verdict.label,
        tension=verdict.tension,
    )  # fmt: skip
    return Report(item, verdict, _NO_VECTOR, _NO_TERMS, source, feed_tags)


def grow(event: Event | None, report: Report, event_id: int, now: datetime) -> Event:
    """The event with one more report, exactly as clustering grows it (a new one when None)."""
    if event is None:
        return replace(start(report, now), id=event_id)
    return join(event, report, now)


def timeline(
    sightings: Iterable[Sighting],
    tier_of: Callable[[str], int] = lambda _name: 2,
    feed_tags: Mapping[str, tuple[str, ...]] | None = None,
) -> list[Batch]:
    """Group sightings (in stored order) into decide passes and regrow their events."""
    tags = feed_tags or {}
    tier = cache(tier_of)
    outlet = outlets()
    events: dict[int, Event] = {}
    batches: list[Batch] = []
    changed: dict[int, Event] = {}
    at: datetime | None = None
    items = 0
    for sighting in sightings:
        if sighting.joined_at != at:
            if at is not None:
                batches.append(_batch(at, items, changed))
            at, items, changed = sighting.joined_at, 0, {}
        try:
            report = report_of(sighting, tier, tags.get(sighting.feed_url, ()), outlet)
        except ValueError as error:
            raise BacktestError(f"stored item {sighting.item_id!r}: {error}") from None
        grown = grow(events.get(sighting.event_id), report, sighting.event_id, at)
        events[sighting.event_id] = changed[sighting.event_id] = grown
        items += 1
    if at is not None:
        batches.append(_batch(at, items, changed))
    return batches


def _batch(at: datetime, items: int, changed: dict[int, Event]) -> Batch:
    ordered = sorted(changed.values(), key=lambda event: (-event.tension, event.id))
    return Batch(at, items, tuple(ordered))
