"""Cases the protocol core must refuse or answer exactly, each one a guard that no other test
needed (found by `make mutation`, docs/testing.md): remove the guard and the test fails.
"""

from __future__ import annotations

import msgspec
import pytest
from chatham.crypto import (
    ChainHead,
    CouldNotOpen,
    ForkError,
    Keyring,
    LogError,
    Policy,
    decode_signed_op,
    pinned_heads,
)
from chatham.crypto import _primitives as P
from chatham.crypto import labels as L
from chatham.crypto._epoch import Recipient, _names_ad, build_rotation, open_names
from chatham.crypto._records import Move, Remove, RevokeInvite, Rotate, SetRole


def everyone(g):
    return [Recipient(d.member, d.id, d.kem_key) for d in g.state.active_devices()]


# --- roles and spans ------------------------------------------------------------------------


def test_a_removed_leader_holds_no_role_from_the_removal_on(kit):
    g, (a, b, _c) = kit.group("Alice", "Bob", "Carol")
    g.set_role(a, b, "leader")
    promoted = g.state.seq
    g.remove(a, b)
    removed = g.state.seq
    bob = g.state.members[b.id]
    assert bob.role_at(promoted) == "leader"
    assert bob.role_at(removed - 1) == "leader"
    assert bob.role_at(removed) is None  # the removal op itself already counts
    assert bob.role_at(removed + 5) is None
    assert not bob.active_at(removed)


def test_a_member_holds_no_role_before_the_op_that_added_them(kit):
    g, (_a, b) = kit.group("Alice", "Bob")
    bob = g.state.members[b.id]
    assert bob.active_at(bob.joined_seq)
    assert bob.role_at(bob.joined_seq) == "member"
    assert not bob.active_at(bob.joined_seq - 1)
    assert bob.role_at(bob.joined_seq - 1) is None


# --- lockboxes, back-links and names ---------------------------------------------------------


def test_a_leader_sealing_a_short_key_with_a_matching_confirmation_is_refused(kit):
    """A lying leader commits to a 16-byte epoch key and confirms it honestly: the key is
    refused (it is not a key of the protocol's length), not stored to fail later."""
    g, (a, b) = kit.group("Alice", "Bob")
    epoch, prev = g.state.epoch + 1, g.state.head
    short = kit.rand(16)
    calls = iter([short])

    def rand(n: int) -> bytes:
        return next(calls, None) or kit.rand(n)

    built = build_rotation(g.id, epoch, prev, everyone(g), old_key=None, rand=rand)
    assert built.key == short
    g.state.apply(g.forge(a, Rotate(built.rotation)))
    ring = Keyring(dict(g.keyring(b).keys))
    with pytest.raises(CouldNotOpen):
        ring.accept_lockbox(g.state, b.device, b.id, epoch, built.lockboxes[b.device_id])
    assert epoch not in ring.keys


def test_a_names_blob_sealed_right_but_holding_no_name_list_does_not_open(kit):
    g, (a,) = kit.group("Alice")
    key = g.key(a)
    info = g.state.rotations[g.state.epoch]
    k = P.hkdf(key, salt=b"", info=L.KDF_NAMES)
    nonce = kit.rand(P.XNONCE_LEN)
    ad = _names_ad(g.id, g.state.epoch, info.prev)
    blob = nonce + P.xchacha_seal(k, nonce, msgspec.msgpack.encode(["not", "names"]), ad)
    with pytest.raises(CouldNotOpen):
        open_names(key, g.id, g.state.epoch, info.prev, blob)


def test_a_key_for_an_epoch_the_log_does_not_show_follows_no_backlink(kit):
    g, (_a,) = kit.group("Alice")
    for ahead in (1, 3):  # the next epoch (its predecessor is known), and one further on
        ring = Keyring({g.state.epoch + ahead: kit.rand(32)})
        ring.follow_backlinks(g.state)  # nothing to follow: no rotation to that epoch is known
        assert set(ring.keys) == {g.state.epoch + ahead}


