"""Membership workflows through the library, against the real server app in-process.

Every refusal is checked to change nothing: the server's log head stays where it
was. Attacks by the server (a swapped or minted join request, a withheld entry)
go through a transport that rewrites its answers.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from chatham import crypto
from chatham.client import Account, Group, errors
from chatham.client._private.engine import ops
from chatham.client._private.membership import workflows
from chatham.crypto import _primitives, _records
from chatham.server import Settings, create_app
from litestar.testing import TestClient

from tests.support.client_fixtures import SERVER_URL, Person, Tamper, form_group

MINUTES = 60
GONE = r"Ana is no longer a member \(removed\)"


def bodies(g: Group) -> list[bytes]:
    return [i.body for i in g.entries()]


def head(g: Group) -> int:
    """The server's log head for the group, as any member reads it."""
    return g._api().group_info(g.id_bytes).seq


class Clock:
    """A clock tests move by hand (seconds)."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


def join_via(leader: Group, newcomer: Account, *, name: str | None = None) -> Group:
    """Invite (noting the name), join, approve by id prefix with the spoken words, sync."""
    secret = leader.invite(name=name or newcomer.name)
    g = newcomer.join(secret.link)
    [req] = [r for r in leader.join_requests() if r.member == newcomer.member_id]
    leader.approve(req.id[:8], fingerprint=newcomer.fingerprint)
    g.sync()
    return g


# --- invite, join, approve ----------------------------------------------------------------------


def test_invite_join_approve_and_the_roster(person: Person) -> None:
    dana, sam = person("Dana"), person("Sam")
    [gd] = form_group(dana)
    secret = gd.invite(name="Sam", expires_in=2 * 86400)
    gs = sam.join(secret.link)
    assert gs.status == "joining"
    [req] = gd.join_requests()
    assert (req.member, req.fingerprint, req.name, req.role) == (
        sam.member_id,
        sam.fingerprint,
        "Sam",
        "member",
    )
    assert req.mac_ok is True
    assert req.invited_by == dana.member_id
    # The words as a person types them: any case, extra spaces.
    spoken = "  " + "   ".join(sam.fingerprint.upper().split()) + " "
    done = gd.approve(req.id[:6], fingerprint=spoken)
    assert (done.name, done.member, done.epoch) == ("Sam", sam.member_id, gd.epoch)
    assert gd.join_requests() == []
    report = gs.sync()
    assert report.status == "member"
    roster = {r.name: r for r in gd.roster()}
    assert roster["Sam"].verified  # the leader compared the words when approving
    assert roster["Sam"].joined_epoch == gd.epoch
    assert roster["Dana"].is_me
    mine = {r.name: r for r in gs.roster()}
    assert set(mine) == {"Dana", "Sam"}  # from-join, yet the newcomer knows who is who
    assert not mine["Dana"].verified
    gs.verify_member("dana", dana.fingerprint.upper())
    # The record is sealed in Sam's store: it survives reopening the home.
    again = Account(sam.home, sam._secrets, http=sam._http)
    assert {r.name: r.verified for r in again.group().roster()}["Dana"] is True
    again.close()


def test_names_reach_every_newcomer_under_from_join(person: Person) -> None:
    dana, sam, ana, lee = person("Dana"), person("Sam"), person("Ana"), person("Lee")
    [gd] = form_group(dana)
    gs = join_via(gd, sam)
    ga = join_via(gd, ana)
    gl = join_via(gd, lee)
    for g in (gs, ga, gl):
        g.sync()
        assert {m.name for m in g.members()} == {"Dana", "Sam", "Ana", "Lee"}
    assert gl.member("sam").id == sam.member_id


def test_names_are_refused_when_taken_or_unsafe(person: Person) -> None:
    dana, sam, other = person("Dana"), person("Sam"), person("Sam")
    [gd] = form_group(dana)
    join_via(gd, sam)
    seq = head(gd)
    with pytest.raises(errors.UsageError, match="already called 'Sam'"):
        gd.invite(name="sam")
    with pytest.raises(errors.UsageError, match="already called 'Sam'"):
        gd.invite(name="Ѕám")  # a Cyrillic Ѕ and an accent: it looks the same
    other.join(gd.invite().link)
    [req] = gd.join_requests()
    with pytest.raises(errors.UsageError, match="already called 'Sam'"):
        gd.approve(req.id, fingerprint=other.fingerprint, name="SAM")
    with pytest.raises(errors.UsageError, match="pass for one of Chatham's own words"):
        gd.approve(req.id, fingerprint=other.fingerprint, name="You")
    with pytest.raises(errors.UsageError, match="look like a member id"):
        gd.approve(req.id, fingerprint=other.fingerprint, name=other.member_id[:16])
    with pytest.raises(errors.UsageError, match="needs the name"):
        gd.approve(req.id, fingerprint=other.fingerprint)
    assert head(gd) == seq + 1  # only the invite
    gd.approve(req.id, fingerprint=other.fingerprint, name="Sam B.")


def test_members_whose_names_look_alike_are_told_apart(
    person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A leader's client that skips the check attests a look-alike name: every member sees
    both names with the start of each member's id, in the roster and on what they write."""
    dana, sam, fake = person("Dana"), person("Sam"), person("Sam")
    gd, gs = form_group(dana, sam)
    monkeypatch.setattr(workflows, "_check_name_free", lambda *a, **k: None)
    gf = join_via(gd, fake, name="Ѕam")  # Cyrillic Ѕ
    monkeypatch.undo()
    gf.post(b"trust me")
    for g in (gd, gs, gf):
        g.sync()
        names = {m.id: m.name for m in g.members()}
        assert names[sam.member_id] == f"Sam ({sam.member_id[:8]})"
        assert names[fake.member_id] == f"Ѕam ({fake.member_id[:8]})"
        assert names[dana.member_id] == "Dana"
        [entry] = [e for e in g.entries() if e.body == b"trust me"]
        assert entry.author_name == f"Ѕam ({fake.member_id[:8]})"


