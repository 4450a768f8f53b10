"""The index's storage on real SQLite and real PostgreSQL: rows, hourly points, locking."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from tensiond.config.schema import IndexSettings
from tensiond.index import IndexKey, KeyState, Signal, update_index
from tensiond.index.records import Baseline
from tensiond.storage.engine import database_url as normalise
from tensiond.storage.engine import make_engine, migrate
from tensiond.storage.index_store import IndexStore
from tensiond.storage.schema import Base
from tests.index_history import MemoryIndexStore, noise_poll, polls, spike_poll, story

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DYAD = IndexKey("dyad", "CN-TW")
REGIONS = {"CN": "east_asia", "TW": "east_asia"}.get


@pytest.fixture
def store(database_url: str) -> Iterator[IndexStore]:
    engine = make_engine(normalise(database_url, Path(".")))
    migrate(engine)
    yield IndexStore(engine)
    engine.dispose()


def keep(states: list[KeyState], signals: list[Signal] | None = None):  # type: ignore[no-untyped-def]
    return lambda _locked: (states, signals or [])


def test_migrations_create_the_index_tables_as_the_models_declare(store: IndexStore) -> None:
    inspector = inspect(store.engine)
    for table in (Base.metadata.tables["index_states"], Base.metadata.tables["index_points"]):
        columns = {c["name"]: c["nullable"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name: c.nullable for c in table.columns}, table.name
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes(table.name)}
        assert indexes == {i.name: [c.name for c in i.columns] for i in table.indexes}
        primary = inspector.get_pk_constraint(table.name)["constrained_columns"]
        assert primary == [c.name for c in table.primary_key]


def test_a_state_round_trips_with_aware_datetimes(store: IndexStore) -> None:
    baseline = Baseline(0.7, 0.4, 672, NOW - HOUR)
    state = KeyState("dyad", "CN-TW", 3.25, NOW, NOW - timedelta(days=30), baseline, True,
                     NOW - HOUR, 4.5, 0.6, 0.3)  # fmt: skip
    seen: list[dict[IndexKey, KeyState]] = []

    def change(locked):  # type: ignore[no-untyped-def]
        seen.append(dict(locked))
        return [state], []

    assert store.modify([DYAD], NOW, change) == []
    blank = seen[0][DYAD]
    assert (blank.value, blank.first_at, blank.baseline, blank.spiking) == (0.0, NOW, None, False)
    assert store.states([DYAD, IndexKey("country", "CN")]) == {DYAD: state}
    assert store.states([DYAD])[DYAD].updated_at.tzinfo is not None
    assert store.spiking_keys() == [DYAD]
    assert store.all_states("dyad") == [state] and store.all_states("country") == []


def test_one_point_per_key_and_hour_the_latest_update_wins(store: IndexStore) -> None:
    for minutes, value in ((5, 1.0), (50, 2.0), (65, 3.0)):
        at = NOW + timedelta(minutes=minutes)
        store.modify([DYAD], at, keep([KeyState("dyad", "CN-TW", value, at, NOW)]))
    series = store.series(DYAD, NOW - HOUR, NOW + 2 * HOUR)
    assert [(p.at, p.value) for p in series] == [
        (NOW + timedelta(minutes=50), 2.0), (NOW + timedelta(minutes=65), 3.0)
    ]  # fmt: skip
    late = NOW + timedelta(minutes=30)  # a replica with an older clock does not overwrite
    store.modify([DYAD], late, keep([KeyState("dyad", "CN-TW", 9.0, late, NOW)]))
    assert store.series(DYAD, NOW, NOW + HOUR)[0].value == 2.0


def test_series_starts_with_the_last_point_before_the_window(store: IndexStore) -> None:
    for hours in (0, 5, 10, 20):
        at = NOW + hours * HOUR
        store.modify([DYAD], at, keep([KeyState("dyad", "CN-TW", float(hours), at, NOW)]))
    series = store.series(DYAD, NOW + 7 * HOUR, NOW + 12 * HOUR)
    assert [point.value for point in series] == [5.0, 10.0]
    assert store.series(IndexKey("country", "CN"), NOW, NOW + 30 * HOUR) == []


def test_prune_drops_old_points_and_quiet_keys_but_not_spiking_ones(store: IndexStore) -> None:
    old, recent = NOW - timedelta(days=40), NOW - HOUR
    spiking = KeyState("country", "KP", 5.0, old, old, spiking=True, spike_at=old)
    store.modify([IndexKey("country", "KP")], old, keep([spiking]))
    store.modify([IndexKey("country", "CN")], old, keep([KeyState("country", "CN", 1.0, old, old)]))
    store.modify([DYAD], recent, keep([KeyState("dyad", "CN-TW", 1.0, recent, old)]))
    assert store.prune(NOW - timedelta(days=30)) == (2, 1)
    assert set(store.states([IndexKey("country", "KP"), IndexKey("country", "CN"), DYAD])) == {
        IndexKey("country", "KP"), DYAD
    }  # fmt: skip


def test_an_injected_crisis_spikes_and_eases_as_with_the_in_memory_store(
    store: IndexStore,
) -> None:
    """Three weeks of noise polled every two hours, then a crisis; the same run in memory."""
    settings = IndexSettings.model_validate({"baseline_window": "14d", "min_history": "7d"})
    start, interval = NOW - timedelta(days=25), 2 * HOUR
    crisis = start + timedelta(days=21)
    memory = MemoryIndexStore()
    results: dict[str, list[Signal]] = {"real": [], "memory": []}
    rng = random.Random(11)
    for at in polls(start, 25, interval):
        batch = noise_poll(rng, at, ("CN", "TW"), 4, interval)
        if at == crisis:
            batch += spike_poll(at, ("CN", "TW"))
        results["real"] += update_index(store, batch, settings, at, region_of=REGIONS)
        results["memory"] += update_index(memory, batch, settings, at, region_of=REGIONS)
    dyad = [signal for signal in results["real"] if signal.key == "CN-TW"]
    assert [(signal.kind, signal.at == crisis) for signal in dyad] == [
        ("spike", True), ("easing", False)
    ]  # fmt: skip
    assert results["real"] == results["memory"]
    assert store.states([DYAD])[DYAD].value == pytest.approx(memory.rows[DYAD].value)


def test_two_replicas_updating_one_dyad_at_once_both_count(database_url: str) -> None:
    engines = [make_engine(normalise(database_url, Path("."))) for _ in range(2)]
    migrate(engines[0])
    stores = [IndexStore(engine) for engine in engines]
    settings, rounds = IndexSettings(), 15
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def replica(store: IndexStore) -> None:
        try:
            start.wait()
            for _ in range(rounds):
                batch = [story(NOW, "armed_conflict", 80, ("CN", "TW"))]
                update_index(store, batch, settings, NOW, region_of=REGIONS)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=replica, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert stores[0].states([DYAD])[DYAD].value == pytest.approx(2 * rounds * 0.8)
    for engine in engines:
        engine.dispose()
