"""Every route of the web app, present and future, is behind the guard: the list is read from
the app's own route tables, so a page added later is checked without anyone remembering to.

For each route: without the cookie, with a rebinding Host, from another origin, and (for a
state-changing one) without or with a wrong CSRF token, the answer is 403 and the member's
home is unchanged; every answer carries the CSP, nosniff and `Cache-Control: no-store`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from chatham.client import Account
from chatham.client.web.pages import (
    home,
    issues,
    items,
    meetings,
    members,
    start,
    unsent,
    writing,
)

from tests.support.web_member import Forum

PORT = 48123


def _routes() -> Iterator[tuple[str, str]]:
    for module in (home, issues, items, meetings, members, start, unsent, writing):
        for handler in module.ROUTES:
            for path in handler.paths:
                for method in handler.http_methods:
                    yield method, re.sub(r"\{[^}]+\}", "0123abcd", path)


ROUTES = sorted(set(_routes()))


def test_the_route_list_is_the_apps_own() -> None:
    assert ("GET", "/") in ROUTES
    assert ("POST", "/meetings/0123abcd/cancel") in ROUTES
    assert ("POST", "/groups/rename") in ROUTES
    assert len(ROUTES) > 60


def _state(member: Account) -> tuple[Any, ...]:
    """What a forged request could change: the group's log and entries, names, drafts."""
    fresh = Account(member.home, member._secrets)
    try:
        g = fresh.group()
        drafts = g.draft("issue-new")
        return (g.state.seq, len(list(g.entries())), g.name, drafts, g.queued, g.unsent_count)
    finally:
        fresh.close()


def test_every_route_refuses_what_the_guard_refuses(forum: Forum) -> None:
    dana = forum.dana
    web, csrf = forum.web(dana)
    before = _state(dana)
    form = {"csrf": csrf, "title": "Forged", "name": "Forged", "text": "Forged", "what": "x"}
    failed: list[tuple[str, str, str, int]] = []
    for method, path in ROUTES:
        refusals: list[tuple[str, dict[str, str], dict[str, str]]] = [
            ("rebinding", {"host": f"evil.example:{PORT}"}, form),
            ("other site", {"origin": "http://evil.example", "sec-fetch-site": "cross-site"}, form),
            ("other port", {"origin": "http://127.0.0.1:1"}, form),
        ]
        if method == "POST":
            refusals += [
                ("no csrf", {}, {k: v for k, v in form.items() if k != "csrf"}),
                ("wrong csrf", {}, {**form, "csrf": "x" * 43}),
            ]
        for why, headers, data in refusals:
            r = web.request(method, path, headers=headers, data=data if method == "POST" else None)
            ok = (
                r.status_code == 403
                and r.headers.get("cache-control") == "no-store"
                and "default-src 'self'" in r.headers.get("content-security-policy", "")
                and r.headers.get("x-content-type-options") == "nosniff"
            )
            if not ok:
                failed.append((method, path, why, r.status_code))
    # The page itself still works with the cookie: the refusals were the guard's.
    assert web.get("/").status_code == 200
    web.cookies.clear()
    for method, path in ROUTES:
        r = web.request(method, path, data=form if method == "POST" else None)
        if r.status_code != 403 or "Not signed in" not in r.text:
            failed.append((method, path, "no cookie", r.status_code))
    assert failed == []
    assert _state(dana) == before
