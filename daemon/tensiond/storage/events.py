"""Events, notices and outbox messages: read and written in one transaction per batch.

Clustering a batch, deciding its alerts and committing the outbox rows happen in one
:class:`EventWork` unit, so a crash leaves either all of it or none of it: an item is never in an
event without the alerts that event called for, and the alerts are never committed twice. On
PostgreSQL the unit takes an advisory lock, so two replicas cluster one after the other and never
make two events of one story; on SQLite ``BEGIN IMMEDIATE`` does the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tensiond.storage.schema import AlertRow, EventItemRow, EventRow, NoticeRow
from tensiond.types import Event, Message, Notice, Source

_PG_EVENTS_LOCK = 7_302_915_552


def _source_dict(source: Source) -> dict[str, Any]:
    return {
        "name": source.name,
        "tier": source.tier,
        "item_id": source.item_id,
        "title": source.title,
        "link": source.link,
        "at": source.at.isoformat(),
        "label": source.label,
        "tension": source.tension,
    }


def _source(data: dict[str, Any]) -> Source:
    return Source(
        name=str(data["name"]),
        tier=int(data["tier"]),
        item_id=str(data["item_id"]),
        title=str(data["title"]),
        link=data.get("link"),
        at=datetime.fromisoformat(data["at"]),
        label=str(data["label"]),
        tension=int(data["tension"]),
    )


def event_of(row: EventRow) -> Event:
    return Event(
        id=row.id,
        label=row.label,
        tension=row.tension,
        modality=row.modality,
        actors=tuple(row.actors),
        dyads=tuple(row.dyads),
        feed_tags=tuple(row.feed_tags),
        item_id=row.item_id,
        title=row.title,
        link=row.link,
        why=tuple(row.why),
        sources=tuple(_source(data) for data in row.sources),
        terms=frozenset(row.terms),
        centroid=tuple(row.centroid),
        size=row.size,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
    )


def _event_values(event: Event, now: datetime) -> dict[str, Any]:
    return {
        "label": event.label,
        "tension": event.tension,
        "modality": event.modality,
        "actors": list(event.actors),
        "dyads": list(event.dyads),
        "feed_tags": list(event.feed_tags),
        "item_id": event.item_id,
        "title": event.title,
        "link": event.link,
        "why": list(event.why),
        "sources": [_source_dict(source) for source in event.sources],
        "terms": sorted(event.terms),
        "centroid": list(event.centroid),
        "size": event.size,
        "first_seen": event.first_seen,
        "last_seen": event.last_seen,
        "updated_at": now,
    }


def notice_of(row: NoticeRow) -> Notice:
    return Notice(
        route=row.route,
        channel=row.channel,
        event_id=row.event_id,
        state=row.state,
        post_key=row.post_key,
        label=row.label,
        tension=row.tension,
        sources=row.sources,
        confirmed=row.confirmed,
        dyads=tuple(row.dyads),
        messages=row.messages,
        eased=tuple(row.eased),
        created_at=row.created_at,
        notified_at=row.notified_at,
        updated_at=row.updated_at,
        digested_at=row.digested_at,
    )


def message_values(message: Message, now: datetime) -> dict[str, Any]:
    return {
        "key": message.key,
        "kind": message.kind,
        "item_id": message.item_id,
        "event_id": message.event_id,
        "parent_key": message.parent_key,
        "route": message.route,
        "channel": message.channel,
        "payload": dict(message.payload or {}),
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": message.due,
        "created_at": now,
    }


class EventWork:
    """One transaction's view of events, notices and the outbox (see the module docstring)."""

    def __init__(self, session: Session, postgres: bool) -> None:
        self.session = session
        self.postgres = postgres
        if postgres:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_EVENTS_LOCK})

    def recent_events(self, since: datetime) -> list[Event]:
        query = select(EventRow).where(EventRow.last_seen >= since).order_by(EventRow.id)
        return [event_of(row) for row in self.session.scalars(query)]

    def clustered(self, item_ids: Sequence[str]) -> set[str]:
        """Which of these items already belong to an event (a batch retried after a crash)."""
        if not item_ids:
            return set()
        query = select(EventItemRow.item_id).where(EventItemRow.item_id.in_(list(item_ids)))
        return set(self.session.scalars(query))

    def save_event(self, event: Event, now: datetime) -> Event:
        """Insert a new event (id 0) or update a known one; returns it with its id."""
        values = _event_values(event, now)
        if event.id:
            self.session.execute(update(EventRow).where(EventRow.id == event.id).values(**values))
            return event
        row = EventRow(**values)
        self.session.add(row)
        self.session.flush()
        return event_of(row)

    def add_members(self, members: Iterable[tuple[str, int, float]], now: datetime) -> None:
        for item_id, event_id, score in members:
            self.session.merge(
                EventItemRow(
                    item_id=item_id, event_id=event_id, similarity=round(score, 4), joined_at=now
                )
            )

    def notices(self, event_ids: Iterable[int]) -> dict[int, dict[str, Notice]]:
        ids = list(event_ids)
        found: dict[int, dict[str, Notice]] = {event_id: {} for event_id in ids}
        if ids:
            rows = self.session.scalars(select(NoticeRow).where(NoticeRow.event_id.in_(ids)))
            for row in rows:
                found[row.event_id][row.route] = notice_of(row)
        return found

    def open_notices(self, since: datetime) -> list[tuple[Notice, Event]]:
        """Open or grouped alerts notified since ``since``, with their events."""
        query = (
            select(NoticeRow, EventRow)
            .join(EventRow, EventRow.id == NoticeRow.event_id)
            .where(NoticeRow.state.in_(("open", "grouped")), NoticeRow.notified_at >= since)
        )
        return [
            (notice_of(notice), event_of(event)) for notice, event in self.session.execute(query)
        ]

    def pending_updates(self) -> frozenset[str]:
        """Posts that already have an update waiting to be sent (it will show the latest)."""
        query = select(AlertRow.parent_key).where(
            AlertRow.kind == "update", AlertRow.state == "pending"
        )
        return frozenset(key for key in self.session.scalars(query) if key)

    def save_notices(self, notices: Iterable[Notice]) -> None:
        for notice in notices:
            values = {
                "channel": notice.channel,
                "state": notice.state,
                "post_key": notice.post_key,
                "label": notice.label,
                "tension": notice.tension,
                "sources": notice.sources,
                "confirmed": notice.confirmed,
                "dyads": list(notice.dyads),
                "messages": notice.messages,
                "eased": list(notice.eased),
                "notified_at": notice.notified_at,
                "updated_at": notice.updated_at,
                "digested_at": notice.digested_at,
            }
            existing = self.session.scalar(
                select(NoticeRow).where(
                    NoticeRow.route == notice.route, NoticeRow.event_id == notice.event_id
                )
            )
            if existing is None:
                self.session.add(
                    NoticeRow(
                        route=notice.route,
                        event_id=notice.event_id,
                        created_at=notice.created_at,
                        **values,
                    )
                )
            else:
                for name, value in values.items():
                    setattr(existing, name, value)
        self.session.flush()

    def add_messages(self, messages: Sequence[Message], now: datetime) -> int:
        """Commit outbox rows (one per key; a key already there is left alone)."""
        added = 0
        for message in messages:
            insert = pg_insert if self.postgres else sqlite_insert
            statement = insert(AlertRow).values(**message_values(message, now))
            statement = statement.on_conflict_do_nothing(index_elements=["key"])
            added += len(self.session.execute(statement.returning(AlertRow.id)).all())
        return added

    def held(self, route: str, before: datetime) -> list[tuple[Notice, Event]]:
        """What a route held back for its digest, noticed before ``before``."""
        query = (
            select(NoticeRow, EventRow)
            .join(EventRow, EventRow.id == NoticeRow.event_id)
            .where(
                NoticeRow.route == route,
                NoticeRow.state == "held",
                NoticeRow.created_at <= before,
                or_(NoticeRow.digested_at.is_(None)),
            )
            .order_by(EventRow.tension.desc(), EventRow.id)
        )
        return [
            (notice_of(notice), event_of(event)) for notice, event in self.session.execute(query)
        ]

    def mark_digested(self, route: str, event_ids: Sequence[int], key: str, now: datetime) -> None:
        self.session.execute(
            update(NoticeRow)
            .where(NoticeRow.route == route, NoticeRow.event_id.in_(list(event_ids)))
            .values(state="digested", digested_at=now, post_key=key)
        )
