"""Records for tests: events with sources, stored through the real repository."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from tensiond.storage.repository import Repository
from tensiond.types import Event, Message, Source

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def source(
    name: str, tier: int = 2, title: str = "", at: datetime = NOW, link: str | None = ""
) -> Source:
    return Source(
        name=name, tier=tier, item_id=f"https://{name}/story", title=title or f"{name} reports",
        link=f"https://{name}/story" if link == "" else link, at=at, label="weapons_test",
        tension=82,
    )  # fmt: skip


def make_event(
    title: str = "North Korea fires <!channel> missile",
    *,
    label: str = "weapons_test",
    tension: int = 82,
    actors: tuple[str, ...] = ("KP",),
    dyads: tuple[str, ...] = (),
    sources: tuple[Source, ...] = (),
    link: str | None = "https://news.example/a",
    modality: str = "actual",
    why: tuple[str, ...] = ("weapons_test 97%",),
    at: datetime = NOW,
    event_id: int = 0,
) -> Event:
    return Event(
        id=event_id, label=label, tension=tension, modality=modality, actors=actors,
        dyads=dyads, feed_tags=(), item_id=link or "item", title=title, link=link, why=why,
        sources=sources or (source("news.example"),), terms=frozenset(), centroid=(1.0, 0.0),
        size=len(sources) or 1, first_seen=at, last_seen=at,
    )  # fmt: skip


def store(repository: Repository, event: Event, now: datetime = NOW) -> Event:
    """Save (insert or update) an event and return it with its id."""
    with repository.events_unit() as work:
        return work.save_event(event, now)


def grow(repository: Repository, event: Event, *names: str) -> Event:
    """The stored event with more outlets reporting it."""
    grown = replace(
        event, sources=event.sources + tuple(source(name) for name in names),
        size=event.size + len(names),
    )  # fmt: skip
    return store(repository, grown)


def post(event: Event, channel: str = "#alerts", route: str = "default") -> Message:
    return Message(
        key=f"{route}:event:{event.id}", kind="post", route=route, channel=channel,
        event_id=event.id, item_id=event.item_id, due=NOW,
    )  # fmt: skip
