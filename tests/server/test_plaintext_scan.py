"""After a whole session through a real server, the database holds none of the plaintext.

Canary strings go everywhere a member puts words: attested names (founder and
newcomer), entry bodies, an attachment, and an entry that is then retracted.
Every stored byte is then searched: the SQLite files on disk (main file, WAL,
shared memory) or every column of every table on PostgreSQL (read through
SQL, so compressed and out-of-line values are searched decompressed).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from chatham.crypto import (
    Keyring,
    build_add,
    create_group,
    decode_entry,
    open_entry,
    seal_stream,
)
from chatham.server import Settings
from chatham.server._private.storage import schema

from tests.support.server_dbutil import run_read
from tests.support.server_harness import Group, World, b64, b64url, now, unb64
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.slow

CANARY = "CANARY-7f3a9c-plaintext"


def _canaries(tag: str) -> list[bytes]:
    text = f"{CANARY}-{tag}"
    return [text.encode(), text.encode("utf-16-le"), text.lower().encode()]


def _needles() -> list[bytes]:
    # The common prefix catches every canary in every encoding used above.
    return [CANARY.encode(), CANARY.encode("utf-16-le"), CANARY.lower().encode()]


def _scan_files(data_dir: Path) -> list[str]:
    found = []
    for path in sorted(data_dir.glob("chatham.sqlite3*")):
        blob = path.read_bytes()
        found += [f"{path.name}: {n!r}" for n in _needles() if n in blob]
    return found


def _scan_rows(settings: Settings) -> list[str]:
    def scan(conn: sa.Connection) -> list[str]:
        found = []
        for table in schema.metadata.sorted_tables:
            for row in conn.execute(sa.select(table)).all():
                for column, value in zip(table.columns, row, strict=True):
                    blob = value if isinstance(value, bytes) else str(value).encode()
                    if any(n in blob for n in _needles()):
                        found.append(f"{table.name}.{column.name}")
        return found

    return run_read(settings, scan)


def test_no_plaintext_at_rest(server_database: Any, tmp_path: Path) -> None:
    server = ServerProcess(server_database.data_dir, server_database.url).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            world = World(client)
            alice, bob = world.person(), world.person()
            # The founder's attested name.
            new = create_group(alice.secrets, f"{CANARY}-founder", time=now(), card=alice.card)
            r = client.post(
                "/v1/groups",
                json={
                    "ops": [b64(op) for op in new.ops],
                    "lockboxes": [
                        {"device": b64(d), "lockbox": b64(lb)} for d, lb in new.lockboxes.items()
                    ],
                },
                headers=alice.headers,
            )
            assert r.status_code == 201, r.text
            keyring = Keyring()
            keyring.keys[1] = new.key
            group = Group(world, new.state, keyring, r, new.ops, new.lockboxes)
            # The newcomer's attested name, through a real join request.
            invite = group.invite(alice)
            request = invite.request(bob.card, created=now())
            assert (
                client.post(
                    f"{group.path}/join-requests", json={"request": b64(request)}
                ).status_code
                == 201
            )
            pending = build_add(
                group.state,
                group.keyring,
                alice.secrets.device,
                [(bob.card, invite.invite_id, f"{CANARY}-newcomer")],
                time=now(),
            )
            group.append(alice, pending)
            # Entries, one of them retracted.
            bodies = {}
            for tag in ("issue", "note", "commitment"):
                body = b"\n".join(_canaries(tag))
                sealed = group.seal(bob, body)
                group.post_sealed(bob, sealed)
                bodies[sealed.entry.header.entry_id] = body
            gone = group.seal(alice, b"\n".join(_canaries("retracted")))
            group.post_sealed(alice, gone)
            retracting = group.retract(alice, gone.entry.header.entry_id)
            assert retracting.status_code == 201
            bodies[unb64(retracting.json()["entry_id"])] = b"a retraction"
            # An attachment.
            key, att = os.urandom(32), os.urandom(16)
            content = b"\n".join(_canaries("attachment")) * 5000
            pieces = [content[i : i + 10_000] for i in range(0, len(content), 10_000)]
            for i, chunk in enumerate(seal_stream(key, att, pieces)):
                r = client.put(
                    f"{group.path}/attachments/{b64url(att)}/chunks/{i}",
                    content=chunk,
                    headers=bob.headers,
                )
                assert r.status_code == 201, r.text
            # The members can still read everything they wrote (the canaries are really there).
            items = client.get(f"{group.path}/entries", headers=alice.headers).json()["entries"]

            readable = {
                decode_entry(unb64(it["entry"])).header.entry_id: open_entry(
                    decode_entry(unb64(it["entry"])), group.keyring.keys[group.state.epoch]
                )
                for it in items
                if "entry" in it
            }
            assert readable == bodies
    finally:
        server.stop()
    settings = Settings(data_dir=server_database.data_dir, database_url=server_database.url)
    assert _scan_rows(settings) == []
    if server_database.url is None:
        assert _scan_files(server_database.data_dir) == []
        # The scan itself works: a canary written in clear would be found.
        probe = server_database.data_dir / "chatham.sqlite3-probe"
        probe.write_bytes(b"xx" + _canaries("probe")[1] + b"yy")
        assert _scan_files(server_database.data_dir) != []
        probe.unlink()
