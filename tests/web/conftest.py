"""Fixtures for the web app's tests (the client's, from client_fixtures.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatham.client import Account, Group
from chatham.client.web import Desk, Door, create_app
from chatham.server.testing import LiveServer, live_server
from litestar.testing import TestClient

from tests.support.cli_member import UNLIMITED, environment
from tests.support.client_fixtures import group_of, person, server, tamper, tampered_http
from tests.support.web_member import Forum, WebOf, browser

__all__ = [
    "Forum",
    "chromium",
    "forum",
    "group_of",
    "live",
    "person",
    "server",
    "tamper",
    "tampered_http",
    "web_of",
]


PORT = 48123


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    """A real `chatham-server` on 127.0.0.1, without rate limits, for the browser tests."""
    with environment(UNLIMITED), live_server(tmp_path / "server") as s:
        yield s


@pytest.fixture
def chromium() -> Iterator[Any]:
    with browser() as b:
        yield b


@pytest.fixture
def web_of() -> Iterator[WebOf]:
    made: list[tuple[Desk, TestClient[Any]]] = []

    def make(member: Account, http: httpx.Client) -> tuple[TestClient[Any], str]:
        desk = Desk(member.home, http=http)
        door = Door(PORT)
        app = create_app(desk, door)
        desk.on_unlock.clear()  # no live-update thread: the test syncs by pressing Sync
        desk._open(Account(member.home, member._secrets, http=http))
        client: TestClient[Any] = TestClient(app, base_url=f"http://127.0.0.1:{PORT}")  # type: ignore[arg-type]
        client.__enter__()
        made.append((desk, client))
        assert (
            client.get(door.launch_url().removeprefix(client.base_url.__str__())).status_code == 200
        )
        return client, door.csrf

    yield make
    for desk, client in made:
        client.__exit__(None, None, None)
        desk.close_accounts()


@pytest.fixture
def forum(
    person: Callable[..., Account],
    group_of: Callable[..., list[Group]],
    server: httpx.Client,
    web_of: WebOf,
) -> Forum:
    dana, sam = person("Dana"), person("Sam")
    gd, gs = group_of(dana, sam)
    return Forum(dana, sam, gd, gs, server, web_of)
