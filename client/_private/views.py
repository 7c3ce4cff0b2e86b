"""Plain values the library hands out: items, members, announcements, reports.

Ids are lowercase hex strings everywhere in the public API (group ids and
member ids are 64 characters, entry ids 32), so they print, compare and
serialize as JSON without ceremony.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["member", "leader"]
History = Literal["full", "from-join"]
Notes = Literal["all", "leaders"]
Status = Literal["active", "removed", "left"]


@dataclass(frozen=True)
class OpenedEntry:
    """A verified, opened entry: who wrote it, where it sits in their chain, and its body."""

    id: str
    author: str
    """The author's member id."""
    author_name: str | None
    device: str
    seq: int
    """The author device's sequence number for this entry (from 1)."""
    epoch: int
    log_seq: int
    """The newest group log op the author had verified when writing."""
    cursor: int
    """The server's order of arrival; `Group.entries()` yields items in this order."""
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class EntryRef:
    """Where a stored entry sits, without its body (`Group.entry_index()`)."""

    id: str
    cursor: int
    author: str
    device: str
    seq: int
    epoch: int
    retracted: bool
    readable: bool
    """Not retracted, and this member holds the key of its epoch."""


@dataclass(frozen=True)
class MemberInfo:
    """What the verified log says of one member: what `Member` and the roster share."""

    id: str
    name: str | None
    """The name a leader attested (None if this member cannot read that attestation)."""
    role: Role
    status: Status
    fingerprint: str
    joined_epoch: int
    joined_seq: int


@dataclass(frozen=True)
class Member(MemberInfo):
    """One member of a group's roster, as the verified log says."""

    devices: tuple[str, ...]
    is_me: bool


@dataclass(frozen=True)
class Announcement:
    """A leader action (or a departure) that sync reports in plain words."""

    seq: int
    kind: str
    """The op's tag: add, remove, leave, set-role, policy, rotate, invite, ..."""
    text: str
    actor: str
    """The member id of whoever signed the op."""
    subjects: tuple[str, ...] = ()
    """Member ids the op is about (added, removed, promoted, ...)."""


@dataclass(frozen=True)
class SyncReport:
    """What one sync did."""

    group: str
    new_ops: int = 0
    new_entries: int = 0
    retracted: int = 0
    sent: tuple[str, ...] = ()
    """Ids of queued entries that were sent."""
    queued: int = 0
    """Entries still waiting in the outbox (e.g. the server was unreachable)."""
    announcements: tuple[Announcement, ...] = ()
    status: str = "member"
    """member, joining (waiting for approval), removed or left."""


@dataclass(frozen=True)
class ChainView:
    device: str
    member: str
    seq: int
    link: str


@dataclass(frozen=True)
class VerifyReport:
    """The result of replaying the whole log and every chain held locally."""

    group: str
    ok: bool
    log_ops: int
    log_head: str
    epoch: int
    members: int
    entries: int
    retracted: int
    unreadable: int
    """Entries this member holds but cannot open (sealed before they joined, or damaged)."""
    chains: tuple[ChainView, ...]
    checkpoint_seq: int | None
    meeting_code: str | None
    """Six words from the latest checkpoint; members compare them aloud."""
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupSummary:
    """A group as `Account.groups()` lists it (from the local store only)."""

    id: str
    name: str
    server: str
    status: str
    epoch: int
    log_seq: int
    entries: int
    queued: int
    current: bool


@dataclass(frozen=True)
class JoinRequest:
    """A pending join request, checked against its invite (leaders)."""

    id: str
    """The invite id it answers; `approve` takes it."""
    member: str
    fingerprint: str
    role: Role
    mac_ok: bool | None
    """True when this leader holds the invite secret and the MAC checks; None otherwise."""
    raw: bytes = field(repr=False)
