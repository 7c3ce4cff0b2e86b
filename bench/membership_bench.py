"""Benchmark of a key rotation end to end: build, upload, every member fetches and opens
its own lockbox. A script, not a timed test.

    .venv/bin/python bench/membership_bench.py                 # groups of 10, 100, 1,000
    .venv/bin/python bench/membership_bench.py --sizes 10,100  # a quicker run

For each group size it starts from a group grown through real invites and adds on
a real `chatham-server` (SQLite, the embedded default, on 127.0.0.1), with every
member's device already logged in (tokens last an hour; logging in is not part of
a rotation). Then, timed:

1. build: the leader's `build_rotate` (one HPKE lockbox per device, hybrid
   ML-KEM-768 + X25519);
2. upload: the leader's append of the op with its lockboxes (the server verifies
   the op, checks every lockbox against its ref, and commits, fsync included);
3. fetch + open: every other member, one after another on this one machine,
   fetches its own lockbox (`GET …/lockboxes`) and opens it (`Keyring.accept_lockbox`:
   ref hash, HPKE open, key confirmation).

End to end = 1 + 2 + 3. Real members fetch in parallel on their own devices, so
this sequential sum is an upper bound. Beside it, the raw HPKE cost of the same
number of seals and opens (`cryptography`'s HPKE with keys parsed beforehand), and
the time one member spends verifying the op (`GroupState.apply`). Goal: 1,000
members under 2 s end to end.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import httpx
from chatham.client._private.engine.api import ServerApi
from chatham.crypto import (
    GroupState,
    Keyring,
    MemberCard,
    PendingOp,
    Secrets,
    build_add,
    build_invite,
    build_rotate,
    create_group,
    make_card,
)
from chatham.crypto import _primitives as P
from chatham.server.testing import live_server
from machine import describe_machine

CLIENTS = 8
"""Members fetching at the same moment in the concurrent measurement."""


@dataclass
class Device:
    secrets: Secrets
    api: ServerApi


@dataclass
class Grown:
    group: bytes
    state: GroupState
    keyring: Keyring
    leader: Device
    members: list[Device]


def grow(n: int, url: str, http: httpx.Client) -> Grown:
    """Found a group on the server and add n-1 members through invites and adds (batches of
    100), uploading every op; then log every member's device in."""
    now = int(time.time())
    leader_secrets = Secrets.generate(created=now)
    leader = Device(leader_secrets, ServerApi(http, url, leader_secrets.device))
    card = make_card(leader_secrets.member, leader_secrets.device, created=now)
    g = create_group(leader_secrets, "Leader", time=now, card=card)
    leader.api.create_group(g.ops, g.lockboxes, None)
    state, keyring = g.state, Keyring({1: g.key})
    members: list[Device] = []

    def append(pending: PendingOp) -> None:
        leader.api.append(g.group_id, state.seq, state.head, pending.op, pending.lockboxes)
        state.apply(pending.op)

    while len(members) < n - 1:
        batch = min(100, n - 1 - len(members))
        joins: list[tuple[MemberCard, bytes, str]] = []
        for _ in range(batch):
            s = Secrets.generate(created=now)
            pending, secret = build_invite(
                state, leader_secrets.device, role="member", expires=now + 3600,
                server=url, time=now,
            )  # fmt: skip
            append(pending)
            joins.append((make_card(s.member, s.device, created=now), secret.invite_id,
                          f"Person {len(members) + len(joins) + 1}"))  # fmt: skip
            members.append(Device(s, ServerApi(http, url, s.device)))
        add = build_add(state, keyring, leader_secrets.device, joins, time=now)
        append(add)
        assert add.epoch is not None
        assert add.key is not None
        keyring.keys[add.epoch] = add.key
    for m in members:
        m.api.lockboxes(g.group_id, state.epoch)  # logs in; nothing newer to fetch yet
    return Grown(g.group_id, state, keyring, leader, members)


@dataclass
class Figures:
    n: int
    build: float
    upload: float
    fetch_open: float
    """Every other member fetches and opens its lockbox, one after another."""
    fetch_open_each: list[float]
    fetch_open_concurrent: float
    """The same, CLIENTS members at a time (as members' devices do, each on its own)."""
    verify_op: float
    raw_seal: float
    raw_open: float

    @property
    def end_to_end(self) -> float:
        return self.build + self.upload + self.fetch_open_concurrent

    @property
    def end_to_end_sequential(self) -> float:
        return self.build + self.upload + self.fetch_open


def fetch_open_all(
    grown: Grown, state: GroupState, pending: PendingOp, *, clients: int
) -> tuple[float, list[float]]:
    """Every member but the leader fetches its own lockbox and opens it against `state`."""
    epoch, key = pending.epoch, pending.key
    assert epoch is not None
    assert key is not None

    def one(m: Device) -> float:
        s = time.perf_counter()
        [box] = m.api.lockboxes(grown.group, epoch - 1)
        opened = Keyring().accept_lockbox(
            state, m.secrets.device, m.secrets.member.id, epoch, box.lockbox
        )
        assert opened == key
        return time.perf_counter() - s

    s = time.perf_counter()
    if clients == 1:
        each = [one(m) for m in grown.members]
    else:
        with ThreadPoolExecutor(clients) as pool:
            each = list(pool.map(one, grown.members))
    return time.perf_counter() - s, each


