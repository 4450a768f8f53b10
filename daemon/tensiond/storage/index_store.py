"""Storage for the tension index: each key's running state and its hourly series.

Each call is one short transaction. :meth:`IndexStore.modify` locks the rows it changes
(``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two replicas folding batches
into the same dyad at once both count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, delete, select, tuple_
from sqlalchemy.orm import Session

from tensiond.index.baseline import floor_hour
from tensiond.index.records import Baseline, IndexKey, IndexPoint, KeyState, Scope, Signal
from tensiond.index.update import Change
from tensiond.storage.base import Store
from tensiond.storage.schema import IndexPointRow, IndexStateRow


def _state(row: IndexStateRow) -> KeyState:
    baseline = None
    if row.baseline_at is not None:
        baseline = Baseline(
            median=row.baseline_median or 0.0,
            spread=row.baseline_spread or 0.0,
            samples=row.baseline_samples or 0,
            computed_at=row.baseline_at,
        )
    return KeyState(
        scope=cast(Scope, row.scope), key=row.key, value=row.value, updated_at=row.updated_at,
        first_at=row.first_at, baseline=baseline, spiking=row.spiking, spike_at=row.spike_at,
        peak=row.peak, reference_median=row.reference_median,
        reference_spread=row.reference_spread,
    )  # fmt: skip


def _columns(state: KeyState) -> dict[str, Any]:
    baseline = state.baseline
    return {
        "value": state.value,
        "updated_at": state.updated_at,
        "first_at": state.first_at,
        "baseline_median": baseline.median if baseline else None,
        "baseline_spread": baseline.spread if baseline else None,
        "baseline_samples": baseline.samples if baseline else None,
        "baseline_at": baseline.computed_at if baseline else None,
        "spiking": state.spiking,
        "spike_at": state.spike_at,
        "peak": state.peak,
        "reference_median": state.reference_median,
        "reference_spread": state.reference_spread,
    }


class IndexStore(Store):
    """The index's rows: ``index_states`` (one per key) and ``index_points`` (one per key-hour)."""

    @staticmethod
    def _where_keys(keys: Sequence[IndexKey]) -> Any:
        return tuple_(IndexStateRow.scope, IndexStateRow.key).in_(
            [(key.scope, key.key) for key in keys]
        )

    def states(self, keys: Iterable[IndexKey]) -> dict[IndexKey, KeyState]:
        """The stored state of each of ``keys`` that has one."""
        wanted = list(keys)
        if not wanted:
            return {}
        with self._session() as session:
            rows = session.scalars(select(IndexStateRow).where(self._where_keys(wanted)))
            return {IndexKey(cast(Scope, r.scope), r.key): _state(r) for r in rows}

    def all_states(self, scope: Scope | None = None) -> list[KeyState]:
        """Every key's state (for the CLI and metrics), ordered by scope and key."""
        with self._session() as session:
            query = select(IndexStateRow).order_by(IndexStateRow.scope, IndexStateRow.key)
            if scope:
                query = query.where(IndexStateRow.scope == scope)
            return [_state(row) for row in session.scalars(query)]

    def spiking_keys(self) -> list[IndexKey]:
        with self._session() as session:
            query = select(IndexStateRow.scope, IndexStateRow.key).where(IndexStateRow.spiking)
            return [IndexKey(cast(Scope, scope), key) for scope, key in session.execute(query)]

    def series(self, key: IndexKey, start: datetime, end: datetime) -> list[IndexPoint]:
        """Points of ``key`` in (start, end], preceded by the last one at or before ``start``
        (from which the index decays into the window), in time order."""
        same = and_(IndexPointRow.scope == key.scope, IndexPointRow.key == key.key)
        with self._session() as session:
            before = session.scalars(
                select(IndexPointRow)
                .where(same, IndexPointRow.at <= start)
                .order_by(IndexPointRow.at.desc())
                .limit(1)
            ).all()
            inside = session.scalars(
                select(IndexPointRow)
                .where(same, IndexPointRow.at > start, IndexPointRow.at <= end)
                .order_by(IndexPointRow.at)
            ).all()
            return [IndexPoint(key.scope, key.key, r.at, r.value) for r in [*before, *inside]]

    def modify(self, keys: Sequence[IndexKey], now: datetime, change: Change) -> list[Signal]:
        """Lock the rows of ``keys`` (creating empty ones), let ``change`` compute their next
        states from the locked ones, store those and their points for ``now``'s hour."""
        if not keys:
            return []
        with self._session() as session:
            blank = {"value": 0.0, "updated_at": now, "first_at": now, "spiking": False,
                     "peak": 0.0, "reference_median": 0.0, "reference_spread": 0.0}  # fmt: skip
            session.execute(
                self._insert(IndexStateRow).on_conflict_do_nothing(),
                [{"scope": key.scope, "key": key.key, **blank} for key in keys],
            )
            query = select(IndexStateRow).where(self._where_keys(keys))
            if self._postgres:
                query = query.order_by(IndexStateRow.scope, IndexStateRow.key).with_for_update()
            rows = {(r.scope, r.key): r for r in session.scalars(query)}
            states, signals = change({IndexKey(cast(Scope, s), k): _state(r)
                                      for (s, k), r in rows.items()})  # fmt: skip
            for state in states:
                row = rows[(state.scope, state.key)]
                for name, value in _columns(state).items():
                    setattr(row, name, value)
            self._record_points(session, states, now)
            return signals

    def _record_points(self, session: Session, states: Sequence[KeyState], now: datetime) -> None:
        if not states:
            return
        statement = self._insert(IndexPointRow)
        statement = statement.on_conflict_do_update(
            index_elements=["scope", "key", "hour"],
            set_={"at": statement.excluded.at, "value": statement.excluded.value},
            where=IndexPointRow.at <= statement.excluded.at,
        )
        hour = floor_hour(now)
        session.execute(
            statement,
            [{"scope": s.scope, "key": s.key, "hour": hour, "at": now, "value": s.value}
             for s in states],
        )  # fmt: skip

    def prune(self, before: datetime) -> tuple[int, int]:
        """Delete points older than ``before``, and the state of keys quiet since then (they
        start again cold). Returns (points, states) deleted. A spiking key is kept."""
        with self._session() as session:
            points = session.execute(delete(IndexPointRow).where(IndexPointRow.hour < before))
            quiet = and_(IndexStateRow.updated_at < before, IndexStateRow.spiking.is_(False))
            states = session.execute(delete(IndexStateRow).where(quiet))
            return _count(points), _count(states)


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
