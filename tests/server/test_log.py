"""The group log: append with compare-and-swap, verification, reading, lockboxes, access."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from chatham.crypto import (
    GroupState,
    PendingOp,
    Secrets,
    build_checkpoint,
    build_invite,
    build_rotate,
    make_card,
    op_hash,
)
from litestar.testing import TestClient

from tests.support.server_harness import (
    HOST,
    Clock,
    Person,
    World,
    assert_error,
    b64,
    now,
    unb64,
)

X = "https://x.example"  # the server an invite names (not checked by the server)


def _invite(state: GroupState, by: Person) -> PendingOp:
    """An invite op on `state`, built but not appended."""
    pending, _ = build_invite(
        state, by.secrets.device, role="member", expires=now() + 60, server=X, time=now()
    )
    return pending


def test_append_and_read_back(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    group.invite(alice)
    r = group.read_log(alice)
    assert r.status_code == 200, r.text
    page = r.json()
    assert [unb64(op) for op in page["ops"]] == group.ops
    assert page["seq"] == 2
    assert unb64(page["head"]) == group.state.head
    assert page["more"] is False


def test_read_since_and_limit(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    for _ in range(3):
        group.invite(alice)
    page = group.read_log(alice, since=1, limit=2).json()
    assert [unb64(op) for op in page["ops"]] == group.ops[2:4]
    assert page["more"] is True
    page = group.read_log(alice, since=3).json()
    assert [unb64(op) for op in page["ops"]] == group.ops[4:]
    assert page["more"] is False
    page = group.read_log(alice, since=4).json()
    assert page["ops"] == []
    assert page["seq"] == 4
    assert_error(group.read_log(alice, since=-2), 400, "invalid_request")
    assert_error(group.read_log(alice, limit=0), 400, "invalid_request")


def test_a_log_page_is_cut_by_bytes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatham.server._private.services import entry_pages

    alice = world.person()
    group = world.create_group(alice)
    for _ in range(3):
        group.invite(alice)
    # A page holds as many ops as fit in PAGE_BYTES, and at least one.
    two = len(group.ops[0]) + len(group.ops[1])
    monkeypatch.setattr(entry_pages, "PAGE_BYTES", two)
    page = group.read_log(alice).json()
    assert [unb64(op) for op in page["ops"]] == group.ops[:2]
    assert page["more"] is True
    monkeypatch.setattr(entry_pages, "PAGE_BYTES", 1)
    read, since = [], -1
    for _ in range(10):
        page = group.read_log(alice, since=since).json()
        assert len(page["ops"]) == 1
        read += [unb64(op) for op in page["ops"]]
        since += 1
        if not page["more"]:
            break
    assert read == group.ops


def test_log_page_as_msgpack(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    r = world.client.get(
        f"{group.path}/log", headers={**alice.headers, "Accept": "application/msgpack"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/msgpack")
    page = msgspec.msgpack.decode(r.content)
    assert page["ops"] == group.ops
    assert page["head"] == group.state.head


def test_stale_head_gets_409_with_the_current_head(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    before = group.state.copy()
    group.invite(alice)
    # An op built on the old head: the server names the head that moved on.
    pending = _invite(before, alice)
    body = {
        "expected_seq": before.seq,
        "expected_head": b64(before.head),
        "op": b64(pending.op),
        "lockboxes": [],
    }
    r = world.client.post(f"{group.path}/log", json=body, headers=alice.headers)
    err = assert_error(r, 409, "stale_head")
    assert err["seq"] == group.state.seq
    assert unb64(err["head"]) == group.state.head
    # Nothing changed.
    assert group.read_log(alice).json()["seq"] == group.state.seq


def test_expected_head_must_match_even_at_the_right_seq(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    pending = _invite(group.state, alice)
    r = world.client.post(
        f"{group.path}/log",
        json=group.append_body(pending, expected_head=b64(bytes(32))),
        headers=alice.headers,
    )
    assert_error(r, 409, "stale_head")


def test_an_op_dated_in_the_future_is_refused(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    ahead = build_checkpoint(group.state, alice.secrets.device, [], time=now() + 2 * 3600)
    err = assert_error(group.append(alice, ahead, expect=422), 422, "invalid_op")
    assert err["check"] == "future"
    group.append(alice, build_checkpoint(group.state, alice.secrets.device, [], time=now() + 60))


def test_op_that_does_not_chain_is_invalid(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    pending = _invite(group.state, alice)
    # Claim a head the op does not extend: expected matches the server, the op does not.
    group.invite(alice)
    r = world.client.post(
        f"{group.path}/log", json=group.append_body(pending), headers=alice.headers
    )
    err = assert_error(r, 422, "invalid_op")
    assert err["check"] == "sequence"


def test_non_leader_ops_are_refused_by_the_verifier(world: World) -> None:
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    group.join(bob, by=alice)
    pending = _invite(group.state, bob)
    err = assert_error(
        world.client.post(
            f"{group.path}/log", json=group.append_body(pending), headers=bob.headers
        ),
        422,
        "invalid_op",
    )
    assert err["check"] == "role"


def test_garbage_op_is_invalid_not_500(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    for garbage in (b"", b"\x00", b"\x93\x01\x02\x03", bytes(1000)):
        r = world.client.post(
            f"{group.path}/log",
            json={
                "expected_seq": group.state.seq,
                "expected_head": b64(group.state.head),
                "op": b64(garbage),
            },
            headers=alice.headers,
        )
        err = assert_error(r, 422, "invalid_op")
        assert err["check"] == "encoding"


def test_non_members_cannot_read_or_write_the_log(world: World) -> None:
    alice, eve = world.person(), world.person()
    group = world.create_group(alice)
    assert_error(group.read_log(eve), 403, "not_a_member")
    pending = _invite(group.state, eve)
    r = world.client.post(f"{group.path}/log", json=group.append_body(pending), headers=eve.headers)
    assert_error(r, 403, "not_a_member")
    assert_error(
        world.client.get(f"{group.path}/lockboxes", headers=eve.headers), 403, "not_a_member"
    )


def test_rotation_lockboxes_are_checked_and_stored_per_device(world: World) -> None:
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    group.join(bob, by=alice)
    pending = build_rotate(group.state, group.keyring, alice.secrets.device, time=now())
    # Missing one device's lockbox.
    body = group.append_body(pending)
    body["lockboxes"] = body["lockboxes"][:1]
    r = world.client.post(f"{group.path}/log", json=body, headers=alice.headers)
    assert_error(r, 422, "invalid_lockboxes")
    # Swapped lockboxes: each hashes to the other device's ref.
    body = group.append_body(pending)
    a, b = body["lockboxes"]
    body["lockboxes"] = [
        {"device": a["device"], "lockbox": b["lockbox"]},
        {"device": b["device"], "lockbox": a["lockbox"]},
    ]
    r = world.client.post(f"{group.path}/log", json=body, headers=alice.headers)
    assert_error(r, 422, "invalid_lockboxes")
    # Duplicated.
    body = group.append_body(pending)
    body["lockboxes"] = [body["lockboxes"][0]] * 2
    r = world.client.post(f"{group.path}/log", json=body, headers=alice.headers)
    assert_error(r, 422, "invalid_lockboxes")
    # Lockboxes on an op without a rotation.
    inv = _invite(group.state, alice)
    body = group.append_body(inv)
    body["lockboxes"] = group.append_body(pending)["lockboxes"]
    r = world.client.post(f"{group.path}/log", json=body, headers=alice.headers)
    assert_error(r, 422, "invalid_lockboxes")
    # The real thing.
    group.append(alice, pending)
    for person in (alice, bob):
        r = world.client.get(f"{group.path}/lockboxes", headers=person.headers)
        assert r.status_code == 200, r.text
        boxes = r.json()["lockboxes"]
        epochs = [lb["epoch"] for lb in boxes]
        assert epochs == ([1, 2, 3] if person is alice else [2, 3])
        assert unb64(boxes[-1]["lockbox"]) == pending.lockboxes[person.device_id]
        assert boxes[-1]["seq"] == group.state.seq
    r = world.client.get(f"{group.path}/lockboxes", params={"since_epoch": 2}, headers=bob.headers)
    assert [lb["epoch"] for lb in r.json()["lockboxes"]] == [3]


def test_removed_member_reads_the_log_up_to_their_removal_only(world: World) -> None:
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    group.join(bob, by=alice)
    group.post_entry(bob, b"before removal")
    group.remove(bob, by=alice)
    removal_seq = group.state.seq
    removal_head = group.state.head
    group.invite(alice)  # after the removal: bob must not see it
    page = group.read_log(bob).json()
    assert page["seq"] == removal_seq
    assert unb64(page["head"]) == removal_head
    assert [unb64(op) for op in page["ops"]] == group.ops[: removal_seq + 1]
    assert op_hash(unb64(page["ops"][-1])) == removal_head
    # Never entries, lockboxes, group info or writes.
    assert_error(group.list_entries(bob), 403, "not_a_member")
    assert_error(world.client.get(group.path, headers=bob.headers), 403, "not_a_member")
    assert_error(
        world.client.get(f"{group.path}/lockboxes", headers=bob.headers), 403, "not_a_member"
    )
    group.post_entry(bob, b"after removal", expect=403)


def test_member_who_left_reads_up_to_their_leave(world: World) -> None:
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    group.join(bob, by=alice)
    group.leave(bob)
    leave_seq = group.state.seq
    group.rotate(alice)
    page = group.read_log(bob).json()
    assert page["seq"] == leave_seq
    assert len(page["ops"]) == leave_seq + 1


def test_invitee_reads_genesis_and_log_with_the_join_key(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    invite = group.invite(alice)
    token = world.invitee_headers(group, invite)
    page = group.read_log(headers=token).json()
    assert [unb64(op) for op in page["ops"]] == group.ops
    # Only the log: no entries, lockboxes, group info, or writes.
    assert_error(
        world.client.get(f"{group.path}/entries", headers=token), 403, "device_token_required"
    )
    assert_error(world.client.get(group.path, headers=token), 403, "device_token_required")
    assert_error(
        world.client.get(f"{group.path}/lockboxes", headers=token), 403, "device_token_required"
    )
    # Another group's log is closed to it.
    other = world.create_group(alice)
    assert_error(other.read_log(headers=token), 403, "not_a_member")


def test_invitee_token_needs_a_live_invite_and_the_join_key(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    invite = group.invite(alice)
    other = group.invite(alice)
    # Signed with another invite's join key.
    r = world.invite_token(group, invite, signer=other)
    assert_error(r, 401, "bad_signature")
    # An invite id that does not exist.
    fake = type(invite)(bytes(16), group.id, "x")
    assert_error(world.invite_token(group, fake), 403, "invite_not_usable")
    # A token that worked stops working once the invite is revoked.
    token = world.invitee_headers(group, invite)
    assert group.read_log(headers=token).status_code == 200
    group.revoke(invite, by=alice)
    assert_error(group.read_log(headers=token), 403, "invite_not_usable")
    assert_error(world.invite_token(group, invite), 403, "invite_not_usable")


def test_invitee_token_dies_with_its_issuer(world: World) -> None:
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    group.join(bob, by=alice, role="leader")
    invite = group.invite(bob)
    token = world.invitee_headers(group, invite)
    assert group.read_log(headers=token).status_code == 200
    group.remove(bob, by=alice)
    assert_error(group.read_log(headers=token), 403, "invite_not_usable")


def test_expired_invite_gives_no_token(make_client: Callable[..., TestClient[Any]]) -> None:
    clock = Clock()
    world = World(make_client(clock=clock))
    alice = world.person()
    group = world.create_group(alice)
    invite = group.invite(alice, expires=int(clock.now) + 100)
    clock.advance(101)
    assert_error(world.invite_token(group, invite), 403, "invite_not_usable")


def test_invite_token_challenge_is_single_use(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    invite = group.invite(alice)
    challenge = world.challenge()
    assert world.invite_token(group, invite, challenge).status_code == 200
    assert_error(world.invite_token(group, invite, challenge), 401, "invalid_challenge")


def test_leader_can_be_anyone_the_log_says(world: World) -> None:
    # Authorization follows the verified log: a promoted member may invite at once.
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    group.join(bob, by=alice)
    group.set_role(bob, "leader", by=alice)
    group.invite(bob)
    assert HOST


def test_a_re_added_members_old_device_reads_only_up_to_its_departure(world: World) -> None:
    """Access is decided per device: the member is active again, on a new device; the device
    they were removed on stays departed."""
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    group.join(bob, by=alice)
    group.remove(bob, by=alice)
    removal_seq = group.state.seq
    fresh = Secrets.generate(created=now())
    secrets = dataclasses.replace(bob.secrets, device=fresh.device)
    again = Person(secrets, make_card(secrets.member, secrets.device, created=now()))
    world.login(again)
    group.join(again, by=alice)
    assert group.state.members[bob.member_id].active
    group.invite(alice)
    page = group.read_log(bob).json()
    assert page["seq"] == removal_seq
    assert len(page["ops"]) == removal_seq + 1
    assert group.read_log(again).json()["seq"] == group.state.seq
    assert_error(group.list_entries(bob), 403, "not_a_member")
    group.post_entry(bob, b"from the removed device", expect=403)


def test_only_an_active_member_learns_the_entry_cursor_and_chain_heads(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # They say how much the group wrote: the log page carries them to members only, and only
    # on the last page (read in the same transaction as the head it reaches).
    from chatham.server._private.services import entry_pages

    group, (alice, bob) = world.group_of(2)
    group.post_entry(bob, b"one")
    group.post_entry(bob, b"two")
    invite = group.invite(alice)
    page = world.client.get(f"{group.path}/log", headers=alice.headers).json()
    assert page["entry_cursor"] == 2
    assert [(unb64(h["device"]), h["seq"]) for h in page["heads"]] == [(bob.device_id, 2)]
    as_invitee = world.client.get(
        f"{group.path}/log", headers=world.invitee_headers(group, invite)
    ).json()
    assert as_invitee["ops"]  # the invitee reads the log itself
    assert as_invitee.get("entry_cursor") is None
    assert as_invitee.get("heads") is None
    group.remove(bob, by=alice)
    departed = world.client.get(f"{group.path}/log", headers=bob.headers).json()
    assert departed["ops"]
    assert departed.get("entry_cursor") is None
    assert departed.get("heads") is None
    monkeypatch.setattr(entry_pages, "PAGE_BYTES", 1)
    first = world.client.get(f"{group.path}/log", headers=alice.headers).json()
    assert first["more"] is True
    assert first.get("heads") is None
