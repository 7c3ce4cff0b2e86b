"""`make demo`: a real Chatham group session, end to end, on the embedded SQLite default.

Starts `chatham-server` on 127.0.0.1 in a temporary directory and drives the
`chatham` CLI for three members in separate homes, printing every command as a
user would type it: the leader creates the group and invites two members, they
join and are confirmed by fingerprint, each posts an issue, the leader builds
the agenda, a meeting is held with notes and commitments, the next meeting
reviews them, a member links a second device (a laptop), one member is removed
and the key rotated. It ends by showing
that the removed member reads nothing new and that the server's database holds
no plaintext, then cleans up.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from chatham.server.testing import CHATHAM, ServerDidNotStart, live_server

PASSPHRASE = "demo passphrase, not for real use"
CANARIES = [
    "Considering selling the family business",
    "My co-founder wants out",
    "Board asked me to step down",
    "Sam will talk to the bank before Friday",
]


class Member:
    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.home = root / f"home-{name.lower()}"
        self.home.mkdir(mode=0o700)
        run = root / "run"  # unlock sessions live here, private to the demo
        run.mkdir(mode=0o700, exist_ok=True)
        self.env = {
            **os.environ,
            "CHATHAM_HOME": str(self.home),
            "CHATHAM_PASSPHRASE": PASSPHRASE,
            "XDG_RUNTIME_DIR": str(run),
            "NO_COLOR": "1",
            "COLUMNS": "100",
        }
        self.env.pop("EDITOR", None)
        self.env.pop("VISUAL", None)

    def run(
        self, *args: str, stdin: str | None = None, show: bool = True, check: bool = True
    ) -> str:
        if show:
            print(f"\n[{self.name}]$ chatham {shlex.join(args)}", flush=True)
        proc = subprocess.run(
            [CHATHAM, *args],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if show:
            for line in proc.stdout.rstrip().splitlines():
                print(f"  {line}")
            for line in proc.stderr.rstrip().splitlines():
                print(f"  {line}")
        if check and proc.returncode != 0:
            raise SystemExit(f"demo failed: `chatham {shlex.join(args)}` exited {proc.returncode}")
        return proc.stdout

    def json(self, *args: str) -> object:
        return json.loads(self.run(*args, "--json", show=False))


def step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="chatham-demo-"))
    data = root / "server"
    try:
        # Three members share one address here; a real server sees each from their own.
        with live_server(data, "--rate-auth", "600") as server:
            print(f"chatham-server is running at {server.url} (SQLite in a temporary directory)")
            run_session(root, server.url)
            step("What the server holds")
            leaks = scan_for_plaintext(data)
            if leaks:
                raise SystemExit(f"demo failed: plaintext found in the server's files: {leaks}")
            n = len(CANARIES)
            print(f"  scanned every file under the server's data directory for {n} phrases")
            print("  from the session: none of them is there. The server holds only ciphertext.")
        print("\nDemo finished: everything above ran for real, and has been cleaned up.")
        return 0
    except ServerDidNotStart as e:
        raise SystemExit(f"demo failed: {e}") from None
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_session(root: Path, url: str) -> None:
    dana, sam, ana = (Member(n, root) for n in ("Dana", "Sam", "Ana"))

    step("Dana, the leader, creates the group")
    dana.run("init", "--name", "Dana")
    dana.run("unlock", "--for", "30m")
    dana.run("group", "create", "Thursday Forum", "--server", url)

    step("Dana invites Sam and Ana; each joins and is confirmed by fingerprint")
    for member in (sam, ana):
        member.run("init", "--name", member.name)
        member.run("unlock", "--for", "30m")
        code = dana.run("invite", "--name", member.name, "--expires", "7d").strip().splitlines()[-1]
        print(f"  ({member.name} receives the code in person and pastes it)")
        member.run("join", stdin=code + "\n")
        spoken = member.json("whoami")
        requests = dana.json("requests")
        if not isinstance(spoken, dict) or not isinstance(requests, list) or not requests:
            raise SystemExit("demo failed: no pending join request")
        print(f"  ({member.name} reads aloud: {spoken['fingerprint']})")
        dana.run("approve", str(requests[0]["id"]), "--fingerprint", str(spoken["fingerprint"]))
        member.run("sync")
    dana.run("members", "list")

    step("Each member posts an issue for the next meeting")
    sam.run(
        "issue",
        "new",
        "--title",
        CANARIES[0],
        "--priority",
        "A",
        "--minutes",
        "30",
        "--what",
        "An offer arrived for the business my father started.",
        "--ask",
        "Help me see what I am not seeing.",
    )
    ana.run("issue", "new", "--title", CANARIES[1], "--priority", "B", "--minutes", "20")
    dana.run("issue", "new", "--title", CANARIES[2], "--priority", "A", "--minutes", "25")
    for m in (dana, sam, ana):
        m.run("sync", show=m is dana)
    dana.run("parking-lot")

    step("Dana plans the meeting and publishes the agenda (which signs a checkpoint)")
    dana.run("meeting", "new", "--date", "today", "--title", "December forum", "--minutes", "90")
    dana.run("agenda", "--publish")
    sam.run("sync")
    sam.run("agenda")

    step("The meeting: opened, everyone compares the meeting code, notes, commitments, closed")
    opened = dana.run("meeting", "open")
    code_line = next(line for line in opened.splitlines() if line.startswith("meeting code:"))
    sam.run("sync", show=False)
    checked = sam.json("verify")
    if not isinstance(checked, dict) or f"meeting code: {checked['meeting_code']}" != code_line:
        raise SystemExit("demo failed: Sam's meeting code differs from Dana's")
    print(f"  (Sam's `chatham verify` shows the same {code_line})")
    issues = sam.json("issue", "list", "--mine")
    assert isinstance(issues, list)
    dana.run("sync", show=False)
    dana.run("issue", "present", str(issues[0]["id"])[:8])
    dana.run(
        "note", "new", "--body", "Sam presented; the group shared experiences of family sales."
    )
    sam.run("commit", "new", CANARIES[3], "--due", "next-meeting")
    ana.run("commit", "new", "Draft the partnership exit terms", "--due", "next-meeting")
    dana.run("meeting", "close")

    step("A month later, the next meeting reviews the commitments")
    next_month = (date.today() + timedelta(days=28)).isoformat()
    dana.run("meeting", "new", "--date", next_month, "--title", "January forum")
    for m in (sam, ana):
        m.run("sync", show=False)
    sam.run("commit", "list", "--mine")
    for c in sam.json("commit", "list", "--mine"):  # type: ignore[union-attr]
        sam.run("commit", "done", str(c["id"])[:8], "--report", "The bank said yes.")
    for c in ana.json("commit", "list", "--mine"):  # type: ignore[union-attr]
        ana.run("commit", "partial", str(c["id"])[:8], "--report", "Half drafted.")
    dana.run("sync", show=False)
    dana.run("review")
    dana.run("review", "--all")
    sam.run("search", "bank")

    step("Sam links his laptop: a second device of his, no leader needed")
    laptop = Member("Sam-laptop", root)
    line = sam.run("device", "link").strip().splitlines()[-1]
    print("  (Sam types the code on his laptop)")
    words = laptop.run("device", "add", stdin=line + "\n").strip().splitlines()[-1]
    print("  (the laptop shows six words; Sam types them on his first device)")
    sam.run("device", "confirm", *words.split(), "--name", "laptop")
    laptop.run("sync")
    laptop.run("issue", "list")
    if laptop.json("whoami")["fingerprint"] != sam.json("whoami")["fingerprint"]:  # type: ignore[index]
        raise SystemExit("demo failed: the laptop is not the same member")
    sam.run("device", "list")
    dana.run("sync")

    step("Ana leaves the forum: Dana removes her, which rotates the key")
    dana.run("remove", "Ana", "--yes")
    dana.run("issue", "new", "--title", "Written after Ana left", "--priority", "C")
    sam.run("sync")
    titles = [i["title"] for i in sam.json("issue", "list")]  # type: ignore[union-attr]
    if "Written after Ana left" not in titles:
        raise SystemExit("demo failed: a remaining member cannot read a new issue")

    step("Ana's client learns she was removed and gets nothing new")
    ana.run("sync", check=False)
    ana_titles = [i["title"] for i in ana.json("issue", "list")]  # type: ignore[union-attr]
    if "Written after Ana left" in ana_titles:
        raise SystemExit("demo failed: the removed member read an entry written after removal")
    print("  Ana still has what she already read, and nothing written after her removal.")
    dana.run("verify")

    step("The same journal in a browser: `chatham web`, for members who never open a terminal")
    show_web(sam)


def show_web(member: Member) -> None:
    """Start `chatham web` as a member, sign in with its one-time link, fetch two pages."""
    import httpx

    print(f"\n[{member.name}]$ chatham web --no-browser")
    proc = subprocess.Popen(
        [CHATHAM, "web", "--no-browser"],
        env=member.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        base = url.split("/launch", 1)[0]
        print(f"  {base}/launch?token=…   (the first line: a one-time sign-in address)")
        with httpx.Client(timeout=30) as browser:
            signed_in = browser.get(url)
            issues = browser.get(f"{base}/issues?status=all")
        if signed_in.status_code != 200 or "Written after Ana left" not in issues.text:
            raise SystemExit("demo failed: the web app did not show the journal")
        print(f"  {member.name}'s browser opens it: the link becomes a cookie, and the pages")
        print("  (issues, meetings, notes, members, search) are rendered by their own client on")
        listed = issues.text.count("/items/")
        print(f"  127.0.0.1 from their decrypted copy: /issues lists {listed} items. Anything")
        print("  else that asks is refused: see docs/web.md.")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def scan_for_plaintext(data: Path) -> list[str]:
    found = []
    for path in data.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            found += [f"{c!r} in {path.name}" for c in CANARIES if c.encode() in blob]
    return found


if __name__ == "__main__":
    sys.exit(main())
