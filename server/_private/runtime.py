"""The per-process objects every request needs, for the life of the process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from .hub import Hub
from .inflight import InFlight
from .ratelimit import Limits
from .rosters import StateCache
from .settings import Settings
from .storage.db import Database


@dataclass
class CachedToken:
    """What a bearer token names, remembered until it expires (tokens are never revoked early,
    only deleted once expired, so remembering one changes nothing a request may do)."""

    device_id: bytes | None
    group_id: bytes | None
    invite_id: bytes | None
    expires: int


@dataclass
class Runtime:
    """One server process's state: settings, database, caches, limits, background tasks.

    Handlers receive it as the dependency named `services` (`guards.ServicesDep`);
    nothing in it is shared with other processes (docs/operations.md).
    """

    settings: Settings
    db: Database
    states: StateCache = field(init=False)
    hub: Hub = field(init=False)
    limiter: Limits = field(init=False)
    inflight: InFlight = field(default_factory=InFlight)
    large_pages: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    """Entry pages read outside the event loop (large ones, or a cold roster) two at a time."""
    tokens: dict[bytes, CachedToken] = field(default_factory=dict)
    server_id: bytes = b""
    """This server's identity (stored in its database): every login signature names it, so a
    login made for one server is useless at any other (docs/protocol.md §11)."""
    scrub_pending: bool = False
    """A scrub is scheduled and has not started: another retraction needs none of its own."""
    event_reads: object = None
    """The event watchers' batched reads (`services.events`), made when first needed."""
    closing: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """What to close, besides the tasks and the database, when the process stops."""
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        # Buckets are shared through the database whenever another process may serve too.
        shared = not self.db.is_sqlite or self.settings.workers > 1
        self.limiter = Limits(self.settings.clock, self.db if shared else None)
        self.states = StateCache(self.settings.roster_cache)
        s = self.settings
        self.hub = Hub(s.events_per_device, s.events_max_streams, s.events_poll)
        if self.db.is_sqlite:
            self.db.on_failed_commit = self.states.clear

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background task, keeping a reference so it is not collected mid-flight."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel the background tasks and close the database."""
        for close in self.closing:
            with contextlib.suppress(Exception):
                await close()
        self.hub.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.db.dispose()
