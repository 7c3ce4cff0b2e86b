"""What the page's JavaScript adds, in a real browser.

Notifications: when another member posts, the open page shows a notification only if the
member allowed it, with the words they chose and nothing more ("Dana posted an issue"; the
title only if they asked for it; nothing when off or when the browser does not allow it).
The browser's Notification is recorded, not shown: headless chromium has no screen.

Upload progress: on a slow connection the member sees how much of the file was read, then
that it is being sealed and sent, then the attachment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chatham.server.testing import LiveServer

from tests.support.cli_member import CliMember
from tests.support.web_member import PASSPHRASE, Member

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RECORD = """
window.__shown = [];
const Real = window.Notification;
window.Notification = class {
  constructor(title, options) {
    window.__shown.push({ title: title, body: (options || {}).body || "" });
  }
  static get permission() { return Real.permission; }
  static requestPermission() { return Real.requestPermission(); }
};
"""


def _group(tmp_path: Path, server: LiveServer) -> tuple[CliMember, CliMember]:
    """Dana's group with Sam in it, made with the CLI (the web app is what is tested)."""
    dana = CliMember("Dana", tmp_path, PASSPHRASE)
    sam = CliMember("Sam", tmp_path, PASSPHRASE)
    dana.ok("group", "create", "Thursday Forum", "--server", server.url)
    sam.ok("join", stdin=dana.ok("invite", "--name", "Sam").splitlines()[-1])
    [req] = dana.json("requests")
    dana.ok("approve", req["id"], "--fingerprint", sam.fingerprint)
    sam.ok("sync")
    return dana, sam


def _choose(sam: Member, label: str) -> None:
    page = sam.go("/settings")
    page.get_by_label(label, exact=True).check()
    page.wait_for_selector("#notify-state:not(:empty)")


def _shown_after(sam: Member, dana: CliMember, title: str) -> list[dict[str, str]]:
    page = sam.go("/")
    page.evaluate("window.__shown = []")
    dana.ok("issue", "new", "--title", title)
    page.wait_for_selector("#live:has-text('Dana posted an issue')", timeout=30_000)
    page.wait_for_timeout(300)
    return list(page.evaluate("window.__shown"))


def test_a_notification_says_only_what_the_member_chose(
    tmp_path: Path, live: LiveServer, chromium: Any
) -> None:
    dana, _ = _group(tmp_path, live)
    with Member("Sam", tmp_path, chromium) as web:
        web.context.add_init_script(RECORD)
        # The browser does not allow notifications (the default here): none is made.
        _choose(web, "Who did what (“Sam posted an issue”), never what they wrote")
        assert "does not allow notifications" in web.page.inner_text("#notify-state")
        assert _shown_after(web, dana, "Selling the company?") == []

        web.context.grant_permissions(["notifications"], origin=web.app.base)
        _choose(web, "Who did what, and the title")
        assert "Notifications appear" in web.page.inner_text("#notify-state")
        shown = _shown_after(web, dana, "Buying <b>the bakery</b>")
        assert shown == [{"title": "Dana posted an issue", "body": "Buying <b>the bakery</b>"}]

        _choose(web, "Who did what (“Sam posted an issue”), never what they wrote")
        shown = _shown_after(web, dana, "Hiring a COO")
        assert shown == [{"title": "Dana posted an issue", "body": ""}]

        _choose(web, "Never")
        assert _shown_after(web, dana, "A quiet one") == []
        assert web.dialogs == []


def test_an_upload_shows_its_progress_on_a_slow_connection(
    tmp_path: Path, live: LiveServer, chromium: Any
) -> None:
    _, sam = _group(tmp_path, live)
    issue = sam.json("issue", "new", "--title", "Selling the company?")["id"]
    with Member("Sam", tmp_path, chromium) as web:
        page = web.go(f"/items/{issue}")
        cdp = web.context.new_cdp_session(page)
        cdp.send("Network.enable")
        # About 256 KiB a second up: a 1 MiB file takes a few seconds to send.
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 20,
                "downloadThroughput": -1,
                "uploadThroughput": 262_144,
            },
        )
        plan = tmp_path / "plan.bin"
        plan.write_bytes(bytes(range(256)) * 4096)
        page.get_by_label("Attach a file").set_input_files(str(plan))
        page.get_by_role("button", name="Upload and attach").click()
        page.wait_for_selector("[data-upload-state]:has-text('Reading the file:')", timeout=20_000)
        assert page.locator("progress[data-progress]").is_visible()
        seen = page.locator("progress[data-progress]").evaluate("bar => bar.value")
        assert 0 <= seen < 100
        page.wait_for_selector("text=Attached plan.bin", timeout=60_000)
        assert web.dialogs == []


