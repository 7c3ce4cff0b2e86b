"""A month of meetings from the command line: choosing and ordering the agenda, what closing
a meeting does with each issue, commitments recorded at the table and carried over when
unreported, meeting edits, attendance and cancellation, note edits, and departed members'
issues leaving the parking lot."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from chatham.server.testing import live_server

from tests.support.cli_member import UNLIMITED, CliMember, environment

PASSPHRASE = "a passphrase for the meeting round tests"


class Member(CliMember):
    def __init__(self, name: str, root: Path) -> None:
        super().__init__(name, root, PASSPHRASE, COLUMNS="200")

    def new(self, *args: str) -> str:
        made = self.json(*args)
        return str(made["id"])[:8]


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Member, Member, Member]]:
    root = tmp_path_factory.mktemp("rounds")
    with environment(UNLIMITED), live_server(root / "server") as server:
        dana, sam, ana = (Member(n, root) for n in ("Dana", "Sam", "Ana"))
        dana.ok("group", "create", "Rounds", "--server", server.url)
        for m in (sam, ana):
            code = dana.ok("invite", "--name", m.name).splitlines()[-1]
            m.ok("join", stdin=code + "\n")
            [req] = dana.json("requests")
            dana.ok("approve", req["id"], "--fingerprint", m.fingerprint)
            m.ok("sync")
        yield dana, sam, ana


def day(n: int) -> str:
    return (date.today() + timedelta(days=n)).isoformat()


def test_a_month_of_meetings(people: tuple[Member, Member, Member]) -> None:
    dana, sam, ana = people
    dec = dana.new("meeting", "new", "--date", day(10), "--title", "December")
    first = sam.new("issue", "new", "--title", "First", "--priority", "A")
    second = sam.new("issue", "new", "--title", "Second", "--priority", "C")
    third = ana.new("issue", "new", "--title", "Ana's", "--priority", "B")

    # The leader chooses and orders the agenda.
    dana.ok("agenda", "--publish", "--issue", second, "--issue", first)
    agenda = dana.json("agenda")
    assert [i["id"][:8] for i in agenda["issues"]] == [second, first]
    assert dana.fails("agenda", "--issue", first) == [
        "chatham: error: --issue chooses what to publish",
        "chatham: hint: add --publish",
    ]

    # At the meeting: one issue presented, a commitment recorded for Sam, attendance.
    assert "(checkpoint at log op " in dana.ok("--verbose", "meeting", "open")
    dana.ok("issue", "present", second)
    made = dana.new("commit", "new", "Sam calls the bank", "--for", "Sam")
    assert sam.fails("commit", "new", "Ana does it", "--for", "Ana") == [
        "chatham: error: only a leader may record a commitment for another member",
        "chatham: hint: the member makes it with `chatham commit new TEXT`",
    ]
    dana.ok("meeting", "attendance", "Sam", "Dana")
    assert dana.ok("meeting", "attendance") == (f"attendance at December ({day(10)}): Sam, Dana\n")
    closed = dana.ok("meeting", "close").splitlines()
    assert closed[0] == f"meeting {dec} is closed"
    assert f"presented: {second}  Second" in closed
    assert f"not reached, back in the parking lot: {first}  First" in closed
    assert "log op" not in "\n".join(closed)  # protocol words only with --verbose

    sam.ok("sync")
    [c] = sam.json("commit", "list", "--mine")
    assert (c["id"][:8], c["owner_name"], c["author_name"]) == (made, "Sam", "Dana")
    lot = [i["id"][:8] for i in sam.json("parking-lot")]
    assert lot == [first, third]

    # The next meeting: the unreported commitment carries over instead of freezing.
    jan = dana.new("meeting", "new", "--date", day(40), "--title", "January")
    dana.ok("meeting", "edit", jan, "--place", "The boathouse", "--title", "January forum")
    out = dana.ok("review", jan, "--all")
    assert "no report: carries over" in out
    assert out.splitlines()[-1] == "1 commitment without a report carries over to the next meeting"
    assert dana.json("show", made)["reviewed_at"] is None
    sam.ok("commit", "done", made, "--report", "Called")
    dana.ok("sync")
    assert dana.ok("review", jan, "--all").splitlines()[-1] == "marked 1 commitment reviewed"

    # Rescheduling and cancelling; a past date is allowed, with a note.
    code, out, err = dana("meeting", "reschedule", jan, day(-3))
    assert code == 0
    assert out == f"meeting {jan} moved to {day(-3)}\n"
    assert err == (
        f"chatham: note: the meeting is dated {day(-3)}, in the past; "
        "`chatham meeting reschedule` moves it\n"
    )
    feb = dana.new("meeting", "new", "--date", day(70), "--title", "February")
    sam.ok("sync")
    sam.ok("issue", "schedule", first, "--meeting", feb)
    dana.ok("sync")
    ana.ok("sync")  # before the retraction: its stub moves past later entries (reported)
    cancelled = dana.ok("meeting", "cancel", feb).splitlines()
    assert cancelled == [
        f"meeting {feb} (February) is cancelled",
        f"back in the parking lot: {first}  First",
    ]

    # Notes are edited by their authors; history keeps every version.
    note = ana.new("note", "new", "--body", "First draft", "--no-meeting")
    ana.ok("note", "edit", note, "--body", "Second draft")
    shown = ana.json("show", note)
    assert shown["body"] == "Second draft"
    assert [e["action"] for e in shown["history"]] == ["created", "edited"]

    # A member who leaves takes their issues out of the parking lot (they stay on record).
    ana.ok("leave", "--yes")
    dana.ok("sync")
    assert third not in [i["id"][:8] for i in dana.json("parking-lot")]
    assert third in [i["id"][:8] for i in dana.json("issue", "list")]
