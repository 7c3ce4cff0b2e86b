"""Change notification for server-sent events: "group G changed", nothing more.

Writers in this process call `notify` after commit, which wakes local streams
at once. Streams also poll the group row every `events_poll` seconds, which is
how they learn about writes committed by other processes sharing the database.
"""

from __future__ import annotations

import asyncio


class Hub:
    """Who is waiting for which group, in this process."""

    def __init__(self) -> None:
        self._waiters: dict[bytes, set[asyncio.Event]] = {}

    def notify(self, group_id: bytes) -> None:
        for ev in self._waiters.get(group_id, ()):
            ev.set()

    def subscribe(self, group_id: bytes) -> asyncio.Event:
        ev = asyncio.Event()
        self._waiters.setdefault(group_id, set()).add(ev)
        return ev

    def unsubscribe(self, group_id: bytes, ev: asyncio.Event) -> None:
        waiters = self._waiters.get(group_id)
        if waiters is not None:
            waiters.discard(ev)
            if not waiters:
                del self._waiters[group_id]

    def subscribers(self) -> int:
        return sum(len(w) for w in self._waiters.values())
