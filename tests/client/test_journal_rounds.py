"""The meeting rounds as a month of real use found them: closing a meeting returns the
issues it did not reach, an unreported commitment carries over instead of freezing,
departed members' issues leave the parking lot, and a leader may record a member's
commitment during the meeting."""

from __future__ import annotations

from datetime import date

from chatham.client.journal import (
    AgendaPublication,
    Commitment,
    CommitmentStatus,
    Issue,
    IssueStatus,
    Meeting,
    MeetingStatus,
    Review,
    RoleHistory,
    allowed,
)

from tests.client.test_journal import ANN, BOB, CAL, LEE, TODAY, G

DEC = date(2026, 12, 3)
JAN = date(2027, 1, 7)


def test_closing_a_meeting_returns_the_issues_it_did_not_reach() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=DEC, title="December")
    done, left = g.post(ANN, Issue, title="presented"), g.post(BOB, Issue, title="not reached")
    g.post(LEE, AgendaPublication, meeting=m, issues=[done, left])
    g.post(LEE, MeetingStatus, item=m, status="open")
    g.post(LEE, IssueStatus, item=done, status="presented", meeting=m)
    g.post(LEE, MeetingStatus, item=m, status="closed")
    assert g.issue(done).status == "presented"
    back = g.issue(left)
    assert (back.status, back.meeting) == ("parked", None)
    assert back.history[-1].action == "unscheduled"
    assert back.history[-1].fields == {"meeting": m}
    assert [r.issue.id for r in g.view.parking_lot(TODAY)] == [left]
    nxt = g.post(LEE, Meeting, date=JAN, title="January")
    assert [i.id for i in g.view.agenda(nxt, TODAY).issues] == [left]
    assert g.codes(left) == []


def test_a_review_needs_a_report_and_unreported_commitments_carry_over() -> None:
    g = G()
    dec = g.post(LEE, Meeting, date=DEC, title="December")
    reported = g.post(ANN, Commitment, owner=ANN, text="call the bank", due=date(2026, 12, 1))
    silent = g.post(BOB, Commitment, owner=BOB, text="hire", due=date(2026, 12, 1))
    g.post(ANN, CommitmentStatus, item=reported, status="done", report="called")
    g.post(LEE, Review, item=reported, meeting=dec)
    early = g.post(LEE, Review, item=silent, meeting=dec)  # no report yet: not a review
    assert g.commitment(reported).reviewed_at == dec
    assert g.commitment(silent).reviewed_at is None
    assert g.codes(early) == ["invalid_transition"]
    jan = g.post(LEE, Meeting, date=JAN, title="January")
    assert [c.id for c in g.view.due(jan)] == [silent]  # carried over, visibly
    g.post(BOB, CommitmentStatus, item=silent, status="partial", report="one interview")
    g.post(LEE, Review, item=silent, meeting=jan)
    assert g.commitment(silent).reviewed_at == jan


def test_departed_members_issues_leave_the_parking_lot_and_the_draft_agenda() -> None:
    roles = RoleHistory.of({LEE: "Lee"}, {ANN: "Ann", BOB: "Bob"})
    g = G(roles)
    m = g.post(LEE, Meeting, date=DEC, title="December")
    stays, goes = g.post(ANN, Issue, title="stays"), g.post(BOB, Issue, title="goes")
    gone_scheduled = g.post(BOB, Issue, title="scheduled, then Bob left")
    g.post(BOB, IssueStatus, item=gone_scheduled, status="scheduled", meeting=m)
    roles.depart(BOB, seq=5)
    g.view.set_roles(roles)
    assert [r.issue.id for r in g.view.parking_lot(TODAY)] == [stays]
    assert [i.id for i in g.view.agenda(m, TODAY).issues] == [stays]
    assert g.issue(goes).status == "parked"  # still in the record, just not ranked


def test_a_leader_records_a_members_commitment_during_the_meeting() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=DEC, title="December")
    c = g.post(LEE, Commitment, owner=ANN, text="Ann will call the bank", meeting=m)
    made = g.commitment(c)
    assert (made.owner, made.author) == (ANN, LEE)
    g.post(ANN, CommitmentStatus, item=c, status="done", report="called")
    assert g.commitment(c).status == "done"
    # Not for someone who is not a member, and not by a member for someone else.
    bad = g.post(LEE, Commitment, owner=b"E" * 32, text="a stranger's")
    nosy = g.post(BOB, Commitment, owner=CAL, text="Cal will")
    assert g.codes(bad) == ["unauthorized"]
    assert g.codes(nosy) == ["unauthorized"]
    assert allowed("commitment.create", role="leader", owner=False)
    assert not allowed("commitment.create", role="member", owner=False)
