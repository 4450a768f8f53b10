"""The repository: every read and write tensiond makes, each in one short transaction.

Claims of work are leases (``lease_owner``, ``lease_until``) taken with ``FOR UPDATE SKIP LOCKED``
on PostgreSQL, so several replicas can race for the same due feed or pending alert safely; on SQLite
``BEGIN IMMEDIATE`` serialises writers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update

from tensiond.clock import utc
from tensiond.feeds.ids import canonical_url
from tensiond.storage.base import Store
from tensiond.storage.events import EventWork, event_of
from tensiond.storage.schema import (
    AlertRow,
    ClassificationRow,
    EventItemRow,
    EventRow,
    FeedRow,
    ItemRow,
    NoticeRow,
)
from tensiond.types import Classification, Event, FeedState, Item, Message, OutboxEntry


def _feed_state(row: FeedRow) -> FeedState:
    return FeedState(
        url=row.url,
        name=row.name,
        etag=row.etag,
        last_modified=row.last_modified,
        next_poll_at=row.next_poll_at,
        failures=row.failures,
        last_error=row.last_error,
        last_status=row.last_status,
    )


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _item(row: ItemRow) -> Item:
    return Item(
        id=row.id,
        feed_url=row.feed_url,
        feed_name=row.feed_name,
        title=row.title,
        summary=row.summary,
        link=row.link,
        published=row.published,
        seen_at=row.seen_at,
    )


def _entry(row: AlertRow) -> OutboxEntry:
    return OutboxEntry(
        row.id, row.key, row.channel, row.payload, row.attempts,
        kind=row.kind, route=row.route, event_id=row.event_id, parent_key=row.parent_key,
    )  # fmt: skip


class Repository(Store):
    """Storage for feeds, items, classifications and the alert outbox."""

    def ping(self) -> None:
        with self._session() as session:
            session.execute(select(1))

    # feeds -----------------------------------------------------------------------------------

    def sync_feeds(self, feeds: Sequence[tuple[str, str]], now: datetime) -> None:
        """Make the stored feed list match the config: add new ones, deactivate removed ones."""
        urls = [url for url, _ in feeds]
        with self._session() as session:
            for url, name in feeds:
                statement = self._insert(FeedRow).values(
                    url=url, name=name, active=True, failures=0, next_poll_at=now
                )
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["url"], set_={"name": name, "active": True}
                    )
                )
            session.execute(update(FeedRow).where(FeedRow.url.not_in(urls)).values(active=False))

    def feed_states(self) -> list[FeedState]:
        with self._session() as session:
            rows = session.scalars(select(FeedRow).where(FeedRow.active).order_by(FeedRow.url))
            return [_feed_state(row) for row in rows]

    def claim_due_feeds(
        self, now: datetime, owner: str, lease: timedelta, limit: int = 1000
    ) -> list[FeedState]:
        """Lease the feeds due at ``now`` that nobody else holds."""
        with self._session() as session:
            query = (
                select(FeedRow)
                .where(
                    FeedRow.active,
                    or_(FeedRow.next_poll_at.is_(None), FeedRow.next_poll_at <= now),
                    or_(FeedRow.lease_until.is_(None), FeedRow.lease_until < now),
                )
                .order_by(FeedRow.next_poll_at)
                .limit(limit)
            )
            rows = list(session.scalars(self._lockable(query)))
            for row in rows:
                row.lease_owner, row.lease_until = owner, now + lease
            return [_feed_state(row) for row in rows]

    def record_polls(
        self,
        polls: Sequence[tuple[FeedState, int | None, str | None]],
        *,
        polled_at: datetime,
    ) -> None:
        """Store each poll's outcome (state, HTTP status, error) and release the leases."""
        if not polls:
            return
        rows = [
            {
                "url": state.url,
                "etag": state.etag,
                "last_modified": state.last_modified,
                "next_poll_at": state.next_poll_at,
                "failures": state.failures,
                "last_error": error,
                "last_status": status,
                "last_polled_at": polled_at,
                "lease_owner": None,
                "lease_until": None,
            }
            for state, status, error in polls
        ]
        with self._session() as session:
            session.execute(update(FeedRow), rows)

    def record_poll(
        self, state: FeedState, *, polled_at: datetime, status: int | None, error: str | None
    ) -> None:
        """Store one poll's outcome and release its lease."""
        self.record_polls([(state, status, error)], polled_at=polled_at)

    # items -----------------------------------------------------------------------------------

    def add_items(self, items: Sequence[Item]) -> list[Item]:
        """Store items not seen before and return only those.

        An item is known when its canonical id is, or when its link (tracking parameters
        removed) is: the same article through two feeds with different guids is one item.
        """
        if not items:
            return []
        keys = {item.id: canonical_url(item.link) if item.link else None for item in items}
        with self._session() as session:
            ids = list(keys)
            links = [key for key in keys.values() if key]
            known = set(session.scalars(select(ItemRow.id).where(ItemRow.id.in_(ids))))
            known |= set(session.scalars(select(ItemRow.url_key).where(ItemRow.url_key.in_(links))))
            fresh, rows = [], []
            for item in items:
                url_key = keys[item.id]
                if item.id in known or (url_key and url_key in known):
                    continue
                known.update(key for key in (item.id, url_key) if key)
                fresh.append(item)
                rows.append({**vars(item), "url_key": url_key, "classified": False})
            if rows:
                session.execute(self._insert(ItemRow).on_conflict_do_nothing(), rows)
            return fresh

    def unclassified_items(self, limit: int) -> list[Item]:
        with self._session() as session:
            query = (
                select(ItemRow)
                .where(ItemRow.classified.is_(False))
                .order_by(ItemRow.seen_at)
                .limit(limit)
            )
            return [_item(row) for row in session.scalars(query)]

    def item(self, item_id: str) -> Item | None:
        with self._session() as session:
            row = session.get(ItemRow, item_id)
            return None if row is None else _item(row)

    def save_classifications(self, results: Sequence[Classification], now: datetime) -> None:
        with self._session() as session:
            for result in results:
                values = {
                    "item_id": result.item_id,
                    "label": result.label,
                    "tension": result.tension,
                    "probabilities": dict(result.probabilities),
                    "actors": {"actors": list(result.actors), "dyads": list(result.dyads)},
                    "modality": result.modality,
                    "why": {"why": list(result.why)},
                    "model_version": result.model_version,
                    "classified_at": now,
                    "score": float(result.tension),
                }
                session.execute(
                    self._insert(ClassificationRow).values(**values).on_conflict_do_nothing()
                )
            ids = [result.item_id for result in results]
            session.execute(update(ItemRow).where(ItemRow.id.in_(ids)).values(classified=True))

    def count(self, table: str) -> int:
        model = {
            "items": ItemRow,
            "alerts": AlertRow,
            "feeds": FeedRow,
            "classifications": ClassificationRow,
            "events": EventRow,
            "notices": NoticeRow,
        }[table]
        with self._session() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    # alerts (the outbox) ---------------------------------------------------------------------

    @contextmanager
    def events_unit(self) -> Iterator[EventWork]:
        """One transaction over events, notices and the outbox (see :mod:`.events`)."""
        with self._session() as session:
            yield EventWork(session, self._postgres)

    def enqueue(self, messages: Sequence[Message], now: datetime) -> int:
        """Commit outbox rows (one per key); returns how many were new."""
        with self.events_unit() as work:
            return work.add_messages(messages, now)

    def event(self, event_id: int) -> Event | None:
        with self._session() as session:
            row = session.get(EventRow, event_id)
            return None if row is None else event_of(row)

    def events(self, since: datetime | None = None) -> list[Event]:
        with self._session() as session:
            query = select(EventRow).order_by(EventRow.id)
            if since is not None:
                query = query.where(EventRow.last_seen >= since)
            return [event_of(row) for row in session.scalars(query)]

    def message_refs(self, keys: Sequence[str]) -> dict[str, tuple[str, str | None, str | None]]:
        """For outbox keys: (state, Slack channel id, Slack ts) of each message."""
        if not keys:
            return {}
        with self._session() as session:
            query = select(AlertRow.key, AlertRow.state, AlertRow.slack_channel, AlertRow.slack_ts)
            rows = session.execute(query.where(AlertRow.key.in_(list(keys))))
            return {key: (state, channel, ts) for key, state, channel, ts in rows}

    def alerted_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        with self._session() as session:
            return set(session.scalars(select(AlertRow.key).where(AlertRow.key.in_(list(keys)))))

    def claim_pending_alerts(
        self, now: datetime, owner: str, lease: timedelta, limit: int = 50
    ) -> list[OutboxEntry]:
        """Lease pending alerts that are due and not held by a live lease."""
        with self._session() as session:
            query = (
                select(AlertRow)
                .where(
                    AlertRow.state == "pending",
                    AlertRow.next_attempt_at <= now,
                    or_(AlertRow.lease_until.is_(None), AlertRow.lease_until < now),
                )
                .order_by(AlertRow.id)
                .limit(limit)
            )
            rows = list(session.scalars(self._lockable(query)))
            for row in rows:
                row.lease_owner, row.lease_until = owner, now + lease
                row.attempts += 1
            return [_entry(row) for row in rows]

    def mark_sent(
        self,
        alert_id: int,
        slack_ts: str | None,
        now: datetime,
        slack_channel: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        extra = {"payload": payload} if payload is not None else {}
        self._finish(
            alert_id, state="sent", slack_ts=slack_ts, sent_at=now, error=None,
            slack_channel=slack_channel, **extra,
        )  # fmt: skip

    def defer(self, alert_id: int, at: datetime, reason: str) -> None:
        """Put a claimed row back until ``at`` without counting it as an attempt (a channel's
        rate budget or 429 hold, or a reply whose parent is not posted yet)."""
        larger = func.greatest if self._postgres else func.max
        with self._session() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(
                    lease_owner=None, lease_until=None, state="pending", next_attempt_at=at,
                    error=reason[:200], attempts=larger(AlertRow.attempts - 1, 0),
                )
            )  # fmt: skip

    def mark_failed(self, alert_id: int, reason: str) -> None:
        self._finish(alert_id, state="failed", error=reason[:200])

    def mark_retry(self, alert_id: int, at: datetime, reason: str) -> None:
        self._finish(alert_id, state="pending", next_attempt_at=at, error=reason[:200])

    def _finish(self, alert_id: int, **values: Any) -> None:
        with self._session() as session:
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id)
                .values(lease_owner=None, lease_until=None, **values)
            )

    def alerts(self, state: str | None = None) -> list[dict[str, Any]]:
        """Alert rows as mappings (for the CLI, metrics and tests)."""
        with self._session() as session:
            query = select(AlertRow).order_by(AlertRow.id)
            if state:
                query = query.where(AlertRow.state == state)
            return [
                {c.name: getattr(row, c.name) for c in AlertRow.__table__.columns}
                for row in session.scalars(query)
            ]

    def next_due(self) -> datetime | None:
        """When the earliest pending outbox row falls due (None when nothing is pending)."""
        with self._session() as session:
            query = select(func.min(AlertRow.next_attempt_at)).where(AlertRow.state == "pending")
            value = session.scalar(query)
            return None if value is None else utc(value)

    def alert_counts(self) -> dict[str, int]:
        with self._session() as session:
            rows = session.execute(select(AlertRow.state, func.count()).group_by(AlertRow.state))
            return {state: int(count) for state, count in rows}

    # housekeeping ----------------------------------------------------------------------------

    def prune(self, before: datetime) -> tuple[int, int]:
        """Delete what is older than ``before``: finished alerts, then events and items that no
        pending alert and no recent event still needs.

        Returns (items, alerts) deleted. A pending alert keeps its event and items, however old.
        """
        with self._session() as session:
            finished = and_(AlertRow.state.in_(("sent", "failed")), AlertRow.created_at < before)
            alerts = session.execute(delete(AlertRow).where(finished))
            pending = AlertRow.state == "pending"
            needed_events = select(AlertRow.event_id).where(pending, AlertRow.event_id.is_not(None))
            old_events = select(EventRow.id).where(
                EventRow.last_seen < before, EventRow.id.not_in(needed_events)
            )
            session.execute(delete(NoticeRow).where(NoticeRow.event_id.in_(old_events)))
            session.execute(delete(EventItemRow).where(EventItemRow.event_id.in_(old_events)))
            session.execute(delete(EventRow).where(EventRow.id.in_(old_events)))
            needed_items = select(AlertRow.item_id).where(pending)
            members = select(EventItemRow.item_id)
            items = session.execute(
                delete(ItemRow).where(
                    and_(
                        ItemRow.seen_at < before,
                        ItemRow.id.not_in(needed_items),
                        ItemRow.id.not_in(members),
                    )
                )
            )
            return _count(items), _count(alerts)
