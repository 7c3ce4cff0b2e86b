"""Change notification: a member learns "the group changed: cursor N, log seq M" and no more.

The stream yields the current position at once, then each new one whenever the
entry cursor or log seq moves, and `None` after `events_keepalive` idle seconds. It
is woken by its group's watcher (`hub.Hub`: one read per group per `events_poll`
seconds, or at once after a write in this process), and never reads the database
itself. It ends when the token expires, after `events_max_seconds`, or when the
device stops being an active member; the client reconnects and resumes from its own
cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

import sqlalchemy as sa

from ..hub import Position, Snapshot, Subscription
from ..rosters import current_state
from ..runtime import Runtime
from ..storage.groups import read_group_row
from .access import require_active

__all__ = ["Position", "watch"]


async def _snapshot(runtime: Runtime, gid: bytes) -> Snapshot:
    def work(conn: sa.Connection) -> Snapshot:
        row = read_group_row(conn, gid)
        state = None if row is None else runtime.states.state_at(conn, row, exact=False)
        if row is None or state is None:
            return None
        return (row.entry_cursor, row.seq), state

    return await runtime.db.read(work)


async def watch(
    runtime: Runtime, gid: bytes, device: bytes, token_expires: int
) -> AsyncIterator[Position | None]:
    """For an active member (else 403 now; 429 or 503 past the stream caps): the group's
    positions, `None` for a keepalive."""
    require_active(await runtime.db.read(lambda c: current_state(runtime.states, c, gid)), device)
    sub = runtime.hub.subscribe(gid, device, lambda: _snapshot(runtime, gid))
    stream = _positions(runtime, sub, token_expires)
    # A stream dropped before it ever ran (the client went away first) frees its place too.
    weakref.finalize(stream, sub.release)
    return stream


async def _positions(
    runtime: Runtime, sub: Subscription, token_expires: int
) -> AsyncIterator[Position | None]:
    settings = runtime.settings
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(
        settings.events_max_seconds, max(0, token_expires - settings.now())
    )
    last: Position | None = None
    idle_since = loop.time()
    try:
        while loop.time() < deadline:
            sub.wake.clear()
            if sub.watch.ready:
                snapshot = sub.watch.snapshot
                if snapshot is None or not snapshot[1].is_active_device(sub.device):
                    return
                position = snapshot[0]
                if position != last:
                    last = position
                    idle_since = loop.time()
                    yield position
                elif loop.time() - idle_since >= settings.events_keepalive:
                    idle_since = loop.time()
                    yield None
            quiet = settings.events_keepalive - (loop.time() - idle_since)
            timeout = max(0.0, min(quiet, deadline - loop.time()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(sub.wake.wait(), timeout)
    finally:
        sub.release()
