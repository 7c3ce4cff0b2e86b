"""The journal of one group: a `Group` (verified, opened entries) bound to a `JournalView`.

Reading is offline: the view is built from the entries in the local store and
the roster the verified log implies, judged by the rules in docs/journal.md.
Writing checks the one permission table *before* anything is posted, with the
member's role at the log head the entry will claim, so a refusal is a clear
error that changes nothing (instead of an entry every client would ignore).

Leader actions that the group relies on at the table — publishing an agenda,
opening and closing a meeting — also sign a checkpoint of every author chain,
so a server that withholds an entry before a meeting shows up in everyone's
meeting code.

Attachments are sealed with the protocol's STREAM (docs/protocol.md §10) one
64 KiB chunk at a time, so any size runs in constant memory; the chunks go to
the server first and only then is the comment that carries the key posted. A
download is written to a private temporary file beside the target and renamed
into place only after the last chunk verifies.

Errors are `chatham.client.errors` exceptions whose messages never quote
member-written text.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import secrets
import sqlite3
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, Final, TypeAlias, TypeVar, overload

import msgspec
from chatham import crypto
from chatham.crypto import Add, Genesis, Leave, Remove, SetPolicy, SetRole

from ... import errors as E
from ..engine.group import Group
from ..views import SyncReport
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
    MeetingStatus,
    Note,
    Retraction,
    Review,
    Revision,
    Update,
    clean_line,
    encode_body,
)
from .fold import (
    CommentItem,
    CommitmentItem,
    EntryMeta,
    IssueItem,
    Item,
    JournalView,
    MeetingItem,
    RoleHistory,
    allowed,
    parse_date,
)

T = TypeVar("T", bound=Item)
Progress = Callable[[int, int], None]
"""progress(bytes done, bytes total)."""

MAX_ATTACHMENT: Final = 16 * 1024 * crypto.CHUNK_SIZE
"""The server's default cap (16,384 chunks of 64 KiB): 1 GiB."""
AGENDA_ISSUES: Final = 100
"""An agenda publication lists at most this many issues (domain.AgendaPublication)."""

# What a refusal says, per action of the permission table (docs/journal.md §4).
_REFUSALS: Final[dict[str, tuple[str, str]]] = {
    "issue.create": ("only members may post issues", "see `chatham members`"),
    "issue.edit": (
        "only the issue's owner may edit it",
        "comment on it instead with `chatham comment ID`",
    ),
    "issue.schedule": (
        "only the issue's owner or a leader may schedule it",
        "a leader schedules issues by publishing the agenda",
    ),
    "issue.present": (
        "only the issue's owner or a leader may mark it presented",
        "ask the owner or a leader (see `chatham members`)",
    ),
    "issue.close": (
        "only the issue's owner may close or reopen it",
        "ask the owner; comments go in with `chatham comment ID`",
    ),
    "meeting.create": ("only leaders may plan a meeting", "ask a leader (see `chatham members`)"),
    "meeting.edit": ("only leaders may edit a meeting", "ask a leader (see `chatham members`)"),
    "meeting.status": (
        "only leaders may open or close a meeting",
        "ask a leader (see `chatham members`)",
    ),
    "agenda.publish": (
        "only leaders may publish an agenda",
        "`chatham agenda` shows the draft; ask a leader to publish it",
    ),
    "note.create": (
        "only leaders may write notes in this group (notes policy: leaders)",
        "ask a leader to take the notes, or comment with `chatham comment ID`",
    ),
    "note.edit": ("only the note's author may edit it", "comment on it with `chatham comment ID`"),
    "commitment.create": ("only members may make commitments", "see `chatham members`"),
    "commitment.edit": ("only the commitment's owner may edit it", "ask its owner"),
    "commitment.complete": (
        "only the commitment's owner may mark it done, partial or dropped",
        "ask its owner to report back",
    ),
    "commitment.review": (
        "only the commitment's owner or a leader may mark it reviewed",
        "ask a leader (see `chatham members`)",
    ),
    "comment.create": ("only members may comment", "see `chatham members`"),
    "comment.edit": ("only the comment's author may edit it", "reply with `chatham comment ID`"),
    "update.create": ("only members may post updates", "see `chatham members`"),
    "update.edit": ("only the update's author may edit it", "post a new one"),
    "retract": (
        "only the author or a leader may retract an item",
        "ask the author or a leader (see `chatham members`)",
    ),
}

