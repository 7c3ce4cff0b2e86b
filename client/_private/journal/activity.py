"""Activity: what new entries did, in a member's words ("Sam posted an issue"), for live
updates and notifications.

`describe` reads verified, opened entries (`Group.entries(after=cursor)`) and says for each
who did what to which item. The sentence (`Activity.text`) names the author and the kind of
thing, never content; the item's title is a separate field, so a front door shows it only
where the member chose to (a notification on the desktop, say). An entry that does not
decode is left out: the view reports it as a warning.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from ...errors import ContentError
from . import content as c
from .items import CommentItem, Kind

if TYPE_CHECKING:
    from ..engine.results import OpenedEntry
    from .fold import JournalView


@dataclass(frozen=True)
class Activity:
    """One new entry, described: `text` is "<who> <action>", free of content."""

    entry: str
    """The entry's id (hex)."""
    cursor: int
    author: str
    """The author's member id (hex)."""
    who: str
    """The author's display name (or the first 8 hex digits of their id)."""
    action: str
    """What they did, e.g. "posted an issue", "opened the meeting"."""
    item: str | None
    """The item it concerns (hex id), to link to; None when it no longer shows."""
    kind: Kind | None
    title: str | None
    """The item's title: member-written content, shown only where the member chose."""

    @property
    def text(self) -> str:
        return f"{self.who} {self.action}"


_STATUS_WORDS: Final = {
    "scheduled": "scheduled an issue",
    "presented": "marked an issue presented",
    "closed": "closed an issue",
    "parked": "put an issue back in the parking lot",
}
_COMMITMENT_WORDS: Final = {
    "done": "reported a commitment done",
    "partial": "reported a commitment partly done",
    "dropped": "dropped a commitment",
}
_CREATED: Final[dict[type[c.Body], tuple[str, Kind]]] = {
    c.Issue: ("posted an issue", "issue"),
    c.Meeting: ("planned a meeting", "meeting"),
    c.Note: ("wrote a note", "note"),
    c.Commitment: ("made a commitment", "commitment"),
    c.Update: ("posted a monthly update", "update"),
}


def _a(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _action(body: c.Body, target_kind: str | None) -> str:
    thing = _a(target_kind) if target_kind else "an item"
    if isinstance(body, c.Comment):
        return f"attached a file to {thing}" if body.file is not None else f"commented on {thing}"
    if isinstance(body, c.Revision):
        return f"edited {thing}"
    if isinstance(body, c.IssueStatus):
        return _STATUS_WORDS[body.status]
    if isinstance(body, c.MeetingStatus):
        return "opened the meeting" if body.status == "open" else "closed the meeting"
    if isinstance(body, c.CommitmentStatus):
        return _COMMITMENT_WORDS[body.status]
    if isinstance(body, c.Review):
        return "reviewed a commitment"
    if isinstance(body, c.AgendaPublication):
        return "published the agenda"
    if isinstance(body, c.Retraction):
        return f"withdrew {thing}"
    raise AssertionError(f"no words for {type(body).__name__}")  # pragma: no cover


def _target(body: c.Body) -> bytes | None:
    if isinstance(body, c.AgendaPublication):
        return body.meeting
    item = getattr(body, "item", None)
    return item if isinstance(item, bytes) else None


def describe(view: JournalView, entries: Iterable[OpenedEntry]) -> list[Activity]:
    """Each decodable entry as an `Activity`, in the order given."""
    out: list[Activity] = []
    for e in entries:
        try:
            body = c.decode_body(e.body)
        except ContentError:
            continue
        created = _CREATED.get(type(body))
        kind: Kind | None
        if created is not None:
            action, kind = created
            it = view.get(bytes.fromhex(e.id))
        else:
            target = _target(body)
            it = view.get(target) if target is not None else None
            # A comment shows on the item it answers: link there, name that item's kind.
            while isinstance(body, c.Comment) and isinstance(it, CommentItem):
                parent = view.get(it.parent)
                if parent is None:
                    break
                it = parent
            kind = it.kind if it is not None else None
            action = _action(body, kind)
        who = e.author_name or view.name(bytes.fromhex(e.author))
        item = it.id.hex() if it is not None else None
        title = it.title if it is not None else None
        out.append(Activity(e.id, e.cursor, e.author, who, action, item, kind, title))
    return out
