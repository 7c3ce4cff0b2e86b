"""Journal benchmark: `chatham list`, `parking-lot` and `search` with 10,000 entries cached.

    .venv/bin/python bench/journal_bench.py [--entries 10000] [--repeat 5] [--quick]

Starts a real `chatham-server` on 127.0.0.1 (SQLite, temporary directory), forms
a three-member group with the client library, writes a realistic journal
(monthly meetings with agendas, issues, comments, notes, commitments, reviews
and updates) until the group holds `--entries` entries, syncs the leader, and
then measures, on the leader's home (an unlock session, so no Argon2id):

- raw decrypt: `open_entry` (per-entry key derivation, key commitment,
  XChaCha20-Poly1305) over every stored entry — the floor any reader pays;
  and the bare XChaCha20-Poly1305 open of the same ciphertexts;
- each command run in-process through the CLI dispatcher (`main([...])`,
  output to /dev/null): what the command itself costs;
- each command as a user runs it: a fresh `chatham` process, wall time,
  interpreter start and imports included.

Goals (issue 6): `list` and `parking-lot` under 0.5 s, `search` under 1 s.
Writing the journal uses the client's outbox directly (queue every body, then
one sync sends them), because one `Group.post` per entry syncs each time. This
is a benchmark, not a test: nothing fails on timing.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import chatham.client.journal as D
import httpx
from chatham import crypto
from chatham.client import Account, Group, Home
from chatham.client._private.journal.cache import OPENED_CACHE, save_sealed
from chatham.client.journal import Journal
from chatham.server.testing import CHATHAM, live_server

PASSPHRASE = "benchmark passphrase"
WORD_TEXT = (
    "bank board hire sale offer family partner cash growth margin lawyer exit price "
    "customer churn team burnout health marriage succession debt equity investor "
    "supplier contract lease pricing hiring firing culture strategy vision trust"
)
WORDS = WORD_TEXT.split()


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


class Writer:
    """Queues bodies for one member; `flush` sends them in one sync."""

    def __init__(self, journal: Account, group: Group) -> None:
        self.j, self.g = journal, group
        self.me = bytes.fromhex(journal.member_id)
        self.count = 0

    def put(self, body: D.Body) -> bytes:
        eid = os.urandom(16)
        # The outbox is the client's own queue: `sync()` seals and sends it in order.
        self.g._store.queue(self.g.id_bytes, eid, D.encode_body(body), int(time.time()))
        self.count += 1
        return eid

    def flush(self) -> None:
        self.g.sync()


def write_journal(writers: list[Writer], total: int, rng: random.Random) -> int:
    lead, *rest = writers
    everyone = writers
    start = date(2000, 1, 6)
    month = 0
    open_commitments: dict[int, list[bytes]] = {i: [] for i in range(len(writers))}
    parked: list[bytes] = []
    while sum(w.count for w in writers) < total:
        day = start + timedelta(days=28 * month)
        ts = int(time.mktime(day.timetuple()))
        meeting = lead.put(
            D.Meeting(ts=ts, date=day, title=f"Forum {day:%B %Y}", minutes=240, place="Room 4")
        )
        issues = []
        for w in everyone:
            issues.append(
                w.put(
                    D.Issue(
                        ts=ts + 1,
                        title=sentence(rng, 5)[:-1],
                        what=sentence(rng, 25),
                        why=sentence(rng, 15),
                        tried=sentence(rng, 15),
                        ask=sentence(rng, 10),
                        priority=rng.choice("ABC"),  # type: ignore[arg-type]
                        minutes=rng.choice((15, 20, 30)),
                    )
                )
            )
        for k in range(8):
            w = rng.choice(everyone)
            w.put(D.Comment(ts=ts + 2 + k, item=rng.choice(issues), text=sentence(rng, 30)))
        lead.put(D.AgendaPublication(ts=ts + 20, meeting=meeting, issues=issues[:2]))
        lead.put(D.MeetingStatus(ts=ts + 21, item=meeting, status="open"))
        lead.put(D.IssueStatus(ts=ts + 22, item=issues[0], status="presented"))
        lead.put(D.IssueStatus(ts=ts + 23, item=issues[1], status="presented"))
        lead.put(D.Note(ts=ts + 24, body="# Notes\n\n" + sentence(rng, 80), meeting=meeting))
        rest[0].put(D.Note(ts=ts + 25, body=sentence(rng, 60), meeting=meeting))
        for i, w in enumerate(everyone):
            for c in open_commitments[i]:
                w.put(
                    D.CommitmentStatus(ts=ts + 26, item=c, status="done", report=sentence(rng, 12))
                )
                lead.put(D.Review(ts=ts + 27, item=c, meeting=meeting))
            c = w.put(D.Commitment(ts=ts + 28, owner=w.me, text=sentence(rng, 10), meeting=meeting))
            open_commitments[i] = [c]
            w.put(
                D.Update(
                    ts=ts + 29,
                    highs=sentence(rng, 12),
                    lows=sentence(rng, 12),
                    scores={"work": rng.randint(1, 10)},
                )
            )
        everyone[0].put(
            D.IssueStatus(ts=ts + 30, item=issues[0], status="closed", outcome="resolved")
        )
        lead.put(D.MeetingStatus(ts=ts + 31, item=meeting, status="closed"))
        parked.append(issues[2])
        month += 1
    for w in writers:
        w.flush()
    return month


def best_and_median(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def process_times(args: list[str], env: dict[str, str], repeat: int) -> tuple[float, float, float]:
    """(best wall, median wall, best CPU) of `chatham ARGS` in a fresh process."""
    walls, cpus = [], []
    for _ in range(repeat):
        cpu, t = child_cpu(), time.perf_counter()
        subprocess.run([CHATHAM, *args], env=env, stdout=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - t)
        cpus.append(child_cpu() - cpu)
    return min(walls), statistics.median(walls), min(cpus)


def in_process(args: list[str]) -> Callable[[], None]:
    from chatham.client.cli import main

    def run() -> None:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(args)
        if code != 0:
            raise SystemExit(f"chatham {' '.join(args)} failed: {err.getvalue()}")

    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="1,000 entries, 3 repeats")
    ap.add_argument(
        "--data", help="keep the journal in this directory, and reuse it if it is there"
    )
    args = ap.parse_args()
    if args.quick:
        args.entries, args.repeat = 1_000, 3
    keep = args.data is not None
    root = Path(args.data) if keep else Path(tempfile.mkdtemp(prefix="chatham-journal-bench-"))
    run_dir = root / "run"
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = str(run_dir)
    os.environ.pop("CHATHAM_PASSPHRASE", None)
    os.environ["NO_COLOR"] = "1"
    try:
        if (root / "home-dana").exists():
            months, wrote, synced = 0, 0.0, 0.0  # reuse the journal built before (offline)
        else:
            months, wrote, synced = build(root, args.entries)
        report(root, args, months, wrote, synced)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def build(root: Path, entries: int) -> tuple[int, float, float]:
    rng = random.Random(6)
    with live_server(root / "server") as server:
        http = httpx.Client()
        journals = []
        for name in ("Dana", "Sam", "Ana"):
            home = Home(root / f"home-{name.lower()}")
            j = Account.init(home, passphrase=PASSPHRASE, name=name, http=http)
            journals.append(j)
        lead = journals[0].create_group("Bench Forum", server.url)
        groups = [lead]
        for j in journals[1:]:
            joined = j.join(lead.invite().link)
            req = next(r for r in lead.join_requests() if r.member == j.member_id)
            lead.approve(req, name=j.name or "x", fingerprint=j.fingerprint)
            joined.sync()
            groups.append(joined)
        writers = [Writer(j, g) for j, g in zip(journals, groups, strict=True)]
        t = time.perf_counter()
        months = write_journal(writers, entries, rng)
        wrote = time.perf_counter() - t
        t = time.perf_counter()
        lead.sync()
        synced = time.perf_counter() - t
        for j in journals:
            j.close()
        http.close()
    return months, wrote, synced


def report(root: Path, args: Any, months: int, wrote: float, synced: float) -> None:

    home = Home(root / "home-dana")
    os.environ["CHATHAM_HOME"] = str(home.path)
    if home.session_expires() is None:
        home.start_session(crypto.keystore_key(home.read_keystore(), PASSPHRASE), 3600)
    j = Account.open(home)
    g = j.group()
    rows = [r for r in g._store.iter_entries(g.id_bytes) if r.ct is not None]
    keys = g._load().keyring.keys
    n = len(rows)
    print(f"Chatham journal benchmark — {time.strftime('%Y-%m-%d')}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {os.getloadavg()[0]:.2f}"
    )
    if months:
        print(
            f"journal: {n} entries ({months} monthly meetings), written in {wrote:.1f} s, "
            f"first sync of the leader {synced:.1f} s"
        )
    else:
        print(f"journal: {n} entries, reused from {root}")

    def raw_open() -> None:
        for r in rows:
            header = crypto.decode(r.header, crypto.EntryHeader, max_size=1024)
            crypto.open_entry(crypto.Entry(header, r.ct, r.sig), keys[r.epoch])  # type: ignore[arg-type]

    from chatham.crypto import _primitives as P

    aead_key = os.urandom(32)
    sealed = []
    for r in rows:
        nonce = os.urandom(24)
        size = len(r.ct or b"") - 24 - 32 - 16  # nonce, key commitment, tag
        sealed.append((nonce, P.xchacha_seal(aead_key, nonce, os.urandom(size), b"")))

    def raw_aead() -> None:
        for nonce, ct in sealed:
            P.xchacha_open(aead_key, nonce, ct, b"")

    def entries() -> None:
        for _ in g.entries():
            pass

    def warm() -> None:
        Journal(g, j.member_id).view.list_items()

    def cold() -> None:
        save_sealed(g, OPENED_CACHE, None)  # as after a sync that changed the store
        Journal(g, j.member_id).view.list_items()

    r_open = best_and_median(raw_open, args.repeat)
    r_aead = best_and_median(raw_aead, args.repeat)
    r_entries = best_and_median(entries, args.repeat)
    r_cold = best_and_median(cold, args.repeat)
    r_warm = best_and_median(warm, args.repeat)
    j.close()
    print()
    print(f"{'what (in-process, seconds)':<52} {'best':>8} {'median':>8}")
    for label, (best, median) in (
        ("raw: XChaCha20-Poly1305 open of every ciphertext", r_aead),
        ("raw: open_entry of every entry (KDF, commit, AEAD)", r_open),
        ("Group.entries(): read, check MACs, open every entry", r_entries),
        ("journal view, cold: open every entry, decode, fold", r_cold),
        ("journal view, warm: sealed opened-body cache, fold", r_warm),
    ):
        print(f"{label:<52} {best:8.3f} {median:8.3f}")
    # As a user runs it: bytecode cached (in a private prefix, not the source tree).
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(root / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([CHATHAM, "list"], env=env, stdout=subprocess.DEVNULL, check=True)
    goals = {"list": 0.5, "parking-lot": 0.5, "search": 1.0}
    print(f"\n{'command (wall best, median; CPU best)':<52} {'best':>8} {'median':>8} {'cpu':>8}")
    for cmd in (["list"], ["parking-lot"], ["search", "bank lawyer"]):
        inproc = best_and_median(in_process(cmd), args.repeat)
        best, median, cpu = process_times(cmd, env, args.repeat)
        goal = goals[cmd[0]]
        verdict = "met" if best < goal else "NOT met"
        label = f"chatham {' '.join(cmd)}"
        print(f"{label + ' (in-process)':<52} {inproc[0]:8.3f} {inproc[1]:8.3f}")
        print(
            f"{label + ' (new process)':<52} {best:8.3f} {median:8.3f} {cpu:8.3f}"
            f"   goal < {goal} s: {verdict}"
        )
    best, median, cpu = process_times(["--help"], env, args.repeat)
    label = "chatham --help (floor: interpreter, typer)"
    print(f"{label:<52} {best:8.3f} {median:8.3f} {cpu:8.3f}")
    print(
        f"\nratio: `chatham list` in-process / raw open_entry of every entry = "
        f"{in_process_ratio(args.repeat, r_open[0]):.2f}"
    )


def in_process_ratio(repeat: int, raw: float) -> float:
    best, _ = best_and_median(in_process(["list"]), repeat)
    return best / raw


if __name__ == "__main__":
    sys.exit(main())
