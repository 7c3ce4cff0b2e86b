"""The journal's items as members see them: issues, meetings, notes, commitments, comments,
updates, with their history, and the derived values listings show (ranked issues, agendas,
review rounds, warnings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Final, Literal, TypeAlias

from .content import AgendaPublication, Comment, Commitment, Issue, Meeting, Note, Update

Kind: TypeAlias = Literal["issue", "meeting", "note", "commitment", "comment", "update"]


KINDS: Final[tuple[Kind, ...]] = ("issue", "meeting", "note", "commitment", "comment", "update")


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
