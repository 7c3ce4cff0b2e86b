"""Crash safety: a client killed with SIGKILL in the middle of a sync leaves a store the next
sync completes (no lost pages, no duplicates, nothing half-written, everything verifies)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatham.client import Account, Group
from chatham.client._private.engine import outbox
from chatham.server.testing import LiveServer, live_server

PASSPHRASE = "crash test passphrase"
ENTRIES = 250

SYNC_SCRIPT = """
import sys
from chatham.client import Account
from chatham.client._private.engine import sync
sync.PAGE = sync.COMMIT_ROWS = 8  # many small pages and commits to land between
with Account.open(sys.argv[1], passphrase=sys.argv[2]) as j:
    g = j.group()
    g.sync(progress=lambda done, total: print(done, flush=True))
    print("done", flush=True)
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "server") as s:
        yield s


def bulk_post(g: Group, n: int) -> None:
    """Post many entries quickly (one request each, no sync in between)."""
    api = g._api()
    for i in range(n):
        eid = os.urandom(16)
        sealed = outbox.seal(g, eid, b"entry %04d " % i + b"x" * 2000)
        posted = api.post_entry(g.id_bytes, sealed.data)
        outbox.store_own(g, sealed, posted.cursor, eid)


def stored(home: Path) -> int:
    with Account.open(home, passphrase=PASSPHRASE) as j:
        return j.groups()[0].entries


@pytest.mark.slow
def test_sigkill_mid_sync_then_sync_completes(server: LiveServer, tmp_path: Path) -> None:
    alice = Account.init(tmp_path / "alice", passphrase=PASSPHRASE, name="Alice")
    bob = Account.init(tmp_path / "bob", passphrase=PASSPHRASE, name="Bob")
    try:
        ga = alice.create_group("Forum", server.url)
        gb = bob.join(ga.invite().link)
        [request] = ga.join_requests()
        ga.approve(request, name="Bob", fingerprint=bob.fingerprint)
        gb.sync()
        bulk_post(ga, ENTRIES)
    finally:
        alice.close()
        bob.close()

    # Kill the syncing client three times (each run resumes where the last one stopped), at a
    # slightly different moment each time: between pages, inside a page, inside a commit.
    counts = []
    for round_, kill_after in enumerate((16, 48, 48)):
        proc = subprocess.Popen(
            [sys.executable, "-c", SYNC_SCRIPT, str(tmp_path / "bob"), PASSPHRASE],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == b"done" or int(line) >= kill_after:
                break
        time.sleep(0.002 * round_)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        counts.append(stored(tmp_path / "bob"))
    assert all(0 < n < ENTRIES for n in counts), counts
    assert counts == sorted(counts)

    with Account.open(tmp_path / "bob", passphrase=PASSPHRASE) as again:
        g = again.group()
        g.sync()
        bodies = [i.body[:10] for i in g.entries()]
        assert bodies == [b"entry %04d" % i for i in range(ENTRIES)]
        report = g.verify()
        assert report.ok
        assert report.entries == ENTRIES
