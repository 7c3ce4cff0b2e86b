"""Membership pages without a browser: the invite as text and as a QR code, renaming the group
on this computer, and the roster's devices."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
import segno
from chatham.client import Account, errors

from tests.support.web_member import Forum


def name_here(member: Account) -> str:
    """What the member's home calls its current group, read afresh from the store."""
    fresh = Account(member.home, member._secrets)
    try:
        return fresh.group().name
    finally:
        fresh.close()


def _dark_modules(svg: str) -> set[tuple[int, int]]:
    return {(int(x), int(y)) for x, y in re.findall(r"M(\d+) (\d+)h1v1h-1z", svg)}


def test_the_invite_page_shows_the_code_as_text_and_as_a_qr_code_of_the_same_line(
    forum: Forum,
    person: Callable[..., Account],
) -> None:
    dana = forum.dana
    web, csrf = forum.web(dana)
    r = web.post("/invite", data={"csrf": csrf, "name": "Ana <b>", "expires": "1d"})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    page = r.text
    link = re.search(r'<p class="code-text" id="invite-code">([^<]+)</p>', page)
    assert link is not None
    server_url, _, code = link.group(1).partition("#")
    assert f'id="invite-short">{code}</dd>' in page
    assert f"<dd>{server_url}</dd>" in page
    svg = re.search(r'<svg class="qr".*?</svg>', page, re.S)
    assert svg is not None
    # The squares drawn are exactly the QR code of the invite line (margin of 4 modules).
    expected = {
        (x + 4, y + 4)
        for y, row in enumerate(segno.make(link.group(1), error="m", micro=False).matrix)
        for x, dark in enumerate(row)
        if dark
    }
    assert _dark_modules(svg.group(0)) == expected
    # Numbers only: nothing in the drawing is text, and nothing loads from anywhere.
    assert re.fullmatch(r"[^<>]*", re.sub(r"<[^>]*>", "", svg.group(0))) is not None
    assert "href" not in svg.group(0)
    assert code not in svg.group(0)
    # The invite works: Ana joins with the line the page shows.
    ana = person("Ana")
    ana.join(link.group(1))
    # Without the CSRF token no invite is made.
    before = len(dana.group().invites())
    assert web.post("/invite", data={"name": "Max"}).status_code == 403
    assert len(dana.group().invites()) == before


def test_a_group_is_renamed_on_this_computer_only(forum: Forum) -> None:
    dana, sam = forum.dana, forum.sam
    web, csrf = forum.web(sam)
    assert 'value="Thursday Forum"' in web.get("/settings").text
    r = web.post("/groups/rename", data={"csrf": csrf, "name": "Forum <i>with Dana</i>"})
    assert "now called Forum &lt;i&gt;with Dana&lt;/i&gt; (before: Thursday Forum)" in r.text
    assert "<h1>Forum &lt;i&gt;with Dana&lt;/i&gt;</h1>" in web.get("/").text
    assert name_here(sam) == "Forum <i>with Dana</i>"
    assert name_here(dana) == "Thursday Forum"  # nobody else is told
    r = web.post("/groups/rename", data={"csrf": csrf, "name": "   "})
    assert r.status_code == 400
    assert name_here(sam) == "Forum <i>with Dana</i>"
    # Refused without the token, from another site, or without the cookie.
    assert web.post("/groups/rename", data={"name": "Forged"}).status_code == 403
    cross = {"origin": "http://evil.example", "sec-fetch-site": "cross-site"}
    r = web.post("/groups/rename", data={"csrf": csrf, "name": "Forged"}, headers=cross)
    assert r.status_code == 403
    web.cookies.clear()
    assert web.post("/groups/rename", data={"csrf": csrf, "name": "Forged"}).status_code == 403
    assert name_here(sam) == "Forum <i>with Dana</i>"


def test_the_roster_lists_each_members_devices_and_marks_this_computer(forum: Forum) -> None:
    dana, sam = forum.dana, forum.sam
    web, _ = forum.web(sam)
    page = web.get("/members").text
    mine, hers = sam.device_id, dana.device_id
    assert f'<span class="device-id">{mine[:4]} {mine[4:8]}</span> (this computer)' in page
    assert f'<span class="device-id">{hers[:4]} {hers[4:8]}</span></li>' in page


def test_a_leader_sees_the_invites_made_and_revokes_one_whose_code_then_fails(
    forum: Forum,
    person: Callable[..., Account],
) -> None:
    dana, sam = forum.dana, forum.sam
    web, csrf = forum.web(dana)
    page = web.post("/invite", data={"csrf": csrf, "name": "Max <script>", "expires": "1d"}).text
    link = re.search(r'id="invite-code">([^<]+)<', page)
    assert link is not None
    listing = web.get("/invites").text
    assert "Max &lt;script&gt;" in listing
    assert "<script>" not in listing.split("<main", 1)[1]
    [open_] = [i for i in dana.group().invites() if i.status == "open"]
    # A member cannot revoke, nor see the list.
    sam_web, sam_csrf = forum.web(sam)
    assert sam_web.get("/invites").status_code == 403
    assert sam_web.post(f"/invites/{open_.id}/revoke", data={"csrf": sam_csrf}).status_code == 403
    # Not without the CSRF token, nor from another site.
    assert web.post(f"/invites/{open_.id}/revoke", data={}).status_code == 403
    cross = {"origin": "http://evil.example", "sec-fetch-site": "cross-site"}
    r = web.post(f"/invites/{open_.id}/revoke", data={"csrf": csrf}, headers=cross)
    assert r.status_code == 403
    assert next(i.status for i in dana.group().invites(everything=True)) == "open"
    r = web.post(f"/invites/{open_.id}/revoke", data={"csrf": csrf})
    assert "The invite for Max &lt;script&gt; is revoked: its code no longer works." in r.text
    assert 'action="/invites/' not in r.text  # nothing left to revoke
    max_ = person("Max")
    with pytest.raises(errors.UsageError, match="used, revoked or has expired"):
        max_.join(link.group(1))
    r = web.post(f"/invites/{open_.id}/revoke", data={"csrf": csrf})
    assert r.status_code == 400
    assert "revoked already" in r.text


def test_a_newcomer_joins_with_the_code_typed_and_the_server_apart_and_a_typo_is_named(
    forum: Forum,
    person: Callable[..., Account],
    server: httpx.Client,
) -> None:
    dana = forum.dana
    secret = dana.group().invite(name="Ana")
    ana = person("Ana")
    web, csrf = forum.web(ana)
    page = web.get("/start").text
    assert "chatham1-" not in page  # the old long codes are gone
    typo = ("0" if secret.code[0] != "0" else "1") + secret.code[1:]
    r = web.post(
        "/join",
        data={"csrf": csrf, "code": typo.lower(), "join_server": secret.server},
        follow_redirects=False,
    )
    assert r.status_code == 400
    assert "typo" in r.text
    assert typo.lower() in r.text  # what was typed stays, to be corrected
    spoken = " ".join(secret.code.lower().split("-"))
    r = web.post(
        "/join",
        data={"csrf": csrf, "code": spoken, "join_server": secret.server},
        follow_redirects=False,
    )
    assert (r.status_code, r.headers["location"]) == (303, "/waiting")
    assert [r.member for r in dana.group().join_requests()] == [ana.member_id]
