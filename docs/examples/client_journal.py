"""docs/client.md, "The journal": issues, a meeting with its agenda and code, notes, commitments.

`Group.journal()` is one group's journal: reads are offline (the verified entries in the
local store, folded into items), writes check the permission table first and go out
through the group. Run with a server URL, or let the test suite run `run()` in-process.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import httpx
from chatham.client import Account
from chatham.client.journal import item_json, markdown_files


def example_passphrase(who: str) -> str:
    """Examples only: a real member types theirs (or uses an unlock session)."""
    return f"{who}'s long passphrase, for this example only"


def run(server: str, http: httpx.Client | None, root: Path) -> None:
    dana = Account.init(
        root / "dana", passphrase=example_passphrase("dana"), name="Dana", http=http
    )
    sam = Account.init(root / "sam", passphrase=example_passphrase("sam"), name="Sam", http=http)
    forum = dana.create_group("Thursday Forum", server)
    sam.join(forum.invite(name="Sam").link)
    [request] = forum.join_requests()
    forum.approve(request, fingerprint=sam.fingerprint)
    sam_forum = sam.group()
    sam_forum.sync()

    # Sam brings an issue; the journal checks the permission table before posting.
    sams = sam_forum.journal()
    issue = sams.new_issue(
        title="Selling the company?", what="An offer came in", ask="Your experience", priority="A"
    )

    # Dana plans the meeting, publishes the agenda (which signs a checkpoint), opens it.
    journal = forum.journal()
    journal.catch_up()
    meeting = journal.new_meeting(date=date.today() + timedelta(days=1), title="December")
    december = journal.meeting(meeting.id)
    for ranked in journal.view.parking_lot(journal.today()):
        print("parking lot:", ranked.issue.title, ranked.score)
    journal.publish_agenda(december)
    opened = journal.meeting_status(december, "open")
    print("meeting code:", opened.meeting_code)  # compare aloud; every member derives it

    # During the meeting: notes, the issue presented, a commitment with a due date.
    journal.new_note("Sam presented; three members shared their exits.", meeting=december)
    journal.issue_status(journal.item(issue.id), "presented", meeting=december)
    sams.catch_up()
    sams.new_commitment(
        "Talk to the board first", due=date.today() + timedelta(days=30), meeting=december
    )
    journal.meeting_status(journal.meeting(default="open"), "closed")

    # Reading is offline and the same on every member's client.
    journal.refresh()
    shown = item_json(journal.view, journal.item(issue.id), history=True)
    print(shown["title"], shown["status"])
    print(sorted(markdown_files(journal.view, today=journal.today())))

    dana.close()
    sam.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        run(sys.argv[1], None, Path(d))
