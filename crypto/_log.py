"""The group log: signed, hash-chained ops replayed into a verified state.

`GroupState.apply` is `verify_public` one op at a time: it checks everything a
server can check (encoding, signatures, chain, roles, rotation shape) and
either raises a `LogError` leaving the state untouched, or advances it. The
server and every client run this same code; clients additionally open their
own lockboxes (`Keyring` in `_keyring`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from . import _labels as L
from . import _primitives as P
from ._encoding import decode, encode
from ._errors import EncodingError, ForkError, LogError, RotationError, SignatureError
from ._identity import card_device_id, card_member_id, device_id, verify_card
from ._records import (
    MAX_MEMBER_DEVICES,
    MAX_OP_SIZE,
    Add,
    AddDevice,
    ChainHead,
    Checkpoint,
    Genesis,
    Invite,
    Leave,
    MemberCard,
    Move,
    Op,
    OpBody,
    Policy,
    Remove,
    RemoveDevice,
    RevokeInvite,
    Role,
    Rotate,
    Rotation,
    SetPolicy,
    SetRole,
    SignedOp,
)

ZERO32 = bytes(32)
Status = Literal["active", "removed", "left"]


def decode_signed_op(data: bytes) -> SignedOp:
    """Decode one op canonically (no signature check: that needs the state)."""
    return decode(data, SignedOp, max_size=MAX_OP_SIZE)


def op_hash(data: bytes) -> bytes:
    return P.tagged_hash(L.H_OP, data)


def group_id_of(genesis: bytes) -> bytes:
    return P.tagged_hash(L.H_GROUP_ID, genesis)


@dataclass
class MemberState:
    id: bytes
    key: bytes
    role: Role
    status: Status
    joined_seq: int
    joined_epoch: int
    devices: list[bytes]
    departed_seq: int | None = None
    roles: list[tuple[int, Role]] = field(default_factory=list)
    """(seq, role) for every role this member held, from their first joining on, across
    every membership."""
    past: list[tuple[int, int]] = field(default_factory=list)
    """(joined seq, departed seq) of each earlier membership of a member added again: what
    they did then is still judged by the roles they held then."""

    @property
    def active(self) -> bool:
        return self.status == "active"

    def role_at(self, seq: int) -> Role | None:
        """The member's role at log position `seq`, or None if not a member then."""
        if not self.active_at(seq):
            return None
        role: Role | None = None
        for since, r in self.roles:
            if since <= seq:
                role = r
        return role

    def active_at(self, seq: int) -> bool:
        if self.joined_seq <= seq and (self.departed_seq is None or seq < self.departed_seq):
            return True
        return any(joined <= seq < departed for joined, departed in self.past)


@dataclass
class DeviceState:
    id: bytes
    member: bytes
    key: bytes
    kem_key: bytes
    card: MemberCard
    final_head: ChainHead | None = None
    pins: list[tuple[int, ChainHead]] = field(default_factory=list)
    """(op seq, head) for every op that took a power away from this device and pinned its
    chain at that head: entries beyond the head are judged at that op (§7.4)."""

    # The device's own span in the roster. A member who departs and is added again
    # comes back on a new device; the old one stays departed (it may be the very
    # device that was lost), so activity is decided per device, not per member.
    joined_seq: int = 0
    departed_seq: int | None = None
    departed_as: Status | None = None
    """How this device departed ("removed" or "left"), which its member's status no longer
    says once they are added again."""

    def active_at(self, seq: int) -> bool:
        return self.joined_seq <= seq and (self.departed_seq is None or seq < self.departed_seq)


@dataclass
class InviteState:
    id: bytes
    issuer: bytes
    join_key: bytes
    role: Role
    expires: int
    seq: int
    used_seq: int | None = None
    revoked: bool = False


@dataclass
class RotationInfo:
    epoch: int
    seq: int
    prev: bytes
    rotation: Rotation
    names: bytes | None
    history: str = "from-join"
    """The history policy in force when this epoch was created."""


@dataclass
class CheckpointInfo:
    seq: int
    hash: bytes
    epoch: int
    heads: list[ChainHead]


