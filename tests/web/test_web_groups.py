"""A home in several groups: the header switches between them."""

from __future__ import annotations

from tests.support.web_member import Forum


def test_the_header_switches_groups(forum: Forum) -> None:
    dana = forum.dana
    second = dana.create_group("Tuesday Board", "http://testserver.local")
    dana.use(second.id)
    web, csrf = forum.web(dana)
    page = web.get("/").text
    assert '<select id="f-group" name="group">' in page
    assert "<h1>Tuesday Board</h1>" in page
    first = next(g for g in dana.groups() if g.name == "Thursday Forum")
    r = web.post("/groups/use", data={"csrf": csrf, "group": first.id}, follow_redirects=True)
    assert "<h1>Thursday Forum</h1>" in r.text
    assert "Now showing Thursday Forum." in r.text
