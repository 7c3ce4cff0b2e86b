"""Entries: sealing, Padmé, the public checks, author chains, opaque opening, stubs, retractions.

Public checks must say which check failed (`EntryError.check`); anything that
fails after the epoch key is used must be the one opaque `CouldNotOpen`, with
no plaintext anywhere in it.
"""

from __future__ import annotations

import msgspec
import pytest
from chatham.crypto import (
    ChainError,
    ChainHead,
    ChainTracker,
    CouldNotOpen,
    CryptoError,
    EntryError,
    EntryStub,
    EquivocationError,
    authority_seq,
    check_entry_public,
    check_retraction,
    ct_hash,
    decode_entry,
    decode_stub,
    encode,
    labels,
    link_hash,
    open_entry,
    padded_length,
    padme,
    stub_of,
)
from chatham.crypto import _primitives as P
from chatham.crypto._entry import _entry_keys, _signed_message
from chatham.crypto._records import MAX_ENTRY_BODY, Entry


def assert_entry_rejected(state, item, check, error=EntryError):
    with pytest.raises(CryptoError) as info:
        check_entry_public(state, item)
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    assert info.value.check == check, f"{info.value.check}: {info.value}"


def assert_opaque(err: BaseException, secret: bytes) -> None:
    """A CouldNotOpen says nothing: fixed message, no cause, no plaintext anywhere in it."""
    assert type(err) is CouldNotOpen
    assert str(err) == "could not open"
    assert err.args == ("could not open",)
    assert err.__cause__ is None
    assert err.__suppress_context__ or err.__context__ is None
    assert secret not in repr(vars(err)).encode()


# --- sealing and opening --------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 1020, 1021, 5000, 65536])
def test_seal_open_round_trip(kit, size):
    g, (a, b) = kit.group("Alice", "Bob")
    body = kit.rand(size)
    sealed = g.post(a, body)
    e = decode_entry(sealed.data)
    assert e == sealed.entry
    assert encode(e) == sealed.data
    assert check_entry_public(g.state, e) == sealed.link
    assert open_entry(e, g.key(b)) == body  # another member reads it
    # What the server sees of the length: nonce, commitment, padded body, tag.
    assert len(e.ct) == 24 + 32 + padded_length(size) + 16


def test_largest_body_round_trips_and_one_more_byte_is_refused(kit):
    g, (a,) = kit.group("Alice")
    body = b"\x5a" * MAX_ENTRY_BODY
    sealed = g.post(a, body)
    assert open_entry(decode_entry(sealed.data), g.key(a)) == body
    with pytest.raises(ValueError, match="larger"):
        g.seal(a, body + b"!")


# Padmé (Nikitin et al., PETS 2019, "Reducing Metadata Leakage from Encrypted Files and
# Communication with PURBs", Algorithm 1): E = floor(log2 L), S = floor(log2 E) + 1,
# z = E - S, m = 2^z - 1, Padmé(L) = (L + m) & ~m. Worked by hand:
#   L = 2..7:     E <= 2, S = E's bit length, z = 0             -> L
#   L = 8..10:    E = 3, S = 2, z = 1 (round up to even)        -> 8, 10, 10
#   L = 1023:     E = 9, S = 4, z = 5 (multiple of 32)          -> 1024
#   L = 1024:     E = 10, S = 4, z = 6 (multiple of 64)         -> 1024
#   L = 1025..:   E = 10, z = 6                                 -> 1088
#   L = 5000:     E = 12, S = 4, z = 8 (multiple of 256)        -> 20 * 256 = 5120
#   L = 65536:    E = 16, S = 5, z = 11 (multiple of 2048)      -> 65536
#   L = 1000000:  E = 19, S = 5, z = 14 (multiple of 16384)     -> 62 * 16384 = 1015808
PADME = {
    0: 0,
    1: 1,
    2: 2,
    3: 3,
    4: 4,
    5: 5,
    6: 6,
    7: 7,
    8: 8,
    9: 10,
    10: 10,
    1023: 1024,
    1024: 1024,
    1025: 1088,
    1026: 1088,
    1027: 1088,
    1028: 1088,
    1029: 1088,
    1030: 1088,
    5000: 5120,
    65536: 65536,
    1_000_000: 1_015_808,
}


@pytest.mark.parametrize(("length", "expected"), sorted(PADME.items()))
def test_padme_known_answers(length, expected):
    assert padme(length) == expected