_KIND_LIST: Final = {
    "issue": "`chatham issue list`",
    "meeting": "`chatham meeting list`",
    "note": "`chatham note list`",
    "commitment": "`chatham commit list`",
    "comment": "`chatham list --type comment`",
    "update": "`chatham update list`",
}


def local_zone() -> tzinfo:
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def role_history(group: Group) -> RoleHistory:
    """The roster with every role change at its log seq, replayed from the verified log."""
    state = group.state
    roster = RoleHistory()
    for a in group.log():
        body = a.op.body
        if isinstance(body, Genesis):
            roster = RoleHistory(body.policy.notes)
            roster.join(crypto.member_id(body.founder.cert.member_key), role="leader", seq=a.seq)
        elif isinstance(body, Add):
            for nm in body.members:
                invite = state.invites.get(nm.invite_id)
                role = invite.role if invite is not None else "member"
                roster.join(crypto.member_id(nm.card.cert.member_key), role=role, seq=a.seq)
        elif isinstance(body, Remove):
            roster.depart(body.member, seq=a.seq)
        elif isinstance(body, Leave):
            roster.depart(a.signer_member, seq=a.seq)
        elif isinstance(body, SetRole):
            roster.set_role(body.member, body.role, seq=a.seq)
        elif isinstance(body, SetPolicy):
            roster.set_notes_policy(body.policy.notes, seq=a.seq)
    for member, name in group.names().items():
        roster.rename(bytes.fromhex(member), name)
    return roster


_Row: TypeAlias = tuple[bytes, bytes, bytes, int, int, int, int, bytes]
"""entry id, author member id, device id, chain seq, log seq, epoch, cursor, opened body."""
OPENED_CACHE: Final = "journal-opened"
CACHE_FORMAT: Final = 2


class _Opened(msgspec.Struct, array_like=True):
    v: int
    tag: bytes
    rows: list[_Row]


_cache_encoder = msgspec.msgpack.Encoder()
_cache_decoder = msgspec.msgpack.Decoder(_Opened)


@dataclass(frozen=True)
class Posted:
    """What a write did: the new entry's id, and whether it still waits in the outbox."""

    id: str
    queued: bool

    @property
    def short(self) -> str:
        return self.id[:8]


@dataclass(frozen=True)
class MeetingChange:
    """A meeting opened or closed: the status entry and the checkpoint signed after it."""

    posted: Posted
    checkpoint_seq: int
    meeting_code: str | None
    rotated: bool = False


@dataclass(frozen=True)
class SavedFile:
    path: Path
    size: int


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def file_name(name: str) -> str:
    """A file name fit for a title: printable, one line, at most 200 characters."""
    name = unicodedata.normalize("NFC", name)
    name = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in name)
    name = clean_line(name)[:200].strip()
    return name or "file"


