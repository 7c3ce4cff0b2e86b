"""What the CLI offers around a meeting, in the web app: a leader chooses and orders the agenda,
an issue goes on and off a meeting's agenda, a leader records a member's commitment as it is
made, and a note's author revises it (history kept). Members are refused what is for
leaders, and every form needs the CSRF token."""

from __future__ import annotations

import re
from datetime import date, timedelta

from chatham.client.journal import CommitmentItem, IssueItem, MeetingItem, NoteItem

from tests.support.web_member import Forum


def test_a_leader_chooses_and_orders_the_agenda(forum: Forum) -> None:
    dana, sam = forum.dana, forum.sam
    gd, gs = forum.gd, forum.gs
    js = gs.journal()
    first = js.new_issue(title="First <em>one</em>", priority="A").id
    second = js.new_issue(title="Second", priority="B").id
    third = js.new_issue(title="Third", priority="C").id
    gs.sync()
    meeting = gd.journal().new_meeting(title="December forum", date=date.today() + timedelta(1))
    web, csrf = forum.web(dana)
    page = web.get(f"/items/{meeting.id}").text
    form = page.split('id="choose-agenda"', 1)[1]
    assert form.index("First &lt;em&gt;one&lt;/em&gt;") < form.index("Second")
    # Third first, then First; Second stays in the parking lot.
    r = web.post(
        f"/meetings/{meeting.id}/agenda",
        data={
            "csrf": csrf,
            "choose": "yes",
            "issue": [first, third],
            f"order-{first}": "2",
            f"order-{third}": "1",
            f"order-{second}": "3",
        },
    )
    assert "The agenda is published to the group." in r.text
    gs.sync()
    agenda = gs.journal().view.agenda(bytes.fromhex(meeting.id), date.today())
    assert agenda.published
    assert [i.id.hex() for i in agenda.issues] == [third, first]
    # A member may not.
    sam_web, sam_csrf = forum.web(sam)
    assert 'id="choose-agenda"' not in sam_web.get(f"/items/{meeting.id}").text
    r = sam_web.post(
        f"/meetings/{meeting.id}/agenda",
        data={"csrf": sam_csrf, "choose": "yes", "issue": [second]},
    )
    assert r.status_code == 403
    assert web.post(f"/meetings/{meeting.id}/agenda", data={"choose": "yes"}).status_code == 403


def test_an_issue_goes_on_and_off_the_next_meetings_agenda(forum: Forum) -> None:
    sam = forum.sam
    gd, gs = forum.gd, forum.gs
    meeting = gd.journal().new_meeting(title="December forum", date=date.today() + timedelta(3))
    issue = gs.journal().new_issue(title="Selling the company?").id
    gd.sync()
    web, csrf = forum.web(sam)
    page = web.get(f"/items/{issue}").text
    assert "Put it on the agenda of December forum" in page
    r = web.post(
        f"/issues/{issue}/status",
        data={"csrf": csrf, "action": "schedule", "meeting": meeting.id},
    )
    assert "The issue is scheduled." in r.text
    assert "Take it off the agenda" in r.text
    gd.sync()
    assert gd.journal().item(issue, IssueItem).status == "scheduled"
    r = web.post(f"/issues/{issue}/status", data={"csrf": csrf, "action": "unschedule"})
    assert "off the agenda, back in the parking lot" in r.text
    gd.sync()
    assert gd.journal().item(issue, IssueItem).status == "parked"


def test_a_leader_records_a_members_commitment_and_a_member_cannot(forum: Forum) -> None:
    dana, sam = forum.dana, forum.sam
    gs = forum.gs
    web, csrf = forum.web(dana)
    page = web.get("/commitments").text
    assert f'<option value="{sam.member_id}"' in page
    r = web.post(
        "/commitments",
        data={"csrf": csrf, "text": "Call the bank", "owner": sam.member_id, "meeting": ""},
    )
    assert "Sam&#39;s commitment is recorded." in r.text
    ref = re.search(r"/items/([0-9a-f]+)", str(r.url))
    assert ref is not None
    gs.sync()
    c = gs.journal().item(ref.group(1), CommitmentItem)
    assert (c.owner.hex(), c.author.hex()) == (sam.member_id, dana.member_id)
    # A member sees no choice, and a forged one is refused.
    sam_web, sam_csrf = forum.web(sam)
    assert 'name="owner"' not in sam_web.get("/commitments").text
    r = sam_web.post(
        "/commitments",
        data={"csrf": sam_csrf, "text": "Dana does it", "owner": dana.member_id, "meeting": ""},
    )
    assert r.status_code == 403
    assert web.post("/commitments", data={"text": "x", "owner": sam.member_id}).status_code == 403


def test_a_notes_author_revises_it_and_history_keeps_both(forum: Forum) -> None:
    dana, sam = forum.dana, forum.sam
    gd, gs = forum.gd, forum.gs
    note = gs.journal().new_note("First draft", title="Decisions", meeting=None).id
    gd.sync()
    web, csrf = forum.web(sam)
    assert "Edit the note" in web.get(f"/items/{note}").text
    page = web.get(f"/notes/{note}/edit").text
    assert ">First draft</textarea>" in page
    r = web.post(
        f"/notes/{note}/edit",
        data={"csrf": csrf, "title": "Decisions", "body": "Second <script>x</script>"},
    )
    assert "Your note was revised" in r.text
    assert "Second &lt;script&gt;x&lt;/script&gt;" in r.text
    assert "edited (body)" in r.text
    r = web.post(f"/notes/{note}/edit", data={"csrf": csrf, "title": "Decisions", "body": " "})
    assert r.status_code == 400
    assert "a note needs some text" in r.text.lower()
    # Only its author: Dana (a leader) is refused too, as in the CLI.
    dana_web, dana_csrf = forum.web(dana)
    assert "Edit the note" not in dana_web.get(f"/items/{note}").text
    r = dana_web.post(
        f"/notes/{note}/edit", data={"csrf": dana_csrf, "title": "Mine", "body": "Rewritten"}
    )
    assert r.status_code == 403
    assert web.post(f"/notes/{note}/edit", data={"body": "Forged"}).status_code == 403
    gd.sync()
    n = gd.journal().item(note, NoteItem)
    assert n.body.body == "Second <script>x</script>"
    assert [e.action for e in n.history] == ["created", "edited"]
    assert isinstance(gd.journal().item(note), NoteItem)
    assert not isinstance(n, MeetingItem)
