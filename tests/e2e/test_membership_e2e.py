"""The membership story end to end over a real socket: a real `chatham-server` on
127.0.0.1 and four members in separate homes, driven through the `chatham` commands
(in-process, and once as a real process) and the client library.

Dana founds the group; Sam and Ana join, are confirmed by fingerprint and post; Lee
joins later; Dana removes Ana and everyone posts again. Then Ana attacks with
everything she could hold: every key she ever had and a copy of the server's entire
database. She reads nothing written after her removal, and what she signs afterwards
is rejected by every other client, whether the server stores it or serves it. The
others read exactly what the from-join policy allows. A withheld entry before a
checkpoint shows in `chatham verify`. It ends with a scan of the server's files for
the plaintext canaries.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from chatham import crypto
from chatham.client import Account, errors
from chatham.crypto import _epoch
from chatham.server.testing import CHATHAM, LiveServer, live_server

from tests.support.cli_member import UNLIMITED, CliMember, environment

PASSPHRASE = "membership end to end passphrase"
GROUP = "Thursday Forum"
BEFORE = [b"Dana: the bank called the loan", b"Sam: my co-founder wants out", b"Ana: a lawsuit"]
AFTER = [b"Dana: after Ana left", b"Sam: the board meets Friday", b"Lee: new here, a hard month"]
FORGED = b"Ana, after her removal"


class Member(CliMember):
    """One person: a home of their own, the CLI in-process, the library on the same home."""

    def __init__(self, name: str, root: Path) -> None:
        super().__init__(name, root, PASSPHRASE)

    def process(self, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
        """The real `chatham` executable, as a user runs it."""
        return subprocess.run(
            [CHATHAM, *args],
            input=stdin,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    @contextlib.contextmanager
    def journal(self, http: httpx.Client | None = None) -> Iterator[Account]:
        with environment(self.env):
            j = Account.open(self.home, http=http)  # the unlock session: no Argon2id
        try:
            yield j
        finally:
            j.close()

    def post(self, body: bytes) -> str:
        with self.journal() as j:
            return j.group(GROUP).post(body)

    def bodies(self) -> list[bytes]:
        with self.journal() as j:
            return [i.body for i in j.group(GROUP).entries()]


class Rewrite(httpx.BaseTransport):
    """A real HTTP transport whose answers the (malicious) server operator may rewrite."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.extra_ops: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = self.inner.handle_request(request)
        resp.read()
        if self.extra_ops and request.method == "GET" and request.url.path.endswith("/log"):
            msgpack = resp.headers.get("content-type", "").startswith("application/msgpack")
            codec: Any = msgspec.msgpack if msgpack else msgspec.json
            wire = (lambda b: b) if msgpack else crypto_b64
            page = codec.decode(resp.content)
            page["ops"] = [*page["ops"], *(wire(op) for op in self.extra_ops)]
            page["seq"] += len(self.extra_ops)
            page["head"] = wire(crypto.op_hash(self.extra_ops[-1]))
            headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
            return httpx.Response(200, headers=headers, content=codec.encode(page))
        return resp

    def close(self) -> None:
        self.inner.close()


def crypto_b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    # Each in-process command logs in anew, like a separate process: lift the login rate.
    with (
        environment(UNLIMITED),
        live_server(tmp_path / "server") as s,
    ):
        yield s


def admit(leader: Member, newcomer: Member, *, real_process: bool = False) -> None:
    """invite → join (code on stdin) → requests → approve with the spoken words → sync."""
    code = leader.ok("invite", "--name", newcomer.name, "-g", GROUP).splitlines()[-1]
    if real_process:
        proc = newcomer.process("join", "--group-name", GROUP, stdin=code + "\n")
        assert proc.returncode == 0, proc.stderr
        assert f"your fingerprint: {newcomer.fingerprint}" in proc.stdout
    else:
        newcomer.ok("join", "--group-name", GROUP, stdin=code + "\n")
    [req] = [r for r in leader.json("requests", "-g", GROUP) if r["member"] == newcomer.id]
    assert req["fingerprint"] == newcomer.fingerprint
    spoken = newcomer.json("whoami")["fingerprint"]
    leader.ok("approve", req["id"][:12], "--fingerprint", spoken, "-g", GROUP)
    assert "approved" in newcomer.ok("sync", "-g", GROUP)


def db_path(server: LiveServer) -> Path:
    [path] = server.data_dir.glob("*.sqlite3")
    return path


