"""Helpers for the crypto tests: seeded randomness, members, and whole groups built in a few lines.

Everything here goes through the public API of chatham.crypto (plus `sign_op`,
the one internal a malicious insider needs to forge ops with a real key), so a
test reads as what a member, a server or an attacker would do. Randomness is a
seeded `random.Random` per test: runs are reproducible, and a failure names
the same bytes every time. HPKE sealing is randomised inside the library, which
no test depends on.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from chatham.crypto import (
    AppliedOp,
    ChainHead,
    ChainTracker,
    CryptoError,
    Entry,
    GroupState,
    InviteSecret,
    Keyring,
    LogError,
    MemberCard,
    PendingOp,
    Policy,
    SealedEntry,
    Secrets,
    SignedOp,
    build_add,
    build_checkpoint,
    build_invite,
    build_leave,
    build_policy,
    build_remove,
    build_rotate,
    build_set_role,
    check_entry_public,
    create_group,
    decode_entry,
    decode_signed_op,
    encode,
    labels,
    make_card,
    replay,
    seal_entry,
    verify_join_request,
)
from chatham.crypto._identity import DeviceKeys
from chatham.crypto._log import sign_op
from chatham.crypto._records import OpBody

T0 = 1_700_000_000
ZERO32 = bytes(32)
SERVER = "https://chatham.example"
FULL = Policy(history="full")
FROM_JOIN = Policy(history="from-join")


@dataclass
class Member:
    """One person with one device: their secrets and their signed card."""

    name: str
    secrets: Secrets
    card: MemberCard

    @property
    def id(self) -> bytes:
        return self.secrets.member.id

    @property
    def device(self) -> DeviceKeys:
        return self.secrets.device

    @property
    def device_id(self) -> bytes:
        return self.secrets.device.id


@dataclass
class Group:
    """A group as every honest party sees it: the log, the lockboxes, each member's keyring.

    `state` is the shared verified state (what the server and every client
    replay); `keyrings` are per member (verify_keyed); `chains` is each device's
    (seq, link) so that `post` writes the next entry of its author's chain.
    """

    kit: Kit
    ops: list[bytes]
    state: GroupState
    lockboxes: dict[int, dict[bytes, bytes]]
    keyrings: dict[bytes, Keyring]
    people: dict[bytes, Member]
    tracker: ChainTracker = field(default_factory=ChainTracker)
    chains: dict[bytes, tuple[int, bytes]] = field(default_factory=dict)
    entries: list[SealedEntry] = field(default_factory=list)

    @property
    def id(self) -> bytes:
        return self.state.group_id

    def keyring(self, m: Member) -> Keyring:
        return self.keyrings.setdefault(m.id, Keyring())

    def key(self, m: Member, epoch: int | None = None) -> bytes:
        return self.keyring(m).key(self.state.epoch if epoch is None else epoch)

    # --- ops --------------------------------------------------------------------------------

    def commit(self, pending: PendingOp | bytes) -> AppliedOp:
        """Append an op; every member with a lockbox in it opens theirs (verify_keyed)."""
        p = pending if isinstance(pending, PendingOp) else PendingOp(pending)
        applied = self.state.apply(p.op)
        self.ops.append(p.op)
        if p.epoch is not None:
            self.lockboxes[p.epoch] = dict(p.lockboxes)
            for m in self.people.values():
                if m.device_id in p.lockboxes:
                    self.keyring(m).accept_lockbox(
                        self.state, m.device, m.id, p.epoch, p.lockboxes[m.device_id]
                    )
        return applied

    def invite(
        self, leader: Member, *, role: str = "member", expires: int | None = None
    ) -> InviteSecret:
        pending, secret = build_invite(
            self.state,
            leader.device,
            role=role,  # type: ignore[arg-type]
            expires=T0 + 3600 if expires is None else expires,
            server=SERVER,
            time=T0,
            rand=self.kit.rand,
        )
        self.commit(pending)
        return secret

    def join_request(self, secret: InviteSecret, m: Member) -> tuple[MemberCard, bytes, str]:
        """The invitee's side: parse the code, send a request the leader checks."""
        parsed = InviteSecret.from_code(secret.code)
        sjr = verify_join_request(self.state, parsed.request(m.card, created=T0), now=T0)
        return sjr.request.card, sjr.request.invite_id, m.name

    def build_add(
        self, leader: Member, *newcomers: Member, secrets: Sequence[InviteSecret] | None = None
    ) -> PendingOp:
        invites = list(secrets) if secrets is not None else [self.invite(leader) for _ in newcomers]
        joins = [self.join_request(s, m) for s, m in zip(invites, newcomers, strict=True)]
        return build_add(
            self.state, self.keyring(leader), leader.device, joins, time=T0, rand=self.kit.rand
        )

    def add(self, leader: Member, *newcomers: Member, role: str = "member") -> PendingOp:
        for m in newcomers:
            self.people[m.id] = m
        secrets = [self.invite(leader, role=role) for _ in newcomers]
        pending = self.build_add(leader, *newcomers, secrets=secrets)
        self.commit(pending)
        return pending

    def heads(self, m: Member) -> list[ChainHead]:
        return [h for h in self.tracker.heads() if h.device == m.device_id]

    def build_remove(self, leader: Member, target: Member) -> PendingOp:
        return build_remove(
            self.state,
            self.keyring(leader),
            leader.device,
            target.id,
            self.heads(target),
            time=T0,
            rand=self.kit.rand,
        )

    def remove(self, leader: Member, target: Member) -> PendingOp:
        pending = self.build_remove(leader, target)
        self.commit(pending)
        return pending

    def build_leave(self, m: Member) -> PendingOp:
        return build_leave(self.state, m.device, m.id, self.heads(m), time=T0)

    def leave(self, m: Member) -> PendingOp:
        pending = self.build_leave(m)
        self.commit(pending)
        return pending

    def build_rotate(self, m: Member) -> PendingOp:
        return build_rotate(self.state, self.keyring(m), m.device, time=T0, rand=self.kit.rand)

    def rotate(self, m: Member) -> PendingOp:
        pending = self.build_rotate(m)
        self.commit(pending)
        return pending

    def set_role(self, leader: Member, target: Member, role: str) -> PendingOp:
        pending = build_set_role(
            self.state,
            leader.device,
            target.id,
            role,  # type: ignore[arg-type]
            self.tracker.heads(),
            time=T0,
        )
        self.commit(pending)
        return pending

    def set_policy(self, leader: Member, policy: Policy) -> PendingOp:
        pending = build_policy(self.state, leader.device, policy, self.tracker.heads(), time=T0)
        self.commit(pending)
        return pending

    def checkpoint(self, leader: Member) -> PendingOp:
        pending = build_checkpoint(self.state, leader.device, self.tracker.heads(), time=T0)
        self.commit(pending)
        return pending

    def forge(self, signer: Member, body: OpBody, *, time: int = T0) -> bytes:
        """The next op with any body, signed with a real device key (a malicious insider)."""
        return sign_op(self.state, signer.device, body, time=time)

    # --- entries ----------------------------------------------------------------------------

    def seal(self, author: Member, body: bytes = b"an entry", **over: Any) -> SealedEntry:
        """Seal the author's next entry without checking or recording it; `over` overrides."""
        seq, prev = self.chains.get(author.device_id, (0, ZERO32))
        args: dict[str, Any] = {
            "device": author.device,
            "group": self.id,
            "epoch": self.state.epoch,
            "seq": seq + 1,
            "prev": prev,
            "log_seq": self.state.seq,
            "log_head": self.state.head,
            "body": body,
            "rand": self.kit.rand,
        }
        args.update(over)
        if "epoch_key" not in args:
            args["epoch_key"] = self.key(author, args["epoch"])
        return seal_entry(**args)

    def accept(self, sealed: SealedEntry | bytes) -> Entry:
        """What every reader does with a posted entry: decode, public checks, chain."""
        data = sealed.data if isinstance(sealed, SealedEntry) else sealed
        e = decode_entry(data)
        link = check_entry_public(self.state, e)
        if self.tracker.check(e.header, link):
            self.tracker.add(e.header, link)
        return e

    def post(self, author: Member, body: bytes = b"an entry", **over: Any) -> SealedEntry:
        """Seal, check and record the author's next entry."""
        sealed = self.seal(author, body, **over)
        self.accept(sealed)
        self.chains[author.device_id] = (sealed.entry.header.seq, sealed.link)
        self.entries.append(sealed)
        return sealed


