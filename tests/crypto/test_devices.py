"""Several devices per member: who may add or remove one, and what a removed device keeps.

A member's devices share the member key; each has its own signing and KEM key and its own
chain. `add-device` needs no leader but an active device of the same member and a card the
member key signed; `remove-device` is signed by another device of that member or by a leader,
pins the removed device's final head and rotates past it.
"""

from __future__ import annotations

import msgspec
import pytest
from chatham.crypto import (
    MAX_MEMBER_DEVICES,
    AddDevice,
    ChainHead,
    CouldNotOpen,
    EntryError,
    Keyring,
    LogError,
    RemoveDevice,
    RotationError,
    Secrets,
    build_add_device,
    build_remove_device,
    check_entry_public,
    decode_signed_op,
    labels,
    make_card,
    open_entry,
    replay,
)
from chatham.crypto._identity import DeviceKeys, MemberKeys
from chatham.crypto._records import DeviceCert, MemberCard


def second_device(kit, m):
    """Another device of the same person: same member key, new signing and KEM keys."""
    dev = DeviceKeys.from_seeds(kit.rand(32), kit.rand(96))
    s = Secrets(m.secrets.member, dev, kit.rand(32), kit.T0)
    return type(m)(m.name + "'s laptop", s, make_card(m.secrets.member, dev, created=kit.T0))


def add_device(g, by, new):
    """`by` records `new` (a device of the same member); `new` gets the keys `by` holds."""
    g.commit(build_add_device(g.state, by.device, new.card, time=g.kit.T0))
    return Keyring(dict(g.keyring(by).keys))


def open_own_lockbox(g, dev, ring, pending):
    ring.accept_lockbox(
        g.state, dev.device, dev.id, pending.epoch, pending.lockboxes[dev.device_id]
    )


def rejected(state, data, check, error=LogError):
    before = state.copy()
    with pytest.raises(LogError) as info:
        state.apply(data)
    assert type(info.value) is error, info.value
    assert info.value.check == check, info.value
    assert state == before
    return info.value


def test_a_member_adds_their_own_device_without_a_leader_and_rotations_seal_to_it(kit):
    g, (a, b, _c) = kit.group("Alice", "Bob", "Carol")
    b2 = second_device(kit, b)
    ring = add_device(g, b, b2)  # Bob is no leader
    state = replay(g.ops)
    assert state.current_devices(b.id) == sorted([b.device_id, b2.device_id])
    assert state.is_active_device(b2.device_id)
    assert state.epoch == g.state.epoch  # no rotation: the member already holds the keys
    pending = g.rotate(a)
    assert set(pending.lockboxes) == {d.id for d in state.active_devices()}
    open_own_lockbox(g, b2, ring, pending)
    assert ring.key(g.state.epoch) == g.key(a)


def test_two_devices_of_one_member_posting_at_once_keep_both_entries_and_chains(kit):
    g, (a, b, _c) = kit.group("Alice", "Bob", "Carol")
    b2 = second_device(kit, b)
    add_device(g, b, b2)
    g.keyrings[b.id] = g.keyring(b)  # one member, one set of keys on both devices
    # Both devices seal against the same log head at the same moment.
    first = g.seal(b, b"from the desktop")
    second = g.seal(b2, b"from the laptop", epoch_key=g.key(b))
    for sealed in (second, first):
        g.accept(sealed)
    heads = {h.device: h for h in g.tracker.heads()}
    assert heads[b.device_id] == ChainHead(b.device_id, 1, first.link)
    assert heads[b2.device_id] == ChainHead(b2.device_id, 1, second.link)
    assert open_entry(first.entry, g.key(a)) == b"from the desktop"
    assert open_entry(second.entry, g.key(a)) == b"from the laptop"


def test_a_card_the_member_key_did_not_sign_is_refused(kit):
    """What a server (or a thief with only a device's signing key) would need: a device the
    member key vouches for. A card signed by any other key is refused."""
    g, (_a, b, _c) = kit.group("Alice", "Bob", "Carol")
    b2 = second_device(kit, b)
    cert = b2.card.cert
    impostor = MemberKeys.from_seed(kit.rand(32))
    body = msgspec.msgpack.encode(cert)
    forged = MemberCard(
        cert, impostor.sign(labels.SIG_CARD, body), b2.device.sign(labels.SIG_CARD, body)
    )
    rejected(g.state, g.forge(b, AddDevice(forged)), "card")
    # The server cannot sign an op at all: one whose signature is not a device's is refused.
    op = build_add_device(g.state, b.device, b2.card, time=kit.T0).op
    rejected(g.state, kit.flip(op, len(op) - 1), "signature")


