"""`Journal`: one group's journal as this member sees it, read offline and written through `Group`.

Reading is offline: the view is built from the entries in the local store and
the roster the verified log implies, judged by the rules in docs/journal.md.
Writing checks the one permission table *before* anything is posted, with the
member's role at the log head the entry will claim, so a refusal is a clear
error that changes nothing (instead of an entry every client would ignore).

Leader actions that the group relies on at the table — publishing an agenda,
opening and closing a meeting — also sign a checkpoint of every author chain,
so a server that withholds an entry before a meeting shows up in everyone's
meeting code.

Attachments live in `files.py`, the opened-entries cache in `cache.py`.

Errors are `chatham.client.errors` exceptions whose messages never quote
member-written text.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, Final, Literal, TypeVar, overload

from chatham import crypto

from ... import errors as E
from ..engine.group import Group
from ..engine.heal import HealReport
from ..engine.results import SyncReport
from . import files
from .activity import Activity, describe
from .cache import opened_rows, stored_tag
from .content import (
    AgendaPublication,
    Body,
    Comment,
    Commitment,
    CommitmentEdit,
    CommitmentStatus,
    FileRef,
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
    encode_body,
)
from .dates import local_zone, parse_date
from .files import FileCopies, MissingFile, Progress, SavedFile
from .fold import JournalView
from .items import CommitmentItem, IssueItem, Item, MeetingItem, NoteItem
from .permissions import KIND_LIST, REFUSALS, allowed
from .roles import EntryMeta, role_history

T = TypeVar("T", bound=Item)

AGENDA_ISSUES: Final = 100
"""An agenda publication lists at most this many issues (domain.AgendaPublication)."""


@dataclass(frozen=True)
class Posted:
    """What a write did: the new entry's id, whether it still waits in the outbox, and how
    many writes the server refused for good are kept unsent (`Group.unsent`): sending this
    one sends those waiting before it, and the server may refuse one of them."""

    id: str
    queued: bool
    unsent: int = 0

    @property
    def short(self) -> str:
        return self.id[:8]


@dataclass(frozen=True)
class MeetingChange:
    """A meeting opened or closed: the status entry and the checkpoint signed after it.

    Closing says what happened to each issue that was on the meeting's agenda: `presented`
    ones were presented at it; `returned` ones were not reached and are back in the
    parking lot, ranked for the next agenda (docs/journal.md §3).
    """

    posted: Posted
    checkpoint_seq: int
    meeting_code: str | None
    rotated: bool = False
    presented: tuple[IssueItem, ...] = ()
    returned: tuple[IssueItem, ...] = ()


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


class Journal:
    """The journal of one group as this member sees it; reads offline, writes through `Group`."""

    def __init__(
        self,
        group: Group,
        member_id: str,
        *,
        tz: tzinfo | None = None,
        clock: Callable[[], float] = time.time,
        insist: bool = False,
    ) -> None:
        self.group = group
        self.insist = insist
        """Write even when this copy of the group is too old to write safely (`Group.post`)."""
        self.me = bytes.fromhex(member_id)
        self.tz = tz if tz is not None else local_zone()
        self._clock = clock
        self._view: JournalView | None = None
        self._tag: bytes | None = None
        self._caught_up = False

    # --- reading --------------------------------------------------------------------------------

    @property
    def view(self) -> JournalView:
        """The journal as of the local store (built once, rebuilt after writes and syncs)."""
        if self._view is None:
            self._tag = stored_tag(self.group)
            view = JournalView(role_history(self.group), tz=self.tz)
            state = self.group.state
            for r in opened_rows(self.group):
                # Judged at the entry's authority position, not only at the head it claims.
                at = crypto.authority_seq(state, r[2], r[3], r[4])
                view.add(EntryMeta(r[0], r[1], r[2], r[3], at, r[5]), r[7])
            self._view = view
        return self._view

    def refresh(self) -> None:
        self._view = None

    def refresh_if_changed(self) -> bool:
        """Drop the view if the stored state changed since it was built (a sync by another
        process, say); True if it did. Costs one small read of the store, so a long-lived
        front door (the web app) calls it before each page."""
        if self._view is None or stored_tag(self.group) == self._tag:
            return False
        self._view = None
        return True

    def activity(self, after: int) -> list[Activity]:
        """What the readable entries past the cursor `after` did, in words
        (`chatham.client.journal.Activity`), oldest first; offline."""
        return describe(self.view, self.group.entries(after=after))

    def cursor(self) -> int:
        """The newest stored entry's cursor (0 when there is none): pass it to `activity`
        after the next sync to hear what that sync brought."""
        index = self.group.entry_index()
        return max((ref.cursor for ref in index), default=0)

    def now(self) -> int:
        return int(self._clock())

    def today(self) -> date:
        return datetime.fromtimestamp(self._clock(), self.tz).date()

    @overload
    def item(self, ref: str) -> Item: ...
    @overload
    def item(self, ref: str, kind: type[T]) -> T: ...

    def item(self, ref: str, kind: type[Item] | None = None) -> Item:
        """An item by id or unique id prefix (4+ hex digits), optionally of one kind."""
        view = self.view
        what = "item" if kind is None else str(kind.kind)
        listing = "`chatham list`" if kind is None else KIND_LIST[kind.kind]
        try:
            it = view.show(view.resolve(ref))
        except E.UnknownItem:
            raise E.UnknownItem(
                f"no {what} {ref.strip()!r} in this group",
                hint=f"{listing} shows the ids; run `chatham sync` for new ones",
            ) from None
        except E.AmbiguousItem:
            raise E.AmbiguousItem(
                f"{ref.strip()!r} matches several items", hint="give more characters of the id"
            ) from None
        if kind is not None and not isinstance(it, kind):
            raise E.UsageError(
                f"{it.short_id} is {_a(it.kind)}, not {_a(kind.kind)}",
                hint=f"{listing} shows the {kind.kind} ids",
            )
        return it

    def day(self, text: str) -> date:
        """`YYYY-MM-DD`, `today`, `tomorrow` or `next-meeting`."""
        try:
            return parse_date(text, today=self.today(), view=self.view)
        except E.InvalidDate as e:
            raise E.InvalidDate(f"{e.message}: {text.strip()!r}", hint=e.hint) from None

    def meeting(self, ref: str | None = None, *, default: str = "current") -> MeetingItem:
        """A meeting by id prefix or date (`2026-12-03`, `today`, `next-meeting`); without one:

        `current`: the open meeting, else the next planned one (today or later);
        `to-open`: the next planned meeting, else the latest planned one that is past;
        `open`: the open meeting.
        """
        view = self.view
        if ref is not None:
            text = ref.strip().lower()
            if text in ("today", "tomorrow", "next-meeting") or (
                len(text) == 10 and text[4:5] == "-" and text[7:8] == "-"
            ):
                day = self.day(text)
                on = [m for m in view.meetings() if m.date == day]
                if not on:
                    raise E.NotFound(
                        f"no meeting on {day.isoformat()}", hint="`chatham meeting list` shows them"
                    )
                if len(on) > 1:
                    raise E.Ambiguous(
                        f"{len(on)} meetings on {day.isoformat()}", hint="give the meeting's id"
                    )
                return on[0]
            return self.item(ref, MeetingItem)
        today = self.today()
        found: MeetingItem | None
        if default == "open":
            found = view.open_meeting()
            if found is None:
                raise E.NotFound(
                    "no meeting is open", hint="a leader opens one with `chatham meeting open`"
                )
            return found
        if default == "to-open":
            planned = view.meetings("planned")
            found = view.next_meeting(today) or (planned[-1] if planned else None)
        else:
            found = view.open_meeting() or view.next_meeting(today)
        if found is None:
            raise E.NotFound(
                "no meeting is open or planned",
                hint="a leader plans one with `chatham meeting new --date DATE --title TITLE`",
            )
        return found

    # --- writing --------------------------------------------------------------------------------

    def catch_up(self) -> None:
        """Sync before a write (once), so it is judged against the newest state; offline, the
        local state is all there is and the write is queued."""
        if self._caught_up:
            return
        with contextlib.suppress(E.Unreachable):
            self.group.sync(send=False)
        self._caught_up = True
        self.refresh()

    def require(self, action: str, item: Item | None = None, *, owner: bool = True) -> None:
        """Refuse (NotAllowed) what the permission table does not allow this member now.

        Creating, the author owns what they create (`owner=False`: a leader recording a
        commitment for someone else)."""
        if self.group.status != "member":
            raise E.NotAMember()
        seq = self.group.state.seq
        roster = self.view.roles
        if item is None:
            owner = owner and action == "commitment.create"
        elif isinstance(item, CommitmentItem):
            owner = item.owner == self.me
        else:
            owner = item.author == self.me
        role = roster.role_at(self.me, seq)
        if not allowed(action, role=role, owner=owner, notes=roster.notes_policy_at(seq)):
            message, hint = REFUSALS[action]
            raise E.NotAllowed(message, hint=hint)

    def post(self, body: Body, *, retracts: list[bytes] | None = None) -> Posted:
        try:
            data = encode_body(body)
        except E.ContentError as e:
            raise E.ContentError(e.message, hint=e.hint) from None
        entry_id = self.group.post(
            data, retracts=[r.hex() for r in retracts or []], insist=self.insist
        )
        self.refresh()
        return Posted(entry_id, queued=self.group.queued > 0, unsent=self.group.unsent_count)

    def _ts(self) -> int:
        return self.view.stamp(self.now())

    def new_issue(self, **fields: Any) -> Posted:
        self.catch_up()
        self.require("issue.create")
        return self.post(Issue(ts=self._ts(), **fields))

    def edit(self, item: Item, changes: Any) -> Posted:
        self.catch_up()
        self.require(f"{item.kind}.edit", item)
        return self.post(Revision(ts=self._ts(), item=item.id, changes=changes))

    def edit_issue(self, issue: IssueItem, **fields: Any) -> Posted:
        return self.edit(issue, IssueEdit(**fields))

    def edit_commitment(self, c: CommitmentItem, **fields: Any) -> Posted:
        if "text" in fields:
            _needs_text(fields["text"], "commitment")
        return self.edit(c, CommitmentEdit(**fields))

    def issue_status(
        self,
        issue: IssueItem,
        status: str,
        *,
        meeting: MeetingItem | None = None,
        outcome: str | None = None,
    ) -> Posted:
        self.catch_up()
        issue = self.item(issue.id.hex(), IssueItem)
        action = {
            "scheduled": "issue.schedule",
            "presented": "issue.present",
            "closed": "issue.close",
        }.get(
            status, "issue.close" if issue.status in ("presented", "closed") else "issue.schedule"
        )
        self.require(action, issue)
        allowed = {
            "scheduled": ("parked", "scheduled"),
            "presented": ("parked", "scheduled"),
            "closed": ("parked", "scheduled", "presented"),
            "parked": ("scheduled", "presented", "closed"),
        }[status]
        if issue.status not in allowed:
            raise E.UsageError(
                f"issue {issue.short_id} is {issue.status}; it cannot become {status}",
                hint="`chatham issue show ID` shows its history",
            )
        body = IssueStatus(
            ts=self._ts(),
            item=issue.id,
            status=status,  # type: ignore[arg-type]
            meeting=None if meeting is None else meeting.id,
            outcome=outcome,  # type: ignore[arg-type]
        )
        return self.post(body)

    def new_meeting(self, **fields: Any) -> Posted:
        self.catch_up()
        self.require("meeting.create")
        return self.post(Meeting(ts=self._ts(), **fields))

    def edit_meeting(self, meeting: MeetingItem, **fields: Any) -> Posted:
        """Change a meeting's date (reschedule), title, time, length, place or attendance."""
        if meeting.status == "closed" and "date" in fields:
            raise E.UsageError(
                f"meeting {meeting.short_id} is closed; it cannot move to another day",
                hint="plan the next one with `chatham meeting new`",
            )
        return self.edit(meeting, MeetingEdit(**fields))

    def set_attendance(self, meeting: MeetingItem, members: list[str]) -> Posted:
        """Record who attended: `members` are names, ids or id prefixes (leaders)."""
        ids = [bytes.fromhex(self.group.member(ref).id) for ref in members]
        return self.edit_meeting(meeting, attendance=list(dict.fromkeys(ids)))

    def cancel_meeting(self, meeting: MeetingItem) -> tuple[Posted, list[IssueItem]]:
        """Call off a planned meeting (leaders): it is withdrawn everywhere, and the issues
        scheduled for it are back in the parking lot; (posted, those issues)."""
        self.catch_up()
        meeting = self.item(meeting.id.hex(), MeetingItem)
        if meeting.status != "planned":
            raise E.UsageError(
                f"meeting {meeting.short_id} is {meeting.status}; only a planned meeting "
                "can be cancelled",
                hint="close a meeting in progress with `chatham meeting close`",
            )
        self.require("meeting.edit", meeting)
        back = [i for i in self.view.issues("scheduled") if i.meeting == meeting.id]
        posted, _ = self.retract(meeting)
        return posted, back

    def edit_note(self, note: NoteItem, **fields: Any) -> Posted:
        """Change a note's body or title (its author; leaders only under notes policy)."""
        if "body" in fields:
            _needs_text(fields["body"], "note")
        return self.edit(note, NoteEdit(**fields))

    def schedule(self, issue: IssueItem, meeting: MeetingItem | None) -> Posted:
        """Put an issue on a meeting's agenda, or (`None`) back in the parking lot."""
        if meeting is None:
            return self.issue_status(issue, "parked")
        return self.issue_status(issue, "scheduled", meeting=meeting)

    def meeting_status(self, meeting: MeetingItem, status: str) -> MeetingChange:
        """Open or close a meeting, then sign a checkpoint (and rotate first, if the group's
        policy says so at every meeting)."""
        self.catch_up()
        meeting = self.item(meeting.id.hex(), MeetingItem)
        self.require("meeting.status", meeting)
        want = {"open": "planned", "closed": "open"}[status]
        if meeting.status != want:
            verb = "open" if status == "open" else "close"
            raise E.UsageError(
                f"meeting {meeting.short_id} is {meeting.status}; only a {want} meeting "
                f"can be {'opened' if verb == 'open' else 'closed'}",
                hint="`chatham meeting list` shows each meeting's status",
            )
        left = [i.id for i in self.view.issues("scheduled") if i.meeting == meeting.id]
        posted = self.post(MeetingStatus(ts=self._ts(), item=meeting.id, status=status))  # type: ignore[arg-type]
        self._require_sent(posted, f"the meeting's {status} status")
        rotated = False
        if status == "open" and self.group.state.policy.rotate_each_meeting:
            self.group.rotate()
            rotated = True
        cp = self.group.checkpoint()
        presented: tuple[IssueItem, ...] = ()
        returned: tuple[IssueItem, ...] = ()
        if status == "closed":
            view = self.view
            presented = tuple(i for i in view.issues() if i.presented_at == meeting.id)
            returned = tuple(i for i in map(view.get, left) if isinstance(i, IssueItem))
        return MeetingChange(
            posted, cp.seq, self.group.meeting_code(), rotated, presented, returned
        )

    def publish_agenda(
        self, meeting: MeetingItem, issues: list[IssueItem] | None = None
    ) -> tuple[Posted, int, int]:
        """Publish the agenda and sign a checkpoint; (posted, checkpoint seq, issues left off
        because an agenda lists at most 100).

        Without `issues`, what `agenda` shows (the draft) is published; with them, exactly
        those issues in that order: the leader's choice. Each must be parked or scheduled
        (a presented or closed issue needs reopening first).
        """
        self.catch_up()
        meeting = self.item(meeting.id.hex(), MeetingItem)
        self.require("agenda.publish", meeting)
        if meeting.status == "closed":
            raise E.UsageError(
                f"meeting {meeting.short_id} is closed; its agenda can no longer change",
                hint="plan the next one with `chatham meeting new`",
            )
        agenda = self.view.agenda(meeting.id, self.today())
        if issues is None:
            chosen = agenda.issues
        else:
            chosen = [self.item(i.id.hex(), IssueItem) for i in issues]
            for it in chosen:
                if it.status not in ("parked", "scheduled"):
                    raise E.UsageError(
                        f"issue {it.short_id} is {it.status}; only parked or scheduled issues "
                        "go on an agenda",
                        hint="its owner reopens it with `chatham issue reopen ID`",
                    )
            if len({i.id for i in chosen}) != len(chosen):
                raise E.UsageError(
                    "an issue is listed twice", hint="name each issue once, in the order wanted"
                )
        issues_ = [i.id for i in chosen]
        body = AgendaPublication(
            ts=self._ts(),
            meeting=meeting.id,
            issues=issues_[:AGENDA_ISSUES],
            commitments=[c.id for c in agenda.commitments][:1000],
        )
        posted = self.post(body)
        self._require_sent(posted, "the agenda")
        cp = self.group.checkpoint()
        return posted, cp.seq, max(0, len(issues_) - AGENDA_ISSUES)

    def _require_sent(self, posted: Posted, what: str, then: str = "`chatham checkpoint`") -> None:
        if posted.queued:
            raise E.Unreachable(
                f"{what} is queued, but the server is out of reach",
                hint=f"`chatham sync` sends it when the server is back; then run {then}",
            )

    def new_note(self, body: str, *, title: str = "", meeting: MeetingItem | None) -> Posted:
        _needs_text(body, "note")
        self.catch_up()
        self.require("note.create")
        return self.post(
            Note(
                ts=self._ts(),
                body=body,
                title=title,
                meeting=None if meeting is None else meeting.id,
            )
        )

    def new_commitment(
        self,
        text: str,
        *,
        due: date | None,
        meeting: MeetingItem | None,
        owner: str | None = None,
    ) -> Posted:
        """Make a commitment; a leader may record one for another member (`owner`: a member
        name, id or id prefix), e.g. as it is made at the meeting."""
        _needs_text(text, "commitment")
        self.catch_up()
        who = self.me
        if owner is not None:
            m = self.group.member(owner)
            if m.status != "active":
                raise E.UsageError(
                    f"{m.name or m.id[:12]} is no longer a member",
                    hint="`chatham members` shows who is in the group",
                )
            who = bytes.fromhex(m.id)
        self.require("commitment.create", owner=who == self.me)
        return self.post(
            Commitment(
                ts=self._ts(),
                owner=who,
                text=text,
                due=due,
                meeting=None if meeting is None else meeting.id,
            )
        )

    def commitment_status(self, c: CommitmentItem, status: str, report: str) -> Posted:
        self.catch_up()
        c = self.item(c.id.hex(), CommitmentItem)
        self.require("commitment.complete", c)
        if c.reviewed_at is not None:
            raise E.UsageError(
                f"commitment {c.short_id} was reviewed already; its status is final",
                hint="make a new commitment with `chatham commit new TEXT`",
            )
        if c.status == status:
            raise E.UsageError(
                f"commitment {c.short_id} is {status} already",
                hint="`chatham commit list` shows each commitment's status",
            )
        body = CommitmentStatus(ts=self._ts(), item=c.id, status=status, report=report)  # type: ignore[arg-type]
        return self.post(body)

    def mark_reviewed(self, c: CommitmentItem, meeting: MeetingItem) -> Posted:
        """Record that a reported commitment was reviewed at `meeting`: its outcome is final.

        A commitment without a report cannot be reviewed: it carries over to the next
        meeting's round (docs/journal.md §3)."""
        self.catch_up()
        c = self.item(c.id.hex(), CommitmentItem)
        self.require("commitment.review", c)
        if c.reviewed_at is not None:
            raise E.UsageError(
                f"commitment {c.short_id} was reviewed already",
                hint="`chatham review` shows what is left to review",
            )
        if c.status == "open":
            raise E.UsageError(
                f"commitment {c.short_id} has no report yet; it carries over to the next review",
                hint="its owner reports with `chatham commit done ID` (or partial, or drop)",
            )
        return self.post(Review(ts=self._ts(), item=c.id, meeting=meeting.id))

    def comment(self, item: Item, text: str, *, file: FileRef | None = None) -> Posted:
        self.catch_up()
        self.require("comment.create")
        return self.post(Comment(ts=self._ts(), item=item.id, text=text, file=file))

    def new_update(self, **fields: Any) -> Posted:
        self.catch_up()
        self.require("update.create")
        return self.post(Update(ts=self._ts(), **fields))

    def retract(self, item: Item) -> tuple[Posted, int]:
        """Withdraw an item: a signed retraction entry, then the server deletes the
        ciphertext of every entry this member may delete; (posted, entries deleted)."""
        self.catch_up()
        item = self.item(item.id.hex())
        self.require("retract", item)
        seq = self.group.state.seq
        entries = self.view.retraction_entries(item.id, self.me, log_seq=seq)
        # One entry withdraws at most MAX_RETRACTS others: a long history takes several.
        step = crypto.MAX_RETRACTS
        chunks = [entries[i : i + step] for i in range(0, len(entries), step)] or [[]]
        posted = self.post(
            Retraction(ts=self._ts(), item=item.id, entries=chunks[0]), retracts=chunks[0]
        )
        for chunk in chunks[1:]:
            self._require_sent(posted, "the retraction", "`chatham retract` again")
            posted = self.post(
                Retraction(ts=self._ts(), item=item.id, entries=chunk), retracts=chunk
            )
        self._require_sent(posted, "the retraction", "`chatham retract` again")
        self.refresh()
        return posted, len(entries)

    # --- attachments (journal/files.py) --------------------------------------------------------

    def attach(
        self,
        item: Item,
        path: Path,
        *,
        text: str | None = None,
        progress: Progress | None = None,
    ) -> tuple[Posted, FileRef]:
        """Seal `path` chunk by chunk, upload it, then post a comment on `item` carrying it."""
        return files.attach(self, item, path, text=text, progress=progress)

    def save_attachment(
        self,
        ref: str,
        dest: Path,
        *,
        force: bool = False,
        progress: Progress | None = None,
    ) -> SavedFile:
        """Download, verify and save an attached file; it appears only once all of it verifies."""
        return files.save_attachment(self, ref, dest, force=force, progress=progress)

    def missing_files(self) -> list[MissingFile]:
        """Attached files readable here whose chunks the group's server no longer holds
        (lost with a server that lost its data: docs/operations.md). One request each."""
        return files.missing_files(self)

    def move(
        self, url: str, *, registration_token: str | None = None
    ) -> tuple[HealReport, FileCopies]:
        """A leader moves the group to the server at `url` (`Group.move`), then copies every
        attached file the old server still holds to the new one, sealed as it is."""
        old = self.group._api()
        report = self.group.move(url, registration_token=registration_token)
        self.refresh()
        return report, files.copy_files(self, old)

    # --- following changes ----------------------------------------------------------------------

    def watch(
        self,
        on_change: Callable[[SyncReport], None],
        *,
        count: int | None = None,
        timeout: float | None = None,
        on_retry: Callable[[E.ChathamError], None] | None = None,
    ) -> int:
        """Sync whenever the server says something changed, calling `on_change` for each sync
        that brought something new; stops after `count` changes or `timeout` seconds.
        Reconnects after a dropped stream. Returns the number of changes seen."""
        until = None if timeout is None else time.monotonic() + timeout
        seen = 0
        last: tuple[int, int] | None = None
        backoff = 1.0
        while until is None or time.monotonic() < until:
            heard = False
            try:
                for position in self.group.changes(until=until):
                    heard = True
                    backoff = 1.0
                    if position == last:
                        continue
                    last = position
                    report = self.group.sync()
                    if report.new_entries or report.new_ops or report.retracted:
                        self.refresh()
                        on_change(report)
                        seen += 1
                        if count is not None and seen >= count:
                            return seen
            except E.Unreachable as e:
                if on_retry is not None:
                    on_retry(e)
            else:
                if heard:  # the server ended a stream that worked: reconnect at once
                    continue
            # A dropped stream, or one that ended without a word: wait before trying again.
            pause = backoff if until is None else min(backoff, until - time.monotonic())
            if pause > 0:
                time.sleep(pause)
            backoff = min(backoff * 2, 30.0)
        return seen


_BLANK: Final = {
    "note": ("a note needs some text", "write the note first"),
    "commitment": ("a commitment needs its text", "say what you will do"),
}


def _needs_text(text: str, kind: Literal["note", "commitment"]) -> None:
    """A note or a commitment is its text: a blank one is refused before anything is sent."""
    if not text.strip():
        message, hint = _BLANK[kind]
        raise E.UsageError(message, hint=hint)
