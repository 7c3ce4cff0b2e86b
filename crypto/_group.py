"""Client-side group operations: the keyring (verify_keyed) and builders for every op.

Only clients hold epoch keys. `Keyring` opens this device's lockboxes,
checks every key against its confirmation, follows back-links where the
policy allows, and reads the attested names. The builders produce signed
ops plus the lockboxes to upload beside them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import _labels as L
from . import _primitives as P
from ._epoch import (
    BuiltRotation,
    Recipient,
    build_rotation,
    key_confirmation,
    open_backlink,
    open_lockbox,
    open_names,
    seal_names,
)
from ._errors import CouldNotOpen, LogError, RotationError
from ._identity import DeviceKeys, bits_to_words, card_device_id, card_member_id
from ._invite import InviteSecret, looks_like_invite_code
from ._keystore import Secrets
from ._log import GroupState, sign_op
from ._records import (
    MAX_BATCH,
    Add,
    AddDevice,
    ChainHead,
    Checkpoint,
    Genesis,
    Invite,
    Leave,
    MemberCard,
    Move,
    NameList,
    NewMember,
    Policy,
    Remove,
    RemoveDevice,
    RevokeInvite,
    Role,
    Rotate,
    SetPolicy,
    SetRole,
)

MEETING_CODE_WORDS = 6  # 66 bits


@dataclass
class Keyring:
    """Epoch keys this device can reach, each checked against its key confirmation."""

    keys: dict[int, bytes] = field(default_factory=dict, repr=False)

    def key(self, epoch: int) -> bytes:
        try:
            return self.keys[epoch]
        except KeyError:
            raise CouldNotOpen from None

    def has(self, epoch: int) -> bool:
        return epoch in self.keys

    def accept_lockbox(
        self, state: GroupState, device: DeviceKeys, member: bytes, epoch: int, sealed: bytes
    ) -> bytes:
        """Open this device's lockbox for `epoch`; raises RotationError or CouldNotOpen."""
        info = state.rotations.get(epoch)
        if info is None:
            raise RotationError(f"no verified rotation to epoch {epoch}", check="rotation")
        key = open_lockbox(device, member, state.group_id, info.rotation, info.prev, sealed)
        before = dict(self.keys)
        self.keys[epoch] = key
        try:
            self.follow_backlinks(state)
        except CouldNotOpen:
            self.keys.clear()  # a failed call leaves the keyring as it was
            self.keys.update(before)
            raise
        return key

    def accept_key(self, state: GroupState, epoch: int, key: bytes) -> None:
        """Take an epoch key handed over by another device of this member (§5.4): it must
        reproduce its rotation's key confirmation; raises RotationError or CouldNotOpen and
        changes nothing on failure."""
        info = state.rotations.get(epoch)
        if info is None:
            raise RotationError(f"no verified rotation to epoch {epoch}", check="rotation")
        want = key_confirmation(key, state.group_id, epoch, info.prev)
        if len(key) != 32 or not P.mac_equal(want, info.rotation.confirm):
            raise CouldNotOpen
        self.keys[epoch] = key

    def follow_backlinks(self, state: GroupState) -> None:
        """Walk back-links from every held key; each recovered key must match its confirm."""
        for epoch in sorted(self.keys, reverse=True):
            e = epoch
            while e >= 2 and (e - 1) not in self.keys:
                info = state.rotations.get(e)
                older = state.rotations.get(e - 1)
                if info is None or older is None or info.rotation.backlink is None:
                    break
                prev_key = open_backlink(self.keys[e], info.rotation.backlink, state.group_id, e)
                want = key_confirmation(prev_key, state.group_id, e - 1, older.prev)
                if not P.mac_equal(want, older.rotation.confirm):
                    raise CouldNotOpen
                self.keys[e - 1] = prev_key
                e -= 1

    def names(self, state: GroupState) -> dict[bytes, str]:
        """Attested display names this member can read (newest attestation wins).

        Only names a reader may show (§6.4): a name that `check_name` would not
        return unchanged (control characters, id, fingerprint or code look-alikes)
        is dropped, and a blob that does not open is skipped, so one bad op by a
        leader cannot hide every other name of the group for good.
        """
        out: dict[bytes, str] = {}
        for attested in self._name_lists(state):
            for mid, name in attested.names:
                if _showable(name):
                    out[mid] = name
        return out

    def group_name(self, state: GroupState) -> str | None:
        """The group's name as the newest attestation this member can read gives it (§6.4);
        None when none does (or it is not one a reader may show)."""
        found = None
        for attested in self._name_lists(state):
            if attested.group is not None:
                found = attested.group
        return found if found is not None and _showable_group_name(found) else None

    def _name_lists(self, state: GroupState) -> list[NameList]:
        """Every names blob this member can open, oldest first (a bad blob is skipped)."""
        out = []
        for epoch in sorted(state.rotations):
            info = state.rotations[epoch]
            if info.names is None or epoch not in self.keys:
                continue
            try:
                out.append(
                    open_names(self.keys[epoch], state.group_id, epoch, info.prev, info.names)
                )
            except CouldNotOpen:
                continue
        return out

    def meeting_code(self, state: GroupState) -> str | None:
        """Six words from the latest checkpoint and its epoch's key; members compare aloud."""
        cp = state.checkpoint
        if cp is None or cp.epoch not in self.keys:
            return None
        k = P.hkdf(self.keys[cp.epoch], salt=b"", info=L.KDF_CONFIRM)
        code = P.mac(k, L.MAC_MEETING, state.group_id, cp.epoch.to_bytes(8, "big"), cp.hash)
        return bits_to_words(code, MEETING_CODE_WORDS)


