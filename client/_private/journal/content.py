"""The plaintext journal content that travels inside sealed entry bodies (docs/journal.md).

Only clients ever see these values: the crypto layer seals `encode_body(x)` as
an entry's opaque body and hands `decode_body(...)` the bytes back after it has
verified and opened the entry. Nothing here does I/O.

Wire format: one msgpack map per body, tagged by its type in `t` and versioned
in `v` (always 1). Decoding is strict: an unknown version, an unknown type, an
unknown field, a wrong type, an out-of-range value or a control character in
text is refused with a `ContentError` that names the offending field but never
echoes its content, so a refused body can be reported without leaking it.
A future format gets a new `v`; a v1 client refuses it with
`UnsupportedVersion` ("upgrade to read it") instead of guessing.

Content types create items (the entry id of the creating entry is the item's
id). Change types refer to an existing item by that id.
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Any, Final, Literal, TypeAlias

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from ...errors import ContentError, UnsupportedVersion

__all__ = [
    "BODY_TYPES",
    "FORMAT_VERSION",
    "AgendaPublication",
    "Body",
    "Change",
    "Comment",
    "CommentEdit",
    "Commitment",
    "CommitmentEdit",
    "CommitmentStatus",
    "Content",
    "Edit",
    "FileRef",
    "Issue",
    "IssueEdit",
    "IssueStatus",
    "Meeting",
    "MeetingEdit",
    "MeetingStatus",
    "Note",
    "NoteEdit",
    "Retraction",
    "Review",
    "Revision",
    "Update",
    "UpdateEdit",
    "changed_fields",
    "clean_line",
    "clean_text",
    "decode_body",
    "encode_body",
]

FORMAT_VERSION: Final = 1
MAX_BODY: Final = 1 << 20  # the crypto layer's MAX_ENTRY_BODY

# Text reaches other members' terminals, so control characters (C0, DEL, C1:
# the raw material of escape sequences) and bidi overrides (which can make a
# title read differently from its bytes) are refused at decode time.
_BIDI = "\u202a-\u202e\u2066-\u2069"
_LINE_RE = rf"^[^\x00-\x1f\x7f-\x9f{_BIDI}]*\Z"
_TITLE_RE = rf"^(?=\S)[^\x00-\x1f\x7f-\x9f{_BIDI}]*(?<=\S)\Z"
_TEXT_RE = rf"^[^\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]*\Z"  # tab and newline allowed
_SOME_TEXT_RE = rf"^(?=[\s\S]*\S)[^\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]*\Z"

ItemId: TypeAlias = Annotated[bytes, Meta(min_length=16, max_length=16)]
EntryId: TypeAlias = Annotated[bytes, Meta(min_length=16, max_length=16)]
MemberId: TypeAlias = Annotated[bytes, Meta(min_length=32, max_length=32)]
MAX_TS: Final = 253_370_678_400
"""The start of 9998-12-31 UTC: every later step (local time, a day later, a calendar
entry's end) stays inside the years datetime can hold."""
FIRST_DAY: Final = date(1970, 1, 1)
LAST_DAY: Final = date(9998, 12, 31)
Timestamp: TypeAlias = Annotated[int, Meta(ge=0, le=MAX_TS)]
Title: TypeAlias = Annotated[str, Meta(min_length=1, max_length=200, pattern=_TITLE_RE)]
Line: TypeAlias = Annotated[str, Meta(max_length=200, pattern=_LINE_RE)]
Text: TypeAlias = Annotated[str, Meta(max_length=20_000, pattern=_TEXT_RE)]
NonEmptyText: TypeAlias = Annotated[
    str, Meta(min_length=1, max_length=20_000, pattern=_SOME_TEXT_RE)
]
LongText: TypeAlias = Annotated[str, Meta(max_length=200_000, pattern=_TEXT_RE)]
NoteBody: TypeAlias = Annotated[str, Meta(min_length=1, max_length=200_000, pattern=_SOME_TEXT_RE)]
Minutes: TypeAlias = Annotated[int, Meta(ge=1, le=600)]
Duration: TypeAlias = Annotated[int, Meta(ge=1, le=24 * 60)]
ScoreName: TypeAlias = Annotated[str, Meta(min_length=1, max_length=32, pattern=_TITLE_RE)]
Score: TypeAlias = Annotated[int, Meta(ge=1, le=10)]

Priority: TypeAlias = Literal["A", "B", "C"]
IssueState: TypeAlias = Literal["parked", "scheduled", "presented", "closed"]
Outcome: TypeAlias = Literal["resolved", "withdrawn"]
MeetingState: TypeAlias = Literal["planned", "open", "closed"]
CommitmentState: TypeAlias = Literal["open", "done", "partial", "dropped"]


def _check_day(value: object, what: str) -> None:
    """Dates a member writes stay where date arithmetic cannot overflow for anyone."""
    if isinstance(value, date) and not FIRST_DAY <= value <= LAST_DAY:
        raise ContentError(f"{what} must be between {FIRST_DAY} and {LAST_DAY}")


def _unique(values: list[bytes], what: str) -> None:
    if len(set(values)) != len(values):
        raise ContentError(f"{what} lists an id twice")


class _Body(Struct, tag_field="t", forbid_unknown_fields=True, frozen=True, kw_only=True):
    v: Literal[1] = 1
    ts: Timestamp  # client clock, seconds; see `JournalView.stamp`


# --- content: each creates an item ------------------------------------------------------------


class Issue(_Body, frozen=True, tag="issue"):
    """Something a member brings to the group. Created parked."""

    title: Title
    what: Text = ""
    why: Text = ""
    tried: Text = ""
    ask: Text = ""
    not_ask: Text = ""
    background: LongText = ""
    options: LongText = ""
    impact: LongText = ""
    priority: Priority = "B"
    minutes: Minutes = 15


class Meeting(_Body, frozen=True, tag="meeting"):
    """A meeting of the group. Created planned."""

    date: date
    title: Title
    start: time | None = None
    minutes: Duration | None = None
    place: Line = ""
    attendance: Annotated[list[MemberId], Meta(max_length=200)] = []

    def __post_init__(self) -> None:
        _unique(self.attendance, "attendance")
        _check_day(self.date, "a meeting's date")
        if self.start is not None and self.start.tzinfo is not None:
            raise ContentError("a meeting's start is a local time without a zone")


class Note(_Body, frozen=True, tag="note"):
    """Meeting notes, or any note for the group; markdown."""

    body: NoteBody
    title: Line = ""
    meeting: ItemId | None = None


class Commitment(_Body, frozen=True, tag="commitment"):
    """Something a member commits to do; `due` None means "by the next meeting"."""

    owner: MemberId
    text: NonEmptyText
    due: date | None = None
    meeting: ItemId | None = None  # where it was made; anchors "the next meeting"

    def __post_init__(self) -> None:
        _check_day(self.due, "a due date")


class FileRef(Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A file attached to a comment: where its sealed chunks are and the key that opens them.

    The chunks are a STREAM (docs/protocol.md §10) under `key`, stored on the server
    as attachment `blob`; only this reference, inside a sealed entry, links the two.
    `digest` commits to the sealed chunks, in order and counted: no other bytes under the
    same id and key (uploaded by anyone else who holds the key) pass as this file.
    """

    blob: Annotated[bytes, Meta(min_length=16, max_length=16)]
    key: Annotated[bytes, Meta(min_length=32, max_length=32)]
    digest: Annotated[bytes, Meta(min_length=32, max_length=32)]
    name: Title
    size: Annotated[int, Meta(ge=0, le=1 << 40)]
    media_type: Line = ""


class Comment(_Body, frozen=True, tag="comment"):
    """A reply on any item (an experience share), optionally with a file attached."""

    item: ItemId
    text: NonEmptyText
    file: FileRef | None = None


class Update(_Body, frozen=True, tag="update"):
    """A member's monthly check-in."""

    highs: Text = ""
    lows: Text = ""
    scores: Annotated[dict[ScoreName, Score], Meta(max_length=10)] = {}
    meeting: ItemId | None = None


# --- changes: each refers to an existing item -------------------------------------------------


class _Edit(Struct, tag_field="t", forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class IssueEdit(_Edit, frozen=True, tag="issue"):
    title: Title | UnsetType = UNSET
    what: Text | UnsetType = UNSET
    why: Text | UnsetType = UNSET
    tried: Text | UnsetType = UNSET
    ask: Text | UnsetType = UNSET
    not_ask: Text | UnsetType = UNSET
    background: LongText | UnsetType = UNSET
    options: LongText | UnsetType = UNSET
    impact: LongText | UnsetType = UNSET
    priority: Priority | UnsetType = UNSET
    minutes: Minutes | UnsetType = UNSET


class MeetingEdit(_Edit, frozen=True, tag="meeting"):
    date: date | UnsetType = UNSET
    title: Title | UnsetType = UNSET
    start: time | UnsetType | None = UNSET
    minutes: Duration | UnsetType | None = UNSET
    place: Line | UnsetType = UNSET
    attendance: Annotated[list[MemberId], Meta(max_length=200)] | UnsetType = UNSET

    def __post_init__(self) -> None:
        if not isinstance(self.attendance, UnsetType):
            _unique(self.attendance, "attendance")
        _check_day(self.date, "a meeting's date")
        if isinstance(self.start, time) and self.start.tzinfo is not None:
            raise ContentError("a meeting's start is a local time without a zone")


class NoteEdit(_Edit, frozen=True, tag="note"):
    body: NoteBody | UnsetType = UNSET
    title: Line | UnsetType = UNSET
    meeting: ItemId | UnsetType | None = UNSET


class CommitmentEdit(_Edit, frozen=True, tag="commitment"):
    text: NonEmptyText | UnsetType = UNSET
    due: date | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        _check_day(self.due, "a due date")


class CommentEdit(_Edit, frozen=True, tag="comment"):
    text: NonEmptyText | UnsetType = UNSET


class UpdateEdit(_Edit, frozen=True, tag="update"):
    highs: Text | UnsetType = UNSET
    lows: Text | UnsetType = UNSET
    scores: Annotated[dict[ScoreName, Score], Meta(max_length=10)] | UnsetType = UNSET


Edit: TypeAlias = IssueEdit | MeetingEdit | NoteEdit | CommitmentEdit | CommentEdit | UpdateEdit


def changed_fields(edit: Edit) -> dict[str, Any]:
    """The fields an edit sets, in declaration order."""
    return {
        f: v for f in edit.__struct_fields__ if not isinstance(v := getattr(edit, f), UnsetType)
    }


class Revision(_Body, frozen=True, tag="revision"):
    """An edit of an item: only the fields that change. History keeps every revision."""

    item: ItemId
    changes: Edit

    def __post_init__(self) -> None:
        if not changed_fields(self.changes):
            raise ContentError("a revision must change at least one field")


class IssueStatus(_Body, frozen=True, tag="issue-status"):
    """parked → scheduled(meeting) → presented → closed(resolved | withdrawn)."""

    item: ItemId
    status: IssueState
    meeting: ItemId | None = None
    outcome: Outcome | None = None

    def __post_init__(self) -> None:
        if self.status == "scheduled" and self.meeting is None:
            raise ContentError("scheduling an issue names the meeting")
        if self.status in ("parked", "closed") and self.meeting is not None:
            raise ContentError("only a scheduled or presented issue names a meeting")
        if (self.status == "closed") != (self.outcome is not None):
            raise ContentError("an outcome is given exactly when an issue is closed")


class MeetingStatus(_Body, frozen=True, tag="meeting-status"):
    """planned → open → closed."""

    item: ItemId
    status: Literal["open", "closed"]


class CommitmentStatus(_Body, frozen=True, tag="commitment-status"):
    """open → done | partial | dropped, with the owner's report-back."""

    item: ItemId
    status: Literal["done", "partial", "dropped"]
    report: Text = ""


class Review(_Body, frozen=True, tag="review"):
    """A commitment was reviewed in a meeting's accountability round."""

    item: ItemId
    meeting: ItemId


class AgendaPublication(_Body, frozen=True, tag="agenda"):
    """A leader publishes a meeting's agenda: ordered issues and the commitments due."""

    meeting: ItemId
    issues: Annotated[list[ItemId], Meta(max_length=100)] = []
    commitments: Annotated[list[ItemId], Meta(max_length=1000)] = []

    def __post_init__(self) -> None:
        _unique(self.issues, "the agenda's issues")
        _unique(self.commitments, "the agenda's commitments")


class Retraction(_Body, frozen=True, tag="retraction"):
    """Withdraws an item; `entries` are the entries whose ciphertext the transport deletes."""

    item: ItemId
    entries: Annotated[list[EntryId], Meta(max_length=100_000)] = []

    def __post_init__(self) -> None:
        _unique(self.entries, "a retraction")


Content: TypeAlias = Issue | Meeting | Note | Commitment | Comment | Update
Change: TypeAlias = (
    Revision
    | IssueStatus
    | MeetingStatus
    | CommitmentStatus
    | Review
    | AgendaPublication
    | Retraction
)
Body: TypeAlias = Content | Change

_ALL: Final[tuple[type[_Body], ...]] = (
    Issue,
    Meeting,
    Note,
    Commitment,
    Comment,
    Update,
    Revision,
    IssueStatus,
    MeetingStatus,
    CommitmentStatus,
    Review,
    AgendaPublication,
    Retraction,
)
BODY_TYPES: Final[dict[str, type[_Body]]] = {str(cls.__struct_config__.tag): cls for cls in _ALL}


class _Head(Struct):
    """Just enough to give a clear error before strict decoding."""

    v: Any = None
    t: Any = None


_head_decoder = msgspec.msgpack.Decoder(_Head)
_decoder = msgspec.msgpack.Decoder(Body)
_encoder = msgspec.msgpack.Encoder()
_AT = re.compile(r"at `(\$[^`]*)`")


def _where(err: Exception) -> str:
    # msgspec messages can quote the offending value; keep only the path.
    m = _AT.search(str(err))
    return f" at {m.group(1)}" if m else ""


def decode_body(data: bytes) -> Body:
    """Strictly decode an entry body, or raise `ContentError` (never echoing content)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ContentError("a journal body must be bytes")
    if len(data) > MAX_BODY:
        raise ContentError(f"journal body is larger than {MAX_BODY} bytes")
    try:
        head = _head_decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        # A member can seal any bytes. RecursionError: nesting deeper than msgspec follows
        # (the head decoder reads the whole map, so the strict decoder below never meets
        # it). UnicodeDecodeError: msgspec's answer to invalid UTF-8 in a str.
        raise ContentError("not a Chatham journal body") from None
    if type(head.v) is not int:
        raise ContentError("journal body has no version")
    if head.v != FORMAT_VERSION:
        raise UnsupportedVersion(head.v, FORMAT_VERSION)
    if not isinstance(head.t, str) or head.t not in BODY_TYPES:
        raise ContentError("unknown journal body type")
    try:
        body: Body = _decoder.decode(data)
    except msgspec.ValidationError as e:
        if isinstance(e.__cause__, ContentError):  # one of our cross-field rules: no content in it
            raise ContentError(f"invalid {head.t} body: {e.__cause__}") from None
        raise ContentError(f"invalid {head.t} body{_where(e)}") from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise ContentError(f"malformed {head.t} body") from None
    return body


def encode_body(body: Body) -> bytes:
    """Encode a body; refuses (ContentError) anything `decode_body` would refuse."""
    if not isinstance(body, _ALL):
        raise ContentError("not a journal body type")
    data = _encoder.encode(body)
    decode_body(data)  # constructors do not validate constraints; the decoder does
    return data


def clean_line(text: str) -> str:
    """Collapse whitespace for a one-line field (titles, places)."""
    return " ".join(text.split())


def clean_text(text: str) -> str:
    """Normalize multi-line text from an editor or stdin: LF line ends, no trailing blanks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
