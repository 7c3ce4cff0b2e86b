"""`Journal.activity`: what a sync brought, in words that name who did what and never what
they wrote; and `Journal.refresh_if_changed`, which a long-lived front door calls per page."""

from __future__ import annotations

from collections.abc import Callable

from chatham.client import Group


def test_activity_says_who_did_what_without_content(person, group_of: Callable[..., list[Group]]):
    dana, sam = person("Dana"), person("Sam")
    gd, gs = group_of(dana, sam)
    jd, js = gd.journal(), gs.journal()
    before = jd.cursor()
    issue = js.new_issue(title="Selling the bakery", what="An offer came in", priority="A")
    js.comment(js.item(issue.id), "Secret detail in a comment")
    meeting = jd.new_meeting(date=jd.today(), title="December forum")
    jd.publish_agenda(jd.item(meeting.id))
    js.edit_issue(js.item(issue.id), why="Twenty years")
    gd.sync()
    jd.refresh()
    acts = jd.activity(before)
    texts = [a.text for a in acts]
    assert texts == [
        "Sam posted an issue",
        "Sam commented on an issue",
        "Dana planned a meeting",
        "Dana published the agenda",
        "Sam edited an issue",
    ]
    for a in acts:
        assert "bakery" not in a.text
        assert "Secret" not in a.text
        assert "offer" not in a.text
    assert acts[0].title == "Selling the bakery"
    assert acts[0].item == issue.id
    assert acts[1].item == issue.id
    assert acts[1].kind == "issue"
    assert acts[3].item == meeting.id
    assert jd.cursor() == max(a.cursor for a in acts)
    assert jd.activity(jd.cursor()) == []


def test_the_view_follows_a_sync_made_elsewhere(person, group_of: Callable[..., list[Group]]):
    dana, sam = person("Dana"), person("Sam")
    gd, gs = group_of(dana, sam)
    jd = gd.journal()
    assert jd.view.issues() == []
    assert jd.refresh_if_changed() is False
    gs.journal().new_issue(title="New from Sam")
    other = dana.group(gd.id)  # the same Group object: stands for a second process's sync
    other.sync()
    assert jd.refresh_if_changed() is True
    assert [i.title for i in jd.view.issues()] == ["New from Sam"]
    assert jd.refresh_if_changed() is False
