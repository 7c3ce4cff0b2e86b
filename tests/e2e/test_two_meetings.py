"""Two meetings of a forum, end to end over a real socket: a real `chatham-server` process and
three members in separate homes driving the `chatham` CLI (in-process, each as themselves).

The story checks what members rely on: the parking lot's order, the agenda built from it
and published, statuses moving parked → scheduled → presented → closed, the meeting code
every member compares, notes and commitments, the next meeting's agenda (which carries the
commitments due) and its accountability round, and the exports. It ends with a scan of
the server's files and the members' homes for the plaintext canaries.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from chatham.client.cli import main
from chatham.server.testing import LiveServer, live_server

PASSPHRASE = "two meetings passphrase"
CANARIES = (
    "Selling the family business to my cousin",
    "My co-founder wants out before the audit",
    "Talk to the bank about the bridge loan",
    "Sam's father cried when he heard the offer",
)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    # Three members log in from one address, once per command: no per-address login limit.
    monkeypatch.setenv("CHATHAM_SERVER_RATE_AUTH", "0")
    with live_server(tmp_path / "server") as s:
        yield s


class Forum:
    def __init__(
        self, root: Path, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch
    ) -> None:
        self.root, self.capsys, self.mp = root, capsys, mp
        run = root / "run"
        run.mkdir(mode=0o700)
        mp.setenv("XDG_RUNTIME_DIR", str(run))
        mp.setenv("NO_COLOR", "1")
        mp.setenv("COLUMNS", "200")
        mp.delenv("EDITOR", raising=False)

    def run(self, who: str, *args: str, stdin: str = "") -> str:
        self.mp.setenv("CHATHAM_HOME", str(self.root / f"home-{who.lower()}"))
        self.mp.setenv("CHATHAM_PASSPHRASE", PASSPHRASE)  # the unlock session is used first
        self.mp.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = self.capsys.readouterr()
        assert code == 0, f"chatham {' '.join(args)}: {err}"
        for canary in CANARIES:
            assert canary not in err
        return out

    def json(self, who: str, *args: str) -> Any:
        return json.loads(self.run(who, *args, "--json"))

    def new(self, who: str, *args: str) -> str:
        made = self.json(who, *args)
        assert made["queued"] is False
        return str(made["id"])


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


def statuses(f: Forum, who: str) -> dict[str, str]:
    return {i["id"]: i["status"] for i in f.json(who, "issue", "list")}


def scan(root: Path, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.slow
def test_two_meetings(
    server: LiveServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    homes = tmp_path / "homes"
    homes.mkdir()
    f = Forum(homes, capsys, monkeypatch)
    d1 = date.today()
    d2 = d1 + timedelta(days=28)

    # --- forming the group ---------------------------------------------------------------------
    for who in ("Dana", "Sam", "Ana"):
        f.run(who, "init", "--name", who)
        f.run(who, "unlock", "--for", "30m")
    f.run("Dana", "group", "create", "Thursday Forum", "--server", server.url)
    for who in ("Sam", "Ana"):
        code = f.run("Dana", "invite", "--name", who).strip().splitlines()[-1]
        f.run(who, "join", stdin=code + "\n")
        [request] = f.json("Dana", "requests")
        spoken = f.json(who, "whoami")["fingerprint"]
        f.run("Dana", "approve", request["id"], "--fingerprint", spoken)
        f.run(who, "sync")

    # --- before the first meeting: issues and the parking lot ----------------------------------
    sell = f.new(
        "Sam", "issue", "new", "--title", CANARIES[0], "--priority", "A", "--minutes", "30",
        "--what", "An offer arrived.", "--ask", "What am I not seeing?",
    )  # fmt: skip
    cofounder = f.new("Ana", "issue", "new", "--title", CANARIES[1], "--minutes", "20")
    move = f.new("Dana", "issue", "new", "--title", "Office move", "-p", "C", "--minutes", "45")
    coo = f.new("Sam", "issue", "new", "--title", "Hiring a COO", "--minutes", "15")
    f.run("Dana", "sync")
    lot = f.json("Dana", "parking-lot")
    assert ids(lot) == [sell, cofounder, coo, move]  # A, then the older B, the newer B, C
    assert [i["score"] for i in lot] == [90, 60, 60, 30]

    # --- meeting one ---------------------------------------------------------------------------
    december = f.new(
        "Dana", "meeting", "new", "--date", d1.isoformat(), "--title", "December forum",
        "--minutes", "60",
    )  # fmt: skip
    draft = f.json("Dana", "agenda")
    assert (draft["meeting"]["id"], draft["published"]) == (december, False)
    assert ids(draft["issues"]) == [sell, cofounder]  # 50 of the 60 minutes; the rest wait
    f.run("Dana", "agenda", "--publish")
    for who in ("Sam", "Ana"):
        f.run(who, "sync")
        agenda = f.json(who, "agenda")
        assert agenda["published"] is True
        assert ids(agenda["issues"]) == [sell, cofounder]
    assert statuses(f, "Ana") == {
        sell: "scheduled",
        cofounder: "scheduled",
        move: "parked",
        coo: "parked",
    }

    opened = f.json("Dana", "meeting", "open")
    for who in ("Sam", "Ana"):
        f.run(who, "sync")
        assert f.json(who, "verify")["meeting_code"] == opened["meeting_code"]
    f.run("Dana", "issue", "present", sell[:8])
    f.run("Ana", "issue", "present", cofounder[:8])  # the owner may, too
    reply = f.new("Sam", "comment", cofounder[:8], "I bought out my partner in 2019.")
    note = f.new("Dana", "note", "new", "--body", f"# December\n\n{CANARIES[3]}.")
    bank = f.new("Sam", "commit", "new", CANARIES[2])  # due at the next meeting
    exit_terms = f.new(
        "Ana", "commit", "new", "Draft the exit terms", "--due", (d1 + timedelta(14)).isoformat()
    )
    f.run("Dana", "meeting", "close")
    f.run("Sam", "sync")
    f.run("Sam", "issue", "close", sell[:8])

    f.run("Dana", "sync")
    assert statuses(f, "Dana") == {
        sell: "closed",
        cofounder: "presented",
        move: "parked",
        coo: "parked",
    }
    [dec] = f.json("Dana", "meeting", "list")
    assert (dec["status"], dec["agenda"]["issues"]) == ("closed", [sell, cofounder])
    assert ids(f.json("Dana", "note", "list", "--meeting", december[:8])) == [note]
    assert f.json("Dana", "show", cofounder[:8])["comments"] == [reply]

    # --- meeting two: the agenda carries the commitments due -----------------------------------
    january = f.new("Dana", "meeting", "new", "--date", d2.isoformat(), "--title", "January forum")
    commitments = {c["id"]: c for c in f.json("Dana", "commit", "list")}
    assert {c: (v["status"], v["due"]) for c, v in commitments.items()} == {
        bank: ("open", d2.isoformat()),  # "the next meeting" follows the calendar
        exit_terms: ("open", (d1 + timedelta(14)).isoformat()),
    }
    lot = f.json("Dana", "parking-lot")
    # Sam presented at the meeting just held; Dana never has: her C issue ties with his B.
    assert [(i["id"], i["points"]["turn"]) for i in lot] == [(move, 30), (coo, 0)]
    agenda = f.json("Dana", "agenda", "--publish")
    assert agenda["meeting"]["id"] == january
    assert ids(agenda["issues"]) == [move, coo]
    assert ids(agenda["commitments"]) == [bank, exit_terms]

    f.run("Sam", "sync")
    f.run("Sam", "commit", "done", bank[:8], "--report", "The bank agreed.")
    f.run("Ana", "sync")
    f.run("Ana", "commit", "partial", exit_terms[:8], "--report", "-", stdin="Half of it.\n")
    f.json("Dana", "meeting", "open")
    review = f.json("Dana", "review", "--all")
    assert review["meeting"]["id"] == january
    assert len(review["marked"]) == 2
    rounds = {r["name"]: [(c["id"], c["status"], c["report"]) for c in r["commitments"]]
              for r in review["rounds"]}  # fmt: skip
    assert rounds == {
        "Ana": [(exit_terms, "partial", "Half of it.")],
        "Dana": [],
        "Sam": [(bank, "done", "The bank agreed.")],
    }
    assert all(c["reviewed_at"] == january for r in review["rounds"] for c in r["commitments"])
    f.run("Dana", "issue", "present", move[:8])
    f.run("Dana", "meeting", "close")

    # --- what every member now sees ------------------------------------------------------------
    for who in ("Sam", "Ana"):
        f.run(who, "sync")
        assert [(m["title"], m["status"]) for m in f.json(who, "meeting", "list")] == [
            ("December forum", "closed"),
            ("January forum", "closed"),
        ]
        assert statuses(f, who) == {
            sell: "closed",
            cofounder: "presented",
            move: "presented",
            coo: "parked",  # on the agenda but not reached: back in the parking lot
        }
        assert ids(f.json(who, "parking-lot")) == [coo]
        assert [c["status"] for c in f.json(who, "commit", "list")] == ["done", "partial"]
    assert ids(f.json("Ana", "search", "bridge loan")) == [bank]
    listing = f.json("Ana", "list")
    assert ids(listing)[:4] == [sell, cofounder, move, coo]
    assert [i["type"] for i in listing].count("meeting") == 2

    out = tmp_path / "export"
    f.run("Ana", "export", "--format", "markdown", str(out))
    dec_md = (out / f"{d1.isoformat()}-december-forum.md").read_text()
    assert dec_md.index(CANARIES[0]) < dec_md.index(CANARIES[1])  # the published order
    assert "## Notes" in dec_md
    jan_md = (out / f"{d2.isoformat()}-january-forum.md").read_text()
    assert "## Commitments due" in jan_md
    assert CANARIES[2] in jan_md

    # --- the server and the homes hold no plaintext --------------------------------------------
    for canary in CANARIES:
        assert scan(server.data_dir, canary.encode()) == []
        assert scan(homes, canary.encode()) == []
