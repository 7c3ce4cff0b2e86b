"""The journal CLI against a real server over a socket: every command, exact error lines,
and `--json` shapes that stay stable.

Three members (Dana leads, Sam and Ana) get real keystores and unlock sessions once per
module; every test forms a fresh group with them, so tests do not see each other's items.
Commands run in-process through `chatham.client.cli.main`, each as its member (their own
CHATHAM_HOME), exactly as a shell would run them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatham import crypto
from chatham.client import Account, Home
from chatham.client import errors as E
from chatham.client._private.journal.cache import load_sealed
from chatham.client.cli import common as cli_common
from chatham.client.cli import main
from chatham.client.journal import CommentItem, Journal
from chatham.server.testing import CHATHAM, LiveServer, live_server

from tests.support.other_owner import another_users_directory

PASSPHRASE = "journal cli passphrase"
NAMES = ("Dana", "Sam", "Ana")


@dataclass(frozen=True)
class Person:
    name: str
    home: Path


@dataclass(frozen=True)
class World:
    server: LiveServer
    run_dir: Path
    people: dict[str, Person]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("journal-cli")
    run_dir = root / "run"
    run_dir.mkdir(mode=0o700)
    with pytest.MonkeyPatch.context() as mp:
        # Every command logs in afresh, all from 127.0.0.1: lift the per-address login limit.
        mp.setenv("CHATHAM_SERVER_RATE_AUTH", "0")
        # Each test founds its own group from the same few devices: lift the open-registration
        # bound on groups per device (tests/server/test_groups.py tests the bound itself).
        mp.setenv("CHATHAM_SERVER_MAX_GROUPS_PER_DEVICE", "1000")
        mp.setenv("XDG_RUNTIME_DIR", str(run_dir))
        with live_server(root / "server") as server:
            people = {}
            for name in NAMES:
                home = Home(root / f"home-{name.lower()}")
                with Account.init(home, passphrase=PASSPHRASE, name=name):
                    pass
                home.start_session(crypto.keystore_key(home.read_keystore(), PASSPHRASE), 3600)
                people[name] = Person(name, home.path)
            yield World(server, run_dir, people)


class Cli:
    """`chatham ...` as one member, in-process: (exit code, stdout, stderr)."""

    def __init__(self, world: World, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch):
        self.world, self.capsys, self.mp = world, capsys, mp

    def __call__(self, who: str, *args: str, stdin: str = "") -> tuple[int, str, str]:
        self.mp.setenv("CHATHAM_HOME", str(self.world.people[who].home))
        self.mp.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, who: str, *args: str, stdin: str = "") -> str:
        code, out, err = self(who, *args, stdin=stdin)
        assert code == 0, err
        assert err == ""
        return out

    def json(self, who: str, *args: str, stdin: str = "") -> Any:
        return json.loads(self.ok(who, *args, "--json", stdin=stdin))

    def fails(self, who: str, *args: str, code: int = 2) -> list[str]:
        got, out, err = self(who, *args)
        assert (got, out) == (code, ""), err
        return err.rstrip("\n").splitlines()

    def new(self, who: str, *args: str, stdin: str = "") -> str:
        """Run a creating command with --json; the new entry's id."""
        made = self.json(who, *args, stdin=stdin)
        assert made["queued"] is False
        return str(made["id"])


