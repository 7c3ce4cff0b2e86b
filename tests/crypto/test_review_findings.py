"""Findings of the pre-release protocol review, each pinned by a test that failed before its fix.

1. Retractions could be backdated: a demoted or removed leader signed a
   retraction claiming a log head from when they led, and it verified for any
   entry, even one written after they lost the role (docs/protocol.md §7.1). A
   retraction is now an entry of the retracting member's chain, judged where the
   chain places it.
2. Attested names reached readers unfiltered (control characters, bidi
   overrides, id and fingerprint look-alikes), and one names blob that did not
   open made every name of the group unreadable for good (§6.4).
3. `Keyring.accept_lockbox` kept the new key when it then raised on a bad
   back-link: a failed call changed the keyring (§6.3).
4. An entry whose body exceeded the 1 MiB cap still opened (§7.2).
5. A chain head with seq 0 could carry any link, so "no entries" had many
   encodings (§5.1).
"""

from __future__ import annotations

import pytest
from chatham.crypto import (
    ChainHead,
    CouldNotOpen,
    EntryError,
    Keyring,
    LogError,
    Policy,
    _entry,
    _group,
    check_retraction,
    open_entry,
)
from chatham.crypto._epoch import Recipient, build_rotation
from chatham.crypto._records import MAX_ENTRY_BODY, Add, Checkpoint, Leave, NewMember, Rotate


def everyone(g):
    return [Recipient(d.member, d.id, d.kem_key) for d in g.state.active_devices()]


def retraction_rejected(state, retracting, target, check, **kw):
    with pytest.raises(EntryError) as info:
        check_retraction(state, retracting, target, **kw)
    assert info.value.check == check, f"{info.value.check}: {info.value}"


# --- 1. backdated retractions ---------------------------------------------------------------


def test_a_retraction_cannot_reach_an_entry_written_after_the_role_was_lost(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    g.set_role(a, c, "leader")
    as_leader = (g.state.seq, g.state.head)
    g.post(c, b"carol, while she leads")
    g.set_role(a, c, "member")
    # Written after Carol stepped down: she never had the power to retract it.
    e = g.post(b, b"written after the demotion").entry
    backdated = g.post(
        c, b"retract it", log_seq=as_leader[0], log_head=as_leader[1], retracts=[e.header.entry_id]
    ).entry
    retraction_rejected(g.state, backdated.header, e.header, "role")
    # An honest retraction by the author is judged where it stands.
    own = g.post(b, b"withdraw my own", retracts=[e.header.entry_id]).entry
    check_retraction(g.state, own.header, e.header)


def test_a_server_judges_the_retracting_role_at_its_own_head(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    e = g.post(b, b"posted while Carol leads").entry
    g.set_role(a, c, "leader")
    made_then = g.post(c, b"carol retracts it", retracts=[e.header.entry_id]).entry.header
    # Valid while Carol leads, where her chain places it and at the server's head.
    check_retraction(g.state, made_then, e.header, at_head=True)
    g.set_role(a, c, "member")
    # A client still accepts a retraction made while she led (judged at its place) ...
    check_retraction(g.state, made_then, e.header)
    # ... but a server receiving it now refuses it: she is no longer a leader.
    retraction_rejected(g.state, made_then, e.header, "role", at_head=True)
    g.remove(a, c)
    retraction_rejected(g.state, made_then, e.header, "author", at_head=True)
    # The author and the current leaders still may.
    for signer in (a, b):
        ok = g.post(signer, b"withdraw", retracts=[e.header.entry_id]).entry.header
        check_retraction(g.state, ok, e.header, at_head=True)


# --- 2. attested names as readers see them --------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "\x1b[2JAlice",  # a terminal escape
        "Bob\nCarol",  # a line break
        "Dan\u202eevil",  # a bidi override
        "deadbeefcafe0123",  # a member id look-alike
        "abandon ability able about above absent absorb abstract",  # a fingerprint look-alike
        "7K2QD-M4X9P-3GHTW-RW1TK-3H8JX-KFE8J",  # an invite code look-alike
        "  padded  ",  # not in normal form
        "you",  # the client's word for the reader
        "Yоu",  # the same, with a Cyrillic о
        "ＹＯＵ",  # the same, full width
        "member 1a2b3c4d",  # the client's label for a member without a name
        "Member 1a2b…",
    ],
)
def test_names_that_must_not_be_shown_are_dropped(kit, monkeypatch, name):
    g, (a, b) = kit.group("Alice", "Bob")
    bad = kit.member(name)
    secret = g.invite(a)
    # A leader's client that skips check_name when attesting: the blob is well-formed.
    monkeypatch.setattr(_group, "check_name", lambda n: n)
    pending = g.build_add(a, bad, secrets=[secret])
    monkeypatch.undo()
    g.people[bad.id] = bad
    g.commit(pending)
    assert g.keyring(a).names(g.state) == {a.id: "Alice", b.id: "Bob"}
    for reader in (b, bad):
        names = g.keyring(reader).names(g.state)
        assert bad.id not in names
        assert name not in names.values()


