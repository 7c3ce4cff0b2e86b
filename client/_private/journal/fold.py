"""The journal view: verified, opened entries folded into the group's current items.

The client core verifies and opens entries, then feeds each one here as
`JournalView.add(meta, body)`. The view is pure (no I/O, no clock: dates and
"now" are parameters) and deterministic: the same set of entries gives the
same items, statuses and warnings on every client, whatever order they
arrived in (docs/journal.md, "Merge rule"):

1. Every entry gets the total order key `(log_seq, ts, entry_id)`: the log
   head its author had seen (signed, in the header), the author's client
   timestamp (signed, in the body), then the random entry id as tie-break.
2. Creating entries make items (an item's id is its creating entry's id).
3. Valid retractions hide items (and everything that refers to them), and
   void the single changes they list.
4. Every other change is applied in key order, each checked against the
   permission table and the item's state machine *at that point*; a later
   valid revision of a field overwrites an earlier one (per-field
   last-writer-wins). A change that is not allowed is skipped and reported in
   `warnings`, never raised.

Permissions come from the single table `PERMISSIONS`, judged with the
author's role at the log head the entry claims (so a later role change does
not rewrite history). docs/journal.md renders the same table.

It raises `UnknownItem`, `AmbiguousItem` and `InvalidDate` from the client's error
tree (`chatham.client.errors`).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, ClassVar, Final, Literal, Protocol, TypeAlias

import msgspec

from ...errors import AmbiguousItem, ContentError, InvalidDate, UnknownItem, UnsupportedVersion
from .content import (
    AgendaPublication,
    Body,
    Comment,
    CommentEdit,
    Commitment,
    CommitmentEdit,
    CommitmentStatus,
    Content,
    Issue,
    IssueEdit,
    IssueStatus,
    Meeting,
    MeetingEdit,
    MeetingStatus,
    Note,
    NoteEdit,
    Retraction,
    Review,
    Revision,
    Update,
    UpdateEdit,
    changed_fields,
    decode_body,
    encode_body,
)

__all__ = [
    "KINDS",
    "PERMISSIONS",
    "Agenda",
    "CommentItem",
    "CommitmentItem",
    "EntryMeta",
    "EntryMetaLike",
    "Event",
    "IssueItem",
    "Item",
    "JournalView",
    "JournalWarning",
    "MeetingItem",
    "NoteItem",
    "Permission",
    "RankedIssue",
    "ReviewRound",
    "RoleHistory",
    "RoleHistoryView",
    "UpdateItem",
    "allowed",
    "parse_date",
    "permission_table",
    "short_id",
    "thread",
]

Role: TypeAlias = Literal["leader", "member"]
NotesPolicy: TypeAlias = Literal["all", "leaders"]
Kind: TypeAlias = Literal["issue", "meeting", "note", "commitment", "comment", "update"]
KINDS: Final[tuple[Kind, ...]] = ("issue", "meeting", "note", "commitment", "comment", "update")


# --- what the client core hands over ----------------------------------------------------------


class EntryMetaLike(Protocol):
    """The verified header facts of an entry (the client core's type can satisfy this)."""

    @property
    def entry_id(self) -> bytes: ...
    @property
    def author(self) -> bytes: ...  # member id
    @property
    def device(self) -> bytes: ...
    @property
    def seq(self) -> int: ...  # author device's chain position
    @property
    def log_seq(self) -> int: ...  # group log head the author had seen
    @property
    def epoch(self) -> int: ...


@dataclass(frozen=True, slots=True)
class EntryMeta:
    entry_id: bytes
    author: bytes
    device: bytes
    seq: int
    log_seq: int
    epoch: int = 0

    @classmethod
    def from_hex(
        cls, entry_id: str, author: str, device: str, seq: int, log_seq: int, epoch: int = 0
    ) -> EntryMeta:
        """From the hex ids the client library hands out."""
        return cls(
            bytes.fromhex(entry_id),
            bytes.fromhex(author),
            bytes.fromhex(device),
            seq,
            log_seq,
            epoch,
        )


class RoleHistoryView(Protocol):
    """What the view needs to know about the roster; judged at an entry's log head."""

    def role_at(self, member: bytes, log_seq: int) -> Role | None:
        """The member's role after log op `log_seq`, or None if not a member then."""
        ...

    def notes_policy_at(self, log_seq: int) -> NotesPolicy: ...

    def name(self, member: bytes) -> str | None:
        """The attested display name, if known."""
        ...

    def members(self) -> list[bytes]:
        """Current members, for the accountability round."""
        ...


class RoleHistory:
    """A `RoleHistoryView` built by replaying the group log (one call per relevant op).

    genesis → `join(founder, role="leader", seq=0)` and `set_notes_policy`;
    add → `join` (role from the invite); remove / leave → `depart`;
    set role → `set_role`; policy → `set_notes_policy`.
    """

    def __init__(self, notes: NotesPolicy = "all") -> None:
        self._roles: dict[bytes, list[tuple[int, Role | None]]] = {}
        self._names: dict[bytes, str] = {}
        self._notes: list[tuple[int, NotesPolicy]] = [(-1, notes)]

    @classmethod
    def of(
        cls,
        leaders: dict[bytes, str],
        members: dict[bytes, str] | None = None,
        *,
        notes: NotesPolicy = "all",
    ) -> RoleHistory:
        """A roster whose roles never changed (tests, single snapshots)."""
        r = cls(notes)
        for m, n in leaders.items():
            r.join(m, name=n, role="leader", seq=0)
        for m, n in (members or {}).items():
            r.join(m, name=n, role="member", seq=0)
        return r

    def _set(self, member: bytes, role: Role | None, seq: int) -> None:
        line = self._roles.setdefault(member, [])
        if line and seq < line[-1][0]:
            raise ValueError("roster changes must be replayed in log order")
        line.append((seq, role))

    def join(
        self, member: bytes, *, name: str | None = None, role: Role = "member", seq: int
    ) -> None:
        self._set(member, role, seq)
        if name is not None:
            self._names[member] = name

    def set_role(self, member: bytes, role: Role, *, seq: int) -> None:
        self._set(member, role, seq)

    def depart(self, member: bytes, *, seq: int) -> None:
        self._set(member, None, seq)

    def rename(self, member: bytes, name: str) -> None:
        self._names[member] = name

    def set_notes_policy(self, notes: NotesPolicy, *, seq: int) -> None:
        if seq < self._notes[-1][0]:
            raise ValueError("roster changes must be replayed in log order")
        self._notes.append((seq, notes))

    def role_at(self, member: bytes, log_seq: int) -> Role | None:
        line = self._roles.get(member)
        if not line:
            return None
        i = bisect.bisect_right(line, log_seq, key=lambda x: x[0])
        return line[i - 1][1] if i else None

    def notes_policy_at(self, log_seq: int) -> NotesPolicy:
        i = bisect.bisect_right(self._notes, log_seq, key=lambda x: x[0])
        return self._notes[max(i, 1) - 1][1]

    def name(self, member: bytes) -> str | None:
        return self._names.get(member)

    def members(self) -> list[bytes]:
        return [m for m, line in self._roles.items() if line[-1][1] is not None]


# --- the permission table ---------------------------------------------------------------------

Capacity: TypeAlias = Literal["member", "owner", "leader"]


@dataclass(frozen=True)
class Permission:
    action: str
    what: str
    who: frozenset[Capacity]
    notes_policy: bool = False  # under notes policy "leaders", the author must also be a leader


def _p(action: str, what: str, *who: Capacity, notes_policy: bool = False) -> Permission:
    return Permission(action, what, frozenset(who), notes_policy)


# The one table. "owner" is the member who created the item (for a commitment,
# its owner, who must be its author; for a single change, its author).
# docs/journal.md renders it via `permission_table()`; a test keeps the two equal.
PERMISSIONS: Final[tuple[Permission, ...]] = (
    _p("issue.create", "post an issue", "member"),
    _p("issue.edit", "edit an issue (a revision)", "owner"),
    _p("issue.schedule", "schedule, reschedule or unschedule an issue", "owner", "leader"),
    _p("issue.present", "mark an issue presented", "owner", "leader"),
    _p("issue.close", "close an issue (resolved or withdrawn), or reopen it", "owner"),
    _p("meeting.create", "plan a meeting", "leader"),
    _p("meeting.edit", "edit a meeting (date, title, time, place, attendance)", "leader"),
    _p("meeting.status", "open or close a meeting", "leader"),
    _p("agenda.publish", "publish a meeting's agenda", "leader"),
    _p("note.create", "write a note", "member", notes_policy=True),
    _p("note.edit", "edit a note", "owner", notes_policy=True),
    _p("commitment.create", "make a commitment", "owner"),
    _p("commitment.edit", "edit a commitment's text or due date", "owner"),
    _p("commitment.complete", "mark a commitment done, partial or dropped", "owner"),
    _p("commitment.review", "mark a commitment reviewed at a meeting", "owner", "leader"),
    _p("comment.create", "comment on any item", "member"),
    _p("comment.edit", "edit a comment", "owner"),
    _p("update.create", "post a monthly update", "member"),
    _p("update.edit", "edit an update", "owner"),
    _p("retract", "retract (withdraw) an item, or a single change", "owner", "leader"),
)
_PERMS: Final[dict[str, Permission]] = {p.action: p for p in PERMISSIONS}


def allowed(action: str, *, role: Role | None, owner: bool, notes: NotesPolicy = "all") -> bool:
    """Whether a member with `role` (None: not a member) may do `action`."""
    p = _PERMS[action]
    if role is None:
        return False
    if p.notes_policy and notes == "leaders" and role != "leader":
        return False
    return (
        "member" in p.who
        or ("owner" in p.who and owner)
        or ("leader" in p.who and role == "leader")
    )


def permission_table() -> str:
    """The permission table as markdown (docs/journal.md embeds exactly this)."""
    words = {"member": "any member", "owner": "owner", "leader": "leader"}
    lines = ["| action | what | who may |", "|---|---|---|"]
    for p in PERMISSIONS:
        who = " or ".join(words[c] for c in ("member", "owner", "leader") if c in p.who)
        if p.notes_policy:
            who += "; leaders only under notes policy `leaders`"
        lines.append(f"| `{p.action}` | {p.what} | {who} |")
    return "\n".join(lines) + "\n"


# --- materialized items -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One applied change in an item's history."""

    entry_id: bytes
    author: bytes
    ts: int
    log_seq: int
    action: str  # created, edited, scheduled, unscheduled, presented, closed, reopened, ...
    fields: dict[str, Any] = field(default_factory=dict)  # values as set ("created": all)


@dataclass(slots=True, kw_only=True, eq=False)
class Item:
    """A current item. Built by the view; treat as read-only."""

    kind: ClassVar[Kind]
    id: bytes
    author: bytes
    created: int
    log_seq: int
    updated: int = 0
    history: list[Event] = field(default_factory=list)
    comments: list[CommentItem] = field(default_factory=list)
    entries: list[bytes] = field(default_factory=list)  # creating entry + changes to it

    @property
    def title(self) -> str:
        raise NotImplementedError

    def texts(self) -> list[str]:
        """Every text field, for search."""
        raise NotImplementedError

    @property
    def short_id(self) -> str:
        return short_id(self.id)


@dataclass(slots=True, kw_only=True, eq=False)
class IssueItem(Item):
    kind: ClassVar[Kind] = "issue"
    body: Issue
    status: Literal["parked", "scheduled", "presented", "closed"] = "parked"
    meeting: bytes | None = None  # scheduled for, or presented at
    outcome: Literal["resolved", "withdrawn"] | None = None
    presented_at: bytes | None = None  # meeting of the latest presentation
    presented_ts: int | None = None

    @property
    def title(self) -> str:
        return self.body.title

    @property
    def owner(self) -> bytes:
        return self.author

    @property
    def priority(self) -> str:
        return self.body.priority

    @property
    def minutes(self) -> int:
        return self.body.minutes

    def texts(self) -> list[str]:
        b = self.body
        return [
            b.title,
            b.what,
            b.why,
            b.tried,
            b.ask,
            b.not_ask,
            b.background,
            b.options,
            b.impact,
        ]


@dataclass(slots=True, kw_only=True, eq=False)
class MeetingItem(Item):
    kind: ClassVar[Kind] = "meeting"
    body: Meeting
    status: Literal["planned", "open", "closed"] = "planned"
    agenda: AgendaPublication | None = None
    agenda_by: bytes | None = None

    @property
    def title(self) -> str:
        return self.body.title

    @property
    def date(self) -> date:
        return self.body.date

    def texts(self) -> list[str]:
        return [self.body.title, self.body.place, self.body.date.isoformat()]


@dataclass(slots=True, kw_only=True, eq=False)
class NoteItem(Item):
    kind: ClassVar[Kind] = "note"
    body: Note

    @property
    def title(self) -> str:
        if self.body.title:
            return self.body.title
        first = self.body.body.strip().split("\n", 1)[0].lstrip("# ").strip()
        return first[:80]

    @property
    def meeting(self) -> bytes | None:
        return self.body.meeting

    def texts(self) -> list[str]:
        return [self.body.title, self.body.body]


@dataclass(slots=True, kw_only=True, eq=False)
class CommitmentItem(Item):
    kind: ClassVar[Kind] = "commitment"
    body: Commitment
    status: Literal["open", "done", "partial", "dropped"] = "open"
    report: str = ""
    reviewed_at: bytes | None = None
    due_date: date | None = None  # `body.due`, or the date of the next meeting

    @property
    def title(self) -> str:
        return self.body.text.split("\n", 1)[0][:80]

    @property
    def owner(self) -> bytes:
        return self.body.owner

    @property
    def text(self) -> str:
        return self.body.text

    def texts(self) -> list[str]:
        return [self.body.text, self.report]


@dataclass(slots=True, kw_only=True, eq=False)
class CommentItem(Item):
    kind: ClassVar[Kind] = "comment"
    body: Comment

    @property
    def title(self) -> str:
        return self.body.text.split("\n", 1)[0][:80]

    @property
    def parent(self) -> bytes:
        return self.body.item

    def texts(self) -> list[str]:
        return [self.body.text] + ([self.body.file.name] if self.body.file else [])


@dataclass(slots=True, kw_only=True, eq=False)
class UpdateItem(Item):
    kind: ClassVar[Kind] = "update"
    body: Update

    @property
    def title(self) -> str:
        first = (self.body.highs or self.body.lows).split("\n", 1)[0]
        return first[:80]

    def texts(self) -> list[str]:
        return [self.body.highs, self.body.lows, *self.body.scores]


@dataclass(frozen=True, slots=True)
class JournalWarning:
    """An entry the view skipped. `message` never contains plaintext content."""

    entry_id: bytes
    author: bytes
    code: str  # undecodable, unsupported_version, duplicate_entry, not_a_member,
    #            unauthorized, invalid_transition, unknown_item, wrong_kind
    message: str


@dataclass(frozen=True, slots=True)
class RankedIssue:
    """A parking-lot issue with its score: priority + waiting + turn points."""

    issue: IssueItem
    score: int
    priority_points: int
    waiting_points: int
    turn_points: int
    meetings_since_presented: int | None  # None: the owner has never presented


@dataclass(frozen=True, slots=True)
class Agenda:
    meeting: MeetingItem
    issues: list[IssueItem]
    commitments: list[CommitmentItem]
    published: bool
    published_by: bytes | None

    @property
    def minutes(self) -> int:
        return sum(i.minutes for i in self.issues)


@dataclass(frozen=True, slots=True)
class ReviewRound:
    """One member's turn in a meeting's accountability round."""

    member: bytes
    commitments: list[CommitmentItem]


def short_id(item_id: bytes) -> str:
    return item_id.hex()[:8]


def thread(item: Item) -> list[tuple[int, CommentItem]]:
    """Every reply under an item, depth first, with its depth (1 = a direct reply)."""
    out: list[tuple[int, CommentItem]] = []
    stack = [(1, c) for c in reversed(item.comments)]
    while stack:
        depth, c = stack.pop()
        out.append((depth, c))
        stack.extend((depth + 1, r) for r in reversed(c.comments))
    return out


# --- the view ---------------------------------------------------------------------------------

_Key: TypeAlias = tuple[int, int, bytes]
_ITEM_CLASSES: Final[dict[type[Content], type[Item]]] = {
    Issue: IssueItem,
    Meeting: MeetingItem,
    Note: NoteItem,
    Commitment: CommitmentItem,
    Comment: CommentItem,
    Update: UpdateItem,
}
_EDITS: Final[dict[type[Any], type[Item]]] = {
    IssueEdit: IssueItem,
    MeetingEdit: MeetingItem,
    NoteEdit: NoteItem,
    CommitmentEdit: CommitmentItem,
    CommentEdit: CommentItem,
    UpdateEdit: UpdateItem,
}
_CREATE_ACTION: Final[dict[type[Item], str]] = {
    IssueItem: "issue.create",
    MeetingItem: "meeting.create",
    NoteItem: "note.create",
    CommitmentItem: "commitment.create",
    CommentItem: "comment.create",
    UpdateItem: "update.create",
}
_CONTENT: Final = (Issue, Meeting, Note, Commitment, Comment, Update)
_ITEM_CHANGES: Final = (Revision, IssueStatus, MeetingStatus, CommitmentStatus, Review)
PRIORITY_POINTS: Final = {"A": 60, "B": 30, "C": 0}
MAX_WAITING_POINTS: Final = 26  # one point per full week parked
TURN_POINTS: Final = 10  # per meeting held since the owner last presented
MAX_TURNS: Final = 3  # "never presented" counts as this many
CLOCK_SKEW: Final = 3600


@dataclass(frozen=True, slots=True)
class _Rec:
    key: _Key
    entry_id: bytes
    author: bytes
    log_seq: int
    ts: int
    body: Body
    raw: bytes


@dataclass(slots=True)
class _State:
    items: dict[bytes, Item] = field(default_factory=dict)  # visible only
    hidden: set[bytes] = field(default_factory=set)  # retracted items
    voided: set[bytes] = field(default_factory=set)  # retracted single changes
    warnings: list[JournalWarning] = field(default_factory=list)
    search: list[tuple[str, Item]] | None = None
    roles: dict[tuple[bytes, int], Role | None] = field(default_factory=dict)


class JournalView:
    """Current items of one group, from verified entries. See the module docstring."""

    def __init__(self, roster: RoleHistoryView, *, tz: tzinfo = UTC) -> None:
        self._roster = roster
        self._tz = tz
        self._recs: dict[bytes, _Rec] = {}
        self._rejected: dict[bytes, JournalWarning] = {}
        self._state: _State | None = None

    # -- feeding ---------------------------------------------------------------------------

    def add(self, meta: EntryMetaLike, body: bytes | Body) -> None:
        """Add one verified entry. Undecodable bodies become warnings, never exceptions."""
        eid = bytes(meta.entry_id)
        if isinstance(body, bytes | bytearray | memoryview):
            raw = bytes(body)
            try:
                decoded = decode_body(raw)
            except UnsupportedVersion as e:
                self._reject(eid, meta.author, "unsupported_version", str(e))
                return
            except ContentError as e:
                self._reject(eid, meta.author, "undecodable", str(e))
                return
        else:
            decoded, raw = body, encode_body(body)
        old = self._recs.get(eid)
        if old is not None:
            if old.raw == raw:
                return
            # Cannot happen past the crypto layer (ids are signed); stay deterministic anyway.
            self._reject(eid, meta.author, "duplicate_entry", "two different bodies for one entry")
            if old.raw <= raw:
                return
        key = (meta.log_seq, decoded.ts, eid)
        self._recs[eid] = _Rec(key, eid, bytes(meta.author), meta.log_seq, decoded.ts, decoded, raw)
        self._state = None

    def extend(self, entries: Iterable[tuple[EntryMetaLike, bytes | Body]]) -> None:
        for meta, body in entries:
            self.add(meta, body)

    def set_roster(self, roster: RoleHistoryView) -> None:
        """Use a newer roster (after sync verified more log ops)."""
        self._roster = roster
        self._state = None

    @property
    def roster(self) -> RoleHistoryView:
        return self._roster

    def _reject(self, eid: bytes, author: bytes, code: str, message: str) -> None:
        self._rejected.setdefault(eid, JournalWarning(eid, bytes(author), code, message))
        self._state = None

    def __len__(self) -> int:
        return len(self._recs)

    # -- writing helpers -------------------------------------------------------------------

    def stamp(self, now: int) -> int:
        """The `ts` for a new body: after every entry seen, so a later edit wins at equal log head.

        Timestamps more than an hour ahead of `now` are not followed, so one bad clock
        cannot drag everyone's into the future.
        """
        seen = [r.ts for r in self._recs.values() if r.ts <= now + CLOCK_SKEW]
        return max(now, max(seen) + 1) if seen else now

    def may(self, member: bytes, action: str, *, item: bytes | None = None, log_seq: int) -> bool:
        """Would `member` be allowed `action` (on `item`) at log head `log_seq`? For the CLI."""
        owner = False
        if item is not None:
            it = self._st().items.get(item)
            owner = it is not None and _owner_of(it) == member
        return allowed(
            action,
            role=self._roster.role_at(member, log_seq),
            owner=owner,
            notes=self._roster.notes_policy_at(log_seq),
        )

    def retraction_entries(self, item: bytes, member: bytes, *, log_seq: int) -> list[bytes]:
        """The entries of `item` whose ciphertext `member` may have deleted when retracting it.

        A leader may delete every entry of the item; anyone else only their own.
        """
        it = self.show(item)
        leader = self._roster.role_at(member, log_seq) == "leader"
        return [e for e in it.entries if leader or self._recs[e].author == member]

    # -- folding ---------------------------------------------------------------------------

    def _st(self) -> _State:
        if self._state is None:
            self._state = self._fold()
        return self._state

    def _fold(self) -> _State:
        st = _State()
        st.warnings.extend(self._rejected.values())
        recs = sorted(self._recs.values(), key=lambda r: r.key)
        made: dict[bytes, Item] = {}
        for r in recs:
            if isinstance(r.body, _CONTENT):
                it = self._create(st, r, r.body)
                if it is not None:
                    made[r.entry_id] = it
        for r in recs:
            if isinstance(r.body, Retraction):
                self._retract(st, made, r, r.body)
        # Comments are visible only while the item they reply to is.
        visible = self._visible(made, st.hidden)
        for iid, it in made.items():
            if iid in visible:
                st.items[iid] = it
        st.hidden.update(made.keys() - st.items.keys())
        for r in recs:
            b = r.body
            if r.entry_id in st.voided:
                continue
            if isinstance(b, _ITEM_CHANGES):
                target = self._target(st, r, b.item)
                if target is not None:
                    self._change(st, r, b, target)
            elif isinstance(b, AgendaPublication):
                self._publish(st, r, b)
        self._finish(st)
        st.warnings.sort(key=self._warning_key)
        return st

    def _warning_key(self, w: JournalWarning) -> tuple[_Key, str]:
        r = self._recs.get(w.entry_id)
        return (r.key if r is not None else (-1, -1, w.entry_id), w.code)

    @staticmethod
    def _visible(made: dict[bytes, Item], hidden: set[bytes]) -> set[bytes]:
        """Items not hidden, and comments whose whole reply chain leads to one."""
        known: dict[bytes, bool] = {}
        for start in made:
            path: list[bytes] = []
            on_path: set[bytes] = set()
            iid, ok = start, False
            while True:  # iterative: a reply chain can be as long as a member likes
                if iid in known:
                    ok = known[iid]
                    break
                it = made.get(iid)
                if it is None or iid in hidden or iid in on_path:
                    break
                path.append(iid)
                on_path.add(iid)
                if not isinstance(it, CommentItem):
                    ok = True
                    break
                iid = it.parent
            for p in path:
                known[p] = ok
        return {i for i, ok in known.items() if ok}

    def _warn(self, st: _State, r: _Rec, code: str, message: str) -> None:
        st.warnings.append(JournalWarning(r.entry_id, r.author, code, message))

    def _check(self, st: _State, r: _Rec, action: str, *, owner: bool, what: str) -> bool:
        k = (r.author, r.log_seq)
        role = st.roles[k] if k in st.roles else st.roles.setdefault(k, self._roster.role_at(*k))
        if role is None:
            self._warn(st, r, "not_a_member", f"{what}: the author was not a member then")
            return False
        notes = self._roster.notes_policy_at(r.log_seq) if _PERMS[action].notes_policy else "all"
        if allowed(action, role=role, owner=owner, notes=notes):
            return True
        self._warn(st, r, "unauthorized", f"{what}: not allowed ({action}), ignored")
        return False

    def _create(self, st: _State, r: _Rec, b: Content) -> Item | None:
        cls = _ITEM_CLASSES[type(b)]
        owner = not isinstance(b, Commitment) or b.owner == r.author
        if not self._check(st, r, _CREATE_ACTION[cls], owner=owner, what=f"new {cls.kind}"):
            return None
        it = cls(id=r.entry_id, author=r.author, created=b.ts, log_seq=r.log_seq, body=b)  # type: ignore[call-arg]
        it.updated = b.ts
        it.entries.append(r.entry_id)
        initial = msgspec.structs.asdict(b)
        del initial["v"], initial["ts"]
        if isinstance(b, Comment) and b.file is not None:
            # History is shown and exported: the file's name and size, never its key.
            initial["file"] = {"name": b.file.name, "size": b.file.size}
        it.history.append(Event(r.entry_id, r.author, b.ts, r.log_seq, "created", initial))
        return it

    def _retract(self, st: _State, made: dict[bytes, Item], r: _Rec, b: Retraction) -> None:
        # The item, and every entry the retraction asks the server to delete: the server
        # will delete them, so every client ignores them whether it saw them or not.
        for eid in dict.fromkeys([b.item, *b.entries]):
            it = made.get(eid)
            if it is not None:
                what = f"retraction of {it.kind} {short_id(it.id)}"
                if self._check(st, r, "retract", owner=_owner_of(it) == r.author, what=what):
                    st.hidden.add(eid)
                continue
            target = self._recs.get(eid)
            if target is None:
                # Gone already (its ciphertext was deleted) or not arrived yet: an item
                # that is not here is not shown either way.
                if eid == b.item:
                    st.hidden.add(eid)
                continue
            if isinstance(target.body, (Retraction, *_CONTENT)):
                continue  # a retraction cannot be withdrawn; a refused create shows nothing
            what = f"retraction of entry {short_id(eid)}"
            if self._check(st, r, "retract", owner=target.author == r.author, what=what):
                st.voided.add(eid)

    def _target(self, st: _State, r: _Rec, iid: bytes) -> Item | None:
        it = st.items.get(iid)
        if it is None and iid not in st.hidden:
            self._warn(st, r, "unknown_item", f"change to unknown item {short_id(iid)}, ignored")
        if it is not None:
            it.entries.append(r.entry_id)
        return it

    def _meeting(self, st: _State, r: _Rec, mid: bytes) -> MeetingItem | None:
        m = st.items.get(mid)
        if isinstance(m, MeetingItem):
            return m
        if mid not in st.hidden:
            self._warn(st, r, "unknown_item", f"refers to unknown meeting {short_id(mid)}, ignored")
        return None

    def _event(self, it: Item, r: _Rec, action: str, **fields: Any) -> None:
        it.history.append(Event(r.entry_id, r.author, r.ts, r.log_seq, action, fields))
        it.updated = max(it.updated, r.ts)

    def _invalid(self, st: _State, r: _Rec, it: Item, message: str) -> None:
        self._warn(st, r, "invalid_transition", f"{it.kind} {short_id(it.id)}: {message}, ignored")

    def _change(self, st: _State, r: _Rec, b: Body, it: Item) -> None:
        what = f"{type(b).__name__} of {it.kind} {short_id(it.id)}"
        mine = _owner_of(it) == r.author
        if isinstance(b, Revision):
            if _EDITS[type(b.changes)] is not type(it):
                self._warn(st, r, "wrong_kind", f"{what}: edit is for another kind of item")
                return
            if self._check(st, r, f"{it.kind}.edit", owner=mine, what=what):
                changes = changed_fields(b.changes)
                it.body = msgspec.structs.replace(it.body, **changes)  # type: ignore[attr-defined]
                self._event(it, r, "edited", **changes)
        elif isinstance(b, IssueStatus):
            if not isinstance(it, IssueItem):
                self._warn(st, r, "wrong_kind", f"{what}: not an issue")
                return
            self._issue_status(st, r, b, it, mine)
        elif isinstance(b, MeetingStatus):
            if not isinstance(it, MeetingItem):
                self._warn(st, r, "wrong_kind", f"{what}: not a meeting")
                return
            if not self._check(st, r, "meeting.status", owner=mine, what=what):
                return
            ok = (it.status, b.status) in (("planned", "open"), ("open", "closed"))
            if not ok:
                self._invalid(st, r, it, f"cannot go from {it.status} to {b.status}")
                return
            it.status = b.status
            self._event(it, r, "opened" if b.status == "open" else "closed")
        elif isinstance(b, CommitmentStatus):
            if not isinstance(it, CommitmentItem):
                self._warn(st, r, "wrong_kind", f"{what}: not a commitment")
                return
            if not self._check(st, r, "commitment.complete", owner=mine, what=what):
                return
            if it.reviewed_at is not None:
                self._invalid(st, r, it, "already reviewed")
                return
            if it.status == b.status:
                self._invalid(st, r, it, f"already {b.status}")
                return
            it.status, it.report = b.status, b.report
            self._event(it, r, b.status, report=b.report)
        elif isinstance(b, Review):
            if not isinstance(it, CommitmentItem):
                self._warn(st, r, "wrong_kind", f"{what}: not a commitment")
                return
            m = self._meeting(st, r, b.meeting)
            if m is None or not self._check(st, r, "commitment.review", owner=mine, what=what):
                return
            if it.reviewed_at is not None:
                self._invalid(st, r, it, "already reviewed")
                return
            it.reviewed_at = m.id
            self._event(it, r, "reviewed", meeting=m.id)

    def _issue_status(self, st: _State, r: _Rec, b: IssueStatus, it: IssueItem, mine: bool) -> None:
        what = f"status of issue {short_id(it.id)}"
        src, dst = it.status, b.status
        if dst == "scheduled":
            action, ok = "issue.schedule", src in ("parked", "scheduled")
        elif dst == "presented":
            action, ok = "issue.present", src in ("parked", "scheduled")
        elif dst == "closed":
            action, ok = "issue.close", src != "closed"
        elif src == "scheduled":  # → parked
            action, ok = "issue.schedule", True
        else:
            action, ok = "issue.close", src in ("presented", "closed")  # reopen: owner only
        if not self._check(st, r, action, owner=mine, what=what):
            return
        if not ok:
            self._invalid(st, r, it, f"cannot go from {src} to {dst}")
            return
        meeting: MeetingItem | None = None
        mid = b.meeting if b.meeting is not None else (it.meeting if dst == "presented" else None)
        if mid is not None:
            meeting = self._meeting(st, r, mid)
            if meeting is None:
                return
        if dst == "scheduled":
            assert meeting is not None
            if meeting.status == "closed":
                self._invalid(st, r, it, "cannot schedule for a closed meeting")
                return
            it.status, it.meeting = "scheduled", meeting.id
            self._event(it, r, "scheduled", meeting=meeting.id)
        elif dst == "presented":
            it.status, it.meeting = "presented", None if meeting is None else meeting.id
            it.presented_at, it.presented_ts = it.meeting, r.ts
            self._event(it, r, "presented", meeting=it.meeting)
        elif dst == "closed":
            it.status, it.meeting, it.outcome = "closed", None, b.outcome
            self._event(it, r, "closed", outcome=b.outcome)
        else:
            it.status, it.meeting, it.outcome = "parked", None, None
            self._event(it, r, "unscheduled" if src == "scheduled" else "reopened")

    def _publish(self, st: _State, r: _Rec, b: AgendaPublication) -> None:
        m = self._meeting(st, r, b.meeting)
        if m is None:
            return
        m.entries.append(r.entry_id)
        what = f"agenda of meeting {short_id(m.id)}"
        if not self._check(st, r, "agenda.publish", owner=False, what=what):
            return
        if m.status == "closed":
            self._invalid(st, r, m, "agenda published after the meeting closed")
            return
        # The published agenda is what is scheduled for the meeting: issues dropped
        # from it go back to the parking lot, issues on it are scheduled for it.
        new = set(b.issues)
        for iid in m.agenda.issues if m.agenda is not None else []:
            old = st.items.get(iid)
            if isinstance(old, IssueItem) and iid not in new and old.meeting == m.id:
                old.status, old.meeting = "parked", None
                self._event(old, r, "unscheduled", meeting=m.id)
        for iid in b.issues:
            it = st.items.get(iid)
            if isinstance(it, IssueItem) and (
                it.status == "parked" or (it.status == "scheduled" and it.meeting != m.id)
            ):
                it.status, it.meeting = "scheduled", m.id
                self._event(it, r, "scheduled", meeting=m.id)
        m.agenda, m.agenda_by = b, r.author
        self._event(m, r, "agenda", issues=list(b.issues), commitments=list(b.commitments))

    def _finish(self, st: _State) -> None:
        items = st.items
        for it in items.values():
            if isinstance(it, CommentItem):
                items[it.parent].comments.append(it)
        for it in items.values():
            it.comments.sort(key=lambda c: self._recs[c.id].key)
        # Floating due dates: the first meeting dated after the one the commitment was
        # made at, or after the day it was made (in the viewer's zone).
        dates = sorted({m.date for m in items.values() if isinstance(m, MeetingItem)})
        for it in items.values():
            if isinstance(it, CommitmentItem):
                if it.body.due is not None:
                    it.due_date = it.body.due
                    continue
                made = items.get(it.body.meeting) if it.body.meeting is not None else None
                anchor = made.date if isinstance(made, MeetingItem) else self.day(it.created)
                i = bisect.bisect_right(dates, anchor)
                it.due_date = dates[i] if i < len(dates) else None

    # -- queries ---------------------------------------------------------------------------

    @property
    def warnings(self) -> list[JournalWarning]:
        """Skipped entries, in merge order."""
        return list(self._st().warnings)

    def day(self, ts: int) -> date:
        """The viewer's calendar date of a timestamp."""
        return datetime.fromtimestamp(ts, self._tz).date()

    def name(self, member: bytes) -> str:
        """Display name, or the member id's first 8 hex digits."""
        return self._roster.name(member) or member.hex()[:8]

    def get(self, item_id: bytes) -> Item | None:
        return self._st().items.get(item_id)

    def show(self, item_id: bytes) -> Item:
        it = self.get(item_id)
        if it is None:
            raise UnknownItem
        return it

    def resolve(self, ref: str) -> bytes:
        """An item id from its hex form or a prefix of at least 4 hex digits."""
        ref = ref.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{4,32}", ref):
            raise UnknownItem
        hits = [i for i in self._st().items if i.hex().startswith(ref)]
        if not hits:
            raise UnknownItem
        if len(hits) > 1:
            raise AmbiguousItem
        return hits[0]

    def _ordered(self, items: Iterable[Item]) -> list[Any]:
        return sorted(items, key=lambda i: self._recs[i.id].key)

    def list_items(self, kind: Kind | None = None, since: date | None = None) -> list[Item]:
        """Items of one kind (or all), changed on or after `since`, oldest first."""
        out = [
            it
            for it in self._st().items.values()
            if (kind is None or it.kind == kind)
            and (since is None or self.day(it.updated) >= since)
        ]
        return self._ordered(out)

    def issues(
        self, status: str | Iterable[str] | None = None, *, owner: bytes | None = None
    ) -> list[IssueItem]:
        wanted = {status} if isinstance(status, str) else None if status is None else set(status)
        return self._ordered(
            it
            for it in self._st().items.values()
            if isinstance(it, IssueItem)
            and (wanted is None or it.status in wanted)
            and (owner is None or it.author == owner)
        )

    def meetings(self, status: str | None = None) -> list[MeetingItem]:
        """Meetings by date (then time, then creation)."""
        ms = [
            m
            for m in self._st().items.values()
            if isinstance(m, MeetingItem) and (status is None or m.status == status)
        ]
        midnight = datetime.min.time()
        return sorted(ms, key=lambda m: (m.date, m.body.start or midnight, self._recs[m.id].key))

    def next_meeting(self, today: date) -> MeetingItem | None:
        """The first planned meeting dated today or later."""
        return next((m for m in self.meetings("planned") if m.date >= today), None)

    def open_meeting(self) -> MeetingItem | None:
        """The meeting in progress (the latest, if several are open)."""
        ms = self.meetings("open")
        return ms[-1] if ms else None

    def notes(self, meeting: bytes | None = None) -> list[NoteItem]:
        return self._ordered(
            n
            for n in self._st().items.values()
            if isinstance(n, NoteItem) and (meeting is None or n.meeting == meeting)
        )

    def commitments(
        self,
        owner: bytes | None = None,
        status: str | Iterable[str] | None = None,
        *,
        meeting: bytes | None = None,
    ) -> list[CommitmentItem]:
        """Commitments, filtered by owner, status, or the meeting they were made at."""
        wanted = {status} if isinstance(status, str) else None if status is None else set(status)
        return self._ordered(
            c
            for c in self._st().items.values()
            if isinstance(c, CommitmentItem)
            and (owner is None or c.owner == owner)
            and (wanted is None or c.status in wanted)
            and (meeting is None or c.body.meeting == meeting)
        )

    def updates(
        self, author: bytes | None = None, *, meeting: bytes | None = None
    ) -> list[UpdateItem]:
        return self._ordered(
            u
            for u in self._st().items.values()
            if isinstance(u, UpdateItem)
            and (author is None or u.author == author)
            and (meeting is None or u.body.meeting == meeting)
        )

    def search(self, text: str) -> list[Item]:
        """Items whose text contains every word of `text`, ignoring case; oldest first."""
        words = text.casefold().split()
        if not words:
            return []
        st = self._st()
        if st.search is None:
            st.search = [
                ("\n".join(it.texts()).casefold(), it) for it in self._ordered(st.items.values())
            ]
        return [it for hay, it in st.search if all(w in hay for w in words)]

    def _last_presented(self) -> dict[bytes, date]:
        last: dict[bytes, date] = {}
        items = self._st().items
        for it in items.values():
            if isinstance(it, IssueItem) and it.presented_ts is not None:
                m = items.get(it.presented_at) if it.presented_at is not None else None
                d = m.date if isinstance(m, MeetingItem) else self.day(it.presented_ts)
                if it.author not in last or d > last[it.author]:
                    last[it.author] = d
        return last

    def parking_lot(self, today: date) -> list[RankedIssue]:
        """Parked issues, best first. score = priority + waiting + turn points (docs/journal.md)."""
        held = sorted(m.date for m in self.meetings("closed") if m.date <= today)
        last = self._last_presented()
        ranked: list[tuple[tuple[int, _Key], RankedIssue]] = []
        for it in self.issues("parked"):
            p = PRIORITY_POINTS[it.priority]
            w = min(max((today - self.day(it.created)).days, 0) // 7, MAX_WAITING_POINTS)
            seen = last.get(it.author)
            since = None if seen is None else len(held) - bisect.bisect_right(held, seen)
            t = TURN_POINTS * (MAX_TURNS if since is None else min(since, MAX_TURNS))
            ri = RankedIssue(it, p + w + t, p, w, t, since)
            ranked.append(((-ri.score, self._recs[it.id].key), ri))
        ranked.sort(key=lambda x: x[0])
        return [ri for _, ri in ranked]

    def due(self, meeting: bytes) -> list[CommitmentItem]:
        """Commitments to review at a meeting: due by its date, made before it, not reviewed
        elsewhere (overdue ones carry over until a meeting reviews them)."""
        m = self.show(meeting)
        if not isinstance(m, MeetingItem):
            raise UnknownItem
        items = self._st().items
        out = []
        for c in self.commitments():
            if c.due_date is None or c.due_date > m.date:
                continue
            if c.reviewed_at is not None and c.reviewed_at != m.id:
                continue
            made = items.get(c.body.meeting) if c.body.meeting is not None else None
            if isinstance(made, MeetingItem) and (made.id == m.id or made.date > m.date):
                continue
            out.append(c)
        return out

    def agenda(self, meeting: bytes, today: date) -> Agenda:
        """The published agenda, or a draft: issues scheduled for the meeting, then the
        parking lot in rank order (while it fits the meeting's minutes, if set), and
        the commitments due."""
        m = self.show(meeting)
        if not isinstance(m, MeetingItem):
            raise UnknownItem
        items = self._st().items
        scheduled = [
            ri.issue for ri in self._rank(self.issues("scheduled")) if ri.issue.meeting == m.id
        ]
        if m.agenda is not None:
            issues = [
                i for i in (items.get(x) for x in m.agenda.issues) if isinstance(i, IssueItem)
            ]
            issues += [i for i in scheduled if i not in issues]
            owed = (items.get(x) for x in m.agenda.commitments)
            commitments = [c for c in owed if isinstance(c, CommitmentItem)]
            return Agenda(m, issues, commitments, True, m.agenda_by)
        issues = list(scheduled)
        budget = m.body.minutes
        used = sum(i.minutes for i in issues)
        for ri in self.parking_lot(today):
            if budget is not None and used + ri.issue.minutes > budget:
                continue
            issues.append(ri.issue)
            used += ri.issue.minutes
        return Agenda(m, issues, self.due(m.id), False, None)

    def _rank(self, issues: list[IssueItem]) -> list[RankedIssue]:
        # Scheduled issues keep the parking lot's order among themselves.
        order = {i.id: n for n, i in enumerate(issues)}
        pri = {"A": 0, "B": 1, "C": 2}
        return [
            RankedIssue(i, 0, 0, 0, 0, None)
            for i in sorted(issues, key=lambda i: (pri[i.priority], order[i.id]))
        ]

    def review(self, meeting: bytes) -> list[ReviewRound]:
        """The accountability round: every current member (and any other owner with
        something due), by name, with the commitments due at the meeting."""
        due = self.due(meeting)
        by: dict[bytes, list[CommitmentItem]] = {m: [] for m in self._roster.members()}
        for c in due:
            by.setdefault(c.owner, []).append(c)
        order = sorted(by, key=lambda m: (self.name(m).casefold(), m))
        return [ReviewRound(m, by[m]) for m in order]


def _owner_of(it: Item) -> bytes:
    return it.body.owner if isinstance(it, CommitmentItem) else it.author


# --- dates ------------------------------------------------------------------------------------


def parse_date(text: str, *, today: date, view: JournalView | None = None) -> date:
    """`YYYY-MM-DD`, `today`, `tomorrow` or `next-meeting` (needs `view`)."""
    t = text.strip().lower()
    if t == "today":
        return today
    if t == "tomorrow":
        return today + timedelta(days=1)
    if t == "next-meeting":
        m = view.next_meeting(today) if view is not None else None
        if m is None:
            raise InvalidDate(
                "no meeting is planned",
                hint="plan one with `chatham meeting new`, or give a date as YYYY-MM-DD",
            )
        return m.date
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
        try:
            return date.fromisoformat(t)
        except ValueError:
            pass
    raise InvalidDate("not a date")