@dataclass(frozen=True)
class PendingOp:
    """A signed op ready to append, the lockboxes to upload with it, and its new key."""

    op: bytes
    lockboxes: dict[bytes, bytes] = field(default_factory=dict, repr=False)
    epoch: int | None = None
    key: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class NewGroup:
    group_id: bytes
    ops: list[bytes]
    lockboxes: dict[bytes, bytes] = field(repr=False)
    key: bytes = field(repr=False)
    state: GroupState


def _recipients(
    state: GroupState, exclude: bytes | None = None, *, without_device: bytes | None = None
) -> list[Recipient]:
    """Every active device (a lockbox each), less a departing member's or one device."""
    return [
        Recipient(d.member, d.id, d.kem_key)
        for d in state.active_devices()
        if (exclude is None or d.member != exclude) and d.id != without_device
    ]


def _rotation(
    state: GroupState, keyring: Keyring, recipients: list[Recipient], rand: P.Random
) -> BuiltRotation:
    epoch = state.epoch + 1
    old = keyring.key(state.epoch) if state.backlink_required() else None
    return build_rotation(state.group_id, epoch, state.head, recipients, old_key=old, rand=rand)


def check_name(name: str) -> str:
    """Names are 1-64 printable characters and must not pass for an id, fingerprint or code."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 64 or not name.isprintable():
        raise ValueError("a name is 1 to 64 printable characters")
    compact = name.replace(" ", "").lower()
    if looks_like_invite_code(name):
        raise ValueError("a name must not look like an invite code")
    if len(compact) >= 8 and all(c in "0123456789abcdef" for c in compact):
        raise ValueError("a name must not look like a member id")
    if len(name.split()) >= 6 and all(w.isalpha() and w.islower() for w in name.split()):
        raise ValueError("a name must not look like a fingerprint")
    if _passes_for_a_label(name_skeleton(name)):
        raise ValueError(
            "a name must not pass for one of Chatham's own words (you, member 1a2b…, or a "
            "name followed by an id in brackets)"
        )
    return name


# Cyrillic and Greek letters that look like Latin ones once case-folded, so "уоu" (Cyrillic)
# cannot pass for "you" nor "Аna" (Cyrillic А) for "Ana". Not all of Unicode's confusables:
# those of the scripts names most often mix with Latin.
_LOOKALIKES = str.maketrans(
    {
        **dict(zip("аеорсухіјѕԁһӏԛԝвкмнт", "aeopcyxijsdhlqwbkmht", strict=True)),
        **dict(zip("αβεζηικμνοπρτυχ", "abezhikmnonptyx", strict=True)),
    }
)
_LABEL_WORDS = frozenset({"you", "me", "yourself", "myself"})
_ID_LABEL = re.compile(r"[(\[]\s*[0-9a-f]{4,}\s*[)\]]")


def name_skeleton(name: str) -> str:
    """What a name looks like, for telling names apart: NFKC, case-folded, without accents,
    with other scripts' Latin lookalikes mapped to Latin, and spaces collapsed."""
    # A capital I and a small l look alike in most sans-serif fonts ("AIice", "Alice"): map
    # it before case folding would turn it into an i.
    nfkc = unicodedata.normalize("NFKC", name).replace("I", "l")
    folded = unicodedata.normalize("NFKD", nfkc.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(plain.translate(_LOOKALIKES).split())


def _passes_for_a_label(skeleton: str) -> bool:
    """The client's own words for members: "you", "member 1a2b3c4d" for one without a name,
    and "Sam (1a2b3c4d)" for two whose names look alike."""
    if skeleton.strip(" .:!()[]\"'") in _LABEL_WORDS:
        return True
    if _ID_LABEL.search(skeleton):
        return True
    rest = skeleton.removeprefix("member")
    return (
        rest != skeleton
        and rest.strip(" #:-….") != ""
        and all(c in "0123456789abcdef #:-…." for c in rest)
    )


def _showable(name: str) -> bool:
    try:
        return check_name(name) == name
    except ValueError:
        return False


def check_group_name(name: str) -> str:
    """A group's name: 1-100 printable characters after whitespace is normalized, and not
    something that passes for an invite code (§6.4)."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100 or not name.isprintable():
        raise ValueError("a group name is 1 to 100 printable characters")
    if looks_like_invite_code(name):
        raise ValueError("a group name must not look like an invite code")
    return name


def _showable_group_name(name: str) -> bool:
    try:
        return check_group_name(name) == name
    except ValueError:
        return False


def create_group(
    secrets: Secrets,
    name: str,
    *,
    policy: Policy | None = None,
    time: int,
    card: MemberCard,
    group_name: str | None = None,
    rand: P.Random = P.random_bytes,
) -> NewGroup:
    """Genesis plus the founder's first rotation (epoch 1, with the founder's attested name
    and, when given, the group's name)."""
    state = GroupState()
    genesis = sign_op(
        state,
        secrets.device,
        Genesis(L.SUITE, card, policy or Policy(), rand(16), time),
        time=time,
    )
    state.apply(genesis)
    built = build_rotation(
        state.group_id,
        1,
        state.head,
        _recipients(state),
        old_key=None,
        rand=rand,
    )
    names = seal_names(
        built.key,
        state.group_id,
        1,
        state.head,
        [(card_member_id(card), check_name(name))],
        rand,
        group_name=None if group_name is None else check_group_name(group_name),
    )
    rotate = sign_op(state, secrets.device, Rotate(built.rotation, names), time=time)
    state.apply(rotate)
    return NewGroup(state.group_id, [genesis, rotate], built.lockboxes, built.key, state)


def build_rotate(
    state: GroupState,
    keyring: Keyring,
    device: DeviceKeys,
    *,
    time: int,
    rand: P.Random = P.random_bytes,
) -> PendingOp:
    built = _rotation(state, keyring, _recipients(state), rand)
    op = sign_op(state, device, Rotate(built.rotation), time=time)
    return PendingOp(op, built.lockboxes, built.rotation.epoch, built.key)


def build_invite(
    state: GroupState,
    device: DeviceKeys,
    *,
    role: Role,
    expires: int,
    server: str,
    time: int,
    rand: P.Random = P.random_bytes,
) -> tuple[PendingOp, InviteSecret]:
    secret = InviteSecret.generate(state.group_id, server, rand)
    body = Invite(secret.invite_id, secret.join_key, role, expires)
    return PendingOp(sign_op(state, device, body, time=time)), secret


def build_revoke_invite(
    state: GroupState, device: DeviceKeys, invite_id: bytes, *, time: int
) -> PendingOp:
    return PendingOp(sign_op(state, device, RevokeInvite(invite_id), time=time))


def build_add(
    state: GroupState,
    keyring: Keyring,
    device: DeviceKeys,
    joins: Sequence[tuple[MemberCard, bytes, str]],
    *,
    time: int,
    roster: Sequence[tuple[bytes, str]] = (),
    group_name: str | None = None,
    rand: P.Random = P.random_bytes,
) -> PendingOp:
    """Add members (card, invite id, attested name); always rotates (docs/protocol.md §6.1).

    `roster` re-attests names of members already in the group (member id, name), and
    `group_name` the group's name, so a newcomer under `from-join`, who cannot open earlier
    epochs, still learns who is who and what the group is called (§6.4). The names blob
    holds at most MAX_BATCH names in all: a longer one would not decode anywhere, so it is
    refused here, before anything is signed.
    """
    new_names = [(card_member_id(c), check_name(n)) for c, _, n in joins]
    joining = {mid for mid, _ in new_names}
    again = [(mid, check_name(n)) for mid, n in roster if mid not in joining]
    if len(new_names) + len(again) > MAX_BATCH:
        raise ValueError(f"an add attests at most {MAX_BATCH} names")
    recipients = _recipients(state) + [
        Recipient(card_member_id(c), card_device_id(c), c.cert.kem_key) for c, _, _ in joins
    ]
    built = _rotation(state, keyring, recipients, rand)
    names = seal_names(
        built.key,
        state.group_id,
        built.rotation.epoch,
        state.head,
        new_names + again,
        rand,
        group_name=None if group_name is None else check_group_name(group_name),
    )
    body = Add([NewMember(c, i) for c, i, _ in joins], names, built.rotation)
    return PendingOp(
        sign_op(state, device, body, time=time), built.lockboxes, built.rotation.epoch, built.key
    )


def build_remove(
    state: GroupState,
    keyring: Keyring,
    device: DeviceKeys,
    member: bytes,
    heads: Sequence[ChainHead],
    *,
    time: int,
    rand: P.Random = P.random_bytes,
) -> PendingOp:
    """Remove and rotate in one op; the removed member gets no lockbox."""
    if member not in state.members:
        raise LogError("no such member", check="member")
    built = _rotation(state, keyring, _recipients(state, exclude=member), rand)
    body = Remove(member, final_heads(state, member, heads), built.rotation)
    return PendingOp(
        sign_op(state, device, body, time=time), built.lockboxes, built.rotation.epoch, built.key
    )


def build_add_device(
    state: GroupState, device: DeviceKeys, card: MemberCard, *, time: int
) -> PendingOp:
    """Record another device of this device's member (its card signed by the member key).

    No rotation: the new device belongs to a member who already holds the keys; the linking
    device hands them over sealed to it, and every later rotation seals to it (§5.3, §5.4)."""
    return PendingOp(sign_op(state, device, AddDevice(card), time=time))


def build_remove_device(
    state: GroupState,
    keyring: Keyring,
    device: DeviceKeys,
    target: bytes,
    heads: Sequence[ChainHead],
    *,
    time: int,
    rand: P.Random = P.random_bytes,
) -> PendingOp:
    """Remove one device and rotate past it, pinning its final head (`heads`: those known)."""
    if target not in state.devices:
        raise LogError("no such device", check="device")
    by_device = {h.device: h for h in heads}
    final = by_device.get(target, ChainHead(target, 0, bytes(32)))
    built = _rotation(state, keyring, _recipients(state, without_device=target), rand)
    body = RemoveDevice(target, [final], built.rotation)
    return PendingOp(
        sign_op(state, device, body, time=time), built.lockboxes, built.rotation.epoch, built.key
    )


def final_heads(state: GroupState, member: bytes, known: Sequence[ChainHead]) -> list[ChainHead]:
    """One head per device of `member`: the newest known, or (seq 0, zeros) if none."""
    by_device = {h.device: h for h in known}
    return [
        by_device.get(d, ChainHead(d, 0, bytes(32))) for d in sorted(state.members[member].devices)
    ]


def build_leave(
    state: GroupState, device: DeviceKeys, member: bytes, heads: Sequence[ChainHead], *, time: int
) -> PendingOp:
    return PendingOp(sign_op(state, device, Leave(final_heads(state, member, heads)), time=time))


def build_set_role(
    state: GroupState,
    device: DeviceKeys,
    member: bytes,
    role: Role,
    heads: Sequence[ChainHead] = (),
    *,
    time: int,
) -> PendingOp:
    """Promote or demote; a demotion pins the member's chain heads (`heads`: those known)."""
    pinned = final_heads(state, member, heads) if role == "member" else []
    return PendingOp(sign_op(state, device, SetRole(member, role, pinned), time=time))


def build_policy(
    state: GroupState,
    device: DeviceKeys,
    policy: Policy,
    heads: Sequence[ChainHead] = (),
    *,
    time: int,
) -> PendingOp:
    """Change the policy; one that takes a power away pins the heads of the devices that lose
    it (`heads`: those known)."""
    by_device = {h.device: h for h in heads}
    pinned = [by_device.get(d, ChainHead(d, 0, bytes(32))) for d in state.policy_pins(policy)]
    return PendingOp(sign_op(state, device, SetPolicy(policy, pinned), time=time))


def build_move(state: GroupState, device: DeviceKeys, server: str, *, time: int) -> PendingOp:
    """A leader records that the group's server is `server` from now on (§14.3)."""
    return PendingOp(sign_op(state, device, Move(server), time=time))


def build_checkpoint(
    state: GroupState, device: DeviceKeys, heads: Sequence[ChainHead], *, time: int
) -> PendingOp:
    ordered = sorted(heads, key=lambda h: h.device)
    return PendingOp(sign_op(state, device, Checkpoint(ordered), time=time))