def test_a_names_blob_that_does_not_open_does_not_hide_the_others(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    c = kit.member("Carol")
    secret = g.invite(a)
    card, invite_id, _ = g.join_request(secret, c)
    epoch, prev = g.state.epoch + 1, g.state.head
    recipients = [*everyone(g), Recipient(c.id, c.device_id, c.device.kem_public)]
    built = build_rotation(g.id, epoch, prev, recipients, old_key=None, rand=kit.rand)
    # A leader signs an add whose names blob opens under no key: publicly well-formed.
    garbage = kit.rand(24 + 64)
    op = g.forge(a, Add([NewMember(card, invite_id)], garbage, built.rotation))
    g.state.apply(op)
    for m in (a, b):
        g.keyring(m).keys[epoch] = built.key
    assert g.keyring(a).names(g.state) == {a.id: "Alice", b.id: "Bob"}
    assert g.keyring(b).names(g.state) == {b.id: "Bob"}  # from-join: epoch 1 is not his


# --- 3. a failed accept_lockbox changes nothing ---------------------------------------------


def test_a_failed_accept_lockbox_leaves_the_keyring_as_it_was(kit):
    g, (a, b) = kit.group("Alice", "Bob", policy=kit.FULL)
    g.rotate(a)
    built = build_rotation(
        g.id, g.state.epoch + 1, g.state.head, everyone(g), old_key=kit.rand(32), rand=kit.rand
    )
    g.state.apply(g.forge(a, Rotate(built.rotation)))  # a back-link to the wrong key
    fresh = Keyring()
    with pytest.raises(CouldNotOpen):
        fresh.accept_lockbox(
            g.state, b.device, b.id, built.rotation.epoch, built.lockboxes[b.device_id]
        )
    assert fresh.keys == {}


# --- 4. the body cap on opening -------------------------------------------------------------


def test_a_body_above_the_cap_does_not_open(kit, monkeypatch):
    g, (a,) = kit.group("Alice")
    # A member's client that pads more than the protocol allows (sealing refuses it).
    monkeypatch.setattr(_entry, "MAX_ENTRY_BODY", MAX_ENTRY_BODY + 1)
    sealed = g.seal(a, bytes(MAX_ENTRY_BODY + 1))
    monkeypatch.undo()
    g.accept(sealed)  # the public checks cannot see the body
    with pytest.raises(CouldNotOpen):
        open_entry(sealed.entry, g.key(a))
    at_cap = g.seal(a, bytes(MAX_ENTRY_BODY), seq=2, prev=sealed.link)
    assert open_entry(at_cap.entry, g.key(a)) == bytes(MAX_ENTRY_BODY)


# --- 5. one encoding for an empty chain -----------------------------------------------------


def test_a_head_at_seq_zero_carries_the_zero_link(kit):
    g, (a, b) = kit.group("Alice", "Bob", policy=Policy())
    junk = ChainHead(b.device_id, 0, kit.rand(32))
    for body in (Checkpoint([junk]), Leave([junk])):
        signer = a if isinstance(body, Checkpoint) else b
        with pytest.raises(LogError) as info:
            g.state.copy().apply(g.forge(signer, body))
        assert info.value.check == "heads"
    zero = ChainHead(b.device_id, 0, bytes(32))
    g.state.copy().apply(g.forge(a, Checkpoint([zero])))
    g.state.copy().apply(g.forge(b, Leave([zero])))
