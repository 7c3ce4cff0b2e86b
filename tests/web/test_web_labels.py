"""Every control on every page a member or a leader sees has a label a screen reader reads
(a `<label for>`, a wrapping `<label>`, or `aria-label`), every button says what it does, and
no id is used twice on a page (a label pointing at a duplicated id labels the wrong field)."""

from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser

from tests.support.web_member import Forum


class Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.labelled: set[str] = set()
        self.ids: list[str] = []
        self.controls: list[tuple[str, dict[str, str], bool]] = []
        self.in_label = 0
        self.buttons: list[str] = []
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.labelled.add(a["for"])
        elif tag in ("input", "select", "textarea"):
            if tag == "input" and a.get("type") in ("hidden", "submit", "button"):
                return
            self.controls.append((tag, a, self.in_label > 0))
        elif tag == "button":
            self._button = [a.get("aria-label", "")]

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1
        elif tag == "button" and self._button is not None:
            self.buttons.append(" ".join("".join(self._button).split()))
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)

    def unlabelled(self) -> list[str]:
        return [
            f"<{tag} name={a.get('name')!r}>"
            for tag, a, wrapped in self.controls
            if not wrapped
            and a.get("id") not in self.labelled
            and not a.get("aria-label")
            and not a.get("aria-labelledby")
        ]


def test_every_control_on_every_page_has_a_label(forum: Forum) -> None:
    dana, sam = forum.dana, forum.sam
    gd, gs = forum.gd, forum.gs
    js = gs.journal()
    issue = js.new_issue(title="Selling the company?").id
    note = gd.journal().new_note("Decisions", title="Notes", meeting=None).id
    commitment = js.new_commitment("Call the bank", due=None, meeting=None).id
    gs.sync()
    meeting = gd.journal().new_meeting(title="December", date=date.today() + timedelta(2)).id
    web, csrf = forum.web(dana)
    web.post("/invite", data={"csrf": csrf, "name": "Ana"})
    pages = [
        "/",
        "/issues",
        "/issues?status=all",
        "/issues/new",
        "/meetings",
        "/notes",
        "/commitments",
        "/commitments?who=all",
        "/updates",
        "/members",
        "/invite",
        "/invites",
        "/requests",
        "/policy",
        "/settings",
        "/export",
        "/search?q=bank",
        "/verify",
        "/leave",
        "/start",
        f"/items/{issue}",
        f"/items/{meeting}",
        f"/items/{note}",
        f"/items/{commitment}",
        f"/meetings/{meeting}/edit",
        f"/meetings/{meeting}/cancel",
        f"/items/{issue}/retract",
        f"/members/{sam.member_id}/remove",
        f"/members/{sam.member_id}/exposure",
    ]
    sam_web, _ = forum.web(sam)
    problems: dict[str, list[str]] = {}
    for client, who in ((web, "leader"), (sam_web, "member")):
        extra = [f"/issues/{issue}/edit", f"/notes/{note}/edit"] if who == "member" else []
        for path in pages + extra:
            r = client.get(path)
            assert r.status_code in (200, 400, 403), (who, path, r.status_code)
            page = Controls()
            page.feed(r.text)
            found = page.unlabelled()
            found += [f"button without words: {b!r}" for b in page.buttons if not b]
            found += [f"id used twice: {i}" for i in {i for i in page.ids if page.ids.count(i) > 1}]
            if found:
                problems[f"{who} {path}"] = found
    assert problems == {}
