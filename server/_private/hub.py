"""Change notification for server-sent events: one watcher per group wakes all its streams.

A stream subscribes to its group. The group's watcher, one task running while the group
has streams in this process, reads the group's position and roster every `events_poll`
seconds (how it learns of writes committed by other processes sharing the database), or
at once when a writer in this process calls `notify`, and wakes every stream when the
position moved. Streams never read the database themselves: a thousand streams on one
group cost one read per poll, not a thousand.

Streams are capped: `events_per_device` per device (429) and `events_max_streams` per
process (503), so a device cannot hold the process's streams, nor all devices its memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from chatham.crypto import GroupState

from .errors import ErrorCode, ServiceError

log = logging.getLogger("chatham.server")

Position = tuple[int, int]
"""(entry cursor, log seq)."""
Snapshot = tuple[Position, GroupState] | None
"""A group's position and verified state, or None once the group is gone."""
Reader = Callable[[], Awaitable[Snapshot]]


@dataclass(eq=False)
class Watch:
    """One group's watcher and the streams it wakes."""

    streams: set[asyncio.Event] = field(default_factory=set)
    snapshot: Snapshot = None
    ready: bool = False
    """Whether `snapshot` has been read once."""
    kick: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@dataclass(eq=False)
class Subscription:
    """One stream's place: its wake-up event, its group's watch; `release` frees it (once)."""

    hub: Hub
    group: bytes
    device: bytes
    watch: Watch
    wake: asyncio.Event
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.hub._unsubscribe(self)


class Hub:
    """Who is waiting for which group, in this process, and the watchers that wake them."""

    def __init__(self, per_device: int, most: int, poll: float) -> None:
        self._per_device = per_device
        self._most = most
        self._poll = poll
        self._watches: dict[bytes, Watch] = {}
        self._devices: dict[bytes, int] = {}
        self._count = 0

    def notify(self, group_id: bytes) -> None:
        """A write in this process moved the group: its watcher reads it now."""
        watch = self._watches.get(group_id)
        if watch is not None:
            watch.kick.set()

    def subscribe(self, group_id: bytes, device: bytes, read: Reader) -> Subscription:
        """A place for one stream of `device` on the group (429 or 503 past the caps); `read`
        gives the group's snapshot and is used by the group's watcher only."""
        if self._devices.get(device, 0) >= self._per_device:
            raise ServiceError(
                ErrorCode.RATE_LIMITED,
                f"at most {self._per_device} event streams per device; close one first",
                retry_after=60,
            )
        if self._count >= self._most:
            raise ServiceError(
                ErrorCode.UNAVAILABLE, "this server holds all the event streams it can; retry later"
            )
        watch = self._watches.get(group_id)
        if watch is None:
            watch = self._watches[group_id] = Watch()
            watch.task = asyncio.ensure_future(self._run(watch, read))
        wake = asyncio.Event()
        if watch.ready:
            wake.set()
        watch.streams.add(wake)
        self._devices[device] = self._devices.get(device, 0) + 1
        self._count += 1
        return Subscription(self, group_id, device, watch, wake)

    def _unsubscribe(self, sub: Subscription) -> None:
        sub.watch.streams.discard(sub.wake)
        self._count -= 1
        left = self._devices.get(sub.device, 0) - 1
        if left > 0:
            self._devices[sub.device] = left
        else:
            self._devices.pop(sub.device, None)
        if not sub.watch.streams and self._watches.get(sub.group) is sub.watch:
            del self._watches[sub.group]
            if sub.watch.task is not None:
                sub.watch.task.cancel()

    def streams(self) -> int:
        return self._count

    def watchers(self) -> int:
        return len(self._watches)

    async def _run(self, watch: Watch, read: Reader) -> None:
        while True:
            watch.kick.clear()
            try:
                snapshot = await read()
            except Exception as e:  # keep watching; the next poll retries
                log.warning("event watcher read failed: %s", type(e).__name__)
            else:
                moved = snapshot is None or watch.snapshot is None
                moved = moved or snapshot[0] != watch.snapshot[0]  # type: ignore[index]
                if not watch.ready or moved:
                    watch.snapshot, watch.ready = snapshot, True
                    for wake in watch.streams:
                        wake.set()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(watch.kick.wait(), self._poll)

    def close(self) -> None:
        for watch in self._watches.values():
            if watch.task is not None:
                watch.task.cancel()
        self._watches.clear()
