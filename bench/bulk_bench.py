"""Bulk posts against single posts, in the same run, on a real server.

    .venv/bin/python bench/bulk_bench.py [--entries 2000] [--repeats 3]

One leader's client seals N entries of 2 KiB as the next entries of its chain and
sends them to a real `chatham-server` (SQLite) over 127.0.0.1, three ways, each on a
fresh group of the same server:

1. single: one `POST …/entries` per entry (what every write cost before bulk posts);
2. bulk 100: `POST …/entries/bulk` with 100 entries per request;
3. bulk 500: the same with 500 (what the client's outbox sends).

Sealing is done before the clock starts, so the figures are the requests and the
server's checks and storage alone (the server checks every entry in full either way).
Printed: items per second, requests sent, and each bulk rate as a multiple of the
single rate measured in the same run (best of `--repeats`, with the spread).

A benchmark, not a test: nothing fails on timing. Figures go to docs/performance.md
("## Bulk posts").
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from chatham import crypto
from chatham.client import Account, Group, Home
from chatham.client._private.engine import outbox
from chatham.server.testing import live_server

BODY = 2048


def sealed_chain(g: Group, n: int) -> list[bytes]:
    writes = [(os.urandom(16), (b"entry %06d " % i).ljust(BODY, b"."), ()) for i in range(n)]
    return [s.data for s in outbox.seal_chain(g, writes)]


def run(leader: Account, url: str, n: int, per_request: int) -> tuple[float, int]:
    """(seconds, requests) to post n entries, `per_request` per request (1: single posts)."""
    g = leader.create_group(f"Bench {per_request} {time.time_ns()}", url)
    data = sealed_chain(g, n)
    api = g._api()
    requests = 0
    t0 = time.perf_counter()
    if per_request == 1:
        for d in data:
            api.post_entry(g.id_bytes, d)
            requests += 1
    else:
        for i in range(0, n, per_request):
            results = api.post_entries(g.id_bytes, data[i : i + per_request])
            requests += 1
            assert all(not isinstance(r, Exception) for r in results), results
    return time.perf_counter() - t0, requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.entries
    print("Chatham bulk post benchmark")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {n:,} entries of 2 KiB\n")
    with tempfile.TemporaryDirectory(prefix="chatham-bench-") as tmp:
        root = Path(tmp)
        with live_server(root / "server", "--rate-device", "0") as server:
            leader = Account(Home(root / "leader"), crypto.Secrets.generate(created=0))
            leader.set_name("Leader")
            rates: dict[int, list[float]] = {1: [], 100: [], 500: []}
            counts: dict[int, int] = {}
            for _ in range(args.repeats):
                for per in rates:  # interleaved, so the three see the same load
                    seconds, requests = run(leader, server.url, n, per)
                    rates[per].append(n / seconds)
                    counts[per] = requests
            leader.close()
    single = max(rates[1])
    for per, got in rates.items():
        name = "single posts" if per == 1 else f"bulk, {per} per request"
        spread = f"{min(got):,.0f}–{max(got):,.0f}" if len(got) > 1 else ""
        print(
            f"{name:>24}: {max(got):>7,.0f} entries/s best (spread {spread}, median "
            f"{statistics.median(got):,.0f}), {counts[per]:,} requests, "
            f"{max(got) / single:.1f}× single"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
