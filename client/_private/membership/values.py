"""The roster's values: members, roles, join requests, announcements, and what each leader
action returns (docs/membership.md).

Ids are lowercase hex strings everywhere in the public API (group and member ids are 64
characters, entry ids 32), so they print, compare and serialize as JSON without ceremony.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["member", "leader"]


History = Literal["full", "from-join"]


Notes = Literal["all", "leaders"]


Status = Literal["active", "removed", "left"]


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
    """The member's devices in use now (for a departed member, the ones they left with)."""
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
    detail: str = ""
    """Where it sits in the protocol (`log op 4; epoch 3`), for `--verbose` and `verify`;
    `text` says what happened in the members' words."""


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


@dataclass(frozen=True)
class RosterEntry(MemberInfo):
    """One member as `chatham members` shows them."""

    departed_seq: int | None
    verified: bool
    """This device recorded that the member's fingerprint was compared aloud."""
    is_me: bool
    devices: int = 1
    """How many devices the member uses now (0 once they departed)."""


InviteStatus = Literal["waiting", "open", "used", "revoked", "expired"]
"""An invite's or a request's state: `open` (no request yet), `waiting` (a request waits
for approval), `used`, `revoked` (or died with its leader), `expired`."""


@dataclass(frozen=True)
class PendingRequest:
    """A join request waiting for a leader, checked against its invite.

    `status` is `waiting` while the invite is live, and `expired` once it is past its
    expiry unused: such a request can no longer be approved (a new invite is needed), but
    it is listed, so a leader knows someone asked. The invitee's fingerprint is what they
    read aloud; front doors show it only after the leader typed what they heard
    (`Group.approve` compares them), never next to the request.
    """

    id: str
    """The invite id the request answers; `approve` takes it (or a unique prefix)."""
    member: str
    fingerprint: str = field(repr=False)
    role: Role
    name: str | None
    """The name this leader noted when inviting, if any."""
    invited_by: str
    expires: int
    mac_ok: bool | None
    """True when this leader holds the invite's code and the request carries its MAC."""
    request: JoinRequest = field(repr=False)
    status: InviteStatus = "waiting"


@dataclass(frozen=True)
class InviteInfo:
    """An invite as the verified log shows it, with what this leader noted for it."""

    id: str
    role: Role
    name: str | None
    """The name noted when inviting (only on the inviting leader's device)."""
    invited_by: str
    invited_by_name: str | None
    expires: int
    status: InviteStatus
    """open, used, revoked or expired (the log does not know of requests: `requests` does)."""
    member: str | None = None
    """Who joined with it, once used."""


@dataclass(frozen=True)
class Approval:
    member: str
    name: str
    fingerprint: str
    role: Role
    epoch: int
    seq: int


@dataclass(frozen=True)
class Removal:
    member: str
    name: str | None
    fingerprint: str
    epoch: int
    seq: int


@dataclass(frozen=True)
class EpochExposure:
    epoch: int
    via: str
    """`lockbox` (sealed to one of the member's devices) or `back-link` (reached from a
    later key under the `full` history policy)."""
    entries: int
    """Entries held here that were sealed under this epoch and are still there."""
    retracted: int
    """Entries sealed under this epoch that were retracted since (they may have been read)."""


@dataclass(frozen=True)
class Exposure:
    """What a member could read, judged from the verified log and the entries held here."""

    member: str
    name: str | None
    status: Status
    fingerprint: str
    joined_seq: int
    departed_seq: int | None
    epochs: tuple[EpochExposure, ...]
    entries: int
    retracted: int