# --- history policy -----------------------------------------------------------------------------


@pytest.mark.parametrize(("history", "readable"), [("from-join", False), ("full", True)])
def test_newcomer_and_an_entry_posted_minutes_before_approval(
    person: Person, history: str, readable: bool
) -> None:
    clock = Clock()
    dana, sam, lee = (
        person("Dana", clock=clock),
        person("Sam", clock=clock),
        person("Lee", clock=clock),
    )
    gd, gs = form_group(dana, sam, history=history)
    code = gd.invite(name="Lee").link
    gl = lee.join(code)
    clock.now += 5 * MINUTES
    gs.post(b"posted minutes before Lee was approved, same month, same epoch")
    clock.now += 5 * MINUTES
    [req] = gd.join_requests()
    gd.approve(req.id, fingerprint=lee.fingerprint)
    gl.sync()
    gs.post(b"after Lee joined")
    gl.sync()
    expected = [b"after Lee joined"]
    if readable:
        expected.insert(0, b"posted minutes before Lee was approved, same month, same epoch")
    assert bodies(gl) == expected
    assert gl.verify().unreadable == (0 if readable else 1)


def test_policy_change_applies_to_keys_created_afterwards(person: Person) -> None:
    dana, sam, lee, max_ = person("Dana"), person("Sam"), person("Lee"), person("Max")
    gd, gs = form_group(dana, sam)
    gs.post(b"sealed under from-join")
    epoch = gd.epoch
    policy = gd.set_policy(history="full")
    assert policy.history == "full"
    # The switch first rotated: under `full` the next rotation carries the current key,
    # and that key must not be one that sealed from-join entries.
    assert gd.epoch == epoch + 1
    gs.sync()
    gs.post(b"sealed under full")
    gl = join_via(gd, lee)
    assert bodies(gl) == [b"sealed under full"]
    # And back: from now on nothing links back, so the next newcomer reads nothing earlier.
    gd.set_policy(history="from-join")
    gs.sync()
    gs.post(b"under from-join again")
    gm = join_via(gd, max_)
    assert bodies(gm) == []
    assert gd.set_policy(history="from-join").history == "from-join"  # no change, no op


# --- leave --------------------------------------------------------------------------------------


