"""docs/client.md, "Quick start": found a group, add a member, post, sync, read, verify.

Run against a real server with `python docs/examples/client_quickstart.py URL`;
the test suite runs `run()` against the server app in-process.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
from chatham.client import Account


def example_passphrase(who: str) -> str:
    """Examples only: a real member types theirs (or uses an unlock session)."""
    return f"{who}'s long passphrase, for this example only"


def run(server: str, http: httpx.Client | None, root: Path) -> None:
    # Each member has a home of their own (CHATHAM_HOME); init creates their keys.
    dana = Account.init(
        root / "dana", passphrase=example_passphrase("dana"), name="Dana", http=http
    )
    sam = Account.init(root / "sam", passphrase=example_passphrase("sam"), name="Sam", http=http)

    # Dana founds the group and leads it.
    forum = dana.create_group("Thursday Forum", server)

    # Invite → join → approve by fingerprint (the words Sam reads aloud).
    invite = forum.invite(role="member")
    joining = sam.join(invite.link)  # checks the group against the code; sends a request
    assert joining.status == "joining"
    [request] = forum.join_requests()
    forum.approve(request, name="Sam", fingerprint=sam.fingerprint)
    report = joining.sync()  # Sam fetches the add op and his key
    for announcement in report.announcements:
        print(announcement.text)  # "Member 1a2b3c4d added you (...) as member; ..."

    # Posting: the body is opaque bytes here (the journal layer encodes issues, notes, ...).
    entry_id = joining.post(b"An issue for Thursday")

    # Reading: sync verifies everything before storing it; entries() works offline.
    forum.sync()
    for item in forum.entries():
        print(item.id == entry_id, item.author == sam.member_id, item.body)

    # A leader signs a checkpoint; every member derives the same meeting code.
    forum.checkpoint()
    joining.sync()
    assert forum.verify().meeting_code == joining.verify().meeting_code
    print("meeting code:", forum.verify().meeting_code)

    dana.close()
    sam.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        run(sys.argv[1], None, Path(d))
