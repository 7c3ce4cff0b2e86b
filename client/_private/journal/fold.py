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
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Final, TypeAlias

import msgspec

from ...errors import AmbiguousItem, ContentError, UnknownItem, UnsupportedVersion
from . import ranking
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
from .items import (
    Agenda,
    CommentItem,
    CommitmentItem,
    Event,
    IssueItem,
    Item,
    JournalWarning,
    Kind,
    MeetingItem,
    NoteItem,
    RankedIssue,
    ReviewRound,
    UpdateItem,
    short_id,
)
from .permissions import allowed, permission
from .roles import EntryMetaLike, Role, RoleHistoryView

__all__ = ["JournalView", "SearchHit", "fold_text", "fold_with_map"]


# --- what the client core hands over ----------------------------------------------------------


# --- the permission table ---------------------------------------------------------------------


# --- materialized items -----------------------------------------------------------------------


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
    search: list[tuple[str, list[int], str, Item]] | None = None  # folded, map, raw, item
    roles: dict[tuple[bytes, int], Role | None] = field(default_factory=dict)
    refused: dict[bytes, str] = field(default_factory=dict)  # entry id → first action refused


class JournalView:
    """Current items of one group, from verified entries. See the module docstring."""

    def __init__(self, roles: RoleHistoryView, *, tz: tzinfo = UTC) -> None:
        self._roles = roles
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

    def set_roles(self, roles: RoleHistoryView) -> None:
        """Use a newer role history (after sync verified more log ops)."""
        self._roles = roles
        self._state = None

    @property
    def roles(self) -> RoleHistoryView:
        return self._roles

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
            role=self._roles.role_at(member, log_seq),
            owner=owner,
            notes=self._roles.notes_policy_at(log_seq),
        )

    def refused_action(self, entry_id: bytes) -> str | None:
        """The action of the permission table this entry was refused (and so is ignored
        everywhere), if it was."""
        return self._st().refused.get(entry_id)

    def retraction_entries(self, item: bytes, member: bytes, *, log_seq: int) -> list[bytes]:
        """The entries of `item` whose ciphertext `member` may have deleted when retracting it.

        A leader may delete every entry of the item; anyone else only their own.
        """
        it = self.show(item)
        leader = self._roles.role_at(member, log_seq) == "leader"
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
        role = st.roles[k] if k in st.roles else st.roles.setdefault(k, self._roles.role_at(*k))
        if role is None:
            st.refused.setdefault(r.entry_id, action)
            self._warn(st, r, "not_a_member", f"{what}: the author was not a member then")
            return False
        notes = self._roles.notes_policy_at(r.log_seq) if permission(action).notes_policy else "all"
        if allowed(action, role=role, owner=owner, notes=notes):
            return True
        st.refused.setdefault(r.entry_id, action)
        self._warn(st, r, "unauthorized", f"{what}: not allowed ({action}), ignored")
        return False

    def _create(self, st: _State, r: _Rec, b: Content) -> Item | None:
        cls = _ITEM_CLASSES[type(b)]
        owner = not isinstance(b, Commitment) or b.owner == r.author
        if not self._check(st, r, _CREATE_ACTION[cls], owner=owner, what=f"new {cls.kind}"):
            return None
        if (
            isinstance(b, Commitment)
            and not owner
            and self._roles.role_at(b.owner, r.log_seq) is None
        ):
            # A leader records commitments for members only.
            what = f"new commitment for {short_id(b.owner)}"
            self._warn(st, r, "unauthorized", f"{what}: not a member then, ignored")
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
            if b.status == "closed":
                # What the meeting did not reach goes back to the parking lot, so it is
                # ranked for the next agenda instead of staying scheduled for a past meeting.
                for other in st.items.values():
                    if isinstance(other, IssueItem) and (other.status, other.meeting) == (
                        "scheduled",
                        it.id,
                    ):
                        other.status, other.meeting = "parked", None
                        self._event(other, r, "unscheduled", meeting=it.id)
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
            if it.status == "open":
                # A review makes the outcome final: without a report there is nothing to
                # finalize, and the commitment carries over to the next meeting instead.
                self._invalid(st, r, it, "no report yet, so it cannot be reviewed")
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
        return self._roles.name(member) or member.hex()[:8]

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
        """Items whose text contains every word of `text`, ignoring case and accents
        ("Muller" finds "Müller", "strasse" finds "Straße"); oldest first."""
        return [it for _, _, _, it in self._matches(fold_text(text).split())]

    def search_passages(self, text: str, *, width: int = 60) -> list[SearchHit]:
        """Like `search`, with the passage around the first match of each item, so a member
        sees why it matched (about `width` characters, on one line)."""
        words = fold_text(text).split()
        return [
            SearchHit(it, _passage(raw, where[hay.index(words[0])], width))
            for hay, where, raw, it in self._matches(words)
        ]

    def _matches(self, words: list[str]) -> list[tuple[str, list[int], str, Item]]:
        """(folded text, its map, raw text, item) of each item holding every folded word."""
        if not words:
            return []
        st = self._st()
        if st.search is None:
            st.search = []
            for it in self._ordered(st.items.values()):
                raw = "\n".join(it.texts())
                st.search.append((*fold_with_map(raw), raw, it))
        return [m for m in st.search if all(w in m[0] for w in words)]

    def order_key(self, item_id: bytes) -> tuple[int, int, bytes]:
        """The merge order of an item's creating entry: (log seq, timestamp, entry id)."""
        return self._recs[item_id].key

    def parking_lot(self, today: date) -> list[RankedIssue]:
        """Parked issues, best first (`ranking.parking_lot`)."""
        return ranking.parking_lot(self, today)

    def due(self, meeting: bytes) -> list[CommitmentItem]:
        """Commitments to review at a meeting (`ranking.due`)."""
        return ranking.due(self, meeting)

    def agenda(self, meeting: bytes, today: date) -> Agenda:
        """The published agenda, or a draft (`ranking.agenda`)."""
        return ranking.agenda(self, meeting, today)

    def review(self, meeting: bytes) -> list[ReviewRound]:
        """The accountability round (`ranking.review`)."""
        return ranking.review(self, meeting)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """An item that matched a search, and the passage around the match."""

    item: Item
    passage: str


def fold_text(text: str) -> str:
    """Text as search compares it: without accents, case-folded."""
    return fold_with_map(text)[0]


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """`text` without combining marks and case-folded, with, for each folded character,
    the index of the character of `text` it came from (to cut passages from the original)."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        for part in unicodedata.normalize("NFKD", ch):
            if unicodedata.combining(part):
                continue
            for folded in part.casefold():
                out.append(folded)
                where.append(i)
    return "".join(out), where


def _passage(raw: str, at: int, width: int) -> str:
    """The line of `raw` holding index `at`, cut to about `width` characters around it, with
    … where it was cut."""
    first = raw.rfind("\n", 0, at) + 1
    last = raw.find("\n", at)
    last = len(raw) if last < 0 else last
    start = max(first, at - width // 3)
    end = min(last, start + width)
    start = max(first, end - width)
    piece = " ".join(raw[start:end].split())
    return ("…" if start > first else "") + piece + ("…" if end < last else "")


def _owner_of(it: Item) -> bytes:
    return it.body.owner if isinstance(it, CommitmentItem) else it.author


# --- dates ------------------------------------------------------------------------------------