def copy_database(server: LiveServer, to: Path) -> sqlite3.Connection:
    """What a database thief (or the removed member, helped by one) holds: all of it."""
    live = sqlite3.connect(db_path(server), timeout=10)
    copy = sqlite3.connect(to)
    live.backup(copy)
    live.close()
    return copy


def refused_by(member: Member, error: type[errors.ChathamError], http: httpx.Client | None) -> None:
    """The member's next sync reports `error` as an alarm and stores nothing of it."""
    with member.journal(http) as j:
        g = j.group(GROUP)
        before = g.state.seq
        report = g.sync()
        with pytest.raises(error) as info:
            report.raise_for_alarms()
        assert FORGED.decode() not in str(info.value)
        assert g.state.seq == before  # a forged op is not stored
        assert FORGED not in [i.body for i in g.entries()]  # nor is a forged entry


@pytest.mark.slow
def test_the_membership_story_over_a_real_socket(server: LiveServer, tmp_path: Path) -> None:
    dana, sam, ana, lee = (Member(n, tmp_path) for n in ("Dana", "Sam", "Ana", "Lee"))

    # --- create, invite, join, approve, post -------------------------------------------------
    dana.ok("group", "create", GROUP, "--server", server.url)
    admit(dana, sam, real_process=True)
    admit(dana, ana)
    for m, body in zip((dana, sam, ana), BEFORE, strict=True):
        m.post(body)
    for m in (dana, sam, ana):
        m.ok("sync", "-g", GROUP)
        assert m.bodies() == BEFORE
    admit(dana, lee)  # after those posts: under from-join, Lee reads none of them
    roster = {r["name"]: r for r in lee.json("members", "-g", GROUP)}
    assert set(roster) == {"Dana", "Sam", "Ana", "Lee"}
    assert roster["Ana"]["fingerprint"] == ana.fingerprint

    # --- remove one member, post again ------------------------------------------------------
    ana.ok("sync", "-g", GROUP)  # she holds every key up to her removal
    with ana.journal() as aj:
        ga = aj.group(GROUP)
        ana_keys = dict(ga._load().keyring.keys)  # every key she ever had
        ana_device = aj._secrets.device
        ana_member = aj._secrets.member.id
        last_verified = (ga.state.seq, ga.state.head, ga.state.epoch)
    out = dana.ok("remove", "Ana", "-g", GROUP)
    assert f"removing Ana (fingerprint: {ana.fingerprint})" in out
    for m, body in zip((dana, sam, lee), AFTER, strict=True):
        m.ok("sync", "-g", GROUP)
        m.post(body)
    told = ana.ok("sync", "-g", GROUP)
    assert "Dana removed you from the group" in told
    assert ana.bodies() == BEFORE  # what she had stays; nothing new arrives

    # --- Ana, with a copy of the whole database and every key she ever had --------------------
    db = copy_database(server, tmp_path / "stolen.sqlite3")
    group_id = db.execute("SELECT group_id FROM groups").fetchone()[0]
    ops = [r[0] for r in db.execute("SELECT op FROM log_ops ORDER BY seq")]
    state = crypto.replay(ops)  # the verified log is public to her anyway
    removed_at = state.members[ana_member].departed_seq
    assert removed_at is not None
    # Every lockbox in the database, tried as hers and as each recipient's: only the epochs
    # sealed to her while she was a member open.
    held = dict(ana_keys)
    for epoch, device, sealed in db.execute("SELECT epoch, device_id, lockbox FROM lockboxes"):
        info = state.rotations[epoch]
        for as_device in (ana_device.id, device):
            attempt = _epoch.lockbox_info(
                group_id, epoch, info.prev, ana_member, as_device, ana_device.kem_public
            )
            with contextlib.suppress(crypto.CouldNotOpen):
                held[epoch] = ana_device.open_lockbox(attempt, sealed)
    last_epoch = state.epoch_at[removed_at - 1]
    assert sorted(held) == sorted(ana_keys)  # nothing beyond what her client already had
    assert max(held) == last_epoch < state.epoch
    for epoch in range(last_epoch + 1, state.epoch + 1):  # and no back-link leads forward
        assert state.rotations[epoch].rotation.backlink is None
    read = []
    for header, ct, sig in db.execute("SELECT header, ciphertext, signature FROM entries"):
        entry = crypto.Entry(crypto.decode(header, crypto.EntryHeader, max_size=1024), ct, sig)
        for key in held.values():
            with contextlib.suppress(crypto.CouldNotOpen):
                read.append(crypto.open_entry(entry, key))
    assert sorted(read) == sorted(BEFORE)
    db.close()

    # --- what Ana signs afterwards is rejected by every other client ------------------------
    seq_at, head_at, epoch_at = last_verified
    forged = crypto.seal_entry(
        device=ana_device,
        epoch_key=ana_keys[epoch_at],
        group=group_id,
        epoch=epoch_at,
        seq=2,  # her chain ended at 1 (the final head in the remove op)
        prev=_link(state, ana),
        log_seq=seq_at,
        log_head=head_at,
        body=FORGED,
    )
    with ana.journal() as aj, pytest.raises(errors.Forbidden):
        aj._api(server.url).post_entry(group_id, forged.data)  # the server refuses her
    # The operator stores it anyway, straight into the database.
    with sqlite3.connect(db_path(server), timeout=10) as live:
        (cursor,) = live.execute("SELECT max(cursor) FROM entries").fetchone()
        h = forged.entry.header
        live.execute(
            "INSERT INTO entries (group_id, entry_id, cursor, device_id, device_seq, epoch, "
            "log_seq, header, ct_hash, link, signature, ciphertext, retracted_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                group_id,
                h.entry_id,
                cursor + 1,
                h.device,
                h.seq,
                h.epoch,
                h.log_seq,
                crypto.encode(h),
                crypto.ct_hash(forged.entry.ct),
                forged.link,
                forged.entry.sig,
                forged.entry.ct,
            ),
        )
        live.execute("UPDATE groups SET entry_cursor = ?", (cursor + 1,))
    for m in (dana, sam, lee):
        refused_by(m, errors.NonMemberEntryError, None)
    with sqlite3.connect(db_path(server), timeout=10) as live:
        live.execute("DELETE FROM entries WHERE entry_id = ?", (forged.entry.header.entry_id,))
    # An op she signs (making herself a leader again) is refused by the server, and when
    # the server serves it anyway, by every client.
    op = crypto.build_set_role(state, ana_device, ana_member, "leader", time=int(time.time()))
    with ana.journal() as aj, pytest.raises(errors.ServerError):
        aj._api(server.url).append(group_id, state.seq, state.head, op.op, {})
    rewrite = Rewrite()
    rewrite.extra_ops.append(op.op)
    with httpx.Client(transport=rewrite) as evil:
        for m in (dana, sam, lee):
            refused_by(m, errors.ForgedOpError, evil)

    # --- the others read everything their policy allows -------------------------------------
    for m in (dana, sam):
        m.ok("sync", "-g", GROUP)
        assert m.bodies() == BEFORE + AFTER
    # The forged entry was an alarm while the server served it; now that it is gone from the
    # server, the next sync finds it resolved, and nothing of it was ever stored or shown.
    lee.ok("sync", "-g", GROUP)
    assert lee.bodies() == AFTER
    report = lee.json("verify", "-g", GROUP)
    assert report["unreadable"] == len(BEFORE)
    assert report["alarms"] == []

    # --- withholding before a checkpoint shows in `chatham verify` --------------------------
    dana.post(b"Dana: shown to everyone")
    hidden = dana.post(b"Dana: the entry the server hides")
    # The checkpoint covers it (an honest server refuses one that does not); the server
    # then loses it before Sam syncs.
    dana.ok("checkpoint", "-g", GROUP)
    with sqlite3.connect(db_path(server), timeout=10) as live:
        live.execute("DELETE FROM entries WHERE entry_id = ?", (bytes.fromhex(hidden),))
    code, out, err = sam("verify", "-g", GROUP)
    assert code == 1
    assert "withheld" in err.splitlines()[0]
    code, out, err = sam("verify", "--offline", "-g", GROUP)
    assert code == 1
    assert any(line.startswith("problem: ") and "withheld" in line for line in out.splitlines())
    assert err.startswith("chatham: error: 1 problem found: ")
    assert dana.json("verify", "--offline", "-g", GROUP)["ok"] is True

    # --- and the server never held a word of it ---------------------------------------------
    server.proc.terminate()
    server.proc.wait(timeout=10)
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            for canary in [*BEFORE, *AFTER, FORGED, GROUP.encode()]:
                assert canary not in blob, f"{canary!r} in {path.name}"


def _link(state: crypto.GroupState, member: Member) -> bytes:
    """The link of the removed member's last entry, as the remove op recorded it."""
    for d in state.devices.values():
        if d.member.hex() == member.id and d.final_head is not None:
            return d.final_head.link
    raise AssertionError("no final head")
