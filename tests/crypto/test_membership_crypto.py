"""Membership and keys: what a removed member, a newcomer, a leaver or a lying leader can reach.

The removed member here is the strongest one the design admits: they keep
every key they ever held, every op, every lockbox the server stores (theirs
and everyone else's) and every entry's bytes.
"""

from __future__ import annotations

import msgspec
import pytest
from chatham.crypto import (
    CouldNotOpen,
    EntryError,
    Keyring,
    LogError,
    Policy,
    RotationError,
    Secrets,
    build_add,
    check_entry_public,
    check_group_name,
    create_group,
    decode_entry,
    decode_signed_op,
    labels,
    make_card,
    open_entry,
    replay,
)
from chatham.crypto import _primitives as P
from chatham.crypto._epoch import (
    Recipient,
    build_rotation,
    key_confirmation,
    lockbox_hash,
    lockbox_info,
    open_backlink,
    open_names,
    seal_names,
)
from chatham.crypto._identity import DeviceKeys
from chatham.crypto._log import sign_op
from chatham.crypto._records import Checkpoint, LockboxRef, Rotate


def everyone(g):
    return [Recipient(d.member, d.id, d.kem_key) for d in g.state.active_devices()]


def assert_entry_rejected(state, entry, check):
    with pytest.raises(EntryError) as info:
        check_entry_public(state, entry)
    assert info.value.check == check, info.value


# --- removal --------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [Policy(history="full"), Policy(history="from-join")])
def test_removed_member_with_every_byte_cannot_read_later_epochs(kit, policy):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol", policy=policy)
    for m in (a, b, c):
        g.post(m, b"epoch %d by %s" % (g.state.epoch, m.name.encode()))
    g.rotate(a)
    g.post(c, b"still fine for Bob")
    removed_at = g.state.epoch
    g.remove(a, b)
    secret = b"after Bob: the plan"
    after = [g.post(a, secret), g.post(c, secret)]
    g.rotate(c if g.state.pending_rotation else a)
    after.append(g.post(c, secret))
    g.add(a, kit.member("Dan"))
    after.append(g.post(a, secret))
    g.checkpoint(a)

    # Bob's loot: everything the server stores, and every key he ever held.
    ops = list(g.ops)
    lockboxes = {e: dict(boxes) for e, boxes in g.lockboxes.items()}
    entries = [decode_entry(s.data) for s in g.entries]
    bobs = Keyring(dict(g.keyring(b).keys))
    assert max(bobs.keys) == removed_at
    state = replay(ops)
    bobs.follow_backlinks(state)  # nothing new: back-links only ever lead back
    assert max(bobs.keys) == removed_at

    later_entries = [e for e in entries if e.header.epoch > removed_at]
    assert len(later_entries) == len(after)
    for e in later_entries:
        check_entry_public(state, e)  # the entries are valid; Bob just cannot read them
        for key in bobs.keys.values():
            with pytest.raises(CouldNotOpen):
                open_entry(e, key)
        with pytest.raises(CouldNotOpen):
            bobs.key(e.header.epoch)

    for epoch in range(removed_at + 1, state.epoch + 1):
        info = state.rotations[epoch]
        assert b.device_id not in {r.device for r in info.rotation.refs}
        assert b.device_id not in lockboxes[epoch]
        for device, sealed in lockboxes[epoch].items():
            # Through the keyring: he has no ref in the rotation.
            with pytest.raises(RotationError) as err:
                Keyring(dict(bobs.keys)).accept_lockbox(state, b.device, b.id, epoch, sealed)
            assert err.value.check == "lockbox_missing"
            # By hand, with his KEM key, under every info he could try.
            target = state.devices[device]
            for member, dev, kem in (
                (target.member, device, target.kem_key),
                (b.id, b.device_id, b.device.kem_public),
            ):
                hpke_info = lockbox_info(g.id, epoch, info.prev, member, dev, kem)
                with pytest.raises(CouldNotOpen):
                    b.device.open_lockbox(hpke_info, sealed)
        for key in bobs.keys.values():
            if info.rotation.backlink is not None:
                with pytest.raises(CouldNotOpen):
                    open_backlink(key, info.rotation.backlink, g.id, epoch)
            if info.names is not None:
                with pytest.raises(CouldNotOpen):
                    open_names(key, g.id, epoch, info.prev, info.names)
    # He cannot compute the meeting code of a checkpoint taken after his removal.
    assert bobs.meeting_code(state) is None
    assert g.keyring(a).meeting_code(state) is not None