def test_only_a_current_leaders_device_counts_as_a_leader_device(kit):
    """The server grants leader powers (invites, attachments of others) by this answer."""
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    g.set_role(a, b, "leader")
    assert g.state.is_leader_device(a.device_id)
    assert g.state.is_leader_device(b.device_id)
    assert not g.state.is_leader_device(c.device_id)  # a member
    assert not g.state.is_leader_device(kit.member("Mallory").device_id)  # never in the group
    g.remove(a, b)
    assert not g.state.is_leader_device(b.device_id)  # a removed leader


# --- the log's own checks ---------------------------------------------------------------------


def test_an_unknown_invite_is_not_usable(kit):
    g, _ = kit.group("Alice")
    assert not g.state.invite_usable(kit.rand(32), kit.T0)


def test_an_invite_used_before_its_issuer_left_stays_used_not_revoked(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    g.set_role(a, b, "leader")
    secret = g.invite(b)
    g.add(b, kit.member("Carol"))
    used = [i for i in g.state.invites.values() if i.issuer == b.id and i.used_seq is not None]
    assert used
    unused = g.invite(b)
    g.remove(a, b)
    assert all(not i.revoked for i in used)  # it was used: that stays what it was
    assert g.state.invites[unused.invite_id].revoked  # it died with its issuer
    assert secret.invite_id in g.state.invites


def test_a_used_invite_cannot_be_revoked(kit):
    g, (a, _) = kit.group("Alice", "Bob")
    [inv] = [i for i in g.state.invites.values() if i.used_seq is not None]
    kit.assert_rejected(g.state, g.forge(a, RevokeInvite(inv.id)), LogError, "invite")


def test_a_member_cannot_be_removed_twice(kit):
    g, (a, b, _) = kit.group("Alice", "Bob", "Carol")
    g.remove(a, b)
    again = g.forge(a, Remove(b.id, [], g.state.rotations[g.state.epoch].rotation))
    kit.assert_rejected(g.state, again, LogError, "member")


def test_a_demotion_cannot_pin_an_empty_chain_with_a_link(kit):
    """A head at seq 0 has one encoding (the zero link): a pin carrying another would give
    one chain two "empty" heads."""
    g, (a, b) = kit.group("Alice", "Bob")
    g.set_role(a, b, "leader")
    bad = SetRole(b.id, "member", [ChainHead(b.device_id, 0, kit.rand(32))])
    kit.assert_rejected(g.state, g.forge(a, bad), LogError, "heads")


def test_a_policy_change_that_keeps_notes_to_leaders_pins_nobody(kit):
    g, (a, _) = kit.group("Alice", "Bob")
    g.set_policy(a, Policy(history="full", notes="leaders"))
    assert g.state.policy_pins(Policy(history="from-join", notes="leaders")) == []
    assert g.state.policy_pins(Policy(history="from-join", notes="all")) == []


def test_a_log_diverging_at_its_genesis_is_a_fork(kit):
    g, _ = kit.group("Alice")
    g.state.check_extends(0, g.state.op_hashes[0])
    with pytest.raises(ForkError):
        g.state.check_extends(0, kit.rand(32))


def test_a_leader_added_again_keeps_the_role_they_held_in_their_first_membership(kit):
    """What a former leader did then (a retraction, say) is still judged by the role they
    held then, so their earlier membership and roles survive the new add."""
    from tests.crypto.test_membership_crypto import _new_device

    g, (a, b, _) = kit.group("Alice", "Bob", "Carol")
    g.set_role(a, b, "leader")
    was_leader = g.state.seq
    g.remove(a, b)
    removed = g.state.seq
    new_b = _new_device(kit, b)
    g.people.pop(b.id)
    g.add(a, new_b)
    bob = g.state.members[b.id]
    assert bob.role_at(was_leader) == "leader"
    assert bob.role_at(removed) is None  # between the memberships
    assert bob.role_at(g.state.seq) == "member"
    assert bob.past[-1][1] == removed


def test_a_departure_pins_its_final_heads_and_a_checkpoint_pins_none(kit):
    """The server refuses an op whose pinned heads miss an entry it holds (§7.4): it asks
    `pinned_heads` which heads an op pins."""
    g, (a, b) = kit.group("Alice", "Bob")
    g.post(b)
    checkpoint = decode_signed_op(g.checkpoint(a).op).op.body
    assert checkpoint.heads
    assert pinned_heads(checkpoint) == []
    remove = decode_signed_op(g.build_remove(a, b).op).op.body
    assert [h.device for h in pinned_heads(remove)] == [b.device_id]


def test_one_add_cannot_bring_two_members_in_on_one_device(kit):
    """A colluding leader adds Carol and a second identity whose card certifies Carol's very
    device key: one device would then act for two members."""
    from chatham.crypto import Secrets, make_card

    from tests.crypto.conftest import Member

    g, (a,) = kit.group("Alice")
    carol, other = kit.member("Carol"), kit.member("Dave")
    twin = Member(
        "Dave",
        Secrets(other.secrets.member, carol.device, kit.rand(32), kit.T0),
        make_card(other.secrets.member, carol.device, created=kit.T0),
    )
    assert twin.id != carol.id
    assert twin.device_id == carol.device_id
    pending = g.build_add(a, carol, twin)
    kit.assert_rejected(g.state, pending, LogError, "device")


# --- sealing ------------------------------------------------------------------------------------


def test_a_writer_cannot_seal_an_entry_no_reader_could_decode(kit):
    """Retractions are at most MAX_RETRACTS entry ids of 16 bytes: sealing more, or an id of
    another length, fails at once instead of producing an entry every reader refuses."""
    from chatham.crypto import MAX_RETRACTS

    g, (a,) = kit.group("Alice")
    ids = [kit.rand(16) for _ in range(MAX_RETRACTS)]
    assert len(g.seal(a, retracts=ids).entry.header.retracts) == MAX_RETRACTS
    with pytest.raises(ValueError, match="retracts at most"):
        g.seal(a, retracts=[*ids, kit.rand(16)])
    with pytest.raises(ValueError, match="retracts at most"):
        g.seal(a, retracts=[kit.rand(15)])


def test_the_entry_a_demotion_pinned_still_verifies_after_it(kit):
    """A demotion pins the demoted leader's chain at their last entry: that very entry stays
    valid (only another entry at its place, or one beyond it claiming an older head, is not)."""
    from chatham.crypto import check_entry_public

    g, (a, b) = kit.group("Alice", "Bob")
    g.set_role(a, b, "leader")
    g.post(b, b"written as a leader")
    last = g.post(b, b"the last entry before the demotion")
    g.set_role(a, b, "member")
    assert [p.seq for _, p in g.state.devices[b.device_id].pins] == [2]
    assert check_entry_public(g.state, last.entry) == last.link


def test_a_demoted_leader_cannot_rewrite_their_pinned_chain_under_a_later_head(kit):
    """Below the head a demotion pinned, every entry was written before the demotion: one
    there claiming a later log head is refused; the demoted member's next entries are not."""
    from chatham.crypto import EntryError, check_entry_public

    g, (a, b) = kit.group("Alice", "Bob")
    g.set_role(a, b, "leader")
    g.post(b, b"one")
    g.post(b, b"two")
    g.set_role(a, b, "member")
    rewritten = g.seal(b, b"one, rewritten after the demotion", seq=1, prev=bytes(32))
    with pytest.raises(EntryError) as err:
        check_entry_public(g.state, rewritten.entry)
    assert err.value.check == "log_head"
    after = g.post(b, b"three, as a member")
    assert after.entry.header.seq == 3


def test_a_leader_demoted_and_promoted_again_retracts_with_their_new_powers(kit):
    """An entry beyond a pinned head is judged at the head it claims when that is later than
    the op that pinned the chain: Bob, a leader again, may withdraw Carol's newer entry."""
    from chatham.crypto import authority_seq, check_retraction

    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    g.set_role(a, b, "leader")
    g.post(b, b"one")
    g.set_role(a, b, "member")
    demoted = g.state.seq
    g.set_role(a, b, "leader")
    carols = g.post(c, b"carol's entry").entry.header
    retraction = g.post(b, b"withdrawn", retracts=[carols.entry_id]).entry.header
    assert retraction.log_seq > demoted
    at = authority_seq(g.state, b.device_id, retraction.seq, retraction.log_seq)
    assert at == retraction.log_seq
    check_retraction(g.state, retraction, carols)


def test_a_retraction_naming_a_device_the_log_never_held_is_refused(kit):
    from chatham.crypto import EntryError, check_retraction

    g, (a, b) = kit.group("Alice", "Bob")
    target = g.post(b, b"bob's entry").entry.header
    retraction = g.post(a, b"withdrawn", retracts=[target.entry_id]).entry.header
    check_retraction(g.state, retraction, target)
    stranger = kit.member("Mallory").device_id
    for by, of in (
        (msgspec.structs.replace(retraction, device=stranger), target),
        (retraction, msgspec.structs.replace(target, device=stranger)),
    ):
        with pytest.raises(EntryError) as err:
            check_retraction(g.state, by, of)
        assert err.value.check == "author"


def test_a_retraction_cannot_withdraw_an_entry_written_after_the_head_it_claims(kit):
    """A leader's retraction claiming an old log head (backdated) cannot name an entry written
    later: what it may withdraw is fixed at the position it claims."""
    from chatham.crypto import EntryError, check_retraction

    g, (a, b) = kit.group("Alice", "Bob")
    old = g.state.seq
    g.checkpoint(a)
    later = g.post(b, b"written after the checkpoint").entry.header
    assert later.log_seq > old
    backdated = g.seal(
        a, b"withdrawn", retracts=[later.entry_id], log_seq=old, log_head=g.state.op_hashes[old]
    ).entry.header
    with pytest.raises(EntryError) as err:
        check_retraction(g.state, backdated, later)
    assert err.value.check == "log_head"


def test_a_device_with_no_entries_has_no_chain_head(kit):
    from chatham.crypto import ChainTracker

    g, (a, b) = kit.group("Alice", "Bob")
    g.post(a)
    assert g.tracker.head(b.device_id) is None
    assert ChainTracker().head(a.device_id) is None
    assert g.tracker.head(a.device_id).seq == 1


# --- invites, server addresses and logins -------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("  HTTPS://Chat.Example.ORG:443/forum/ ", "https://chat.example.org/forum"),
        ("http://chat.example.org:80", "http://chat.example.org"),
        ("https://chat.example.org:80", "https://chat.example.org:80"),
        ("http://chat.example.org:8080/", "http://chat.example.org:8080"),
        ("https://[::1]:8443", "https://[::1]:8443"),
    ],
)
def test_a_server_address_has_one_spelling(typed, canonical):
    from chatham.crypto import canonical_server

    assert canonical_server(typed) == canonical


