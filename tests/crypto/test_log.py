"""The group log: every way to forge, reorder, truncate or misuse ops is refused by verify_public.

Each rejection asserts the exact error class and `.check` a member (or the
server) is shown, and that the failed `apply` left the verified state exactly
as it was. Forgeries are signed with real device keys: the attacker here is a
malicious insider or a server that rewrites what it stores.
"""

from __future__ import annotations

import dataclasses
import re

import msgspec
import pytest
from chatham.crypto import (
    ForkError,
    GroupState,
    InviteCode,
    InviteError,
    InviteSecret,
    LogError,
    Policy,
    RotationError,
    SignedJoinRequest,
    SignedOp,
    build_add,
    build_checkpoint,
    build_invite,
    build_leave,
    build_remove,
    build_revoke_invite,
    build_rotate,
    build_set_role,
    decode_join_request,
    decode_signed_op,
    encode,
    final_heads,
    labels,
    looks_like_invite_code,
    make_card,
    op_hash,
    replay,
    verify_join_request,
    verify_public,
)
from chatham.crypto._epoch import Recipient, build_rotation
from chatham.crypto._log import sign_op
from chatham.crypto._records import (
    Add,
    ChainHead,
    Checkpoint,
    Invite,
    Leave,
    NewMember,
    Remove,
    Rotate,
    SetPolicy,
    SetRole,
)

from tests.crypto.conftest import Member

# --- helpers --------------------------------------------------------------------------------


def rotation_of(data: bytes):
    body = decode_signed_op(data).op.body
    return body.rotation


def recipients(g, members):
    return [Recipient(m.id, m.device_id, m.device.kem_public) for m in members]


def raw_add(g, leader, joins, *, time=None):
    """An add built straight from (member, invite id) pairs, skipping the join-request checks."""
    return build_add(
        g.state,
        g.keyring(leader),
        leader.device,
        [(m.card, invite_id, m.name) for m, invite_id in joins],
        time=g.kit.T0 if time is None else time,
        rand=g.kit.rand,
    )


def full_log(kit):
    """A group whose log holds every op type, with entries and departures."""
    g, (a, b, c, d) = kit.group("Alice", "Bob", "Carol", "Dan", policy=kit.FULL)
    g.post(b, b"one")
    g.post(c, b"two")
    inv = g.invite(a)
    g.commit(build_revoke_invite(g.state, a.device, inv.invite_id, time=kit.T0))
    g.set_role(a, b, "leader")
    g.checkpoint(a)
    g.leave(c)
    g.rotate(d)  # any member may rotate while a rotation is pending
    g.set_policy(b, Policy(history="from-join"))
    g.remove(b, d)
    g.rotate(a)
    return g, (a, b, c, d)


# --- the honest log -------------------------------------------------------------------------


def test_every_op_type_replays_to_the_same_state(kit):
    g, _ = full_log(kit)
    tags = [type(decode_signed_op(op).op.body).__name__ for op in g.ops]
    for t in ("Genesis", "Rotate", "Invite", "RevokeInvite", "Add", "Remove", "Leave"):
        assert t in tags
    for t in ("SetRole", "SetPolicy", "Checkpoint"):
        assert t in tags
    assert replay(g.ops) == g.state
    assert verify_public is replay
    # Replaying onto a verified prefix gives the same state as from genesis.
    prefix = replay(g.ops[:5])
    assert replay(g.ops[5:], prefix) == g.state
    assert prefix == replay(g.ops[:5]), "replay onto a state must not mutate it"


# --- signatures and signers -----------------------------------------------------------------


def test_flipped_signature_bit_rejected_at_every_op(kit):
    g, _ = full_log(kit)
    for i, data in enumerate(g.ops):
        st = replay(g.ops[:i]) if i else GroupState()
        bad = kit.flip(data, len(data) - 1 - (i % 64), i % 8)  # inside the trailing 64-byte sig
        kit.assert_rejected(st, bad, LogError, "signature")


