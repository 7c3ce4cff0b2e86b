"""Wire records of protocol v2: every signed or authenticated structure, with its bounds.

These types hold ids, epochs, keys and bytes only: no plaintext domain content
ever appears here, so the type checker shows that nothing readable can reach
the server through them. Field order is the encoding order (docs/protocol.md).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from msgspec import Meta

from ._encoding import Record

Bytes16 = Annotated[bytes, Meta(min_length=16, max_length=16)]
Bytes32 = Annotated[bytes, Meta(min_length=32, max_length=32)]
Bytes64 = Annotated[bytes, Meta(min_length=64, max_length=64)]
KemKey = Annotated[bytes, Meta(min_length=1216, max_length=1216)]
U64 = Annotated[int, Meta(ge=0, le=2**63 - 1)]
Seq1 = Annotated[int, Meta(ge=1, le=2**63 - 1)]
Role = Literal["member", "leader"]
History = Literal["full", "from-join"]
Notes = Literal["all", "leaders"]

MAX_ENTRY_BODY: Final = 1 << 20
MAX_ENTRY_CT: Final = 24 + 32 + (MAX_ENTRY_BODY + (MAX_ENTRY_BODY >> 4) + 4096) + 16
MAX_BATCH: Final = 100
MAX_DEVICES: Final = 10_000
MAX_OP_SIZE: Final = 4 << 20
MAX_ENTRY_SIZE: Final = MAX_ENTRY_CT + 1024
MAX_NAMES_CT: Final = 64 * 1024
MAX_BACKLINK: Final = 24 + 32 + 16
MAX_RETRACTS: Final = 100
"""Entries one retracting entry may withdraw (its header lists their ids)."""
MAX_STUB_SIZE: Final = 4096
MAX_MEMBER_DEVICES: Final = 16
"""Active devices one member may have in a group at once (a recovery kit counts as one)."""
MAX_SERVER_URL: Final = 2000


class DeviceCert(Record, frozen=True):
    """A member key's statement that a device belongs to it."""

    v: Literal[2]
    member_key: Bytes32
    device_key: Bytes32
    kem_key: KemKey
    created: U64


class MemberCard(Record, frozen=True):
    """A device certificate signed by both the member key and the device key."""

    cert: DeviceCert
    member_sig: Bytes64
    device_sig: Bytes64


class Policy(Record, frozen=True):
    """The group's rules: history for newcomers, who writes notes, rotation per meeting."""

    history: History = "from-join"
    notes: Notes = "all"
    rotate_each_meeting: bool = False


class LockboxRef(Record, frozen=True):
    """Commitment to one device's lockbox: H(H_LOCKBOX, group, epoch, device, lockbox)."""

    device: Bytes32
    hash: Bytes32


class Rotation(Record, frozen=True):
    """A new epoch: lockbox commitments, key confirmation and an optional back-link."""

    epoch: Seq1
    refs: Annotated[list[LockboxRef], Meta(min_length=1, max_length=MAX_DEVICES)]
    confirm: Bytes32
    backlink: Annotated[bytes, Meta(min_length=MAX_BACKLINK, max_length=MAX_BACKLINK)] | None


class ChainHead(Record, frozen=True):
    """The newest entry of one device's chain: (device, seq, link)."""

    device: Bytes32
    seq: U64
    link: Bytes32


HeadList = Annotated[list[ChainHead], Meta(max_length=MAX_DEVICES)]
NamesCt = Annotated[bytes, Meta(min_length=24 + 16, max_length=MAX_NAMES_CT)]


class Genesis(Record, frozen=True, tag="genesis"):
    suite: Annotated[str, Meta(max_length=200)]
    founder: MemberCard
    policy: Policy
    nonce: Bytes16
    created: U64


class Rotate(Record, frozen=True, tag="rotate"):
    rotation: Rotation
    names: NamesCt | None = None


class Invite(Record, frozen=True, tag="invite"):
    invite_id: Bytes32
    join_key: Bytes32
    role: Role
    expires: U64


class RevokeInvite(Record, frozen=True, tag="revoke-invite"):
    invite_id: Bytes32


class NewMember(Record, frozen=True):
    card: MemberCard
    invite_id: Bytes32


class Add(Record, frozen=True, tag="add"):
    members: Annotated[list[NewMember], Meta(min_length=1, max_length=MAX_BATCH)]
    names: NamesCt
    rotation: Rotation


class Remove(Record, frozen=True, tag="remove"):
    member: Bytes32
    heads: HeadList
    rotation: Rotation


class Leave(Record, frozen=True, tag="leave"):
    heads: HeadList


class AddDevice(Record, frozen=True, tag="add-device"):
    """Another device of the signer's own member: its card, signed by the member key."""

    card: MemberCard


class RemoveDevice(Record, frozen=True, tag="remove-device"):
    """One device leaves its member's set: its final head is pinned and the key rotates."""

    device: Bytes32
    heads: HeadList
    """Exactly the removed device's final head (a list, like every op's pinned heads)."""
    rotation: Rotation


