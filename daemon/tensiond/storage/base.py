"""What every store shares: one engine, short transactions, errors as StorageError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tensiond.exceptions import StorageError


class Store:
    """A store over one engine: SQLite (``BEGIN IMMEDIATE``) or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """One short transaction; any database error becomes a :class:`StorageError`."""
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                yield session
        except SQLAlchemyError as error:
            raise StorageError(f"database error: {type(error).__name__}: {error}") from error

    def _insert(self, table: Any) -> Any:
        """An INSERT that can say ``on_conflict_do_nothing`` / ``_do_update`` on either engine."""
        return pg_insert(table) if self._postgres else sqlite_insert(table)

    def _lockable(self, statement: Any) -> Any:
        """Claim rows another replica cannot claim at the same time (PostgreSQL)."""
        return statement.with_for_update(skip_locked=True) if self._postgres else statement
