"""Direct database reads for tests that check what is at rest (same engine code as the server)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from chatham.server import Settings
from chatham.server._private.storage.db import Database

T = TypeVar("T")


def run_read(settings: Settings, work: Callable[[sa.Connection], T]) -> T:
    async def run() -> T:
        db = Database(settings)
        try:
            return await db.read(work)
        finally:
            await db.dispose()

    return asyncio.run(run())


def rows(settings: Settings, query: sa.Executable) -> list[Any]:
    return run_read(settings, lambda conn: list(conn.execute(query).all()))


def scalar_rows(settings: Settings, query: sa.Executable) -> list[Any]:
    return [r[0] for r in rows(settings, query)]


class HeldWriter:
    """Keeps the SQLite writer busy in a job of its own, so what is submitted meanwhile
    forms the next batch together: `async with HeldWriter(db): submit…`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.started = threading.Event()
        self.release = threading.Event()
        self.held: asyncio.Future[Any] | None = None

    def _hold(self, conn: sa.Connection) -> None:
        self.started.set()
        self.release.wait(10)

    async def __aenter__(self) -> HeldWriter:
        self.held = asyncio.ensure_future(self.db.batch(self._hold))
        await asyncio.to_thread(self.started.wait, 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        assert self.held is not None
        await self.held

    def waiting(self) -> int:
        """How many jobs wait for the writer (behind the held one)."""
        return self.db._writer._queue.qsize()

    async def until_waiting(self, count: int, task: asyncio.Future[Any]) -> None:
        """Wait (at most 10 s) until `count` jobs wait, or `task` ended before submitting one."""
        for _ in range(10_000):
            if self.waiting() >= count or task.done():
                return
            await asyncio.sleep(0.001)
        raise AssertionError(f"{count} jobs never reached the writer")
