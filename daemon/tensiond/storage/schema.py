"""The database schema as SQLAlchemy 2.x typed models.

Alembic migrations in ``migrations/`` create it; tests compare the two so they never drift.
Every claim of work (a due feed, a pending alert) is a lease: ``lease_owner`` and ``lease_until``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC as naive timestamps everywhere and returns aware datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware values")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class FeedRow(Base):
    __tablename__ = "feeds"

    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(200))
    next_poll_at: Mapped[datetime | None]
    last_polled_at: Mapped[datetime | None]
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]

    __table_args__ = (Index("ix_feeds_due", "active", "next_poll_at"),)


class ItemRow(Base):
    __tablename__ = "items"

    id: Mapped[str] = mapped_column(String(512), primary_key=True)
    feed_url: Mapped[str] = mapped_column(String(2048))
    feed_name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2048))
    url_key: Mapped[str | None] = mapped_column(String(2048))
    published: Mapped[datetime | None]
    seen_at: Mapped[datetime]
    classified: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (
        Index("ix_items_unclassified", "classified", "seen_at"),
        Index("ix_items_seen_at", "seen_at"),
        Index("ix_items_url_key", "url_key"),
    )


class ClassificationRow(Base):
    __tablename__ = "classifications"

    item_id: Mapped[str] = mapped_column(
        String(512), ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(40))
    tension: Mapped[int]
    probabilities: Mapped[dict[str, Any]]
    actors: Mapped[dict[str, Any]]
    modality: Mapped[str] = mapped_column(String(20))
    why: Mapped[dict[str, Any]]
    model_version: Mapped[str] = mapped_column(String(100))
    classified_at: Mapped[datetime]
    score: Mapped[float] = mapped_column(Float, default=0.0)

    __table_args__ = (Index("ix_classifications_label_tension", "label", "tension"),)


class AlertRow(Base):
    """The outbox: committed before Slack is called, marked sent with Slack's ``ts`` after."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(700), unique=True)
    item_id: Mapped[str] = mapped_column(String(512))
    route: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    slack_ts: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # what the row asks Slack to do: post, update (chat.update of ``parent_key``'s message),
    # reply (in ``parent_key``'s thread), digest or group; event rows render at delivery
    kind: Mapped[str] = mapped_column(String(20), default="post")
    parent_key: Mapped[str | None] = mapped_column(String(700))
    event_id: Mapped[int | None]
    slack_channel: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_alerts_pending", "state", "next_attempt_at"),
        Index("ix_alerts_parent", "parent_key"),
    )


class EventRow(Base):
    """One happening, reported by one or more items from any outlets."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    label: Mapped[str] = mapped_column(String(40))
    tension: Mapped[int]
    modality: Mapped[str] = mapped_column(String(20))
    actors: Mapped[list[Any]]
    dyads: Mapped[list[Any]]
    feed_tags: Mapped[list[Any]]
    item_id: Mapped[str] = mapped_column(String(512))  # the item that speaks for the event
    title: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2048))
    why: Mapped[list[Any]]
    sources: Mapped[list[Any]]
    terms: Mapped[list[Any]]
    centroid: Mapped[list[Any]]
    size: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_events_last_seen", "last_seen"),)


class EventItemRow(Base):
    __tablename__ = "event_items"

    item_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    similarity: Mapped[float] = mapped_column(Float, default=1.0)
    joined_at: Mapped[datetime]

    __table_args__ = (Index("ix_event_items_event", "event_id"),)


class NoticeRow(Base):
    """What one route has told (or held back) about one event: the life of its alert."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    route: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    post_key: Mapped[str | None] = mapped_column(String(700))
    label: Mapped[str] = mapped_column(String(40))
    tension: Mapped[int]
    sources: Mapped[int] = mapped_column(Integer, default=0)
    confirmed: Mapped[bool] = mapped_column(default=False)
    dyads: Mapped[list[Any]]
    messages: Mapped[int] = mapped_column(Integer, default=0)
    eased: Mapped[list[Any]]
    created_at: Mapped[datetime]
    notified_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]
    digested_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("route", "event_id", name="uq_notices_route_event"),
        Index("ix_notices_state", "state", "notified_at"),
    )


# The tension index (tensiond.index): one row of state per key, and an hourly series. -----------


class IndexStateRow(Base):
    """A key's running index (decayed to ``updated_at``), cached baseline and spike state."""

    __tablename__ = "index_states"

    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime]
    first_at: Mapped[datetime]
    baseline_median: Mapped[float | None] = mapped_column(Float)
    baseline_spread: Mapped[float | None] = mapped_column(Float)
    baseline_samples: Mapped[int | None] = mapped_column(Integer)
    baseline_at: Mapped[datetime | None]
    spiking: Mapped[bool] = mapped_column(default=False)
    spike_at: Mapped[datetime | None]
    peak: Mapped[float] = mapped_column(Float, default=0.0)
    reference_median: Mapped[float] = mapped_column(Float, default=0.0)
    reference_spread: Mapped[float] = mapped_column(Float, default=0.0)

    __table_args__ = (Index("ix_index_states_spiking", "spiking"),)


class IndexPointRow(Base):
    """The index right after the last update of an hour: at most one row per key and hour."""

    __tablename__ = "index_points"

    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    at: Mapped[datetime]
    value: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_index_points_hour", "hour"),)
