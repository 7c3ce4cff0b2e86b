"""Review of the issue-13 hardening, as an attacker would: each test reproduces one finding.

Every test is `xfail(strict=True)`: it documents a bug that still exists on this branch (the
suite stays green) and turns red the day the bug is fixed, so the mark can be removed.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from chatham import crypto
from chatham.client import Account, Group, Home, errors
from chatham.client._private.engine import outbox
from chatham.client._private.membership import workflows
from chatham.crypto import Secrets, _group
from chatham.server import Settings, create_app
from litestar.testing import TestClient

from tests.client.test_membership import Clock
from tests.support.client_fixtures import SERVER_URL, Person, Tamper, form_group
from tests.support.tamper_kit import World

DAY = 86400


def bodies(g: Group) -> list[bytes]:
    return [e.body for e in g.entries()]


def next_sealed(
    g: Group, body: bytes, *, entry_id: bytes | None = None, seq: int | None = None
) -> crypto.SealedEntry:
    """An entry of `g`'s member on the newest verified head (what its client would sign): the
    next of its chain, or at `seq` (linked to the held entry before it: a second entry for a
    taken seq is equivocation), under an entry id of the caller's choosing."""
    snap = g._load()
    device = g._account._secrets.device
    head = snap.tracker.head(device.id)
    state = snap.state
    if seq is None:
        seq = head.seq + 1 if head else 1
    prev = bytes(32) if seq == 1 else snap.tracker.links[device.id][seq - 1]
    return crypto.seal_entry(
        device=device,
        epoch_key=snap.keyring.key(state.epoch),
        group=g.id_bytes,
        epoch=state.epoch,
        seq=seq,
        prev=prev,
        log_seq=state.seq,
        log_head=state.head,
        body=body,
        entry_id=entry_id,
    )


def join_via_name(leader: Group, newcomer: Account, name: str) -> Group:
    """The leader invites and approves `newcomer` under `name`; the newcomer syncs."""
    g = newcomer.join(leader.invite().link)
    [request] = [r for r in leader.join_requests() if r.member == newcomer.member_id]
    leader.approve(request, name=name, fingerprint=newcomer.fingerprint)
    g.sync()
    return g