def test_a_draft_survives_a_lock_and_the_autosave_says_when_nothing_was_kept(
    tmp_path: Path, live: LiveServer, chromium: Any
) -> None:
    _group(tmp_path, live)
    with Member("Sam", tmp_path, chromium) as web:
        page = web.go("/issues/new")
        page.get_by_label("Title").fill("Selling the company?")
        page.wait_for_selector("[data-draft-state]:has-text('Draft kept')")
        # Locked (here by a script, as the idle lock would): the page goes to the unlock
        # form, and after unlocking the draft is there.
        csrf = page.get_attribute('meta[name="csrf"]', "content")
        with web.http() as script:
            assert script.post("/lock", data={"csrf": csrf}).status_code == 303
        page.wait_for_url("**/unlock")
        page.get_by_label("Passphrase").fill(PASSPHRASE)
        page.get_by_role("button", name="Unlock", exact=True).click()
        page.wait_for_url(web.app.base + "/")  # unlocking lands on the home page
        page = web.go("/issues/new")
        assert page.get_by_label("Title").input_value() == "Selling the company?"
        # `chatham web` stopped under an open page: typing is not kept, and the page says so.
        web.app.stop()
        page.get_by_label("What is the issue?").fill("An offer came in")
        page.wait_for_selector("[data-draft-state]:has-text('Not kept')")
        assert "Copy your text somewhere safe" in page.inner_text("[data-draft-state]")


def test_a_lock_hides_the_group_but_keeps_what_the_member_is_typing(
    tmp_path: Path, live: LiveServer, chromium: Any
) -> None:
    dana, _ = _group(tmp_path, live)
    issue = dana.json("issue", "new", "--title", "Selling the bakery")["id"]
    dana.ok("comment", issue[:8], "An offer came in from Lisbon")
    with Member("Sam", tmp_path, chromium) as web:
        page = web.go(f"/items/{issue}")
        assert "An offer came in from Lisbon" in page.inner_text("main")
        reply = "A long reply, <b>typed</b> for a quarter of an hour"
        page.get_by_label("Add a comment").fill(reply)
        page.get_by_label("A line to go with it (optional)").fill("the plan, as agreed")
        # Locked (by a script here, as the idle lock would) at an unattended computer: the
        # typed text is kept nowhere, so the page stays with it, and shows nothing else.
        csrf = page.get_attribute('meta[name="csrf"]', "content")
        with web.http() as script:
            assert script.post("/lock", data={"csrf": csrf}).status_code == 303
        page.wait_for_selector("text=Chatham is locked")
        page.wait_for_timeout(500)
        assert page.url == f"{web.app.base}/items/{issue}"
        html = page.content()
        for group_text in ("Selling the bakery", "Lisbon", "Thursday Forum", "Dana"):
            assert group_text not in html
        assert "copy it somewhere safe" in page.inner_text("main")
        # What Sam typed, as text in boxes that can be copied but not sent.
        boxes = page.locator("main textarea")
        typed = [boxes.nth(n).input_value() for n in range(boxes.count())]
        assert typed == [reply, "the plan, as agreed"]
        assert all(boxes.nth(n).get_attribute("readonly") is not None for n in range(2))
        assert page.locator("main form, main b").count() == 0
        page.get_by_role("button", name="Unlock", exact=True).click()
        page.wait_for_url(f"{web.app.base}/unlock")
        assert page.get_by_label("Passphrase").is_visible()
        assert web.dialogs == []


def test_the_idle_lock_leaves_nothing_of_the_group_on_an_unattended_screen(
    tmp_path: Path, live: LiveServer, chromium: Any
) -> None:
    dana, _ = _group(tmp_path, live)
    issue = dana.json("issue", "new", "--title", "Selling the bakery")["id"]
    with Member("Sam", tmp_path, chromium, args=("--lock-after", "8s")) as web:
        page = web.go(f"/items/{issue}")
        page.get_by_label("Add a comment").fill("Half a reply")
        # Nobody touches the computer: the app locks itself, and the open page says so
        # with Sam's text and without the issue.
        page.wait_for_selector("h1:has-text('Chatham is locked')", timeout=30_000)
        assert "Selling the bakery" not in page.content()
        assert page.locator("main textarea").input_value() == "Half a reply"
