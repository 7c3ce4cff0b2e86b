"""Benchmark of several devices per member: linking a device to a member of a large group,
and a rotation when every member has three devices. A script, not a timed test.

    .venv/bin/python bench/devices_bench.py              # 10,000 entries; 30 members
    .venv/bin/python bench/devices_bench.py --quick      # 1,000 entries

In one run, on a real `chatham-server` (SQLite) on 127.0.0.1:

1. **Linking.** A member of a group holding N entries of 2 KiB (history `full`) links a new
   device: `link_device`, `Account.add_device` on a new home (its keys, its keystore),
   `confirm_device` (the `add-device` op and the sealed handover), then the new device's
   first `Account.open` (taking the handover, verifying the log and the handed-over keys)
   and its `sync` of every entry, until it lists all N. The baseline, measured in the same
   run: a new member (one device) who joins the same group and syncs the same N entries.
2. **Rotation with 3 devices per member.** Two groups of 30 members, one with one device
   per member and one with three (every member links two more through `add-device`), each
   rotated by its leader: build (one lockbox per device), upload, and every device but the
   leader's fetching and opening its own lockbox (8 at a time). Best of three each.

Figures go to docs/performance.md ("## Devices").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
from chatham import crypto
from chatham.client import Account, Home
from chatham.client._private.engine.api import ServerApi
from chatham.crypto import DeviceKeys, Secrets, build_add_device, make_card
from chatham.server.testing import live_server
from machine import describe_machine
from membership_bench import CLIENTS, Device, Grown, fetch_open_all, grow, rotate
from sync_bench import bulk_post

PASSPHRASE = "benchmark passphrase"


def link_figures(url: str, root: Path, n_entries: int) -> dict[str, float]:
    leader = Account(Home(root / "leader"), Secrets.generate(created=0))
    leader.set_name("Leader")
    group = leader.create_group("Bench", url, history="full")
    t0 = time.perf_counter()
    bulk_post(group, n_entries)
    print(f"setup: {n_entries:,} entries posted in {time.perf_counter() - t0:.1f} s")

    # Baseline: a new member with one device joins and syncs everything.
    newcomer = Account(Home(root / "newcomer"), Secrets.generate(created=0))
    newcomer.join(group.invite().link)
    [request] = group.join_requests()
    group.approve(request, name="Newcomer", fingerprint=newcomer.fingerprint)
    t0 = time.perf_counter()
    g = newcomer.group()
    g.sync()
    shown = sum(1 for _ in g.entries())
    baseline = time.perf_counter() - t0
    newcomer.close()
    assert shown == n_entries, shown

    # Linking: the leader links a laptop.
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    line = leader.link_device().line
    marks["link"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    words = Account.add_device(line, root / "laptop", passphrase=PASSPHRASE)
    marks["add"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    leader.confirm_device(words)
    marks["confirm"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    laptop = Account.open(root / "laptop", passphrase=PASSPHRASE)
    marks["open"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    lg = laptop.group()
    lg.sync()
    shown = sum(1 for _ in lg.entries())
    marks["sync"] = time.perf_counter() - t1
    marks["total"] = time.perf_counter() - t0
    assert shown == n_entries, shown
    # Argon2id (MODERATE) runs twice on the new device: sealing and opening its keystore.
    s = time.perf_counter()
    crypto.keystore_key(Home(root / "laptop").read_keystore(), PASSPHRASE)
    marks["argon2"] = time.perf_counter() - s
    marks["baseline"] = baseline
    laptop.close()
    leader.close()
    return marks


def with_devices(grown: Grown, per_member: int, url: str, http: httpx.Client) -> Grown:
    """Every member (the leader too) links `per_member - 1` more devices through add-device
    ops signed by their first device; every new device logs in."""
    state = grown.state
    now = int(time.time())
    extra: list[Device] = []
    for first in [grown.leader, *grown.members]:
        for _ in range(per_member - 1):
            dev = DeviceKeys.from_seeds(os.urandom(32), os.urandom(96))
            s = Secrets(first.secrets.member, dev, os.urandom(32), now)
            card = make_card(first.secrets.member, dev, created=now)
            op = build_add_device(state, first.secrets.device, card, time=now).op
            first.api.append(grown.group, state.seq, state.head, op, {})
            state.apply(op)
            extra.append(Device(s, ServerApi(http, url, dev)))
    for d in extra:
        d.api.lockboxes(grown.group, state.epoch)  # logs in
    return Grown(grown.group, state, grown.keyring, grown.leader, [*grown.members, *extra])


def rotation_figures(url: str, http: httpx.Client, members: int, per_member: int) -> list[float]:
    grown = grow(members, url, http)
    if per_member > 1:
        grown = with_devices(grown, per_member, url, http)
    runs = []
    for _ in range(3):
        pending, after, build, upload, _verify = rotate(grown)
        fetch, _each = fetch_open_all(grown, after, pending, clients=CLIENTS)
        runs.append((build + upload + fetch, build, upload, fetch))
    best = min(runs)
    return [len(grown.members) + 1, *best]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="1,000 entries")
    args = parser.parse_args()
    n_entries = 1000 if args.quick else args.entries

    print("Chatham devices benchmark")
    print(describe_machine())
    with tempfile.TemporaryDirectory(prefix="chatham-bench-") as tmp:
        root = Path(tmp)
        run_dir = root / "run"
        run_dir.mkdir(mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(run_dir)
        os.environ.pop("CHATHAM_PASSPHRASE", None)
        with live_server(root / "server", "--rate-device", "0", "--rate-auth", "0") as server:
            m = link_figures(server.url, root, n_entries)
            print(f"\nlinking a device to a member of a group of {n_entries:,} entries:")
            for key, what in (
                ("link", "device link (open the mailbox)"),
                ("add", "device add on the new home (keys, keystore: Argon2id)"),
                ("confirm", "device confirm (add-device, handover)"),
                ("open", "first open (Argon2id, handover, log, keys, first sync)"),
                ("sync", f"sync again and list all {n_entries:,} entries"),
            ):
                print(f"  {what:<58} {m[key]:7.2f} s")
            print(f"  {'until the new device shows everything':<58} {m['total']:7.2f} s")
            print(f"  {'of which Argon2id (twice, by design)':<58} {2 * m['argon2']:7.2f} s")
            print(
                f"  baseline: a new member's first sync of the same entries    "
                f"{m['baseline']:7.2f} s  (linking = {m['total'] / m['baseline']:.2f}x; "
                f"without Argon2id {(m['total'] - 2 * m['argon2']) / m['baseline']:.2f}x)"
            )
            with httpx.Client(timeout=60) as http:
                print(f"\na rotation in a group of {args.members} members (best of 3):")
                print("  devices   end to end   build    upload   fetch+open (8 at a time)")
                rows = {}
                for per in (1, 3):
                    r = rotation_figures(server.url, http, args.members, per)
                    rows[per] = r
                    print(
                        f"  {int(r[0]):>7}   {r[1] * 1000:8.1f} ms  {r[2] * 1000:6.1f} ms  "
                        f"{r[3] * 1000:6.1f} ms  {r[4] * 1000:8.1f} ms"
                    )
                print(
                    f"  3 devices per member / 1: {rows[3][1] / rows[1][1]:.2f}x end to end "
                    f"(build {rows[3][2] / rows[1][2]:.2f}x)"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