@pytest.mark.parametrize(
    "typed",
    [
        "ftp://chat.example.org",
        "https://",
        "chat.example.org",
        "https://user@chat.example.org",
        "https://chat.example.org/?join=1",
        "https://chat.example.org/#code",
        "https://chat.example.org#",
        "http://chat.example.org:99999",
        "https://chat.example.org/" + "p" * 2048,
    ],
)
def test_what_is_not_a_server_address_is_refused(typed):
    from chatham.crypto import canonical_server

    with pytest.raises(ValueError, match="server address"):
        canonical_server(typed)


def test_a_server_address_may_be_2048_bytes_and_no_more():
    from chatham.crypto import canonical_server

    base = "https://chat.example.org/"
    longest = base + "p" * (2048 - len(base))
    assert canonical_server(longest) == longest
    with pytest.raises(ValueError, match="at most 2048"):
        canonical_server(longest + "p")


def test_an_invite_code_for_a_malformed_server_address_is_an_invite_error(kit):
    from chatham.crypto import InviteCode, InviteError

    code = InviteCode.generate("https://chat.example.org", rand=kit.rand)
    assert InviteCode.parse(code.code, "https://chat.example.org") == code
    with pytest.raises(InviteError, match="server address"):
        InviteCode.parse(code.code, "ftp://chat.example.org")


