"""What the engine hands out: opened entries, where entries sit, and the reports of a sync
and of a full verification.

Ids are lowercase hex strings everywhere in the public API (group and member ids are 64
characters, entry ids 32).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..membership.values import Announcement
from .alarms import Alarm
from .freshness import Freshness


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
    """The newest group log op the author had verified when writing (as the entry claims)."""
    authority_seq: int
    """Where its author's powers are judged: `log_seq`, or a later op that took a power away
    and pinned the author's chain below this entry (protocol §7.4)."""
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
    """Its ciphertext is held (not retracted, not deleted by the server without a valid
    retraction), and this member holds the key of its epoch."""


@dataclass(frozen=True)
class Upload:
    """An attachment the server holds for a group, as a leader lists it (`Group.uploads`)."""

    id: str
    """The attachment id (hex)."""
    uploader: str
    """The uploading member's name (or its id, hex, when the roster does not name them)."""
    chunks: int
    size: int
    """Bytes of sealed chunks: what it takes of the group's space."""
    finished: bool
    """Whether its uploader named the entry that refers to it; an unfinished upload is deleted
    by the server a day after it began."""


@dataclass(frozen=True)
class SyncReport:
    """What one sync did."""

    group: str
    new_ops: int = 0
    new_entries: int = 0
    retracted: int = 0
    sent: tuple[str, ...] = ()
    """Ids of queued entries that were sent."""
    refused: tuple[tuple[str, str], ...] = ()
    """(id, reason) of queued entries this sync found the server refuses for good (their
    author lost the power they need): they left the outbox, so that they cannot stop later
    syncs, and are kept unsent (`Group.unsent()`)."""
    unsent: int = 0
    """Writes kept after the server refused them for good (this sync's and earlier ones'),
    until their author discards them: every report counts them."""
    queued: int = 0
    """Entries still waiting in the outbox (e.g. the server was unreachable)."""
    announcements: tuple[Announcement, ...] = ()
    status: str = "member"
    """member, joining (waiting for approval), removed or left."""
    alarms: tuple[Alarm, ...] = ()
    """Every problem found and not resolved (this sync's and earlier ones'): records that
    failed a check and were set aside, and problems with the group as a whole."""
    freshness: Freshness | None = None
    """How recently this copy of the group is known to have been current (after this sync)."""
    checkpointed: bool = False
    """This leader's client added a checkpoint because the log had been quiet (§9.1)."""

    def raise_for_alarms(self) -> None:
        """Raise the oldest alarm as the `VerificationError` it stands for, if there is one."""
        if self.alarms:
            raise self.alarms[0].error()


@dataclass(frozen=True)
class Unsent:
    """A write the server refused for good, kept so its author can read it back (`Group.unsent`).

    Shown as the item it was: each text field under its label, as plain text (a reader
    never renders it as markup)."""

    id: str
    """The entry id it was queued under (hex); `Group.discard_unsent` takes it or a prefix."""
    kind: str
    """What it was: issue, note, comment, commitment, … (`write` when it does not decode)."""
    fields: tuple[tuple[str, str], ...]
    """(label, text) of each field it holds, in the member's words."""
    reason: str
    """Why the server refused it."""
    written_at: int
    """When it was written (seconds since the epoch)."""
    refused_at: int
    """When the server refused it."""

    @property
    def text(self) -> str:
        """Every field as `label: text`, one after another."""
        return "\n".join(f"{label}: {value}" for label, value in self.fields)


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
    alarms: tuple[Alarm, ...] = ()
    """The alarms kept from syncing (records set aside, problems with the group)."""
