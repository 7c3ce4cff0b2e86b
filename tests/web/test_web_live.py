"""What the live updates tell the open pages about locking and unlocking.

A page reloads when it hears "locked" (app.js), so only a lock may say it: unlocking, in
this tab or another, leaves every open page as it is."""

from __future__ import annotations

import asyncio
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
