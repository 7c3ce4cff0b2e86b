"""The membership commands against a real `chatham-server` over a socket: the output
contract scripts depend on, the exact error lines, and the --json shapes.

Five members' homes are made once per module (each costs an Argon2id keystore and an
unlock session); every test founds groups of its own, so tests stay independent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatham.client.cli import members as cli_members
from chatham.server.testing import live_server

from tests.support.cli_member import UNLIMITED, CliMember, environment

PASSPHRASE = "a passphrase for the membership cli tests"
HINT_LEADER = "chatham: hint: ask one of the group's leaders (`chatham members` shows who they are)"
LAST_LEADER = [
    "chatham: error: the last leader cannot leave, be removed or step down without a successor",
    "chatham: hint: promote a successor first with `chatham members promote MEMBER`",
]


class Member(CliMember):
    def __init__(self, name: str, root: Path) -> None:
        super().__init__(name, root, PASSPHRASE, COLUMNS="200")


class Crowd:
    def __init__(self, root: Path, url: str) -> None:
        self.url = url
        self.dana, self.sam, self.ana, self.lee, self.max = (
            Member(n, root) for n in ("Dana", "Sam", "Ana", "Lee", "Max")
        )

    def form(self, group: str, leader: Member, *members: Member) -> None:
        """Found `group` and bring `members` in through the commands under test."""
        leader.ok("group", "create", group, "--server", self.url)
        for m in members:
            code = leader.ok("invite", "--name", m.name, "-g", group).splitlines()[-1]
            m.ok("join", "--group-name", group, stdin=code + "\n")
            [req] = [r for r in leader.json("requests", "-g", group) if r["member"] == m.id]
            leader.ok("approve", req["id"], "--fingerprint", m.fingerprint, "-g", group)
            m.ok("sync", "-g", group)


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crowd]:
    # Every in-process command logs in anew, as a separate `chatham` process would: far
    # more logins per minute from one address than the server's default rate allows.
    root = tmp_path_factory.mktemp("membership-cli")
    with environment(UNLIMITED), live_server(root / "server") as server:
        yield Crowd(root, server.url)


def ops(m: Member, group: str) -> int:
    """The verified log length (after a sync)."""
    return int(m.json("verify", "-g", group)["log_ops"])


def test_invite_join_requests_approve_members(crowd: Crowd) -> None:
    dana, sam = crowd.dana, crowd.sam
    g = "Contract Forum"
    dana.ok("group", "create", g, "--server", crowd.url)
    out = dana.ok("invite", "--name", "Sam", "-g", g).splitlines()
    code = out[-1]
    server, _, short_code = code.partition("#")
    assert server == crowd.url
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){5}", short_code)
    assert out[:-1] == [
        out[0],
        "hand it over in person: show the QR code, or read out the server and the code",
        f"server: {crowd.url}",
        f"code:   {short_code}",
        "they run `chatham join` and paste the line below (or type the server and code):",
    ]
    assert out[0].startswith("invite for a new member named Sam to Contract Forum, valid until ")
    # On the member's own clock, as every time the CLI prints (`device link`, `unlock`).
    assert re.search(r"valid until \d{4}-\d\d-\d\d \d\d:\d\d; it works once$", out[0])
    spare = dana.json("invite", "--role", "leader", "--expires", "2d", "-g", g)
    assert set(spare) == {"invite_id", "role", "name", "expires", "server", "code", "link"}
    assert spare["role"] == "leader"
    assert spare["link"] == f"{crowd.url}#{spare['code']}"

    # The code on stdin, never in the command line; it is never echoed back.
    code_, joined, err = sam("join", "--group-name", g, stdin=code + "\n")
    assert code_ == 0, err
    assert code not in joined + err
    assert joined.splitlines() == [
        joined.splitlines()[0],
        f"your fingerprint: {sam.fingerprint}",
        "read these eight words aloud to the leader, who types them to approve you;",
        "then `chatham sync` brings you in",
    ]
    assert joined.startswith(f"sent a join request to {g} on {crowd.url}")
    assert sam.json("group", "list")[0]["status"] == "joining"

    [req] = dana.json("requests", "-g", g)
    assert {"id", "member", "role", "name", "expires", "status"} <= set(req)
    assert (req["member"], req["name"], req["status"]) == (sam.id, "Sam", "waiting")
    listing = dana.ok("requests", "-g", g)
    # The fingerprint is never shown next to the request: the leader types what they hear.
    assert "fingerprint" not in req
    assert sam.fingerprint not in listing
    lines = listing.splitlines()
    assert lines[0].split() == ["id", "name", "role", "status", "invite", "until"]
    assert lines[1].startswith(f"{req['id'][:12]}  Sam   member  waiting  ")

    spoken = sam.json("whoami")["fingerprint"]
    typed = "  " + "   ".join(spoken.upper().split())
    approved = dana.ok("approve", req["id"][:8], "--fingerprint", typed, "-g", g).splitlines()
    assert approved == [
        f"the words match: {sam.fingerprint}",
        "approved Sam as member; the group has a fresh key",
        "Sam is in once they run `chatham sync`",
    ]
    assert dana.ok("requests", "-g", g) == "no join requests waiting\n"
    synced = sam.ok("sync", "-g", g)
    assert "• Your join request was approved: you are now a member of the group" in synced

    roster = dana.json("members", "-g", g)
    assert [(r["name"], r["role"], r["verified"]) for r in roster] == [
        ("Dana", "leader", True),
        ("Sam", "member", True),
    ]
    for r in roster:
        assert {"id", "name", "role", "fingerprint", "status", "joined_epoch", "verified"} <= set(r)
    assert roster[1] == sam.json("members", "list", "-g", g)[1] | {"verified": True, "is_me": False}
    lines = sam.ok("members", "-g", g).splitlines()
    assert lines[0].split() == ["name", "role", "status", "id", "fingerprint", "checked"]
    assert lines[1].startswith("  Dana  leader  active  ")
    assert f"  {dana.fingerprint}  " in lines[1]
    assert lines[1].endswith("  not verified")
    assert lines[2].startswith("* Sam   member  active  ")
    assert lines[2].endswith("  you")
    # Sam verifies Dana by her words, read from stdin (`-`), and by a name in any case.
    said = dana.fingerprint.upper() + "\n"
    out = sam.ok("members", "verify", "DANA", "--fingerprint", "-", "-g", g, stdin=said)
    assert out == f"verified Dana: the words match ({dana.fingerprint})\n"
    assert sam.json("members", "-g", g)[0]["verified"] is True


def test_refusals_print_exact_lines_and_change_nothing(crowd: Crowd, tmp_path: Path) -> None:
    dana, sam, ana, lee = crowd.dana, crowd.sam, crowd.ana, crowd.lee
    g = "Refusal Forum"
    crowd.form(g, dana, sam)
    before = ops(dana, g)

    assert sam.fails("invite", "-g", g) == [
        "chatham: error: only a leader can invite members",
        HINT_LEADER,
    ]
    assert sam.fails("remove", "Dana", "-g", g) == [
        "chatham: error: only a leader can remove members",
        HINT_LEADER,
    ]
    assert sam.fails("members", "promote", "Sam", "-g", g) == [
        "chatham: error: only a leader can change roles",
        HINT_LEADER,
    ]
    assert sam.fails("checkpoint", "-g", g) == [
        "chatham: error: only a leader can sign checkpoints",
        HINT_LEADER,
    ]
    assert sam.fails("requests", "-g", g) == [
        "chatham: error: only a leader can see join requests",
        HINT_LEADER,
    ]
    assert sam.fails("group", "policy", "--history", "full", "-g", g) == [
        "chatham: error: only a leader can change the group policy",
        HINT_LEADER,
    ]
    assert dana.fails("remove", "zed", "-g", g) == [
        "chatham: error: no member matches 'zed'",
        "chatham: hint: see `chatham members` for names and ids",
    ]
    assert dana.fails("members", "exposure", "zed", "-g", g)[0] == (
        "chatham: error: no member matches 'zed'"
    )
    assert dana.fails("remove", "Dana", "-g", g) == LAST_LEADER
    assert dana.fails("leave", "--yes", "-g", g) == LAST_LEADER
    assert dana.fails("members", "demote", "dana", "-g", g) == LAST_LEADER
    assert dana.fails("members", "demote", "Sam", "-g", g) == [
        "chatham: error: Sam is already a member",
        "chatham: hint: nothing was changed",
    ]
    assert sam.fails("remove", "Sam", "-g", g) == [
        "chatham: error: you cannot remove yourself",
        "chatham: hint: leave the group with `chatham leave`",
    ]
    assert sam.fails("members", "verify", "Dana", "--fingerprint", "wrong words", "-g", g) == [
        "chatham: error: the fingerprint does not match Dana's: nothing was recorded",
        "chatham: hint: ask them to read `chatham whoami` aloud again; a mismatch can mean a "
        "substituted key, so tell a leader",
    ]
    assert ops(dana, g) == before

    # Approving: without the words (no terminal), with the wrong words, then twice.
    code = dana.ok("invite", "--name", "Ana", "-g", g).splitlines()[-1]
    ana.ok("join", code, "--group-name", g)
    [req] = dana.json("requests", "-g", g)
    before = ops(dana, g)
    assert dana.fails("approve", req["id"], "-g", g) == [
        "chatham: error: approving needs the fingerprint the invitee reads aloud",
        'chatham: hint: pass --fingerprint "the eight words" (on a terminal, approve asks '
        "for them)",
    ]
    assert dana.fails("approve", req["id"], "--fingerprint", sam.fingerprint, "-g", g) == [
        "chatham: error: the fingerprint does not match the join request: nothing was changed",
        "chatham: hint: ask the invitee to read `chatham whoami` aloud again; a mismatch can "
        "mean the server or someone with the code swapped the request",
    ]
    assert dana.fails("approve", "feedface", "--fingerprint", ana.fingerprint, "-g", g) == [
        "chatham: error: no pending join request matches 'feedface'",
        "chatham: hint: `chatham requests` lists the pending ones; the invitee runs "
        "`chatham join` first",
    ]
    assert ops(dana, g) == before
    assert dana.json("requests", "-g", g) == [req]
    dana.ok("approve", req["id"], "--fingerprint", ana.fingerprint, "-g", g)
    assert dana.fails("approve", req["id"][:10], "--fingerprint", ana.fingerprint, "-g", g) == [
        f"chatham: error: join request {req['id'][:10]} was already approved: Ana is in the group",
        "chatham: hint: nothing was changed; `chatham members` shows the roster",
    ]
    dana.ok("remove", "Ana", "-g", g)
    assert dana.fails("remove", "Ana", "-g", g) == [
        "chatham: error: Ana is no longer a member (removed)",
        "chatham: hint: nothing was changed; `chatham members` shows the roster",
    ]

    # Codes: reused, used up, malformed, missing, and for another server.
    code = dana.ok("invite", "-g", g).splitlines()[-1]
    lee.ok("join", "--group-name", g, stdin=code)
    before = ops(dana, g)
    assert crowd.max.fails("join", code) == [
        "chatham: error: this invite code was already used: a join request for it is waiting",
        "chatham: hint: codes work once; if that request is not yours, tell the leader, who "
        "should not approve it, and ask for a new invite",
    ]
    [req] = dana.json("requests", "-g", g)
    dana.ok("approve", req["id"], "--fingerprint", lee.fingerprint, "--name", "Lee", "-g", g)
    assert crowd.max.fails("join", code) == [
        "chatham: error: the invite was used, revoked or has expired",
        "chatham: hint: ask the leader for a new invite (codes work once, and expire)",
    ]
    typo = [
        "chatham: error: the invite code and the server address do not match: one of them "
        "has a typo",
        "chatham: hint: compare it with the leader's `chatham invite`: a code is 30 letters and "
        "digits in six groups, and goes with the server address shown above it",
    ]
    server, short_code = code.split("#")
    wrong = short_code[:-1] + ("0" if short_code[-1] != "0" else "1")
    assert crowd.max.fails("join", f"{server}#{wrong}") == typo
    elsewhere = server.replace("127.0.0.1", "127.1")
    assert crowd.max.fails("join", short_code, "--server", elsewhere) == typo
    assert crowd.max.fails("join", "hello") == [
        "chatham: error: the server's address is missing",
        "chatham: hint: pass --server ADDRESS, or paste the whole invite line (it starts with "
        "the server's address)",
    ]
    assert crowd.max.fails("join", stdin="") == [
        "chatham: error: no invite code given",
        "chatham: hint: paste the invite line from the leader (`chatham join < invite.txt` works)",
    ]
    from chatham import crypto

    live = crypto.InviteCode.parse_link(dana.ok("invite", "-g", g).splitlines()[-1])
    with environment(UNLIMITED), live_server(tmp_path / "other-server") as other:
        moved = crypto.InviteCode(live.secret, other.url)
        assert crowd.max.fails("join", moved.link) == [
            f"chatham: error: the server at {other.url} has no invite with this code",
            "chatham: hint: check the server address with the leader; if it is right, the "
            "invite was withdrawn with its group: ask for a new one",
        ]
    assert crowd.max.json("group", "list") == []
    assert ops(dana, g) == before + 2  # the add and the last invite, nothing else


def test_remove_leave_roles_rotate_checkpoint_policy(crowd: Crowd) -> None:
    dana, sam, ana, lee = crowd.dana, crowd.sam, crowd.ana, crowd.lee
    g = "Lifecycle Forum"
    crowd.form(g, dana, sam, ana, lee)
    epoch = dana.json("verify", "-g", g)["epoch"]

    out = dana.ok("remove", "ana", "-g", g).splitlines()
    seq = ops(dana, g) - 1
    assert out == [
        f"removing Ana (fingerprint: {ana.fingerprint})",
        "removed Ana; the group has a fresh key, so nothing written from now on reaches them",
        "Ana keeps what they already had: `chatham members exposure Ana` lists it",
    ]
    assert "log op" not in "\n".join(out)
    told = ana.ok("sync", "-g", g).splitlines()
    assert told[-2:] == [
        "• Dana removed you from the group. What you already have stays readable here; "
        "nothing written from now on will reach you",
        f"{g}: you are no longer a member; what you already have stays readable here",
    ]
    # The second sync says the same, and the roster shows it (not "up to date", not active).
    assert ana.ok("sync", "-g", g) == (
        f"{g}: you are no longer a member; what you already have stays readable here\n"
    )
    [me] = [line for line in ana.ok("members", "-g", g).splitlines() if line.startswith("*")]
    assert "  removed  " in me
    assert ana.fails("invite", "-g", g, code=1) == [
        "chatham: error: this device is not an active member of the group",
        "chatham: hint: what was already synced stays readable; ask a leader for a new invite",
    ]
    x = dana.json("members", "exposure", "Ana", "-g", g)
    assert {"member", "name", "status", "epochs", "entries", "retracted"} <= set(x)
    assert (x["status"], x["departed_seq"]) == ("removed", seq)
    assert [e["epoch"] for e in x["epochs"]] == list(range(x["epochs"][0]["epoch"], epoch + 1))
    text = dana.ok("members", "exposure", "Ana", "-g", g).splitlines()
    assert (
        text[0]
        == f"Ana was removed; before that they held {len(x['epochs'])} of the group's keys, in turn"
    )
    verbose = dana.ok("--verbose", "members", "exposure", "Ana", "-g", g).splitlines()
    assert verbose[0].startswith(f"Ana was removed (log op {seq}); before that")
    assert text[-1] == "a retraction deletes an entry everywhere, but cannot recall what was read"

    assert dana.ok("members", "promote", "Sam", "-g", g) == "made Sam a leader\n"
    sam.ok("sync", "-g", g)
    assert sam.ok("members", "demote", "Sam", "-g", g) == (
        "you stepped down: you are a member now, no longer a leader\n"
    )
    dana.ok("members", "promote", "Sam", "-g", g)

    out = lee.ok("leave", "--yes", "-g", g).splitlines()
    assert out == [
        "you left Lifecycle Forum; what you already have stays here",
        "the group gets a fresh key before anything new is written",
    ]
    synced = sam.ok("sync", "-g", g)  # any member's next sync performs the pending rotation
    assert "• You gave the group a fresh key" in synced
    told = dana.ok("--verbose", "sync", "-g", g)
    assert re.search(rf"• Sam gave the group a fresh key \(log op \d+; epoch {epoch + 2}\)", told)
    out = dana.ok("rotate", "-g", g)
    assert out == "the group has a fresh key: what is written from now on uses it\n"
    out = dana.ok("rotate", "--verbose", "-g", g)
    assert out == (
        f"the group has a fresh key (epoch {epoch + 4}, log op {ops(dana, g) - 1}): "
        "what is written from now on uses it\n"
    )

    out = dana.ok("checkpoint", "-g", g).splitlines()
    assert out[0] == "confirmed everyone's entries so far"
    code = out[1].removeprefix("meeting code: ")
    assert len(code.split()) == 6
    sam.ok("sync", "-g", g)
    assert sam.json("verify", "-g", g)["meeting_code"] == code

    assert dana.ok("group", "policy", "-g", g).splitlines() == [
        "history: from-join (new members read only what follows)",
        "notes: any member",
        "a fresh key at each meeting: no",
    ]
    out = dana.ok(
        "group", "policy", "--history", "full", "--rotate-each-meeting", "-g", g
    ).splitlines()
    assert out == [
        "changed the group policy; it applies from now on",
        "history: full (new members read everything before they joined)",
        "notes: any member",
        "a fresh key at each meeting: yes",
    ]
    sam.ok("sync", "-g", g)
    assert sam.json("group", "policy", "-g", g) == {
        "history": "full",
        "notes": "all",
        "rotate_each_meeting": True,
    }
    assert dana.fails("group", "policy", "--history", "none", "-g", g) == [
        "chatham: error: unknown history policy 'none'",
        "chatham: hint: use --history from-join or --history full",
    ]


def test_questions_on_a_terminal(crowd: Crowd, monkeypatch: pytest.MonkeyPatch) -> None:
    dana, max_ = crowd.dana, crowd.max
    g = "Terminal Forum"
    dana.ok("group", "create", g, "--server", crowd.url)
    code = dana.ok("invite", "-g", g).splitlines()[-1]
    max_.ok("join", code, "--group-name", g)
    [req] = dana.json("requests", "-g", g)
    monkeypatch.setattr(cli_members, "_interactive", lambda: True)
    # The leader types the words Max reads aloud, then his name; prompts go to stderr.
    typed = f"{max_.fingerprint}\nMax\n"
    status, out, err = dana("approve", req["id"], "-g", g, stdin=typed)
    assert status == 0, err
    assert err == (
        "type the eight words the invitee reads aloud: the name the group will know them by: "
    )
    assert out.startswith(f"the words match: {max_.fingerprint}\napproved Max as member")
    # Removing asks first; anything but yes keeps them.
    status, out, err = dana("remove", "Max", "-g", g, stdin="no\n")
    assert status == 1
    assert out == f"removing Max (fingerprint: {max_.fingerprint})\n"
    assert err.splitlines() == [
        "remove Max from Terminal Forum? [y/N] chatham: error: not removed",
        "chatham: hint: nothing was changed",
    ]
    status, out, _ = dana("remove", "Max", "-g", g, stdin="y\n")
    assert status == 0
    assert "removed Max; the group has a fresh key" in out


def test_invite_list_and_revoke(crowd: Crowd) -> None:
    dana, max_ = crowd.dana, crowd.max
    g = "Revoke Forum"
    dana.ok("group", "create", g, "--server", crowd.url)
    link = dana.ok("invite", "--name", "Max", "-g", g).splitlines()[-1]
    [open_] = dana.json("invite", "list", "-g", g)
    assert (open_["name"], open_["status"], open_["role"]) == ("Max", "open", "member")
    listing = dana.ok("invite", "list", "-g", g).splitlines()
    assert listing[0].split() == ["id", "for", "role", "status", "until", "invited", "by"]
    assert dana.ok("invite", "revoke", open_["id"][:8], "-g", g) == (
        f"revoked invite {open_['id'][:12]} for Max: its code no longer works\n"
    )
    assert dana.json("invite", "list", "-g", g) == []
    assert [i["status"] for i in dana.json("invite", "list", "--all", "-g", g)] == ["revoked"]
    assert max_.fails("join", link) == [
        "chatham: error: the invite was used, revoked or has expired",
        "chatham: hint: ask the leader for a new invite (codes work once, and expire)",
    ]
    assert dana.fails("invite", "revoke", open_["id"][:8], "-g", g) == [
        f"chatham: error: invite {open_['id'][:12]} is revoked already",
        "chatham: hint: nothing was changed",
    ]