def rotate(grown: Grown) -> tuple[PendingOp, GroupState, float, float, float]:
    """Build and upload one rotation; (op, state after it, build, upload, verify op)."""
    state, leader = grown.state, grown.leader
    t0 = time.perf_counter()
    pending = build_rotate(state, grown.keyring, leader.secrets.device, time=int(time.time()))
    t1 = time.perf_counter()
    leader.api.append(grown.group, state.seq, state.head, pending.op, pending.lockboxes)
    t2 = time.perf_counter()
    after = state.copy()
    t3 = time.perf_counter()
    after.apply(pending.op)  # what each member's client does once, on its own device
    verify_op = time.perf_counter() - t3
    # The group moves on, so the next rotation starts from the new head.
    state.apply(pending.op)
    assert pending.epoch is not None
    assert pending.key is not None
    grown.keyring.keys[pending.epoch] = pending.key
    return pending, after, t1 - t0, t2 - t1, verify_op


def rotate_once(grown: Grown) -> Figures:
    pending, after, build, upload, verify_op = rotate(grown)
    sequential, each = fetch_open_all(grown, after, pending, clients=1)
    pending, after, build2, upload2, _ = rotate(grown)
    concurrent, _ = fetch_open_all(grown, after, pending, clients=CLIENTS)
    # Raw HPKE: the same number of seals and opens, keys parsed beforehand.
    devices = [grown.leader, *grown.members]
    publics = [P.kem_public_key(d.secrets.device.kem_public) for d in devices]
    info, secret = b"bench info", os.urandom(32)
    s = time.perf_counter()
    sealed = [P._HPKE.encrypt(secret, pk, info) for pk in publics]
    raw_seal = time.perf_counter() - s
    s = time.perf_counter()
    for d, box in zip(devices, sealed, strict=True):
        d.secrets.device.open_lockbox(info, box)
    raw_open = time.perf_counter() - s
    return Figures(
        n=len(devices),
        build=min(build, build2),
        upload=min(upload, upload2),
        fetch_open=sequential,
        fetch_open_each=each,
        fetch_open_concurrent=concurrent,
        verify_op=verify_op,
        raw_seal=raw_seal,
        raw_open=raw_open,
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark of a membership rotation end to end")
    ap.add_argument("--sizes", default="10,100,1000", help="group sizes, comma-separated")
    ap.add_argument("--repeats", type=int, default=3, help="rotations per size (best is shown)")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    print(f"membership rotation benchmark, {datetime.date.today().isoformat()}")
    print(
        f"  {describe_machine()}; cryptography {version('cryptography')}; "
        f"server on SQLite over 127.0.0.1"
    )
    rows: list[Figures] = []
    with (
        tempfile.TemporaryDirectory(prefix="chatham-bench-") as tmp,
        live_server(Path(tmp) / "server", "--rate-auth", "0", "--rate-device", "0") as server,
        httpx.Client() as http,
    ):
        for n in sizes:
            t = time.perf_counter()
            grown = grow(n, server.url, http)
            print(f"  grew a group of {n} members in {time.perf_counter() - t:.1f} s")
            best = min(
                (rotate_once(grown) for _ in range(args.repeats)), key=lambda f: f.end_to_end
            )
            rows.append(best)
    print()
    print(
        "| members | build | upload | fetch + open, one member after another "
        f"| fetch + open, {CLIENTS} at a time | end to end | raw HPKE seal + open "
        "| verify op (per member) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for f in rows:
        print(
            f"| {f.n:,} | {ms(f.build)} | {ms(f.upload)} | {ms(f.fetch_open)} "
            f"| {ms(f.fetch_open_concurrent)} | **{ms(f.end_to_end)}** "
            f"| {ms(f.raw_seal)} + {ms(f.raw_open)} | {ms(f.verify_op)} |"
        )
    print()
    for f in rows:
        each = sorted(f.fetch_open_each)
        median = each[len(each) // 2] if each else 0.0
        raw = f.raw_seal + f.raw_open
        print(
            f"{f.n:>5} members: end to end {f.end_to_end:.3f} s = {f.end_to_end / raw:.1f}x raw "
            f"HPKE ({f.end_to_end_sequential:.3f} s with members one after another); one "
            f"member's fetch + open: median {ms(median)}, worst {ms(max(each or [0]))}"
        )
    big = [f for f in rows if f.n >= 1000]
    if big:
        verdict = "met" if all(f.end_to_end < 2.0 for f in big) else "NOT met"
        print(f"goal: 1,000 members under 2 s end to end: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
