"""The per-process objects every handler needs, created at startup and closed at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from litestar import Litestar

from .events import Hub
from .groups import StateCache
from .ratelimit import RateLimiter
from .settings import Settings
from .storage import migrate
from .storage import schema as t
from .storage.db import Database

log = logging.getLogger("chatham.server")

PURGE_EVERY = 60.0


@dataclass
class CachedToken:
    device_id: bytes | None
    group_id: bytes | None
    invite_id: bytes | None
    expires: int


@dataclass
class Services:
    settings: Settings
    db: Database
    states: StateCache = field(default_factory=StateCache)
    hub: Hub = field(default_factory=Hub)
    limiter: RateLimiter = field(init=False)
    tokens: dict[bytes, CachedToken] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _vacuum_pending: bool = False

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.clock)
        if self.db.is_sqlite:
            self.db.on_failed_commit = self.states.clear

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background task, keeping a reference so it is not collected mid-flight."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def purge_expired(self) -> None:
        """Delete expired challenges and tokens: nothing is kept longer than it is useful."""
        now = self.settings.now()

        def work(conn: sa.Connection) -> None:
            conn.execute(sa.delete(t.auth_challenges).where(t.auth_challenges.c.expires < now))
            conn.execute(sa.delete(t.tokens).where(t.tokens.c.expires < now))
            conn.execute(
                sa.delete(t.registration_tokens).where(
                    sa.or_(
                        t.registration_tokens.c.expires < now,
                        t.registration_tokens.c.uses_left <= 0,
                    )
                )
            )

        await self.db.write(work)
        for h in [h for h, c in self.tokens.items() if c.expires < now]:
            self.tokens.pop(h, None)

    async def _purge_loop(self) -> None:
        while True:
            await asyncio.sleep(PURGE_EVERY)
            try:
                await self.purge_expired()
            except Exception as e:  # keep serving; the next round retries
                log.warning("purge failed: %s", type(e).__name__)

    def schedule_scrub(self) -> None:
        """After a retraction: make the deleted ciphertext unrecoverable from the database files.

        SQLite's secure_delete has zeroed the freed cells; a TRUNCATE checkpoint then
        copies the zeroed pages into the main file and empties the WAL, which still
        held the old page images. PostgreSQL keeps dead tuples until VACUUM, so we
        vacuum the entries table. Coalesced: one scrub runs at a time.
        """
        if self._vacuum_pending:
            return
        self._vacuum_pending = True
        self.spawn(self._scrub())

    async def _scrub(self) -> None:
        try:
            await asyncio.sleep(0)
            self._vacuum_pending = False
            await scrub(self.db)
        except Exception as e:
            self._vacuum_pending = False
            log.warning("scrub after retraction failed: %s", type(e).__name__)


async def scrub(db: Database) -> None:
    if db.is_sqlite:
        await db.autocommit("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        await db.autocommit("VACUUM entries, attachment_chunks")


@contextlib.asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    db = Database(settings)
    services = Services(settings, db)
    try:
        if settings.migrate_on_start:
            await migrate.upgrade(db)
        await services.purge_expired()
        app.state.services = services
        services.spawn(services._purge_loop())
        yield
    finally:
        for task in list(services._tasks):
            task.cancel()
        for task in list(services._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await db.dispose()
