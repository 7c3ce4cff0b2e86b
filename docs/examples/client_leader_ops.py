"""docs/client.md, "Leader operations": the generic append_op and the ready-made wrappers.

A builder receives an OpContext (the verified state, this device's keys, the
chain heads, the time) and returns a signed PendingOp. append_op checks it
locally, sends it with the head it extends, and on a conflict (another leader
appended first) syncs, rebuilds and retries.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
from chatham import crypto
from chatham.client import Account, OpContext


def example_passphrase(who: str) -> str:
    """Examples only: a real member types theirs (or uses an unlock session)."""
    return f"{who}'s long passphrase, for this example only"


def run(server: str, http: httpx.Client | None, root: Path) -> None:
    dana = Account.init(
        root / "dana", passphrase=example_passphrase("dana"), name="Dana", http=http
    )
    ana = Account.init(root / "ana", passphrase=example_passphrase("ana"), name="Ana", http=http)
    forum = dana.create_group("Thursday Forum", server, history="full")
    ana_group = ana.join(forum.invite().link)
    [request] = forum.join_requests()
    forum.approve(request, name="Ana", fingerprint=ana.fingerprint)
    ana_group.sync()

    # The generic path: any op the protocol defines, built against the freshest state.
    def rotate(ctx: OpContext) -> crypto.PendingOp:
        return crypto.build_rotate(ctx.state, ctx.keyring, ctx.device, time=ctx.time)

    applied = forum.append_op(rotate)
    print("rotated at log op", applied.seq, "to epoch", forum.epoch)

    # The wrappers do the same for the common ops.
    forum.set_role("Ana", "leader")
    forum.set_policy(rotate_each_meeting=True)
    forum.checkpoint()
    for a in ana_group.sync().announcements:
        print(a.kind, "-", a.text)

    forum.remove("Ana")
    print(ana_group.sync().status)  # "removed": what Ana had stays readable; nothing new comes

    dana.close()
    ana.close()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        run(sys.argv[1], None, Path(d))