@dataclass(frozen=True)
class AppliedOp:
    """What one verified op did; what a server stores and a client announces."""

    seq: int
    hash: bytes
    data: bytes
    op: Op
    signer_member: bytes


@dataclass
class GroupState:
    """The roster, roles, devices, epochs and invites that a verified log implies."""

    group_id: bytes = ZERO32
    seq: int = -1
    head: bytes = ZERO32
    epoch: int = 0
    pending_rotation: bool = False
    policy: Policy = field(default_factory=Policy)
    members: dict[bytes, MemberState] = field(default_factory=dict)
    devices: dict[bytes, DeviceState] = field(default_factory=dict)
    invites: dict[bytes, InviteState] = field(default_factory=dict)
    rotations: dict[int, RotationInfo] = field(default_factory=dict)
    op_hashes: list[bytes] = field(default_factory=list)
    epoch_at: list[int] = field(default_factory=list)
    pending_at: list[bool] = field(default_factory=list)
    checkpoint: CheckpointInfo | None = None
    server: str | None = None
    """The group's server as the latest `move` op names it (None: never moved, §14.3)."""
    server_seq: int | None = None
    time: int = 0
    """The newest op's time: op times never decrease along the log (§5.1), so this is how
    recently this log is known to have been current (the freshness bound, §9.1)."""

    # --- queries ----------------------------------------------------------------------------

    def copy(self) -> GroupState:
        return copy.deepcopy(self)

    def member_of_device(self, device: bytes) -> MemberState | None:
        d = self.devices.get(device)
        return None if d is None else self.members[d.member]

    def is_active_device(self, device: bytes) -> bool:
        d = self.devices.get(device)
        return d is not None and d.departed_seq is None and self.members[d.member].active

    def is_leader_device(self, device: bytes) -> bool:
        if not self.is_active_device(device):
            return False
        return self.members[self.devices[device].member].role == "leader"

    def current_devices(self, member: bytes) -> list[bytes]:
        """A member's devices that have not departed, sorted."""
        m = self.members[member]
        return sorted(d for d in m.devices if self.devices[d].departed_seq is None)

    def departed_seq(self, device: bytes) -> int | None:
        d = self.devices.get(device)
        return None if d is None else d.departed_seq

    def active_members(self) -> list[MemberState]:
        return [m for m in self.members.values() if m.active]

    def leaders(self) -> list[MemberState]:
        return [m for m in self.members.values() if m.active and m.role == "leader"]

    def active_devices(self) -> list[DeviceState]:
        return [d for d in self.devices.values() if self.is_active_device(d.id)]

    def invite_usable(self, invite_id: bytes, now: int) -> bool:
        inv = self.invites.get(invite_id)
        if inv is None or inv.used_seq is not None or inv.revoked or now > inv.expires:
            return False
        issuer = self.members.get(inv.issuer)
        return issuer is not None and issuer.active and issuer.role == "leader"

    def backlink_required(self) -> bool:
        """Whether the next rotation must link back to the current epoch's key.

        Only under policy `full`, and only when the current epoch was itself created
        under `full`: switching a group from `from-join` to `full` never exposes
        what was sealed under the `from-join` promise.
        """
        current = self.rotations.get(self.epoch)
        return self.policy.history == "full" and current is not None and current.history == "full"

    def policy_pins(self, policy: Policy) -> list[bytes]:
        """The devices a change to `policy` takes a power away from, sorted: under notes policy
        `leaders` only leaders write notes, so a switch to it pins every other member's devices."""
        if self.policy.notes == "all" and policy.notes == "leaders":
            return sorted(
                d
                for m in self.active_members()
                if m.role != "leader"
                for d in self.current_devices(m.id)
            )
        return []

    def check_extends(self, seq: int, head: bytes) -> None:
        """Refuse a log that is shorter than, or diverges from, a head verified before."""
        if seq < 0:
            return
        if self.seq < seq:
            raise ForkError(
                f"the server shows a log of {self.seq + 1} ops, shorter than the {seq + 1} "
                "already verified (rollback)",
                seq=self.seq,
                check="rollback",
            )
        if not P.mac_equal(self.op_hashes[seq], head):
            raise ForkError(
                "the log differs from the one already verified (fork)", seq=seq, check="fork"
            )

    # --- replay -----------------------------------------------------------------------------

    def apply(self, data: bytes, *, not_after: int | None = None) -> AppliedOp:
        """Verify one op against this state and advance; raise LogError and change nothing.

        `not_after` refuses an op dated later than that (the verifier's clock plus the skew it
        allows): op times bound how stale a view may be (§9.1), so none lies in the future.
        """
        seq = self.seq + 1
        try:
            signed = decode_signed_op(data)
        except EncodingError as e:
            raise LogError(str(e), seq=seq, check="encoding") from None
        op = signed.op
        if not_after is not None and op.time > not_after:
            raise LogError("op is dated in the future", seq=seq, check="future")
        if op.seq != seq:
            raise ForkError(f"expected op {seq}, got op {op.seq}", seq=seq, check="sequence")
        if not P.mac_equal(op.prev, self.head):
            raise ForkError("op does not chain to the previous op", seq=seq, check="chain")
        body = op.body
        if seq == 0:
            if not isinstance(body, Genesis) or op.group != ZERO32:
                raise LogError("the first op must be a genesis", seq=seq, check="genesis")
            return self._apply_genesis(data, signed, body)
        if op.group != self.group_id:
            raise LogError("op belongs to another group", seq=seq, check="group")
        signer = (
            self.members.get(self.devices[op.signer].member) if op.signer in self.devices else None
        )
        if signer is None or not self.is_active_device(op.signer):
            raise LogError(
                "op signed by a device that is not an active member's", seq=seq, check="signer"
            )
        self._verify_sig(signed, self.devices[op.signer].key, seq)
        if op.time < self.time:
            raise LogError("op is dated before the op it follows", seq=seq, check="time")
        leader = signer.role == "leader"
        h = op_hash(data)
        if isinstance(body, Genesis):
            raise LogError("a second genesis", seq=seq, check="genesis")
        if isinstance(body, Rotate):
            if not leader and not self.pending_rotation:
                raise LogError(
                    "only a leader may rotate when no rotation is pending", seq=seq, check="role"
                )
            if body.names is not None and seq != 1:
                # Names are attested by the op that brings a member in (§6.4): an add, or
                # the founder's first rotation. A member performing a pending rotation
                # must not re-attest anyone's name.
                raise LogError(
                    "only the founder's first rotation carries names", seq=seq, check="names"
                )
            self._check_rotation(body.rotation, op, {d.id for d in self.active_devices()})
            self._finish(h, data)
            self._record_rotation(body.rotation, op, body.names)
        elif isinstance(body, Invite):
            self._need_leader(leader, seq)
            if body.invite_id in self.invites:
                raise LogError("invite id already used", seq=seq, check="invite")
            self._check_key(body.join_key, seq)
            self._finish(h, data)
            self.invites[body.invite_id] = InviteState(
                body.invite_id, signer.id, body.join_key, body.role, body.expires, seq
            )
        elif isinstance(body, RevokeInvite):
            self._need_leader(leader, seq)
            inv = self.invites.get(body.invite_id)
            if inv is None or inv.used_seq is not None or inv.revoked:
                raise LogError("no such unused invite", seq=seq, check="invite")
            self._finish(h, data)
            inv.revoked = True
        elif isinstance(body, Add):
            self._apply_add(h, data, op, body, leader)
        elif isinstance(body, Remove):
            self._need_leader(leader, seq)
            target = self.members.get(body.member)
            if target is None or not target.active:
                raise LogError("removed member is not an active member", seq=seq, check="member")
            if target.id == signer.id:
                raise LogError(
                    "a leader leaves with a leave op, not a remove", seq=seq, check="member"
                )
            self._check_leaders_remain(target.id, seq)
            self._check_heads(body.heads, target, seq)
            after = {d.id for d in self.active_devices() if d.member != target.id}
            self._check_rotation(body.rotation, op, after)
            self._finish(h, data)
            self._depart(target, "removed", seq, body.heads)
            self._record_rotation(body.rotation, op, None)
        elif isinstance(body, Leave):
            self._check_leaders_remain(signer.id, seq)
            self._check_heads(body.heads, signer, seq)
            self._finish(h, data)
            self._depart(signer, "left", seq, body.heads)
            self.pending_rotation = True
            self.pending_at[-1] = True
        elif isinstance(body, AddDevice):
            self._apply_add_device(h, data, op, body, signer)
        elif isinstance(body, RemoveDevice):
            self._apply_remove_device(h, data, op, body, signer, leader)
        elif isinstance(body, SetRole):
            self._need_leader(leader, seq)
            target = self.members.get(body.member)
            if target is None or not target.active:
                raise LogError("not an active member", seq=seq, check="member")
            if target.role == body.role:
                raise LogError(f"member is already a {body.role}", seq=seq, check="role")
            demoting = body.role == "member"
            if demoting:
                self._check_leaders_remain(target.id, seq)
            self._check_pins(body.heads, self.current_devices(target.id) if demoting else [], seq)
            self._finish(h, data)
            target.role = body.role
            target.roles.append((seq, body.role))
            if demoting:
                self._kill_invites(target.id)  # dead for good, even if promoted again
                self._pin(body.heads, seq)
        elif isinstance(body, SetPolicy):
            self._need_leader(leader, seq)
            self._check_pins(body.heads, self.policy_pins(body.policy), seq)
            self._finish(h, data)
            self.policy = body.policy
            self._pin(body.heads, seq)
        elif isinstance(body, Checkpoint):
            self._need_leader(leader, seq)
            if self.pending_rotation:
                # The meeting code derives from the epoch key; a member who just left
                # still holds it, so a checkpoint waits for the rotation.
                raise LogError(
                    "a checkpoint must wait for the pending rotation", seq=seq, check="pending"
                )
            self._check_sorted(body.heads, seq)
            if any(hd.device not in self.devices for hd in body.heads):
                raise LogError("checkpoint names an unknown device", seq=seq, check="checkpoint")
            self._finish(h, data)
            self.checkpoint = CheckpointInfo(seq, h, self.epoch, list(body.heads))
        elif isinstance(body, Move):
            self._need_leader(leader, seq)
            if not _server_url(body.server):
                raise LogError(
                    "a move names a server by its http(s) address, one printable line",
                    seq=seq,
                    check="server",
                )
            self._finish(h, data)
            self.server, self.server_seq = body.server, seq
        self.time = op.time
        return AppliedOp(seq, h, data, op, signer.id)

    # --- helpers ----------------------------------------------------------------------------

    def _verify_sig(self, signed: SignedOp, key: bytes, seq: int) -> None:
        try:
            P.verify(key, L.SIG_OP, encode(signed.op), signed.sig)
        except SignatureError:
            raise LogError("bad op signature", seq=seq, check="signature") from None

    @staticmethod
    def _need_leader(leader: bool, seq: int) -> None:
        if not leader:
            raise LogError("op requires a leader", seq=seq, check="role")

    @staticmethod
    def _check_key(key: bytes, seq: int) -> None:
        try:
            P.check_ed25519_public_key(key)
        except SignatureError:
            raise LogError("invalid public key", seq=seq, check="key") from None

    def _check_leaders_remain(self, leaving: bytes, seq: int) -> None:
        if not any(m.id != leaving for m in self.leaders()):
            raise LogError(
                "the last leader cannot leave, be removed or step down without a successor",
                seq=seq,
                check="last_leader",
            )

    @staticmethod
    def _check_sorted(heads: Sequence[ChainHead], seq: int) -> None:
        devices = [hd.device for hd in heads]
        if devices != sorted(set(devices)):
            raise LogError(
                "heads must be sorted by device, without duplicates", seq=seq, check="heads"
            )
        if any(hd.seq == 0 and hd.link != ZERO32 for hd in heads):
            # One encoding for "no entries": seq 0 carries the zero link.
            raise LogError("a head at seq 0 must carry the zero link", seq=seq, check="heads")

    def _check_pins(self, heads: Sequence[ChainHead], devices: list[bytes], seq: int) -> None:
        self._check_sorted(heads, seq)
        if [hd.device for hd in heads] != devices:
            raise LogError(
                "the op must pin exactly the heads of the devices whose power it takes away",
                seq=seq,
                check="heads",
            )

    def _pin(self, heads: Sequence[ChainHead], seq: int) -> None:
        for hd in heads:
            self.devices[hd.device].pins.append((seq, hd))

    def _check_heads(self, heads: Sequence[ChainHead], member: MemberState, seq: int) -> None:
        self._check_sorted(heads, seq)
        if [hd.device for hd in heads] != self.current_devices(member.id):
            raise LogError(
                "final heads must list exactly the member's devices", seq=seq, check="heads"
            )

    def _check_rotation(self, rot: Rotation, op: Op, devices: set[bytes]) -> None:
        seq = op.seq
        if rot.epoch != self.epoch + 1:
            raise RotationError(
                f"rotation to epoch {rot.epoch}, expected {self.epoch + 1}", seq=seq, check="epoch"
            )
        ref_devices = [r.device for r in rot.refs]
        if ref_devices != sorted(set(ref_devices)):
            raise RotationError(
                "lockbox refs must be sorted and unique", seq=seq, check="lockboxes"
            )
        ghosts = set(ref_devices) - devices
        if ghosts:
            raise RotationError(
                "lockbox for a device that is not a member (ghost)", seq=seq, check="ghost_member"
            )
        if devices - set(ref_devices):
            raise RotationError(
                "a current member's device has no lockbox", seq=seq, check="lockbox_missing"
            )
        want_backlink = self.backlink_required()
        if want_backlink and rot.backlink is None:
            raise RotationError("policy full requires a back-link", seq=seq, check="backlink")
        if not want_backlink and rot.backlink is not None:
            raise RotationError(
                "back-link not allowed under this policy", seq=seq, check="backlink"
            )

    def _finish(self, h: bytes, data: bytes) -> None:
        # Every check has passed: only now does the state move.
        self.seq += 1
        self.head = h
        self.op_hashes.append(h)
        self.epoch_at.append(self.epoch)
        self.pending_at.append(self.pending_rotation)

    def _record_rotation(self, rot: Rotation, op: Op, names: bytes | None) -> None:
        self.epoch = rot.epoch
        self.pending_rotation = False
        self.epoch_at[-1] = rot.epoch
        self.pending_at[-1] = False
        self.rotations[rot.epoch] = RotationInfo(
            rot.epoch, op.seq, op.prev, rot, names, self.policy.history
        )

    def _depart(self, m: MemberState, status: Status, seq: int, heads: Sequence[ChainHead]) -> None:
        m.status = status
        m.departed_seq = seq
        for hd in heads:
            self.devices[hd.device].final_head = hd
        # A departure takes every power away: like a demotion it pins the chains, so an entry
        # beyond a final head is judged at the departure (§7.4), also by a client that held it
        # before it saw the departure (a server may hide a removal for a while).
        self._pin(heads, seq)
        for dev in m.devices:
            if self.devices[dev].departed_seq is None:
                self.devices[dev].departed_seq = seq
                self.devices[dev].departed_as = status
        self._kill_invites(m.id)

    def _kill_invites(self, issuer: bytes) -> None:
        # Invites die with their issuer (removed, left or demoted) and stay dead.
        for inv in self.invites.values():
            if inv.issuer == issuer and inv.used_seq is None:
                inv.revoked = True

    def _apply_genesis(self, data: bytes, signed: SignedOp, body: Genesis) -> AppliedOp:
        op = signed.op
        if body.suite != L.SUITE:
            raise LogError("unsupported suite", seq=0, check="suite")
        try:
            verify_card(body.founder)
        except SignatureError:
            raise LogError("founder card does not verify", seq=0, check="card") from None
        dev = card_device_id(body.founder)
        if op.signer != dev:
            raise LogError("genesis must be signed by the founder's device", seq=0, check="signer")
        self._verify_sig(signed, body.founder.cert.device_key, 0)
        mid = card_member_id(body.founder)
        h = op_hash(data)
        self.group_id = group_id_of(data)
        self._finish(h, data)
        self.policy = body.policy
        self.pending_rotation = True
        self.pending_at[-1] = True
        self.members[mid] = MemberState(
            mid,
            body.founder.cert.member_key,
            "leader",
            "active",
            0,
            1,
            [dev],
            roles=[(0, "leader")],
        )
        self.devices[dev] = DeviceState(
            dev, mid, body.founder.cert.device_key, body.founder.cert.kem_key, body.founder
        )
        self.time = op.time
        return AppliedOp(0, h, data, op, mid)

    def _apply_add_device(
        self, h: bytes, data: bytes, op: Op, body: AddDevice, signer: MemberState
    ) -> None:
        """Another device of the signer's own member (§5.2 rule 14, §5.3): no leader needed, the
        member key vouches for it in the card, and an active device of that member signs."""
        seq = op.seq
        try:
            verify_card(body.card)
        except SignatureError:
            raise LogError("the new device's card does not verify", seq=seq, check="card") from None
        if card_member_id(body.card) != signer.id:
            raise LogError(
                "a device can only add a device of its own member", seq=seq, check="member"
            )
        dev = card_device_id(body.card)
        if dev in self.devices:
            raise LogError("device was already in the group", seq=seq, check="device")
        if len(self.current_devices(signer.id)) >= MAX_MEMBER_DEVICES:
            raise LogError(
                f"a member has at most {MAX_MEMBER_DEVICES} devices", seq=seq, check="device"
            )
        self._finish(h, data)
        signer.devices.append(dev)
        self.devices[dev] = DeviceState(
            dev,
            signer.id,
            body.card.cert.device_key,
            body.card.cert.kem_key,
            body.card,
            joined_seq=seq,
        )

    def _apply_remove_device(
        self,
        h: bytes,
        data: bytes,
        op: Op,
        body: RemoveDevice,
        signer: MemberState,
        leader: bool,
    ) -> None:
        """One device leaves its member's set (§5.2 rule 15, §5.3): by another device of the same
        member, or by a leader; its final head is pinned and the key rotates past it."""
        seq = op.seq
        target = self.devices.get(body.device)
        if target is None or not self.is_active_device(body.device):
            raise LogError("not an active device", seq=seq, check="device")
        if target.member != signer.id and not leader:
            raise LogError(
                "only another device of the same member, or a leader, removes a device",
                seq=seq,
                check="role",
            )
        if body.device == op.signer:
            raise LogError("a device cannot remove itself", seq=seq, check="device")
        if self.current_devices(target.member) == [body.device]:
            raise LogError(
                "a member's last device goes with the member (remove or leave)",
                seq=seq,
                check="device",
            )
        self._check_pins(body.heads, [body.device], seq)
        after = {d.id for d in self.active_devices() if d.id != body.device}
        self._check_rotation(body.rotation, op, after)
        self._finish(h, data)
        target.final_head = body.heads[0]
        target.departed_seq = seq
        target.departed_as = "removed"
        self._record_rotation(body.rotation, op, None)

    def _apply_add(self, h: bytes, data: bytes, op: Op, body: Add, leader: bool) -> None:
        seq = op.seq
        self._need_leader(leader, seq)
        new_devices: dict[bytes, tuple[bytes, MemberCard, Role]] = {}
        seen_invites: set[bytes] = set()
        for nm in body.members:
            try:
                verify_card(nm.card)
            except SignatureError:
                raise LogError("new member's card does not verify", seq=seq, check="card") from None
            mid, dev = card_member_id(nm.card), card_device_id(nm.card)
            existing = self.members.get(mid)
            if existing is not None and existing.active:
                raise LogError("member is already in the group", seq=seq, check="member")
            if dev in self.devices or dev in new_devices:
                raise LogError("device was already in the group", seq=seq, check="device")
            if any(v[0] == mid for v in new_devices.values()):
                raise LogError("member added twice", seq=seq, check="member")
            inv = self.invites.get(nm.invite_id)
            if inv is None:
                raise LogError("add names an unknown invite", seq=seq, check="invite")
            if inv.used_seq is not None or nm.invite_id in seen_invites:
                raise LogError("invite already used", seq=seq, check="invite_used")
            if inv.revoked or not self.invite_usable(nm.invite_id, op.time):
                raise LogError(
                    "invite is revoked, expired or its issuer is gone", seq=seq, check="invite_dead"
                )
            seen_invites.add(nm.invite_id)
            new_devices[dev] = (mid, nm.card, inv.role)
        after = {d.id for d in self.active_devices()} | set(new_devices)
        self._check_rotation(body.rotation, op, after)
        self._finish(h, data)
        for dev, (mid, card, role) in new_devices.items():
            # A member added again lists only the new device: the old ones keep their
            # final heads and stay departed (no lockboxes, no ops, no new entries). Their
            # earlier memberships and roles are kept, so what they did then stays judged
            # by the roles they held then.
            before = self.members.get(mid)
            past, roles = [], [(seq, role)]
            if before is not None and before.departed_seq is not None:
                past = [*before.past, (before.joined_seq, before.departed_seq)]
                roles = [*before.roles, (seq, role)]
            self.members[mid] = MemberState(
                mid,
                card.cert.member_key,
                role,
                "active",
                seq,
                body.rotation.epoch,
                [dev],
                roles=roles,
                past=past,
            )
            self.devices[dev] = DeviceState(
                dev, mid, card.cert.device_key, card.cert.kem_key, card, joined_seq=seq
            )
        for nm in body.members:
            self.invites[nm.invite_id].used_seq = seq
        self._record_rotation(body.rotation, op, body.names)


