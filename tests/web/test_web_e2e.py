"""End to end in a real browser: three members, each running `chatham web` in a home of their
own and using it in a browser context of their own, against a real `chatham-server`.

The story is a meeting cycle with no terminal beyond `chatham web`: identities, an invite,
joining, approval by typing the words heard, issues, the agenda, a meeting with its code,
notes, commitments, the review round, an attachment, search, live updates and a removal.
Then what an attacker sees: no cookie, a wrong Host, a cross-origin post and a missing CSRF
token are refused, and a title or note full of HTML and script shows as text.

Screenshots of the main pages go to $CHATHAM_WEB_SCREENSHOTS when it is set (`make
screenshots` writes docs/images/), else to the test's temporary directory.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from chatham.server.testing import LiveServer

from tests.support.web_member import PASSPHRASE, Member

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EVIL_TITLE = "<script>alert('title')</script><img src=x onerror=alert('img')> Bank & co"
EVIL_NOTE = (
    "# Decisions\n\n<script>alert('note')</script>\n\n"
    "Sam will call the [bank](https://bank.example/loan) and "
    "[this](javascript:alert('link')).\n\n![chart](https://tracker.example/pixel.png)\n"
)


class Shots:
    def __init__(self, tmp: Path) -> None:
        where = os.environ.get("CHATHAM_WEB_SCREENSHOTS")
        self.dir = Path(where) if where else tmp / "shots"
        self.dir.mkdir(parents=True, exist_ok=True)

    def take(self, page: Any, name: str) -> None:
        path = self.dir / f"web-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5000


def submit(page: Any, label: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=label, exact=True).click()


def create_identity(m: Member) -> None:
    page = m.page
    page.wait_for_url("**/welcome")
    page.get_by_label("Your name, as your group knows you").fill(m.name)
    page.get_by_label("Passphrase", exact=False).first.fill("short1")
    page.wait_for_selector("[data-strength-words]:has-text('Strength: too short')")
    page.get_by_label("Passphrase", exact=False).first.fill(PASSPHRASE)
    page.wait_for_selector("[data-strength-words]:has-text('Strength: strong')")
    page.get_by_label("The same passphrase again").fill(PASSPHRASE)
    submit(page, "Create my identity")
    page.wait_for_url("**/start")


def invite(leader: Member, name: str) -> str:
    page = leader.go("/invite")
    page.get_by_label("Their name, as the group will know them").fill(name)
    submit(page, "Make an invite code")
    return str(page.inner_text("#invite-code")).strip()


def join(m: Member, code: str) -> str:
    page = m.go("/start")
    page.get_by_label("Invite code").fill(code)
    page.get_by_label("What to call the group on this computer (optional)").fill("Thursday Forum")
    submit(page, "Ask to join")
    page.wait_for_url("**/waiting")
    return str(page.inner_text("#fingerprint")).strip()


def approve(leader: Member, name: str, words: str) -> None:
    page = leader.go("/requests")
    section = page.locator("section.card", has_text=f"{name} asks to join")
    section.get_by_label("The eight words you heard").fill(words)
    with page.expect_navigation():
        section.get_by_role("button", name="Let them in").click()
    assert f"{name} is in" in page.inner_text("main")


def test_a_meeting_cycle_in_the_browser(tmp_path: Path, live: LiveServer, chromium: Any) -> None:
    shots = Shots(tmp_path)
    dana = Member("Dana", tmp_path, chromium)
    sam = Member("Sam", tmp_path, chromium)
    ana = Member("Ana", tmp_path, chromium)
    try:
        # --- identities and the group ------------------------------------------------------
        shots.take(dana.page, "welcome")
        for m in (dana, sam, ana):
            create_identity(m)
        page = dana.page
        page.locator("summary").first.click()
        page.get_by_label("Group name").fill("Thursday Forum")
        page.get_by_label("Server address").fill(live.url)
        submit(page, "Start the group")
        assert "You founded Thursday Forum" in page.inner_text("main")

        # --- invite, join, approve by typing the words heard -------------------------------
        code = invite(dana, "Sam")
        shots.take(dana.page, "invite")
        sam_words = join(sam, code)
        shots.take(sam.page, "waiting")
        page = dana.go("/requests")
        assert sam_words not in page.inner_text("main")  # never shown beside the request
        assert page.get_by_label("The eight words you heard").input_value() == ""
        page.get_by_label("The eight words you heard").fill("wrong words " * 4)
        submit(page, "Let them in")
        refused = page.inner_text("main")
        assert "fingerprint does not match" in refused
        assert "read the fingerprint on their" in refused
        approve(dana, "Sam", sam_words.upper())
        # Sam's waiting page moves on by itself (the app's own event stream).
        sam.page.wait_for_url(f"{sam.app.base}/", timeout=30_000)
        ana_words = join(ana, invite(dana, "Ana"))
        approve(dana, "Ana", ana_words)
        ana.page.wait_for_url(f"{ana.app.base}/", timeout=30_000)
        page = dana.go("/members")
        roster = page.inner_text("main")
        assert "Sam" in roster
        assert "Ana" in roster
        assert sam_words in roster
        shots.take(page, "members")

        # --- issues, with the real form; a hostile title --------------------------------
        page = sam.go("/issues/new")
        page.get_by_label("Title").fill("Selling the company?")
        page.get_by_label("What is the issue?").fill("An offer came in for the bakery chain.")
        page.get_by_label("Why does it matter?").fill("Twenty years of work, and my résumé.")
        page.get_by_label("What do you want from the group?").fill("Your experience of exits.")
        page.get_by_label("Priority").select_option("A")
        page.get_by_label("Minutes you need at the meeting").fill("30")
        # The draft is kept by the app (not the browser) while typing, until it is posted.
        page.wait_for_selector("[data-draft-state]:has-text('Draft kept')")
        page = sam.go("/issues/new")
        assert page.get_by_label("Title").input_value() == "Selling the company?"
        assert page.get_by_label("Priority").input_value() == "A"
        shots.take(page, "issue-form")
        submit(page, "Post the issue")
        assert "Your issue was posted" in page.inner_text("main")
        sam_issue = page.url.rsplit("/", 1)[1]
        page = ana.go("/issues/new")
        page.get_by_label("Title").fill(EVIL_TITLE)
        page.get_by_label("What is the issue?").fill("<b>bold?</b> <script>alert('what')</script>")
        submit(page, "Post the issue")
        page = dana.go("/issues")
        lot = page.inner_text("main")
        assert "Selling the company?" in lot
        assert EVIL_TITLE in lot
        assert lot.index("Selling the company?") < lot.index(EVIL_TITLE)  # priority A first
        shots.take(page, "issues")

        # --- a meeting, its agenda and the code ---------------------------------------------
        today = date.today()
        page = dana.go("/meetings")
        page.get_by_label("Title").fill("December forum")
        page.get_by_label("Date").fill(today.isoformat())
        page.get_by_label("Place (optional)").fill("Room 4")
        submit(page, "Plan it")
        meeting_url = page.url
        assert "Selling the company?" in page.inner_text("section[aria-labelledby=h-agenda]")
        submit(page, "Publish this agenda")
        assert "published" in page.inner_text("main")
        submit(page, "Open the meeting")
        dana_code = page.inner_text("#meeting-code").strip()
        assert len(dana_code.split()) == 6
        shots.take(page, "meeting")
        for m in (sam, ana):
            m.go(meeting_url.replace(dana.app.base, ""))
            m.page.wait_for_selector("#meeting-code")
            assert m.page.inner_text("#meeting-code").strip() == dana_code

        # --- notes: Markdown rendered safely ------------------------------------------------
        page = dana.go("/notes")
        page.get_by_label("Title (optional)").fill("Decisions")
        page.get_by_label("Note").fill(EVIL_NOTE)
        submit(page, "Post the note")
        body = page.locator(".note-body")
        text = body.inner_text()
        assert "<script>alert('note')</script>" in text
        assert "(https://bank.example/loan)" in text  # a link shows its address
        assert body.locator("script, img, iframe").count() == 0
        assert body.locator("a").count() == 1  # javascript: is no link at all
        shots.take(page, "note")

        # --- present, commit, close; report back and review at the next meeting -------------
        page = sam.go(f"/items/{sam_issue}")
        submit(page, "Mark presented at December forum")
        page = sam.go("/commitments")
        page.get_by_label("What you will do").fill("Talk to the bank before Friday")
        submit(page, "Commit")
        sam_commitment = page.url.rsplit("/", 1)[1]
        page = dana.go(meeting_url)
        submit(page, "Close the meeting")
        page = dana.go("/meetings")
        page.get_by_label("Title").fill("January forum")
        page.get_by_label("Date").fill((today + timedelta(days=28)).isoformat())
        submit(page, "Plan it")
        next_meeting = page.url
        # Rescheduled a week later, and who attended December recorded.
        page.get_by_role("link", name="Change, reschedule or cancel").click()
        page.get_by_label("Date").fill((today + timedelta(days=35)).isoformat())
        page.get_by_label("Place (optional)").fill("Room 5")
        submit(page, "Save the changes")
        assert "The meeting is moved to" in page.inner_text("main")
        page = dana.go(meeting_url.replace("/items/", "/meetings/") + "/edit")
        page.get_by_label("Dana (you)").check()
        page.get_by_label("Sam").check()
        shots.take(page, "meeting-change")
        submit(page, "Record attendance")
        assert "Attended: Dana, Sam" in page.inner_text("main")
        page = sam.go(f"/items/{sam_commitment}")
        page.get_by_label("What happened").fill("The bank agreed to wait.")
        submit(page, "Report")
        assert "Reported done" in page.inner_text("main")
        page = dana.go(next_meeting)
        review = page.locator("#review")
        assert "Talk to the bank before Friday" in review.inner_text()
        review.get_by_label("Talk to the bank before Friday").check()
        submit(page, "Mark the ticked ones reviewed")
        assert "Marked 1 commitment reviewed" in page.inner_text("main")
        shots.take(page, "review")

        # --- an attachment, and a live update on another member's page -----------------------
        page = ana.go("/")
        attachment = tmp_path / "plan.txt"
        attachment.write_bytes(b"the plan, in bytes\n" * 5000)
        page = sam.go(f"/items/{sam_issue}")
        page.get_by_label("Attach a file").set_input_files(str(attachment))
        with page.expect_navigation():
            page.get_by_role("button", name="Upload and attach").click()
        assert "Attached plan.txt" in page.inner_text("main")
        ana.page.wait_for_selector("#live:has-text('Sam attached a file to an issue')")
        page = ana.go(f"/items/{sam_issue}")
        with page.expect_download() as got:
            page.get_by_role("link", name="plan.txt").click()
        saved = tmp_path / "downloaded.txt"
        got.value.save_as(saved)
        assert saved.read_bytes() == attachment.read_bytes()

        # --- search, with the passage ---------------------------------------------------------
        page = ana.go("/search?q=bakery")
        assert "Selling the company?" in page.inner_text("main")
        assert page.inner_text("mark.match") == "bakery"
        shots.take(page, "search")

        # --- the home page, wide and at 320 px ------------------------------------------------
        page = sam.go("/")
        assert "Selling the company?" in page.inner_text("main") or "Recently" in page.inner_text(
            "main"
        )
        shots.take(page, "home")
        page.set_viewport_size({"width": 320, "height": 800})
        page = sam.go("/issues?status=all")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320, f"the page scrolls sideways at 320 px ({width})"
        shots.take(page, "issues-320")
        # A leader's pages with wide parts (the QR code, the agenda form) fit too.
        page = dana.page
        page.set_viewport_size({"width": 320, "height": 800})
        page = dana.go(next_meeting)
        page.locator("#choose-agenda summary").click()
        for shown in ("the meeting", "the invite"):
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, f"{shown} scrolls sideways at 320 px ({width})"
            if shown == "the meeting":
                invite(dana, "Max")
        assert page.locator("svg.qr").is_visible()
        shots.take(page, "invite-320")
        page.set_viewport_size({"width": 1100, "height": 900})

        # --- a removal --------------------------------------------------------------------
        page = dana.go("/members")
        page.locator("details", has_text="Ana").locator("summary").click()
        page.get_by_role("link", name="Remove from the group…").click()
        assert "cannot take back what they already read" in page.inner_text("main")
        submit(page, "Yes, remove Ana")
        assert "Ana was removed" in page.inner_text("main")
        page = ana.go("/")
        ana.page.get_by_role("button", name="Sync").click()
        ana.page.wait_for_selector("text=no longer a member")

        # --- no script ran anywhere; hostile text stayed text ---------------------------------
        for m in (dana, sam, ana):
            assert m.dialogs == [], m.dialogs
        page = dana.go("/issues?status=all")
        assert EVIL_TITLE in page.inner_text("main")
        assert page.locator("main script, main img").count() == 0
        assert re.search(r"<script>alert\('title'\)", page.content()) is None
    finally:
        for m in (dana, sam, ana):
            m.close()


def test_what_an_attacker_sees(tmp_path: Path, chromium: Any) -> None:
    m = Member("Dana", tmp_path, chromium)
    try:
        create_identity(m)
        base, port = m.app.base, m.app.base.rsplit(":", 1)[1]
        csrf = m.csrf()
        with m.http() as signed_in:
            assert signed_in.get("/start").status_code == 200
            # Every response carries the headers.
            r = signed_in.get("/start")
            csp = r.headers["content-security-policy"]
            assert "default-src 'self'" in csp
            assert "frame-ancestors 'none'" in csp
            assert "unsafe-inline" not in csp
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["referrer-policy"] == "no-referrer"
            assert r.headers["cache-control"] == "no-store"
            # A wrong Host (DNS rebinding: evil.example resolved to 127.0.0.1).
            r = signed_in.get("/start", headers={"host": f"evil.example:{port}"})
            assert r.status_code == 403
            assert "not Chatham's" in r.text
            # A cross-origin post, even with the cookie and the token.
            r = signed_in.post(
                "/lock",
                data={"csrf": csrf},
                headers={"origin": "http://evil.example", "sec-fetch-site": "cross-site"},
            )
            assert r.status_code == 403
            r = signed_in.post("/lock", data={"csrf": csrf}, headers={"origin": "null"})
            assert r.status_code == 403
            # Another local port is another origin.
            r = signed_in.post(
                "/lock", data={"csrf": csrf}, headers={"origin": "http://127.0.0.1:1"}
            )
            assert r.status_code == 403
            # A missing or wrong CSRF token.
            assert signed_in.post("/lock", data={}).status_code == 403
            assert signed_in.post("/lock", data={"csrf": "x" * 43}).status_code == 403
            # Still unlocked: none of that did anything.
            assert signed_in.get("/start").status_code == 200
        with m.http() as anonymous:
            anonymous.cookies.clear()
            r = anonymous.get("/start")
            assert r.status_code == 403
            assert "Not signed in" in r.text
            # The launch token was spent by the browser.
            r = anonymous.get(m.app.url.removeprefix(base))
            assert r.status_code == 403
            assert "used already" in r.text
            assert "set-cookie" not in r.headers
        # Keyboard first: the first Tab reaches "Skip to content", which moves to the page.
        m.go("/start")
        m.page.keyboard.press("Tab")
        assert m.page.evaluate("document.activeElement.textContent") == "Skip to content"
        # The browser's own posts pass: lock from the page.
        submit(m.page, "Lock")
        m.page.wait_for_url("**/unlock")
        m.page.get_by_label("Passphrase").fill("not it")
        submit(m.page, "Unlock")
        assert "Wrong passphrase" in m.page.inner_text("main")
        m.page.get_by_label("Passphrase").fill(PASSPHRASE)
        submit(m.page, "Unlock")
        m.page.wait_for_url("**/start")
    finally:
        m.close()
