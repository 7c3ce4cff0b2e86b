"""The rest of what a member does in the web app, without a browser: the parking lot's filters,
commenting, withdrawing after a confirmation, exporting, promoting and demoting, the history
policy, what a departed member could read, and leaving with a plain confirmation. Each is
checked where the member's group sees it (the library after a sync), not only in the page."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

import httpx
from chatham.client import Account, Group
from chatham.client.journal import IssueItem

from tests.support.web_member import Forum, WebOf


def test_filters_comments_withdrawal_and_export(forum: Forum) -> None:
    sam = forum.sam
    gd, gs = forum.gd, forum.gs
    mine = gs.journal().new_issue(title="Selling the company?", priority="A").id
    gd.journal().new_issue(title="Hiring a COO", priority="C")
    gs.sync()
    web, csrf = forum.web(sam)

    lot = web.get("/issues?mine=true").text
    assert "Selling the company?" in lot
    assert "Hiring a COO" not in lot
    lot = web.get("/issues?priority=C").text
    assert "Hiring a COO" in lot
    assert "Selling the company?" not in lot

    r = web.post(f"/items/{mine}/comments", data={"csrf": csrf, "text": "**Update**: <i>x</i>"})
    assert "Your comment was posted." in r.text
    assert "<strong>Update</strong>: &lt;i&gt;x&lt;/i&gt;" in r.text
    assert web.post(f"/items/{mine}/comments", data={"csrf": csrf, "text": "  "}).status_code == 400

    r = web.post("/export", data={"csrf": csrf, "format": "json"})
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        exported = json.loads(z.read("chatham-export/journal.json"))
    assert "Selling the company?" in json.dumps(exported)
    assert web.post("/export", data={"format": "json"}).status_code == 403

    confirm = web.get(f"/items/{mine}/retract").text
    assert "cannot be undone" in confirm
    assert "Selling the company?" in confirm
    r = web.post(f"/items/{mine}/retract", data={"csrf": csrf})
    assert "Withdrawn: the issue is gone from everyone&#39;s view" in r.text
    gd.sync()
    assert mine not in [i.id.hex() for i in gd.journal().view.issues(None)]
    # Another member's issue: Sam may not withdraw it.
    other = next(i for i in gd.journal().view.issues(None) if i.title == "Hiring a COO")
    assert web.get(f"/items/{other.id.hex()}/retract").status_code == 403
    assert web.post(f"/items/{other.id.hex()}/retract", data={"csrf": csrf}).status_code == 403
    assert isinstance(gd.journal().item(other.id.hex()), IssueItem)


def test_roles_policy_exposure_and_leaving(
    person: Callable[..., Account],
    group_of: Callable[..., list[Group]],
    server: httpx.Client,
    web_of: WebOf,
) -> None:
    dana, sam, ana = person("Dana"), person("Sam"), person("Ana")
    gd, gs, ga = group_of(dana, sam, ana)
    web, csrf = web_of(dana, server)

    r = web.post(f"/members/{sam.member_id}/role", data={"csrf": csrf, "role": "leader"})
    assert "Sam is now a leader." in r.text
    gs.sync()
    assert {m.id: m.role for m in gs.members()}[sam.member_id] == "leader"
    r = web.post(f"/members/{sam.member_id}/role", data={"csrf": csrf, "role": "member"})
    assert "Sam is now a member (not a leader)." in r.text
    # A member may not promote anyone.
    sam_web, sam_csrf = web_of(sam, server)
    r = sam_web.post(f"/members/{sam.member_id}/role", data={"csrf": sam_csrf, "role": "leader"})
    assert r.status_code == 403

    r = web.post(
        "/policy", data={"csrf": csrf, "history": "full", "notes": "leaders", "rotate": "no"}
    )
    assert "The policy changed for what comes next." in r.text
    gs.sync()
    assert (gs.state.policy.history, gs.state.policy.notes) == ("full", "leaders")
    assert sam_web.post("/policy", data={"csrf": sam_csrf, "history": "full"}).status_code == 403

    ana_web, ana_csrf = web_of(ana, server)
    assert "Nothing written after you leave will reach you" in ana_web.get("/leave").text
    r = ana_web.post("/leave", data={"csrf": ana_csrf})
    assert "You left Thursday Forum." in r.text
    gd.sync()
    assert {m.id: m.status for m in gd.members()}[ana.member_id] == "left"
    page = web.get(f"/members/{ana.member_id}/exposure").text
    assert "Ana" in page
    assert ga.status == "left"
    assert web.post("/leave", data={}).status_code == 403


def test_an_issue_is_revised_by_its_author_and_an_update_is_posted(forum: Forum) -> None:
    dana, sam = forum.dana, forum.sam
    gd, gs = forum.gd, forum.gs
    issue = gs.journal().new_issue(title="Selling the company?", what="An offer").id
    gd.sync()
    web, csrf = forum.web(sam)
    page = web.get(f"/issues/{issue}/edit").text
    assert 'value="Selling the company?"' in page
    form = {"csrf": csrf, "title": "Selling the company?", "what": "Two offers", "priority": "A"}
    r = web.post(f"/issues/{issue}/edit", data=form)
    assert "Your issue was revised." in r.text
    assert "Nothing changed." in web.post(f"/issues/{issue}/edit", data=form).text
    gd.sync()
    revised = gd.journal().item(issue, IssueItem)
    assert (revised.body.what, revised.priority) == ("Two offers", "A")
    dana_web, dana_csrf = forum.web(dana)
    assert dana_web.get(f"/issues/{issue}/edit").status_code == 403
    r = dana_web.post(f"/issues/{issue}/edit", data={**form, "csrf": dana_csrf, "what": "Mine"})
    assert r.status_code == 403

    r = web.post(
        "/updates",
        data={"csrf": csrf, "highs": "A record month", "score_name": "energy", "score": "8"},
    )
    assert "Your update was posted." in r.text
    r = web.post("/updates", data={"csrf": csrf, "score_name": "energy", "score": "11"})
    assert r.status_code == 400
    assert "a number from 1 to 10" in r.text
    gd.sync()
    [update] = gd.journal().view.updates()
    assert (update.body.highs, update.body.scores) == ("A record month", {"energy": 8})
