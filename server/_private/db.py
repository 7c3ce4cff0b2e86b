"""Database engines and transactions, one code path for SQLite and PostgreSQL.

SQLite is opened in WAL mode with `synchronous=FULL`, so a transaction that has
committed survives a power loss, not only a process kill; `secure_delete=ON`
overwrites deleted content (retracted ciphertext) with zeros. Writes use
`BEGIN IMMEDIATE`, which takes SQLite's write lock at the start of the
transaction: a writer never reads a head that another writer then changes
underneath it. In one process, writers also queue on an asyncio lock so they
wait in the event loop rather than in SQLite's busy handler.

On PostgreSQL (READ COMMITTED), writers that must see the current log head
take the group row's lock with `UPDATE groups … RETURNING`; the unique
constraints decide every race between processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .settings import Settings

_WRITE_OPTION = "chatham_write"


class Database:
    """An async engine plus the knowledge of which dialect it speaks."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.sqlalchemy_url
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine = _make_engine(settings, self.url)
        # In-process serialisation of SQLite writers (see the module docstring).
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction (a consistent snapshot on SQLite; READ COMMITTED on PostgreSQL)."""
        async with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; committed on normal exit, rolled back on an exception."""
        if self._write_lock is None:
            async with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        async with self._write_lock, self.engine.connect() as conn:
            await conn.execution_options(**{_WRITE_OPTION: True})
            async with conn.begin():
                yield conn

    @contextlib.asynccontextmanager
    async def migration_connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection for Alembic, which begins and commits its own transaction."""
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                await conn.execution_options(**{_WRITE_OPTION: True})
            yield conn

    @contextlib.asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection outside any transaction, for VACUUM and checkpoints."""
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()


def _make_engine(settings: Settings, url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            directory = os.path.dirname(path) or "."
            os.makedirs(directory, mode=0o700, exist_ok=True)
            # Create the file owner-only; SQLite gives its -wal and -shm files the same mode.
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    kwargs: dict[str, Any] = {"pool_size": 10, "max_overflow": 10, "pool_pre_ping": True}
    return create_async_engine(url, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            # FULL: the WAL is fsynced at every commit, so a commit survives power loss.
            "PRAGMA synchronous=FULL",
            "PRAGMA secure_delete=ON",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