def serve_extra(w: World, items: list[dict[str, Any]]) -> None:
    """The hostile server appends `items` to the entry pages Bob fetches."""

    def hook(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        after = int(request.url.params.get("after", "0"))
        extra = [i for i in items if i["cursor"] > after]
        page["entries"] = [*page["entries"], *extra]
        if page["entries"]:
            page["cursor"] = max(page["cursor"], page["entries"][-1]["cursor"])
        return page

    w.tamper.on("GET", "/entries", hook)


# --- 1. one record from a member (with a hostile server) wedges every sync ---------------------


def test_an_entry_reusing_a_stored_entry_id_does_not_stop_sync(world: World) -> None:
    w = world
    kept = w.post(w.ga, "Alice's entry, which Bob holds")
    w.gb.sync()
    # Carol signs her next entry under Alice's entry id; the honest server would refuse it
    # (one id per group), a hostile one serves it to Bob after everything else.
    twin = next_sealed(w.gc, b"Carol's entry under Alice's id", entry_id=bytes.fromhex(kept))
    cursor = max(e.cursor for e in w.gb.entry_index()) + 100
    serve_extra(w, [{"cursor": cursor, "entry_id": twin.entry.header.entry_id, "entry": twin.data}])
    report = w.gb.sync()  # today: sqlite3.IntegrityError, on this and every later sync
    assert any(a.record == f"entry {kept}" for a in report.alarms)
    assert bodies(w.gb) == [b"Alice's entry, which Bob holds"]
    w.post(w.ga, "written after it")
    w.gb.sync()
    assert bodies(w.gb)[-1] == b"written after it"


def test_an_equivocating_first_entry_inside_a_departed_chain_does_not_stop_sync(
    world: World,
) -> None:
    w = world
    for i in range(3):
        w.post(w.gc, f"Carol {i + 1}")
    w.gb.sync()  # Bob holds Carol's entries 1-3
    w.post(w.gc, "Carol 4")
    w.post(w.gc, "Carol 5")
    # Carol, about to be removed, signs a second entry 1 (equivocation) with her device key.
    twin = next_sealed(w.gc, b"Carol's other entry 1", seq=1)
    w.ga.sync()
    w.ga.remove(w.ga.member(w.carol.member_id).id)  # final head: Carol's entry 5

    def slip_in(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        # The hostile server serves Carol's 4, then the twin, then her 5.
        items = page["entries"]
        if len(items) == 2:
            last = items[1]["cursor"]
            twin_item = {"cursor": last, "entry_id": twin.entry.header.entry_id}
            twin_item["entry"] = twin.data
            items[1] = {**items[1], "cursor": last + 1}
            page["entries"] = [items[0], twin_item, items[1]]
            page["cursor"] = last + 1
        return page

    w.tamper.on("GET", "/entries", slip_in)
    report = w.gb.sync()  # today: sqlite3.IntegrityError (UNIQUE group, device, seq)
    assert any(a.check in ("equivocation", "chain") for a in report.alarms)
    assert b"Carol's other entry 1" not in bodies(w.gb)
    w.tamper.clear()
    w.post(w.ga, "written after it")
    w.gb.sync()
    assert bodies(w.gb)[-1] == b"written after it"


# --- 7. the local store's row MAC ----------------------------------------------------------------


def test_an_offline_edit_that_drops_a_ciphertext_is_detected(world: World) -> None:
    w = world
    hidden = w.post(w.ga, "the entry someone with Bob's files wants gone")
    w.post(w.ga, "another")
    w.gb.sync()
    assert w.gb.verify().ok
    db = w.bob._store.db
    db.execute("UPDATE entries SET ct = NULL WHERE entry_id = ?", (bytes.fromhex(hidden),))
    w.gb._snap = None
    with pytest.raises(errors.StoreTampered):  # not hidden: the edit is detected
        bodies(w.gb)
    with pytest.raises(errors.StoreTampered):
        w.gb.verify()


# --- 5. coverage: a departure's final head below an entry a member holds -------------------------


def test_an_entry_held_beyond_a_departures_final_head_is_an_alarm(
    person: Person, tamper: Tamper, tampered_http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatham.server._private.services import groups as server_groups

    dana, sam, eve = person("Dana", http=tampered_http), person("Sam"), person("Eve")
    gd, gs, ge = form_group(dana, sam, eve)
    ge.post(b"Eve's first")
    hidden = ge.post(b"Eve's second, which the server keeps from Dana")
    gs.sync()  # Sam holds both

    def drop(_: httpx.Request, page: dict[str, Any]) -> None:
        page["entries"] = [e for e in page["entries"] if e["entry_id"].hex() != hidden]

    tamper.on("GET", "/entries", drop)
    monkeypatch.setattr(server_groups, "_check_pinned_heads", lambda *a: None)  # it colludes
    gd.sync()
    gd.remove(gd.member(eve.member_id).id)  # Eve's final head: her entry 1, as Dana saw it
    report = gs.sync()
    assert any(hidden in (a.record or "") or a.check == "checkpoint" for a in report.alarms)
    try:
        ok = gs.verify().ok  # today: StoreTampered, "stored entry … fails: … departed"
    except errors.StoreTampered:
        pytest.fail("verify blamed Sam's store for what the server and Dana's op did")
    assert not ok


# --- 4. freshness ---------------------------------------------------------------------------------


class ForkingServer:
    """A hostile server that shows one member the log as it was at op `upto`, plus whatever
    that member appends to it (a fork only they see)."""

    def __init__(self, tamper: Tamper, ops: list[bytes]) -> None:
        self.fork = list(ops)
        tamper.on("GET", "/log", self.log)
        tamper.raw_hooks.append(self.append)

    def log(self, request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        since = int(request.url.params.get("since", "-1"))
        page["ops"] = [op for op in self.fork if crypto.decode_signed_op(op).op.seq > since]
        page["seq"] = len(self.fork) - 1
        page["head"] = crypto.op_hash(self.fork[-1])
        page["more"] = False
        return page

    def append(self, request: httpx.Request, resp: httpx.Response) -> httpx.Response:
        if request.method != "POST" or not request.url.path.endswith("/log"):
            return resp
        op = base64.b64decode(msgspec.json.decode(request.content)["op"])
        self.fork.append(op)
        head = {
            "group_id": crypto.decode_signed_op(op).op.group,
            "seq": len(self.fork) - 1,
            "head": crypto.op_hash(op),
        }
        return httpx.Response(
            201, content=msgspec.json.encode(head), headers={"content-type": "application/json"}
        )


def test_a_server_hiding_a_removal_from_a_leader_cannot_keep_them_current(
    tmp_path: Path, person: Person
) -> None:
    clock = Clock()
    settings = Settings(data_dir=tmp_path / "clocked", open_registration=True, clock=clock)
    with TestClient(create_app(settings), base_url=SERVER_URL) as honest:
        tamper = Tamper(honest._transport)
        with httpx.Client(transport=tamper, base_url=SERVER_URL) as hostile:
            dana = person("Dana", http=honest, clock=clock)
            lee = person("Lee", http=hostile, clock=clock)
            eve = person("Eve", http=honest, clock=clock)
            gd, gl, _ = form_group(dana, lee, eve)
            gd.set_role(gd.member(lee.member_id).id, "leader")
            gl.sync()
            ForkingServer(tamper, gl._store.ops(gl.id_bytes))
            gd.remove(gd.member(eve.member_id).id)  # Eve keeps the old key; Lee never sees this
            for _ in range(7):
                clock.now += 5 * DAY
                gd.sync()
                gl.sync()  # Lee's client signs a checkpoint on the fork: the log looks alive
            assert gl.member(eve.member_id).status == "active"  # the removal stays hidden
            assert gl.freshness().level != "current"  # today: "current", 35 days on


def test_a_removed_leader_on_a_fork_is_caught_by_the_meeting_code(
    tmp_path: Path, person: Person
) -> None:
    """The freshness bound's documented limit (protocol §9.1): a removed leader colluding
    with the server keeps signing dated checkpoints on a fork where they still lead, so the
    victim's view looks current. What catches it is the meeting code compared aloud."""
    clock = Clock()
    settings = Settings(data_dir=tmp_path / "clocked", open_registration=True, clock=clock)
    with TestClient(create_app(settings), base_url=SERVER_URL) as honest:
        tamper = Tamper(honest._transport)
        with httpx.Client(transport=tamper, base_url=SERVER_URL) as hostile:
            dana = person("Dana", http=honest, clock=clock)
            lee = person("Lee", http=honest, clock=clock)
            sam = person("Sam", http=hostile, clock=clock)
            gd, _, gs = form_group(dana, lee, sam)
            gd.set_role(gd.member(lee.member_id).id, "leader")
            gs.sync()
            fork = ForkingServer(tamper, gs._store.ops(gs.id_bytes))
            gd.remove(gd.member(lee.member_id).id)  # Lee keeps the old key; Sam never sees this
            for _ in range(7):
                clock.now += 5 * DAY
                gd.sync()
                # On the fork, Lee still leads: a checkpoint of what Sam holds, dated today.
                state = crypto.replay(fork.fork)
                heads = gs._load().tracker.heads()
                signed = crypto.build_checkpoint(
                    state, lee._secrets.device, heads, time=int(clock.now)
                )
                fork.fork.append(signed.op)
                gs.sync()
            assert gs.member(lee.member_id).status == "active"
            assert gs.freshness().level == "current"  # the limit of the bound
            assert gd.meeting_code() is not None
            assert gs.meeting_code() != gd.meeting_code()


# --- 7. the outbox --------------------------------------------------------------------------------


def test_a_delivered_write_retracted_before_it_was_unqueued_is_not_sent_again(
    world: World,
) -> None:
    w = world
    g = w.gb
    body = b"what Bob wrote, and a leader withdrew"
    # Bob's client queues and sends the write; the server stores it, but the answer is lost
    # (the client dies, or the connection drops) before it is unqueued.
    eid = os.urandom(16)
    w.bob._store.queue(g.id_bytes, eid, body, int(time.time()))
    sealed = outbox.seal(g, eid, body)
    g._api().post_entry(g.id_bytes, sealed.data)
    # A leader withdraws it before Bob's client comes back.
    w.ga.sync()
    w.ga.post(b"moderation", retracts=[eid.hex()])
    report = g.sync()  # today: the outbox sends the withdrawn text again, under a new id
    assert g.queued == 0
    w.ga.sync()
    assert body not in bodies(w.ga)
    assert report.alarms == ()


# --- 7. names: markup ---------------------------------------------------------------------------


def test_a_name_cannot_pass_for_you_through_terminal_markup(
    person: Person, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatham.client.cli import members as cli_members

    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    alice, mallory, carol = person("Alice"), person("[b]you[/b]"), person("Carol")
    _, _, gc = form_group(alice, mallory, carol)
    capsys.readouterr()
    cli_members._print_roster(gc)
    lines = capsys.readouterr().out.splitlines()
    [line] = [x for x in lines if gc.member(mallory.member_id).id[:12] in x]
    assert not line.lstrip(" *").startswith("you ")  # today: "  you     member  …"
    assert "[b]you[/b]" in line


def test_the_roster_shows_who_was_removed(
    person: Person, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatham.client.cli import members as cli_members

    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    alice, eve = person("Alice"), person("Eve")
    ga, _ = form_group(alice, eve)
    ga.remove(ga.member(eve.member_id).id)
    capsys.readouterr()
    cli_members._print_roster(ga)
    [line] = [x for x in capsys.readouterr().out.splitlines() if "Eve" in x]
    assert "removed" in line  # today: "  Eve    member  …  not verified"


def test_a_name_cannot_carry_another_members_id_label(
    person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = person("Alice")
    label = f"Alice ({alice.member_id[:8]})"
    # How the client itself tells two Alices apart is exactly what such a name would say.
    with pytest.raises(errors.UsageError, match="an id in brackets"):
        person(label)
    mallory, carol = person("Mallory"), person("Carol")
    ga, _, gc = form_group(alice, carol, mallory)
    with pytest.raises(errors.UsageError, match="an id in brackets"):
        ga.invite(name=label)
    # A leader's client that skips the check: readers drop the name rather than show it.
    monkeypatch.setattr(_group, "check_name", lambda n: n)
    monkeypatch.setattr(crypto, "check_name", lambda n: n)
    monkeypatch.setattr(workflows, "_check_name_free", lambda *a, **k: None)
    again = person("Mallory")
    join_via_name(ga, again, label)
    monkeypatch.undo()
    gc.sync()
    assert label not in gc.names().values()


# --- 2. alarms that vanish without resolution -----------------------------------------------------


def test_an_equivocation_alarm_does_not_vanish_when_the_server_stops_serving_it(
    world: World,
) -> None:
    w = world
    w.post(w.gc, "Carol 1")
    w.post(w.gc, "Carol 2, as everyone holds it")
    w.gb.sync()
    # Carol's device signs another entry 2; the server shows it to Bob once.
    twin = next_sealed(w.gc, b"Carol 2, as only Bob is shown", seq=2)
    cursor = max(e.cursor for e in w.gb.entry_index()) + 100
    serve_extra(w, [{"cursor": cursor, "entry_id": twin.entry.header.entry_id, "entry": twin.data}])
    report = w.gb.sync()
    assert [a.check for a in report.alarms] == ["equivocation"]
    w.tamper.clear()  # the server denies ever having had it (404)
    report = w.gb.sync()
    assert [a.check for a in report.alarms] == ["equivocation"]  # today: ()


# --- 1./2. roles across a membership that ended ---------------------------------------------------


def test_a_former_leaders_retractions_stay_valid_when_they_are_added_again(
    tmp_path: Path, person: Person, server: httpx.Client
) -> None:
    alice, lee, carol = person("Alice"), person("Lee"), person("Carol")
    ga, gl, gc = form_group(alice, lee, carol, history="full")
    ga.set_role(ga.member(lee.member_id).id, "leader")
    target = gc.post(b"Carol's entry, which Lee withdraws as a leader")
    gl.sync()
    gl.post(b"moderation", retracts=[target])
    for g in (ga, gc):
        g.sync()
    assert gc.verify().ok
    ga.remove(ga.member(lee.member_id).id)
    # Lee comes back, on a new device (the same person: the same member key).
    again = Secrets(
        lee._secrets.member,
        crypto.DeviceKeys.from_seeds(os.urandom(32), os.urandom(96)),
        os.urandom(32),
        int(time.time()),
    )
    lee2 = Account(Home(tmp_path / "home-lee-again"), again, http=server)
    try:
        lee2.set_name("Lee")
        g2 = lee2.join(ga.invite().link)
        [request] = [r for r in ga.join_requests() if r.member == lee.member_id]
        ga.approve(request, name="Lee", fingerprint=lee2.fingerprint)
        g2.sync()
        report = gc.sync()
        assert report.alarms == ()
        try:
            ok = gc.verify().ok  # today: StoreTampered, "only the author or a leader may retract"
        except errors.StoreTampered:
            ok = False
        assert ok
        # Lee's new device reads the whole history (policy full): the stub is no fake deletion.
        assert not any(a.check == "role" for a in g2.sync().alarms)
    finally:
        lee2.close()


# --- 2. pagination: the pinned cursor -------------------------------------------------------------


def test_one_page_with_a_far_cursor_does_not_stop_later_entries(world: World) -> None:
    w = world
    w.post(w.ga, "before")
    w.gb.sync()

    def far(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["cursor"] = 1 << 62
        page["more"] = False
        return page

    w.tamper.on("GET", "/entries", far)
    report = w.gb.sync()
    w.tamper.clear()  # the server (or whoever sat between) is honest again
    w.post(w.ga, "after")
    report = w.gb.sync()
    assert bodies(w.gb) == [b"before", b"after"] or report.alarms  # today: neither


def test_names_alike_in_a_sans_serif_font_are_told_apart(
    person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, mallory, carol = person("Alice"), person("Mallory"), person("Carol")
    ga, gc = form_group(alice, carol)
    with pytest.raises(errors.UsageError, match="already called 'Alice'"):
        ga.invite(name="AIice")  # a capital I for the l
    # A leader's client that skips the look-alike check lets it in: every reader tells the
    # two apart by the start of their ids.
    monkeypatch.setattr(workflows, "_check_name_free", lambda *a, **k: None)
    join_via_name(ga, mallory, "AIice")
    monkeypatch.undo()
    gc.sync()
    shown = gc.names()
    assert shown[alice.member_id] == f"Alice ({alice.member_id[:8]})"
    assert shown[mallory.member_id] == f"AIice ({mallory.member_id[:8]})"


# --- 6. the server identity pin ------------------------------------------------------------------


def test_one_server_spelled_two_ways_is_not_taken_for_a_relay(person: Person) -> None:
    alice, bob, carol = person("Alice"), person("Bob"), person("Carol")
    form_group(alice, bob)  # Bob pins this server at http://testserver.local
    # Carol founds a group on the very same server, typing its address with capitals.
    gc = carol.create_group("Second Forum", "http://TestServer.local")
    code = gc.invite().link
    bob.join(code)  # today: ServerChanged, "claims to be the server at http://testserver.local"
