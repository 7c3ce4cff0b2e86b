"""Request and response bodies of the HTTP API (docs/server-api.md).

These hold ids, sequence numbers, epochs, cursors and opaque bytes, never a
name or any plaintext: the type checker shows nothing readable can pass
through the server. `bytes` fields are standard base64 in JSON and `bin` in
msgpack (msgspec does both).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from .errors import ErrorBody

Id16 = Annotated[bytes, Meta(min_length=16, max_length=16)]
Id32 = Annotated[bytes, Meta(min_length=32, max_length=32)]
Sig = Annotated[bytes, Meta(min_length=64, max_length=64)]
Seq = Annotated[int, Meta(ge=0, le=2**62)]
SeqOrNone = Annotated[int, Meta(ge=-1, le=2**62)]
Blob = Annotated[bytes, Meta(max_length=4 << 20)]
LockboxBytes = Annotated[bytes, Meta(min_length=1, max_length=4096)]
EntryBytes = Annotated[bytes, Meta(max_length=(1 << 20) + (1 << 17))]
"""An encoded entry: at most 1 MiB of ciphertext, and room for its header and signature."""


class Struct(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base of every API body: unknown fields are refused, not ignored."""


# --- auth -------------------------------------------------------------------------------------


class Challenge(Struct):
    challenge: bytes
    expires: int
    server_id: bytes
    """This server's identity: a login signs it, and clients pin it per server."""


class TokenRequest(Struct):
    device_key: Id32
    challenge: Annotated[bytes, Meta(max_length=64)]
    signature: Sig


class InviteTokenRequest(Struct):
    group_id: Id32
    invite_id: Id32
    challenge: Annotated[bytes, Meta(max_length=64)]
    signature: Sig


class Token(Struct):
    token: str
    expires: int
    device_id: bytes | None = None


# --- groups and the log -----------------------------------------------------------------------


class Lockbox(Struct):
    """One device's sealed epoch key, uploaded beside the op that commits to it."""

    device: Id32
    lockbox: LockboxBytes


class CreateGroup(Struct):
    ops: Annotated[list[Blob], Meta(min_length=1, max_length=2)]
    lockboxes: Annotated[list[Lockbox], Meta(max_length=10_000)] = []
    registration_token: Annotated[str, Meta(max_length=200)] | None = None


class Head(Struct):
    group_id: bytes
    seq: int
    head: bytes


class GroupInfo(Struct):
    group_id: bytes
    seq: int
    head: bytes
    epoch: int
    pending_rotation: bool
    entry_cursor: int


class AppendOp(Struct):
    expected_seq: Seq
    expected_head: Id32
    op: Blob
    lockboxes: Annotated[list[Lockbox], Meta(max_length=10_000)] = []


class ChainHeadItem(Struct):
    """One device's newest entry on the server: its chain position and link."""

    device: bytes
    seq: int
    link: bytes


class LogPage(Struct):
    """Ops `since < seq <= until`; `seq`/`head` are the newest op the caller may see."""

    group_id: bytes
    ops: list[bytes]
    seq: int
    head: bytes
    more: bool
    entry_cursor: int | None = None
    """The group's newest entry cursor, for an active member's device (clients notice a server
    that is behind the cursor they pinned); omitted for invitees and departed devices."""
    heads: list[ChainHeadItem] | None = None
    """Every device's chain head as the server holds it, on an active member's last page, so
    a client sees a server that lost entries it verified (a restore from an older backup)."""


class DeviceLockbox(Struct):
    epoch: int
    seq: int
    lockbox: bytes


class LockboxPage(Struct):
    lockboxes: list[DeviceLockbox]


# --- entries ----------------------------------------------------------------------------------


class PostEntry(Struct):
    entry: EntryBytes


class EntryPosted(Struct):
    entry_id: bytes
    cursor: int


BULK_ENTRIES = 1000
"""Most entries one bulk post carries (its body cap is `Settings.max_bulk_body`)."""


class PostEntries(Struct):
    """Many entries in one request, each checked and answered as if posted alone, in order."""

    entries: Annotated[
        list[EntryBytes],
        Meta(min_length=1, max_length=BULK_ENTRIES),
    ]