def test_padme_properties_over_a_range():
    for n in range(2, 70_000, 7):
        p = padme(n)
        e = n.bit_length() - 1
        z = e - e.bit_length()
        assert p >= n
        assert p % (1 << z) == 0
        assert p - n < (1 << z)  # the overhead is below 2^z, i.e. at most ~12%
        assert (p - n) * 8 <= n


def test_one_kib_floor_hides_short_bodies(kit):
    # The padded plaintext is u32(len) ‖ body ‖ zeros; its length is max(1024, Padmé(4+len)).
    assert padded_length(0) == 1024
    assert padded_length(1020) == 1024
    assert padded_length(1021) == padme(1025) == 1088
    assert padded_length(5000) == padme(5004) == 5120
    g, (a,) = kit.group("Alice")
    sizes = {len(g.post(a, b"x" * n).entry.ct) for n in (0, 1, 17, 500, 1020)}
    assert sizes == {24 + 32 + 1024 + 16}
    assert len(g.post(a, b"x" * 1021).entry.ct) == 24 + 32 + 1088 + 16


# --- public checks --------------------------------------------------------------------------


def test_entry_of_another_group_rejected(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    h, _ = kit.group("Alice", founder=a)
    sealed = h.post(a, b"for the other group")
    assert_entry_rejected(g.state, sealed.entry, "group")


def test_entry_from_an_unknown_device_rejected(kit):
    g, (a,) = kit.group("Alice")
    mallory = kit.member("Mallory")
    sealed = g.seal(mallory, epoch_key=g.key(a))  # even holding a real epoch key
    assert_entry_rejected(g.state, sealed.entry, "author")


def test_bad_entry_signature_rejected(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    e = g.seal(a).entry
    for i in range(64):
        assert_entry_rejected(
            g.state, msgspec.structs.replace(e, sig=kit.flip(e.sig, i)), "signature"
        )
    # A flipped ciphertext byte breaks the signature (it covers the ciphertext by hash) ...
    ct = kit.flip(e.ct, len(e.ct) // 2)
    assert_entry_rejected(g.state, msgspec.structs.replace(e, ct=ct), "signature")
    # ... and so does any header field changed without re-signing.
    for field, value in [
        ("entry_id", bytes(16)),
        ("seq", 2),
        ("prev", b"\x01" * 32),
        ("epoch", e.header.epoch + 1),
        ("log_seq", 0),
        ("log_head", g.state.op_hashes[0]),
    ]:
        header = msgspec.structs.replace(e.header, **{field: value})
        assert_entry_rejected(g.state, msgspec.structs.replace(e, header=header), "signature")
    # Another member's signature over Alice's entry.
    sig = b.device.sign(labels.SIG_ENTRY, P.frame((encode(e.header), ct_hash(e.ct))))
    assert_entry_rejected(g.state, msgspec.structs.replace(e, sig=sig), "signature")


def test_log_head_not_in_the_verified_log_rejected(kit):
    g, (a,) = kit.group("Alice")
    for seq, head in [
        (g.state.seq, kit.rand(32)),
        (g.state.seq, g.state.op_hashes[0]),
        (0, g.state.head),
    ]:
        sealed = g.seal(a, log_seq=seq, log_head=head)
        assert_entry_rejected(g.state, sealed.entry, "log_head")


def test_log_seq_beyond_the_verified_log_rejected(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    behind = g.state.copy()
    g.checkpoint(a)
    sealed = g.seal(a)  # claims the checkpoint, which `behind` has not verified
    assert_entry_rejected(behind, sealed.entry, "log_head")
    check_entry_public(g.state, sealed.entry)
    far = g.seal(a, log_seq=g.state.seq + 1000)
    assert_entry_rejected(g.state, far.entry, "log_head")


def test_author_not_active_at_the_claimed_log_head_rejected(kit):
    g, (a,) = kit.group("Alice")
    before_bob = g.state.seq
    bob = kit.member("Bob")
    g.add(a, bob)
    epoch_then = g.state.epoch_at[before_bob]
    backdated = g.seal(
        bob,
        log_seq=before_bob,
        log_head=g.state.op_hashes[before_bob],
        epoch=epoch_then,
        epoch_key=g.key(a, epoch_then),
    )
    assert_entry_rejected(g.state, backdated.entry, "author")
    # Claiming the add op itself is fine: Bob is a member from that op on.
    g.post(bob)


def test_epoch_not_current_at_the_claimed_log_head_rejected(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    old = g.state.epoch
    old_head = (g.state.seq, g.state.head)
    g.rotate(a)
    stale_epoch = g.seal(a, epoch=old)
    assert_entry_rejected(g.state, stale_epoch.entry, "epoch")
    future = g.seal(a, epoch=g.state.epoch, log_seq=old_head[0], log_head=old_head[1])
    assert_entry_rejected(g.state, future.entry, "epoch")
    # Pairing the old epoch with the old head is what an offline writer does: accepted.
    check_entry_public(
        g.state, g.seal(a, epoch=old, log_seq=old_head[0], log_head=old_head[1]).entry
    )


def test_entry_sealed_while_a_rotation_is_pending_rejected(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    g.leave(c)
    pending = g.seal(a)  # the current epoch, which Carol holds, with the leave as log head
    assert_entry_rejected(g.state, pending.entry, "epoch")
    g.rotate(b)
    g.post(a)


def test_genesis_head_has_no_epoch(kit):
    g, (a,) = kit.group("Alice")
    e = g.seal(a, log_seq=0, log_head=g.state.op_hashes[0], epoch=1)
    assert_entry_rejected(g.state, e.entry, "epoch")


def test_departed_member_after_final_head_rejected(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    first = g.post(b, b"before")
    back_then = {"log_seq": g.state.seq, "log_head": g.state.head, "epoch": g.state.epoch}
    g.post(c)
    g.remove(a, b)
    assert g.state.devices[b.device_id].final_head.seq == 1
    # Bob's entries up to his final head still verify ...
    assert check_entry_public(g.state, first.entry) == first.link
    # ... anything after it, even claiming a log head from his time, does not.
    later = g.seal(b, b"after", **back_then)
    assert_entry_rejected(g.state, later.entry, "departed")
    # A different entry at his final seq is refused too.
    g.chains[b.device_id] = (0, bytes(32))
    other = g.seal(b, b"rewritten", **back_then)
    assert other.entry.header.seq == 1
    assert_entry_rejected(g.state, other.entry, "departed")
    # The same holds after a leave.
    g.post(c, b"last words")
    g.leave(c)
    g.rotate(a)
    assert_entry_rejected(g.state, g.seal(c, **back_then).entry, "departed")


def test_decode_refuses_trailing_bytes_and_other_records(kit):
    g, (a,) = kit.group("Alice")
    sealed = g.seal(a)
    for bad in (
        sealed.data + b"\x00",
        sealed.data[:-1],
        g.ops[-1],
        b"",
        encode(stub_of(sealed.entry)),
    ):
        with pytest.raises(EntryError) as info:
            decode_entry(bad)
        assert info.value.check == "encoding"


# --- author chains --------------------------------------------------------------------------


def test_chain_gap_rejected(kit):
    g, (a,) = kit.group("Alice")
    e1, e2, e3 = _three(g, a)
    t = ChainTracker()
    t.add(e1.entry.header, e1.link)
    with pytest.raises(ChainError) as info:
        t.check(e3.entry.header, e3.link)
    assert info.value.check == "gap"
    assert type(info.value) is ChainError
    fresh = ChainTracker()
    with pytest.raises(ChainError) as info:
        fresh.check(e2.entry.header, e2.link)
    assert info.value.check == "gap"


def _three(g, a):
    return [g.post(a, b"entry %d" % i) for i in range(1, 4)]


def test_chain_broken_link_rejected(kit):
    g, (a,) = kit.group("Alice")
    e1 = g.post(a, b"one")
    # Seq 2 that does not link to e1.
    g.chains[a.device_id] = (1, kit.rand(32))
    bad = g.seal(a, b"two")
    check_entry_public(g.state, bad.entry)  # the signature is fine; the chain is not
    with pytest.raises(ChainError) as info:
        g.tracker.check(bad.entry.header, bad.link)
    assert info.value.check == "chain"
    assert type(info.value) is ChainError
    # A first entry that claims a predecessor.
    t = ChainTracker()
    g.chains[a.device_id] = (0, e1.link)
    liar = g.seal(a, b"first?")
    with pytest.raises(ChainError) as info:
        t.check(liar.entry.header, liar.link)
    assert info.value.check == "chain"


def test_equivocation_detected(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    g.post(a, b"one")
    shown_to_bob = g.seal(a, b"two (as Bob sees it)")
    shown_to_carol = g.seal(a, b"two (as Carol sees it)")
    for s in (shown_to_bob, shown_to_carol):
        assert check_entry_public(g.state, s.entry) == s.link
    g.accept(shown_to_bob)
    with pytest.raises(EquivocationError) as info:
        g.accept(shown_to_carol)
    assert info.value.check == "equivocation"
    assert isinstance(info.value, EntryError)


def test_duplicate_entry_is_idempotent(kit):
    g, (a,) = kit.group("Alice")
    e1 = g.post(a, b"one")
    heads = g.tracker.heads()
    assert g.tracker.check(e1.entry.header, e1.link) is False
    g.accept(e1.data)
    assert g.tracker.heads() == heads == [ChainHead(a.device_id, 1, e1.link)]


# --- opening --------------------------------------------------------------------------------


def test_open_with_a_wrong_key_is_opaque(kit):
    g, (a,) = kit.group("Alice")
    secret = b"the minutes of the secret meeting"
    e = g.post(a, secret).entry
    old = g.key(a)
    g.rotate(a)
    other, _ = kit.group("Zed")
    for key in (
        g.key(a),
        kit.rand(32),
        bytes(32),
        other.key(other.people[next(iter(other.people))]),
    ):
        with pytest.raises(CryptoError) as info:
            open_entry(e, key)
        assert_opaque(info.value, secret)
    assert open_entry(e, old) == secret


def test_flipped_byte_anywhere_in_ct_is_opaque(kit):
    g, (a,) = kit.group("Alice")
    secret = b"S" * 40
    e = g.post(a, secret).entry
    key = g.key(a)
    for i in range(len(e.ct)):
        bad = msgspec.structs.replace(e, ct=kit.flip(e.ct, i, i % 8))
        with pytest.raises(CryptoError) as info:
            open_entry(bad, key)
        assert_opaque(info.value, secret)
    for cut in (1, 16, len(e.ct) - 72):
        with pytest.raises(CouldNotOpen):
            open_entry(msgspec.structs.replace(e, ct=e.ct[:-cut]), key)
    with pytest.raises(CouldNotOpen):
        open_entry(msgspec.structs.replace(e, ct=e.ct + bytes(16)), key)


def test_header_is_bound_to_the_ciphertext(kit):
    """A header swapped onto another ciphertext (signature aside) does not open."""
    g, (a,) = kit.group("Alice")
    e1, e2 = g.post(a, b"one").entry, g.post(a, b"two").entry
    with pytest.raises(CouldNotOpen):
        open_entry(Entry(e2.header, e1.ct, e1.sig), g.key(a))


def _forge_padded(g, author, padded: bytes) -> Entry:
    """An author who seals their own padded plaintext (a covert channel in the padding)."""
    honest = g.seal(author).entry
    header = honest.header
    k_enc, k_com = _entry_keys(g.key(author), header)
    hdr = encode(header)
    nonce = bytes(24)
    commit = P.mac(k_com, labels.MAC_COMMIT, hdr)
    ct = nonce + commit + P.xchacha_seal(k_enc, nonce, padded, P.frame((labels.AEAD_ENTRY, hdr)))
    sig = author.device.sign(labels.SIG_ENTRY, P.frame((hdr, ct_hash(ct))))
    return Entry(header, ct, sig)


def test_padding_must_be_zero_and_exact(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    body = b"hello"
    good = len(body).to_bytes(4, "big") + body + bytes(1024 - 9)
    assert open_entry(_forge_padded(g, a, good), g.key(b)) == body
    bad_cases = [
        good[:-1] + b"\x01",  # a non-zero padding byte
        (2000).to_bytes(4, "big") + good[4:],  # a length beyond the plaintext
        (1021).to_bytes(4, "big") + good[4:],  # fits, but Padmé(1025) is 1088, not 1024
        good + bytes(64),  # more padding than Padmé gives
        good[:-1],  # less
        b"\x00\x00\x00",  # shorter than the length prefix
    ]
    for padded in bad_cases:
        e = _forge_padded(g, a, padded)
        check_entry_public(g.state, e)  # publicly fine: only a key holder can tell
        with pytest.raises(CryptoError) as info:
            open_entry(e, g.key(b))
        assert_opaque(info.value, body)


# --- stubs and retractions ------------------------------------------------------------------


def test_stubs_verify_and_keep_the_chain(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    e1, e2, e3 = _three(g, a)
    stub = decode_stub(encode(stub_of(e2.entry)))
    assert check_entry_public(g.state, stub) == e2.link == link_hash(stub.header, stub.ct_hash)
    t = ChainTracker()
    for item in (e1.entry, stub, e3.entry):
        link = check_entry_public(g.state, item)
        assert t.check(item.header, link)
        t.add(item.header, link)
    assert t.heads() == g.tracker.heads()
    # A stub cannot stand in for a different ciphertext.
    forged = msgspec.structs.replace(stub, ct_hash=ct_hash(e3.entry.ct))
    assert_entry_rejected(g.state, forged, "signature")
    with pytest.raises(EntryError) as info:
        decode_stub(encode(stub) + b"\x00")
    assert info.value.check == "encoding"


def test_retraction_by_author_or_leader_accepted(kit):
    g, (a, b, _c) = kit.group("Alice", "Bob", "Carol")
    e = g.post(b, b"regrettable").entry
    own = g.post(b, b"withdrawn", retracts=[e.header.entry_id]).entry
    check_retraction(g.state, own.header, e.header)
    lead = g.post(a, b"withdrawn by a leader", retracts=[e.header.entry_id]).entry
    check_retraction(g.state, lead.header, e.header)
    check_retraction(g.state, lead.header, e.header, at_head=True)


def test_a_retracting_entry_lists_sorted_unique_ids_not_itself(kit):
    g, (_a, b) = kit.group("Alice", "Bob")
    e1, e2 = g.post(b, b"one").entry, g.post(b, b"two").entry
    ids = sorted([e1.header.entry_id, e2.header.entry_id])
    ok = g.seal(b, b"both", retracts=ids)
    assert list(ok.entry.header.retracts) == ids
    cth = ct_hash(ok.entry.ct)
    own_id = ok.entry.header.entry_id
    for bad in ([ids[1], ids[0]], [ids[0], ids[0]], sorted([ids[0], own_id])):
        # A malicious member signs a list that is out of order, repeats, or names itself.
        forged = msgspec.structs.replace(ok.entry.header, retracts=bad)
        sig = b.device.sign(labels.SIG_ENTRY, _signed_message(encode(forged), cth))
        assert_entry_rejected(g.state, EntryStub(forged, cth, sig), "retracts")
    with pytest.raises(ValueError, match="retracts at most"):
        g.seal(b, b"self", entry_id=ids[0], retracts=[ids[0]])


def test_retraction_by_another_member_or_of_a_later_entry_rejected(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    e = g.post(b, b"keep me").entry
    eid = e.header.entry_id

    def rejected(retracting, check, *, at_head=False):
        with pytest.raises(EntryError) as info:
            check_retraction(g.state, retracting, e.header, at_head=at_head)
        assert info.value.check == check

    rejected(g.post(c, b"not mine", retracts=[eid]).entry.header, "role")
    rejected(g.post(b, b"names another", retracts=[kit.rand(16)]).entry.header, "retracts")
    # Roles are judged at the retracting entry's place: promoted later does not reach back.
    before = g.post(c, b"written as a member", retracts=[eid]).entry.header
    g.set_role(a, c, "leader")
    rejected(before, "role")
    check_retraction(g.state, g.post(c, b"as a leader", retracts=[eid]).entry.header, e.header)
    # A leader who has been removed no longer retracts others' entries where it counts.
    lead = g.post(c, b"again", retracts=[eid]).entry.header
    g.remove(a, c)
    rejected(lead, "author", at_head=True)


def test_a_demoted_leaders_backdated_entry_has_no_leader_power(kit):
    """An entry beyond the head a demotion pinned is judged at the demotion, whatever older
    log head it claims, so a former leader cannot lend themselves their old role."""
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    g.set_role(a, b, "leader")
    victim = g.post(c, b"carol's issue").entry
    old_head = (g.state.seq, g.state.head)
    g.post(b, b"bob, still a leader")
    g.set_role(a, b, "member")  # pins Bob's chain at his one entry
    [(pin_seq, pin)] = g.state.devices[b.device_id].pins
    assert pin.seq == 1
    backdated = g.seal(
        b,
        b"retract carol's",
        log_seq=old_head[0],
        log_head=old_head[1],
        retracts=[victim.header.entry_id],
    )
    link = check_entry_public(g.state, backdated.entry)  # publicly fine, and chained
    assert link == backdated.link
    h = backdated.entry.header
    assert h.log_seq < pin_seq
    assert authority_seq(g.state, h.device, h.seq, h.log_seq) == pin_seq
    with pytest.raises(EntryError) as info:
        check_retraction(g.state, h, victim.header)
    assert info.value.check == "role"


def test_an_entry_at_or_below_a_pinned_head_cannot_claim_a_later_log_head(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    g.set_role(a, b, "leader")
    first = g.post(b, b"one")
    g.set_role(a, b, "member")
    pin_seq = g.state.seq
    # A second "first entry" claiming the demotion's head: equivocates with the pinned one,
    # and claims a head after the op that pinned the chain above it.
    forged = g.seal(b, b"other", seq=1, prev=kit.ZERO32, log_seq=pin_seq, log_head=g.state.head)
    assert_entry_rejected(g.state, forged.entry, "pinned")
    assert first.entry.header.seq == 1


def test_a_chains_clock_never_runs_back(kit):
    g, (a, b) = kit.group("Alice", "Bob")
    early = (g.state.seq, g.state.head)
    early_epoch = g.state.epoch
    g.post(b, b"first")
    g.rotate(a)
    g.post(b, b"second, on the new head", epoch=g.state.epoch)
    later = g.seal(
        b, b"third, claiming the old head", log_seq=early[0], log_head=early[1], epoch=early_epoch
    )
    link = check_entry_public(g.state, later.entry)  # a head it may claim, on its own
    with pytest.raises(ChainError) as info:
        g.tracker.check(later.entry.header, link)
    assert info.value.check == "clock"


# --- checkpoints ----------------------------------------------------------------------------


def test_checkpoint_comparison_detects_a_withheld_entry_and_a_different_one(kit):
    g, (a, b, c) = kit.group("Alice", "Bob", "Carol")
    e1 = g.post(b, b"one")
    e2 = g.post(b, b"two")
    g.post(c, b"carol")
    g.checkpoint(a)
    heads = g.state.checkpoint.heads
    assert heads == g.tracker.heads()
    assert g.tracker.compare_checkpoint(heads) == []
    # Carol's server withheld Bob's second entry.
    carols = ChainTracker()
    for s in (e1,):
        carols.add(s.entry.header, s.link)
    carols.add(g.entries[2].entry.header, g.entries[2].link)
    problems = carols.compare_checkpoint(heads)
    assert len(problems) == 1
    assert "withheld" in problems[0]
    # Dan was shown a different second entry (equivocation behind the checkpoint).
    g.chains[b.device_id] = (1, e1.link)
    twin = g.seal(b, b"two, other version")
    assert twin.entry.header.seq == e2.entry.header.seq
    dans = ChainTracker()
    for s in (e1, twin, g.entries[2]):
        dans.add(s.entry.header, s.link)
    problems = dans.compare_checkpoint(heads)
    assert len(problems) == 1
    assert "differs" in problems[0]


# --- the construction itself (docs/protocol.md §7) ------------------------------------------


def test_entry_is_sealed_exactly_as_specified(kit):
    g, (a,) = kit.group("Alice")
    body = b"as the spec says"
    sealed = g.post(a, body)
    e = sealed.entry
    h = e.header
    hdr = encode(h)
    u64 = h.epoch.to_bytes(8, "big")
    okm = P.hkdf(
        g.key(a),
        salt=h.entry_id,
        info=P.frame((labels.KDF_ENTRY, h.group, u64, h.device)),
        length=64,
    )
    k_enc, k_com = okm[:32], okm[32:]
    nonce = e.ct[:24]
    padded = len(body).to_bytes(4, "big") + body + bytes(1024 - 4 - len(body))
    expected = (
        nonce
        + P.mac(k_com, labels.MAC_COMMIT, hdr)
        + P.xchacha_seal(k_enc, nonce, padded, P.frame((labels.AEAD_ENTRY, hdr)))
    )
    assert e.ct == expected
    cth = P.tagged_hash(labels.H_CIPHERTEXT, e.ct)
    assert ct_hash(e.ct) == cth
    P.verify(a.device.public, labels.SIG_ENTRY, P.frame((hdr, cth)), e.sig)
    assert sealed.link == P.tagged_hash(labels.H_ENTRY_LINK, hdr, cth)
    assert (h.v, h.group, h.device, h.seq, h.prev) == (2, g.id, a.device_id, 1, bytes(32))
    assert (h.log_seq, h.log_head, h.epoch) == (g.state.seq, g.state.head, g.state.epoch)


def test_a_chosen_entry_id_is_used_and_must_be_16_bytes(kit):
    g, (a,) = kit.group("Alice")
    eid = kit.rand(16)
    sealed = g.seal(a, entry_id=eid)
    assert sealed.entry.header.entry_id == eid
    with pytest.raises(ValueError, match="16 bytes"):
        g.seal(a, entry_id=b"short")
