"""Shared pieces of the client tests: the real server app in-process, and members in separate homes.

`server` is `litestar.testing.TestClient(create_app(...))`, which is an
httpx.Client, so the client library runs against the real server with no
socket. Members made by `person` skip the keystore's Argon2id (tests of the
keystore and unlock sessions make real ones): each gets fresh keys and a home
of its own under tmp_path. `tamper` makes the server malicious for whoever talks
to it through `tampered_http`: hooks rewrite its answers.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from chatham.client import Account, Group, Home
from chatham.crypto import Secrets
from chatham.server import Settings, create_app
from litestar.testing import TestClient

SERVER_URL = "http://testserver.local"


@contextlib.contextmanager
def open_server(data_dir: Path) -> Iterator[TestClient]:  # type: ignore[type-arg]
    """The real server app in-process, its database under `data_dir`."""
    app = create_app(Settings(data_dir=data_dir, open_registration=True))
    with TestClient(app, base_url=SERVER_URL) as client:
        yield client


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with open_server(tmp_path / "server") as client:
        yield client


Hook = Callable[[httpx.Request, dict[str, Any]], dict[str, Any] | None]


class Tamper(httpx.BaseTransport):
    """Passes requests to the real app; hooks may rewrite decoded msgpack/JSON bodies."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.hooks: list[tuple[str, str, Hook]] = []
        self.before: list[tuple[str, str, Callable[[], None]]] = []
        """One-shot actions run before the next matching request reaches the server: what
        other clients do while this one's request is on its way (a race the server orders)."""
        self.raw_hooks: list[Callable[[httpx.Request, httpx.Response], httpx.Response]] = []
        self.served: dict[bytes, Any] = {}
        """Entry items a hook rewrote, by id: asked for one by one, the server answers the
        same (a hostile server is consistent: its list and its single entries agree)."""

    def on(self, method: str, path_suffix: str, hook: Hook) -> None:
        self.hooks.append((method, path_suffix, hook))

    def race(self, method: str, path_suffix: str, action: Callable[[], None]) -> None:
        """Run `action` once, just before this client's next `method` request to a path
        ending in `path_suffix` reaches the server."""
        self.before.append((method, path_suffix, action))

    def clear(self) -> None:
        self.hooks.clear()
        self.before.clear()
        self.raw_hooks.clear()
        self.served.clear()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.rstrip("/").split("/")
        if request.method == "GET" and len(parts) >= 2 and parts[-2] == "entries":
            eid = base64.urlsafe_b64decode(parts[-1] + "=" * (-len(parts[-1]) % 4))
            if eid in self.served:
                return self._answer(request, self.served[eid])
        for armed in list(self.before):
            method, suffix, action = armed
            if request.method == method and request.url.path.endswith(suffix):
                self.before.remove(armed)
                action()
        resp = self.inner.handle_request(request)
        resp.read()
        for method, suffix, hook in self.hooks:
            if request.method == method and request.url.path.endswith(suffix):
                resp = self._rewrite(request, resp, hook)
                if suffix == "/entries" and resp.status_code == 200:
                    self._remember(resp)
        for raw in self.raw_hooks:
            resp = raw(request, resp)
        return resp

    def _remember(self, resp: httpx.Response) -> None:
        msgpack = resp.headers.get("content-type", "").startswith("application/msgpack")
        page = (msgspec.msgpack if msgpack else msgspec.json).decode(resp.content)
        for item in page.get("entries", []):
            eid = item["entry_id"]
            key = eid if isinstance(eid, bytes) else base64.b64decode(eid)
            self.served[key] = item

    @staticmethod
    def _answer(request: httpx.Request, item: Any) -> httpx.Response:
        if request.headers.get("accept") == "application/msgpack":
            content = msgspec.msgpack.encode(item)
            return httpx.Response(
                200, content=content, headers={"content-type": "application/msgpack"}
            )
        return httpx.Response(
            200, content=msgspec.json.encode(item), headers={"content-type": "application/json"}
        )

    @staticmethod
    def _rewrite(request: httpx.Request, resp: httpx.Response, hook: Hook) -> httpx.Response:
        ctype = resp.headers.get("content-type", "")
        msgpack = ctype.startswith("application/msgpack")
        body = (msgspec.msgpack if msgpack else msgspec.json).decode(resp.content)
        new = hook(request, body)
        if new is None:
            new = body
        content = (msgspec.msgpack if msgpack else msgspec.json).encode(new)
        headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
        return httpx.Response(resp.status_code, headers=headers, content=content)


@pytest.fixture
def tamper(server: httpx.Client) -> Tamper:
    """The transport of a malicious server: the real app, with answers hooks rewrite."""
    return Tamper(server._transport)


@pytest.fixture
def tampered_http(tamper: Tamper) -> Iterator[httpx.Client]:
    """A client to the app through `tamper`, for the member the server attacks."""
    with httpx.Client(transport=tamper, base_url=SERVER_URL) as client:
        yield client


Person = Callable[..., Account]


@pytest.fixture
def person(tmp_path: Path, server: httpx.Client) -> Iterator[Person]:
    """person(name, http=..., clock=...): a member in a new home (a name may repeat)."""
    with people(tmp_path, server) as make:
        yield make


@contextlib.contextmanager
def people(root: Path, server: httpx.Client) -> Iterator[Person]:
    """A `person` maker whose members live under `root`; every account is closed at the end."""
    made: list[Account] = []

    def make(
        name: str, http: httpx.Client | None = None, clock: Callable[[], float] | None = None
    ) -> Account:
        home = Home(root / f"home-{name.lower()}-{len(made)}")
        j = Account(
            home,
            Secrets.generate(created=int(time.time())),
            http=http or server,
            clock=clock or time.time,
        )
        j.set_name(name)
        made.append(j)
        return j

    try:
        yield make
    finally:
        for j in made:
            j.close()


def form_group(leader: Account, *members: Account, history: str = "from-join") -> list[Group]:
    """The leader founds a group and adds each member (invite, join, approve, sync)."""
    g = leader.create_group("Thursday Forum", SERVER_URL, history=history)  # type: ignore[arg-type]
    groups = [g, *admit(g, *members)]
    for x in groups:
        x.sync()
    return groups


def admit(g: Group, *members: Account) -> list[Group]:
    """Each member joins `g` by an invite of its own, is approved there, and syncs once;
    their groups, in order."""
    joined: list[Group] = []
    for m in members:
        mg = m.join(g.invite().link)
        request = next(r for r in g.join_requests() if r.member == m.member_id)
        g.approve(request, name=m.name or "Someone", fingerprint=m.fingerprint)
        mg.sync()
        joined.append(mg)
    return joined


@pytest.fixture
def group_of() -> Callable[..., list[Group]]:
    return form_group
