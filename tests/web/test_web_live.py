"""What the live updates tell the open pages about locking and unlocking.

A page reloads when it hears "locked" (app.js), so only a lock may say it: unlocking, in
this tab or another, leaves every open page as it is."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from chatham.client import Account
from chatham.client.web import Desk, Door, create_app

from tests.support.client_fixtures import Person

PORT = 48124


async def _heard(q: asyncio.Queue[dict[str, Any]], seconds: float) -> list[str]:
    """The types of the events an open page hears within `seconds`."""
    heard: list[str] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            heard.append((await asyncio.wait_for(q.get(), left))["type"])
        except TimeoutError:
            break
    return heard


def test_unlocking_leaves_open_pages_alone_and_locking_sends_them_to_the_unlock_form(
    person: Person,
) -> None:
    dana: Account = person("Dana")
    desk = Desk(dana.home)
    create_app(desk, Door(PORT))
    [stop] = desk.on_lock
    live = stop.__self__  # type: ignore[attr-defined]

    async def pages() -> tuple[list[str], list[str], list[str]]:
        page = live.hub.subscribe()
        desk._open(dana._secrets)  # the passphrase typed in another tab
        on_unlock = await _heard(page, 0.5)
        desk._open(dana._secrets)  # and once more, with the watcher already running
        on_second_unlock = await _heard(page, 0.5)
        desk.lock()
        on_lock = await _heard(page, 0.5)
        return on_unlock, on_second_unlock, on_lock

    try:
        on_unlock, on_second_unlock, on_lock = asyncio.run(pages())
    finally:
        desk.lock()
    assert "locked" not in on_unlock
    assert "locked" not in on_second_unlock
    assert on_lock == ["locked"]


def test_a_page_that_hears_locked_finds_the_app_locked(person: Person) -> None:
    """Even when the lock waits for a sync in progress: a page reloading on "locked" must
    get the unlock form, never the group's pages again."""
    dana: Account = person("Dana")
    desk = Desk(dana.home)
    create_app(desk, Door(PORT))
    [stop] = desk.on_lock
    live = stop.__self__  # type: ignore[attr-defined]
    desk._open(dana._secrets)

    async def pages() -> list[tuple[str, bool]]:
        page = live.hub.subscribe()
        seen: list[tuple[str, bool]] = []  # (what the page heard, whether the app was open)
        desk.mutex.acquire()  # a sync in progress holds the desk
        locking = threading.Thread(target=desk.lock)
        locking.start()
        try:
            # What a page loading now would be shown (pages run holding the desk too).
            seen += [(kind, desk.state == "open") for kind in await _heard(page, 1.0)]
        finally:
            desk.mutex.release()
        for kind in await _heard(page, 2.0):
            with desk.mutex:
                seen.append((kind, desk.state == "open"))
        locking.join(timeout=10)
        return seen

    try:
        seen = asyncio.run(pages())
    finally:
        desk.lock()
    assert seen == [("locked", False)]
