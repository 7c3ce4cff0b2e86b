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
        desk._open(Account(dana.home, dana._secrets))  # the passphrase typed in another tab
        on_unlock = await _heard(page, 0.5)
        # and once more, with the watcher already running
        desk._open(Account(dana.home, dana._secrets))
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
    desk._open(Account(dana.home, dana._secrets))

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


def test_a_page_whose_live_updates_connect_after_the_lock_hears_locked(person: Person) -> None:
    """A group page rendered just before a lock (in another tab, or the idle lock) opens its
    live updates only afterwards: it must still hear "locked" and leave the group's text,
    not wait for a lock that has already happened."""
    from types import SimpleNamespace

    from chatham.client.web.pages import home
    from chatham.client.web.pages.base import Web

    dana: Account = person("Dana")
    desk = Desk(dana.home)
    create_app(desk, Door(PORT))
    [stop] = desk.on_lock
    live = stop.__self__  # type: ignore[attr-defined]
    desk._open(Account(dana.home, dana._secrets))
    desk.lock()
    request = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(web=Web(desk, Door(PORT), live)))
    )

    async def first_event() -> str:
        stream = await home.events.fn(request)
        messages = stream.iterator.__aiter__()
        while True:  # the greeting comes first; the next is an event or, 20 s on, a keepalive
            message = await asyncio.wait_for(messages.__anext__(), 2.0)
            text = message.decode() if isinstance(message, bytes) else str(message)
            if "hello" not in text:
                return text

    try:
        heard = asyncio.run(first_event())
    except TimeoutError:
        heard = "nothing"
    assert "event: locked" in heard


def test_the_lock_forgets_the_keys_before_any_page_is_told(person: Person) -> None:
    """When "locked" goes out, the keys are gone already: a page connecting its live
    updates at that moment (which looks without waiting for the desk) finds the app locked,
    never open with the lock already announced."""
    dana: Account = person("Dana")
    desk = Desk(dana.home)
    create_app(desk, Door(PORT))
    [stop] = desk.on_lock
    live = stop.__self__  # type: ignore[attr-defined]
    desk._open(Account(dana.home, dana._secrets))
    told = live.hub.publish
    when_told: list[tuple[str, bool]] = []  # (what the pages were told, whether app was open)

    def publish(event: dict[str, Any]) -> None:
        when_told.append((event["type"], desk.state == "open"))
        told(event)

    live.hub.publish = publish
    try:
        desk.lock()
    finally:
        desk.lock()
    assert when_told[0] == ("locked", False)
