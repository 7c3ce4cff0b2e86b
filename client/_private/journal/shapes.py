"""The journal as JSON: the stable shapes `--json` prints and the JSON export writes
(docs/journal.md §11). Keys are a schema: scripts depend on them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any, Final

from .fold import JournalView
from .items import (
    Agenda,
    CommentItem,
    CommitmentItem,
    Event,
    IssueItem,
    Item,
    MeetingItem,
    NoteItem,
    RankedIssue,
    ReviewRound,
    UpdateItem,
)

EXPORT_SCHEMA: Final = "chatham-journal-export/1"


def iso_ts(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _hex(b: bytes | None) -> str | None:
    return None if b is None else b.hex()


def _event_json(view: JournalView, e: Event) -> dict[str, Any]:
    return {
        "entry": e.entry_id.hex(),
        "author": e.author.hex(),
        "author_name": view.roles.name(e.author),
        "at": iso_ts(e.ts),
        "action": e.action,
        "fields": _plain(e.fields),
    }


def item_json(view: JournalView, item: Item, *, history: bool = False) -> dict[str, Any]:
    """One item as a JSON-ready dict; `id`, `type`, `title` and the kind's fields."""
    d: dict[str, Any] = {
        "id": item.id.hex(),
        "type": item.kind,
        "title": item.title,
        "author": item.author.hex(),
        "author_name": view.roles.name(item.author),
        "created": iso_ts(item.created),
        "updated": iso_ts(item.updated),
    }
    if isinstance(item, IssueItem):
        b = item.body
        d |= {
            "priority": b.priority,
            "minutes": b.minutes,
            "status": item.status,
            "meeting": _hex(item.meeting),
            "outcome": item.outcome,
            "presented_at": _hex(item.presented_at),
            "what": b.what,
            "why": b.why,
            "tried": b.tried,
            "ask": b.ask,
            "not_ask": b.not_ask,
            "background": b.background,
            "options": b.options,
            "impact": b.impact,
        }
    elif isinstance(item, MeetingItem):
        mb = item.body
        a = item.agenda
        d |= {
            "date": mb.date.isoformat(),
            "start": None if mb.start is None else mb.start.isoformat("minutes"),
            "minutes": mb.minutes,
            "place": mb.place,
            "status": item.status,
            "attendance": [m.hex() for m in mb.attendance],
            "agenda": None
            if a is None
            else {
                "published_by": _hex(item.agenda_by),
                "issues": [i.hex() for i in a.issues],
                "commitments": [c.hex() for c in a.commitments],
            },
        }
    elif isinstance(item, NoteItem):
        d |= {"meeting": _hex(item.meeting), "body": item.body.body}
    elif isinstance(item, CommitmentItem):
        d |= {
            "owner": item.owner.hex(),
            "owner_name": view.roles.name(item.owner),
            "text": item.text,
            "status": item.status,
            "due": None if item.due_date is None else item.due_date.isoformat(),
            "due_is_next_meeting": item.body.due is None,
            "report": item.report,
            "reviewed_at": _hex(item.reviewed_at),
            "meeting": _hex(item.body.meeting),
        }
    elif isinstance(item, CommentItem):
        f = item.body.file
        d |= {
            "item": item.parent.hex(),
            "text": item.body.text,
            "file": None
            if f is None
            else {"name": f.name, "size": f.size, "media_type": f.media_type},
        }
    elif isinstance(item, UpdateItem):
        d |= {
            "meeting": _hex(item.body.meeting),
            "highs": item.body.highs,
            "lows": item.body.lows,
            "scores": dict(item.body.scores),
        }
    d["comments"] = [c.id.hex() for c in item.comments]
    if history:
        d["history"] = [_event_json(view, e) for e in item.history]
    return d


def ranked_json(view: JournalView, ranked: Sequence[RankedIssue]) -> list[dict[str, Any]]:
    """Parking-lot items in rank order, each with its score and the score's parts."""
    return [
        item_json(view, r.issue)
        | {
            "rank": n,
            "score": r.score,
            "points": {
                "priority": r.priority_points,
                "waiting": r.waiting_points,
                "turn": r.turn_points,
            },
            "meetings_since_presented": r.meetings_since_presented,
        }
        for n, r in enumerate(ranked, 1)
    ]


def agenda_json(view: JournalView, agenda: Agenda) -> dict[str, Any]:
    return {
        "meeting": item_json(view, agenda.meeting),
        "published": agenda.published,
        "published_by": _hex(agenda.published_by),
        "minutes": agenda.minutes,
        "issues": [item_json(view, i) for i in agenda.issues],
        "commitments": [item_json(view, c) for c in agenda.commitments],
    }


def review_json(view: JournalView, rounds: Sequence[ReviewRound]) -> list[dict[str, Any]]:
    return [
        {
            "member": r.member.hex(),
            "name": view.roles.name(r.member),
            "commitments": [item_json(view, c) for c in r.commitments],
        }
        for r in rounds
    ]


def export_json(view: JournalView, *, now: int) -> dict[str, Any]:
    """The whole journal as one document (schema `chatham-journal-export/1`)."""
    members = sorted(
        {m for m in view.roles.members()}
        | {it.author for it in view.list_items()}
        | {c.owner for c in view.commitments()}
    )
    kinds = ("issue", "meeting", "note", "commitment", "comment", "update")
    return {
        "schema": EXPORT_SCHEMA,
        "exported_at": iso_ts(now),
        "members": [{"id": m.hex(), "name": view.roles.name(m)} for m in members],
    } | {
        f"{k}s": [item_json(view, it, history=True) for it in view.list_items(k)]  # type: ignore[arg-type]
        for k in kinds
    }