def test_a_join_request_that_is_not_a_record_is_an_invite_error():
    from chatham.crypto import InviteError, decode_join_request

    with pytest.raises(InviteError, match="not a canonical"):
        decode_join_request(b"\x93not a join request")


def test_a_join_request_for_an_invite_the_log_never_held_is_refused_as_such(kit):
    from chatham.crypto import InviteError, InviteSecret, verify_join_request

    g, _ = kit.group("Alice")
    stranger = InviteSecret.generate(g.id, "https://chat.example.org", rand=kit.rand)
    request = stranger.request(kit.member("Mallory").card, created=kit.T0)
    with pytest.raises(InviteError, match="no such invite"):
        verify_join_request(g.state, request, now=kit.T0)


def test_an_invitee_read_signed_with_another_key_is_refused(kit):
    from chatham.crypto import InviteError, InviteSecret, verify_join_read

    g, _ = kit.group("Alice")
    secret = InviteSecret.generate(g.id, "https://chat.example.org", rand=kit.rand)
    other = InviteSecret.generate(g.id, "https://chat.example.org", rand=kit.rand)
    challenge = kit.rand(32)
    sig = secret.read_signature(challenge)
    verify_join_read(secret.join_key, g.id, secret.invite_id, challenge, sig)
    for key, group, challenged, signature in (
        (other.join_key, g.id, challenge, sig),
        (secret.join_key, kit.rand(32), challenge, sig),
        (secret.join_key, g.id, kit.rand(32), sig),
        (secret.join_key, g.id, challenge, other.read_signature(challenge)),
    ):
        with pytest.raises(InviteError, match="bad invitee read signature"):
            verify_join_read(key, group, secret.invite_id, challenged, signature)


