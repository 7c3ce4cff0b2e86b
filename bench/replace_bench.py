"""Healing a restored server, and moving a group, on real servers.

    .venv/bin/python bench/replace_bench.py [--heal 1000] [--move 10000]

1. heal: a real `chatham-server` (SQLite) on 127.0.0.1 is backed up, a leader posts
   N entries of 2 KiB, a member syncs them, the server is stopped and its database
   replaced by the backup; the member's `Group.heal()` gives the N entries back. Timed
   end to end (the sync before, the heal requests, the sync after that verifies what
   the server now holds); goal under 5 s for 1,000 entries.
2. move: a leader holding M entries of 2 KiB moves the group to a second, empty server
   (`Group.move`: a sync with the old one, the new group, every op, lockbox and entry,
   then a full sync from the new server, whose cursors are its own); goal under 30 s
   for 10,000 entries.

Each prints the wall time, the entries per second, and the HTTP requests the client
sent (counted at its transport). The posting that sets the stage uses bulk requests
and is not timed. A benchmark, not a test: nothing fails on timing. Figures go to
docs/performance.md ("## Replacing the server").
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
from chatham import crypto
from chatham.client import Account, Group, Home
from chatham.client._private.engine import outbox
from chatham.server.testing import free_port, live_server

BODY = 2048


class Counted(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return super().handle_request(request)


def person(root: Path, name: str, transport: Counted) -> Account:
    a = Account(
        Home(root / name),
        crypto.Secrets.generate(created=int(time.time())),
        http=httpx.Client(transport=transport, timeout=120),
    )
    a.set_name(name)
    return a


def post_many(g: Group, n: int) -> None:
    """n entries of 2 KiB by this member, in bulk requests (the stage, not the figure)."""
    for start in range(0, n, 500):
        writes = [
            (os.urandom(16), (b"entry %06d " % i).ljust(BODY, b"."), ())
            for i in range(start, min(n, start + 500))
        ]
        sealed = outbox.seal_chain(g, writes)
        results = g._api().post_entries(g.id_bytes, [s.data for s in sealed])
        acked = []
        for (eid, _, _), s, r in zip(writes, sealed, results, strict=True):
            assert not isinstance(r, Exception), r
            acked.append((s, r.cursor, eid))
        outbox.store_own_many(g, acked)


def pair(root: Path, url: str, counter: Counted) -> tuple[Group, Group]:
    leader = person(root, "leader", counter)
    member = person(root, "member", counter)
    g = leader.create_group("Bench", url, history="full")
    mg = member.join(g.invite().link)
    [request] = g.join_requests()
    g.approve(request, name="Member", fingerprint=member.fingerprint)
    mg.sync()
    return g, mg


def bench_heal(root: Path, n: int) -> None:
    counter = Counted()
    data, port = root / "heal-server", free_port()
    with live_server(data, "--rate-device", "0", port=port) as s:
        leader, member = pair(root / "heal", s.url, counter)
    backup = root / "heal-backup.sqlite3"
    shutil.copyfile(data / "chatham.sqlite3", backup)
    with live_server(data, "--rate-device", "0", port=port):
        post_many(leader, n)
        member.sync()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{data / 'chatham.sqlite3'}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, data / "chatham.sqlite3")
    with live_server(data, "--rate-device", "0", port=port):
        counter.requests = 0
        t0 = time.perf_counter()
        report = member.heal()
        seconds = time.perf_counter() - t0
    assert report.entries == n, report
    assert not report.alarms, report.alarms
    print(
        f"heal of {n:,} lost entries: {seconds:.2f} s ({n / seconds:,.0f} entries/s), "
        f"{counter.requests} requests (goal < 5 s)"
    )


def bench_move(root: Path, n: int) -> None:
    counter = Counted()
    with (
        live_server(root / "old", "--rate-device", "0") as old,
        live_server(root / "new", "--rate-device", "0") as new,
    ):
        leader, _ = pair(root / "move", old.url, counter)
        post_many(leader, n)
        counter.requests = 0
        t0 = time.perf_counter()
        report = leader.move(new.url)
        seconds = time.perf_counter() - t0
    assert report.entries == n, report
    assert not report.alarms, report.alarms
    print(
        f"move of a group with {n:,} entries to an empty server: {seconds:.2f} s "
        f"({n / seconds:,.0f} entries/s), {counter.requests} requests (goal < 30 s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heal", type=int, default=1000)
    parser.add_argument("--move", type=int, default=10_000)
    args = parser.parse_args()
    print("Chatham: replacing the server")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, entries of 2 KiB\n")
    with tempfile.TemporaryDirectory(prefix="chatham-bench-") as tmp:
        bench_heal(Path(tmp), args.heal)
        bench_move(Path(tmp), args.move)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
