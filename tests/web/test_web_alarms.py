"""Security alarms and a stale view, as a member sees them in the page: a malicious server
(the real app behind a transport that rewrites its answers) rolls the log back, then goes
away; the web app says what happened and what to do, in plain words, on every page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import httpx
import pytest
from chatham import crypto
from chatham.client import Account, Group
from litestar.testing import TestClient

from tests.support.client_fixtures import SERVER_URL, Tamper
from tests.support.web_member import Forum, WebOf


class Attacked(NamedTuple):
    """Bob's web app, in a group with Alice, behind a server that rewrites its answers."""

    ga: Group
    gb: Group
    web: TestClient[Any]
    csrf: str
    tamper: Tamper


@pytest.fixture
def attacked(
    person: Callable[..., Account],
    group_of: Callable[..., list[Group]],
    tamper: Tamper,
    tampered_http: httpx.Client,
    web_of: WebOf,
) -> Attacked:
    alice, bob = person("Alice"), person("Bob", http=tampered_http)
    ga, gb = group_of(alice, bob)
    web, csrf = web_of(bob, tampered_http)
    return Attacked(ga, gb, web, csrf, tamper)


def test_a_rollback_is_an_alarm_in_plain_words(attacked: Attacked) -> None:
    ga, gb, web, csrf, tamper = attacked
    ga.checkpoint()
    gb.sync()
    page = web.get("/").text
    assert "Security alarm" not in page

    seq, prev = gb.state.seq, gb.state.op_hashes[-2]

    def older(request: httpx.Request, page: dict[str, Any]) -> None:
        page["ops"] = [op for op in page["ops"] if crypto.decode_signed_op(op).op.seq < seq]
        page["seq"], page["head"] = seq - 1, prev

    tamper.on("GET", "/log", older)
    r = web.post("/sync", data={"csrf": csrf, "back": "/issues"}, follow_redirects=True)
    assert r.status_code == 200
    for path in ("/", "/issues", "/members"):
        page = web.get(path).text
        assert "Security alarm: The server showed an older copy of your group" in page
        assert "What to do:" in page
        assert "compare the meeting code aloud" in page
        assert "rollback" not in page.lower()
        assert "Traceback" not in page
    # The server behaves again: the next sync verifies everything, and the alarm goes.
    tamper.clear()
    web.post("/sync", data={"csrf": csrf, "back": "/"})
    assert "Security alarm" not in web.get("/").text


