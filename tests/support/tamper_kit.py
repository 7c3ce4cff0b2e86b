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
from chatham import crypto
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


def inject_entry(db_path: Path, group_id: bytes, sealed: crypto.SealedEntry) -> int:
    """The operator stores an entry the server refused, straight into its database; its cursor."""
    h = sealed.entry.header
    with sqlite3.connect(db_path, isolation_level=None) as db:
        (cursor,) = db.execute("SELECT max(cursor) FROM entries").fetchone()
        cursor = (cursor or 0) + 1
        db.execute(
            "INSERT INTO entries (group_id, entry_id, cursor, device_id, device_seq, epoch, "
            "log_seq, header, ct_hash, link, signature, ciphertext, retracted_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                group_id,
                h.entry_id,
                cursor,
                h.device,
                h.seq,
                h.epoch,
                h.log_seq,
                crypto.encode(h),
                crypto.ct_hash(sealed.entry.ct),
                sealed.link,
                sealed.entry.sig,
                sealed.entry.ct,
            ),
        )
        db.execute("UPDATE groups SET entry_cursor = ? WHERE group_id = ?", (cursor, group_id))
        for target in h.retracts:
            db.execute(
                "UPDATE entries SET ciphertext = NULL, retracted_by = ? WHERE entry_id = ?",
                (h.entry_id, target),
            )
    return cursor


def backdated(
    g: Group, body: bytes, at: tuple[int, bytes], retracts: list[bytes] | None = None
) -> crypto.SealedEntry:
    """The next entry of `g`'s member, sealed as if its log head were still `at` (seq, head):
    what a client that wants an old role back could sign."""
    snap = g._load()
    device = g._account._secrets.device
    head = snap.tracker.head(device.id)
    epoch = snap.state.epoch_at[at[0]]
    return crypto.seal_entry(
        device=device,
        epoch_key=snap.keyring.key(epoch),
        group=g.id_bytes,
        epoch=epoch,
        seq=head.seq + 1 if head else 1,
        prev=head.link if head else bytes(32),
        log_seq=at[0],
        log_head=at[1],
        body=body,
        retracts=retracts or [],
    )
