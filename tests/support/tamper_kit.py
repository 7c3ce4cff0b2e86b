"""The malicious-server kit: the real app behind a transport that rewrites its answers.

`world` gives an honest leader (Alice, talking to the server directly), a
victim (Bob, whose every response passes through `world.tamper`), and the
server's database file for direct tampering. Each attack test then checks
three things: the specific error, that no plaintext was shown, and that Bob's
local store is exactly as it was before the attack.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatham.client import Account, Group

from tests.support.client_fixtures import Tamper, form_group, person, server, tamper, tampered_http

__all__ = ["person", "server", "tamper", "tampered_http"]


@dataclass
class World:
    alice: Account
    bob: Account
    carol: Account
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


def store_snapshot(j: Account) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a member's local store."""
    db = j._store.db
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {
        t: sorted(tuple(r) for r in db.execute(f"SELECT * FROM {t}"))
        for t in tables
        if t != "sqlite_sequence"
    }


@pytest.fixture
def world(
    tmp_path: Path, person: Callable[..., Account], tamper: Tamper, tampered_http: httpx.Client
) -> World:
    alice, bob, carol = person("Alice"), person("Bob", http=tampered_http), person("Carol")
    ga, gb, gc = form_group(alice, bob, carol, history="full")
    return World(alice, bob, carol, ga, gb, gc, tamper, tmp_path / "server" / "chatham.sqlite3")
