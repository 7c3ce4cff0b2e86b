"""Client benchmark: sync against the raw primitives' ceiling, listing, start-up, unlock cost.

    .venv/bin/python bench/sync_bench.py [--entries 10000] [--quick]

Prints, in one run:

1. the ceiling: raw Ed25519 verify (libsodium `crypto_sign_open`) plus
   XChaCha20-Poly1305 open of one 2 KiB entry, per second;
2. a fresh member's full sync of N entries of 2 KiB from a real `chatham-server`
   over 127.0.0.1 (download, verify, store), as entries per second and as a
   fraction of the ceiling (goal: at least 40%), with the syncing process's peak
   memory (goal: under 200 MB); the sync runs in its own process so the figure
   is the client's alone;
3. listing the N cached entries afterwards (open the home, verify the stored
   state, decrypt every entry): goal under 0.5 s;
4. `chatham --help` cold start (goal under 0.3 s);
5. what one command (`chatham whoami`) costs with the passphrase (Argon2id
   every time) and with an unlock session.

A benchmark, not a test: nothing fails on timing. Figures go to
docs/performance.md ("## Client").
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nacl.bindings as sodium
from chatham import crypto
from chatham.client import Account, Home
from chatham.client._private.engine import outbox
from chatham.server.testing import CHATHAM, live_server

ROOT = Path(__file__).resolve().parents[1]

BODY = 2048
PASSPHRASE = "benchmark passphrase"


def best_rate(fn: object, n: int, repeats: int) -> float:
    """Calls per second, best of `repeats` runs of n calls."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t0)
    return n / best


def ceiling(n: int, repeats: int) -> float:
    """Raw primitives per 2 KiB entry: one Ed25519 verify + one XChaCha20-Poly1305 open."""
    secrets = crypto.Secrets.generate(created=0)
    pk, sk = secrets.device.public, secrets.device._sk
    message = os.urandom(300)
    signed = sodium.crypto_sign(message, sk)
    key, nonce = os.urandom(32), os.urandom(24)
    ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(os.urandom(BODY), b"ad", nonce, key)

    def one() -> None:
        sodium.crypto_sign_open(signed, pk)
        sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, b"ad", nonce, key)

    return best_rate(one, n, repeats)


def bulk_post(g: object, n: int) -> None:
    """Seal and post n entries (one request each, without a sync in between)."""
    api = g._api()  # type: ignore[attr-defined]
    for i in range(n):
        eid = os.urandom(16)
        body = (b"entry %06d " % i).ljust(BODY, b".")
        sealed = outbox.seal(g, eid, body)
        posted = api.post_entry(g.id_bytes, sealed.data)  # type: ignore[attr-defined]
        outbox.store_own(g, sealed, posted.cursor, eid)


SYNC_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[2])
from sync_bench import ceiling
from chatham.client import Account
from chatham.client._private.engine import outbox

def peak_rss_mb():
    # VmHWM: this process's own peak (ru_maxrss would carry the forking parent's peak).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

