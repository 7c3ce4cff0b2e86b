"""Change notification: a member learns "the group changed: cursor N, log seq M" and no more.

The stream yields the current position at once, then each new one whenever the
entry cursor or log seq moves (woken by `Hub.notify` in this process, and by
polling the group row every `events_poll` seconds for writes made by other
processes), and `None` after `events_keepalive` idle seconds. It ends when the
token expires, after `events_max_seconds`, or when the device stops being an
active member; the client reconnects and resumes from its own cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import sqlalchemy as sa

from ..rosters import current_state
from ..runtime import Runtime
from ..storage.groups import read_group_row
from .access import require_active

Position = tuple[int, int]
"""(entry cursor, log seq)."""


async def _position(runtime: Runtime, gid: bytes, device: bytes) -> Position | None:
    def work(conn: sa.Connection) -> Position | None:
        row = read_group_row(conn, gid)
        state = None if row is None else runtime.states.state_at(conn, row, exact=False)
        if row is None or state is None or not state.is_active_device(device):
            return None
        return row.entry_cursor, row.seq

    return await runtime.db.read(work)


async def watch(
    runtime: Runtime, gid: bytes, device: bytes, token_expires: int
) -> AsyncIterator[Position | None]:
    """For an active member (else 403 now): the group's positions, `None` for a keepalive."""
    require_active(await runtime.db.read(lambda c: current_state(runtime.states, c, gid)), device)
    return _positions(runtime, gid, device, token_expires)


async def _positions(
    runtime: Runtime, gid: bytes, device: bytes, token_expires: int
) -> AsyncIterator[Position | None]:
    settings = runtime.settings
    wake = runtime.hub.subscribe(gid)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(
        settings.events_max_seconds, max(0, token_expires - settings.now())
    )
    last: Position | None = None
    idle_since = loop.time()
    try:
        while loop.time() < deadline:
            wake.clear()
            position = await _position(runtime, gid, device)
            if position is None:
                return
            if position != last:
                last = position
                idle_since = loop.time()
                yield position
            elif loop.time() - idle_since >= settings.events_keepalive:
                idle_since = loop.time()
                yield None
            timeout = max(0.0, min(settings.events_poll, deadline - loop.time()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)
    finally:
        runtime.hub.unsubscribe(gid, wake)
