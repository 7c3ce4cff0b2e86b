"""Ranking and rounds: the parking lot's order, the agenda, commitments due, the review round.

score = priority points + waiting points + turn points (docs/journal.md, "The parking lot"):
priority A/B/C is worth 60/30/0, every full week parked one point (at most 26), and every
meeting held since the owner last presented ten (at most three meetings; "never presented"
counts as three). Ties keep the merge order.
"""

from __future__ import annotations

import bisect
from datetime import date
from typing import TYPE_CHECKING, Final

from ...errors import UnknownItem
from .items import Agenda, CommitmentItem, IssueItem, MeetingItem, RankedIssue, ReviewRound

if TYPE_CHECKING:
    from .fold import JournalView

PRIORITY_POINTS: Final = {"A": 60, "B": 30, "C": 0}
MAX_WAITING_POINTS: Final = 26  # one point per full week parked
TURN_POINTS: Final = 10  # per meeting held since the owner last presented
MAX_TURNS: Final = 3  # "never presented" counts as this many


def _last_presented(view: JournalView) -> dict[bytes, date]:
    last: dict[bytes, date] = {}
    for it in view.issues():
        if it.presented_ts is not None:
            m = view.get(it.presented_at) if it.presented_at is not None else None
            d = m.date if isinstance(m, MeetingItem) else view.day(it.presented_ts)
            if it.author not in last or d > last[it.author]:
                last[it.author] = d
    return last


def parking_lot(view: JournalView, today: date) -> list[RankedIssue]:
    """Parked issues of current members, best first (a departed member's issues stay in the
    record but are not ranked: they will not be presented)."""
    held = sorted(m.date for m in view.meetings("closed") if m.date <= today)
    last = _last_presented(view)
    present = set(view.roles.members())
    ranked: list[tuple[tuple[int, tuple[int, int, bytes]], RankedIssue]] = []
    for it in view.issues("parked"):
        if it.author not in present:
            continue  # a departed member will not present it
        p = PRIORITY_POINTS[it.priority]
        w = min(max((today - view.day(it.created)).days, 0) // 7, MAX_WAITING_POINTS)
        seen = last.get(it.author)
        since = None if seen is None else len(held) - bisect.bisect_right(held, seen)
        t = TURN_POINTS * (MAX_TURNS if since is None else min(since, MAX_TURNS))
        ri = RankedIssue(it, p + w + t, p, w, t, since)
        ranked.append(((-ri.score, view.order_key(it.id)), ri))
    ranked.sort(key=lambda x: x[0])
    return [ri for _, ri in ranked]


def _meeting(view: JournalView, meeting: bytes) -> MeetingItem:
    m = view.show(meeting)
    if not isinstance(m, MeetingItem):
        raise UnknownItem
    return m


def due(view: JournalView, meeting: bytes) -> list[CommitmentItem]:
    """Commitments to review at a meeting: due by its date, made before it, not reviewed
    elsewhere (overdue ones carry over until a meeting reviews them)."""
    m = _meeting(view, meeting)
    out = []
    for c in view.commitments():
        if c.due_date is None or c.due_date > m.date:
            continue
        if c.reviewed_at is not None and c.reviewed_at != m.id:
            continue
        made = view.get(c.body.meeting) if c.body.meeting is not None else None
        if isinstance(made, MeetingItem) and (made.id == m.id or made.date > m.date):
            continue
        out.append(c)
    return out


def agenda(view: JournalView, meeting: bytes, today: date) -> Agenda:
    """The published agenda, or a draft: issues scheduled for the meeting, then the
    parking lot in rank order (while it fits the meeting's minutes, if set), and
    the commitments due."""
    m = _meeting(view, meeting)
    present = set(view.roles.members())
    scheduled = [
        ri.issue
        for ri in _rank(view.issues("scheduled"))
        if ri.issue.meeting == m.id and (m.agenda is not None or ri.issue.author in present)
    ]
    if m.agenda is not None:
        issues = [i for i in (view.get(x) for x in m.agenda.issues) if isinstance(i, IssueItem)]
        issues += [i for i in scheduled if i not in issues]
        owed = (view.get(x) for x in m.agenda.commitments)
        commitments = [c for c in owed if isinstance(c, CommitmentItem)]
        return Agenda(m, issues, commitments, True, m.agenda_by)
    issues = list(scheduled)
    budget = m.body.minutes
    used = sum(i.minutes for i in issues)
    for ri in parking_lot(view, today):
        if budget is not None and used + ri.issue.minutes > budget:
            continue
        issues.append(ri.issue)
        used += ri.issue.minutes
    return Agenda(m, issues, due(view, m.id), False, None)


def _rank(issues: list[IssueItem]) -> list[RankedIssue]:
    # Scheduled issues keep the parking lot's order among themselves.
    order = {i.id: n for n, i in enumerate(issues)}
    pri = {"A": 0, "B": 1, "C": 2}
    return [
        RankedIssue(i, 0, 0, 0, 0, None)
        for i in sorted(issues, key=lambda i: (pri[i.priority], order[i.id]))
    ]


def review(view: JournalView, meeting: bytes) -> list[ReviewRound]:
    """The accountability round: every current member (and any other owner with
    something due), by name, with the commitments due at the meeting."""
    by: dict[bytes, list[CommitmentItem]] = {m: [] for m in view.roles.members()}
    for c in due(view, meeting):
        by.setdefault(c.owner, []).append(c)
    order = sorted(by, key=lambda m: (view.name(m).casefold(), m))
    return [ReviewRound(m, by[m]) for m in order]
