"""The malicious-server kit: the real app behind a transport that rewrites its answers.

`world` gives an honest leader (Alice, talking to the server directly), a
victim (Bob, whose every response passes through `world.tamper`), and the
server's database file for direct tampering. Each attack test then checks
three things: the specific error, that no plaintext was shown, and that Bob's
local store is exactly as it was before the attack.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "client"))

from chatham.client import Group, Journal
from client_fixtures import SERVER_URL, form_group, person, server

__all__ = ["person", "server"]

Hook = Callable[[httpx.Request, dict[str, Any]], dict[str, Any] | None]


class Tamper(httpx.BaseTransport):
    """Passes requests to the real app; hooks may rewrite decoded msgpack/JSON bodies."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.hooks: list[tuple[str, str, Hook]] = []
        self.raw_hooks: list[Callable[[httpx.Request, httpx.Response], httpx.Response]] = []

    def on(self, method: str, path_suffix: str, hook: Hook) -> None:
        self.hooks.append((method, path_suffix, hook))

    def clear(self) -> None:
        self.hooks.clear()
        self.raw_hooks.clear()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = self.inner.handle_request(request)
        resp.read()
        for method, suffix, hook in self.hooks:
            if request.method == method and request.url.path.endswith(suffix):
                resp = self._rewrite(request, resp, hook)
        for raw in self.raw_hooks:
            resp = raw(request, resp)
        return resp

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


@dataclass
class World:
    alice: Journal
    bob: Journal
    carol: Journal
    ga: Group
    gb: Group
    gc: Group
    tamper: Tamper
    db_path: Path
    canaries: list[bytes] = field(default_factory=list)

    def post(self, g: Group, text: str) -> str:
        body = text.encode()
        self.canaries.append(body)
        return g.post(body)

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.db_path, isolation_level=None)


def store_snapshot(j: Journal) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a member's local store."""
    db = j._store.db
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {
        t: sorted(tuple(r) for r in db.execute(f"SELECT * FROM {t}"))
        for t in tables
        if t != "sqlite_sequence"
    }


@pytest.fixture
def world(tmp_path: Path, server: httpx.Client, person: Callable[..., Journal]) -> Iterator[World]:
    tamper = Tamper(server._transport)
    victim_http = httpx.Client(transport=tamper, base_url=SERVER_URL)
    alice, bob, carol = person("Alice"), person("Bob", http=victim_http), person("Carol")
    ga, gb, gc = form_group(alice, bob, carol, history="full")
    yield World(alice, bob, carol, ga, gb, gc, tamper, tmp_path / "server" / "chatham.sqlite3")
    victim_http.close()