def test_an_unreachable_server_is_a_stale_view_not_an_alarm(attacked: Attacked) -> None:
    web, csrf, tamper = attacked.web, attacked.csrf, attacked.tamper
    web.post("/sync", data={"csrf": csrf, "back": "/"})

    def down(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    tamper.raw_hooks.append(down)
    web.post("/sync", data={"csrf": csrf, "back": "/"})
    page = web.get("/").text
    assert "The server can&#39;t be reached right now" in page
    assert "Last brought up to date at" in page
    assert "Security alarm" not in page


def test_a_copy_too_old_to_write_to_safely_pauses_writing_until_the_member_chooses(
    attacked: Attacked, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatham.client._private.engine import freshness

    web, csrf, gb = attacked.web, attacked.csrf, attacked.gb
    monkeypatch.setattr(freshness, "STALE_WARN", -1)
    page = web.get("/issues").text
    assert "Your copy of the group was last confirmed current today" in page
    assert "ask a leader to open Chatham" in page
    assert "Write anyway" not in page  # warned only
    monkeypatch.setattr(freshness, "STALE_REFUSE", -1)
    assert "Write anyway" in web.get("/issues").text
    before = gb.queued, len(list(gb.entries()))
    r = web.post("/issues", data={"csrf": csrf, "title": "Selling the firm", "priority": "B"})
    assert r.status_code == 400
    assert "Not written: your copy of the group is too old to write to safely" in r.text
    assert 'value="Selling the firm"' in r.text  # what was typed is kept
    assert (gb.queued, len(list(gb.entries()))) == before
    # A path that browsers read as another site is never where "Write anyway" returns to.
    r = web.post("/anyway", data={"csrf": csrf, "back": "/\\evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/"
    r = web.post("/anyway", data={"csrf": csrf, "back": "/issues/new"}, follow_redirects=False)
    assert r.headers["location"] == "/issues/new"
    assert "You chose to write anyway until you lock Chatham" in web.get("/issues").text
    r = web.post(
        "/issues",
        data={"csrf": csrf, "title": "Selling the firm", "priority": "B"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith("/items/")
    gb.sync()
    assert len(list(gb.entries())) == before[1] + 1


def test_an_entry_the_server_withholds_is_an_alarm_in_plain_words(attacked: Attacked) -> None:
    ga, gb, web, csrf, tamper = attacked
    ga.post(b"first")
    hidden = ga.post(b"the one the server hides")

    def drop(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["entries"] = [i for i in page["entries"] if i["entry_id"].hex() != hidden]
        if page["entries"]:
            page["cursor"] = max(page["cursor"], page["entries"][-1]["cursor"])
        return page

    tamper.on("GET", "/entries", drop)
    web.post("/sync", data={"csrf": csrf, "back": "/"})
    assert "Security alarm" not in web.get("/").text  # nothing shows the gap yet
    ga.checkpoint()  # the leader's signed list of every chain's head names it
    web.post("/sync", data={"csrf": csrf, "back": "/"})
    for path in ("/", "/meetings"):
        page = web.get(path).text
        assert "Security alarm: Something the group wrote has not reached you (withheld)" in page
        assert "What to do:" in page
        assert "Traceback" not in page
    tamper.clear()
    web.post("/sync", data={"csrf": csrf, "back": "/"})
    assert "Security alarm" not in web.get("/").text
    assert gb.verify().ok


class _Gate(httpx.BaseTransport):
    """The server, or no answer at all (`down`), or a refusal of every new entry."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.mode = "up"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.mode == "down":
            raise httpx.ConnectError("no route to the server", request=request)
        if self.mode == "refusing" and request.method == "POST" and "/entries" in request.url.path:
            return httpx.Response(403, json={"code": "forbidden", "detail": "you may not post"})
        return self.inner.handle_request(request)


def test_a_waiting_post_the_server_refuses_for_good_is_named_not_dropped_in_silence(
    forum: Forum, web_of: WebOf
) -> None:
    gate = _Gate(forum.server._transport)
    with httpx.Client(transport=gate, base_url=SERVER_URL) as http:
        web, csrf = web_of(forum.sam, http)
        gate.mode = "down"
        typed = {"title": "Written offline", "what": "x", "priority": "B", "minutes": "15"}
        r = web.post("/issues", data={"csrf": csrf, **typed}, follow_redirects=True)
        assert "it goes out when the server is back" in r.text
        gate.mode = "refusing"
        r = web.post("/sync", data={"csrf": csrf, "back": "/"}, follow_redirects=True)
        assert "One of your posts was not sent" in r.text
        assert "you may not post" in r.text
        assert '<a href="/unsent">Read it, copy it, then discard it</a>' in r.text
        assert forum.sam.group().queued == 0
        # Every page says so while it is kept, and the page shows its text (as text).
        gate.mode = "up"
        r = web.get("/issues")
        assert "1 post was not sent" in r.text
        r = web.get("/unsent")
        assert "Issue written" in r.text
        assert "Written offline" in r.text
        assert "you may not post" in r.text
        [kept] = forum.sam.group().unsent()
        r = web.post(f"/unsent/{kept.id}/discard", data={"csrf": csrf}, follow_redirects=True)
        assert "Discarded" in r.text
        assert "Written offline" not in r.text
        assert forum.sam.group().unsent() == []
        assert "not sent" not in web.get("/issues").text


def test_a_kept_unsent_post_shows_as_text_never_markup(forum: Forum, web_of: WebOf) -> None:
    gate = _Gate(forum.server._transport)
    with httpx.Client(transport=gate, base_url=SERVER_URL) as http:
        web, csrf = web_of(forum.sam, http)
        gate.mode = "down"
        typed = {"title": "<b>bold</b> & <script>x</script>", "what": "*not emphasis*",
                 "priority": "B", "minutes": "15"}  # fmt: skip
        web.post("/issues", data={"csrf": csrf, **typed}, follow_redirects=True)
        gate.mode = "refusing"
        web.post("/sync", data={"csrf": csrf, "back": "/"}, follow_redirects=True)
        r = web.get("/unsent")
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;" in r.text
        assert "<script>x" not in r.text
        assert "*not emphasis*" in r.text


def test_a_post_written_while_the_server_is_away_is_said_to_wait_not_to_be_posted(
    forum: Forum, web_of: WebOf
) -> None:
    issue = forum.gd.journal().new_issue(title="Budget").id
    forum.gs.sync()
    gate = _Gate(forum.server._transport)
    with httpx.Client(transport=gate, base_url=SERVER_URL) as http:
        web, csrf = web_of(forum.sam, http)
        gate.mode = "down"
        r = web.post(
            f"/items/{issue}/comments", data={"csrf": csrf, "text": "Agreed"}, follow_redirects=True
        )
        assert "Your comment was saved; it goes out when the server is back." in r.text
        assert "was posted" not in r.text
        r = web.post(
            "/updates", data={"csrf": csrf, "highs": "A good month"}, follow_redirects=True
        )
        assert "Your update was saved; it goes out when the server is back." in r.text


def test_a_post_refused_as_it_is_written_links_to_its_kept_text(
    forum: Forum, web_of: WebOf
) -> None:
    gate = _Gate(forum.server._transport)
    with httpx.Client(transport=gate, base_url=SERVER_URL) as http:
        web, csrf = web_of(forum.sam, http)
        gate.mode = "refusing"
        typed = {"title": "Refused at once", "what": "x", "priority": "B", "minutes": "15"}
        r = web.post("/issues", data={"csrf": csrf, **typed}, follow_redirects=True)
        assert r.status_code == 403
        assert '<a href="/unsent">Read it</a>' in r.text
        gate.mode = "up"
        assert "Refused at once" in web.get("/unsent").text