def test_removed_member_cannot_post_claiming_an_old_log_head(kit):
    g, (a, b, _c) = kit.group("Alice", "Bob", "Carol")
    g.post(b, b"my last word")
    old = {"log_seq": g.state.seq, "log_head": g.state.head, "epoch": g.state.epoch}
    g.remove(a, b)
    # Claiming the head from when he was a member, with the key of that epoch.
    assert_entry_rejected(g.state, g.seal(b, b"I'm still here", **old).entry, "departed")
    # Claiming the current head: he is not a member there.
    now = g.seal(b, b"hello?", epoch_key=kit.rand(32))
    assert_entry_rejected(g.state, now.entry, "author")
    # A rewrite of his last entry (same seq, other content) is refused too.
    g.chains[b.device_id] = (0, bytes(32))
    assert_entry_rejected(g.state, g.seal(b, b"edited", **old).entry, "departed")


# --- newcomers ------------------------------------------------------------------------------


def test_from_join_newcomer_cannot_open_an_entry_posted_just_before_the_add(kit):
    g, (a, b) = kit.group("Alice", "Bob", policy=kit.FROM_JOIN)
    g.rotate(a)
    before = g.post(b, b"said before Dan came")
    dan = kit.member("Dan")
    g.add(a, dan)
    rotation = g.state.rotations[g.state.epoch].rotation
    assert rotation.backlink is None
    dans = g.keyring(dan)
    assert sorted(dans.keys) == [g.state.epoch]
    dans.follow_backlinks(g.state)
    assert sorted(dans.keys) == [g.state.epoch]
    with pytest.raises(CouldNotOpen):
        dans.key(before.entry.header.epoch)
    for key in dans.keys.values():
        with pytest.raises(CouldNotOpen):
            open_entry(before.entry, key)
    # What comes after the add, Dan reads.
    assert open_entry(g.post(b, b"welcome").entry, g.key(dan)) == b"welcome"
    # And the others still read the old entry with their own key.
    assert open_entry(before.entry, g.key(a, before.entry.header.epoch)) == b"said before Dan came"


def test_full_history_newcomer_reads_back_through_the_chain(kit):
    g, (a,) = kit.group("Alice", policy=kit.FULL)
    first = g.post(a, b"the very first entry")
    assert first.entry.header.epoch == 1
    b = kit.member("Bob")
    g.add(a, b)
    g.rotate(a)
    g.post(b, b"second epoch")
    g.rotate(b if g.state.pending_rotation else a)
    before = g.post(b, b"just before Dan")
    dan = kit.member("Dan")
    g.add(a, dan)
    dans = g.keyring(dan)
    assert sorted(dans.keys) == list(range(1, g.state.epoch + 1))
    for sealed in g.entries:
        assert open_entry(sealed.entry, g.key(dan, sealed.entry.header.epoch)) is not None
    assert open_entry(first.entry, g.key(dan, 1)) == b"the very first entry"
    assert open_entry(before.entry, g.key(dan, before.entry.header.epoch)) == b"just before Dan"
    # Every key Dan recovered is the key the members had.
    for epoch, key in dans.keys.items():
        assert key == g.key(a, epoch)


def test_history_chain_stops_at_a_from_join_period(kit):
    g, (a, _b) = kit.group("Alice", "Bob", policy=kit.FULL)
    g.rotate(a)  # epoch 3 links to 2
    g.set_policy(a, Policy(history="from-join"))
    g.rotate(a)  # epoch 4: no back-link
    g.set_policy(a, Policy(history="full"))
    dan = kit.member("Dan")
    g.add(a, dan)  # epoch 5: epoch 4 was created under from-join, so nothing links to it
    assert sorted(g.keyring(dan).keys) == [5]
    g.rotate(a)  # epoch 6, the first created under full's successor, links back to 5
    assert g.state.rotations[6].rotation.backlink is not None


