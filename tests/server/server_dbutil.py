"""Direct database reads for tests that check what is at rest (same engine code as the server)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from chatham.server import Settings
from chatham.server._private.db import Database

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
