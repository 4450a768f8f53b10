"""Shared fixtures: settings, real databases (SQLite, and PostgreSQL when its URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tensiond.config.load import settings_from_mapping
from tensiond.config.schema import Settings
from tensiond.storage.engine import make_engine, migrate
from tensiond.storage.repository import Repository

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("TENSIOND_TEST_POSTGRES_URL", "")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_settings(tmp_path: Path, **sections: Any) -> Settings:
    """Settings from a mapping, with the state directory in ``tmp_path``."""
    data = {"state_dir": str(tmp_path / "state"), **sections}
    return settings_from_mapping(data, "test.yaml", ROOT / "config")


@pytest.fixture
def settings_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    return lambda **sections: make_settings(tmp_path, **sections)


def _postgres_schema_url() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each engine (PostgreSQL skipped when its URL is unset)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("TENSIOND_TEST_POSTGRES_URL is not set")
    yield from _postgres_schema_url()


@pytest.fixture
def repository(database_url: str) -> Iterator[Repository]:
    from tensiond.storage.engine import database_url as normalise

    engine = make_engine(normalise(database_url, Path(".")))
    migrate(engine)
    yield Repository(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def classifier():  # type: ignore[no-untyped-def]
    """The real model, loaded once for the whole session."""
    from tensiond.classify.model import Classifier
    from tensiond.config.load import default_settings

    return Classifier.load(default_settings())