class Kit:
    """Seeded randomness and factories for members and groups (and the shared constants)."""

    T0 = T0
    ZERO32 = ZERO32
    SERVER = SERVER
    FULL = FULL
    FROM_JOIN = FROM_JOIN

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def rand(self, n: int) -> bytes:
        return self.rng.randbytes(n)

    def member(self, name: str) -> Member:
        s = Secrets.generate(created=T0, rand=self.rand)
        return Member(name, s, make_card(s.member, s.device, created=T0))

    def group(
        self, *names: str, policy: Policy | None = None, founder: Member | None = None
    ) -> tuple[Group, list[Member]]:
        """A group founded by the first name (a leader); the others added one op each."""
        people = [founder or self.member(names[0])] + [self.member(n) for n in names[1:]]
        f = people[0]
        g = create_group(f.secrets, f.name, policy=policy, time=T0, card=f.card, rand=self.rand)
        grp = Group(
            self,
            list(g.ops),
            g.state,
            {1: dict(g.lockboxes)},
            {},
            {f.id: f},
        )
        # The founder takes the epoch-1 key through the same keyed path as everyone.
        grp.keyring(f).accept_lockbox(g.state, f.device, f.id, 1, g.lockboxes[f.device_id])
        for m in people[1:]:
            grp.add(f, m)
        return grp, people

    @staticmethod
    def flip(data: bytes, index: int, bit: int = 0) -> bytes:
        b = bytearray(data)
        b[index] ^= 1 << bit
        return bytes(b)

    @staticmethod
    def resign(op: Any, by: Member, **changes: Any) -> bytes:
        """Re-sign an op (decoded from bytes, or an Op) after changing some of its fields."""
        if isinstance(op, bytes):
            op = decode_signed_op(op).op
        op = msgspec.structs.replace(op, **changes)
        return encode(SignedOp(op, by.device.sign(labels.SIG_OP, encode(op))))

    @staticmethod
    def assert_rejected(
        state: GroupState, data: bytes | PendingOp, error: type[LogError], check: str | None
    ) -> LogError:
        """`state.apply(data)` raises exactly `error` with `check`, and the state is unchanged."""
        if isinstance(data, PendingOp):
            data = data.op
        before = state.copy()
        seq, head, epoch, pending = state.seq, state.head, state.epoch, state.pending_rotation
        with pytest.raises(CryptoError) as info:
            state.apply(data)
        err = info.value
        assert type(err) is error, f"{type(err).__name__}: {err}"
        assert isinstance(err, LogError)
        if check is not None:
            assert err.check == check, f"check {err.check!r}: {err}"
        assert err.seq == before.seq + 1
        assert (state.seq, state.head, state.epoch, state.pending_rotation) == (
            seq,
            head,
            epoch,
            pending,
        )
        assert state == before
        return err

    @staticmethod
    def assert_replay_rejected(
        ops: Sequence[bytes], error: type[LogError], check: str | None
    ) -> LogError:
        with pytest.raises(CryptoError) as info:
            replay(ops)
        err = info.value
        assert type(err) is error, f"{type(err).__name__}: {err}"
        assert isinstance(err, LogError)
        if check is not None:
            assert err.check == check, f"check {err.check!r}: {err}"
        return err


@pytest.fixture
def kit(request: pytest.FixtureRequest) -> Kit:
    """A fresh kit seeded from the test's id: deterministic and independent of test order."""
    return Kit(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(scope="module")
def module_kit(request: pytest.FixtureRequest) -> Kit:
    return Kit(zlib.crc32(request.module.__name__.encode()))


@pytest.fixture
def no_argon2(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Fail the test if Argon2id runs; yields the list of attempted calls."""
    from chatham.crypto import _primitives

    calls: list[int] = []

    def refuse(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        raise AssertionError("Argon2id ran")

    monkeypatch.setattr(_primitives, "argon2id", refuse)
    return calls
