"""The one permission table: which member may do which journal action (docs/journal.md §4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from .roles import NotesPolicy, Role

Capacity: TypeAlias = Literal["member", "owner", "leader"]


@dataclass(frozen=True)
class Permission:
    action: str
    what: str
    who: frozenset[Capacity]
    notes_policy: bool = False  # under notes policy "leaders", the author must also be a leader


def _p(action: str, what: str, *who: Capacity, notes_policy: bool = False) -> Permission:
    return Permission(action, what, frozenset(who), notes_policy)


# The one table. "owner" is the member who created the item (for a commitment, its
# owner: its author, or the member a leader recorded it for; for a single change, its
# author).
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
    _p(
        "commitment.create",
        "make a commitment (a leader may record one for a member)",
        "owner",
        "leader",
    ),
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


def permission(action: str) -> Permission:
    """The table's row for `action` (KeyError for an action the table does not name)."""
    return _PERMS[action]


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


def full_powers(role: Role | None, *, notes: NotesPolicy) -> bool:
    """Whether a member with `role` under `notes` may do everything the table lets anyone
    do (owning the item where it asks for an owner): then nothing they were allowed to
    write can have been taken from them since."""
    return all(
        allowed(p.action, role=role, owner=owner, notes=notes)
        or not allowed(p.action, role="leader", owner=owner)
        for p in PERMISSIONS
        for owner in (False, True)
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


# What a refusal says, per action of the permission table (docs/journal.md §4).
REFUSALS: Final[dict[str, tuple[str, str]]] = {
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
    "commitment.create": (
        "only a leader may record a commitment for another member",
        "the member makes it with `chatham commit new TEXT`",
    ),
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


def no_longer_allowed(action: str, *, role: Role | None, notes: NotesPolicy) -> str:
    """Why a write its author could make when they wrote it may not be sent now (the rules
    changed while it waited to be sent), in the member's words."""
    p = _PERMS[action]
    if role is None:
        return "you are no longer a member of the group"
    if p.notes_policy and notes == "leaders" and role != "leader":
        return "the group's leaders now keep notes to leaders only"
    if "leader" in p.who and role != "leader":
        return "you are no longer a leader"
    return REFUSALS[action][0]


KIND_LIST: Final = {
    "issue": "`chatham issue list`",
    "meeting": "`chatham meeting list`",
    "note": "`chatham note list`",
    "commitment": "`chatham commit list`",
    "comment": "`chatham list --type comment`",
    "update": "`chatham update list`",
}
