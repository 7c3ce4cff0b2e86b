"""Entries: posting is checked against the roster and the current epoch; listing; retraction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from chatham.crypto import (
    EntryStub,
    check_entry_public,
    decode_entry,
    decode_stub,
    encode,
)
from litestar.testing import TestClient

from tests.support.server_harness import World, assert_error, b64, b64url, unb64


def test_post_list_fetch(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    sealed = group.seal(bob, b"my issue")
    r = group.post_sealed(bob, sealed)
    assert unb64(r.json()["entry_id"]) == sealed.entry.header.entry_id
    assert r.json()["cursor"] == 1
    group.post_entry(alice, b"note")
    page = group.list_entries(alice).json()
    assert [e["cursor"] for e in page["entries"]] == [1, 2]
    assert page["cursor"] == 2
    assert page["more"] is False
    first = page["entries"][0]
    assert unb64(first["entry"]) == sealed.data
    assert "stub" not in first
    # Every listed entry verifies for a member holding the log.
    for item in page["entries"]:
        check_entry_public(group.state, decode_entry(unb64(item["entry"])))
    r = world.client.get(
        f"{group.path}/entries/{b64url(sealed.entry.header.entry_id)}", headers=alice.headers
    )
    assert r.status_code == 200
    assert unb64(r.json()["entry"]) == sealed.data


def test_list_after_cursor_and_limit(world: World) -> None:
    group, (alice,) = world.group_of()
    for i in range(5):
        group.post_entry(alice, f"entry {i}".encode())
    page = group.list_entries(alice, after=1, limit=2).json()
    assert [e["cursor"] for e in page["entries"]] == [2, 3]
    assert page["cursor"] == 3
    assert page["more"] is True
    page = group.list_entries(alice, after=3).json()
    assert [e["cursor"] for e in page["entries"]] == [4, 5]
    assert page["more"] is False
    page = group.list_entries(alice, after=5).json()
    assert page == {"entries": [], "cursor": 5, "more": False}


def test_list_as_msgpack(world: World) -> None:
    group, (alice,) = world.group_of()
    sealed = group.seal(alice)
    group.post_sealed(alice, sealed)
    r = world.client.get(
        f"{group.path}/entries", headers={**alice.headers, "Accept": "application/msgpack"}
    )
    assert r.headers["content-type"].startswith("application/msgpack")
    page = msgspec.msgpack.decode(r.content)
    assert page["entries"][0]["entry"] == sealed.data


def test_page_limit_is_capped_by_the_server(make_client: Callable[..., TestClient[Any]]) -> None:
    world = World(make_client(page_limit=2))
    group, (alice,) = world.group_of()
    for _ in range(3):
        group.post_entry(alice)
    page = group.list_entries(alice, limit=1000).json()
    assert len(page["entries"]) == 2
    assert page["more"] is True


def test_reposting_the_same_entry_is_idempotent(world: World) -> None:
    group, (alice,) = world.group_of()
    sealed = group.seal(alice)
    first = group.post_sealed(alice, sealed).json()
    r = world.client.post(
        f"{group.path}/entries", json={"entry": b64(sealed.data)}, headers=alice.headers
    )
    assert r.status_code == 201
    assert r.json() == first
    assert len(group.list_entries(alice).json()["entries"]) == 1


def test_two_entries_for_one_sequence_number_conflict(world: World) -> None:
    group, (alice,) = world.group_of()
    group.post_sealed(alice, group.seal(alice, b"one"))
    equivocation = group.seal(alice, b"two", seq=1, prev=bytes(32))
    r = group.post_sealed(alice, equivocation, expect=409)
    assert_error(r, 409, "duplicate_entry")
    assert len(group.list_entries(alice).json()["entries"]) == 1


def test_author_chains_are_enforced(world: World) -> None:
    group, (alice,) = world.group_of()
    # A gap: seq 2 before seq 1.
    r = group.post_sealed(alice, group.seal(alice, seq=2, prev=bytes(32)), expect=409)
    assert_error(r, 409, "chain_gap")
    # seq 1 must link to nothing.
    r = group.post_sealed(alice, group.seal(alice, seq=1, prev=b"\x01" * 32), expect=422)
    assert assert_error(r, 422, "invalid_entry")["check"] == "chain"
    group.post_entry(alice)
    # seq 2 must link to seq 1.
    r = group.post_sealed(alice, group.seal(alice, seq=2, prev=b"\x02" * 32), expect=422)
    assert assert_error(r, 422, "invalid_entry")["check"] == "chain"
    group.post_entry(alice)


def test_entry_under_an_old_epoch_is_stale(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    old = group.seal(bob)
    group.rotate(alice)
    err = assert_error(group.post_sealed(bob, old, expect=409), 409, "stale_epoch")
    assert err["seq"] == group.state.seq
    group.post_entry(bob)  # resealed under the new epoch


def test_entry_claiming_a_wrong_epoch_for_its_head_is_invalid(world: World) -> None:
    group, (alice,) = world.group_of()
    group.rotate(alice)
    # Epoch 2 key, but claims the log head of epoch 1 (seq 1).
    sealed = group.seal(alice, log_seq=1, log_head=group.state.op_hashes[1])
    err = assert_error(group.post_sealed(alice, sealed, expect=422), 422, "invalid_entry")
    assert err["check"] == "epoch"


def test_no_writes_while_a_rotation_is_pending(world: World) -> None:
    group, (_, bob, carol) = world.group_of(3)
    group.leave(carol)
    sealed = group.seal(bob)
    assert_error(group.post_sealed(bob, sealed, expect=409), 409, "rotation_pending")
    group.rotate(bob)  # any active member may rotate while one is pending
    group.post_entry(bob)


def test_entries_are_posted_by_their_author(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    sealed = group.seal(bob)
    r = world.client.post(
        f"{group.path}/entries", json={"entry": b64(sealed.data)}, headers=alice.headers
    )
    assert_error(r, 403, "not_author")


def test_forged_signature_is_refused(world: World) -> None:
    group, (alice,) = world.group_of()
    sealed = group.seal(alice)
    entry = sealed.entry
    forged = encode(type(entry)(entry.header, entry.ct, bytes(64)))
    r = world.client.post(
        f"{group.path}/entries", json={"entry": b64(forged)}, headers=alice.headers
    )
    assert assert_error(r, 422, "invalid_entry")["check"] == "signature"


def test_tampered_ciphertext_is_refused(world: World) -> None:
    group, (alice,) = world.group_of()
    entry = group.seal(alice).entry
    ct = bytes([entry.ct[0] ^ 1]) + entry.ct[1:]
    tampered = encode(type(entry)(entry.header, ct, entry.sig))
    r = world.client.post(
        f"{group.path}/entries", json={"entry": b64(tampered)}, headers=alice.headers
    )
    assert assert_error(r, 422, "invalid_entry")["check"] == "signature"


def test_garbage_and_foreign_entries(world: World) -> None:
    group, (alice,) = world.group_of()
    for garbage in (b"", b"\xc0", bytes(100)):
        r = world.client.post(
            f"{group.path}/entries", json={"entry": b64(garbage)}, headers=alice.headers
        )
        assert assert_error(r, 422, "invalid_entry")["check"] == "encoding"
    other = world.create_group(alice)
    sealed = other.seal(alice)
    r = world.client.post(
        f"{group.path}/entries", json={"entry": b64(sealed.data)}, headers=alice.headers
    )
    assert assert_error(r, 422, "invalid_entry")["check"] == "group"


def test_non_members_and_departed_members_cannot_post_or_read(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    eve = world.person()
    other = world.create_group(eve)
    # Eve seals with her own group's keys but names this group.
    sealed = other.seal(eve, group=group.id)
    r = world.client.post(
        f"{group.path}/entries", json={"entry": b64(sealed.data)}, headers=eve.headers
    )
    assert_error(r, 403, "not_a_member")
    assert_error(group.list_entries(eve), 403, "not_a_member")
    group.post_entry(bob)
    old = group.seal(bob)
    group.remove(bob, by=alice)
    assert_error(group.post_sealed(bob, old, expect=403), 403, "not_a_member")
    assert_error(group.list_entries(bob), 403, "not_a_member")
    entry_id = decode_entry(
        unb64(group.list_entries(alice).json()["entries"][0]["entry"])
    ).header.entry_id
    r = world.client.get(f"{group.path}/entries/{b64url(entry_id)}", headers=bob.headers)
    assert_error(r, 403, "not_a_member")


def test_unknown_entry_is_404_for_members(world: World) -> None:
    group, (alice,) = world.group_of()
    r = world.client.get(f"{group.path}/entries/{b64url(bytes(16))}", headers=alice.headers)
    assert_error(r, 404, "not_found")
    for bad in (b64url(bytes(15)), b64url(bytes(32)), "AAAAAAAAAAAAAAAAAAAAA="):
        r = world.client.get(f"{group.path}/entries/{bad}", headers=alice.headers)
        assert r.status_code == 400
        assert r.json()["field"] == "entry_id"


def test_quota_is_enforced(make_client: Callable[..., TestClient[Any]]) -> None:
    world = World(make_client(group_quota=5000))
    group, (alice,) = world.group_of()
    big = group.seal(alice, b"b" * 2500)  # pads to ~2.6 KiB
    group.post_sealed(alice, big)
    group.post_entry(alice)  # ~1.1 KiB padded
    r = group.post_entry(alice, b"c" * 1500, expect=413)
    assert_error(r, 413, "quota_exceeded")
    # A retraction frees what it deletes, and its own bytes are counted against what it
    # frees: even a group at its quota can withdraw an entry.
    assert group.retract(alice, big.entry.header.entry_id).status_code == 201
    group.post_entry(alice, b"c" * 1500)


def test_author_retracts_leaving_a_verifiable_stub_where_it_was(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    sealed = group.seal(bob, b"regret")
    group.post_sealed(bob, sealed)
    group.post_entry(bob, b"later")
    entry_id = sealed.entry.header.entry_id
    r = group.retract(bob, entry_id)
    assert r.status_code == 201, r.text
    retracting = r.json()
    assert retracting["cursor"] == 3  # the retracting entry is a new entry of bob's chain
    full = group.list_entries(alice).json()["entries"]
    # The stub keeps its cursor: a chain is never delivered out of order.
    assert [e["cursor"] for e in full] == [1, 2, 3]
    item = full[0]
    assert "entry" not in item
    assert unb64(item["retracted_by"]) == unb64(retracting["entry_id"])
    stub = decode_stub(unb64(item["stub"]))
    assert isinstance(stub, EntryStub)
    assert stub.header == sealed.entry.header
    # The stub still verifies and keeps its link, so bob's chain is intact.
    assert check_entry_public(group.state, stub) == sealed.link
    # Retracting again is harmless: the entry stays retracted by the first.
    again = group.retract(bob, entry_id)
    assert again.status_code == 201
    assert unb64(group.list_entries(alice).json()["entries"][0]["retracted_by"]) == unb64(
        retracting["entry_id"]
    )


def test_leader_may_retract_anyones_entry_members_may_not(world: World) -> None:
    group, (alice, bob, carol) = world.group_of(3)
    sealed = group.seal(bob)
    group.post_sealed(bob, sealed)
    entry_id = sealed.entry.header.entry_id
    r = group.retract(carol, entry_id)
    assert assert_error(r, 403, "not_allowed")["check"] == "role"
    # A refused retraction stores nothing: carol's chain did not move.
    assert [e["entry_id"] for e in group.list_entries(bob).json()["entries"]] == [
        group.list_entries(bob).json()["entries"][0]["entry_id"]
    ]
    assert group.retract(alice, entry_id).status_code == 201


def test_a_retraction_names_entries_of_this_group(world: World) -> None:
    group, (alice,) = world.group_of()
    one = group.seal(alice)
    group.post_sealed(alice, one)
    r = group.retract(alice, bytes(16))
    assert_error(r, 404, "not_found")
    # A list naming one real entry and one unknown stores nothing and deletes nothing.
    r = group.retract(alice, one.entry.header.entry_id, bytes(16))
    assert_error(r, 404, "not_found")
    [item] = group.list_entries(alice).json()["entries"]
    assert "entry" in item


def test_retracted_ciphertext_is_gone_from_the_database(
    world: World, server_settings: Callable[..., Any]
) -> None:
    import sqlalchemy as sa
    from chatham.server._private.storage import schema

    from tests.support.server_dbutil import rows

    group, (alice,) = world.group_of()
    sealed = group.seal(alice, b"x" * 5000)
    group.post_sealed(alice, sealed)
    group.retract(alice, sealed.entry.header.entry_id)
    e = schema.entries.c
    stored = rows(
        server_settings(), sa.select(e.ciphertext).where(e.entry_id == sealed.entry.header.entry_id)
    )
    assert stored == [(None,)]


def test_retracted_bytes_do_not_linger_in_the_sqlite_files(
    make_client: Callable[..., TestClient[Any]], server_database: Any
) -> None:
    import time

    if server_database.is_postgres:
        return  # PostgreSQL: the column is NULL (above); its files are the operator's (VACUUM)
    world = World(make_client(scrub_delay=0.1))
    group, (alice,) = world.group_of()
    sealed = group.seal(alice, b"y" * 3000)
    group.post_sealed(alice, sealed)
    group.post_entry(alice, b"kept")
    probe = sealed.entry.ct[100:164]
    files = sorted(server_database.data_dir.glob("chatham.sqlite3*"))
    assert any(probe in f.read_bytes() for f in files)
    assert group.retract(alice, sealed.entry.header.entry_id).status_code == 201
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the scrub runs in the background after the reply
        files = sorted(server_database.data_dir.glob("chatham.sqlite3*"))
        if not any(probe in f.read_bytes() for f in files):
            break
        time.sleep(0.05)
    assert not any(probe in f.read_bytes() for f in files)


def test_a_cold_roster_is_replayed_outside_the_writer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite every write of the process waits for the one writer thread: a group whose
    # roster fell out of the cache is replayed in a reader thread before the write.
    import threading

    from chatham.server._private import rosters

    runtime = world.client.app.state.services  # type: ignore[attr-defined]
    alice = world.person()
    group = world.create_group(alice)
    for _ in range(3):
        group.invite(alice)
    replayed_in: list[str] = []
    real = rosters.ops_between

    def spy(conn: Any, gid: bytes, since: int, until: int) -> Any:
        replayed_in.append(threading.current_thread().name)
        return real(conn, gid, since, until)

    monkeypatch.setattr(rosters, "ops_between", spy)
    for write in (
        lambda: group.post_entry(alice),
        lambda: group.invite(alice),
        lambda: world.client.put(
            f"{group.path}/attachments/{b64url(bytes(16))}/chunks/0",
            content=b"x",
            headers=alice.headers,
        ),
        lambda: world.client.post(
            f"{group.path}/entries/bulk",
            json={"entries": [b64(group.seal(alice, seq=alice.chain_seq + 1).data)]},
            headers=alice.headers,
        ),
        lambda: world.client.put(
            "/v1/escrow",
            json={"group": b64(group.id), "escrow": b64(bytes(64))},
            headers=alice.headers,
        ),
        lambda: world.client.post(
            f"{group.path}/heal",
            json={
                "expected_seq": group.state.seq,
                "expected_head": b64(group.state.head),
                "ops": [],
                "lockboxes": [],
                "entries": [],
            },
            headers=alice.headers,
        ),
    ):
        runtime.states.clear()
        replayed_in.clear()
        write()
        assert replayed_in, "the roster was not replayed"
        assert "chatham-db-write" not in replayed_in