def test_forged_backlink_is_caught_by_the_earlier_confirmation(kit):
    g, (a, b) = kit.group("Alice", "Bob", policy=kit.FULL)
    g.rotate(a)
    # A leader links epoch n+1 back to a key that is not epoch n's.
    built = build_rotation(
        g.id, g.state.epoch + 1, g.state.head, everyone(g), old_key=kit.rand(32), rand=kit.rand
    )
    g.state.apply(g.forge(a, Rotate(built.rotation)))  # publicly well-formed
    newcomer = Keyring()
    with pytest.raises(CouldNotOpen):
        newcomer.accept_lockbox(
            g.state, b.device, b.id, built.rotation.epoch, built.lockboxes[b.device_id]
        )
    # Bob's existing keyring is not polluted by the lie.
    ring = Keyring({built.rotation.epoch: built.key})
    with pytest.raises(CouldNotOpen):
        ring.follow_backlinks(g.state)
    assert list(ring.keys) == [built.rotation.epoch]


# --- leaving --------------------------------------------------------------------------------


def test_after_a_leave_the_old_epoch_is_refused_until_anyone_rotates(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    old_epoch = g.state.epoch
    g.leave(c)
    # Every remaining member is refused, leader or not, and so would the server be.
    for m in (a, b):
        assert_entry_rejected(g.state, g.seal(m, b"too soon").entry, "epoch")
    # Bob (not a leader) performs the pending rotation.
    g.rotate(b)
    assert g.state.epoch == old_epoch + 1
    stale = g.seal(a, b"old key, new head", epoch=old_epoch)
    assert_entry_rejected(g.state, stale.entry, "epoch")
    fresh = g.post(a, b"after Carol")
    for key in g.keyring(c).keys.values():
        with pytest.raises(CouldNotOpen):
            open_entry(fresh.entry, key)
    assert open_entry(fresh.entry, g.key(b)) == b"after Carol"


# --- key substitution -----------------------------------------------------------------------


def test_server_swapping_a_lockbox_is_caught(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    pending = g.build_rotate(a)
    g.state.apply(pending.op)
    epoch = pending.epoch
    info = g.state.rotations[epoch]
    # A lockbox sealed by the server to Bob, under the right info, holding its own key.
    hpke_info = lockbox_info(g.id, epoch, info.prev, b.id, b.device_id, b.device.kem_public)
    servers = P.hpke_seal(b.device.kem_public, hpke_info, kit.rand(32))
    for swapped in (servers, pending.lockboxes[c.device_id], g.lockboxes[epoch - 1][b.device_id]):
        ring = Keyring(dict(g.keyring(b).keys))
        with pytest.raises(RotationError) as err:
            ring.accept_lockbox(g.state, b.device, b.id, epoch, swapped)
        assert err.value.check == "lockbox_hash"
        assert epoch not in ring.keys


def test_leader_substituting_a_key_is_caught_by_the_confirmation(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    epoch, prev = g.state.epoch + 1, g.state.head
    built = build_rotation(g.id, epoch, prev, everyone(g), old_key=None, rand=kit.rand)
    # Bob's lockbox holds another key, and its ref commits to that lockbox.
    hpke_info = lockbox_info(g.id, epoch, prev, b.id, b.device_id, b.device.kem_public)
    other_key = kit.rand(32)
    bobs = P.hpke_seal(b.device.kem_public, hpke_info, other_key)
    refs = [
        LockboxRef(r.device, lockbox_hash(g.id, epoch, r.device, bobs))
        if r.device == b.device_id
        else r
        for r in built.rotation.refs
    ]
    rotation = msgspec.structs.replace(built.rotation, refs=refs)
    g.state.apply(g.forge(a, Rotate(rotation)))  # the server cannot tell
    ring = Keyring(dict(g.keyring(b).keys))
    with pytest.raises(CouldNotOpen):
        ring.accept_lockbox(g.state, b.device, b.id, epoch, bobs)
    assert epoch not in ring.keys
    # Carol's lockbox is honest and opens.
    carols = Keyring()
    carols.accept_lockbox(g.state, c.device, c.id, epoch, built.lockboxes[c.device_id])
    assert carols.key(epoch) == built.key
    assert key_confirmation(built.key, g.id, epoch, prev) == rotation.confirm
    assert key_confirmation(other_key, g.id, epoch, prev) != rotation.confirm


def test_an_old_lockbox_recommitted_in_a_new_rotation_does_not_open(kit):
    """HPKE info binds group, epoch, prev, member and key: a replayed lockbox fails."""
    g, (a, b) = kit.group("Alice", "Bob")
    old = g.lockboxes[g.state.epoch][b.device_id]
    epoch = g.state.epoch + 1
    built = build_rotation(g.id, epoch, g.state.head, everyone(g), old_key=None, rand=kit.rand)
    refs = [
        LockboxRef(r.device, lockbox_hash(g.id, epoch, r.device, old))
        if r.device == b.device_id
        else r
        for r in built.rotation.refs
    ]
    g.state.apply(g.forge(a, Rotate(msgspec.structs.replace(built.rotation, refs=refs))))
    with pytest.raises(CouldNotOpen):
        Keyring().accept_lockbox(g.state, b.device, b.id, epoch, old)


def test_lockbox_for_the_wrong_member_id_does_not_open(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    p = g.build_rotate(a)
    g.state.apply(p.op)
    with pytest.raises(CouldNotOpen):
        Keyring().accept_lockbox(g.state, b.device, a.id, p.epoch, p.lockboxes[b.device_id])
    with pytest.raises(RotationError):
        Keyring().accept_lockbox(g.state, b.device, b.id, p.epoch + 1, p.lockboxes[b.device_id])


# --- meeting code ---------------------------------------------------------------------------


def test_meeting_code_is_shared_by_members_and_changes_with_the_checkpoint(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    assert g.keyring(a).meeting_code(g.state) is None  # no checkpoint yet
    g.post(b)
    fork = g.state.copy()
    g.checkpoint(a)
    codes = {g.keyring(m).meeting_code(g.state) for m in (a, b, c)}
    assert len(codes) == 1
    code = codes.pop()
    assert code is not None
    assert len(code.split()) == 6
    # A different checkpoint (the server showed Carol another log) gives another code.
    fork.apply(sign_op(fork, a.device, Checkpoint([]), time=kit.T0))
    assert g.keyring(c).meeting_code(fork) != code
    # A later checkpoint gives a new code; an outsider with a random key gets nothing alike.
    g.post(c)
    g.checkpoint(a)
    latest = g.keyring(b).meeting_code(g.state)
    assert latest not in (None, code)
    assert Keyring({g.state.epoch: kit.rand(32)}).meeting_code(g.state) != latest


# --- re-adding a member, and attested names -------------------------------------------------


def _new_device(kit, m):
    """The same person (member key) on a new device."""
    dev = DeviceKeys.from_seeds(kit.rand(32), kit.rand(96))
    s = Secrets(m.secrets.member, dev, kit.rand(32), kit.T0)
    return type(m)(m.name, s, make_card(m.secrets.member, dev, created=kit.T0))


def test_readded_member_does_not_bring_back_the_old_device(kit):
    g, (a, b, _c) = kit.group("Alice", "Bob", "Carol")
    old_entry = g.post(b, b"from my old phone")
    g.remove(a, b)
    new_b = _new_device(kit, b)
    assert new_b.id == b.id
    g.people.pop(b.id)
    g.add(a, new_b)
    state = replay(g.ops)
    # The old device stays departed: no lockbox in later rotations ...
    assert b.device_id not in {d.id for d in state.active_devices()}
    pending = g.build_rotate(a)
    assert b.device_id not in pending.lockboxes
    assert new_b.device_id in pending.lockboxes
    # ... no op signed by it is accepted ...
    with pytest.raises(LogError) as err:
        state.copy().apply(g.forge(b, Rotate(decode_signed_op(pending.op).op.body.rotation)))
    assert err.value.check == "signer"
    # ... and it posts nothing new, whichever log head it claims.
    now = g.seal(b, b"old phone again", epoch_key=g.key(a))
    assert_entry_rejected(state, now.entry, "author")
    then = {"log_seq": 3, "log_head": state.op_hashes[3], "epoch": state.epoch_at[3]}
    assert_entry_rejected(state, g.seal(b, b"old phone, old head", **then).entry, "departed")
    # What Bob wrote during his first membership still verifies.
    assert check_entry_public(state, old_entry.entry) == old_entry.link
    # The new device cannot backdate entries into the first membership.
    g.post(new_b, b"hello again")
    g.chains.pop(new_b.device_id)
    backdated = g.seal(new_b, b"backdated", epoch_key=g.key(a, then["epoch"]), **then)
    assert_entry_rejected(state, backdated.entry, "author")
    # Removing Bob again lists exactly his current device.
    g.remove(a, new_b)
    assert [h.device for h in decode_signed_op(g.ops[-1]).op.body.heads] == [new_b.device_id]
    assert state.devices[b.device_id].final_head == g.state.devices[b.device_id].final_head


def test_only_the_founders_first_rotation_carries_names(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    g.leave(c)
    # Bob (a member) performs the pending rotation and slips in names of his choosing.
    epoch, prev = g.state.epoch + 1, g.state.head
    built = build_rotation(g.id, epoch, prev, everyone(g), old_key=None, rand=kit.rand)
    names = seal_names(built.key, g.id, epoch, prev, [(a.id, "Bob"), (b.id, "Alice")], kit.rand)
    with pytest.raises(LogError) as err:
        g.state.copy().apply(g.forge(b, Rotate(built.rotation, names)))
    assert err.value.check == "names"
    g.commit(g.build_rotate(b))
    assert g.keyring(a).names(g.state) == {a.id: "Alice", b.id: "Bob", c.id: "Carol"}


def test_lockbox_info_binds_every_field_the_spec_names(kit):
    """docs/protocol.md §6.1: info = frame(HPKE_LOCKBOX, group, n, prev, member, device, H(kem))."""
    g, (a, b) = kit.group("Alice", "Bob")
    p = g.build_rotate(a)
    epoch, prev = p.epoch, g.state.head
    sealed = p.lockboxes[b.device_id]

    def info(**over):
        f = {
            "group": g.id,
            "epoch": epoch,
            "prev": prev,
            "member": b.id,
            "device": b.device_id,
            "kem": b.device.kem_public,
        }
        f.update(over)
        return P.frame(
            (
                labels.HPKE_LOCKBOX,
                f["group"],
                f["epoch"].to_bytes(8, "big"),
                f["prev"],
                f["member"],
                f["device"],
                P.tagged_hash(labels.H_LOCKBOX, f["kem"]),
            )
        )

    assert b.device.open_lockbox(info(), sealed) == p.key
    for over in (
        {"group": kit.rand(32)},
        {"epoch": epoch + 1},
        {"prev": g.state.op_hashes[-2]},
        {"member": a.id},
        {"device": a.device_id},
        {"kem": a.device.kem_public},
    ):
        with pytest.raises(CouldNotOpen):
            b.device.open_lockbox(info(**over), sealed)


def test_the_group_name_is_attested_sealed_and_reaches_newcomers(kit):
    """§6.4: the founder's first rotation and every add may attest the group's name, under
    the new epoch key; a newcomer under from-join reads it from their own add."""
    alice, carol = kit.member("Alice"), kit.member("Carol")
    made = create_group(
        alice.secrets,
        alice.name,
        time=kit.T0,
        card=alice.card,
        group_name="  Thursday   Forum ",
        rand=kit.rand,
    )
    keyring = Keyring()
    keyring.accept_lockbox(made.state, alice.device, alice.id, 1, made.lockboxes[alice.device_id])
    assert keyring.group_name(made.state) == "Thursday Forum"
    assert Keyring().group_name(made.state) is None  # sealed: no key, no name
    # An add re-attests it (and may rename it); the newcomer, holding only the new key, reads it.
    g, (a, b) = kit.group("Alice", "Bob", policy=kit.FROM_JOIN)
    assert g.keyring(a).group_name(g.state) is None  # this founder attested none
    g.people[carol.id] = carol
    invite = g.invite(a)
    pending = build_add(
        g.state,
        g.keyring(a),
        a.device,
        [g.join_request(invite, carol)],
        time=kit.T0,
        group_name="Second Circle",
        rand=kit.rand,
    )
    g.commit(pending)
    assert g.keyring(carol).group_name(g.state) == "Second Circle"
    assert g.keyring(b).group_name(g.state) == "Second Circle"
    for bad in ("", "x" * 101, "bell\x07", "7K2QD-M4X9P-3GHTW-RW1TK-3H8JX-KFE8J"):
        with pytest.raises(ValueError, match="group name"):
            check_group_name(bad)
