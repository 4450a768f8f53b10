"""What the daemon saw and sent, read back in bulk for ``tensiond backtest``.

Two reads, each one query whatever the history's size: every item that joined an event since a
moment, with its verdict and the time it joined (the daemon's decide time, shared by its whole
batch), in the order the daemon clustered them; and the outbox rows created since a moment,
counted by route, channel, kind and state.

Reading never writes. :func:`open_readonly` opens SQLite read-only (no ``BEGIN IMMEDIATE``, so a
backtest never holds the write lock a running daemon needs) and PostgreSQL as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, and_, case, create_engine, event, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from tensiond.exceptions import StorageError
from tensiond.storage.engine import make_engine
from tensiond.storage.schema import AlertRow, ClassificationRow, EventItemRow, ItemRow

NEEDED_TABLES = ("items", "classifications", "event_items", "alerts")


@dataclass(frozen=True)
class Sighting:
    """One item as it joined an event: what the daemon knew of it at its decide time."""

    event_id: int
    joined_at: datetime
    item_id: str
    feed_url: str
    feed_name: str
    title: str  # the headline, else the first 200 characters of the summary (as events show)
    link: str | None
    published: datetime | None
    seen_at: datetime
    label: str
    tension: int
    actors: tuple[str, ...]
    dyads: tuple[str, ...]
    modality: str


@dataclass(frozen=True)
class OutboxCount:
    """How many outbox rows of one kind one route wrote to one channel, by state (``index``:
    the tension index's spikes and easings, which a backtest does not simulate)."""

    route: str
    channel: str
    kind: str
    state: str
    count: int


def _readonly_sqlite(url: str) -> Engine:
    path = Path(url.split("///", 1)[-1])
    if not path.is_file():
        raise StorageError(f"no database at {path} (has the daemon run with this config?)")

    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    uri = f"sqlite:///file:{quote(str(path.resolve()))}?mode=ro&uri=true"
    engine = create_engine(uri, poolclass=NullPool)
    event.listen(engine, "connect", pragmas)
    return engine


def open_readonly(url: str) -> Engine:
    """An engine for reading the history; SQLite is opened read-only and must exist."""
    try:
        if url.startswith("sqlite") and ":memory:" not in url:
            engine = _readonly_sqlite(url)
        else:
            engine = make_engine(url)
        missing = sorted(set(NEEDED_TABLES) - set(inspect(engine).get_table_names()))
    except SQLAlchemyError as error:
        raise StorageError(f"cannot open the database: {error}") from error
    if missing:
        engine.dispose()
        raise StorageError(f"the database has no {', '.join(missing)} table (not tensiond's?)")
    return engine


class History:
    """Bulk reads of the stored history (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def sightings(self, since: datetime, until: datetime) -> list[Sighting]:
        """Items that joined an event in [since, until], in the order the daemon placed them:
        by decide time, then by when each item was seen (the order it classified them in)."""
        title = func.coalesce(func.nullif(ItemRow.title, ""), func.substr(ItemRow.summary, 1, 200))
        columns = (
            EventItemRow.event_id, EventItemRow.joined_at, ItemRow.id, ItemRow.feed_url,
            ItemRow.feed_name, title, ItemRow.link, ItemRow.published, ItemRow.seen_at,
            ClassificationRow.label, ClassificationRow.tension, ClassificationRow.actors,
            ClassificationRow.modality,
        )  # fmt: skip
        query = (
            select(*columns)
            .join(ItemRow, ItemRow.id == EventItemRow.item_id)
            .join(ClassificationRow, ClassificationRow.item_id == EventItemRow.item_id)
            .where(EventItemRow.joined_at >= since, EventItemRow.joined_at <= until)
            .order_by(EventItemRow.joined_at, ItemRow.seen_at, ItemRow.id)
        )
        return list(self._sightings(query))

    def _sightings(self, query: Any) -> Iterator[Sighting]:
        try:
            with self.engine.connect() as connection:
                for row in connection.execute(query):
                    found = row[11] if isinstance(row[11], dict) else {}
                    yield Sighting(
                        event_id=row[0], joined_at=row[1], item_id=row[2], feed_url=row[3],
                        feed_name=row[4], title=row[5] or "", link=row[6], published=row[7],
                        seen_at=row[8], label=row[9], tension=int(row[10]),
                        actors=tuple(found.get("actors") or ()),
                        dyads=tuple(found.get("dyads") or ()), modality=row[12],
                    )  # fmt: skip
        except SQLAlchemyError as error:
            raise StorageError(f"cannot read the history: {error}") from error

    def outbox(self, since: datetime, until: datetime) -> list[OutboxCount]:
        """Outbox rows created in [since, until], counted by route, channel, kind and state;
        the tension index's spike posts and easing replies (no event) count as kind ``index``."""
        signal = and_(AlertRow.event_id.is_(None), AlertRow.kind.in_(("post", "reply")))
        kind = case((signal, "index"), else_=AlertRow.kind)
        columns = (AlertRow.route, AlertRow.channel, kind, AlertRow.state)
        query = (
            select(*columns, func.count())
            .where(AlertRow.created_at >= since, AlertRow.created_at <= until)
            .group_by(*columns)
            .order_by(*columns)
        )
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
        except SQLAlchemyError as error:
            raise StorageError(f"cannot read the outbox: {error}") from error
        return [
            OutboxCount(str(route), str(channel), str(kind), str(state), int(count))
            for route, channel, kind, state, count in rows
        ]

    def posted(self, since: datetime, until: datetime) -> set[tuple[int, str]]:
        """(event id, channel) of every post the outbox holds from [since, until]."""
        query = select(AlertRow.event_id, AlertRow.channel).where(
            AlertRow.kind == "post",
            AlertRow.event_id.is_not(None),
            AlertRow.created_at >= since,
            AlertRow.created_at <= until,
        )
        try:
            with self.engine.connect() as connection:
                return {(int(row[0] or 0), str(row[1])) for row in connection.execute(query)}
        except SQLAlchemyError as error:
            raise StorageError(f"cannot read the outbox: {error}") from error
