"""Known-answer vectors of protocol v2 (tests/vectors/protocol_v2.json).

Each vector is checked twice:

- through the public `chatham.crypto` API: recompute every deterministic value
  from its inputs (seeds, recorded random draws, fixed clocks), replay the log,
  open lockboxes with the recipient's KEM seed, open entries and attachments;
- against an independent re-implementation of the formulas in
  docs/protocol.md written here with hashlib, hmac, libsodium and pyca (no
  chatham code), so the file pins the specification, not only this code.

Finally the generator (scripts/make_vectors.py) is run: reusing the recorded
HPKE lockboxes it must reproduce the file byte for byte, and with fresh
lockboxes every section that does not depend on them must come out the same.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import struct
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import nacl.bindings as sodium
import nacl.pwhash
import pytest
from chatham.crypto import (
    ChainTracker,
    DeviceKeys,
    EntryError,
    GroupState,
    InviteCode,
    InviteSecret,
    Keyring,
    LinkSecret,
    MemberKeys,
    RecoveryKit,
    Secrets,
    check_entry_public,
    check_retraction,
    decode_card,
    decode_entry,
    decode_signed_op,
    decode_stub,
    encode,
    encode_card,
    fingerprint,
    fingerprints_match,
    keystore_key,
    labels,
    lockbox_hash,
    make_card,
    member_id,
    open_entry,
    open_keystore,
    open_stream,
    padded_length,
    padme,
    parse_keystore,
    replay,
    seal_entry,
    seal_keystore,
    seal_stream,
    sign_auth,
    stub_of,
    verify_auth,
    verify_join_read,
    verify_join_request,
    verify_public,
)
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "protocol_v2.json"
VERSION = 2  # the `v` of every versioned record (docs/protocol.md §1), spelled out here
GENERATOR = ROOT / "scripts" / "make_vectors.py"

Json = dict[str, Any]
V: Json = json.loads(VECTORS.read_text(encoding="utf-8"))
GROUP = bytes.fromhex(V["log"]["group_id"])
OPS = [bytes.fromhex(op["data"]) for op in V["log"]["ops"]]
EPOCH_KEYS = {e["epoch"]: bytes.fromhex(e["key"]) for e in V["epochs"]}


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- an independent implementation of the formulas in docs/protocol.md -----------------------


def lb(name: str) -> bytes:
    value = getattr(labels, name)
    assert isinstance(value, bytes)
    return value


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def frame(*parts: bytes) -> bytes:
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


def H(label: str, *parts: bytes) -> bytes:
    return hashlib.sha256(lb(label) + b"\x00" + frame(*parts)).digest()


def MAC(key: bytes, label: str, *parts: bytes) -> bytes:
    return hmac.new(key, lb(label) + b"\x00" + frame(*parts), hashlib.sha256).digest()


def KDF(ikm: bytes, salt: bytes, info: bytes, n: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869), written out."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm, i = okm + t, i + 1
    return okm[:n]


def ed25519_verify(pk: bytes, label: str, message: bytes, sig: bytes) -> None:
    assert sodium.crypto_core_ed25519_is_valid_point(pk)
    sodium.crypto_sign_open(sig + lb(label) + b"\x00" + message, pk)


def xopen(key: bytes, nonce: bytes, ct: bytes, ad: bytes) -> bytes:
    return bytes(sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, ad, nonce, key))


@cache
def wordlist() -> list[str]:
    return (ROOT / "crypto" / "wordlist_bip39_english.txt").read_text().split()


def words(data: bytes, n: int) -> str:
    bits = "".join(f"{byte:08b}" for byte in data)
    return " ".join(wordlist()[int(bits[11 * i : 11 * i + 11], 2)] for i in range(n))


def padme_ref(length: int) -> int:
    if length < 2:
        return length
    e = length.bit_length() - 1
    s = e.bit_length()
    z = e - s
    return ((length + (1 << z) - 1) >> z) << z


def signed_body(data: bytes) -> bytes:
    """enc(x) from enc([x, sig(64)]): a 2-array whose last element is bin8 of 64 bytes."""
    assert data[0] == 0x92
    assert data[-66:-64] == b"\xc4\x40"
    return data[1:-66]


def kem_private(seed: bytes) -> hpke.MLKEM768X25519PrivateKey:
    m = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed[:64])
    x = x25519.X25519PrivateKey.from_private_bytes(seed[64:])
    return hpke.MLKEM768X25519PrivateKey(m, x)


HPKE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


# --- helpers over the file --------------------------------------------------------------------


def member(nick: str) -> Json:
    m: Json = V["members"][nick]
    return m


def device_keys(nick: str) -> DeviceKeys:
    m = member(nick)
    return DeviceKeys.from_seeds(h(m["device_seed"]), h(m["kem_seed"]))


def nick_of_member(mid: bytes) -> str:
    return str(next(n for n, m in V["members"].items() if h(m["member_id"]) == mid))


def nick_of_device(dev: bytes) -> str:
    return str(next(n for n, m in V["members"].items() if h(m["device_id"]) == dev))


def summary(st: GroupState) -> Json:
    """The state summary recorded after each op, computed from a replayed state."""
    invite_names = {h(i["invite_id"]): i["for"] for i in V["invites"]}
    invites = {}
    for iid, inv in st.invites.items():
        status = "used" if inv.used_seq is not None else "revoked" if inv.revoked else "open"
        invites[invite_names[iid]] = status
    return {
        "seq": st.seq,
        "head": st.head.hex(),
        "epoch": st.epoch,
        "pending_rotation": st.pending_rotation,
        "policy": [st.policy.history, st.policy.notes, st.policy.rotate_each_meeting],
        "members": {
            nick_of_member(m.id): {"role": m.role, "status": m.status}
            for m in sorted(st.members.values(), key=lambda m: nick_of_member(m.id))
        },
        "invites": dict(sorted(invites.items())),
    }


def state_at(seq: int) -> GroupState:
    return replay(OPS[: seq + 1])


@pytest.fixture(scope="module")
def final_state() -> GroupState:
    return verify_public(OPS)


class Replay:
    """A `rand` that hands back recorded values in order."""

    def __init__(self, *values: bytes) -> None:
        self.values = list(values)

    def __call__(self, n: int) -> bytes:
        v = self.values.pop(0)
        assert len(v) == n
        return v


def test_file_is_small_and_complete() -> None:
    assert VECTORS.stat().st_size < 1_000_000
    tags = {op["tag"] for op in V["log"]["ops"]}
    assert tags == {
        "genesis",
        "rotate",
        "invite",
        "revoke-invite",
        "add",
        "remove",
        "leave",
        "add-device",
        "remove-device",
        "set-role",
        "policy",
        "checkpoint",
        "move",
    }
    assert V["suite"] == labels.SUITE


def test_labels_match_the_code() -> None:
    for name, value in V["labels"].items():
        current = getattr(labels, name)
        assert (current.decode() if isinstance(current, bytes) else current) == value, name


def test_drbg_example() -> None:
    rng = V["rng"]
    ex = rng["example"]
    data = rng["domain"].encode() + b"\x00" + ex["label"].encode() + b"\x00" + u64(ex["counter"])
    assert hashlib.shake_256(data).digest(ex["n"]).hex() == rng["example_output"]
    assert member("alice")["member_seed"] == rng["example_output"]


# --- identity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("nick", list(V["members"]))
def test_member_keys_and_card(nick: str) -> None:
    m = member(nick)
    mk = MemberKeys.from_seed(h(m["member_seed"]))
    dk = device_keys(nick)
    assert mk.public.hex() == m["member_public"]
    assert mk.id.hex() == m["member_id"] == member_id(mk.public).hex()
    assert mk.fingerprint == m["fingerprint"] == fingerprint(mk.public)
    assert fingerprints_match(m["fingerprint"], m["fingerprint"].upper().replace(" ", "  "))
    assert dk.public.hex() == m["device_public"]
    assert dk.id.hex() == m["device_id"]
    assert dk.kem_public.hex() == m["kem_public"]
    card = make_card(mk, dk, created=m["created"])
    assert encode_card(card).hex() == m["card"]
    assert encode(card.cert).hex() == m["cert"]
    assert decode_card(h(m["card"])) == card
    secrets = Secrets(mk, dk, h(m["store_secret"]), m["created"])
    assert [k.hex() for k in secrets.store_keys()] == [m["store_seal_key"], m["store_mac_key"]]

    # Independently (docs/protocol.md §3).
    pk, dev = h(m["member_public"]), h(m["device_public"])
    assert bytes(sodium.crypto_sign_seed_keypair(h(m["member_seed"]))[0]) == pk
    assert bytes(sodium.crypto_sign_seed_keypair(h(m["device_seed"]))[0]) == dev
    assert H("H_MEMBER_ID", pk).hex() == m["member_id"]
    assert H("H_DEVICE_ID", dev).hex() == m["device_id"]
    assert words(H("H_FINGERPRINT", pk), 8) == m["fingerprint"]
    seed = h(m["kem_seed"])
    mpk = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed[:64]).public_key().public_bytes_raw()
    xpk = x25519.X25519PrivateKey.from_private_bytes(seed[64:]).public_key().public_bytes_raw()
    assert mpk + xpk == h(m["kem_public"])
    cert = h(m["cert"])
    assert msgspec.msgpack.decode(cert) == [VERSION, pk, dev, h(m["kem_public"]), m["created"]]
    c = h(m["card"])
    assert c[0] == 0x93
    assert c[1 : 1 + len(cert)] == cert
    assert c[1 + len(cert) :][:2] == b"\xc4\x40"
    ed25519_verify(pk, "SIG_CARD", cert, c[1 + len(cert) + 2 :][:64])
    ed25519_verify(dev, "SIG_CARD", cert, c[-64:])
    assert KDF(h(m["store_secret"]), b"", lb("KDF_STORE_SEAL")).hex() == m["store_seal_key"]
    assert KDF(h(m["store_secret"]), b"", lb("KDF_STORE_MAC")).hex() == m["store_mac_key"]


def test_keystore() -> None:
    ks = V["keystore"]
    m = member(ks["member"])
    secrets = Secrets(
        MemberKeys.from_seed(h(m["member_seed"])),
        device_keys(ks["member"]),
        h(m["store_secret"]),
        m["created"],
    )
    # Argon2id is deterministic given the salt, so the whole file is reproducible.
    sealed = seal_keystore(secrets, ks["passphrase"], rand=Replay(h(ks["salt"]), h(ks["nonce"])))
    assert sealed.hex() == ks["file"]
    f = parse_keystore(sealed)
    assert (f.opslimit, f.memlimit) == (ks["opslimit"], ks["memlimit"])
    opened = open_keystore(h(ks["file"]), ks["passphrase"])
    assert opened.member.seed.hex() == m["member_seed"]
    assert opened.device.seed.hex() == m["device_seed"]
    assert opened.device.kem_seed.hex() == m["kem_seed"]
    assert opened.store_secret.hex() == m["store_secret"]
    assert opened.created == m["created"]

    # Independently (§4).
    key = nacl.pwhash.argon2id.kdf(
        32,
        ks["passphrase"].encode(),
        h(ks["salt"]),
        opslimit=ks["opslimit"],
        memlimit=ks["memlimit"],
    )
    assert key.hex() == ks["key"]
    file = h(ks["file"])
    decoded = msgspec.msgpack.decode(file)
    assert decoded[:5] == [VERSION, ks["opslimit"], ks["memlimit"], h(ks["salt"]), h(ks["nonce"])]
    ad = frame(
        lb("AEAD_KEYSTORE"), u64(VERSION), u64(ks["opslimit"]), u64(ks["memlimit"]), h(ks["salt"])
    )
    body = xopen(key, h(ks["nonce"]), decoded[5], ad)
    assert body.hex() == ks["secrets"]
    assert msgspec.msgpack.decode(body) == [
        VERSION,
        h(m["member_seed"]),
        h(m["device_seed"]),
        h(m["kem_seed"]),
        h(m["store_secret"]),
        m["created"],
    ]


def test_keystore_key_matches() -> None:
    # keystore_key runs Argon2id; the recorded key must be what it derives.
    ks = V["keystore"]
    assert keystore_key(h(ks["file"]), ks["passphrase"]).hex() == ks["key"]


# --- the log ----------------------------------------------------------------------------------


def test_log_replays_to_recorded_states() -> None:
    st = GroupState()
    for rec, data in zip(V["log"]["ops"], OPS, strict=True):
        applied = st.apply(data)
        assert applied.seq == rec["seq"]
        assert applied.hash.hex() == rec["hash"]
        assert type(applied.op.body).__struct_config__.tag == rec["tag"]
        assert applied.op.time == rec["time"]
        assert applied.signer_member.hex() == member(rec["signer"])["member_id"]
        assert summary(st) == rec["state"]
    assert st.group_id == GROUP
    assert summary(st) == V["log"]["final_state"]


def test_log_independently() -> None:
    """§5: op hash, group id, chaining and signatures, without chatham code."""
    prev = bytes(32)
    for seq, (rec, data) in enumerate(zip(V["log"]["ops"], OPS, strict=True)):
        assert H("H_OP", data).hex() == rec["hash"]
        body = signed_body(data)
        v, group, op_seq, op_prev, signer, time, op_body = msgspec.msgpack.decode(body)
        assert (v, op_seq, op_prev, time) == (VERSION, seq, prev, rec["time"])
        assert op_body[0] == rec["tag"]
        assert group == (bytes(32) if seq == 0 else GROUP)
        signer_nick = nick_of_device(signer)
        assert signer_nick == rec["signer"]
        ed25519_verify(h(member(signer_nick)["device_public"]), "SIG_OP", body, data[-64:])
        prev = h(rec["hash"])
    assert H("H_GROUP_ID", OPS[0]) == GROUP


def test_log_refuses_reordering_and_truncated_rollback() -> None:
    st = state_at(5)
    with pytest.raises(Exception, match="expected op"):
        st.copy().apply(OPS[7])
    full = verify_public(OPS)
    full.check_extends(5, h(V["log"]["ops"][5]["hash"]))
    with pytest.raises(Exception, match="rollback"):
        st.check_extends(full.seq, full.head)


# --- epochs and lockboxes ---------------------------------------------------------------------


@pytest.mark.parametrize("ep", V["epochs"], ids=lambda e: f"epoch{e['epoch']}")
def test_epoch(ep: Json) -> None:
    n, key, prev = ep["epoch"], h(ep["key"]), h(ep["prev"])
    op = decode_signed_op(OPS[ep["op_seq"]]).op
    rotation = op.body.rotation  # type: ignore[union-attr]
    assert rotation.epoch == n
    assert op.prev == prev == h(V["log"]["ops"][ep["op_seq"] - 1]["hash"])
    assert [[r.device.hex(), r.hash.hex()] for r in rotation.refs] == [
        [r["device"], r["hash"]] for r in ep["refs"]
    ]
    assert rotation.confirm.hex() == ep["confirm"]
    # §6.1 key confirmation.
    assert (
        MAC(KDF(key, b"", lb("KDF_CONFIRM")), "MAC_CONFIRM", GROUP, u64(n), prev).hex()
        == (ep["confirm"])
    )
    # §6.1 back-link: present exactly when this epoch and the one before it were both
    # created under history `full`.
    before = next((e for e in V["epochs"] if e["epoch"] == n - 1), None)
    if ep["history"] == "full" and before is not None and before["history"] == "full":
        bl = h(ep["backlink"])
        ad = frame(lb("AEAD_BACKLINK"), GROUP, u64(n), u64(n - 1))
        assert xopen(KDF(key, b"", lb("KDF_BACKLINK")), bl[:24], bl[24:], ad) == EPOCH_KEYS[n - 1]
    else:
        assert ep["backlink"] is None
    # §6.4 attested names.
    if ep["names"] is not None:
        blob = h(ep["names"])
        ad = frame(lb("AEAD_NAMES"), GROUP, u64(n), prev)
        plain = xopen(KDF(key, b"", lb("KDF_NAMES")), blob[:24], blob[24:], ad)
        assert plain.hex() == ep["names_plaintext"]
        # NB: the encoding is the NameList record: the pair list, then the group's name.
        pairs = [[h(mid), name] for mid, name in ep["names_list"]]
        assert msgspec.msgpack.decode(plain) == [pairs, ep["group_name"]]
        for mid, name in ep["names_list"]:
            assert V["members"][nick_of_member(h(mid))]["name"] == name


@pytest.mark.parametrize("lbx", V["lockboxes"], ids=lambda x: f"epoch{x['epoch']}-{x['recipient']}")
def test_lockbox_opens(lbx: Json, final_state: GroupState) -> None:
    n, nick = lbx["epoch"], lbx["recipient"]
    m = member(nick)
    dk = device_keys(nick)
    sealed, key = h(lbx["sealed"]), h(lbx["key"])
    assert key == EPOCH_KEYS[n]
    assert dk.kem_seed.hex() == lbx["kem_seed"]
    ep = next(e for e in V["epochs"] if e["epoch"] == n)
    # The op commits to the lockbox by hash (§6.1), public API and independently.
    assert lockbox_hash(GROUP, n, dk.id, sealed).hex() == lbx["ref_hash"]
    assert H("H_LOCKBOX", GROUP, u64(n), dk.id, sealed).hex() == lbx["ref_hash"]
    assert {"device": m["device_id"], "hash": lbx["ref_hash"]} in ep["refs"]
    info = frame(
        lb("HPKE_LOCKBOX"),
        GROUP,
        u64(n),
        h(ep["prev"]),
        h(m["member_id"]),
        h(m["device_id"]),
        H("H_LOCKBOX", h(m["kem_public"])),
    )
    assert info.hex() == lbx["info"]
    # Open through the API (checks hash and key confirmation) and through pyca's HPKE.
    got = Keyring().accept_lockbox(final_state, dk, h(m["member_id"]), n, sealed)
    assert got == key
    assert HPKE.decrypt(sealed, kem_private(h(lbx["kem_seed"])), info) == key


def test_backlinks_reach_exactly_what_the_policy_allows(final_state: GroupState) -> None:
    def reach(nick: str, epoch: int) -> list[int]:
        lbx = next(x for x in V["lockboxes"] if x["recipient"] == nick and x["epoch"] == epoch)
        kr = Keyring()
        kr.accept_lockbox(final_state, device_keys(nick), h(member(nick)["member_id"]), epoch,
                          h(lbx["sealed"]))  # fmt: skip
        for e, k in kr.keys.items():
            assert k == EPOCH_KEYS[e]
        return sorted(kr.keys)

    # Epochs 3 and 4 were created under `full`; epoch 2 (the add) under `from-join`, so
    # nothing links back to it: the from-join promise holds after the policy change.
    assert reach("alice", 4) == [3, 4]
    assert reach("carol", 3) == [3]
    assert reach("bob", 2) == [2]


def test_attested_names_through_keyring(final_state: GroupState) -> None:
    kr = Keyring(dict(EPOCH_KEYS))
    names = kr.names(final_state)
    assert {nick_of_member(mid): name for mid, name in names.items()} == {
        "alice": "Alice",
        "bob": "Bob",
        "carol": "Carol",
    }


# --- entries ----------------------------------------------------------------------------------


def test_entries(final_state: GroupState) -> None:
    tracker = ChainTracker()
    for rec in V["entries"]:
        data, body, key = h(rec["data"]), h(rec["body"]), h(rec["epoch_key"])
        hd = rec["header"]
        assert key == EPOCH_KEYS[hd["epoch"]]
        e = decode_entry(data)
        assert encode(e.header).hex() == rec["header_encoding"]
        assert e.ct.hex() == rec["ct"]
        assert e.sig.hex() == rec["sig"]
        link = check_entry_public(final_state, e)
        assert link.hex() == rec["link"]
        assert tracker.check(e.header, link)
        tracker.add(e.header, link)
        assert open_entry(e, key) == body
        # Re-seal from the inputs: the same random draws give the same bytes.
        again = seal_entry(
            device=device_keys(rec["author"]),
            epoch_key=key,
            group=h(hd["group"]),
            epoch=hd["epoch"],
            seq=hd["seq"],
            prev=h(hd["prev"]),
            log_seq=hd["log_seq"],
            log_head=h(hd["log_head"]),
            body=body,
            retracts=[h(r) for r in hd["retracts"]],
            rand=Replay(h(hd["entry_id"]), h(rec["nonce"])),
        )
        assert again.data == data
        assert again.link == link
        stub = stub_of(e)
        assert encode(stub).hex() == rec["stub"]
        assert check_entry_public(final_state, decode_stub(h(rec["stub"]))) == link
    assert tracker.heads()


@pytest.mark.parametrize("rec", V["entries"], ids=lambda r: f"{r['author']}-{r['header']['seq']}")
def test_entry_independently(rec: Json) -> None:
    """§7: header, key derivation, commitment, padding, signature and link."""
    hd = rec["header"]
    hdr = h(rec["header_encoding"])
    assert msgspec.msgpack.decode(hdr) == [
        VERSION,
        h(hd["group"]),
        h(hd["entry_id"]),
        hd["epoch"],
        h(hd["device"]),
        hd["seq"],
        h(hd["prev"]),
        hd["log_seq"],
        h(hd["log_head"]),
        [h(r) for r in hd["retracts"]],
    ]
    assert h(hd["log_head"]) == h(V["log"]["ops"][hd["log_seq"]]["hash"])
    assert h(hd["device"]) == h(member(rec["author"])["device_id"])
    okm = KDF(
        h(rec["epoch_key"]),
        h(hd["entry_id"]),
        frame(lb("KDF_ENTRY"), h(hd["group"]), u64(hd["epoch"]), h(hd["device"])),
        64,
    )
    assert okm.hex() == rec["k_enc"] + rec["k_com"]
    ct = h(rec["ct"])
    assert ct[:24].hex() == rec["nonce"]
    assert ct[24:56] == MAC(okm[32:], "MAC_COMMIT", hdr) == h(rec["commit"])
    padded = xopen(okm[:32], ct[:24], ct[56:], frame(lb("AEAD_ENTRY"), hdr))
    body = h(rec["body"])
    assert len(padded) == rec["padded_length"] == max(1024, padme_ref(4 + len(body)))
    assert padded == len(body).to_bytes(4, "big") + body + bytes(len(padded) - 4 - len(body))
    cth = H("H_CIPHERTEXT", ct)
    assert cth.hex() == rec["ct_hash"]
    ed25519_verify(h(member(rec["author"])["device_public"]), "SIG_ENTRY", frame(hdr, cth),
                   h(rec["sig"]))  # fmt: skip
    assert H("H_ENTRY_LINK", hdr, cth).hex() == rec["link"]
    data = h(rec["data"])
    assert msgspec.msgpack.decode(data)[1:] == [ct, h(rec["sig"])]
    assert msgspec.msgpack.decode(h(rec["stub"]))[1:] == [cth, h(rec["sig"])]


def test_retraction(final_state: GroupState) -> None:
    """§7.1: a retracting entry lists the entries it withdraws; a leader may withdraw any."""
    r = V["retraction"]
    retracting, target = V["entries"][r["entry"]], V["entries"][r["target"]]
    assert retracting["header"]["retracts"] == [target["header"]["entry_id"]]
    assert target["author"] != retracting["author"]
    hdr = decode_entry(h(retracting["data"])).header
    target_hdr = decode_entry(h(target["data"])).header
    check_retraction(final_state, hdr, target_hdr)
    # Nobody else's entry is withdrawn by it.
    other = next(e for e in V["entries"] if e not in (retracting, target))
    with pytest.raises(EntryError) as info:
        check_retraction(final_state, hdr, decode_entry(h(other["data"])).header)
    assert info.value.check == "retracts"


def test_meeting_code() -> None:
    mc = V["meeting_code"]
    st = state_at(mc["op_seq"])
    assert st.checkpoint is not None
    assert st.checkpoint.hash.hex() == mc["checkpoint_hash"]
    assert [[hd.device.hex(), hd.seq, hd.link.hex()] for hd in st.checkpoint.heads] == [
        [x["device"], x["seq"], x["link"]] for x in mc["heads"]
    ]
    key = h(mc["epoch_key"])
    assert Keyring({mc["epoch"]: key}).meeting_code(st) == mc["code"]
    assert Keyring().meeting_code(st) is None
    # §9, independently.
    k_conf = KDF(key, b"", lb("KDF_CONFIRM"))
    code = MAC(k_conf, "MAC_MEETING", GROUP, u64(mc["epoch"]), h(mc["checkpoint_hash"]))
    assert words(code, 6) == mc["code"]
    # A member holding the entries up to the checkpoint sees nothing withheld.
    tracker = ChainTracker()
    for rec in V["entries"]:
        if rec["header"]["log_seq"] < mc["op_seq"]:
            e = decode_entry(h(rec["data"]))
            tracker.add(e.header, h(rec["link"]))
    assert tracker.compare_checkpoint(st.checkpoint.heads) == []


# --- invites ----------------------------------------------------------------------------------


@pytest.mark.parametrize("inv", V["invites"], ids=lambda i: i["for"])
def test_invite(inv: Json) -> None:
    sec = InviteCode.parse_link(inv["link"]).for_group(GROUP)
    assert sec.secret.hex() == inv["secret"]
    assert sec.group == GROUP == h(inv["group"])
    assert sec.server == inv["server"]
    assert sec.invite_id.hex() == inv["invite_id"]
    assert sec.join_key.hex() == inv["join_public"]
    assert sec.mac_key.hex() == inv["mac_key"]
    assert InviteSecret(h(inv["secret"]), GROUP, inv["server"]).code == inv["code"]
    assert InviteCode.parse(inv["code"].lower(), inv["server"]).secret == sec.secret
    challenge = h(inv["read_challenge"])
    assert sec.read_signature(challenge).hex() == inv["read_signature"]
    verify_join_read(sec.join_key, GROUP, sec.invite_id, challenge, h(inv["read_signature"]))

    # The invite op publishes the id and join key (never the secret).
    op = next(
        decode_signed_op(d).op
        for d, rec in zip(OPS, V["log"]["ops"], strict=True)
        if rec["tag"] == "invite" and decode_signed_op(d).op.body.invite_id == sec.invite_id  # type: ignore[union-attr]
    )
    assert op.body.join_key == sec.join_key  # type: ignore[union-attr]

    if inv["join_request"] is not None:
        card = decode_card(h(member(inv["for"])["card"]))
        req = sec.request(card, created=inv["join_request_created"])
        assert req.hex() == inv["join_request"]
        before_add = next(o["seq"] for o in V["log"]["ops"] if o["tag"] == "add") - 1
        sjr = verify_join_request(state_at(before_add), req, now=inv["join_request_created"])
        assert sjr.request.card == card
        assert sec.check_mac(sjr.request)

    # §8, independently.
    s = h(inv["secret"])
    assert H("H_INVITE_ID", s).hex() == inv["invite_id"]
    seed = KDF(s, GROUP, lb("KDF_INVITE_JOIN"))
    assert seed.hex() == inv["join_seed"]
    assert bytes(sodium.crypto_sign_seed_keypair(seed)[0]).hex() == inv["join_public"]
    assert KDF(s, GROUP, lb("KDF_INVITE_MAC")).hex() == inv["mac_key"]
    check = H("H_INVITE_CHECK", s, inv["server"].encode())
    assert check.hex() == inv["checksum_hash"]
    n = int.from_bytes(s, "big") << 22 | int.from_bytes(check[:4], "big") >> 10
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    symbols = "".join(alphabet[(n >> (5 * i)) & 31] for i in reversed(range(30)))
    assert inv["code"] == "-".join(symbols[i : i + 5] for i in range(0, 30, 5))
    assert inv["link"] == f"{inv['server']}#{inv['code']}"
    ed25519_verify(
        h(inv["join_public"]), "SIG_JOIN_READ", frame(GROUP, h(inv["invite_id"]), challenge),
        h(inv["read_signature"]),
    )  # fmt: skip
    if inv["join_request"] is not None:
        data = h(inv["join_request"])
        body = signed_body(data)
        ed25519_verify(h(inv["join_public"]), "SIG_JOIN", body, data[-64:])
        v, group, iid, _card, mac, created = msgspec.msgpack.decode(body)
        assert (v, group, iid, created) == (
            VERSION,
            GROUP,
            h(inv["invite_id"]),
            inv["join_request_created"],
        )
        card_bytes = h(member(inv["for"])["card"])
        assert card_bytes in body
        want = MAC(h(inv["mac_key"]), "MAC_INVITE", GROUP, h(inv["invite_id"]), card_bytes)
        assert mac == want


# --- padding, attachments, auth ---------------------------------------------------------------


def test_padme_table() -> None:
    for n, want in V["padme"]:
        assert padme(n) == want == padme_ref(n), n
    for n, want in V["padded_length"]:
        assert padded_length(n) == want == max(1024, padme_ref(4 + n)), n


@pytest.mark.parametrize("att", V["attachments"], ids=lambda a: f"{a['plaintext_length']}B")
def test_attachment(att: Json) -> None:
    n = att["plaintext_length"]
    plain = bytes(i % 251 for i in range(n))
    assert hashlib.sha256(plain).hexdigest() == att["plaintext_sha256"]
    if "plaintext" in att:
        assert att["plaintext"] == plain.hex()
    key, aid = h(att["key"]), h(att["id"])
    chunks = [h(c) for c in att["chunks"]]
    assert list(seal_stream(key, aid, [plain])) == chunks
    assert b"".join(open_stream(key, aid, chunks)) == plain
    # §10, independently.
    ck = KDF(key, aid, lb("KDF_ATTACHMENT"))
    assert ck.hex() == att["chunk_key"]
    aead, ad, out = ChaCha20Poly1305(ck), frame(lb("AEAD_ATTACHMENT"), aid), b""
    for i, c in enumerate(chunks):
        last = i == len(chunks) - 1
        out += aead.decrypt(i.to_bytes(11, "big") + (b"\x01" if last else b"\x00"), c, ad)
        assert last or len(c) == 65536 + 16
    assert out == plain
    # The digest the referencing entry signs: the sealed chunks in order, then their count.
    digest = hashlib.sha256(lb("H_ATTACHMENT") + b"\x00")
    for c in chunks:
        digest.update(len(c).to_bytes(4, "big") + c)
    digest.update(len(chunks).to_bytes(8, "big"))
    assert digest.hexdigest() == att["digest"]
    assert b"".join(open_stream(key, aid, chunks, h(att["digest"]))) == plain


def test_auth() -> None:
    a = V["auth"]
    dk = device_keys(a["device"])
    challenge = h(a["challenge"])
    server_id = h(a["server_id"])
    sig = sign_auth(dk, server_id, a["action"], challenge)
    assert sig.hex() == a["sig"]
    verify_auth(dk.public, server_id, a["action"], challenge, sig)
    msg = frame(server_id, a["action"].encode(), challenge)
    ed25519_verify(dk.public, "SIG_AUTH", msg, sig)


# --- the generator ----------------------------------------------------------------------------


@cache
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_vectors", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_vectors"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_generator_reproduces_the_file_exactly() -> None:
    """With the recorded lockboxes as input, every other byte must come out the same."""
    gen = generator()
    vectors, pins = gen.build_vectors(V)
    assert pins.fresh == 0
    assert pins.reused == len(V["lockboxes"])
    assert gen.render(vectors) == VECTORS.read_text(encoding="utf-8")


def pick(doc: Json, path: str) -> Any:
    node: Any = doc
    for part in path.split("."):
        if "[" in part:
            name, index = part[:-1].split("[")
            node = node[name][int(index)]
        else:
            node = node[part]
    return node


def test_generator_with_fresh_lockboxes() -> None:
    """HPKE is randomized: fresh lockboxes change the log, but nothing independent of them."""
    gen = generator()
    vectors, pins = gen.build_vectors(None)
    assert pins.reused == 0
    assert pins.fresh == len(V["lockboxes"])
    independent = V["reproducibility"]["independent_of_lockboxes"]
    assert independent == vectors["reproducibility"]["independent_of_lockboxes"]
    for path in independent:
        assert pick(vectors, path) == pick(V, path), path
    old = {x["sealed"] for x in V["lockboxes"]}
    assert not old & {x["sealed"] for x in vectors["lockboxes"]}
    assert vectors["log"]["ops"][1]["hash"] != V["log"]["ops"][1]["hash"]
    # The fresh log is still a valid log.
    verify_public([bytes.fromhex(op["data"]) for op in vectors["log"]["ops"]])


# --- device links (§5.4) ----------------------------------------------------------------------


def test_link_code_and_derivations_independently() -> None:
    lk = V["links"]
    s, server = h(lk["secret"]), lk["server"]
    check = H("H_LINK_CHECK", s, server.encode())
    assert check.hex() == lk["checksum_hash"]
    n = int.from_bytes(s, "big") << 20 | int.from_bytes(check[:4], "big") >> 12
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    symbols = "".join(alphabet[(n >> (5 * i)) & 31] for i in reversed(range(20)))
    assert "-".join(symbols[i : i + 5] for i in range(0, 20, 5)) == lk["code"]
    assert lk["line"] == f"{server}#{lk['code']}"
    link_id = H("H_LINK_ID", s)
    assert link_id.hex() == lk["link_id"]
    auth = KDF(s, b"", lb("KDF_LINK_AUTH"))
    assert auth.hex() == lk["auth"]
    assert H("H_LINK_VERIFIER", auth).hex() == lk["verifier"]
    key = KDF(s, b"", lb("KDF_LINK_SEAL"))
    assert key.hex() == lk["seal_key"]
    for slot in ("offer", "request"):
        sealed = h(lk[slot])
        ad = frame(lb("AEAD_LINK"), link_id, slot.encode())
        assert xopen(key, sealed[:24], sealed[24:], ad).hex() == lk[f"{slot}_plaintext"]
    offer = msgspec.msgpack.decode(h(lk["offer_plaintext"]))
    assert offer[1].hex() == member("alice")["member_public"]
    assert offer[2].hex() == member("alice")["device_id"]
    request = msgspec.msgpack.decode(h(lk["request_plaintext"]))
    assert msgspec.msgpack.encode(request[1]) == h(lk["cert"]) == h(member("alice-laptop")["cert"])
    ed25519_verify(
        h(member("alice-laptop")["device_public"]), "SIG_CARD", h(lk["cert"]), request[2]
    )
    assert words(H("H_LINK_WORDS", s, h(lk["cert"])), 6) == lk["words"]


def test_link_through_the_library() -> None:
    lk = V["links"]
    parsed = LinkSecret.parse(lk["line"])
    assert (parsed.secret.hex(), parsed.code, parsed.link_id.hex()) == (
        lk["secret"],
        lk["code"],
        lk["link_id"],
    )
    offer = parsed.read_offer(h(lk["offer"]))
    req = parsed.read_request(offer, h(lk["request"]))
    assert parsed.words(req.cert) == lk["words"]


def test_recovery_kit_independently() -> None:
    kv = V["recovery_kit"]
    k = h(kv["secret"])
    check = H("H_KIT_CHECK", k)
    assert check.hex() == kv["checksum_hash"]
    n = int.from_bytes(k, "big") << 37 | int.from_bytes(check[:8], "big") >> 27
    wl = wordlist()
    assert " ".join(wl[(n >> (11 * (14 - i))) & 0x7FF] for i in range(15)) == kv["words"]
    assert KDF(k, b"", lb("KDF_KIT_SIGN")).hex() == kv["device_seed"]
    assert KDF(k, b"", lb("KDF_KIT_KEM"), 96).hex() == kv["kem_seed"]
    assert (
        bytes(sodium.crypto_sign_seed_keypair(h(kv["device_seed"]))[0]).hex() == kv["device_public"]
    )
    assert H("H_DEVICE_ID", h(kv["device_public"])).hex() == kv["device_id"]
    kit = RecoveryKit.parse(kv["words"])
    assert kit.secret == k
    assert kit.device().kem_public.hex() == kv["kem_public"]