def test_a_device_of_another_member_cannot_add_one(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    b2 = second_device(kit, b)
    # Carol replays Bob's genuine card: Bob's key vouches for it, but Carol is not Bob.
    rejected(g.state, g.forge(c, AddDevice(b2.card)), "member")
    # Not even a leader adds a device to someone else.
    rejected(g.state, g.forge(a, AddDevice(b2.card)), "member")
    # A card for Carol's own key that names Bob's device key is Bob's device, not hers.
    c_new = second_device(kit, c)
    add_device(g, c, c_new)
    rejected(g.state, g.forge(b, AddDevice(c_new.card)), "member")


def test_a_device_is_added_once_and_a_member_has_a_bounded_number(kit):
    g, (_a, b, _c) = kit.group("Alice", "Bob", "Carol")
    b2 = second_device(kit, b)
    add_device(g, b, b2)
    rejected(g.state, g.forge(b, AddDevice(b2.card)), "device")
    rejected(g.state, g.forge(b, AddDevice(b.card)), "device")
    while len(g.state.current_devices(b.id)) < MAX_MEMBER_DEVICES:
        add_device(g, b, second_device(kit, b))
    rejected(g.state, g.forge(b, AddDevice(second_device(kit, b).card)), "device")


def remove_device(g, by, target):
    heads = [h for h in g.tracker.heads() if h.device == target.device_id]
    pending = build_remove_device(
        g.state, g.keyring(by), by.device, target.device_id, heads, time=g.kit.T0, rand=g.kit.rand
    )
    return pending


def test_a_removed_devices_copy_reads_nothing_later_and_signs_nothing_accepted(kit):
    g, (_a, b, c) = kit.group("Alice", "Bob", "Carol")
    lost = second_device(kit, b)
    stolen_ring = add_device(g, b, lost)
    g.keyrings[b.id] = g.keyring(b)
    g.post(lost, b"before the laptop was stolen", epoch_key=g.key(b))
    at_removal = g.state.seq
    removal = remove_device(g, b, lost)
    g.commit(removal)
    state = replay(g.ops)
    assert not state.is_active_device(lost.device_id)
    assert state.is_active_device(b.device_id)  # Bob stays, on his other device
    assert state.devices[lost.device_id].final_head.seq == 1
    assert lost.device_id not in removal.lockboxes
    # The thief keeps the laptop's keys and every byte the server stores.
    after = g.post(c, b"after the theft")
    with pytest.raises(CouldNotOpen):
        stolen_ring.key(after.entry.header.epoch)
    for key in stolen_ring.keys.values():
        with pytest.raises(CouldNotOpen):
            open_entry(after.entry, key)
    with pytest.raises(RotationError) as err:
        stolen_ring.accept_lockbox(
            state, lost.device, lost.id, removal.epoch, removal.lockboxes[b.device_id]
        )
    assert err.value.check == "lockbox_missing"
    # Nothing the laptop signs is accepted: no op ...
    rejected(g.state, g.forge(lost, AddDevice(second_device(kit, b).card)), "signer")
    # ... no entry at the current head, none claiming a head from before the removal ...
    held = max(stolen_ring.keys)
    now = g.seal(lost, b"still here", epoch=held, epoch_key=stolen_ring.key(held))
    with pytest.raises(EntryError) as e1:
        check_entry_public(state, now.entry)
    assert e1.value.check == "author"
    old = {
        "log_seq": at_removal,
        "log_head": state.op_hashes[at_removal],
        "epoch": state.epoch_at[at_removal],
        "epoch_key": stolen_ring.key(state.epoch_at[at_removal]),
    }
    with pytest.raises(EntryError) as e2:
        check_entry_public(state, g.seal(lost, b"backdated", **old).entry)
    assert e2.value.check == "departed"
    # ... and the removed device never comes back under its old keys.
    rejected(g.state, g.forge(b, AddDevice(lost.card)), "device")


def test_who_may_remove_a_device(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    b2 = second_device(kit, b)
    add_device(g, b, b2)
    # Carol is neither Bob nor a leader.
    rejected(g.state, remove_device(g, c, b2).op, "role")
    # A device does not remove itself (that is what the member's other devices are for).
    rejected(g.state, remove_device(g, b2, b2).op, "device")
    # A leader may, for a member who lost a device.
    g.commit(remove_device(g, a, b2))
    assert not g.state.is_active_device(b2.device_id)
    # Nobody removes a member's last device: that is removing the member.
    rejected(g.state, remove_device(g, a, b).op, "device")
    rejected(g.state, remove_device(g, a, b2).op, "device")  # already gone


def test_a_device_removal_must_pin_the_final_head_and_seal_to_everyone_else(kit):
    g, (a, b, _c) = kit.group("Alice", "Bob", "Carol")
    b2 = second_device(kit, b)
    add_device(g, b, b2)
    g.keyrings[b.id] = g.keyring(b)
    g.post(b2, b"one", epoch_key=g.key(b))
    good = decode_signed_op(remove_device(g, b, b2).op).op.body
    assert isinstance(good, RemoveDevice)
    for heads in ([], [ChainHead(b.device_id, 0, bytes(32))], [*good.heads, *good.heads]):
        rejected(g.state, g.forge(b, msgspec.structs.replace(good, heads=heads)), "heads")
    refs = [r for r in good.rotation.refs if r.device != a.device_id]
    short = msgspec.structs.replace(good.rotation, refs=refs)
    rejected(
        g.state,
        g.forge(b, msgspec.structs.replace(good, rotation=short)),
        "lockbox_missing",
        RotationError,
    )
    # A lockbox for the removed device is a ghost.
    ghost = decode_signed_op(g.build_rotate(a).op).op.body.rotation
    rejected(
        g.state,
        g.forge(b, msgspec.structs.replace(good, rotation=ghost)),
        "ghost_member",
        RotationError,
    )


def test_a_departing_member_takes_every_device_with_them(kit):
    g, (a, b, _c) = kit.group("Alice", "Bob", "Carol")
    b2 = second_device(kit, b)
    add_device(g, b, b2)
    pending = g.remove(a, b)
    body = decode_signed_op(pending.op).op.body
    assert [h.device for h in body.heads] == sorted([b.device_id, b2.device_id])
    assert not set(pending.lockboxes) & {b.device_id, b2.device_id}
    assert not g.state.is_active_device(b2.device_id)


def test_the_cert_of_a_device_binds_its_member_key(kit):
    """A card is signed by the member key over the cert, which names that member key: a cert
    naming Bob's key cannot be signed by anyone but Bob."""
    _g, (_a, b, _c) = kit.group("Alice", "Bob", "Carol")
    b2 = second_device(kit, b)
    assert b2.card.cert == DeviceCert(
        2, b.secrets.member.public, b2.device.public, b2.device.kem_public, kit.T0
    )
