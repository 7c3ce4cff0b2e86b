"""Web app benchmark: page times from the browser's side with 10,000 entries, and the first page
after `chatham web`.

    .venv/bin/python bench/web_bench.py [--entries 10000] [--repeat 20] [--quick] [--data DIR]

Builds the same journal as bench/journal_bench.py (three members, monthly cycles, a real
`chatham-server` on 127.0.0.1, SQLite), restarts that server on its data, then on the
leader's home:

- **first page**: from starting `chatham web --no-browser` to the start page loaded in
  Debian's chromium (sign-in link, cookie, the page's own refresh, the journal's view built
  from the sealed cache): once unlocked through an unlock session, once with
  CHATHAM_PASSPHRASE (Argon2id, ~0.4 s by design). The browser is already running, as a
  member's would be.
- **each page**: loaded `--repeat` times in one browser tab; the browser's own navigation
  timing (`performance.getEntriesByType("navigation")`): response end and load event end,
  from the start of the navigation; and its median load as a multiple of **the floor**,
  the guard's plain-text answer to a spent sign-in link, measured the same way in the same
  run (same server, same browser, no page and no library work).

Goals (issue 16): every page under 100 ms at p95; the first page under 2 s. This is a
benchmark, not a test: nothing fails on timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chatham import crypto
from chatham.client import Account, Home
from chatham.server.testing import live_server
from journal_bench import PASSPHRASE, build

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.web_member import browser, start_web

PAGES = [
    ("home", "/"),
    ("parking lot", "/issues"),
    ("all issues", "/issues?status=all"),
    ("meetings", "/meetings"),
    ("a meeting (agenda, review)", "{meeting}"),
    ("changing a meeting", "{meeting_edit}"),
    ("an issue with comments", "{issue}"),
    ("notes", "/notes"),
    ("everyone's commitments", "/commitments?who=all"),
    ("members", "/members"),
    ("invite (the form)", "/invite"),
    ("invites made", "/invites"),
    ("join requests (asks the server)", "/requests"),
    ("search", "/search?q=bank+lawyer"),
]
TIMING = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return [n.responseEnd - n.startTime, n.loadEventEnd - n.startTime];
}"""


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=15)
    if proc.stdout is not None:
        proc.stdout.close()


def first_page(b: Any, env: dict[str, str]) -> float:
    """Seconds from starting `chatham web` to its start page loaded in the browser."""
    context = b.new_context()
    page = context.new_page()
    t = time.perf_counter()
    proc, url = start_web(env)
    try:
        base = url.split("/launch", 1)[0]
        page.goto(url)
        page.wait_for_url(base + "/", wait_until="load")
        took = time.perf_counter() - t
        assert page.locator("h1").count() == 1
    finally:
        context.close()
        stop(proc)
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="1,000 entries, 5 loads a page")
    ap.add_argument("--data", help="keep the journal in this directory and reuse it")
    args = ap.parse_args()
    if args.quick:
        args.entries, args.repeat = 1_000, 5
    keep = args.data is not None
    root = Path(args.data) if keep else Path(tempfile.mkdtemp(prefix="chatham-web-bench-"))
    run_dir = root / "run"
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = str(run_dir)
    os.environ.pop("CHATHAM_PASSPHRASE", None)
    try:
        if not (root / "home-dana").exists():
            build(root, args.entries)
        with live_server(root / "server"):
            report(root, args.repeat)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def report(root: Path, repeat: int) -> None:
    home = Home(root / "home-dana")
    env = {**os.environ, "CHATHAM_HOME": str(home.path)}
    with Account.open(home, passphrase=PASSPHRASE) as acc:
        view = acc.group().journal().view
        entries = len(view)
        meeting = view.meetings("closed")[-1]
        issue = max(view.issues(), key=lambda i: len(i.comments))
    where = {
        "meeting": f"/items/{meeting.id.hex()}",
        "meeting_edit": f"/meetings/{meeting.id.hex()}/edit",
        "issue": f"/items/{issue.id.hex()}",
    }
    print(f"Chatham web benchmark — {time.strftime('%Y-%m-%d')}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"journal: {entries:,} entries on the leader's home")
    with browser() as b:
        print(f"browser: Debian chromium {b.version}")
        firsts_session, firsts_env = [], []
        for _ in range(3):
            home.start_session(crypto.keystore_key(home.read_keystore(), PASSPHRASE), 600)
            firsts_session.append(first_page(b, env))
            home.end_session()
            firsts_env.append(first_page(b, {**env, "CHATHAM_PASSPHRASE": PASSPHRASE}))
        print("\nfirst page after `chatham web` (best / median of 3):")
        print(
            f"  unlock session:      {min(firsts_session):.2f} s / "
            f"{statistics.median(firsts_session):.2f} s"
        )
        print(
            f"  CHATHAM_PASSPHRASE:  {min(firsts_env):.2f} s / "
            f"{statistics.median(firsts_env):.2f} s   (goal < 2 s)"
        )

        home.start_session(crypto.keystore_key(home.read_keystore(), PASSPHRASE), 3600)
        proc, url = start_web(env)
        try:
            base = url.split("/launch", 1)[0]
            context = b.new_context()
            page = context.new_page()
            page.goto(url)
            page.wait_for_url(base + "/")
            print(f"\npages, {repeat} loads each, from the browser's side (ms):")
            print(f"  {'page':<34} {'resp p50':>9} {'resp p95':>9} {'load p50':>9} {'load p95':>9}")
            # The floor, measured the same way in the same run: the guard's plain-text answer
            # to a spent sign-in link (same server, same browser; no page, no library).
            floor_resp, floor_load = [], []
            for _ in range(repeat):
                page.goto(base + "/launch?token=spent")
                r, done = page.evaluate(TIMING)
                floor_resp.append(r)
                floor_load.append(done)
            floor = statistics.median(floor_load)
            print(
                f"  {'bare answer (the floor)':<34} {statistics.median(floor_resp):9.1f} "
                f"{p95(floor_resp):9.1f} {floor:9.1f} {p95(floor_load):9.1f}"
            )
            every: list[float] = []
            for label, path in PAGES:
                path = path.format(**where)
                page.goto(base + path)  # once, not counted
                resp, load = [], []
                for _ in range(repeat):
                    page.goto(base + path)
                    r, done = page.evaluate(TIMING)
                    resp.append(r)
                    load.append(done)
                every += load
                print(
                    f"  {label:<34} {statistics.median(resp):9.1f} {p95(resp):9.1f} "
                    f"{statistics.median(load):9.1f} {p95(load):9.1f}   "
                    f"x{statistics.median(load) / floor:.1f} the floor"
                )
            print(
                f"  {'every page':<34} {'':>9} {'':>9} {statistics.median(every):9.1f} "
                f"{p95(every):9.1f}   (goal < 100 ms)"
            )
            context.close()
        finally:
            stop(proc)
            home.end_session()


if __name__ == "__main__":
    sys.exit(main())
