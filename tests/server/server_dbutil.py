"""Direct database reads for tests that check what is at rest (same engine code as the server)."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from chatham.server import Settings
from chatham.server._private.db import Database


def rows(settings: Settings, query: sa.Executable) -> list[Any]:
    async def run() -> list[Any]:
        db = Database(settings)
        try:
            async with db.read() as conn:
                return list((await conn.execute(query)).all())
        finally:
            await db.dispose()

    return asyncio.run(run())


def scalar_rows(settings: Settings, query: sa.Executable) -> list[Any]:
    return [r[0] for r in rows(settings, query)]


def execute(settings: Settings, *statements: str) -> None:
    async def run() -> None:
        db = Database(settings)
        try:
            async with db.write() as conn:
                for s in statements:
                    await conn.execute(sa.text(s))
        finally:
            await db.dispose()

    asyncio.run(run())