@pytest.fixture
def cli(world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(world.run_dir))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    for var in ("CHATHAM_PASSPHRASE", "EDITOR", "VISUAL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(cli_common, "interactive", lambda: False)
    return Cli(world, capsys, monkeypatch)


def form_group(world: World, server_url: str | None = None) -> str:
    """Dana founds a group, invites and approves Sam and Ana; it is everyone's current one."""
    url = server_url or world.server.url
    with httpx.Client() as http:
        journals = {n: Account.open(p.home, http=http) for n, p in world.people.items()}
        try:
            g = journals["Dana"].create_group(f"Forum {time.monotonic_ns()}", url)
            for name in ("Sam", "Ana"):
                j = journals[name]
                joined = j.join(g.invite().link)
                request = next(r for r in g.join_requests() if r.member == j.member_id)
                g.approve(request, name=name, fingerprint=j.fingerprint)
                joined.sync()
            for j in journals.values():
                j.use(g.id).sync()
            return g.id
        finally:
            for j in journals.values():
                j.close()


@pytest.fixture
def forum(world: World, cli: Cli) -> str:
    return form_group(world)


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


# --- issues ---------------------------------------------------------------------------------------


def test_issue_new_list_show_edit_present_close(cli: Cli, forum: str) -> None:
    out = cli.ok(
        "Sam",
        "issue",
        "new",
        "--title",
        "Selling the company?",
        "--what",
        "An offer arrived.",
        "--why",
        "It is my father's business.",
        "--tried",
        "Talking to my wife.",
        "--ask",
        "Experience with family sales.",
        "--not-ask",
        "Valuations.",
        "--priority",
        "a",
        "--minutes",
        "30",
    )
    assert re.fullmatch(r"issue [0-9a-f]{8} posted\n", out)
    sid = cli.json("Sam", "issue", "list")[0]["id"]
    assert sid.startswith(out.split()[1])
    cli.ok("Dana", "sync")
    [issue] = cli.json("Dana", "issue", "list")
    assert {k: issue[k] for k in ("title", "priority", "status", "minutes", "author_name")} == {
        "title": "Selling the company?",
        "priority": "A",
        "status": "parked",
        "minutes": 30,
        "author_name": "Sam",
    }
    assert issue["what"] == "An offer arrived."
    assert issue["not_ask"] == "Valuations."

    shown = cli.ok("Dana", "issue", "show", sid[:6])
    assert shown.splitlines()[0] == f"Selling the company?  issue {sid}"
    assert "What I want from the group" in shown
    assert "Experience with family sales." in shown
    assert cli.json("Dana", "show", sid[:8])["history"][0]["action"] == "created"

    # Only the owner edits; a refusal is an exact error and posts nothing.
    assert cli.fails("Dana", "issue", "edit", sid[:8], "--priority", "C") == [
        "chatham: error: only the issue's owner may edit it",
        "chatham: hint: comment on it instead with `chatham comment ID`",
    ]
    assert cli.ok(
        "Sam", "issue", "edit", sid[:8], "--priority", "B", "--why", "-", stdin="Legacy\n"
    )
    assert cli.ok("Sam", "issue", "edit", sid[:8], "--minutes", "20") == (
        f"issue {sid[:8]} revised\n"
    )
    edited = cli.json("Sam", "issue", "show", sid)
    assert (edited["priority"], edited["why"], edited["minutes"]) == ("B", "Legacy", 20)
    assert [e["action"] for e in edited["history"]] == ["created", "edited", "edited"]
    assert cli.fails("Sam", "issue", "edit", sid[:8]) == [
        "chatham: error: nothing to change",
        "chatham: hint: pass the fields to change, e.g. --priority A or --why TEXT",
    ]

    # A leader marks it presented; only the owner closes and reopens it.
    cli.ok("Dana", "sync")
    assert cli.ok("Dana", "issue", "present", sid[:8]) == f"issue {sid[:8]} is presented\n"
    assert cli.fails("Dana", "issue", "close", sid[:8]) == [
        "chatham: error: only the issue's owner may close or reopen it",
        "chatham: hint: ask the owner; comments go in with `chatham comment ID`",
    ]
    cli.ok("Sam", "sync")
    assert cli.ok("Sam", "issue", "close", sid[:8], "--withdrawn") == (
        f"issue {sid[:8]} is closed (withdrawn)\n"
    )
    assert cli.fails("Sam", "issue", "close", sid[:8]) == [
        f"chatham: error: issue {sid[:8]} is closed; it cannot become closed",
        "chatham: hint: `chatham issue show ID` shows its history",
    ]
    assert cli.json("Sam", "issue", "list", "--status", "closed")[0]["outcome"] == "withdrawn"
    cli.ok("Sam", "issue", "reopen", sid[:8])
    assert cli.json("Sam", "issue", "list", "--mine")[0]["status"] == "parked"
    assert cli.json("Dana", "issue", "list", "--mine") == []


def test_issue_fields_come_from_the_editor_on_a_terminal(
    cli: Cli, forum: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    editor = tmp_path / "editor.py"
    seen = tmp_path / "seen.json"
    editor.write_text(
        "import json, os, sys, stat\n"
        "path = sys.argv[1]\n"
        "text = open(path).read()\n"
        f"json.dump({{'env': sorted(os.environ), 'path': path, 'text': text,\n"
        "           'mode': stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)},\n"
        f"          open({str(seen)!r}, 'w'))\n"
        "text = text.replace('## Why does it matter?\\n', '## Why does it matter?\\n"
        "My family depends on it.\\n\\n# not a heading of ours\\n')\n"
        "text = text.replace('## What do I not want?\\n', '## What do I not want?\\nPity.\\n')\n"
        "text = text.replace('## What is the issue?\\n', '## What is the issue?\\nToo much\\n')\n"
        "open(path, 'w').write(text)\n"
    )
    monkeypatch.setattr(cli_common, "interactive", lambda: True)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.setenv("CHATHAM_PASSPHRASE", "must never reach the editor")
    code, _out, err = cli("Sam", "issue", "new", "--title", "Hiring a COO")
    assert code == 0, err
    assert err.startswith("chatham: opening in python")
    [issue] = cli.json("Sam", "issue", "list")
    assert issue["what"] == "Too much"
    assert issue["why"] == "My family depends on it.\n\n# not a heading of ours"
    assert issue["not_ask"] == "Pity."
    assert issue["tried"] == ""
    assert issue["background"] == ""
    got = json.loads(seen.read_text())
    assert "CHATHAM_PASSPHRASE" not in got["env"]
    assert "## What is the issue?" in got["text"]
    assert "## What have I tried?" in got["text"]
    assert "## Background" in got["text"]
    assert got["mode"] == 0o700
    assert Path(got["path"]).parent.parent == cli.world.run_dir / "chatham" / "edits"
    assert not Path(got["path"]).parent.exists()  # the edit's own directory, wiped after use


def test_without_a_terminal_missing_fields_stay_empty(cli: Cli, forum: str) -> None:
    cli.ok("Ana", "issue", "new", "--title", "Quiet one")
    [issue] = cli.json("Ana", "issue", "list")
    assert [issue[k] for k in ("what", "why", "tried", "ask", "not_ask")] == [""] * 5
    assert (issue["priority"], issue["minutes"]) == ("B", 15)


def test_parking_lot_is_ranked(cli: Cli, forum: str) -> None:
    c = cli.new("Ana", "issue", "new", "--title", "Low", "--priority", "C")
    a = cli.new("Sam", "issue", "new", "--title", "Urgent", "--priority", "A")
    b = cli.new("Dana", "issue", "new", "--title", "Middle", "--priority", "B")
    cli.ok("Dana", "sync")
    lot = cli.json("Dana", "parking-lot")
    assert ids(lot) == [a, b, c]
    assert [(i["rank"], i["score"], i["points"]) for i in lot] == [
        (1, 90, {"priority": 60, "waiting": 0, "turn": 30}),
        (2, 60, {"priority": 30, "waiting": 0, "turn": 30}),
        (3, 30, {"priority": 0, "waiting": 0, "turn": 30}),
    ]
    text = cli.ok("Dana", "parking-lot").splitlines()
    assert text[0].split() == [
        "#",
        "id",
        "title",
        "pri",
        "min",
        "owner",
        "posted",
        "presented",
        "score",
    ]
    assert text[1].split()[:4] == ["1", a[:8], "Urgent", "A"]


# --- meetings, agenda, checkpoints ----------------------------------------------------------------


def test_meeting_agenda_open_close_sign_checkpoints(cli: Cli, forum: str) -> None:
    i1 = cli.new("Sam", "issue", "new", "--title", "Sell?", "--priority", "A", "--minutes", "30")
    i2 = cli.new("Ana", "issue", "new", "--title", "Partner", "--minutes", "20")
    i3 = cli.new("Ana", "issue", "new", "--title", "Later", "--priority", "C", "--minutes", "50")
    assert cli.fails("Sam", "meeting", "new", "--date", "today", "--title", "Mine") == [
        "chatham: error: only leaders may plan a meeting",
        "chatham: hint: ask a leader (see `chatham members`)",
    ]
    assert cli.fails("Dana", "agenda") == [
        "chatham: error: no meeting is open or planned",
        "chatham: hint: a leader plans one with `chatham meeting new --date DATE --title TITLE`",
    ]
    m = cli.new(
        "Dana",
        "meeting",
        "new",
        "--date",
        "today",
        "--title",
        "December",
        "--time",
        "18:30",
        "--minutes",
        "60",
        "--place",
        "Room 4",
    )
    [meeting] = cli.json("Dana", "meeting", "list")
    assert (meeting["id"], meeting["status"], meeting["start"], meeting["place"]) == (
        m,
        "planned",
        "18:30",
        "Room 4",
    )
    draft = cli.json("Dana", "agenda")
    assert draft["published"] is False
    assert ids(draft["issues"]) == [i1, i2]  # 50 more minutes would not fit the 60
    assert draft["minutes"] == 50

    assert cli.fails("Sam", "agenda", "--publish") == [
        "chatham: error: only leaders may publish an agenda",
        "chatham: hint: `chatham agenda` shows the draft; ask a leader to publish it",
    ]
    seq_before = cli.json("Dana", "verify")["log_ops"]
    published = cli.ok("Dana", "agenda", "--publish").splitlines()
    assert published[0] == f"Agenda for December, {date.today().isoformat()} (today) (published)"
    assert re.fullmatch(r"published the agenda \([0-9a-f]{8}\)", published[-1])
    cli.ok("Sam", "sync")
    agenda = cli.json("Sam", "agenda", m[:8])
    assert (agenda["published"], ids(agenda["issues"])) == (True, [i1, i2])
    assert {i["id"]: i["status"] for i in cli.json("Sam", "issue", "list")} == {
        i1: "scheduled",
        i2: "scheduled",
        i3: "parked",
    }

    assert cli.fails("Sam", "meeting", "open") == [
        "chatham: error: only leaders may open or close a meeting",
        "chatham: hint: ask a leader (see `chatham members`)",
    ]
    assert cli.fails("Dana", "meeting", "close") == [
        "chatham: error: no meeting is open",
        "chatham: hint: a leader opens one with `chatham meeting open`",
    ]
    opened = cli.ok("Dana", "meeting", "open").splitlines()
    assert opened[0] == f"meeting {m[:8]} is open"
    code = opened[1].removeprefix("meeting code: ")
    assert len(code.split()) == 6
    cli.ok("Ana", "sync")
    assert cli.json("Ana", "verify")["meeting_code"] == code  # compared aloud: the same words
    assert cli.json("Ana", "meeting", "show")["status"] == "open"
    assert cli.fails("Dana", "meeting", "open", m[:8]) == [
        f"chatham: error: meeting {m[:8]} is open; only a planned meeting can be opened",
        "chatham: hint: `chatham meeting list` shows each meeting's status",
    ]
    closed = cli.json("Dana", "meeting", "close")
    assert (closed["status"], closed["checkpoint_seq"]) == ("closed", seq_before + 2)
    assert closed["meeting_code"] != code  # a new checkpoint, new words
    shown = cli.ok("Dana", "meeting", "show", "today")
    assert "December" in shown
    assert "closed" in shown


def test_notes(cli: Cli, forum: str, tmp_path: Path) -> None:
    cli.ok("Dana", "meeting", "new", "--date", "today", "--title", "December")
    cli.ok("Dana", "meeting", "open")
    body = tmp_path / "notes.md"
    body.write_text("# Notes\n\n* Sam presented\n")
    n1 = cli.new("Dana", "note", "new", "--body", f"@{body}", "--title", "Minutes")
    n2 = cli.new("Sam", "note", "new", "--body", "-", "--no-meeting", stdin="A thought\n")
    assert cli.fails("Sam", "note", "new") == [
        "chatham: error: a note needs a body",
        "chatham: hint: pass --body TEXT, --body - to read stdin, or --body @file",
    ]
    cli.ok("Dana", "sync")
    notes = cli.json("Dana", "note", "list")
    assert ids(notes) == [n1, n2]
    assert notes[0]["meeting"] is not None
    assert notes[1]["meeting"] is None
    assert notes[0]["body"] == "# Notes\n\n* Sam presented"
    assert ids(cli.json("Dana", "note", "list", "--meeting", "today")) == [n1]
    assert "* Sam presented" in cli.ok("Dana", "note", "show", n1[:8])


def test_a_blank_note_or_commitment_is_refused_as_the_web_app_refuses_it(
    cli: Cli, forum: str
) -> None:
    n = cli.new("Sam", "note", "new", "--body", "A thought", "--no-meeting")
    blank_note = ["chatham: error: a note needs some text", "chatham: hint: write the note first"]
    assert cli.fails("Sam", "note", "new", "--body", " \n ", "--no-meeting") == blank_note
    assert cli.fails("Sam", "note", "edit", n[:8], "--body", "  ") == blank_note
    assert cli.json("Sam", "note", "show", n[:8])["body"] == "A thought"
    assert cli.fails("Sam", "commit", "new", "   ") == [
        "chatham: error: a commitment needs its text",
        "chatham: hint: say what you will do",
    ]


# --- commitments and the review round -------------------------------------------------------------


def test_commitments_dates_and_the_review_round(cli: Cli, forum: str) -> None:
    today = date.today()
    first = cli.new("Dana", "meeting", "new", "--date", "today", "--title", "December")
    cli.ok("Dana", "meeting", "open")
    cli.ok("Sam", "sync")
    c1 = cli.new("Sam", "commit", "new", "Talk to the bank", "--due", "next-meeting")
    c2 = cli.new("Sam", "commit", "new", "-", "--due", "today", stdin="Sleep 7 hours\n")
    c3 = cli.new("Ana", "commit", "new", "Draft the exit terms")
    assert cli.fails("Ana", "commit", "new", "x", "--due", "someday") == [
        "chatham: error: not a date: 'someday'",
        "chatham: hint: use YYYY-MM-DD, today, tomorrow or next-meeting",
    ]
    cli.ok("Dana", "meeting", "close")
    later = (today + timedelta(days=28)).isoformat()
    second = cli.new("Dana", "meeting", "new", "--date", later, "--title", "January")
    cli.ok("Sam", "sync")
    mine = cli.json("Sam", "commit", "list", "--mine")
    assert [(c["id"], c["text"], c["status"], c["due"]) for c in mine] == [
        (c1, "Talk to the bank", "open", later),  # the next meeting, as the calendar says
        (c2, "Sleep 7 hours", "open", today.isoformat()),
    ]
    assert ids(cli.json("Sam", "commit", "list", "--owner", "ana")) == [c3]

    assert cli.fails("Sam", "commit", "done", c3[:8]) == [
        "chatham: error: only the commitment's owner may mark it done, partial or dropped",
        "chatham: hint: ask its owner to report back",
    ]
    assert cli.ok("Sam", "commit", "done", c1[:8], "--report", "The bank said yes") == (
        f"commitment {c1[:8]} is done\n"
    )
    cli.ok("Sam", "commit", "drop", c2[:8], "--report", "Not this month")
    cli.ok("Ana", "commit", "partial", c3[:8])
    assert [c["status"] for c in cli.json("Sam", "commit", "list", "--status", "dropped")] == [
        "dropped"
    ]
    cli.ok("Dana", "sync")
    review = cli.json("Dana", "review")
    assert review["meeting"]["id"] == second
    rounds = {r["name"]: [c["id"] for c in r["commitments"]] for r in review["rounds"]}
    assert rounds == {"Ana": [c3], "Dana": [], "Sam": [c1, c2]}
    # Nothing made at a meeting is due at that same meeting.
    assert [r["commitments"] for r in cli.json("Dana", "review", first[:8])["rounds"]] == [[]] * 3

    assert cli.fails("Ana", "review", "--mark", c1[:8]) == [
        "chatham: error: only the commitment's owner or a leader may mark it reviewed",
        "chatham: hint: ask a leader (see `chatham members`)",
    ]
    marked = cli.json("Sam", "review", "--mark", c1[:8])
    assert marked["marked"]
    assert marked["rounds"][2]["commitments"][0]["reviewed_at"] == second
    text = cli.ok("Dana", "review", "--all")
    assert text.splitlines()[-1] == "marked 2 commitments reviewed"
    assert f"{c3[:8]}  partial  reviewed" in text
    assert cli.fails("Sam", "commit", "done", c1[:8]) == [
        f"chatham: error: commitment {c1[:8]} was reviewed already; its status is final",
        "chatham: hint: make a new commitment with `chatham commit new TEXT`",
    ]


# --- comments, updates, attachments ---------------------------------------------------------------


def test_comments_and_updates(cli: Cli, forum: str) -> None:
    issue = cli.new("Sam", "issue", "new", "--title", "Sell?")
    cli.ok("Ana", "sync")
    k = cli.new("Ana", "comment", issue[:8], "I sold mine in 2019.")
    reply = cli.new("Sam", "comment", k[:8], "-", stdin="Tell me more\n")
    assert cli.fails("Ana", "comment", issue[:8]) == [
        "chatham: error: a comment needs text",
        'chatham: hint: pass it: chatham comment ID "...", or `-` for stdin',
    ]
    cli.ok("Sam", "sync")
    shown = cli.json("Sam", "show", issue[:8])
    assert shown["comments"] == [k]
    assert cli.json("Sam", "show", k)["comments"] == [reply]
    assert "I sold mine in 2019." in cli.ok("Sam", "show", issue[:8])

    u = cli.new(
        "Ana",
        "update",
        "new",
        "--highs",
        "Closed a deal",
        "--score",
        "work=7",
        "--score",
        "family=9",
    )
    assert cli.fails("Ana", "update", "new", "--score", "work=11") == [
        "chatham: error: not a score: 'work=11'",
        "chatham: hint: write NAME=N with N from 1 to 10",
    ]
    assert cli.fails("Ana", "update", "new") == [
        "chatham: error: an update needs highs, lows or scores",
        "chatham: hint: pass --highs TEXT",
    ]
    cli.ok("Dana", "sync")
    [update] = cli.json("Dana", "update", "list", "--member", "Ana")
    assert (update["id"], update["scores"], update["lows"]) == (
        u,
        {"work": 7, "family": 9},
        "",
    )


def test_attach_and_save_a_file(cli: Cli, forum: str, tmp_path: Path) -> None:
    issue = cli.new("Sam", "issue", "new", "--title", "The offer")
    data = os.urandom(3 * crypto.CHUNK_SIZE + 1234)  # four chunks, the last one short
    src = tmp_path / "offer letter.pdf"
    src.write_bytes(data)
    out = cli.ok("Sam", "attach", issue[:8], str(src))
    assert re.fullmatch(
        rf"attached offer letter\.pdf \(193\.2 KiB\) to issue {issue[:8]} as comment "
        r"([0-9a-f]{8})\n",
        out,
    )
    cid = out.split()[-1]
    assert cli.fails("Sam", "attach", issue[:8], str(tmp_path / "missing.pdf")) == [
        f"chatham: error: cannot read {tmp_path / 'missing.pdf'} (No such file or directory)",
        "chatham: hint: give the path of a readable file",
    ]
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    made = cli.json("Sam", "attach", issue[:8], str(empty), "--text", "nothing in it")
    assert (made["name"], made["size"]) == ("empty.txt", 0)

    cli.ok("Dana", "sync")
    comment = cli.json("Dana", "show", cid)
    assert comment["file"] == {
        "name": "offer letter.pdf",
        "size": len(data),
        "media_type": "application/pdf",
    }
    assert "key" not in json.dumps(comment["history"])
    assert "attachment save" in cli.ok("Dana", "show", issue[:8])
    dest = tmp_path / "saved.pdf"
    saved = cli.ok("Dana", "attachment", "save", cid, str(dest))
    assert saved == f"saved {dest} (193.2 KiB); every chunk verified\n"
    assert dest.read_bytes() == data
    assert cli.fails("Dana", "attachment", "save", cid, str(dest)) == [
        f"chatham: error: {dest} exists already",
        "chatham: hint: choose another path, or pass --force to replace it",
    ]
    dest.write_bytes(b"old")
    cli.ok("Dana", "attachment", "save", cid, str(dest), "--force")
    assert dest.read_bytes() == data
    folder = tmp_path / "downloads"
    folder.mkdir()
    cli.ok("Dana", "attachment", "save", made["id"][:8], str(folder))
    assert (folder / "empty.txt").read_bytes() == b""
    assert cli.fails("Dana", "attachment", "save", issue[:8], str(folder)) == [
        f"chatham: error: {issue[:8]} is an issue, not a comment",
        "chatham: hint: `chatham list --type comment` shows the comment ids",
    ]


def _sam_attaches(cli: Cli, tmp_path: Path, name: str, data: bytes) -> str:
    """Sam attaches a file called `name` to a new issue. The comment's id."""
    issue = cli.new("Sam", "issue", "new", "--title", "The offer")
    src = tmp_path / name
    src.write_bytes(data)
    return cli.new("Sam", "attach", issue[:8], str(src))


def test_a_file_named_only_dots_saves_into_a_folder_under_a_name_of_its_own(
    cli: Cli, forum: str, tmp_path: Path
) -> None:
    """A member may name an attachment `...`: saved into a folder it is not the folder."""
    cid = _sam_attaches(cli, tmp_path, "...", b"dots")
    cli.ok("Dana", "sync")
    folder = tmp_path / "downloads"
    folder.mkdir()
    saved = cli.json("Dana", "attachment", "save", cid, str(folder))
    assert Path(saved["path"]).parent == folder
    assert Path(saved["path"]).read_bytes() == b"dots"
    assert cli.json("Dana", "attachment", "save", cid, str(folder), "--force")["size"] == 4


@pytest.mark.parametrize("planted", ["fifo", "symlink", "another user's file"])
def test_save_force_never_replaces_what_is_not_a_file_of_the_members(
    cli: Cli, forum: str, tmp_path: Path, planted: str
) -> None:
    """`attachment save --force` into a shared directory, as `export --force`: a planted
    pipe, a link, or another user's file under the name is refused, and left as it was."""
    cid = _sam_attaches(cli, tmp_path, "offer.txt", b"the confidential offer")
    cli.ok("Dana", "sync")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    dest = shared / "offer.txt"
    if planted == "fifo":
        os.mkfifo(dest, 0o666)
    elif planted == "symlink":
        (tmp_path / "elsewhere").write_bytes(b"")
        dest.symlink_to(tmp_path / "elsewhere")
    else:
        if os.getuid() != 0:
            pytest.skip("making a file of another user needs root")
        dest.write_bytes(b"theirs")
        dest.chmod(0o666)
        os.chown(dest, 65534, 65534)
    before = dest.lstat()
    lines = cli.fails("Dana", "attachment", "save", cid, str(dest), "--force")
    assert (
        lines[0]
        == f"chatham: error: {dest} is not a file of yours (a link, a pipe, or another user's file)"
    )
    after = dest.lstat()
    assert (after.st_ino, after.st_mode, after.st_uid) == (
        before.st_ino,
        before.st_mode,
        before.st_uid,
    )
    assert [p.name for p in shared.iterdir()] == ["offer.txt"]  # no temporary file left


@pytest.mark.parametrize("how", ["their directory", "a link to their directory"])
def test_an_attachment_is_never_saved_into_another_users_directory(
    cli: Cli, forum: str, tmp_path: Path, how: str
) -> None:
    """Someone made `/tmp/downloads` (or a link of that name to a directory of theirs): its
    owner would list the attachment's name and could swap the file later. Refused."""
    if os.getuid() != 0:
        pytest.skip("making a directory of another user needs root")
    cid = _sam_attaches(cli, tmp_path, "offer.txt", b"the confidential offer")
    cli.ok("Dana", "sync")
    theirs, target = another_users_directory(tmp_path, how, "downloads")
    for dest in (target, target / "renamed.txt"):
        lines = cli.fails("Dana", "attachment", "save", cid, str(dest))
        assert lines[0].endswith("belongs to another user"), lines
    assert list(theirs.iterdir()) == []


@contextlib.contextmanager
def _danas_journal(cli: Cli, forum: str) -> Iterator[Journal]:
    """Dana's journal of the forum, synced, in-process; her account stays open inside."""
    with Account.open(cli.world.people["Dana"].home) as j:
        g = j.group(forum)
        g.sync()
        yield Journal(g, j.member_id)


def test_a_full_disk_while_saving_is_a_plain_error_and_leaves_nothing(
    cli: Cli, forum: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from chatham.client._private.journal import files

    cid = _sam_attaches(cli, tmp_path, "offer.txt", b"the offer")
    out = tmp_path / "out"
    out.mkdir()
    with _danas_journal(cli, forum) as gj:

        def full(*args: Any, **kwargs: Any) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(files.os, "fsync", full)
        with pytest.raises(E.UsageError) as exc:
            gj.save_attachment(cid, out / "offer.txt")
    assert exc.value.message == f"cannot save to {out / 'offer.txt'} (No space left on device)"
    assert "nothing was saved" in (exc.value.hint or "")
    assert list(out.iterdir()) == []


def _damaging(damage: str, file: Any = None) -> Any:
    """A chunk download as a hostile server would answer it: damaged, swapped, missing, or
    replaced by other bytes sealed under the same id and key (by someone else who holds it)."""
    from chatham.client._private.journal import files

    real = files.get_chunk
    replaced: list[bytes] = []
    if damage == "replaced":
        sealer = crypto.AttachmentSealer(file.key, file.blob)
        replaced = [*sealer.update(bytes(file.size)), sealer.finish()]

    def get_chunk(group: Any, blob: bytes, index: int) -> bytes:
        if replaced:
            return replaced[index]
        sealed = real(group, blob, index)
        if damage == "flip" and index == 2:
            return sealed[:-1] + bytes([sealed[-1] ^ 1])
        if damage == "swap" and index == 1:
            return real(group, blob, 2)
        if damage == "truncate" and index == 3:
            raise E.ServerNotFound("the server does not know that group or record")
        return sealed

    return get_chunk


def test_leaders_list_attached_files_and_delete_them(cli: Cli, forum: str, tmp_path: Path) -> None:
    issue = cli.new("Sam", "issue", "new", "--title", "The contract")
    src = tmp_path / "contract.pdf"
    src.write_bytes(os.urandom(5000))
    cli.ok("Sam", "attach", issue[:8], str(src))
    listed = cli.json("Dana", "attachment", "list")
    assert len(listed) == 1
    assert (listed[0]["uploader"], listed[0]["finished"]) == ("Sam", True)
    upload = listed[0]["id"]
    out = cli.ok("Dana", "attachment", "list")
    assert out.startswith(f"{upload}  ")
    assert "by Sam" in out
    assert "unfinished" not in out
    assert out.splitlines()[-1] == "1 attached file, 4.9 KiB in all"  # sealed: 5000 bytes + tags
    assert cli.fails("Sam", "attachment", "list", code=1)[0].startswith("chatham: error: ")
    assert cli.ok("Dana", "attachment", "delete", upload).startswith(f"deleted {upload}")
    assert cli.ok("Dana", "attachment", "list") == "no attached files on the server\n"
    assert cli.fails("Dana", "attachment", "delete", "nonsense") == [
        "chatham: error: 'nonsense' is not an attachment id",
        "chatham: hint: copy an id from `chatham attachment list`",
    ]


@pytest.mark.parametrize("damage", ["flip", "swap", "truncate", "replaced"])
def test_a_damaged_attachment_is_never_saved(
    cli: Cli, forum: str, tmp_path: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = _sam_attaches(cli, tmp_path, "big.bin", os.urandom(3 * crypto.CHUNK_SIZE + 10))
    out = tmp_path / "out"
    out.mkdir()
    from chatham.client._private.journal import files

    with _danas_journal(cli, forum) as gj:
        comment = gj.item(cid, CommentItem)
        monkeypatch.setattr(files, "get_chunk", _damaging(damage, comment.body.file))
        with pytest.raises(E.CouldNotOpen) as exc:
            gj.save_attachment(cid, out / "big.bin")
    assert "nothing was saved" in (exc.value.hint or "")
    assert list(out.iterdir()) == []  # neither the file nor a partial temporary one


# --- reading across kinds -------------------------------------------------------------------------


def test_show_list_search_and_export(cli: Cli, forum: str, tmp_path: Path) -> None:
    issue = cli.new("Sam", "issue", "new", "--title", "Selling the Straße shop", "--ask", "Advice")
    meeting = cli.new("Dana", "meeting", "new", "--date", "today", "--title", "December")
    cli.ok("Sam", "sync")
    commitment = cli.new("Sam", "commit", "new", "Call the BANK")
    cli.ok("Dana", "sync")
    everything = cli.json("Dana", "list")
    assert ids(everything) == [issue, meeting, commitment]
    assert ids(cli.json("Dana", "list", "--type", "meeting")) == [meeting]
    assert cli.json("Dana", "list", "--since", "tomorrow") == []
    assert len(cli.json("Dana", "list", "--since", "today")) == 3
    listing = cli.ok("Dana", "list").splitlines()
    assert listing[0].split() == ["id", "type", "title", "author", "changed"]
    assert listing[1].split()[:2] == [issue[:8], "issue"]
    assert ids(cli.json("Dana", "search", "strasse")) == [issue]  # Unicode case folding
    assert ids(cli.json("Dana", "search", "bank call")) == [commitment]
    assert cli.ok("Dana", "search", "nothing-like-this") == "no matches\n"
    assert cli.fails("Dana", "search", " ") == [
        "chatham: error: nothing to search for",
        'chatham: hint: give some words: chatham search "bank"',
    ]

    md = tmp_path / "md"
    out = cli.ok("Dana", "export", "--format", "markdown", str(md))
    assert out.splitlines() == [
        f"wrote 3 files to {md}",
        "this is plaintext: keep it as safe as the conversations it holds",
    ]
    assert sorted(p.name for p in md.iterdir()) == [
        f"{date.today().isoformat()}-december.md",
        "commitments.md",
        "issues.md",
    ]
    assert stat.S_IMODE(md.stat().st_mode) == 0o700
    assert "Selling the Straße shop" in (md / "issues.md").read_text()
    assert cli.fails("Dana", "export", "--format", "markdown", str(md)) == [
        "chatham: error: the export directory is not empty",
        "chatham: hint: choose an empty or new directory, or pass --force to write into it",
    ]
    cli.ok("Dana", "export", "--format", "markdown", str(md), "--force")
    cli.ok("Dana", "export", "--format", "json", str(tmp_path / "j"))
    doc = json.loads((tmp_path / "j" / "journal.json").read_text())
    assert doc["schema"] == "chatham-journal-export/1"
    assert ids(doc["issues"]) == [issue]
    cli.ok("Dana", "export", "-f", "ics", str(tmp_path / "ics"))
    assert (tmp_path / "ics" / "journal.ics").read_bytes().startswith(b"BEGIN:VCALENDAR\r\n")
    assert cli.fails("Dana", "export", "--format", "pdf", str(tmp_path / "x")) == [
        "chatham: error: unknown export format 'pdf'",
        "chatham: hint: use markdown, json or ics",
    ]


def test_retract(cli: Cli, forum: str) -> None:
    issue = cli.new("Sam", "issue", "new", "--title", "Said too much")
    cli.ok("Ana", "sync")
    assert cli.fails("Ana", "retract", issue[:8]) == [
        "chatham: error: only the author or a leader may retract an item",
        "chatham: hint: ask the author or a leader (see `chatham members`)",
    ]
    assert cli.ok("Sam", "retract", issue[:8]) == (
        f"retracted issue {issue[:8]}; the server deleted 1 entry\n"
    )
    cli.ok("Ana", "sync")
    assert cli.json("Ana", "list") == []
    assert cli.fails("Ana", "show", issue[:8]) == [
        f"chatham: error: no item '{issue[:8]}' in this group",
        "chatham: hint: `chatham list` shows the ids; run `chatham sync` for new ones",
    ]


def test_watch_prints_one_content_free_line_per_change(cli: Cli, forum: str) -> None:
    world = cli.world
    env = {
        **os.environ,
        "CHATHAM_HOME": str(world.people["Sam"].home),
        "XDG_RUNTIME_DIR": str(world.run_dir),
        "NO_COLOR": "1",
    }
    env.pop("CHATHAM_PASSPHRASE", None)
    quiet = subprocess.run(
        [CHATHAM, "watch", "--timeout", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    watcher = subprocess.Popen(
        [CHATHAM, "watch", "--count", "1", "--timeout", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)
        cli.ok("Dana", "issue", "new", "--title", "A secret title")
        out, err = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
    assert watcher.returncode == 0, err
    [line] = out.splitlines()
    assert re.fullmatch(r"\d\d:\d\d:\d\d  Forum \d+: 1 new entry", line), line
    assert "secret" not in out + err


# --- errors, offline use, schemas ----------------------------------------------------------------


def test_errors_are_exact_lines(cli: Cli, forum: str) -> None:
    m = cli.new("Dana", "meeting", "new", "--date", "2099-12-03", "--title", "December")
    assert cli.fails("Dana", "show", "beef") == [
        "chatham: error: no item 'beef' in this group",
        "chatham: hint: `chatham list` shows the ids; run `chatham sync` for new ones",
    ]
    assert cli.fails("Dana", "show", "xyz") == [
        "chatham: error: no item 'xyz' in this group",
        "chatham: hint: `chatham list` shows the ids; run `chatham sync` for new ones",
    ]
    assert cli.fails("Dana", "issue", "show", m[:8]) == [
        f"chatham: error: {m[:8]} is a meeting, not an issue",
        "chatham: hint: `chatham issue list` shows the issue ids",
    ]
    assert cli.fails("Dana", "issue", "new", "--title", "X", "--priority", "D") == [
        "chatham: error: unknown priority 'D'",
        "chatham: hint: use --priority A, B or C",
    ]
    assert cli.fails("Dana", "issue", "new", "--title", "X", "--minutes", "0") == [
        "chatham: error: minutes must be between 1 and 600",
        "chatham: hint: for example --minutes 20",
    ]
    assert cli.fails("Dana", "issue", "new", "--title", "  ") == [
        "chatham: error: an issue needs a title",
        'chatham: hint: pass --title "..."',
    ]
    assert cli.fails("Dana", "issue", "new") == [
        "chatham: error: missing option '--title' / '-t'",
        "chatham: hint: see `chatham issue new --help`",
    ]
    assert cli.fails("Dana", "meeting", "new", "--date", "2026-02-30", "--title", "X") == [
        "chatham: error: not a date: '2026-02-30'",
        "chatham: hint: use YYYY-MM-DD, today, tomorrow or next-meeting",
    ]
    assert cli.fails(
        "Dana", "meeting", "new", "--date", "today", "--title", "X", "--time", "7pm"
    ) == [
        "chatham: error: not a time: '7pm'",
        "chatham: hint: use HH:MM, e.g. --time 18:30",
    ]
    assert cli.fails("Dana", "list", "--type", "memo") == [
        "chatham: error: unknown type 'memo'",
        "chatham: hint: use issue, meeting, note, commitment, comment or update.",
    ]
    assert cli.fails("Dana", "meeting", "show", "2027-01-01") == [
        "chatham: error: no meeting on 2027-01-01",
        "chatham: hint: `chatham meeting list` shows them",
    ]
    assert cli.fails("Dana", "issue", "list", "--status", "open") == [
        "chatham: error: unknown status 'open'",
        "chatham: hint: use parked, scheduled, presented or closed",
    ]
    assert cli.fails("Dana", "note", "new", "--body", "@/nonexistent/notes.md") == [
        "chatham: error: cannot read /nonexistent/notes.md (No such file or directory)",
        "chatham: hint: `@path` reads text from a file",
    ]
    # Nothing above wrote anything.
    assert ids(cli.json("Dana", "list")) == [m]


def test_offline_reading_and_queued_writes(
    cli: Cli, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_server(tmp_path / "server") as own:
        group = form_group(world, own.url)
        issue = cli.new("Sam", "issue", "new", "--title", "Before the outage")
    # The server is gone: reading and search still work (saying how old the copy is), and a
    # write waits in the outbox.
    code, out, err = cli("Sam", "search", "outage", "--json")
    assert (code, ids(json.loads(out))) == (0, [issue])
    assert err.startswith("chatham: note: the server is out of reach; showing your copy (last ")
    assert ids(cli.json("Sam", "--offline", "search", "outage")) == [issue]
    out = cli.ok("Sam", "issue", "new", "--title", "During the outage")
    assert re.fullmatch(
        r"issue [0-9a-f]{8} queued: the server is out of reach; it goes out with the next "
        r"`chatham sync`\n",
        out,
    )
    assert cli.json("Sam", "group", "list")[-1]["queued"] == 1
    assert group  # (the group stays in the home, current until another is used)


def test_json_shapes_are_stable(cli: Cli, forum: str) -> None:
    common = ["id", "type", "title", "author", "author_name", "created", "updated"]
    issue_keys = [*common, "priority", "minutes", "status", "meeting", "outcome",
                  "presented_at", "what", "why", "tried", "ask", "not_ask", "background",
                  "options", "impact", "comments"]  # fmt: skip
    commitment_keys = [*common, "owner", "owner_name", "text", "status", "due",
                       "due_is_next_meeting", "report", "reviewed_at", "meeting",
                       "comments"]  # fmt: skip
    cli.new("Sam", "issue", "new", "--title", "One")
    cli.new("Dana", "meeting", "new", "--date", "today", "--title", "December")
    cli.ok("Sam", "sync")
    cli.new("Sam", "commit", "new", "Two")
    cli.new("Sam", "note", "new", "--body", "Three")
    cli.new("Sam", "update", "new", "--lows", "Four")
    cli.ok("Dana", "sync")
    assert list(cli.json("Dana", "issue", "list")[0]) == issue_keys
    lot = cli.json("Dana", "parking-lot")[0]
    assert list(lot) == [*issue_keys, "rank", "score", "points", "meetings_since_presented"]
    assert list(cli.json("Dana", "commit", "list")[0]) == commitment_keys
    agenda = cli.json("Dana", "agenda")
    assert list(agenda) == ["meeting", "published", "published_by", "minutes", "issues",
                            "commitments"]  # fmt: skip
    assert list(agenda["issues"][0]) == issue_keys
    review = cli.json("Dana", "review")
    assert list(review) == ["meeting", "rounds", "marked", "carried_over"]
    assert list(review["rounds"][0]) == ["member", "name", "commitments"]
    assert list(cli.json("Dana", "note", "list")[0]) == [*common, "meeting", "body", "comments"]
    assert list(cli.json("Dana", "update", "list")[0]) == [
        *common, "meeting", "highs", "lows", "scores", "comments"
    ]  # fmt: skip
    assert list(cli.json("Dana", "meeting", "list")[0]) == [
        *common, "date", "start", "minutes", "place", "status", "attendance", "agenda",
        "comments",
    ]  # fmt: skip
    assert [i["type"] for i in cli.json("Dana", "list")] == [
        "issue", "meeting", "commitment", "note", "update"
    ]  # fmt: skip
    assert list(cli.json("Dana", "show", lot["id"])) == [*issue_keys, "history"]
    made = cli.json("Sam", "comment", lot["id"][:8], "Five")
    assert list(made) == ["id", "queued"]
    opened = cli.json("Dana", "meeting", "open")
    assert list(opened) == [
        "id", "queued", "meeting", "status", "checkpoint_seq", "meeting_code", "rotated",
        "presented", "returned",
    ]  # fmt: skip


def test_help_lists_every_journal_command(cli: Cli) -> None:
    out = cli.ok("Dana", "--help")
    for command in ("issue", "parking-lot", "meeting", "agenda", "note", "commit", "review",
                    "comment", "update", "attach", "attachment", "show", "list", "search",
                    "export", "retract", "watch"):  # fmt: skip
        assert re.search(rf"^  {re.escape(command)} ", out, re.MULTILINE), command
    assert re.search(r"^  edit ", cli.ok("Dana", "issue", "--help"), re.MULTILINE)


# --- the sealed cache of opened bodies ------------------------------------------------------------


def test_the_opened_body_cache_follows_the_store(cli: Cli, forum: str) -> None:
    first = cli.new("Sam", "issue", "new", "--title", "Told the group about the divorce")
    second = cli.new("Sam", "issue", "new", "--title", "Second")
    home = cli.world.people["Ana"].home
    with Account.open(home) as j:
        g = j.group(forum)
        g.sync()
        assert [i.id.hex() for i in Journal(g, j.member_id).view.issues()] == [first, second]
        calls: list[int] = []
        entries = g.entries

        def spy(*, after: int = 0) -> Any:
            calls.append(after)
            return entries(after=after)

        g.entries = spy  # type: ignore[method-assign]
        assert len(Journal(g, j.member_id).view.issues()) == 2
        assert calls == []  # nothing changed: nothing opened

        third = cli.new("Dana", "issue", "new", "--title", "Third")
        g.sync()
        view = Journal(g, j.member_id).view
        assert [i.id.hex() for i in view.issues()] == [first, second, third]
        [after] = calls
        newest = max(r.cursor for r in g.entry_index() if r.id in (first, second))
        assert after == newest  # only what the sync added was opened

        cli.ok("Sam", "retract", first[:8])
        g.sync()
        assert [i.id.hex() for i in Journal(g, j.member_id).view.issues()] == [second, third]
        sealed = load_sealed(g, "journal-opened")
        assert sealed is not None
        assert b"divorce" not in sealed  # the retracted body is gone from the cache too

        # The value is sealed: an edit of it in the store is caught, never served.
        store = g._store
        key = f"sealed:{g.id}:journal-opened"
        blob = bytearray(store.get_meta(key) or b"")
        blob[40] ^= 1
        store.set_meta(key, bytes(blob))
        with pytest.raises(E.StoreTampered):
            Journal(g, j.member_id).view  # noqa: B018


# --- freshness ------------------------------------------------------------------------------------


def test_a_stale_view_warns_and_a_too_stale_one_refuses_writes_without_anyway(
    cli: Cli, forum: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatham.client._private.engine import freshness

    monkeypatch.setattr(freshness, "STALE_WARN", -1)
    code, out, err = cli("Sam", "sync")
    assert code == 0
    assert "chatham: warning: your copy of the group was last confirmed current today" in err
    monkeypatch.setattr(freshness, "STALE_REFUSE", -1)
    before = cli.json("Sam", "issue", "list")
    lines = cli.fails("Sam", "issue", "new", "--title", "Layoffs", code=1)
    assert lines[0].startswith("chatham: error: not written: your copy of the group was last")
    assert lines[-1].startswith("chatham: hint: run `chatham sync`")
    assert "--anyway" in lines[-1]
    assert cli.json("Sam", "issue", "list") == before  # nothing was written or queued
    code, out, err = cli("Sam", "issue", "new", "--title", "Layoffs", "--anyway")
    assert code == 0, err
    assert re.fullmatch(r"issue [0-9a-f]{8} posted\n", out)
    assert "chatham: warning:" in err
    assert cli("Dana", "sync")[0] == 0
    assert [i["title"] for i in cli.json("Dana", "issue", "list")].count("Layoffs") == 1


# --- writes the server refused for good -------------------------------------------------------


class _Cut(httpx.BaseTransport):
    """A real connection that can be cut (the network is down)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("network is down", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def _refused_meeting_notes(world: World, text: str) -> None:
    """Sam, a leader, writes the meeting's notes offline in place of Ana's draft; Dana
    demotes him before they go out."""
    from chatham.client.journal import Note, encode_body

    cut = _Cut()
    with httpx.Client(transport=cut) as sams_http, httpx.Client() as http:
        sam = Account.open(world.people["Sam"].home, http=sams_http)
        dana = Account.open(world.people["Dana"].home, http=http)
        ana = Account.open(world.people["Ana"].home, http=http)
        try:
            gd, gs, ga = dana.group(), sam.group(), ana.group()
            gd.set_role("Sam", "leader")
            meeting = gd.journal().new_meeting(date=date.today(), title="March")
            ga.sync()
            draft = ga.journal().new_note("Ana's draft", meeting=ga.journal().meeting(meeting.id))
            gs.sync()
            cut.down = True
            body = encode_body(Note(ts=1, body=text, meeting=bytes.fromhex(meeting.id)))
            gs.post(body, retracts=[draft.id])
            gd.set_role("Sam", "member")
        finally:
            for a in (sam, dana, ana):
                a.close()


def test_a_refused_write_is_kept_listed_and_discarded_from_the_cli(
    cli: Cli, world: World, forum: str
) -> None:
    text = "Minutes: Sam will sell the bakery\nto his niece, in June"
    _refused_meeting_notes(world, text)
    # Another write sends the waiting notes along: the refusal is said, not swallowed.
    code, out, err = cli("Sam", "issue", "new", "--title", "Back online", "--json")
    assert (code, list(json.loads(out))) == (0, ["id", "queued"])
    assert err == "chatham: note: 1 post was not sent; `chatham unsent` shows it\n"
    # Every sync says so while it is kept.
    assert "1 post was not sent; `chatham unsent` shows it" in cli.ok("Sam", "sync")
    [kept] = cli.json("Sam", "unsent")
    assert kept["kind"] == "note"
    assert {"label": "Note", "text": text} in kept["fields"]
    assert kept["reason"]
    listed = cli.ok("Sam", "unsent")
    assert f"note {kept['id'][:8]}" in listed
    assert "  Note: Minutes: Sam will sell the bakery\n    to his niece, in June\n" in listed
    # Discarding cannot be undone: without a terminal it takes --yes.
    assert cli.fails("Sam", "unsent", "discard", kept["id"][:8]) == [
        f"chatham: error: discarding note {kept['id'][:8]} cannot be undone",
        "chatham: hint: run it again with --yes to discard it",
    ]
    assert cli.fails("Sam", "unsent", "discard", "0000") == [
        "chatham: error: no unsent write 0000 in this group",
        "chatham: hint: `chatham unsent` lists them",
    ]
    cli.ok("Sam", "unsent", "discard", kept["id"][:8], "--yes")
    assert cli.json("Sam", "unsent") == []
    assert "not sent" not in cli.ok("Sam", "sync")
