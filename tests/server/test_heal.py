"""Healing a server: what a member's verified copy holds beyond the server's state comes
back only if it is signed, extends the server's state exactly, and passes every check a
member's client makes; anything else is refused and changes nothing (protocol §14.2)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chatham.crypto import (
    EntryStub,
    RecoveryKit,
    SealedEntry,
    Secrets,
    build_add_device,
    build_remove_device,
    ct_hash,
    encode,
    make_card,
)
from chatham.server._private.services.admin import issue_registration_token
from litestar.testing import TestClient

from tests.support.server_harness import (
    Group,
    Person,
    World,
    assert_error,
    b64,
    b64url,
    now,
    sealed_chain,
    unb64,
)


def heal(
    group: Group,
    by: Person,
    *,
    entries: list[dict[str, Any]] | None = None,
    ops: list[bytes] | None = None,
    lockboxes: list[dict[str, Any]] | None = None,
    expected: tuple[int, bytes] | None = None,
    client: Any = None,
    registration_token: str | None = None,
) -> Any:
    seq, head = expected if expected is not None else (group.state.seq, group.state.head)
    body = {
        "expected_seq": seq,
        "expected_head": b64(head),
        "ops": [b64(o) for o in ops or []],
        "lockboxes": lockboxes or [],
        "entries": entries or [],
    }
    if registration_token is not None:
        body["registration_token"] = registration_token
    return (client or group.client).post(f"{group.path}/heal", json=body, headers=by.headers)


def item(sealed: SealedEntry) -> dict[str, Any]:
    return {"entry": b64(sealed.data)}


def test_entries_a_member_holds_come_back_in_chain_order(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    sealed = sealed_chain(group, bob, 3)  # Bob's entries, as the server lost them
    r = heal(group, alice, entries=[item(s) for s in sealed])  # any member may bring them
    assert r.status_code == 200, r.text
    assert [x["cursor"] for x in r.json()["results"]] == [1, 2, 3]
    page = group.list_entries(bob).json()["entries"]
    assert [unb64(e["entry"]) for e in page] == [s.data for s in sealed]
    # The same again changes nothing: each is answered with its cursor.
    again = heal(group, alice, entries=[item(s) for s in sealed]).json()["results"]
    assert [x["cursor"] for x in again] == [1, 2, 3]


def test_a_forged_entry_in_a_heal_is_refused_and_the_rest_heals(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    good = sealed_chain(group, bob, 2)
    tampered = bytearray(good[1].data)
    tampered[-1] ^= 1
    r = heal(group, alice, entries=[item(good[0]), {"entry": b64(bytes(tampered))}])
    results = r.json()["results"]
    assert results[0]["cursor"] == 1
    assert results[1]["error"]["code"] == "invalid_entry"
    assert len(group.list_entries(bob).json()["entries"]) == 1


def test_an_entry_claiming_an_unknown_log_head_is_refused(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    odd = group.seal(bob, b"from another history", log_seq=group.state.seq, log_head=bytes(32))
    [res] = heal(group, alice, entries=[item(odd)]).json()["results"]
    assert res["error"]["code"] == "invalid_entry"
    assert res["error"]["check"] == "log_head"


def test_a_stub_comes_back_only_with_a_signed_retraction(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    [first] = sealed_chain(group, bob, 1)
    stub = EntryStub(first.entry.header, ct_hash(first.entry.ct), first.entry.sig)
    lone = {"stub": b64(encode(stub)), "retracted_by": b64(bytes(16))}
    [res] = heal(group, alice, entries=[lone]).json()["results"]
    assert res["error"]["code"] == "invalid_entry"
    assert res["error"]["check"] == "retracts"
    # With a retracting entry that is not signed by its author: refused too.
    retraction = group.seal(
        bob, b"withdrawn", seq=2, prev=first.link, retracts=[first.entry.header.entry_id]
    )
    forged = bytearray(retraction.data)
    forged[-1] ^= 1
    with_forged = {**lone, "retracted_by": b64(retraction.entry.header.entry_id)}
    results = heal(group, alice, entries=[with_forged, {"entry": b64(bytes(forged))}]).json()
    assert [x["error"]["code"] for x in results["results"]] == ["invalid_entry", "invalid_entry"]
    # Signed, it heals: the stub keeps its place in Bob's chain and the retraction follows.
    genuine = {**lone, "retracted_by": b64(retraction.entry.header.entry_id)}
    results = heal(group, alice, entries=[genuine, item(retraction)]).json()["results"]
    assert [x["cursor"] for x in results] == [1, 2]
    [s, kept] = group.list_entries(bob).json()["entries"]
    assert "entry" not in s
    assert unb64(s["retracted_by"]) == retraction.entry.header.entry_id
    assert unb64(kept["entry"]) == retraction.data


def test_a_healed_retraction_deletes_what_the_server_still_holds(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    group.post_entry(bob, b"to withdraw")
    first_id = unb64(group.list_entries(bob).json()["entries"][0]["entry_id"])
    retraction = group.seal(bob, b"withdrawn", retracts=[first_id])
    heal(group, alice, entries=[item(retraction)])
    [s, _] = group.list_entries(bob).json()["entries"]
    assert "entry" not in s


def test_another_entry_at_a_held_place_is_not_a_prefix(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    group.post_entry(bob, b"the server holds this one")
    other = group.seal(bob, b"another at the same place", seq=1, prev=bytes(32))
    [res] = heal(group, alice, entries=[item(other)]).json()["results"]
    assert res["error"]["code"] == "not_a_prefix"


def test_a_heal_must_extend_the_servers_head(world: World) -> None:
    group, (alice, _) = world.group_of(2)
    r = heal(group, alice, expected=(group.state.seq - 1, group.state.op_hashes[-2]))
    assert_error(r, 409, "stale_head")


def test_a_heal_by_a_non_member_is_refused(world: World) -> None:
    group, (_, bob) = world.group_of(2)
    stranger = world.person()
    [s] = sealed_chain(group, bob, 1)
    assert_error(heal(group, stranger, entries=[item(s)]), 403, "not_a_member")


def test_forged_ops_and_lockboxes_are_refused_whole(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    state_before = group.client.get(group.path, headers=alice.headers).json()
    # The newest op, its signature broken, offered as the next one.
    forged = bytearray(group.ops[-1])
    forged[-1] ^= 1
    assert assert_error(heal(group, alice, ops=[bytes(forged)]), 422, "invalid_op")["check"]
    lb = {"seq": 1, "device": b64(bob.device_id), "lockbox": b64(b"x" * 1168)}
    assert_error(heal(group, alice, lockboxes=[lb]), 422, "invalid_lockboxes")
    assert group.client.get(group.path, headers=alice.headers).json() == state_before


def test_a_whole_group_heals_onto_a_server_that_never_had_it(
    world: World, make_client: Callable[..., TestClient[Any]], tmp_path: Path
) -> None:
    """The server lost its database: a member's copy creates the group again, ops, lockboxes
    and entries, and every member reads it there as before."""
    group, (alice, bob) = world.group_of(2)
    group.post_entry(bob, b"held by members")
    held = group.list_entries(alice).json()["entries"]
    other = World(make_client(data_dir=tmp_path / "new", database_url=None))
    for p in (alice, bob):
        other.login(p)
    lockboxes = [
        {"seq": 1, "device": b64(d), "lockbox": b64(b)}
        for d, b in sorted(group.genesis_lockboxes.items())
    ]
    r = heal(
        group,
        bob,
        ops=group.ops,
        expected=(-1, b""),
        lockboxes=lockboxes,
        entries=[{"entry": e["entry"]} for e in held],
        client=other.client,
    )
    assert r.status_code == 200, r.text
    assert r.json()["seq"] == group.state.seq
    page = other.client.get(f"{group.path}/entries", headers=bob.headers).json()["entries"]
    assert [e["entry"] for e in page] == [e["entry"] for e in held]
    log = other.client.get(f"{group.path}/log", headers=alice.headers).json()
    assert [unb64(o) for o in log["ops"]] == group.ops
    mine = other.client.get(f"{group.path}/lockboxes", headers=alice.headers).json()
    assert [unb64(x["lockbox"]) for x in mine["lockboxes"]] == [
        group.genesis_lockboxes[alice.device_id]
    ]
    # Someone outside the group cannot create it there from a copy they hold.
    third = World(make_client(data_dir=tmp_path / "third", database_url=None))
    stranger = third.person()
    r = heal(group, stranger, ops=group.ops, expected=(-1, b""), client=third.client)
    assert_error(r, 403, "not_a_member")


def test_a_heal_fills_a_group_up_to_its_quota_as_posts_would(make_client: Any) -> None:
    world = World(make_client())
    group, (alice, bob) = world.group_of(2)
    sealed = sealed_chain(group, bob, 3)
    room = len(sealed[0].entry.ct) + len(sealed[1].entry.ct)
    world.client = make_client(group_quota=room)  # the same database, a smaller quota
    results = heal(group, alice, entries=[item(s) for s in sealed]).json()["results"]
    assert [x.get("cursor") for x in results] == [1, 2, None]
    assert results[2]["error"]["code"] == "quota_exceeded"
    assert len(group.list_entries(bob).json()["entries"]) == 2


def test_a_healed_removal_revokes_the_device_as_an_appended_one_does(world: World) -> None:
    # The server lost the removal of a recovery kit's device (restored from an older backup);
    # when a member heals it back, the kit's escrow and its unfinished upload go, as they went
    # when the removal was first appended.
    group, (alice,) = world.group_of(1)
    dev = RecoveryKit.generate().device()
    kit = Person(Secrets(alice.secrets.member, dev, os.urandom(32), now()), alice.card)
    world.login(kit)
    card = make_card(alice.secrets.member, dev, created=now())
    group.append(alice, build_add_device(group.state, alice.secrets.device, card, time=now()))
    escrow = {"group": b64(group.id), "escrow": b64(os.urandom(300))}
    assert world.client.put("/v1/escrow", json=escrow, headers=kit.headers).status_code == 204
    upload = f"{group.path}/attachments/{b64url(os.urandom(16))}"
    r = world.client.put(f"{upload}/chunks/0", content=os.urandom(100), headers=kit.headers)
    assert r.status_code == 201, r.text
    removal = build_remove_device(
        group.state, group.keyring, alice.secrets.device, dev.id, [], time=now()
    )
    r = heal(group, alice, ops=[removal.op])
    assert r.status_code == 200, r.text
    gone = world.client.get("/v1/escrow", headers=kit.headers)
    assert_error(gone, 404, "escrow_unknown")
    assert_error(world.client.get(upload, headers=alice.headers), 404, "not_found")


def test_a_group_healed_onto_a_closed_server_spends_a_registration_token(
    world: World,
    make_client: Callable[..., TestClient[Any]],
    server_settings: Callable[..., Any],
    tmp_path: Path,
) -> None:
    # Re-creating a group is creating one: a heal cannot get round closed registration.
    closed = {"data_dir": tmp_path / "closed", "database_url": None, "open_registration": False}
    other = World(make_client(**closed))
    first, (alice,) = world.group_of(1)
    second = world.create_group(alice)
    other.login(alice)

    def heal_onto(group: Group, token: str | None) -> Any:
        return heal(
            group, alice, ops=group.ops, expected=(-1, b""), client=other.client,
            registration_token=token,
        )  # fmt: skip

    assert_error(heal_onto(first, None), 403, "registration_required")
    assert_error(heal_onto(first, "made-up"), 403, "invalid_registration_token")
    token = asyncio.run(issue_registration_token(server_settings(**closed), uses=1, expires_in=60))
    assert heal_onto(first, token).status_code == 200
    assert_error(heal_onto(second, token), 403, "invalid_registration_token")  # used up
    assert_error(other.client.get(second.path, headers=alice.headers), 403, "not_a_member")