def test_signature_by_another_members_key_rejected(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    pending, _ = build_invite(
        g.state, a.device, role="member", expires=kit.T0, server=kit.SERVER, time=kit.T0
    )
    op = decode_signed_op(pending.op).op  # names Alice's device as signer
    forged = encode(SignedOp(op, b.device.sign(labels.SIG_OP, encode(op))))
    kit.assert_rejected(g.state, forged, LogError, "signature")


def test_signature_under_another_label_rejected(kit):
    g, (a,) = kit.group("Alice")
    pending, _ = build_invite(
        g.state, a.device, role="member", expires=kit.T0, server=kit.SERVER, time=kit.T0
    )
    op = decode_signed_op(pending.op).op
    forged = encode(SignedOp(op, a.device.sign(labels.SIG_ENTRY, encode(op))))
    kit.assert_rejected(g.state, forged, LogError, "signature")


def test_zero_or_missing_signature_rejected(kit):
    g, (a,) = kit.group("Alice")
    pending, _ = build_invite(
        g.state, a.device, role="member", expires=kit.T0, server=kit.SERVER, time=kit.T0
    )
    op = decode_signed_op(pending.op).op
    kit.assert_rejected(g.state, encode(SignedOp(op, bytes(64))), LogError, "signature")
    kit.assert_rejected(g.state, encode([op]), LogError, "encoding")
    kit.assert_rejected(g.state, encode([op, b""]), LogError, "encoding")


def test_op_signed_by_an_outsider_or_departed_member_rejected(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    mallory = kit.member("Mallory")
    body = SetPolicy(Policy(history="full"), [])
    kit.assert_rejected(g.state, g.forge(mallory, body), LogError, "signer")
    g.remove(a, c)
    kit.assert_rejected(g.state, g.forge(c, body), LogError, "signer")
    g.leave(b)
    kit.assert_rejected(g.state, g.forge(b, body), LogError, "signer")


# --- leader-only ops ------------------------------------------------------------------------


def _member_attempts(kit, g, a, b, c):
    """What Bob (a plain member) tries: every op that needs a leader."""
    secret = g.invite(a)
    return {
        "invite": lambda: (
            build_invite(
                g.state, b.device, role="leader", expires=kit.T0, server=kit.SERVER, time=kit.T0
            )[0].op
        ),
        "revoke-invite": lambda: (
            build_revoke_invite(g.state, b.device, secret.invite_id, time=kit.T0).op
        ),
        "add": lambda: raw_add(g, b, [(kit.member("Eve"), secret.invite_id)]).op,
        "remove": lambda: (
            build_remove(g.state, g.keyring(b), b.device, c.id, [], time=kit.T0, rand=kit.rand).op
        ),
        "set-role": lambda: build_set_role(g.state, b.device, b.id, "leader", time=kit.T0).op,
        "demote": lambda: build_set_role(g.state, b.device, a.id, "member", time=kit.T0).op,
        "policy": lambda: g.forge(b, SetPolicy(Policy(history="full"), [])),
        "checkpoint": lambda: g.forge(b, Checkpoint([])),
        "rotate": lambda: build_rotate(g.state, g.keyring(b), b.device, time=kit.T0).op,
    }


@pytest.mark.parametrize(
    "kind",
    [
        "invite",
        "revoke-invite",
        "add",
        "remove",
        "set-role",
        "demote",
        "policy",
        "checkpoint",
        "rotate",
    ],
)
def test_leader_only_op_by_a_member_rejected(kit, kind):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    attempt = _member_attempts(kit, g, a, b, c)[kind]()
    kit.assert_rejected(g.state, attempt, LogError, "role")
    # The same op by the leader is fine (so the test is about the signer, nothing else).
    if kind == "rotate":
        g.commit(build_rotate(g.state, g.keyring(a), a.device, time=kit.T0))


def test_demoted_leader_loses_leader_ops(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    g.set_role(a, b, "leader")
    g.set_role(b, a, "member")
    kit.assert_rejected(g.state, g.forge(a, Checkpoint([])), LogError, "role")
    g.checkpoint(b)


# --- rotations in remove and add ------------------------------------------------------------


def test_remove_whose_rotation_keeps_a_lockbox_for_the_removed_member_is_a_ghost(kit):
    g, (a, _b, c) = kit.group("Alice", "Bob", "Carol")
    # A rotation over everyone still in the group: it includes Carol.
    rot = rotation_of(g.build_rotate(a).op)
    forged = g.forge(a, Remove(c.id, final_heads(g.state, c.id, []), rot))
    err = kit.assert_rejected(g.state, forged, RotationError, "ghost_member")
    assert err.seq == g.state.seq + 1


def test_remove_whose_rotation_misses_a_remaining_device_rejected(kit):
    g, (a, _b, c) = kit.group("Alice", "Bob", "Carol")
    built = build_rotation(
        g.id, g.state.epoch + 1, g.state.head, recipients(g, [a]), old_key=None, rand=kit.rand
    )
    forged = g.forge(a, Remove(c.id, final_heads(g.state, c.id, []), built.rotation))
    kit.assert_rejected(g.state, forged, RotationError, "lockbox_missing")


def test_remove_without_a_rotation_cannot_be_encoded(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    data = _drop_last_body_field(g.build_remove(a, b).op, a)
    kit.assert_rejected(g.state, data, LogError, "encoding")


def _drop_last_body_field(data: bytes, signer) -> bytes:
    """Re-encode an op with its body's last field removed, correctly re-signed."""
    op, _sig = msgspec.msgpack.decode(data)
    op[6].pop()
    op_bytes = msgspec.msgpack.encode(op)
    return msgspec.msgpack.encode([op, signer.device.sign(labels.SIG_OP, op_bytes)])


def test_add_without_a_rotation_cannot_be_encoded(kit):
    g, (a,) = kit.group("Alice")
    pending = g.build_add(a, kit.member("Bob"))
    # The record has no way to say "no rotation": dropping the field breaks the encoding.
    kit.assert_rejected(g.state, _drop_last_body_field(pending.op, a), LogError, "encoding")


def test_add_whose_rotation_misses_the_newcomer_rejected(kit):
    g, (a,) = kit.group("Alice")
    bob = kit.member("Bob")
    secret = g.invite(a)
    honest = decode_signed_op(raw_add(g, a, [(bob, secret.invite_id)]).op).op.body
    rot = rotation_of(g.build_rotate(a).op)  # lockboxes for the current members only
    forged = g.forge(a, Add(honest.members, honest.names, rot))
    kit.assert_rejected(g.state, forged, RotationError, "lockbox_missing")


def test_rotation_to_a_wrong_epoch_or_with_unsorted_refs_rejected(kit):
    g, (a, _b, _c) = kit.group("Alice", "Bob", "Carol")
    rot = rotation_of(g.build_rotate(a).op)
    for epoch in (g.state.epoch, g.state.epoch + 2, 1):
        bad = msgspec.structs.replace(rot, epoch=epoch)
        kit.assert_rejected(g.state, g.forge(a, Rotate(bad)), RotationError, "epoch")
    swapped = msgspec.structs.replace(rot, refs=list(reversed(rot.refs)))
    kit.assert_rejected(g.state, g.forge(a, Rotate(swapped)), RotationError, "lockboxes")
    doubled = msgspec.structs.replace(rot, refs=[rot.refs[0], *rot.refs])
    kit.assert_rejected(g.state, g.forge(a, Rotate(doubled)), RotationError, "lockboxes")


# --- chaining: gaps, forks, reordering, replays, rollback ----------------------------------


def test_gap_rejected(kit):
    g, _ = full_log(kit)
    st = replay(g.ops[:4])
    kit.assert_rejected(st, g.ops[5], ForkError, "sequence")
    kit.assert_replay_rejected(g.ops[:4] + g.ops[5:], ForkError, "sequence")


def test_seq_skip_with_correct_prev_rejected(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    pending = g.build_rotate(a)
    forged = kit.resign(pending.op, a, seq=g.state.seq + 2)
    kit.assert_rejected(g.state, forged, ForkError, "sequence")


def test_op_with_a_wrong_prev_rejected(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    pending = g.build_rotate(a)
    for prev in (bytes(32), g.state.op_hashes[-2]):
        forged = kit.resign(pending.op, a, prev=prev)
        kit.assert_rejected(g.state, forged, ForkError, "chain")


def test_reordering_rejected(kit):
    g, _ = full_log(kit)
    for i in range(1, len(g.ops) - 1):
        ops = list(g.ops)
        ops[i], ops[i + 1] = ops[i + 1], ops[i]
        kit.assert_replay_rejected(ops, ForkError, "sequence")


def test_replay_of_an_old_op_rejected(kit):
    g, _ = full_log(kit)
    for old in g.ops:
        kit.assert_rejected(g.state, old, ForkError, "sequence")


def test_fork_two_different_ops_at_one_seq(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    base = g.state.copy()
    x = g.build_rotate(a).op
    y = g.forge(a, SetPolicy(Policy(history="full"), []))
    assert decode_signed_op(x).op.seq == decode_signed_op(y).op.seq
    seen_by_bob = replay([x], base)
    seen_by_carol = replay([y], base)
    # Each op is valid alone; what a client catches is the second at the same seq ...
    kit.assert_rejected(seen_by_bob, y, ForkError, "sequence")
    # ... and, holding a verified head, a log that diverges from it.
    with pytest.raises(ForkError) as info:
        seen_by_carol.check_extends(seen_by_bob.seq, seen_by_bob.head)
    assert info.value.check == "fork"
    assert info.value.seq == seen_by_bob.seq


def test_fork_below_the_head_detected_on_a_longer_log(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    pinned = (g.state.seq, g.state.head)
    g.commit(g.forge(a, SetPolicy(Policy(history="full"), [])))
    g.checkpoint(a)
    honest = replay(g.ops)
    honest.check_extends(*pinned)  # the same history, longer: fine
    # The server rewrites op `pinned` and rebuilds a longer log on top of it.
    forked = replay(g.ops[: pinned[0]])
    other = kit.resign(g.ops[pinned[0]], a, time=kit.T0 + 1)
    forked.apply(other)
    forked.apply(sign_op(forked, a.device, Checkpoint([]), time=kit.T0))
    forked.apply(sign_op(forked, a.device, Checkpoint([]), time=kit.T0))
    assert forked.seq > pinned[0]
    with pytest.raises(ForkError) as info:
        forked.check_extends(*pinned)
    assert info.value.check == "fork"


def test_log_shorter_than_a_verified_head_is_a_rollback(kit):
    g, _ = full_log(kit)
    verified = (g.state.seq, g.state.head)
    for n in (1, len(g.ops) // 2, len(g.ops) - 1):
        shown = replay(g.ops[:n])
        with pytest.raises(ForkError) as info:
            shown.check_extends(*verified)
        assert info.value.check == "rollback"
    replay(g.ops).check_extends(*verified)
    GroupState().check_extends(-1, bytes(32))  # nothing verified yet: anything extends it


# --- group id, genesis and suite ------------------------------------------------------------


def test_op_for_another_group_rejected(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    h, _ = kit.group("Alice2", founder=a)  # the same founder device, another group
    assert h.id != g.id
    pending = g.build_rotate(a)
    kit.assert_rejected(g.state, kit.resign(pending.op, a, group=h.id), LogError, "group")
    # Alice's ops from the other group don't chain here at all.
    kit.assert_rejected(g.state, h.ops[1], ForkError, "sequence")
    kit.assert_replay_rejected(g.ops[:1] + h.ops[1:2], ForkError, "chain")


def test_second_genesis_rejected(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    gen = decode_signed_op(g.ops[0]).op.body
    # Signed as a genesis it names no group (zeros) ...
    kit.assert_rejected(g.state, g.forge(a, gen), LogError, "group")
    # A replayed genesis at seq > 0, even re-signed to chain, is still a second genesis.
    kit.assert_rejected(
        g.state,
        kit.resign(g.ops[0], a, seq=g.state.seq + 1, prev=g.state.head, group=g.id),
        LogError,
        "genesis",
    )


def test_first_op_must_be_a_genesis(kit):
    a = kit.member("Alice")
    not_genesis = sign_op(GroupState(), a.device, SetPolicy(Policy(), []), time=kit.T0)
    kit.assert_rejected(GroupState(), not_genesis, LogError, "genesis")
    g, _ = kit.group("Alice", founder=a)
    with_group = kit.resign(g.ops[0], a, group=g.id)
    kit.assert_rejected(GroupState(), with_group, LogError, "genesis")


def test_genesis_with_another_suite_or_version_rejected(kit):
    a = kit.member("Alice")
    g, _ = kit.group("Alice", founder=a)
    gen = decode_signed_op(g.ops[0]).op
    for suite in (
        "chatham/v1:" + labels.SUITE.split(":", 1)[1],
        "chatham/v2:ed25519",
        labels.SUITE + " ",
        "",
        labels.SUITE.upper(),
    ):
        forged = kit.resign(gen, a, body=msgspec.structs.replace(gen.body, suite=suite))
        kit.assert_rejected(GroupState(), forged, LogError, "suite")
    for v in (1, 3):
        other = kit.resign(gen, a, v=v)
        kit.assert_rejected(GroupState(), other, LogError, "encoding")


def test_genesis_by_another_device_or_with_a_bad_card_rejected(kit):
    a, m = kit.member("Alice"), kit.member("Mallory")
    g, _ = kit.group("Alice", founder=a)
    gen = decode_signed_op(g.ops[0]).op
    kit.assert_rejected(GroupState(), kit.resign(gen, m, signer=m.device_id), LogError, "signer")
    kit.assert_rejected(GroupState(), kit.resign(gen, m), LogError, "signature")
    # Mallory's device in Alice's card: the card's own signatures no longer verify.
    cert = msgspec.structs.replace(a.card.cert, device_key=m.device.public)
    bad_card = msgspec.structs.replace(a.card, cert=cert)
    body = msgspec.structs.replace(gen.body, founder=bad_card)
    kit.assert_rejected(
        GroupState(), kit.resign(gen, m, signer=m.device_id, body=body), LogError, "card"
    )


# --- invites --------------------------------------------------------------------------------


def test_invite_is_single_use(kit):
    g, (a,) = kit.group("Alice")
    bob, carol = kit.member("Bob"), kit.member("Carol")
    secret = g.invite(a)
    g.commit(raw_add(g, a, [(bob, secret.invite_id)]))
    again = raw_add(g, a, [(carol, secret.invite_id)])
    kit.assert_rejected(g.state, again, LogError, "invite_used")
    # The server's join check refuses a request for it too.
    with pytest.raises(InviteError):
        verify_join_request(g.state, secret.request(carol.card, created=kit.T0), now=kit.T0)


def test_one_invite_twice_in_one_batch_rejected(kit):
    g, (a,) = kit.group("Alice")
    secret = g.invite(a)
    twice = raw_add(
        g, a, [(kit.member("Bob"), secret.invite_id), (kit.member("Carol"), secret.invite_id)]
    )
    kit.assert_rejected(g.state, twice, LogError, "invite_used")


def test_add_naming_an_unknown_invite_rejected(kit):
    g, (a,) = kit.group("Alice")
    kit.assert_rejected(
        g.state, raw_add(g, a, [(kit.member("Bob"), bytes(32))]), LogError, "invite"
    )


def test_expired_invite_rejected_and_expiry_is_inclusive(kit):
    g, (a,) = kit.group("Alice")
    secret = g.invite(a, expires=kit.T0 + 10)
    late = raw_add(g, a, [(kit.member("Bob"), secret.invite_id)], time=kit.T0 + 11)
    kit.assert_rejected(g.state, late, LogError, "invite_dead")
    with pytest.raises(InviteError):
        verify_join_request(
            g.state, secret.request(kit.member("B").card, created=0), now=kit.T0 + 11
        )
    g.commit(raw_add(g, a, [(kit.member("Bob"), secret.invite_id)], time=kit.T0 + 10))


def test_revoked_invite_rejected(kit):
    g, (a,) = kit.group("Alice")
    secret = g.invite(a)
    g.commit(build_revoke_invite(g.state, a.device, secret.invite_id, time=kit.T0))
    add = raw_add(g, a, [(kit.member("Bob"), secret.invite_id)])
    kit.assert_rejected(g.state, add, LogError, "invite_dead")
    again = build_revoke_invite(g.state, a.device, secret.invite_id, time=kit.T0).op
    kit.assert_rejected(g.state, again, LogError, "invite")
    unknown = build_revoke_invite(g.state, a.device, bytes(32), time=kit.T0).op
    kit.assert_rejected(g.state, unknown, LogError, "invite")


def test_invite_id_cannot_be_published_twice(kit):
    g, (a,) = kit.group("Alice")
    pending, secret = build_invite(
        g.state, a.device, role="member", expires=kit.T0, server=kit.SERVER, time=kit.T0
    )
    g.commit(pending)
    body = decode_signed_op(pending.op).op.body
    kit.assert_rejected(g.state, g.forge(a, body), LogError, "invite")
    used = raw_add(g, a, [(kit.member("Bob"), secret.invite_id)])
    g.commit(used)
    kit.assert_rejected(g.state, g.forge(a, body), LogError, "invite")


def test_invite_with_an_invalid_join_key_rejected(kit):
    g, (a,) = kit.group("Alice")
    identity = bytes([1]) + bytes(31)  # the identity point: a key every signature verifies under
    for key in (identity, bytes(32), b"\xff" * 32):
        forged = g.forge(a, Invite(kit.rand(32), key, "member", kit.T0))
        kit.assert_rejected(g.state, forged, LogError, "key")


@pytest.mark.parametrize("fate", ["removed", "left", "demoted", "demoted-then-promoted"])
def test_invites_die_with_their_issuer(kit, fate):
    g, (a, b) = kit.group("Alice", "Bob")
    g.set_role(a, b, "leader")
    secret = g.invite(b)
    assert g.state.invite_usable(secret.invite_id, kit.T0)
    if fate == "removed":
        g.remove(a, b)
    elif fate == "left":
        g.leave(b)
    else:
        g.set_role(a, b, "member")
        if fate == "demoted-then-promoted":
            # docs/protocol.md §5.2: once dead, an invite "can no longer be used".
            g.set_role(a, b, "leader")
    if g.state.pending_rotation:
        g.rotate(a)
    assert not g.state.invite_usable(secret.invite_id, kit.T0)
    with pytest.raises(InviteError):
        verify_join_request(g.state, secret.request(kit.member("C").card, created=0), now=kit.T0)
    late = raw_add(g, a, [(kit.member("Carol"), secret.invite_id)])
    kit.assert_rejected(g.state, late, LogError, "invite_dead")


def test_add_of_an_active_member_or_a_known_device_rejected(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    secret = g.invite(a)
    kit.assert_rejected(g.state, raw_add(g, a, [(b, secret.invite_id)]), LogError, "member")
    assert g.state.invite_usable(secret.invite_id, kit.T0)  # the failed add consumed nothing
    g.remove(a, b)
    # Bob's old device is gone for good, even if Bob comes back.
    kit.assert_rejected(g.state, raw_add(g, a, [(b, g.invite(a).invite_id)]), LogError, "device")


def test_same_member_twice_in_a_batch_rejected(kit):
    g, (a,) = kit.group("Alice")
    bob = kit.member("Bob")
    other = kit.member("Bob's laptop")
    laptop = type(bob)("Bob", bob.secrets, make_card(bob.secrets.member, other.device, created=0))
    joins = [(bob, g.invite(a).invite_id), (laptop, g.invite(a).invite_id)]
    kit.assert_rejected(g.state, raw_add(g, a, joins), LogError, "member")


# --- leaders: the group always keeps one ----------------------------------------------------


def test_the_last_leader_cannot_leave_be_removed_or_step_down(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    kit.assert_rejected(g.state, g.build_leave(a).op, LogError, "last_leader")
    self_remove = build_remove(
        g.state, g.keyring(a), a.device, a.id, [], time=kit.T0, rand=kit.rand
    ).op
    kit.assert_rejected(g.state, self_remove, LogError, "member")
    step_down = build_set_role(g.state, a.device, a.id, "member", time=kit.T0).op
    kit.assert_rejected(g.state, step_down, LogError, "last_leader")
    same = build_set_role(g.state, a.device, a.id, "leader", time=kit.T0).op
    kit.assert_rejected(g.state, same, LogError, "role")


def test_handover_promote_then_step_down(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    g.set_role(a, b, "leader")
    g.set_role(a, a, "member")
    assert [m.id for m in g.state.leaders()] == [b.id]
    # The new leader leads; the old one is a member now.
    kit.assert_rejected(g.state, g.forge(a, Checkpoint([])), LogError, "role")
    g.remove(b, c)
    g.leave(a)
    g.rotate(b)
    assert [m.id for m in g.state.active_members()] == [b.id]
    kit.assert_rejected(g.state, g.build_leave(b).op, LogError, "last_leader")
    assert replay(g.ops) == g.state


def test_a_leader_may_leave_when_another_remains(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    g.set_role(a, b, "leader")
    g.leave(a)
    assert g.state.pending_rotation
    assert not g.state.members[a.id].active


def test_remove_of_a_departed_or_unknown_member_rejected(kit):
    g, (a, _b, c) = kit.group("Alice", "Bob", "Carol")
    g.remove(a, c)
    rot = rotation_of(g.build_rotate(a).op)
    for target in (c.id, kit.member("Nobody").id):
        kit.assert_rejected(g.state, g.forge(a, Remove(target, [], rot)), LogError, "member")


# --- final heads ----------------------------------------------------------------------------


def test_final_heads_must_list_exactly_the_departing_members_devices(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    g.post(b)
    g.post(c)
    hb = ChainHead(b.device_id, 1, bytes(32))
    hc = ChainHead(c.device_id, 1, bytes(32))
    bad_lists = [[], [hc], [hb, hb], sorted([hb, hc], key=lambda h: h.device)]
    for heads in bad_lists:
        kit.assert_rejected(g.state, g.forge(b, Leave(heads)), LogError, "heads")
    rot = rotation_of(g.build_remove(a, b).op)
    for heads in bad_lists:
        kit.assert_rejected(g.state, g.forge(a, Remove(b.id, heads, rot)), LogError, "heads")
    g.commit(g.forge(b, Leave([hb])))  # exactly Bob's device: fine
    assert g.state.devices[b.device_id].final_head == hb


def test_checkpoint_heads_sorted_and_known(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    ha, hb = ChainHead(a.device_id, 1, bytes(32)), ChainHead(b.device_id, 1, bytes(32))
    unsorted = sorted([ha, hb], key=lambda h: h.device, reverse=True)
    kit.assert_rejected(g.state, g.forge(a, Checkpoint(unsorted)), LogError, "heads")
    stranger = ChainHead(kit.member("X").device_id, 1, bytes(32))
    kit.assert_rejected(g.state, g.forge(a, Checkpoint([stranger])), LogError, "checkpoint")


# --- back-links and the history policy ------------------------------------------------------


def test_backlink_required_under_full(kit):
    g, (a, b) = kit.group("Alice", "Bob", policy=kit.FULL)
    built = build_rotation(
        g.id, g.state.epoch + 1, g.state.head, recipients(g, [a, b]), old_key=None, rand=kit.rand
    )
    kit.assert_rejected(g.state, g.forge(a, Rotate(built.rotation)), RotationError, "backlink")
    g.rotate(a)  # the honest builder links back
    assert g.state.rotations[g.state.epoch].rotation.backlink is not None


def test_backlink_forbidden_under_from_join(kit):
    g, (a, b) = kit.group("Alice", "Bob", policy=kit.FROM_JOIN)
    built = build_rotation(
        g.id,
        g.state.epoch + 1,
        g.state.head,
        recipients(g, [a, b]),
        old_key=g.key(a),
        rand=kit.rand,
    )
    kit.assert_rejected(g.state, g.forge(a, Rotate(built.rotation)), RotationError, "backlink")
    # ... in every op that rotates.
    carol = kit.member("Carol")
    honest = decode_signed_op(g.build_add(a, carol).op).op.body
    forged = g.forge(a, Add(honest.members, honest.names, built.rotation))
    # (the rotation lacks Carol's lockbox too, but the back-link is what this policy refuses)
    with pytest.raises(RotationError):
        g.state.copy().apply(forged)
    g.rotate(a)
    assert g.state.rotations[g.state.epoch].rotation.backlink is None


def test_policy_change_applies_to_later_rotations_only(kit):
    g, (a, b) = kit.group("Alice", "Bob", policy=kit.FULL)
    g.rotate(a)
    linked = g.state.epoch
    built_under_full = g.build_rotate(a)  # carries a back-link
    g.set_policy(a, Policy(history="from-join"))
    # The policy in force when an op is applied decides: the stale rotation is refused ...
    stale = g.forge(a, Rotate(rotation_of(built_under_full.op)))
    kit.assert_rejected(g.state, stale, RotationError, "backlink")
    g.rotate(a)
    assert g.state.rotations[g.state.epoch].rotation.backlink is None
    # ... and the rotations before the change keep their back-links.
    assert g.state.rotations[linked].rotation.backlink is not None
    assert replay(g.ops) == g.state
    # And back: from-join -> full. The epoch created under from-join is never linked
    # to (its entries were sealed under the from-join promise) ...
    under_from_join = g.state.epoch
    g.set_policy(a, Policy(history="full"))
    linking = build_rotation(
        g.id,
        g.state.epoch + 1,
        g.state.head,
        recipients(g, [a, b]),
        old_key=g.key(a, under_from_join),
        rand=kit.rand,
    )
    kit.assert_rejected(g.state, g.forge(a, Rotate(linking.rotation)), RotationError, "backlink")
    g.rotate(a)
    first_full = g.state.epoch
    assert g.state.rotations[first_full].rotation.backlink is None
    # ... and from the first epoch created under full on, every rotation links back.
    unlinked = build_rotation(
        g.id, g.state.epoch + 1, g.state.head, recipients(g, [a, b]), old_key=None, rand=kit.rand
    )
    kit.assert_rejected(g.state, g.forge(a, Rotate(unlinked.rotation)), RotationError, "backlink")
    g.rotate(a)
    assert g.state.rotations[g.state.epoch].rotation.backlink is not None


# --- pending rotations ----------------------------------------------------------------------


def test_after_a_leave_any_member_rotates_and_only_once(kit):
    g, (_a, b, c) = kit.group("Alice", "Bob", "Carol")
    g.leave(c)
    assert g.state.pending_rotation
    assert g.state.pending_at[-1]
    pending = g.build_rotate(b)
    assert c.device_id not in pending.lockboxes
    g.commit(pending)
    assert not g.state.pending_rotation
    again = build_rotate(g.state, g.keyring(b), b.device, time=kit.T0).op
    kit.assert_rejected(g.state, again, LogError, "role")


def test_no_checkpoint_while_a_rotation_is_pending(kit):
    """The meeting code comes from the epoch key, which a member who just left still holds."""
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    g.leave(c)
    early = build_checkpoint(g.state, a.device, [], time=kit.T0).op
    kit.assert_rejected(g.state, early, LogError, "pending")
    g.rotate(b)
    g.checkpoint(a)
    assert g.state.checkpoint is not None


def test_genesis_leaves_a_rotation_pending(kit):
    g, (_a,) = kit.group("Alice")
    st = replay(g.ops[:1])
    assert st.pending_rotation
    assert st.epoch == 0
    assert replay(g.ops).epoch == 1


# --- failed applies change nothing ---------------------------------------------------------


def test_failures_after_partial_checks_leave_the_state_untouched(kit):
    """Ops that pass early checks and fail late (batch adds, rotations) move nothing."""
    g, (a, b) = kit.group("Alice", "Bob")
    good = g.invite(a)
    # An add whose first newcomer is fine and whose second names a used invite.
    first = kit.member("Carol")
    g.commit(raw_add(g, a, [(first, g.invite(a).invite_id)]))
    used = g.state.invites
    assert any(i.used_seq is not None for i in used.values())
    used_id = next(i.id for i in used.values() if i.used_seq is not None)
    batch = raw_add(g, a, [(kit.member("Dan"), good.invite_id), (kit.member("Eve"), used_id)])
    kit.assert_rejected(g.state, batch, LogError, "invite_used")
    assert g.state.invites[good.invite_id].used_seq is None
    # A remove that fails on its rotation leaves the target active and the invites alive.
    rot = rotation_of(g.build_rotate(a).op)
    kit.assert_rejected(
        g.state, g.forge(a, Remove(b.id, final_heads(g.state, b.id, []), rot)), RotationError, None
    )
    assert g.state.members[b.id].active


def test_op_hash_and_group_id_commit_to_the_exact_bytes(kit):
    g, _ = kit.group("Alice")
    assert g.state.op_hashes == [op_hash(op) for op in g.ops]
    assert g.state.head == op_hash(g.ops[-1])
    other, _ = kit.group("Alice")
    assert other.id != g.id  # the genesis nonce makes every group distinct


def test_role_from_the_invite_and_set_role_of_a_stranger(kit):
    g, (a,) = kit.group("Alice")
    bob = kit.member("Bob")
    g.add(a, bob, role="leader")
    assert g.state.members[bob.id].role == "leader"
    stranger = g.forge(a, SetRole(kit.member("Nobody").id, "leader", []))
    kit.assert_rejected(g.state, stranger, LogError, "member")


def test_new_member_record_binds_the_card(kit):
    g, (a,) = kit.group("Alice")
    bob, mallory = kit.member("Bob"), kit.member("Mallory")
    secret = g.invite(a)
    honest = decode_signed_op(raw_add(g, a, [(bob, secret.invite_id)]).op).op.body
    # Bob's card with Mallory's KEM key: the card signatures no longer verify.
    cert = msgspec.structs.replace(bob.card.cert, kem_key=mallory.device.kem_public)
    card = msgspec.structs.replace(bob.card, cert=cert)
    forged = g.forge(a, Add([NewMember(card, secret.invite_id)], honest.names, honest.rotation))
    kit.assert_rejected(g.state, forged, LogError, "card")


def test_leave_is_self_signed(kit):
    g, (_a, b, c) = kit.group("Alice", "Bob", "Carol")
    # Bob cannot make Carol leave: a leave always departs its signer.
    g.post(c)
    forged = g.forge(b, Leave(g.heads(c)))
    kit.assert_rejected(g.state, forged, LogError, "heads")
    assert build_leave(g.state, c.device, c.id, g.heads(c), time=kit.T0)


# --- join requests and invite codes (what the server checks before a leader sees them) ------


def test_join_request_checks(kit):
    g, (a,) = kit.group("Alice")
    h, _ = kit.group("Alice", founder=a)
    secret = g.invite(a)
    bob, mallory = kit.member("Bob"), kit.member("Mallory")
    verify_join_request(g.state, secret.request(bob.card, created=0), now=kit.T0)
    # Signed with the right join key but naming another group.
    req = decode_join_request(secret.request(bob.card, created=0)).request
    elsewhere = msgspec.structs.replace(req, group=h.id)
    signed = encode(
        SignedJoinRequest(elsewhere, secret.sign_join(labels.SIG_JOIN, encode(elsewhere)))
    )
    with pytest.raises(InviteError, match="another group"):
        verify_join_request(g.state, signed, now=kit.T0)
    with pytest.raises(InviteError):
        verify_join_request(h.state, signed, now=kit.T0)
    # A card whose signatures do not hold (Mallory's KEM key in Bob's card).
    cert = msgspec.structs.replace(bob.card.cert, kem_key=mallory.device.kem_public)
    card = msgspec.structs.replace(bob.card, cert=cert)
    with pytest.raises(InviteError):
        verify_join_request(g.state, secret.request(card, created=0), now=kit.T0)
    # Signed with another invite's join key.
    other = g.invite(a)
    swapped = encode(SignedJoinRequest(req, other.sign_join(labels.SIG_JOIN, encode(req))))
    with pytest.raises(InviteError):
        verify_join_request(g.state, swapped, now=kit.T0)
    # The MAC only the issuing leader can check.
    assert secret.check_mac(req)
    assert not other.check_mac(req)
    assert not secret.check_mac(msgspec.structs.replace(req, card=mallory.card))


def test_invite_codes_are_short_and_name_every_typo(kit):
    g, (a,) = kit.group("Alice")
    secret = g.invite(a)
    code, server = secret.code, secret.server
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){5}", code)
    assert secret.link == f"{server}#{code}"
    same = InviteCode.parse(code.lower().replace("-", " "), server.upper() + "/")
    assert (same.secret, same.server) == (secret.secret, server)
    # Crockford look-alikes read as what they look like.
    looks = code.replace("0", "o").replace("1", "l")
    assert InviteCode.parse(looks, server).secret == secret.secret
    # The invite id is the secret's alone; the join key is the secret's for this group.
    assert InviteCode.parse(code, server).invite_id == secret.invite_id
    assert secret.pinned(g.state)
    assert not InviteSecret(secret.secret, bytes(32), server).pinned(g.state)
    # Every single substitution and every swap of neighbours is a typo, named as such.
    symbols = code.replace("-", "")
    typos = [
        symbols[:i] + c + symbols[i + 1 :]
        for i in range(len(symbols))
        for c in "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
        if c != symbols[i]
    ]
    typos += [
        symbols[:i] + symbols[i + 1] + symbols[i] + symbols[i + 2 :]
        for i in range(len(symbols) - 1)
        if symbols[i] != symbols[i + 1]
    ]
    for bad in typos:
        with pytest.raises(InviteError, match="one of them has a typo"):
            InviteCode.parse(bad, server)
    with pytest.raises(InviteError, match="one of them has a typo"):
        InviteCode.parse(code, server.replace("example", "exampel"))
    with pytest.raises(InviteError, match="has 30 letters and digits; this one has 29"):
        InviteCode.parse(symbols[:-1], server)
    with pytest.raises(InviteError, match="'U' is not one of them"):
        InviteCode.parse("U" + symbols[1:], server)
    with pytest.raises(InviteError, match="no server address"):
        InviteCode.parse_link(code)
    assert looks_like_invite_code(code)
    assert not looks_like_invite_code("Dana Alexandra Montgomery-Smith")


# --- ops that take a power away pin the chains they affect -----------------------------------


def test_a_demotion_pins_exactly_the_members_devices(kit):
    g, (a, b, _c) = kit.group("Alice", "Bob", "Carol")
    g.set_role(a, b, "leader")
    g.post(b, b"as a leader")
    bare = g.forge(a, SetRole(b.id, "member", []))
    with pytest.raises(LogError) as info:
        g.state.copy().apply(bare)
    assert info.value.check == "heads"
    g.set_role(a, b, "member")
    [(seq, head)] = g.state.devices[b.device_id].pins
    assert (seq, head.seq) == (g.state.seq, 1)
    # A promotion pins nothing: listing heads is refused.
    extra = g.forge(a, SetRole(b.id, "leader", [g.tracker.heads()[0]]))
    with pytest.raises(LogError) as info:
        g.state.copy().apply(extra)
    assert info.value.check == "heads"


def test_a_stricter_notes_policy_pins_every_other_members_devices(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    assert g.state.policy_pins(Policy(notes="leaders")) == sorted([b.device_id, c.device_id])
    assert g.state.policy_pins(Policy(history="full")) == []
    with pytest.raises(LogError) as info:
        g.state.copy().apply(g.forge(a, SetPolicy(Policy(notes="leaders"), [])))
    assert info.value.check == "heads"
    g.set_policy(a, Policy(notes="leaders"))
    assert [s for s, _ in g.state.devices[b.device_id].pins] == [g.state.seq]
    assert g.state.devices[a.device_id].pins == []
    # Back to "all" gives a power: nothing to pin.
    assert g.state.policy_pins(Policy(notes="all")) == []


# --- op times: never decreasing, never in the future (§5.1, §9.1) -----------------------------


def _signed_at(g, signer, body, time):
    """An op signed with exactly `time` (sign_op would date it no earlier than the head)."""
    op = msgspec.structs.replace(decode_signed_op(g.forge(signer, body)).op, time=time)
    return encode(SignedOp(op, signer.device.sign(labels.SIG_OP, encode(op))))


def test_an_op_dated_before_the_op_it_follows_is_refused(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    head_time = g.state.time
    assert head_time > 0
    earlier = _signed_at(g, a, Checkpoint(g.tracker.heads()), head_time - 1)
    before = g.state.copy()
    with pytest.raises(LogError) as info:
        g.state.apply(earlier)
    assert info.value.check == "time"
    assert (g.state.seq, g.state.time) == (before.seq, before.time)
    # An honest builder whose clock is behind dates its op at the head's time instead.
    pending = build_checkpoint(g.state, a.device, g.tracker.heads(), time=head_time - 3600)
    assert decode_signed_op(pending.op).op.time == head_time
    assert g.state.copy().apply(pending.op).op.time == head_time


def test_an_op_dated_past_the_verifiers_clock_is_refused(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    dated = g.state.time + 100
    later = _signed_at(g, a, Checkpoint(g.tracker.heads()), dated)
    with pytest.raises(LogError) as info:
        g.state.copy().apply(later, not_after=dated - 1)
    assert info.value.check == "future"
    g.state.apply(later, not_after=dated)
    assert g.state.time == dated


def test_a_device_stays_departed_from_its_first_departure(kit):
    """Bob is removed, added again on a new device, and removed again: his first device's
    span ends at the first removal, so nothing it writes later passes for a member's."""
    g, (a, b) = kit.group("Alice", "Bob")
    g.remove(a, b)
    first_removal = g.state.seq
    old_device = b.device_id
    secrets = dataclasses.replace(b.secrets, device=kit.member("Bob").device)
    again = Member("Bob", secrets, make_card(secrets.member, secrets.device, created=kit.T0))
    g.add(a, again)
    assert g.state.members[b.id].active
    assert g.state.devices[old_device].departed_seq == first_removal
    assert g.state.devices[old_device].departed_as == "removed"
    assert not g.state.is_active_device(old_device)
    g.remove(a, again)
    assert g.state.devices[old_device].departed_seq == first_removal
    assert g.state.devices[again.device_id].departed_seq == g.state.seq