class SetRole(Record, frozen=True, tag="set-role"):
    member: Bytes32
    role: Role
    heads: HeadList
    """A demotion pins the heads of the member's devices; a promotion lists none."""


class SetPolicy(Record, frozen=True, tag="policy"):
    policy: Policy
    heads: HeadList
    """A policy that takes a power away pins the heads of every device that loses it."""


class Checkpoint(Record, frozen=True, tag="checkpoint"):
    heads: HeadList


class Move(Record, frozen=True, tag="move"):
    """The group's server from this op on (a leader moved it there: §14.3)."""

    server: Annotated[str, Meta(min_length=1, max_length=MAX_SERVER_URL)]


OpBody = (
    Genesis
    | Rotate
    | Invite
    | RevokeInvite
    | Add
    | Remove
    | Leave
    | AddDevice
    | RemoveDevice
    | SetRole
    | SetPolicy
    | Checkpoint
    | Move
)


class Op(Record, frozen=True):
    v: Literal[2]
    group: Bytes32
    seq: U64
    prev: Bytes32
    signer: Bytes32
    time: U64
    body: OpBody


class SignedOp(Record, frozen=True):
    op: Op
    sig: Bytes64


class EntryHeader(Record, frozen=True):
    """The clear part of an entry; also the AEAD's associated data."""

    v: Literal[2]
    group: Bytes32
    entry_id: Bytes16
    epoch: Seq1
    device: Bytes32
    seq: Seq1
    prev: Bytes32
    log_seq: U64
    log_head: Bytes32
    retracts: Annotated[list[Bytes16], Meta(max_length=MAX_RETRACTS)]
    """Entries this entry withdraws: the server deletes their ciphertexts (author or leader)."""


class Entry(Record, frozen=True):
    header: EntryHeader
    ct: Annotated[bytes, Meta(min_length=24 + 32 + 16, max_length=MAX_ENTRY_CT)]
    sig: Bytes64


class EntryStub(Record, frozen=True):
    """What remains of an entry after a retraction: enough to verify the chain."""

    header: EntryHeader
    ct_hash: Bytes32
    sig: Bytes64


class JoinRequest(Record, frozen=True):
    v: Literal[2]
    group: Bytes32
    invite_id: Bytes32
    card: MemberCard
    mac: Bytes32
    created: U64


class SignedJoinRequest(Record, frozen=True):
    request: JoinRequest
    sig: Bytes64


class NameList(Record, frozen=True):
    """Plaintext of an attested-names blob: members' names, and the group's own name."""

    names: Annotated[
        list[tuple[Bytes32, Annotated[str, Meta(min_length=1, max_length=64)]]],
        Meta(max_length=MAX_BATCH),
    ]
    group: Annotated[str, Meta(min_length=1, max_length=100)] | None


class KeystoreSecrets(Record, frozen=True):
    v: Literal[2]
    member_seed: Bytes32 | None
    """nil while a newly linked device waits for its member key (§5.4)."""
    device_seed: Bytes32
    kem_seed: Annotated[bytes, Meta(min_length=96, max_length=96)]
    store_secret: Bytes32
    created: U64


class KeystoreFile(Record, frozen=True):
    v: Literal[2]
    opslimit: U64
    memlimit: U64
    salt: Bytes16
    nonce: Annotated[bytes, Meta(min_length=24, max_length=24)]
    ct: Annotated[bytes, Meta(max_length=4096)]


class LinkOffer(Record, frozen=True):
    """The linking device's first message: whose member key the new device will carry."""

    v: Literal[2]
    member_key: Bytes32
    device: Bytes32
    created: U64


class LinkRequest(Record, frozen=True):
    """The new device's answer: its certificate (for the offer's member key), self-signed."""

    v: Literal[2]
    cert: DeviceCert
    device_sig: Bytes64


class LinkGroup(Record, frozen=True):
    """One group handed over: where it lives, what the member calls it, the keys they hold."""

    group: Bytes32
    server: Annotated[str, Meta(min_length=1, max_length=2048)]
    name: Annotated[str, Meta(min_length=1, max_length=100)]
    keys: Annotated[list[tuple[Seq1, Bytes32]], Meta(max_length=MAX_DEVICES)]


class LinkHandover(Record, frozen=True):
    """What the linking device seals to the new one once the words matched."""

    v: Literal[2]
    member_seed: Bytes32
    member_sig: Bytes64
    """The member key's signature over the new device's certificate (its card)."""
    groups: Annotated[list[LinkGroup], Meta(max_length=1000)]
    created: U64


class KitEscrow(Record, frozen=True):
    """What a recovery kit unlocks: the member key and, per group, the keys held when the
    kit was made (later ones reach the kit's device through lockboxes)."""

    v: Literal[2]
    member_seed: Bytes32
    groups: Annotated[list[LinkGroup], Meta(max_length=1000)]
    created: U64
