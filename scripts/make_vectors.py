"""Generate tests/vectors/protocol_v2.json: known-answer vectors for protocol v2.

    .venv/bin/python scripts/make_vectors.py            # regenerate (byte-identical)
    .venv/bin/python scripts/make_vectors.py --check    # exit 1 if the file would change
    .venv/bin/python scripts/make_vectors.py --fresh    # new HPKE lockboxes (changes the log)

Every random value comes from a deterministic generator (SHAKE-256 of a fixed
domain, a per-purpose label and a counter; see `Drbg`), and every clock is a
fixed number, so the output is a pure function of this script and
chatham.crypto. The one exception is HPKE: `cryptography`'s HPKE API draws its
ephemeral key internally, so a lockbox cannot be reproduced from a seed. The
generator therefore seals each lockbox once and, on every later run, reuses
the recorded lockbox (after checking that it opens, with the recipient's KEM
seed, to the same epoch key under the same `info`) instead of sealing a new
one. Lockbox bytes are inputs, not outputs; everything else, including the
op hashes and entries that commit to the lockboxes, is recomputed and must
come out byte for byte the same. `--fresh` seals new lockboxes; the sections
listed under `reproducibility.independent_of_lockboxes` do not change then.

tests/crypto/test_vectors.py checks the file against chatham.crypto and
against independent re-computations of the formulas in docs/protocol.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatham.crypto import (
    AttachmentSealer,
    ChainHead,
    ChainTracker,
    GroupState,
    InviteCode,
    InviteSecret,
    Keyring,
    LinkSecret,
    MemberCard,
    PendingOp,
    Policy,
    RecoveryKit,
    SealedEntry,
    Secrets,
    build_add,
    build_add_device,
    build_checkpoint,
    build_invite,
    build_leave,
    build_move,
    build_policy,
    build_remove,
    build_remove_device,
    build_revoke_invite,
    build_rotate,
    build_set_role,
    check_entry_public,
    check_retraction,
    create_group,
    decode_entry,
    encode,
    encode_card,
    keystore_key,
    labels,
    lockbox_hash,
    make_card,
    open_entry,
    padded_length,
    padme,
    parse_keystore,
    seal_entry,
    seal_keystore,
    seal_stream,
    sign_auth,
    stub_of,
    verify_join_request,
)
from chatham.crypto import _primitives as P
from chatham.crypto._entry import _entry_keys
from chatham.crypto._epoch import lockbox_info, open_names
from chatham.crypto._identity import DeviceKeys
from chatham.crypto._records import Add, Remove, RemoveDevice, Role, Rotate, Rotation

Json = dict[str, Any]

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "vectors" / "protocol_v2.json"

DRBG_DOMAIN = b"chatham/v2/test-vectors"
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z: every clock in the vectors is T0 + a fixed offset
SERVER = "https://journal.example.org"
GROUP_NAME = "Thursday Forum"
PASSPHRASE = "correct horse battery staple"

# Sections (top-level keys, or "log.ops[0]" style paths) that no lockbox bytes feed into.
INDEPENDENT = [
    "rng",
    "labels",
    "members",
    "keystore",
    "padme",
    "padded_length",
    "attachments",
    "invites",
    "links",
    "recovery_kit",
    "auth",
    "log.group_id",
    "log.ops[0]",
]


def hx(b: bytes) -> str:
    return b.hex()


class Drbg:
    """rand(n) = SHAKE-256(DRBG_DOMAIN ‖ 0x00 ‖ label ‖ 0x00 ‖ u64(counter)), first n bytes.

    One counter per label, starting at 0 and incremented on every call, so the
    values drawn for one purpose do not shift when another purpose changes.
    """

    def __init__(self, label: str) -> None:
        self.label = label.encode()
        self.counter = 0

    def __call__(self, n: int) -> bytes:
        data = DRBG_DOMAIN + b"\x00" + self.label + b"\x00" + self.counter.to_bytes(8, "big")
        self.counter += 1
        return hashlib.shake_256(data).digest(n)


class Replay:
    """A `rand` that returns recorded values in order (used to reproduce a sealing call)."""

    def __init__(self, *values: bytes) -> None:
        self.values = list(values)

    def __call__(self, n: int) -> bytes:
        v = self.values.pop(0)
        if len(v) != n:
            raise ValueError(f"replayed {len(v)} bytes where {n} were asked for")
        return v


# --- HPKE lockboxes: sealed once, then reused -------------------------------------------------

LockboxKey = tuple[bytes, bytes, bytes]  # (recipient KEM public key, info, plaintext)


class LockboxPins:
    """Recorded lockboxes, keyed by what was sealed; a miss seals a new one."""

    def __init__(self, previous: Json | None) -> None:
        self.table: dict[LockboxKey, tuple[bytes, bytes]] = {}
        self.reused = 0
        self.fresh = 0
        for lb in (previous or {}).get("lockboxes", []):
            seed = bytes.fromhex(lb["kem_seed"])
            _, pk = P.kem_keys_from_seed(seed)
            key = (pk, bytes.fromhex(lb["info"]), bytes.fromhex(lb["key"]))
            self.table[key] = (bytes.fromhex(lb["sealed"]), seed)

    def seal(self, real: Callable[[bytes, bytes, bytes], bytes]) -> Callable[..., bytes]:
        def hpke_seal(public_key: bytes, info: bytes, plaintext: bytes) -> bytes:
            hit = self.table.get((public_key, info, plaintext))
            if hit is not None:
                sealed, seed = hit
                private, _ = P.kem_keys_from_seed(seed)
                if P.hpke_open(private, info, sealed) == plaintext:
                    self.reused += 1
                    return sealed
            self.fresh += 1
            return real(public_key, info, plaintext)

        return hpke_seal


@contextmanager
def pinned_hpke(pins: LockboxPins) -> Iterator[None]:
    real = P.hpke_seal
    P.hpke_seal = pins.seal(real)
    try:
        yield
    finally:
        P.hpke_seal = real


# --- the scenario -----------------------------------------------------------------------------


@dataclass
class Person:
    nick: str
    name: str
    secrets: Secrets
    card: MemberCard
    keyring: Keyring

    @property
    def id(self) -> bytes:
        return self.secrets.member.id

    @property
    def device_id(self) -> bytes:
        return self.secrets.device.id


def pattern(n: int) -> bytes:
    """Deterministic plaintext: byte i is i mod 251."""
    return bytes(i % 251 for i in range(n))


class Builder:
    def __init__(self, pins: LockboxPins) -> None:
        self.pins = pins
        self.people: dict[str, Person] = {}
        self.by_member: dict[bytes, str] = {}
        self.invite_names: dict[bytes, str] = {}
        self.state = GroupState()
        self.ops: list[Json] = []
        self.epochs: list[Json] = []
        self.lockboxes: list[Json] = []
        self.entries: list[Json] = []
        self.sealed: list[SealedEntry] = []
        self.tracker = ChainTracker()
        self.chain: dict[str, tuple[int, bytes]] = {}
        self.invite_secrets: dict[str, InviteSecret] = {}

    # people ---------------------------------------------------------------------------------

    def person(self, nick: str, name: str, offset: int) -> Person:
        created = T0 + offset
        secrets = Secrets.generate(created=created, rand=Drbg(f"member/{nick}"))
        card = make_card(secrets.member, secrets.device, created=created)
        p = Person(nick, name, secrets, card, Keyring())
        self.people[nick] = p
        self.by_member[p.id] = nick
        return p

    def device(self, owner: Person, nick: str, offset: int) -> Person:
        """Another device of `owner` (same member key), holding the keys `owner` holds."""
        created = T0 + offset
        rand = Drbg(f"member/{nick}")
        secrets = Secrets(owner.secrets.member, DeviceKeys.from_seeds(rand(32), rand(96)),
                          rand(32), created)  # fmt: skip
        card = make_card(secrets.member, secrets.device, created=created)
        p = Person(nick, f"{owner.name}'s laptop", secrets, card, Keyring(dict(owner.keyring.keys)))
        self.people[nick] = p
        return p

    def member_vector(self, p: Person) -> Json:
        s = p.secrets
        return {
            "name": p.name,
            "member_seed": hx(s.member.seed),
            "device_seed": hx(s.device.seed),
            "kem_seed": hx(s.device.kem_seed),
            "store_secret": hx(s.store_secret),
            "created": s.created,
            "member_public": hx(s.member.public),
            "member_id": hx(s.member.id),
            "fingerprint": s.member.fingerprint,
            "device_public": hx(s.device.public),
            "device_id": hx(s.device.id),
            "kem_public": hx(s.device.kem_public),
            "cert": hx(encode(p.card.cert)),
            "card": hx(encode_card(p.card)),
            "store_seal_key": hx(s.store_keys()[0]),
            "store_mac_key": hx(s.store_keys()[1]),
        }

    # log ------------------------------------------------------------------------------------

    def summary(self) -> Json:
        st = self.state
        invites = {}
        for iid, inv in st.invites.items():
            status = "used" if inv.used_seq is not None else "revoked" if inv.revoked else "open"
            invites[self.invite_names[iid]] = status
        return {
            "seq": st.seq,
            "head": hx(st.head),
            "epoch": st.epoch,
            "pending_rotation": st.pending_rotation,
            "policy": [st.policy.history, st.policy.notes, st.policy.rotate_each_meeting],
            "members": {
                self.by_member[m.id]: {"role": m.role, "status": m.status}
                for m in sorted(st.members.values(), key=lambda m: self.by_member[m.id])
            },
            "invites": dict(sorted(invites.items())),
        }

    def append(self, signer: Person, data: bytes) -> None:
        applied = self.state.apply(data)
        op = applied.op
        self.ops.append(
            {
                "seq": applied.seq,
                "tag": type(op.body).__struct_config__.tag,
                "signer": signer.nick,
                "time": op.time,
                "data": hx(data),
                "hash": hx(applied.hash),
                "state": self.summary(),
            }
        )
        body = op.body
        rotation: Rotation | None = None
        names: bytes | None = None
        if isinstance(body, Rotate | Add):
            rotation, names = body.rotation, body.names
        elif isinstance(body, Remove | RemoveDevice):
            rotation = body.rotation
        if rotation is not None:
            self.epochs.append(
                {
                    "epoch": rotation.epoch,
                    "op_seq": applied.seq,
                    "prev": hx(op.prev),
                    "history": self.state.policy.history,
                    "refs": [{"device": hx(r.device), "hash": hx(r.hash)} for r in rotation.refs],
                    "confirm": hx(rotation.confirm),
                    "backlink": None if rotation.backlink is None else hx(rotation.backlink),
                    "names": None if names is None else hx(names),
                }
            )

    def rotated(self, pending: PendingOp | None, lockboxes: dict[bytes, bytes], epoch: int) -> None:
        """Record the lockboxes of the rotation just applied; each recipient accepts its own."""
        info = self.state.rotations[epoch]
        group = self.state.group_id
        ep = next(e for e in self.epochs if e["epoch"] == epoch)
        key: bytes | None = None
        for device, sealed in sorted(lockboxes.items()):
            p = next(p for p in self.people.values() if p.device_id == device)
            dev = p.secrets.device
            k = p.keyring.accept_lockbox(self.state, dev, p.id, epoch, sealed)
            assert key is None or key == k
            key = k
            self.lockboxes.append(
                {
                    "epoch": epoch,
                    "op_seq": info.seq,
                    "recipient": p.nick,
                    "member_id": hx(p.id),
                    "device_id": hx(device),
                    "kem_seed": hx(dev.kem_seed),
                    "info": hx(lockbox_info(group, epoch, info.prev, p.id, device, dev.kem_public)),
                    "sealed": hx(sealed),
                    "ref_hash": hx(lockbox_hash(group, epoch, device, sealed)),
                    "key": hx(k),
                }
            )
        assert key is not None
        assert pending is None or pending.key == key
        ep["key"] = hx(key)
        if ep["names"] is not None:
            attested = open_names(key, group, epoch, info.prev, bytes.fromhex(ep["names"]))
            ep["names_plaintext"] = hx(encode(attested))
            ep["names_list"] = [[hx(mid), name] for mid, name in attested.names]
            ep["group_name"] = attested.group
        ep["recipients"] = sorted(self.by_member[self.state.devices[d].member] for d in lockboxes)

    def op(self, signer: Person, pending: PendingOp) -> None:
        self.append(signer, pending.op)
        if pending.epoch is not None:
            self.rotated(pending, pending.lockboxes, pending.epoch)

    def invite(
        self, issuer: Person, nick: str, role: Role, t: int, ttl: int, rand: Drbg
    ) -> InviteSecret:
        """An invite op by `issuer` for `nick`, issued at `t`, valid for `ttl` seconds."""
        pending, secret = build_invite(
            self.state, issuer.secrets.device, role=role, expires=t + ttl, server=SERVER,
            time=t, rand=rand,
        )  # fmt: skip
        self.invite_names[secret.invite_id] = nick
        self.invite_secrets[nick] = secret
        self.op(issuer, pending)
        return secret

    def heads_of(self, *nicks: str) -> list[ChainHead]:
        out = []
        for n in nicks:
            seq, link = self.chain.get(n, (0, bytes(32)))
            if seq:
                out.append(ChainHead(self.people[n].device_id, seq, link))
        return out

    # entries --------------------------------------------------------------------------------

    def entry(
        self,
        author: Person,
        body: bytes,
        rand: Drbg,
        note: str,
        retracts: Sequence[bytes] = (),
    ) -> None:
        st = self.state
        epoch = st.epoch
        seq, prev = self.chain.get(author.nick, (0, bytes(32)))
        seq += 1
        key = author.keyring.key(epoch)
        se = seal_entry(
            device=author.secrets.device,
            epoch_key=key,
            group=st.group_id,
            epoch=epoch,
            seq=seq,
            prev=prev,
            log_seq=st.seq,
            log_head=st.head,
            body=body,
            retracts=retracts,
            rand=rand,
        )
        e = decode_entry(se.data)
        link = check_entry_public(st, e)
        assert link == se.link
        assert self.tracker.check(e.header, link)
        self.tracker.add(e.header, link)
        assert open_entry(e, key) == body
        self.chain[author.nick] = (seq, link)
        self.sealed.append(se)
        k_enc, k_com = _entry_keys(key, e.header)
        h = e.header
        stub = stub_of(e)
        self.entries.append(
            {
                "note": note,
                "author": author.nick,
                "epoch_key": hx(key),
                "body": hx(body),
                "header": {
                    "group": hx(h.group),
                    "entry_id": hx(h.entry_id),
                    "epoch": h.epoch,
                    "device": hx(h.device),
                    "seq": h.seq,
                    "prev": hx(h.prev),
                    "log_seq": h.log_seq,
                    "log_head": hx(h.log_head),
                    "retracts": [hx(r) for r in h.retracts],
                },
                "header_encoding": hx(encode(h)),
                "k_enc": hx(k_enc),
                "k_com": hx(k_com),
                "nonce": hx(e.ct[:24]),
                "commit": hx(e.ct[24:56]),
                "padded_length": padded_length(len(body)),
                "ct": hx(e.ct),
                "ct_hash": hx(stub.ct_hash),
                "sig": hx(e.sig),
                "link": hx(link),
                "data": hx(se.data),
                "stub": hx(encode(stub)),
            }
        )


def build_vectors(previous: Json | None) -> tuple[Json, LockboxPins]:
    """All vectors; `previous` (the checked-in file) supplies lockboxes to reuse, or None."""
    pins = LockboxPins(previous)
    with pinned_hpke(pins):
        out = _build(pins)
    return out, pins


def _build(pins: LockboxPins) -> Json:
    b = Builder(pins)
    alice = b.person("alice", "Alice", 0)
    bob = b.person("bob", "Bob", 10)
    carol = b.person("carol", "Carol", 20)
    b.person("dave", "Dave", 30)  # keys and card only: his invite is revoked unused
    t = T0 + 1000

    # 0-1: genesis and the founder's first rotation (epoch 1), history from-join.
    g = create_group(
        alice.secrets,
        alice.name,
        policy=Policy(),
        time=t,
        card=alice.card,
        group_name=GROUP_NAME,
        rand=Drbg("group"),
    )
    b.append(alice, g.ops[0])
    b.append(alice, g.ops[1])
    b.rotated(None, g.lockboxes, 1)
    assert b.state.group_id == g.group_id
    b.entry(alice, b"Hello, forum. First issue: hiring a COO.", Drbg("entry/1"), "epoch 1")

    # 2-3: invites for bob and carol; 4: add both (epoch 2, no back-link under from-join).
    invite_rand = Drbg("invites")
    t += 60
    sec_b = b.invite(alice, "bob", "member", t, 86400, invite_rand)
    t += 60
    sec_c = b.invite(alice, "carol", "member", t, 86400, invite_rand)
    t += 60
    requests = {}
    request_time = t
    for p, sec in ((bob, sec_b), (carol, sec_c)):
        joining = InviteCode.parse_link(sec.link).for_group(b.state.group_id)
        requests[p.nick] = joining.request(p.card, created=t)
        verify_join_request(b.state, requests[p.nick], now=t)
    b.op(
        alice,
        build_add(
            b.state,
            alice.keyring,
            alice.secrets.device,
            [(bob.card, sec_b.invite_id, bob.name), (carol.card, sec_c.invite_id, carol.name)],
            time=t,
            group_name=GROUP_NAME,
            rand=Drbg("op/add"),
        ),
    )
    b.entry(alice, b"Follow-up: the COO search is on hold.", Drbg("entry/2"), "epoch 2")
    b.entry(bob, b"", Drbg("entry/3"), "empty body: padded to the 1 KiB floor")
    b.entry(carol, pattern(2000), Drbg("entry/4"), "2000-byte body: Padme above the floor")

    # 5: checkpoint of every chain; the meeting code derives from it.
    t += 60
    b.op(alice, build_checkpoint(b.state, alice.secrets.device, b.tracker.heads(), time=t))
    meeting = {
        "op_seq": b.state.seq,
        "checkpoint_hash": hx(b.state.head),
        "epoch": b.state.epoch,
        "epoch_key": hx(alice.keyring.key(b.state.epoch)),
        "heads": [
            {"device": hx(h.device), "seq": h.seq, "link": hx(h.link)} for h in b.tracker.heads()
        ],
        "code": alice.keyring.meeting_code(b.state),
    }
    for p in (bob, carol):
        assert p.keyring.meeting_code(b.state) == meeting["code"]

    # 6: carol becomes a leader; 7: history becomes full; 8: an invite for dave (revoked later).
    t += 60
    b.op(alice, build_set_role(b.state, alice.secrets.device, carol.id, "leader", time=t))
    t += 60
    b.op(alice, build_policy(b.state, alice.secrets.device, Policy(history="full"), time=t))
    t += 60
    sec_d = b.invite(alice, "dave", "leader", t, 3600, invite_rand)

    # 9: bob leaves (rotation pending); 10: carol rotates (epoch 3, back-link to 2).
    t += 60
    b.op(bob, build_leave(b.state, bob.secrets.device, bob.id, b.heads_of("bob"), time=t))
    t += 60
    b.op(
        carol,
        build_rotate(b.state, carol.keyring, carol.secrets.device, time=t, rand=Drbg("op/rotate")),
    )
    b.entry(carol, b"Notes, March: Ana commits to a plan.", Drbg("entry/5"), "epoch 3")

    # 11: alice removes carol (epoch 4, back-link to 3); 12: alice revokes dave's invite.
    t += 60
    b.op(
        alice,
        build_remove(
            b.state,
            alice.keyring,
            alice.secrets.device,
            carol.id,
            b.heads_of("carol"),
            time=t,
            rand=Drbg("op/remove"),
        ),
    )
    t += 60
    b.op(alice, build_revoke_invite(b.state, alice.secrets.device, sec_d.invite_id, time=t))
    b.entry(alice, "Après la réunion: 日本語 ✓".encode(), Drbg("entry/6"), "epoch 4, UTF-8 body")

    # A retracting entry (§7.1): alice, a leader, withdraws bob's entry; the server would
    # delete its ciphertext and keep its stub in bob's chain.
    bob_entry = next(e for e in b.entries if e["author"] == "bob")
    target = bytes.fromhex(bob_entry["header"]["entry_id"])
    t += 60
    b.entry(alice, b"retracts an entry", Drbg("entry/7"), "a leader's retraction", [target])
    retracting = b.entries[-1]
    st = b.state
    decoded = {se.entry.header.entry_id: se.entry.header for se in b.sealed}
    check_retraction(st, decoded[bytes.fromhex(retracting["header"]["entry_id"])], decoded[target])
    for se in b.sealed:
        assert check_entry_public(st, decode_entry(se.data)) == se.link  # valid at the end too

    retraction = {
        "entry": b.entries.index(retracting),
        "target": b.entries.index(bob_entry),
    }

    # 13: alice adds a second device (no leader needed, no rotation: it gets her keys from
    # the linking device); it writes an entry; 14: alice's first device removes it (epoch 5,
    # back-link to 4, its final head pinned).
    laptop = b.device(alice, "alice-laptop", 40)
    t += 60
    b.op(alice, build_add_device(b.state, alice.secrets.device, laptop.card, time=t))
    b.entry(laptop, b"From the laptop.", Drbg("entry/8"), "a second device's first entry")
    t += 60
    b.op(
        alice,
        build_remove_device(
            b.state,
            alice.keyring,
            alice.secrets.device,
            laptop.device_id,
            b.heads_of("alice-laptop"),
            time=t,
            rand=Drbg("op/remove-device"),
        ),
    )

    # 15: alice moves the group to another server (§14.3); last, so nothing above changes.
    t += 60
    b.op(alice, build_move(b.state, alice.secrets.device, "https://chatham.example.net", time=t))

    # Invites: code (with its checksum), derived keys, join request and read signature.
    challenge_rand = Drbg("challenges")
    invites = []
    for nick, sec in b.invite_secrets.items():
        challenge = challenge_rand(32)
        join_seed = P.hkdf(sec.secret, salt=sec.group, info=labels.KDF_INVITE_JOIN)
        invites.append(
            {
                "for": nick,
                "secret": hx(sec.secret),
                "group": hx(sec.group),
                "server": sec.server,
                "checksum_hash": hx(
                    P.tagged_hash(labels.H_INVITE_CHECK, sec.secret, sec.server.encode())
                ),
                "code": sec.code,
                "link": sec.link,
                "invite_id": hx(sec.invite_id),
                "join_seed": hx(join_seed),
                "join_public": hx(sec.join_key),
                "mac_key": hx(sec.mac_key),
                "join_request": hx(requests[nick]) if nick in requests else None,
                "join_request_created": request_time if nick in requests else None,
                "read_challenge": hx(challenge),
                "read_signature": hx(sec.read_signature(challenge)),
            }
        )

    # A device link (§5.4): alice's desktop links the laptop (its certificate as above).
    link_rand = Drbg("link")
    link = LinkSecret.generate(SERVER, rand=link_rand)
    offer = link.offer(alice.secrets.member, alice.device_id, created=t, rand=link_rand)
    request, cert, _ = link.request(
        link.read_offer(offer), laptop.secrets.device, created=laptop.secrets.created,
        rand=link_rand,
    )  # fmt: skip
    assert cert == laptop.card.cert
    links = {
        "secret": hx(link.secret),
        "server": link.server,
        "checksum_hash": hx(P.tagged_hash(labels.H_LINK_CHECK, link.secret, link.server.encode())),
        "code": link.code,
        "line": link.line,
        "link_id": hx(link.link_id),
        "auth": hx(link.auth),
        "verifier": hx(link.verifier),
        "seal_key": hx(P.hkdf(link.secret, salt=b"", info=labels.KDF_LINK_SEAL)),
        "offer": hx(offer),
        "offer_plaintext": hx(link.open("offer", offer)),
        "request": hx(request),
        "request_plaintext": hx(link.open("request", request)),
        "cert": hx(encode(cert)),
        "words": link.words(cert),
    }

    # A recovery kit (§5.5): its words and the device they derive.
    kit = RecoveryKit(Drbg("kit")(16))
    kit_device = kit.device()
    recovery_kit = {
        "secret": hx(kit.secret),
        "checksum_hash": hx(P.tagged_hash(labels.H_KIT_CHECK, kit.secret)),
        "words": kit.words,
        "device_seed": hx(kit_device.seed),
        "kem_seed": hx(kit_device.kem_seed),
        "device_public": hx(kit_device.public),
        "device_id": hx(kit_device.id),
        "kem_public": hx(kit_device.kem_public),
    }

    # Keystore for alice: the whole file is reproducible (Argon2id is deterministic).
    ks_rand = Drbg("keystore")
    ks = seal_keystore(alice.secrets, PASSPHRASE, rand=ks_rand)
    f = parse_keystore(ks)
    keystore = {
        "member": "alice",
        "passphrase": PASSPHRASE,
        "opslimit": f.opslimit,
        "memlimit": f.memlimit,
        "salt": hx(f.salt),
        "nonce": hx(f.nonce),
        "key": hx(keystore_key(ks, PASSPHRASE)),
        "secrets": hx(
            P.xchacha_open(
                keystore_key(ks, PASSPHRASE),
                f.nonce,
                f.ct,
                P.frame(
                    (
                        labels.AEAD_KEYSTORE,
                        *(n.to_bytes(8, "big") for n in (2, f.opslimit, f.memlimit)),
                        f.salt,
                    )
                ),
            )
        ),
        "file": hx(ks),
    }

    # Attachments.
    att_rand = Drbg("attachments")
    attachments = []
    for n in (0, 100, 65536, 65537):
        key, aid = att_rand(32), att_rand(16)
        plain = pattern(n)
        sealer = AttachmentSealer(key, aid)
        chunks = [*sealer.update(plain[:1000]), *sealer.update(plain[1000:]), sealer.finish()]
        assert chunks == list(seal_stream(key, aid, [plain]))
        a: Json = {
            "key": hx(key),
            "id": hx(aid),
            "plaintext_length": n,
            "plaintext_sha256": hx(hashlib.sha256(plain).digest()),
            "chunk_key": hx(P.hkdf(key, salt=aid, info=labels.KDF_ATTACHMENT)),
            "chunks": [hx(c) for c in chunks],
            "digest": hx(sealer.digest),
        }
        if n <= 4096:
            a["plaintext"] = hx(plain)
        attachments.append(a)

    # Server authentication.
    auth_rand = Drbg("auth")
    auth_challenge, server_id = auth_rand(32), auth_rand(32)
    auth = {
        "device": "alice",
        "server_id": hx(server_id),
        "action": "login",
        "challenge": hx(auth_challenge),
        "sig": hx(sign_auth(alice.secrets.device, server_id, "login", auth_challenge)),
    }

    padme_inputs = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 255, 256, 257, 1000]
    padme_inputs += [1023, 1024, 1025, 1028, 1089, 2047, 2048, 2049, 4100, 10_000, 65_535]
    padme_inputs += [65_536, 65_537, 100_000, 1_000_000, (1 << 20) + 4, 123_456_789]
    body_lengths = [0, 1, 100, 1019, 1020, 1021, 1024, 2000, 2044, 2045, 4096, 65_536, 1 << 20]

    return {
        "protocol": "chatham v2 (docs/protocol.md)",
        "suite": labels.SUITE,
        "generator": "scripts/make_vectors.py",
        "encoding": "bytes are lowercase hex; integers are JSON numbers; times are Unix seconds",
        "rng": {
            "construction": (
                "rand_label(n) = first n bytes of SHAKE-256(domain || 0x00 || label || 0x00 "
                "|| u64be(counter)); one counter per label, from 0, +1 per call"
            ),
            "domain": DRBG_DOMAIN.decode(),
            "example": {"label": "member/alice", "counter": 0, "n": 32},
            "example_output": hx(Drbg("member/alice")(32)),
        },
        "reproducibility": {
            "randomized": ["lockboxes[].sealed"],
            "note": (
                "HPKE sealing draws its ephemeral key inside the library. The generator "
                "reuses each recorded lockbox (checked to open to the same key) so the file "
                "regenerates byte for byte; with --fresh it seals new ones, and then every "
                "value that commits to a lockbox changes: log ops from seq 1, op hashes, "
                "epochs[].refs and prev, entries (log_head), the meeting code, the retraction. "
                "Lockboxes are checked in the open direction."
            ),
            "independent_of_lockboxes": INDEPENDENT,
        },
        "labels": {
            k: (v.decode() if isinstance(v, bytes) else v)
            for k, v in vars(labels).items()
            if k.isupper() and isinstance(v, bytes | str | int)
        },
        "members": {nick: b.member_vector(p) for nick, p in b.people.items()},
        "keystore": keystore,
        "log": {
            "group_id": hx(st.group_id),
            "ops": b.ops,
            "final_state": b.summary(),
        },
        "epochs": b.epochs,
        "lockboxes": b.lockboxes,
        "entries": b.entries,
        "retraction": retraction,
        "meeting_code": meeting,
        "invites": invites,
        "links": links,
        "recovery_kit": recovery_kit,
        "padme": [[n, padme(n)] for n in padme_inputs],
        "padded_length": [[n, padded_length(n)] for n in body_lengths],
        "attachments": attachments,
        "auth": auth,
    }


def render(vectors: Json) -> str:
    return json.dumps(vectors, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--fresh", action="store_true", help="seal new HPKE lockboxes")
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    args = ap.parse_args(argv)
    previous = None
    if args.out.exists() and not args.fresh:
        previous = json.loads(args.out.read_text(encoding="utf-8"))
    vectors, pins = build_vectors(previous)
    text = render(vectors)
    old = args.out.read_text(encoding="utf-8") if args.out.exists() else None
    status = "unchanged" if text == old else "changed"
    print(
        f"{args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}: "
        f"{len(text.encode()):,} bytes, {status}; lockboxes reused {pins.reused}, "
        f"sealed fresh {pins.fresh}"
    )
    if args.check:
        return 0 if text == old else 1
    if text != old:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