class Switch(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.down = inner, False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("network is down", request=request)
        return self.inner.handle_request(request)


def raw_entries(g: Group) -> list[crypto.Entry]:
    """Every entry the server holds for the group (what a database copy contains)."""
    page = g._api().entries(g.id_bytes, 0, 500)
    return [crypto.decode_entry(i.entry) for i in page.entries if i.entry is not None]


def readable_with(keys: dict[int, bytes], entries: list[crypto.Entry]) -> list[bytes]:
    out = []
    for e in entries:
        for key in keys.values():
            try:
                out.append(crypto.open_entry(e, key))
            except crypto.CouldNotOpen:
                continue
    return out


def test_an_entry_written_after_a_leave_never_reaches_the_leaver(
    person: Person, server: httpx.Client
) -> None:
    switch = Switch(server._transport)
    offline_http = httpx.Client(transport=switch, base_url=SERVER_URL)
    dana, sam, ana = person("Dana"), person("Sam", http=offline_http), person("Ana")
    gd, gs, ga = form_group(dana, sam, ana)
    gd.post(b"before Ana left")
    ga.sync()
    switch.down = True
    gs.post(b"written offline while Ana was leaving")  # queued, not sealed yet
    assert gs.queued == 1
    epoch = ga.epoch
    ga.leave()
    assert ga.status == "left"
    switch.down = False
    report = gs.sync()  # Sam's client rotates first, then seals the queued entry
    assert report.sent
    assert any(a.kind == "rotate" for a in report.announcements)
    gd.sync()
    gd.post(b"after Ana left")
    assert gd.epoch == epoch + 1
    assert {i.epoch for i in gd.entries() if i.body != b"before Ana left"} == {epoch + 1}
    # Ana keeps every key she ever had; with the server's whole store she reads only the past.
    ana_keys = dict(ga._load().keyring.keys)
    assert max(ana_keys) == epoch
    assert readable_with(ana_keys, raw_entries(gd)) == [b"before Ana left"]
    ga.sync()
    assert bodies(ga) == [b"before Ana left"]
    offline_http.close()


def test_any_member_performs_the_pending_rotation_on_sync(
    person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    dana, sam, ana = person("Dana"), person("Sam"), person("Ana")
    gd, gs, ga = form_group(dana, sam, ana)
    epoch = gs.epoch
    ga.leave()
    report = gs.sync()  # a plain member, no writes queued
    [rotated] = [a for a in report.announcements if a.kind == "rotate"]
    assert rotated.text == "You gave the group a fresh key"
    assert rotated.detail.endswith(f"; epoch {epoch + 1}")
    assert not gs.state.pending_rotation
    gd.sync()
    assert gd.epoch == epoch + 1
    # Two members finding the same pending rotation: the second finds nothing left to do.
    gs.leave()
    gd.sync(send=False)
    assert gd.state.pending_rotation
    real = ops.append_op

    def racing(group: Any, op: Any, **kw: Any) -> Any:
        if not racing.done:  # type: ignore[attr-defined]
            racing.done = True  # type: ignore[attr-defined]
            other = Account(dana.home, dana._secrets, http=dana._http).group()
            ops.rotate_if_pending(other)  # another process (or member) rotates first
            other._account.close()
        return real(group, op, **kw)

    racing.done = False  # type: ignore[attr-defined]
    monkeypatch.setattr(ops, "append_op", racing)
    assert ops.rotate_if_pending(gd) is None
    assert gd.epoch == epoch + 2


def test_a_checkpoint_after_a_leave_uses_a_key_the_leaver_lacks(person: Person) -> None:
    dana, sam = person("Dana"), person("Sam")
    gd, gs = form_group(dana, sam)
    gs.leave()
    gd.checkpoint()
    cp = gd.state.checkpoint
    assert cp is not None
    assert cp.epoch not in gs._load().keyring.keys
    assert gs.meeting_code() is None


# --- remove -------------------------------------------------------------------------------------


def test_remove_is_one_signed_op_with_the_final_heads(person: Person) -> None:
    dana, sam, ana = person("Dana"), person("Sam"), person("Ana")
    gd, _gs, ga = form_group(dana, sam, ana)
    ga.post(b"ana one")
    ga.post(b"ana two")
    gd.sync()
    epoch = gd.epoch
    done = gd.remove("ana")
    assert (done.name, done.fingerprint, done.epoch) == ("Ana", ana.fingerprint, epoch + 1)
    body = gd.log()[-1].op.body
    assert isinstance(body, _records.Remove)
    assert body.rotation.epoch == epoch + 1
    [final] = body.heads
    assert (final.device.hex(), final.seq) == (ana.device_id, 2)
    assert ana._secrets.device.id not in {r.device for r in body.rotation.refs}
    report = ga.sync()
    assert report.status == "removed"
    assert "removed you" in report.announcements[-1].text
    assert bodies(ga) == [b"ana one", b"ana two"]  # kept locally
    with pytest.raises(errors.NotAMember):
        ga.post(b"still here?")
    with pytest.raises(errors.Forbidden):
        ga._api().entries(ga.id_bytes, 0, 10)  # cut off at the server too
    assert ga.sync().status == "removed"  # and again, calmly


def test_exposure_lists_what_a_departed_member_could_read(person: Person) -> None:
    dana, sam, ana = person("Dana"), person("Sam"), person("Ana")
    gd, gs = form_group(dana, sam, history="full")
    gd.post(b"e1 before Ana")
    gd.post(b"e2 before Ana")
    ga = join_via(gd, ana)
    joined = ga.epoch
    gone = ga.post(b"e3 by Ana")
    gs.post(b"e4 by Sam")
    gd.sync()
    gd.post(b"e5 retracts e3", retracts=[gone])
    gd.remove("Ana")
    gd.post(b"e6 after Ana")
    x = gd.exposure("ana")
    assert x.status == "removed"
    by_epoch = {e.epoch: e for e in x.epochs}
    assert by_epoch[joined].via == "lockbox"
    assert all(by_epoch[e].via == "back-link" for e in range(1, joined))  # full: back-links
    assert gd.epoch not in by_epoch
    assert (x.entries, x.retracted) == (4, 1)
    assert gd.exposure("sam").status == "active"


# --- misuse: clear errors, nothing changed ------------------------------------------------------


def test_misuse_is_refused_and_changes_nothing(person: Person) -> None:
    dana, sam, ana = person("Dana"), person("Sam"), person("Ana")
    gd, gs = form_group(dana, sam)
    seq = head(gd)

    for call in (
        lambda: gd.remove("zed"),
        lambda: gd.set_role("zed", "leader"),
        lambda: gd.exposure("zed"),
        lambda: gd.verify_member("zed", sam.fingerprint),
    ):
        with pytest.raises(errors.NotFound, match="no member matches 'zed'"):
            call()

    for call, action in (
        (lambda: gs.invite(), "invite members"),
        (lambda: gs.join_requests(), "see join requests"),
        (lambda: gs.approve("00" * 32, fingerprint=sam.fingerprint), "see join requests"),
        (lambda: gs.remove("Dana"), "remove members"),
        (lambda: gs.set_role("Sam", "leader"), "change roles"),
        (lambda: gs.checkpoint(), "sign checkpoints"),
        (lambda: gs.set_policy(history="full"), "change the group policy"),
        (lambda: gs.rotate(), "rotate the group key"),
    ):
        with pytest.raises(errors.NotAllowed, match=f"only a leader can {action}"):
            call()

    with pytest.raises(errors.NotAllowed, match="the last leader cannot"):
        gd.remove("Dana")
    with pytest.raises(errors.NotAllowed, match="the last leader cannot"):
        gd.leave()
    with pytest.raises(errors.NotAllowed, match="the last leader cannot"):
        gd.set_role("Dana", "member")
    with pytest.raises(errors.UsageError, match="Sam is already a member"):
        gd.set_role("Sam", "member")
    with pytest.raises(errors.UsageError, match="you cannot remove yourself"):
        gs.remove("sam")
    with pytest.raises(errors.UsageError, match="that is you"):
        gs.verify_member("sam", sam.fingerprint)
    with pytest.raises(errors.UsageError, match="does not match Dana's"):
        gs.verify_member("dana", sam.fingerprint)
    assert not {r.name: r.verified for r in gs.roster()}["Dana"]
    assert head(gd) == seq

    # Approving: a wrong fingerprint, then twice.
    ana.join(gd.invite(name="Ana").link)
    seq = head(gd)
    [req] = gd.join_requests()
    with pytest.raises(errors.UsageError, match="the fingerprint does not match"):
        gd.approve(req.id, fingerprint=sam.fingerprint)
    with pytest.raises(errors.UsageError, match="needs the fingerprint"):
        gd.approve(req.id)
    with pytest.raises(errors.NotFound, match="no pending join request"):
        gd.approve("abcdef", fingerprint=ana.fingerprint)
    with pytest.raises(errors.UsageError, match="not a request id"):
        gd.approve("Ana", fingerprint=ana.fingerprint)
    assert head(gd) == seq
    assert [r.id for r in gd.join_requests()] == [req.id]
    gd.approve(req.id, fingerprint=ana.fingerprint)
    seq = head(gd)
    with pytest.raises(errors.UsageError, match="was already approved: Ana is in the group"):
        gd.approve(req.id[:10], fingerprint=ana.fingerprint)
    # Removing twice.
    gd.remove("Ana")
    seq = head(gd)
    with pytest.raises(errors.UsageError, match=r"Ana is no longer a member \(removed\)"):
        gd.remove("Ana")
    assert head(gd) == seq


def test_codes_reused_expired_or_for_another_server(
    person: Person, server: httpx.Client, tmp_path: Path
) -> None:
    clock = Clock()
    dana, sam, ana, lee = person("Dana", clock=clock), person("Sam"), person("Ana"), person("Lee")
    [gd] = form_group(dana)
    code = gd.invite(expires_in=3600).link
    sam.join(code)
    with pytest.raises(errors.UsageError, match="already used: a join request for it is waiting"):
        ana.join(code)
    assert ana._store.groups() == []  # nothing adopted
    [req] = gd.join_requests()
    gd.approve(req.id, fingerprint=sam.fingerprint, name="Sam")
    with pytest.raises(errors.UsageError, match="the invite was used, revoked or has expired"):
        ana.join(code)

    # Expired: issued by a leader whose clock is two hours behind (expiry is absolute).
    clock.now -= 7200
    late = gd.invite(expires_in=3600).link
    with pytest.raises(errors.UsageError, match="the invite was used, revoked or has expired"):
        ana.join(late)
    # Expired between the request and the approval.
    clock.now += 7200
    pending = gd.invite(expires_in=3600, name="Ana").link
    ana.join(pending)
    [req] = gd.join_requests()
    assert req.status == "waiting"
    clock.now += 2 * 3600
    [req] = gd.join_requests()
    assert req.status == "expired"  # listed as expired, not hidden
    with pytest.raises(errors.UsageError, match=r"expired on .*: it can no longer be approved"):
        gd.approve(req.id, fingerprint=ana.fingerprint)

    # A code whose server is another Chatham server, which has never heard of the group.
    other = TestClient(
        create_app(Settings(data_dir=tmp_path / "other", open_registration=True)),
        base_url="http://other.example",
    )
    with other:
        routed = person("Lee2", http=other)
        clock.now -= 2 * 3600
        mine = gd.invite()
        moved = crypto.InviteCode(mine.secret, "http://other.example")
        with pytest.raises(errors.UsageError, match="has no invite with this code"):
            routed.join(moved.link)
    # A typo in any part reads as a typo, never as "used, revoked or expired".
    link = gd.invite().link
    server, code = link.split("#")
    flip = code[:7] + ("Z" if code[7] != "Z" else "Y") + code[8:]
    swapped = code[:7] + code[8] + code[7] + code[9:]
    for bad, message in (
        ("hello", "the server's address is missing"),
        (f"{server}#{code[:-2]}", "an invite code has 30 letters and digits; this one has 28"),
        (f"{server}#{flip}", "one of them has a typo"),
        (f"{server}#{swapped}" if swapped != code else f"{server}#{flip}", "has a typo"),
        (f"{server.replace('http://', 'http://x')}#{code}", "one of them has a typo"),
        (f"{server}#{code[:5]}U{code[6:]}", "'U' is not one of them"),
        ("   ", "no invite code given"),
    ):
        with pytest.raises(errors.UsageError, match=message):
            lee.join(bad)
    # The code alone needs the server's address; a bare host name means https.
    with pytest.raises(errors.UsageError, match="one of them has a typo"):
        lee.join(code, server=server.removeprefix("http://"))
    assert lee.join(code.lower().replace("-", " "), server=server).status == "joining"


def test_invites_die_with_a_removed_or_demoted_leader(person: Person) -> None:
    dana, sam, ana, lee = person("Dana"), person("Sam"), person("Ana"), person("Lee")
    gd, gs = form_group(dana, sam)
    gd.set_role("Sam", "leader")
    gs.sync()
    by_sam = gs.invite(name="Ana").link
    by_dana = gd.invite(name="Lee").link
    gd.remove("Sam")
    with pytest.raises(errors.UsageError, match="the invite was used, revoked or has expired"):
        ana.join(by_sam)
    # Several leaders: Lee's invite came from Dana, who then hands over and steps down.
    gl = lee.join(by_dana)
    [req] = gd.join_requests()
    gd.approve(req.id, fingerprint=lee.fingerprint)
    gl.sync()
    gd.set_role("Lee", "leader")
    newer = gd.invite().link
    gd.set_role("Dana", "member")  # stepping down: allowed, Lee leads
    assert [m.name for m in gd.members() if m.role == "leader" and m.status == "active"] == ["Lee"]
    with pytest.raises(errors.UsageError, match="the invite was used, revoked or has expired"):
        person("Max").join(newer)
    gl.sync()
    with pytest.raises(errors.NotAllowed, match="the last leader cannot"):
        gl.leave()


# --- a malicious server -------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_swapped_join_request_is_caught_by_the_fingerprint(
    person: Person, tamper: Tamper, tampered_http: httpx.Client
) -> None:
    dana, sam, mallory = person("Dana", http=tampered_http), person("Sam"), person("Mallory")
    [gd] = form_group(dana)
    code = gd.invite(name="Sam").link
    sam.join(code)
    # Someone who saw the code (with the server's help) answers it with their own card.
    secret = crypto.InviteCode.parse_link(code).for_group(gd.id_bytes)
    forged = secret.request(mallory.card(), created=int(time.time()))

    def swap(_: httpx.Request, page: dict[str, Any]) -> None:
        for item in page["requests"]:
            item["request"] = b64(forged)

    tamper.on("GET", "/join-requests", swap)
    seq = head(gd)
    [req] = gd.join_requests()
    assert req.fingerprint == mallory.fingerprint  # the listing shows the impostor's words
    with pytest.raises(errors.UsageError, match="the fingerprint does not match"):
        gd.approve(req.id, fingerprint=sam.fingerprint)  # what Sam reads aloud
    assert head(gd) == seq

    # The server swapping only the card inside Sam's signed request breaks the join signature.
    tamper.clear()
    [item] = gd._api().join_requests(gd.id_bytes)
    honest = crypto.decode_join_request(item.request)
    swapped = crypto.encode(
        crypto.SignedJoinRequest(
            msgspec.structs.replace(honest.request, card=mallory.card()), honest.sig
        )
    )

    def swap_card(_: httpx.Request, page: dict[str, Any]) -> None:
        for it in page["requests"]:
            it["request"] = b64(swapped)

    tamper.clear()
    tamper.on("GET", "/join-requests", swap_card)
    refused: list[str] = []
    assert gd.join_requests(refused=refused) == []
    assert refused == ["join request is not signed with the invite's join key"]
    tamper.clear()
    gd.approve(req.id, fingerprint=sam.fingerprint)
    assert {m.name for m in gd.members()} == {"Dana", "Sam"}


def test_a_join_request_minted_without_the_join_key_is_refused(
    person: Person, tamper: Tamper, tampered_http: httpx.Client
) -> None:
    dana, mallory = person("Dana", http=tampered_http), person("Mallory")
    [gd] = form_group(dana)
    secret = gd.invite(name="Sam")
    # The server knows the invite id, but not the join key: it signs with a key of its own.
    req = _records.JoinRequest(
        2, gd.id_bytes, secret.invite_id, mallory.card(), bytes(32), int(time.time())
    )
    minted_key = _primitives.ed25519_seed_to_keys(b"\x07" * 32)[1]
    minted = crypto.encode(
        crypto.SignedJoinRequest(
            req,
            _primitives.sign(minted_key, crypto.labels.SIG_JOIN, crypto.encode(req)),
        )
    )
    with pytest.raises(errors.Refused) as refused_by_server:
        mallory._api(SERVER_URL).post_join_request(gd.id_bytes, minted)
    assert refused_by_server.value.code == "invalid_join_request"

    def inject(_: httpx.Request, page: dict[str, Any]) -> None:
        page["requests"].append({"invite_id": b64(secret.invite_id), "request": b64(minted)})

    tamper.on("GET", "/join-requests", inject)
    reasons: list[str] = []
    assert gd.join_requests(refused=reasons) == []
    assert reasons == ["join request is not signed with the invite's join key"]
    seq = head(gd)
    with pytest.raises(errors.NotFound, match="no pending join request"):
        gd.approve(secret.invite_id.hex(), fingerprint=mallory.fingerprint, name="Mallory")
    assert head(gd) == seq


def test_withholding_before_a_checkpoint_shows_in_verify(
    person: Person, tamper: Tamper, tampered_http: httpx.Client
) -> None:
    dana, sam = person("Dana"), person("Sam", http=tampered_http)
    gd, gs = form_group(dana, sam)
    gd.post(b"first")
    hidden = gd.post(b"the entry the server hides from Sam")

    def drop(_: httpx.Request, page: dict[str, Any]) -> None:
        page["entries"] = [e for e in page["entries"] if e["entry_id"].hex() != hidden]

    tamper.on("GET", "/entries", drop)
    gs.sync()
    gd.checkpoint()
    with pytest.raises(errors.WithheldError, match="withheld"):
        gs.sync().raise_for_alarms()
    report = gs.verify()
    assert not report.ok
    assert "withheld" in report.problems[0]
    assert gd.verify().ok
    tamper.clear()
    gs.sync()
    assert gs.verify().ok
    assert gs.verify().meeting_code == gd.verify().meeting_code


# --- two leaders at once ------------------------------------------------------------------------


def test_two_leaders_at_once(person: Person, monkeypatch: pytest.MonkeyPatch) -> None:
    dana, sam, ana = person("Dana"), person("Sam"), person("Ana")
    gd, gs, _ga = form_group(dana, sam, ana)
    gd.set_role("Sam", "leader")
    gs.sync()
    # Sam signs a checkpoint while Dana rotates: Sam's append loses, re-syncs and retries.
    real = gs.checkpoint

    def racing_checkpoint() -> crypto.AppliedOp:
        built: list[int] = []
        original = crypto.build_checkpoint

        def build(state: crypto.GroupState, *a: Any, **kw: Any) -> crypto.PendingOp:
            built.append(state.seq)
            if len(built) == 1:
                gd.rotate()
            return original(state, *a, **kw)

        monkeypatch.setattr(crypto, "build_checkpoint", build)
        try:
            return real()
        finally:
            monkeypatch.setattr(crypto, "build_checkpoint", original)
            assert len(built) == 2

    monkeypatch.setattr(gs, "checkpoint", racing_checkpoint)
    applied = gs.checkpoint()
    gd.sync()
    assert gd.state.seq == gs.state.seq == applied.seq
    assert gd.state.head == gs.state.head
    # Both remove Ana: the loser's retry no longer applies, and it says what happened.
    real_remove = gs.remove

    def racing_remove(member: str) -> crypto.AppliedOp:
        gd.remove("Ana")
        return real_remove(member)

    monkeypatch.setattr(gs, "remove", racing_remove)
    with pytest.raises(errors.UsageError, match=r"Ana is no longer a member \(removed\)"):
        gs.remove("Ana")
    gs.sync()
    assert gd.state.head == gs.state.head
    removals = [a for a in gs.log() if isinstance(a.op.body, _records.Remove)]
    assert [r.op.body.member.hex() for r in removals] == [ana.member_id]


def test_a_server_that_sends_log_pages_without_end_is_caught_at_once(
    person: Person, tamper: Any, tampered_http: Any
) -> None:
    # `more: true` forever, each page repeating the last op: the joiner verifies every page
    # as it arrives, so the first page that does not continue the log ends the join.
    dana, sam = person("Dana"), person("Sam", http=tampered_http)
    [gd] = form_group(dana)
    secret = gd.invite(name="Sam", expires_in=2 * 86400)
    pages = 0
    sent: list[Any] = []

    def endless(request: Any, body: dict[str, Any]) -> dict[str, Any]:
        nonlocal pages
        pages += 1
        sent.extend(body["ops"])
        return {**body, "ops": body["ops"] or sent[-1:], "more": True}

    tamper.on("GET", "/log", endless)
    with pytest.raises(errors.ChathamError):
        sam.join(secret.link)
    assert pages <= 2
    assert sam.groups() == []