home = sys.argv[1]
j = Account.open(home)  # through the unlock session: Argon2id's 256 MiB stay out of the figure
g = j.group()
before_mb = peak_rss_mb()
ceil_before = ceiling(2000, 3)
marks = []
t0 = time.perf_counter()
c0 = time.process_time()
report = g.sync(progress=lambda done, total: marks.append((time.perf_counter(), done)))
sync_s = time.perf_counter() - t0
sync_cpu = time.process_time() - c0
sync_peak_mb = peak_rss_mb()
ceil_after = ceiling(2000, 3)
j.close()
# Steady state: from the first page's arrival to the end (logging in, the log, the
# lockboxes and the first page's wait are the fixed part).
first = next((m for m in marks if m[1] > 0), marks[-1])
steady = (marks[-1][1] - first[1]) / max(marks[-1][0] - first[0], 1e-9)
t0 = time.perf_counter()
j = Account.open(home)
g = j.group()
items = sum(1 for _ in g.entries())
list_s = time.perf_counter() - t0
j.close()
print(json.dumps({
    "entries": report.new_entries, "sync_s": sync_s, "sync_cpu": sync_cpu, "steady": steady,
    "ceiling": (ceil_before + ceil_after) / 2, "list_s": list_s, "listed": items,
    "before_mb": before_mb, "sync_peak_mb": sync_peak_mb,
}))
"""


def run_child(code: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def timed_runs(argv: list[str], env: dict[str, str], n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="1,000 entries, fewer repeats")
    args = parser.parse_args()
    n_entries = 1000 if args.quick else args.entries
    repeats = 3 if args.quick else 7

    print("Chatham client benchmark")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")

    ceil = ceiling(2000 if args.quick else 5000, repeats)
    print(f"ceiling (raw verify + open, 2 KiB): {ceil:,.0f} entries/s ({1e6 / ceil:.1f} µs each)")

    with tempfile.TemporaryDirectory(prefix="chatham-bench-") as tmp:
        root = Path(tmp)
        run_dir = root / "run"
        run_dir.mkdir(mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(run_dir)
        os.environ.pop("CHATHAM_PASSPHRASE", None)
        # No per-device rate limit: the setup posts 10,000 entries from one device.
        with live_server(root / "server", "--rate-device", "0") as server:
            leader = Account(Home(root / "leader"), crypto.Secrets.generate(created=0))
            leader.set_name("Leader")
            group = leader.create_group("Bench", server.url, history="full")
            t0 = time.perf_counter()
            bulk_post(group, n_entries)
            post_s = time.perf_counter() - t0
            print(
                f"setup: {n_entries:,} entries posted in {post_s:.1f} s "
                f"({n_entries / post_s:,.0f}/s, one request each)"
            )

            newcomer = Account.init(root / "newcomer", passphrase=PASSPHRASE, name="Newcomer")
            newcomer.join(group.invite().link)
            [request] = group.join_requests()
            group.approve(request, name="Newcomer", fingerprint=newcomer.fingerprint)
            newcomer.close()
            leader.close()
            home = Home(root / "newcomer")
            home.start_session(home.unlock(passphrase=PASSPHRASE)[1], 600)

            r = run_child(SYNC_CHILD, str(root / "newcomer"), str(ROOT / "bench"))
        rate = r["entries"] / r["sync_s"]
        ceil2 = r["ceiling"]
        print(
            f"fresh member's full sync: {int(r['entries']):,} entries in {r['sync_s']:.2f} s "
            f"(CPU {r['sync_cpu']:.2f} s) = {rate:,.0f}/s = {rate / ceil2:.0%} of the ceiling "
            f"measured in the same process around it ({ceil2:,.0f}/s; goal ≥ 40%)"
        )
        print(
            f"  after the first page: {r['steady']:,.0f}/s = {r['steady'] / ceil2:.0%} of the "
            f"ceiling (logging in, the log, the lockboxes and the first page are the rest)"
        )
        print(
            f"  peak memory of the syncing process: {r['sync_peak_mb']:.0f} MB RSS "
            f"({r['before_mb']:.0f} MB before the sync began; goal < 200 MB)"
        )
        print(
            f"listing {int(r['listed']):,} cached entries "
            f"(open the home, load the verified state, decrypt): "
            f"{r['list_s']:.3f} s (goal < 0.5 s)"
        )

        env = {**os.environ, "CHATHAM_HOME": str(root / "newcomer"), "NO_COLOR": "1"}
        helps = timed_runs([CHATHAM, "--help"], env, 5 if args.quick else 11)
        print(
            f"`chatham --help`: median {statistics.median(helps) * 1000:.0f} ms, "
            f"best {min(helps) * 1000:.0f} ms (goal < 300 ms)"
        )

        home.end_session()
        with_pass = timed_runs(
            [CHATHAM, "whoami"], {**env, "CHATHAM_PASSPHRASE": PASSPHRASE}, 3 if args.quick else 7
        )
        subprocess.run(
            [CHATHAM, "unlock", "--for", "10m"],
            env={**env, "CHATHAM_PASSPHRASE": PASSPHRASE},
            capture_output=True,
            check=True,
        )
        with_session = timed_runs([CHATHAM, "whoami"], env, 3 if args.quick else 7)
        print(
            f"`chatham whoami`: with the passphrase (Argon2id MODERATE each time) median "
            f"{statistics.median(with_pass) * 1000:.0f} ms; with an unlock session median "
            f"{statistics.median(with_session) * 1000:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