def _server_url(url: str) -> bool:
    """An http(s) address on one printable line, without spaces (it is shown to members)."""
    return (
        url.startswith(("https://", "http://"))
        and len(url) > len("https://")
        and url.isprintable()
        and not any(c.isspace() for c in url)
    )


def pinned_heads(body: OpBody) -> list[ChainHead]:
    """The chain heads an op pins: a departure's final heads, a demotion's or a stricter
    policy's pinned heads; none for any other op (a checkpoint lists heads, it pins none)."""
    if isinstance(body, Remove | RemoveDevice | Leave | SetRole | SetPolicy):
        return list(body.heads)
    return []


def replay(ops: Iterable[bytes], state: GroupState | None = None) -> GroupState:
    """verify_public: replay ops (from genesis, or onto a copy of `state`) into a state."""
    st = GroupState() if state is None else state.copy()
    for data in ops:
        st.apply(data)
    return st


verify_public = replay


class DeviceSigner(Protocol):
    """What signing an op needs; `DeviceKeys` satisfies it."""

    @property
    def id(self) -> bytes: ...

    def sign(self, label: bytes, message: bytes) -> bytes: ...


def sign_op(state: GroupState, device_sk: DeviceSigner, body: OpBody, *, time: int) -> bytes:
    """Build and sign the next op of `state`'s log, dated `time` or, when this device's clock
    is behind the op it follows, that op's time (op times never decrease)."""
    is_genesis = isinstance(body, Genesis)
    op = Op(
        L.VERSION,
        ZERO32 if is_genesis else state.group_id,
        state.seq + 1,
        state.head,
        device_sk.id,
        max(time, state.time),
        body,
    )
    return encode(SignedOp(op, device_sk.sign(L.SIG_OP, encode(op))))


__all__ = [
    "AppliedOp",
    "CheckpointInfo",
    "DeviceState",
    "GroupState",
    "InviteState",
    "MemberState",
    "RotationInfo",
    "decode_signed_op",
    "device_id",
    "group_id_of",
    "op_hash",
    "pinned_heads",
    "replay",
    "sign_op",
    "verify_public",
]
