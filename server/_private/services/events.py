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


def _read_snapshot(runtime: Runtime, conn: sa.Connection, gid: bytes) -> Snapshot:
    row = read_group_row(conn, gid)
    state = None if row is None else runtime.states.state_at(conn, row, exact=False)
    if row is None or state is None:
        return None
    return (row.entry_cursor, row.seq), state


class _Reads:
    """The watchers' reads of one process, run together: while one transaction reads the
    groups asked for, the groups asked for meanwhile wait for the next, which starts as soon
    as it ends. A watcher waits no longer than one read, and however many groups are
    watched, a poll costs a few transactions (each a pool checkout and a round trip on
    PostgreSQL), not one per group."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.waiting: dict[bytes, list[asyncio.Future[Snapshot]]] = {}
        self.running = False

    async def read(self, gid: bytes) -> Snapshot:
        answer: asyncio.Future[Snapshot] = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(gid, []).append(answer)
        if not self.running:
            self.running = True
            self.runtime.spawn(self._drain())
        return await answer

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting, {}
                gids = list(batch)

                def work(conn: sa.Connection, gids: list[bytes] = gids) -> list[Snapshot]:
                    return [_read_snapshot(self.runtime, conn, gid) for gid in gids]

                try:
                    found = await self.runtime.db.read(work)
                except Exception as e:
                    for answers in batch.values():
                        for answer in answers:
                            if not answer.done():
                                answer.set_exception(e)
                    continue
                for snapshot, answers in zip(found, batch.values(), strict=True):
                    for answer in answers:
                        if not answer.done():
                            answer.set_result(snapshot)
        finally:
            self.running = False


async def _snapshot(runtime: Runtime, gid: bytes) -> Snapshot:
    reads = runtime.event_reads
    if not isinstance(reads, _Reads):
        reads = runtime.event_reads = _Reads(runtime)
    return await reads.read(gid)


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