class EntryOutcome(Struct):
    """One entry's answer in a bulk post: its id and cursor, or the error a post alone gets."""

    entry_id: bytes | None = None
    cursor: int | None = None
    error: ErrorBody | None = None


class EntryOutcomes(Struct):
    results: list[EntryOutcome]


class HealLockbox(Struct):
    seq: Seq
    """The op whose rotation committed to it."""
    device: Id32
    lockbox: LockboxBytes


class HealEntry(Struct):
    """An entry as a member holds it: the entry, or the stub of a retracted one and the id of
    the entry that retracted it."""

    entry: EntryBytes | None = None
    stub: Annotated[bytes, Meta(max_length=4096)] | None = None
    retracted_by: Id16 | None = None


class Heal(Struct):
    """What a member's verified copy holds beyond the server's state (docs/protocol.md §14.2)."""

    expected_seq: SeqOrNone
    """The server's head this extends; -1 when the server has no such group."""
    expected_head: bytes
    ops: Annotated[list[Blob], Meta(max_length=100_000)]
    lockboxes: Annotated[list[HealLockbox], Meta(max_length=100_000)]
    entries: Annotated[list[HealEntry], Meta(max_length=BULK_ENTRIES)]
    registration_token: str | None = None


class Healed(Struct):
    seq: int
    head: bytes
    results: list[EntryOutcome]


class EntryItem(Struct):
    """One entry in cursor order: the whole entry, or its stub and the id of the entry that
    retracted it (an entry of the author's or a leader's chain, listing this one)."""

    cursor: int
    entry_id: bytes
    entry: bytes | None = None
    stub: bytes | None = None
    retracted_by: bytes | None = None


class EntryPage(Struct):
    entries: list[EntryItem]
    cursor: int
    more: bool


# --- attachments ------------------------------------------------------------------------------


class ChunkStored(Struct):
    attachment_id: bytes
    index: int
    size: int


class NameEntry(Struct):
    """The entry that refers to an upload: naming it finishes the upload."""

    entry_id: Id16


class AttachmentItem(Struct):
    attachment_id: bytes
    uploader: bytes
    """The device that uploaded it."""
    chunks: int
    size: int
    entry_id: bytes | None = None
    """The entry its uploader named (None: an upload not finished, or made before uploads
    named their entries)."""


class AttachmentList(Struct):
    attachments: list[AttachmentItem]
    more: bool


class AttachmentInfo(Struct):
    attachment_id: bytes
    chunks: int
    size: int


# --- invites and joins ------------------------------------------------------------------------


class PostJoinRequest(Struct):
    request: Annotated[bytes, Meta(max_length=8192)]


class JoinRequestItem(Struct):
    invite_id: bytes
    request: bytes


class JoinRequestPage(Struct):
    requests: list[JoinRequestItem]


class InviteGroups(Struct):
    groups: list[bytes]


class Health(Struct):
    status: str
    database: str


# --- device links -----------------------------------------------------------------------------

LinkSlotBytes = Annotated[bytes, Meta(min_length=40, max_length=4 << 20)]


class OpenLink(Struct):
    """An existing device opens a link mailbox: its id, the access-key verifier, the offer."""

    link_id: Id32
    verifier: Id32
    offer: Annotated[bytes, Meta(min_length=40, max_length=4096)]


class LinkAuth(Struct):
    """The mailbox's access key, derived from the link code (the new device has no login)."""

    auth: Id32


class LinkAnswer(Struct):
    """The new device's request, shown with the access key."""

    auth: Id32
    request: Annotated[bytes, Meta(min_length=40, max_length=4096)]


class LinkHandoverBody(Struct):
    handover: LinkSlotBytes


class LinkInfo(Struct):
    link_id: bytes
    expires: int


class LinkSlot(Struct):
    data: bytes


class Escrow(Struct):
    """A recovery kit's escrow, sealed to the kit's device (docs/protocol.md §5.5)."""

    escrow: LinkSlotBytes


class PutEscrow(Struct):
    """A kit's device stores its escrow; `group` is a group it is an active device of."""

    group: Id32
    escrow: LinkSlotBytes
