"""chatham.client.journal: one group's journal, its items, and how they are shown.

    from chatham.client import Account

    with Account.open(passphrase=...) as account:
        journal = account.group().journal()
        posted = journal.new_issue(title="Selling the company?", priority="A", minutes=30)
        for ranked in journal.view.parking_lot(journal.today()):
            print(ranked.issue.title, ranked.score)

`Journal` reads offline from the verified entries in the local store and writes through
the group (docs/journal.md); `JournalView` is the pure fold of those entries into items;
the JSON shapes, Markdown and iCalendar writers render it. Errors come from
`chatham.client.errors`.
"""

from __future__ import annotations

from ._private.journal.activity import Activity, describe
from ._private.journal.content import (
    FIELD_LABELS,
    FIRST_DAY,
    FORMAT_VERSION,
    LAST_DAY,
    MAX_BODY,
    MAX_TS,
    AgendaPublication,
    Body,
    Comment,
    CommentEdit,
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
    UpdateEdit,
    clean_line,
    clean_text,
    decode_body,
    encode_body,
    field_label,
)
from ._private.journal.dates import dated, local_zone, parse_date, relative_date
from ._private.journal.export import ExportFormat, write_export
from ._private.journal.files import (
    MAX_ATTACHMENT,
    FileCopies,
    MissingFile,
    Progress,
    SavedFile,
    file_name,
    file_size,
    saved_name,
)
from ._private.journal.fold import JournalView, SearchHit, fold_text, fold_with_map
from ._private.journal.ics import ics_calendar, ics_escape, ics_fold
from ._private.journal.items import (
    KINDS,
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
    thread,
)
from ._private.journal.markdown import issue_sections, markdown_files
from ._private.journal.permissions import PERMISSIONS, Permission, allowed, permission_table
from ._private.journal.roles import EntryMeta, RoleHistory, role_history
from ._private.journal.service import AGENDA_ISSUES, Journal, MeetingChange, Posted
from ._private.journal.shapes import (
    EXPORT_SCHEMA,
    agenda_json,
    export_json,
    iso_ts,
    item_json,
    ranked_json,
    review_json,
)

__all__ = [
    "AGENDA_ISSUES",
    "EXPORT_SCHEMA",
    "FIELD_LABELS",
    "FIRST_DAY",
    "FORMAT_VERSION",
    "KINDS",
    "LAST_DAY",
    "MAX_ATTACHMENT",
    "MAX_BODY",
    "MAX_TS",
    "PERMISSIONS",
    "Activity",
    "Agenda",
    "AgendaPublication",
    "Body",
    "Comment",
    "CommentEdit",
    "CommentItem",
    "Commitment",
    "CommitmentEdit",
    "CommitmentItem",
    "CommitmentStatus",
    "EntryMeta",
    "Event",
    "ExportFormat",
    "FileCopies",
    "FileRef",
    "Issue",
    "IssueEdit",
    "IssueItem",
    "IssueStatus",
    "Item",
    "Journal",
    "JournalView",
    "JournalWarning",
    "Kind",
    "Meeting",
    "MeetingChange",
    "MeetingEdit",
    "MeetingItem",
    "MeetingStatus",
    "MissingFile",
    "Note",
    "NoteEdit",
    "NoteItem",
    "Permission",
    "Posted",
    "Progress",
    "RankedIssue",
    "Retraction",
    "Review",
    "ReviewRound",
    "Revision",
    "RoleHistory",
    "SavedFile",
    "SearchHit",
    "Update",
    "UpdateEdit",
    "UpdateItem",
    "agenda_json",
    "allowed",
    "clean_line",
    "clean_text",
    "dated",
    "decode_body",
    "describe",
    "encode_body",
    "export_json",
    "field_label",
    "file_name",
    "file_size",
    "fold_text",
    "fold_with_map",
    "ics_calendar",
    "ics_escape",
    "ics_fold",
    "iso_ts",
    "issue_sections",
    "item_json",
    "local_zone",
    "markdown_files",
    "parse_date",
    "permission_table",
    "ranked_json",
    "relative_date",
    "review_json",
    "role_history",
    "saved_name",
    "short_id",
    "thread",
    "write_export",
]
