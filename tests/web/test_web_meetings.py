"""A leader changes a meeting in the web app as the CLI can: reschedules it (a past date is
allowed, with a note), changes its place, records who attended, and cancels a planned one
after a confirmation, its scheduled issues going back to the parking lot. A member may do
none of it, and none of these forms works without the cookie, from another origin or without
the CSRF token; a hostile title stays text."""

from __future__ import annotations

from datetime import date, timedelta

from chatham.client.journal import MeetingItem

from tests.support.web_member import Forum

EVIL = "<script>alert('m')</script> Board & co"


def test_a_leader_reschedules_records_attendance_and_cancels_a_meeting(forum: Forum) -> None:
    dana, sam = forum.dana, forum.sam
    gd, gs = forum.gd, forum.gs
    web, csrf = forum.web(dana)
    today = date.today()
    r = web.post(
        "/meetings",
        data={"csrf": csrf, "title": EVIL, "date": (today - timedelta(days=2)).isoformat()},
    )
    assert "in the past" in r.text
    ref = str(r.url).rsplit("/", 1)[1]
    assert (
        EVIL.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
        in r.text
    )
    assert "<script>alert" not in r.text

    page = web.get(f"/meetings/{ref}/edit").text
    assert f'value="{(today - timedelta(days=2)).isoformat()}"' in page
    assert "<script>alert" not in page
    moved = (today + timedelta(days=7)).isoformat()
    r = web.post(
        f"/meetings/{ref}/edit",
        data={"csrf": csrf, "title": "December forum", "date": moved, "place": "Room 4"},
    )
    assert f"The meeting is moved to {moved} (in 7 days)." in r.text
    assert "Room 4" in r.text
    gs.sync()
    m = gs.journal().item(ref, MeetingItem)
    assert (m.date.isoformat(), m.body.place, m.title) == (moved, "Room 4", "December forum")

    # Clearing an optional field clears it; nothing changed says so.
    r = web.post(
        f"/meetings/{ref}/edit",
        data={"csrf": csrf, "title": "December forum", "date": moved, "place": ""},
    )
    assert "Room 4" not in r.text
    r = web.post(
        f"/meetings/{ref}/edit", data={"csrf": csrf, "title": "December forum", "date": moved}
    )
    assert "Nothing changed." in r.text
    r = web.post(f"/meetings/{ref}/edit", data={"csrf": csrf, "title": "", "date": moved})
    assert r.status_code == 400
    assert "needs a title" in r.text

    r = web.post(
        f"/meetings/{ref}/attendance",
        data={"csrf": csrf, "member": [dana.member_id, sam.member_id]},
    )
    assert "Attendance recorded: 2 members." in r.text
    assert "Attended: Dana, Sam" in r.text

    # A member sees none of it and may do none of it.
    sam_web, sam_csrf = forum.web(sam)
    assert "Change, reschedule or cancel" not in sam_web.get(f"/items/{ref}").text
    assert sam_web.get(f"/meetings/{ref}/edit").status_code == 403
    r = sam_web.post(
        f"/meetings/{ref}/edit", data={"csrf": sam_csrf, "title": "Mine now", "date": moved}
    )
    assert r.status_code == 403
    assert sam_web.post(f"/meetings/{ref}/cancel", data={"csrf": sam_csrf}).status_code == 403
    gd.sync()
    assert gd.journal().item(ref, MeetingItem).title == "December forum"

    # Cancelling: a confirmation that names what happens to its agenda, then done.
    issue = gs.journal().new_issue(title="Selling the company?")
    gs.sync()
    gd.sync()
    jd = gd.journal()
    jd.schedule(jd.item(issue.id), jd.item(ref, MeetingItem))
    confirm = web.get(f"/meetings/{ref}/cancel").text
    assert "Selling the company?" in confirm
    assert "back to the parking lot" in confirm
    r = web.post(f"/meetings/{ref}/cancel", data={"csrf": csrf})
    assert (
        "December forum is cancelled. 1 issue scheduled for it is back in the parking lot."
        in r.text
    )
    assert "Selling the company?" in web.get("/issues").text
    assert web.get(f"/items/{ref}").status_code == 404


def test_the_meeting_forms_are_refused_without_cookie_origin_or_csrf(forum: Forum) -> None:
    dana, sam = forum.dana, forum.sam
    gd = forum.gd
    meeting = gd.journal().new_meeting(title="December forum", date=date.today())
    web, csrf = forum.web(dana)
    ref = meeting.id
    data = {"title": "Hijacked", "date": date.today().isoformat(), "member": sam.member_id}
    for path in (f"/meetings/{ref}/edit", f"/meetings/{ref}/attendance", f"/meetings/{ref}/cancel"):
        assert web.post(path, data=data).status_code == 403  # no CSRF token
        assert web.post(path, data={**data, "csrf": "x" * 43}).status_code == 403
        cross = {"origin": "http://evil.example", "sec-fetch-site": "cross-site"}
        assert web.post(path, data={**data, "csrf": csrf}, headers=cross).status_code == 403
        rebinding = {"host": "evil.example:48123"}
        assert web.post(path, data={**data, "csrf": csrf}, headers=rebinding).status_code == 403
        web.cookies.clear()
        assert web.post(path, data={**data, "csrf": csrf}).status_code == 403
        web, csrf = forum.web(dana)
    page = web.get(f"/meetings/{ref}/edit")
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    gd.sync()
    m = gd.journal().item(ref, MeetingItem)
    assert (m.title, m.body.attendance, m.status) == ("December forum", [], "planned")


def test_a_member_planning_a_meeting_is_refused_not_shown_a_form_to_fix(forum: Forum) -> None:
    sam = forum.sam
    gd = forum.gd
    web, csrf = forum.web(sam)
    data = {"csrf": csrf, "title": "My own forum", "date": date.today().isoformat()}
    r = web.post("/meetings", data=data)
    assert r.status_code == 403
    assert "Only leaders may plan a meeting" in r.text
    assert 'action="/meetings"' not in r.text  # no form offered to "fix"
    gd.sync()
    assert gd.journal().view.meetings() == []
