"""docs/client.md, "When something is wrong": typed errors, offline writes, verification.

Every error derives from ChathamError and carries `message` and `hint`; a failed
verification names the check and the record, and never leaves unverified data
behind. Run with a server URL, or let the test suite run `run()` in-process.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
from chatham.client import Account, errors


def example_passphrase(who: str) -> str:
    """Examples only: a real member types theirs (or uses an unlock session)."""
    return f"{who}'s long passphrase, for this example only"


def run(server: str, http: httpx.Client | None, root: Path) -> None:
    dana = Account.init(
        root / "dana", passphrase=example_passphrase("dana"), name="Dana", http=http
    )
    forum = dana.create_group("Thursday Forum", server)

    # A wrong passphrase is a clear error, and nothing changes.
    try:
        Account.open(root / "dana", passphrase=example_passphrase("nobody"))
    except errors.WrongPassphrase as e:
        print(f"error: {e.message}\nhint: {e.hint}")

    # Offline: writes queue (sealed at rest under the store key) and go out on the next sync.
    offline = Account.open(
        root / "dana", passphrase=example_passphrase("dana"), http=_unreachable()
    )
    group = offline.group(forum.id)
    group.post(b"written on the train")
    print("queued:", group.queued)
    try:
        group.sync()
    except errors.Unreachable as e:
        print(f"error: {e.message}\nhint: {e.hint}")
    print("sent:", forum.sync().sent)

    # Anything the server sends that fails a check raises a VerificationError naming it.
    try:
        forum.sync()
    except errors.VerificationError as e:  # e.check, e.record, e.message, e.hint
        print(e.check, e.record, e.message)

    # The group's rules are checked locally before anything is signed or sent:
    # the last leader cannot step down without a successor.
    try:
        forum.set_role(dana.member_id, "member")
    except errors.NotAllowed as e:
        print(f"error: {e.message}")

    offline.close()
    dana.close()


def _unreachable() -> httpx.Client:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("offline", request=request)

    return httpx.Client(transport=httpx.MockTransport(refuse))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        run(sys.argv[1], None, Path(d))