def test_a_login_signature_is_bound_to_the_server_the_action_and_the_challenge(kit):
    from chatham.crypto import SignatureError, sign_auth, verify_auth

    device = kit.member("Alice").device
    server, challenge = kit.rand(32), kit.rand(32)
    sig = sign_auth(device, server, "login", challenge)
    verify_auth(device.public, server, "login", challenge, sig)
    for key, srv, action, chal in (
        (kit.member("Mallory").device.public, server, "login", challenge),
        (device.public, kit.rand(32), "login", challenge),
        (device.public, server, "join-read", challenge),
        (device.public, server, "login", kit.rand(32)),
    ):
        with pytest.raises(SignatureError):
            verify_auth(key, srv, action, chal, sig)


def test_a_checkpoint_head_for_a_device_with_no_entries_matches_an_empty_chain(kit):
    from chatham.crypto import ChainTracker

    g, (a, b) = kit.group("Alice", "Bob")
    g.post(a)
    tracker = ChainTracker()
    assert tracker.compare_checkpoint([ChainHead(b.device_id, 0, bytes(32))]) == []
    assert g.tracker.compare_checkpoint(g.tracker.heads()) == []
    assert g.tracker.compare_checkpoint([ChainHead(a.device_id, 1, kit.rand(32))])


def test_a_removed_member_cannot_be_given_a_role(kit):
    g, (a, b, _) = kit.group("Alice", "Bob", "Carol")
    g.remove(a, b)
    kit.assert_rejected(g.state, g.forge(a, SetRole(b.id, "leader", [])), LogError, "member")


@pytest.mark.parametrize(
    "server",
    [
        "javascript:alert(1)",
        "https://a.example\nX-Injected: 1",
        "ftp://a.example",
        "https://a.example/a path",
    ],
)
def test_a_move_to_something_that_is_not_a_web_address_is_refused(kit, server):
    """Every member's client would follow a group's move: a leader cannot send them to a
    script, another scheme, or an address carrying a second line or a space."""
    g, (a, _) = kit.group("Alice", "Bob")
    kit.assert_rejected(g.state, g.forge(a, Move(server)), LogError, "server")
    g.state.apply(g.forge(a, Move("https://new.example")))  # a real address moves
