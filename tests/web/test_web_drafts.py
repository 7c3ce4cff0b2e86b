"""An issue typed in the web app and not yet posted is the member's work: it is kept, sealed in
the member's local store, across a reload, a lock and a restart of `chatham web`, until the
post succeeds; it is never on disk in plaintext, and posting or throwing it away forgets it."""

from __future__ import annotations

from pathlib import Path

from tests.support.web_member import Forum

SECRET = "An offer came in for the bakery chain, from Brunner & Sons"


def _on_disk(home: Path, text: str) -> list[str]:
    """Files under the home holding `text` in plaintext (SQLite's WAL included)."""
    return [str(f) for f in home.rglob("*") if f.is_file() and text.encode() in f.read_bytes()]


def test_an_unposted_issue_survives_a_restart_sealed_until_it_is_posted(forum: Forum) -> None:
    sam = forum.sam
    web, csrf = forum.web(sam)
    typed = {"title": "Selling the company?", "what": SECRET, "priority": "A", "minutes": "30"}
    r = web.post("/drafts/issue-new", data={"csrf": csrf, **typed}, headers={"x-csrf-token": csrf})
    assert r.status_code == 204

    # `chatham web` stops and starts again on the same home: the draft is still there.
    again, csrf = forum.web(sam)
    page = again.get("/issues/new").text
    assert 'value="Selling the company?"' in page
    assert SECRET.replace("&", "&amp;") in page
    assert "kept on this computer" in page
    assert _on_disk(sam.home.path, SECRET) == []

    # A post that fails keeps what was typed (here: the title was emptied by mistake).
    r = again.post("/issues", data={"csrf": csrf, **typed, "title": "", "what": SECRET + "!"})
    assert r.status_code == 400
    assert SECRET + "!" in forum.web(sam)[0].get("/issues/new").text.replace("&amp;", "&")

    # Posted: the draft is gone, here and after another restart.
    r = again.post("/issues", data={"csrf": csrf, **typed}, follow_redirects=False)
    assert r.status_code == 303
    fresh, _ = forum.web(sam)
    assert SECRET not in fresh.get("/issues/new").text.replace("&amp;", "&")


def test_a_draft_can_be_thrown_away_and_is_kept_per_group(forum: Forum) -> None:
    dana = forum.dana
    other = dana.create_group("Tuesday Board", "http://testserver.local")
    web, csrf = forum.web(dana)
    web.post("/drafts/issue-new", data={"csrf": csrf, "title": "Board only", "what": SECRET})
    first = next(g for g in dana.groups() if g.name == "Thursday Forum")
    web.post("/groups/use", data={"csrf": csrf, "group": first.id})
    assert "Board only" not in web.get("/issues/new").text
    web.post("/groups/use", data={"csrf": csrf, "group": other.id})
    assert "Board only" in web.get("/issues/new").text
    r = web.post("/drafts/issue-new", data={"csrf": csrf, "discard": "yes"}, follow_redirects=False)
    assert r.status_code == 303
    assert "Board only" not in web.get("/issues/new").text
    # Without the CSRF token nothing is kept (the guard refuses before any page runs).
    r = web.post("/drafts/issue-new", data={"title": "Forged", "what": "x"})
    assert r.status_code == 403
    assert "Forged" not in web.get("/issues/new").text