class Journal:
    """The journal of one group as this member sees it; reads offline, writes through `Group`."""

    def __init__(
        self,
        group: Group,
        member_id: str,
        *,
        tz: tzinfo | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.group = group
        self.me = bytes.fromhex(member_id)
        self.tz = tz if tz is not None else local_zone()
        self._clock = clock
        self._view: JournalView | None = None
        self._caught_up = False

    # --- reading --------------------------------------------------------------------------------

    @property
    def view(self) -> JournalView:
        """The journal as of the local store (built once, rebuilt after writes and syncs)."""
        if self._view is None:
            view = JournalView(role_history(self.group), tz=self.tz)
            for r in self._opened():
                view.add(EntryMeta(r[0], r[1], r[2], r[3], r[4], r[5]), r[7])
            self._view = view
        return self._view

    def _opened(self) -> list[_Row]:
        """Every readable entry's verified header facts and opened body, in server order.

        Opening thousands of entries one by one (a key derivation, a key commitment and an
        AEAD each) is most of what a listing would cost, so the opened bodies are kept as
        one value sealed under the store key (like queued writes), tagged with the stored
        state they came from. When a sync, post or retraction changes that state, the
        stored entries are listed without opening them: bodies of entries no longer
        readable (retracted) are dropped, only entries not yet in the value are opened,
        and the value is replaced. Nothing retracted or unverified is served from it.
        """
        group = self.group
        tag = group.stored_tag()
        blob = group.load_sealed(OPENED_CACHE)
        cached: _Opened | None = None
        if blob is not None:
            try:
                cached = _cache_decoder.decode(blob)
            except (msgspec.DecodeError, msgspec.ValidationError):
                cached = None
            if cached is not None and cached.v != CACHE_FORMAT:
                cached = None
        if cached is not None and cached.tag == tag:
            return cached.rows
        rows = self._update(cached.rows if cached is not None else [])
        with contextlib.suppress(sqlite3.OperationalError):  # another process holds the lock
            group.save_sealed(OPENED_CACHE, _cache_encoder.encode(_Opened(CACHE_FORMAT, tag, rows)))
        return rows

    def _update(self, known: list[_Row]) -> list[_Row]:
        """`known` brought up to the store: drop what is no longer readable, open what is new."""
        readable = {
            bytes.fromhex(ref.id): ref.cursor for ref in self.group.entry_index() if ref.readable
        }
        kept = [row for row in known if row[0] in readable]
        have = {row[0] for row in kept}
        missing = [cursor for eid, cursor in readable.items() if eid not in have]
        if missing:
            # Usually a few entries past the newest one held; withheld entries that a
            # rescan delivered later can sit lower, so start from the lowest missing.
            for it in self.group.entries(after=min(missing) - 1):
                eid = bytes.fromhex(it.id)
                if eid in have:
                    continue
                row = (
                    eid,
                    bytes.fromhex(it.author),
                    bytes.fromhex(it.device),
                    it.seq,
                    it.log_seq,
                    it.epoch,
                    it.cursor,
                    it.body,
                )
                kept.append(row)
        kept.sort(key=lambda row: row[6])
        return kept

    def refresh(self) -> None:
        self._view = None

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
        listing = "`chatham list`" if kind is None else _KIND_LIST[kind.kind]
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

    def require(self, action: str, item: Item | None = None) -> None:
        """Refuse (NotAllowed) what the permission table does not allow this member now."""
        if self.group.status != "member":
            raise E.NotAMember()
        seq = self.group.state.seq
        roster = self.view.roster
        if item is None:
            # Creating: the author owns what they create (a commitment's owner is its author).
            owner = action == "commitment.create"
        elif isinstance(item, CommitmentItem):
            owner = item.owner == self.me
        else:
            owner = item.author == self.me
        role = roster.role_at(self.me, seq)
        if not allowed(action, role=role, owner=owner, notes=roster.notes_policy_at(seq)):
            message, hint = _REFUSALS[action]
            raise E.NotAllowed(message, hint=hint)

    def post(self, body: Body) -> Posted:
        try:
            data = encode_body(body)
        except E.ContentError as e:
            raise E.ContentError(e.message, hint=e.hint) from None
        entry_id = self.group.post(data)
        self.refresh()
        return Posted(entry_id, queued=self.group.queued > 0)

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
        posted = self.post(MeetingStatus(ts=self._ts(), item=meeting.id, status=status))  # type: ignore[arg-type]
        self._require_sent(posted, f"the meeting's {status} status")
        rotated = False
        if status == "open" and self.group.state.policy.rotate_each_meeting:
            self.group.rotate()
            rotated = True
        cp = self.group.checkpoint()
        return MeetingChange(posted, cp.seq, self.group.meeting_code(), rotated)

    def publish_agenda(self, meeting: MeetingItem) -> tuple[Posted, int, int]:
        """Publish what `agenda` shows and sign a checkpoint; (posted, checkpoint seq, issues
        left off because an agenda lists at most 100)."""
        self.catch_up()
        meeting = self.item(meeting.id.hex(), MeetingItem)
        self.require("agenda.publish", meeting)
        if meeting.status == "closed":
            raise E.UsageError(
                f"meeting {meeting.short_id} is closed; its agenda can no longer change",
                hint="plan the next one with `chatham meeting new`",
            )
        agenda = self.view.agenda(meeting.id, self.today())
        issues = [i.id for i in agenda.issues]
        body = AgendaPublication(
            ts=self._ts(),
            meeting=meeting.id,
            issues=issues[:AGENDA_ISSUES],
            commitments=[c.id for c in agenda.commitments][:1000],
        )
        posted = self.post(body)
        self._require_sent(posted, "the agenda")
        cp = self.group.checkpoint()
        return posted, cp.seq, max(0, len(issues) - AGENDA_ISSUES)

    def _require_sent(self, posted: Posted, what: str, then: str = "`chatham checkpoint`") -> None:
        if posted.queued:
            raise E.Unreachable(
                f"{what} is queued, but the server is out of reach",
                hint=f"`chatham sync` sends it when the server is back; then run {then}",
            )

    def new_note(self, body: str, *, title: str = "", meeting: MeetingItem | None) -> Posted:
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

    def new_commitment(self, text: str, *, due: date | None, meeting: MeetingItem | None) -> Posted:
        self.catch_up()
        self.require("commitment.create")
        return self.post(
            Commitment(
                ts=self._ts(),
                owner=self.me,
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
        self.catch_up()
        c = self.item(c.id.hex(), CommitmentItem)
        self.require("commitment.review", c)
        if c.reviewed_at is not None:
            raise E.UsageError(
                f"commitment {c.short_id} was reviewed already",
                hint="`chatham review` shows what is left to review",
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
        posted = self.post(Retraction(ts=self._ts(), item=item.id, entries=entries))
        self._require_sent(posted, "the retraction", "`chatham retract` again")
        for entry in entries:
            self.group.retract(entry.hex())
        self.refresh()
        return posted, len(entries)

    # --- attachments ----------------------------------------------------------------------------

    def attach(
        self,
        item: Item,
        path: Path,
        *,
        text: str | None = None,
        progress: Progress | None = None,
    ) -> tuple[Posted, FileRef]:
        """Seal `path` chunk by chunk, upload it, then post a comment on `item` carrying it."""
        self.catch_up()
        self.require("comment.create")
        try:
            f = path.open("rb")
        except OSError as e:
            raise E.UsageError(
                f"cannot read {path} ({e.strerror})", hint="give the path of a readable file"
            ) from None
        with f:
            size = os.fstat(f.fileno()).st_size
            if not path.is_file():
                raise E.UsageError(f"{path} is not a regular file", hint="attach one file")
            if size > MAX_ATTACHMENT:
                raise E.UsageError(
                    f"{path.name} is larger than {MAX_ATTACHMENT >> 30} GiB",
                    hint="split it, or share it another way",
                )
            blob, key = secrets.token_bytes(16), secrets.token_bytes(32)
            sealer = crypto.AttachmentSealer(key, blob)
            index = done = 0
            try:
                while piece := f.read(crypto.CHUNK_SIZE):
                    done += len(piece)
                    if done > MAX_ATTACHMENT:
                        raise E.UsageError(f"{path.name} grew past the size limit while reading")
                    for sealed in sealer.update(piece):
                        self.group.put_attachment_chunk(blob, index, sealed)
                        index += 1
                        if progress is not None:
                            progress(min(index * crypto.CHUNK_SIZE, done), max(size, done))
                self.group.put_attachment_chunk(blob, index, sealer.finish())
                if progress is not None:
                    progress(done, done)
            except BaseException:
                # Nothing refers to the chunks yet; do not leave them on the server.
                with contextlib.suppress(E.ChathamError):
                    if index:
                        self.group.delete_attachment(blob)
                raise
        name = file_name(path.name)
        media = mimetypes.guess_type(name)[0] or ""
        ref = FileRef(blob=blob, key=key, name=name, size=done, media_type=media[:200])
        try:
            posted = self.comment(item, text or name, file=ref)
        except BaseException:
            with contextlib.suppress(E.ChathamError):
                self.group.delete_attachment(blob)
            raise
        return posted, ref

    def save_attachment(
        self,
        ref: str,
        dest: Path,
        *,
        force: bool = False,
        progress: Progress | None = None,
    ) -> SavedFile:
        """Download, verify and save an attached file; it appears only once all of it verifies."""
        c = self.item(ref, CommentItem)
        f = c.body.file
        if f is None:
            raise E.UsageError(
                f"comment {c.short_id} has no file attached",
                hint="`chatham show ID` of the item lists its attachments",
            )
        if dest.is_dir():
            dest = dest / file_name(f.name).lstrip(".")
        if (dest.exists() or dest.is_symlink()) and not force:
            raise E.UsageError(
                f"{dest} exists already", hint="choose another path, or pass --force to replace it"
            )
        parent = dest.parent if str(dest.parent) else Path(".")
        if not parent.is_dir():
            raise E.UsageError(f"no directory {parent}", hint="create it first")
        chunks = max(1, -(-f.size // crypto.CHUNK_SIZE))
        opener = crypto.AttachmentOpener(f.key, f.blob)
        fd, tmp_name = tempfile.mkstemp(prefix=".chatham-", suffix=".part", dir=parent)
        tmp = Path(tmp_name)
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for index in range(chunks):
                    try:
                        sealed = self.group.attachment_chunk(f.blob, index)
                    except E.ServerNotFound:
                        raise E.CouldNotOpen(
                            "the server does not have the whole file (truncated or deleted)",
                            hint="nothing was saved; ask the member who attached it to "
                            "attach it again",
                        ) from None
                    try:
                        plain = opener.open_chunk(sealed)
                    except crypto.CouldNotOpen:
                        raise E.CouldNotOpen(hint="nothing was saved") from None
                    written += len(plain)
                    if written > f.size:
                        raise E.CouldNotOpen(hint="nothing was saved")
                    out.write(plain)
                    if progress is not None:
                        progress(written, f.size)
                try:
                    opener.finish()
                except crypto.CouldNotOpen:
                    raise E.CouldNotOpen(hint="nothing was saved") from None
                if written != f.size:
                    raise E.CouldNotOpen(hint="nothing was saved")
                out.flush()
                os.fsync(out.fileno())
            # Only now, with every chunk verified and the size as signed, does the file appear.
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return SavedFile(dest, written)

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


def changed_words(report: SyncReport) -> str:
    """`2 new entries, 1 log op, 1 retracted`: counts only, never content."""
    parts = []
    if report.new_entries:
        n = report.new_entries
        parts.append(f"{n} new {'entry' if n == 1 else 'entries'}")
    if report.retracted:
        parts.append(f"{report.retracted} retracted")
    if report.new_ops:
        parts.append(f"{report.new_ops} log {'op' if report.new_ops == 1 else 'ops'}")
    return ", ".join(parts) or "up to date"


def ids(items: Iterable[Item]) -> list[str]:
    return [i.id.hex() for i in items]
