"""Live updates: follow the group's event stream on a thread, sync when it says the group
changed, and tell every open page what happened, in words.

The server's stream says only "the group changed" (docs/client.md, `Group.changes`). On
each change the watcher syncs under the desk's lock (desk.py), asks the journal what the
new entries did (`Journal.activity`: "Sam posted an issue"), and publishes one event to
the pages' `/events` streams. A page refreshes what it shows and, if the member allowed
it, the browser shows a notification with the words (the item's title only if they chose
so). While a join request waits, there is no stream yet: the watcher asks every few
seconds whether it was approved.

Sync failures are recorded on the desk (freshness, alarms) and retried with a growing
pause; a lock stops the watcher (closing its account ends the stream it waits on).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .. import ChathamError

if TYPE_CHECKING:
    from .desk import Desk

JOINING_POLL: Final = 4.0
"""Seconds between checks for an approval while a join request waits."""
STREAM_SPAN: Final = 55.0
"""Each event stream is followed this long, then reopened (the lock is checked between)."""
MAX_PAUSE: Final = 60.0


@dataclass
class Hub:
    """Events to every open `/events` stream; `publish` may be called from any thread."""

    _subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = field(
        default_factory=set
    )
    _mutex: threading.Lock = field(default_factory=threading.Lock)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=64)
        with self._mutex:
            self._subscribers.add((asyncio.get_running_loop(), q))
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        with self._mutex:
            self._subscribers = {s for s in self._subscribers if s[1] is not q}

    def publish(self, event: dict[str, Any]) -> None:
        with self._mutex:
            subscribers = list(self._subscribers)
        for loop, q in subscribers:
            with contextlib.suppress(RuntimeError):  # that page's loop has closed
                loop.call_soon_threadsafe(_offer, q, event)


def _offer(q: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    with contextlib.suppress(asyncio.QueueFull):  # a page that stopped reading misses events
        q.put_nowait(event)


@dataclass
class Live:
    """The watcher thread of one desk; started on unlock, stopped on lock."""

    desk: Desk
    hub: Hub = field(default_factory=Hub)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _wake: threading.Event = field(default_factory=threading.Event)
    _seen: dict[str, tuple[int, int]] = field(default_factory=dict)

    def start(self) -> None:
        """On unlock: a new watcher in place of any running one. The open pages are not told
        (a page reloads when it hears "locked")."""
        self._end()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chatham-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """On lock: end the watcher and send every open page to the unlock form."""
        self._end()
        self.hub.publish({"type": "locked"})

    def _end(self) -> None:
        self._stop.set()
        self._wake.set()

    def poke(self) -> None:
        """Look again now (the member switched groups, say)."""
        self._wake.set()

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        stop = self._stop
        pause = 1.0
        first = True
        while not stop.is_set():
            try:
                gid, status = self._current()
                if gid is None:
                    self._pause(JOINING_POLL)
                    continue
                if first or status != "member":
                    if first and status == "member":
                        self._warm(gid)
                    first = False
                    self.sync_and_publish(gid)
                    if status != "member":
                        self._pause(JOINING_POLL if status == "joining" else MAX_PAUSE)
                        continue
                self._follow(gid, stop)
                pause = 1.0
            except ChathamError:
                # Recorded on the desk by its sync; try again after a growing pause.
                self._pause(pause)
                pause = min(pause * 2, MAX_PAUSE)
            except Exception as e:  # a bug must not end live updates silently, or leak
                if stop.is_set() or self.desk.account is None:
                    break  # locking closed the stream under us (it stops the watcher after)
                sys.stderr.write(
                    f"chatham web: live updates: internal error ({type(e).__name__})\n"
                )
                self._pause(MAX_PAUSE)

    def _current(self) -> tuple[str | None, str]:
        desk = self.desk
        with desk.mutex:
            if desk.account is None:
                return None, ""
            try:
                g = desk.account.group()
            except ChathamError:
                return None, ""
            return g.id, g.status

    def _warm(self, gid: str) -> None:
        """Build the journal's view from the local store now, before the first sync, so the
        first page (which waits for the lock) finds it ready."""
        desk = self.desk
        with desk.mutex:
            if desk.account is not None:
                _ = desk.journal(desk.account.group(gid)).view

    def _follow(self, gid: str, stop: threading.Event) -> None:
        watcher = self.desk.watcher
        if watcher is None:
            return
        group = watcher.group(gid)
        for position in group.changes(until=time.monotonic() + STREAM_SPAN):
            if stop.is_set() or self._wake.is_set():
                self._wake.clear()
                return
            # The stream says where the group is now, then on every change: sync when that
            # differs from what the last sync saw (also across reconnects).
            if self._seen.get(gid) != position:
                self.sync_and_publish(gid)
                self._seen[gid] = position

    def sync_and_publish(self, gid: str) -> None:
        """Sync the group now and tell the pages what it brought (also when it failed)."""
        desk = self.desk
        event: dict[str, Any]
        with desk.mutex:
            if desk.account is None:
                return
            group = desk.account.group(gid)
            journal = desk.journal(group)
            before = desk.cursors.get(gid)
            if before is None and group.status == "member":
                before = desk.cursors[gid] = journal.cursor()
            was = group.status
            health = desk.health_of(group)
            alarms_before = health.alarms
            try:
                report = desk.sync(group)
            except ChathamError:
                self.hub.publish({"type": "health", "group": gid})
                raise
            if health.alarms != alarms_before:
                self.hub.publish({"type": "health", "group": gid})
            changed = bool(report.new_entries or report.new_ops or report.retracted)
            if not changed and report.status == was:
                return
            me = desk.account.member_id
            activity = []
            if before is not None and report.new_entries:
                acts = journal.activity(before)
                desk.cursors[gid] = max([before, *(a.cursor for a in acts)])
                activity = [
                    {
                        "text": a.text,
                        "title": a.title,
                        "url": f"/items/{a.item}" if a.item else None,
                        "mine": a.author == me,
                    }
                    for a in acts
                ]
            event = {
                "type": "changed",
                "group": gid,
                "status": report.status,
                "activity": activity,
                "announcements": [
                    {"text": a.text, "mine": a.actor == me} for a in report.announcements
                ],
            }
        self.hub.publish(event)
