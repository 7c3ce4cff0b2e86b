"""The membership commands against a real `chatham-server` over a socket: the output
contract scripts depend on, the exact error lines, and the --json shapes.

Five members' homes are made once per module (each costs an Argon2id keystore and an
unlock session); every test founds groups of its own, so tests stay independent.
"""

from __future__ import annotations

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
    assert code.startswith("chatham1-")
    assert out[:-1] == [
        out[0],
        "hand this code over in person or through a channel you trust:",
    ]
    assert out[0].startswith("invite for a new member named Sam to Contract Forum, valid until ")
    assert out[0].endswith(" UTC; it works once")
    spare = dana.json("invite", "--role", "leader", "--expires", "2d", "-g", g)
    assert set(spare) == {"invite_id", "role", "name", "expires", "code"}
    assert spare["role"] == "leader"
    assert spare["code"].startswith("chatham1-")

    # The code on stdin, never in the command line; it is never echoed back.
    code_, joined, err = sam("join", "--group-name", g, stdin=code + "\n")
    assert code_ == 0, err
    assert code not in joined + err
    assert joined.splitlines() == [
        joined.splitlines()[0],
        f"your fingerprint: {sam.fingerprint}",
        "read these eight words aloud to the leader, who types them to approve you;",
        "then `chatham sync` fetches the group key",
    ]
    assert joined.startswith("sent a join request to group ")
    assert sam.json("group", "list")[0]["status"] == "joining"

    [req] = dana.json("requests", "-g", g)
    assert {"id", "fingerprint", "member", "role", "name", "expires"} <= set(req)
    assert (req["fingerprint"], req["member"], req["name"]) == (sam.fingerprint, sam.id, "Sam")
    listing = dana.ok("requests", "-g", g).splitlines()
    assert listing[0].startswith(f"{req['id'][:12]}  {sam.fingerprint}  member  Sam  (until ")

    spoken = sam.json("whoami")["fingerprint"]
    typed = "  " + "   ".join(spoken.upper().split())
    approved = dana.ok("approve", req["id"][:8], "--fingerprint", typed, "-g", g).splitlines()
    epoch = dana.json("verify", "-g", g)["epoch"]
    assert approved == [
        f"approved Sam ({sam.fingerprint}) as member",
        f"added at log op 4; the group key rotated to epoch {epoch}. "
        "Sam gets it on their next `chatham sync`",
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
    assert lines[0].startswith("  Dana  leader  ")
    assert lines[0].endswith(f"{dana.fingerprint}  not verified")
    assert lines[1].startswith("* Sam   member  ")
    assert lines[1].endswith("  you")
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
        f"chatham: error: join request {req['id'][:10]} was already approved: Ana joined at "
        f"log op {before}",
        "chatham: hint: nothing was changed; `chatham members` shows the roster",
    ]
    dana.ok("remove", "Ana", "-g", g)
    seq = ops(dana, g) - 1
    assert dana.fails("remove", "Ana", "-g", g) == [
        f"chatham: error: Ana is not an active member (removed at log op {seq})",
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
    used = [
        f"chatham: error: the server at {crowd.url} does not accept this invite: it was used, "
        "revoked or has expired, or the group is not on that server",
        "chatham: hint: ask the leader for a new invite (codes work once, and expire)",
    ]
    assert crowd.max.fails("join", code) == used
    assert crowd.max.fails("join", "hello") == [
        "chatham: error: not a Chatham invite code",
        "chatham: hint: copy the whole code, starting with chatham1-",
    ]
    assert crowd.max.fails("join", stdin="") == [
        "chatham: error: no invite code given",
        "chatham: hint: pass the code, or paste it on stdin (`chatham join < code.txt`)",
    ]
    from chatham import crypto

    live = crypto.InviteSecret.from_code(dana.ok("invite", "-g", g).splitlines()[-1])
    with environment(UNLIMITED), live_server(tmp_path / "other-server") as other:
        moved = crypto.InviteSecret(live.secret, live.group, other.url)
        assert crowd.max.fails("join", moved.code) == [
            used[0].replace(crowd.url, other.url),
            used[1],
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
        f"removed Ana at log op {seq}; the group key rotated to epoch {epoch + 1}",
        "Ana keeps what they already had: `chatham members exposure Ana` lists it",
    ]
    told = ana.ok("sync", "-g", g).splitlines()
    assert told[-2:] == [
        "• Dana removed you from the group. What you already have stays readable here; "
        "nothing written from now on will reach you",
        f"{g}: {len(told) - 1} log ops",
    ]
    assert ana.fails("invite", "-g", g, code=1) == [
        "chatham: error: this device is not an active member of the group",
        "chatham: hint: what was already synced stays readable; ask a leader for a new invite",
    ]
    x = dana.json("members", "exposure", "Ana", "-g", g)
    assert {"member", "name", "status", "epochs", "entries", "retracted"} <= set(x)
    assert (x["status"], x["departed_seq"]) == ("removed", seq)
    assert [e["epoch"] for e in x["epochs"]] == list(range(x["epochs"][0]["epoch"], epoch + 1))
    text = dana.ok("members", "exposure", "Ana", "-g", g).splitlines()
    assert text[0].startswith(f"Ana was removed at log op {seq}; before that they could read")
    assert text[-1] == "a retraction deletes an entry everywhere, but cannot recall what was read"

    assert dana.ok("members", "promote", "Sam", "-g", g) == "made Sam a leader\n"
    sam.ok("sync", "-g", g)
    assert sam.ok("members", "demote", "Sam", "-g", g) == (
        "you stepped down: you are a member now, no longer a leader\n"
    )
    dana.ok("members", "promote", "Sam", "-g", g)

    out = lee.ok("leave", "--yes", "-g", g).splitlines()
    assert out[0].startswith("you left Lifecycle Forum at log op ")
    assert out[1] == "the remaining members rotate the group key before anything new is written"
    synced = sam.ok("sync", "-g", g)  # any member's next sync performs the pending rotation
    assert f"• You rotated the group key (epoch {epoch + 2})" in synced
    out = dana.ok("rotate", "-g", g)
    assert out == f"rotated the group key to epoch {epoch + 3} (log op {ops(dana, g) - 1})\n"

    out = dana.ok("checkpoint", "-g", g).splitlines()
    assert out[0] == f"signed a checkpoint of 0 author chains at log op {ops(dana, g) - 1}"
    code = out[1].removeprefix("meeting code: ")
    assert len(code.split()) == 6
    sam.ok("sync", "-g", g)
    assert sam.json("verify", "-g", g)["meeting_code"] == code

    assert dana.ok("group", "policy", "-g", g).splitlines() == [
        "history: from-join (new members read only what follows)",
        "notes: any member",
        "rotate the key at each meeting: no",
    ]
    out = dana.ok(
        "group", "policy", "--history", "full", "--rotate-each-meeting", "-g", g
    ).splitlines()
    assert out == [
        f"changed the group policy (log op {ops(dana, g) - 1}); "
        "it applies to keys created from now on",
        "history: full (new members read everything before they joined)",
        "notes: any member",
        "rotate the key at each meeting: yes",
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
    assert out.startswith(f"approved Max ({max_.fingerprint}) as member\n")
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
    assert "removed Max at log op" in out
