"""A member's new device used first through the web app, without a browser: unlocking it
takes what the member's other device handed over, as the CLI's first command does, and a
group that could not come yet is named on the page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatham.client import Account, Home
from chatham.client.web import Desk, Door, create_app
from litestar.testing import TestClient

from tests.support.client_fixtures import Tamper, form_group

PASS = "laptop passphrase"
PORT = 48124

WebApp = Callable[[Path, httpx.Client], tuple[TestClient[Any], str]]


@pytest.fixture
def locked_web() -> Iterator[WebApp]:
    """web(home, http): `chatham web` started on a home nothing has opened yet (locked, with
    no unlock session), signed in, and its CSRF token."""
    made: list[tuple[Desk, TestClient[Any]]] = []

    def make(home: Path, http: httpx.Client) -> tuple[TestClient[Any], str]:
        desk = Desk(Home(home), http=http)
        door = Door(PORT)
        app = create_app(desk, door)
        desk.on_unlock.clear()  # no live-update thread: the test reads the pages itself
        client: TestClient[Any] = TestClient(app, base_url=f"http://127.0.0.1:{PORT}")  # type: ignore[arg-type]
        client.__enter__()
        made.append((desk, client))
        launch = door.launch_url().removeprefix(str(client.base_url))
        assert client.get(launch).status_code == 200
        assert desk.state == "locked"
        return client, door.csrf

    yield make
    for desk, client in made:
        client.__exit__(None, None, None)
        desk.close_accounts()


def linked_home(sam: Account, home: Path, http: httpx.Client) -> None:
    """Sam links a new device at `home` and confirms it; nothing opens that home after."""
    words = Account.add_device(sam.link_device().line, home, passphrase=PASS, http=http)
    sam.confirm_device(words)


def test_a_new_device_first_unlocked_in_the_web_app_shows_the_groups_handed_over(
    person: Callable[..., Account], server: httpx.Client, tmp_path: Path, locked_web: WebApp
) -> None:
    dana, sam = person("Dana"), person("Sam")
    gd, _gs = form_group(dana, sam)
    gd.post(b"written before the laptop")
    home = tmp_path / "laptop"
    linked_home(sam, home, server)
    web, csrf = locked_web(home, server)
    r = web.post("/unlock", data={"csrf": csrf, "passphrase": PASS}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/")
    page = web.get("/").text
    assert "<h1>Thursday Forum</h1>" in page
    assert "waiting for the link" not in page
    assert "Not here yet" not in page
    with Account.open(home, passphrase=PASS, http=server) as laptop:
        assert laptop.member_id == sam.member_id
        assert [g.name for g in laptop.groups()] == ["Thursday Forum"]


def test_a_group_that_could_not_come_yet_is_named_on_the_page_until_it_does(
    person: Callable[..., Account],
    server: httpx.Client,
    tamper: Tamper,
    tampered_http: httpx.Client,
    tmp_path: Path,
    locked_web: WebApp,
) -> None:
    dana, sam = person("Dana"), person("Sam")
    form_group(dana, sam)
    home = tmp_path / "laptop"
    linked_home(sam, home, server)

    def log_down(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/log"):
            return httpx.Response(503, json={"code": "unavailable", "detail": "down"})
        return response

    tamper.raw_hooks.append(log_down)
    web, csrf = locked_web(home, tampered_http)
    r = web.post("/unlock", data={"csrf": csrf, "passphrase": PASS}, follow_redirects=False)
    assert r.status_code == 303
    page = web.get("/").text  # no group here yet: the page to join one, which says why
    assert "Not here yet: Thursday Forum, from your other device." in page
    assert "the next time you unlock Chatham" in page
    assert "chatham " not in page.split("Not here yet", 1)[1].split("</p>", 1)[0]
    tamper.clear()
    web.post("/lock", data={"csrf": csrf})
    web.post("/unlock", data={"csrf": csrf, "passphrase": PASS})
    page = web.get("/").text
    assert "<h1>Thursday Forum</h1>" in page
    assert "Not here yet" not in page
