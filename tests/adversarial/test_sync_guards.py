"""Attacks on the sync engine that each one guard alone stops: disable the guard and the test
fails (`make mutation`, docs/testing.md). Bob, the victim, talks to the server through
`world.tamper`; Alice and Carol talk to it directly.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import time
from typing import Any

import httpx
import msgspec
import pytest
from chatham import crypto
from chatham.client import Account, Group, errors
from chatham.client._private.local.store import EntryRow

from tests.support.client_fixtures import Person, Tamper, admit, form_group
from tests.support.tamper_kit import World

ENOUGH: int = 12
"""A client that keeps asking after a broken promise is let finish after this many requests
(so a test of the guard fails instead of hanging)."""


def _broken_promise(field: str) -> tuple[list[int], Any]:
    calls: list[int] = []

    def hook(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        if len(calls) > ENOUGH:
            return page
        if len(calls) > 1:
            page[field] = []
        page["more"] = True
        return page

    return calls, hook


def test_a_log_page_promising_more_ops_and_bringing_none_is_refused(world: World) -> None:
    w = world
    w.ga.checkpoint()
    calls, hook = _broken_promise("ops")
    w.tamper.on("GET", "/log", hook)
    with pytest.raises(errors.BadResponse, match="promised more log ops"):
        w.gb.sync()
    assert len(calls) == 2


def test_an_entry_page_promising_more_and_bringing_none_is_refused(world: World) -> None:
    w = world
    w.post(w.ga, "one entry")
    calls, hook = _broken_promise("entries")
    w.tamper.on("GET", "/entries", hook)
    with pytest.raises(errors.BadResponse, match="promised more entries"):
        w.gb.sync()
    assert len(calls) <= 3  # the page after the promise, and perhaps one fetched ahead


def test_a_lockbox_request_refused_for_an_active_member_is_an_error(world: World) -> None:
    """A server answering 403 to a current member's lockbox request must not pass for
    'nothing to fetch': Bob is told, and holds no key for the epoch."""
    w = world
    w.ga.rotate()
    epoch = w.ga.state.epoch

    def refuse(request: httpx.Request, resp: httpx.Response) -> httpx.Response:
        if request.url.path.endswith("/lockboxes"):
            return httpx.Response(403, json={"code": "forbidden", "detail": "not for you"})
        return resp

    w.tamper.raw_hooks.append(refuse)
    with pytest.raises(errors.Forbidden):
        w.gb.sync()
    assert epoch not in w.gb._load().keyring.keys
    w.tamper.clear()
    w.gb.sync()
    assert epoch in w.gb._load().keyring.keys


def test_a_server_serving_another_group_for_an_invite_is_refused_at_join(
    person: Person, tamper: Tamper, tampered_http: httpx.Client
) -> None:
    """The server answers a joiner's log request with a whole other group (a real one, every
    op signed): the joiner refuses it before asking to join, and stores nothing."""
    dana, mallory = person("Dana"), person("Mallory")
    jo = person("Jo", http=tampered_http)
    [gd] = form_group(dana)
    [gm] = form_group(mallory)
    fake = gm._api().log(gm.id_bytes, -1)
    real = base64.urlsafe_b64encode(gd.id_bytes).rstrip(b"=").decode()

    def substitute(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        if f"/groups/{real}/log" in request.url.path:
            page.update(ops=list(fake.ops), seq=fake.seq, head=fake.head, more=False)
        return page

    tamper.on("GET", "/log", substitute)
    code = gd.invite().link
    with pytest.raises(errors.ForkError, match="does not match the invite"):
        jo.join(code)
    assert jo.groups() == []
    assert gd.join_requests() == []


def test_a_log_page_labelled_with_another_group_is_refused(world: World) -> None:
    w = world
    w.ga.checkpoint()
    other = bytes(32)

    def relabel(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["group_id"] = other
        return page

    w.tamper.on("GET", "/log", relabel)
    seq = w.gb.state.seq
    with pytest.raises(errors.BadResponse, match="another group's log"):
        w.gb.sync()
    assert w.gb.state.seq == seq  # nothing of it was taken


# --- the local store's re-checks in `verify` -----------------------------------------------------
# Each stores, through the store's own API (so every row MAC is valid), a record that never
# verified: what a bug in sync, or malware holding the unlocked store, could leave. `verify`
# replays everything from scratch and must refuse it.


def _stored(w: World) -> list[EntryRow]:
    w.post(w.ga, "first")
    w.post(w.ga, "second")
    w.gb.sync()
    return sorted(w.gb._store.iter_entries(w.gb._gid), key=lambda r: r.seq)


def _rewrite(w: World, *rows: EntryRow) -> None:
    store, gid = w.gb._store, w.gb._gid
    with store.write() as db:
        for row in rows:
            store.update_entry(db, gid, row)
    w.gb._snap = None


def test_verify_refuses_a_stored_retraction_whose_retracting_entry_is_not_held(
    world: World,
) -> None:
    w = world
    first, _ = _stored(w)
    _rewrite(w, dataclasses.replace(first, ct=None, retracted_by=os.urandom(16)))
    with pytest.raises(errors.StoreTampered, match="not stored"):
        w.gb.verify()


def test_verify_refuses_a_stored_retraction_by_an_entry_that_does_not_name_it(
    world: World,
) -> None:
    w = world
    first, second = _stored(w)
    _rewrite(w, dataclasses.replace(first, ct=None, retracted_by=second.entry_id))
    with pytest.raises(errors.StoreTampered, match="fails"):
        w.gb.verify()


def test_verify_refuses_a_stored_entry_filed_under_another_log_position(world: World) -> None:
    w = world
    _, second = _stored(w)
    store, gid = w.gb._store, w.gb._gid
    with store.write() as db:
        db.execute("DELETE FROM entries WHERE group_id=? AND entry_id=?", (gid, second.entry_id))
        store.add_entries(db, gid, [dataclasses.replace(second, log_seq=second.log_seq - 1)])
    w.gb._snap = None
    with pytest.raises(errors.StoreTampered, match="does not match its signed header"):
        w.gb.verify()


def test_verify_refuses_a_stored_epoch_key_its_lockbox_does_not_give(world: World) -> None:
    w = world
    _stored(w)
    store, gid = w.gb._store, w.gb._gid
    epoch = w.gb.state.epoch
    box = store.lockboxes(gid)[epoch]
    with store.write() as db:
        store.add_epoch_key(db, gid, epoch, os.urandom(32), box)
    w.gb._snap = None
    with pytest.raises(errors.StoreTampered, match=f"key for epoch {epoch} is wrong"):
        w.gb.verify()


def test_verify_refuses_a_stored_lockbox_that_does_not_open(world: World) -> None:
    w = world
    _stored(w)
    store, gid = w.gb._store, w.gb._gid
    epoch = w.gb.state.epoch
    key = store.epoch_keys(gid)[epoch]
    with store.write() as db:
        store.add_epoch_key(db, gid, epoch, key, os.urandom(len(store.lockboxes(gid)[epoch])))
    w.gb._snap = None
    with pytest.raises(errors.StoreTampered, match=f"lockbox for epoch {epoch} fails"):
        w.gb.verify()


def test_verify_refuses_a_stored_key_no_lockbox_vouches_for_whose_back_link_does_not_open(
    world: World,
) -> None:
    """What malware holding the unlocked store could leave: the current epoch's key replaced
    by its own, the lockboxes and the older keys removed, the pinned state updated to
    match. Nothing but the back-link to the epoch before can tell the key is wrong."""
    w = world
    _stored(w)
    store, gid = w.gb._store, w.gb._gid
    snap = w.gb._load()
    top = max(store.epoch_keys(gid))
    with store.write() as db:
        db.execute("DELETE FROM lockboxes WHERE group_id=?", (gid,))
        db.execute("DELETE FROM epoch_keys WHERE group_id=? AND epoch<?", (gid, top))
        store.add_epoch_key(db, gid, top, os.urandom(32), None)
        store.pin(db, gid, snap.version, msgspec.structs.replace(snap.pinned, epochs=[top]))
    w.gb._snap = None
    with pytest.raises(errors.StoreTampered, match="fails its confirmation"):
        w.gb.verify()


def test_verify_refuses_a_stored_chain_that_does_not_link(world: World) -> None:
    """Alice's second entry replaced in Bob's store by another her device signed, linking to
    nothing of hers, with the pinned heads updated to match: each entry verifies alone, and
    only the chain check finds the break."""
    w = world
    _, second = _stored(w)
    store, gid = w.gb._store, w.gb._gid
    snap = w.gb._load()
    forked = _alices_next(w, b"linked to nothing", prev=os.urandom(32), seq=second.seq)
    h = forked.entry.header
    row = dataclasses.replace(
        second,
        entry_id=h.entry_id,
        header=crypto.encode(h),
        ct=forked.entry.ct,
        ct_hash=crypto.ct_hash(forked.entry.ct),
        sig=forked.entry.sig,
        link=forked.link,
        log_seq=h.log_seq,
        epoch=h.epoch,
    )
    heads = [(d, n, forked.link if d == h.device else k) for d, n, k in snap.pinned.heads]
    with store.write() as db:
        db.execute("DELETE FROM entries WHERE group_id=? AND entry_id=?", (gid, second.entry_id))
        store.add_entries(db, gid, [row])
        store.pin(db, gid, snap.version, msgspec.structs.replace(snap.pinned, heads=heads))
    w.gb._snap = None
    with pytest.raises(errors.StoreTampered, match="does not link"):
        w.gb.verify()


# --- entries against the checkpoint ---------------------------------------------------------------


def _alices_other_first_entry(w: World, body: bytes) -> dict[str, Any]:
    """Alice's device (compromised, or the server holding her key) signs a second, different
    entry at her chain's first place: the item the server shows Bob instead of the real one."""
    state, keys = w.ga.state, w.ga._load().keyring
    forged = crypto.seal_entry(
        device=w.alice._secrets.device,
        epoch_key=keys.key(state.epoch),
        group=state.group_id,
        epoch=state.epoch,
        seq=1,
        prev=bytes(32),
        log_seq=state.seq,
        log_head=state.head,
        body=body,
    )
    return {"entry_id": forged.entry.header.entry_id, "entry": forged.data}


def _show_instead(w: World, real: str, item: dict[str, Any]) -> None:
    def swap(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        for i, it in enumerate(page["entries"]):
            if it["entry_id"].hex() == real:
                page["entries"][i] = it | item
        return page

    w.tamper.on("GET", "/entries", swap)


def test_an_entry_other_than_the_one_the_checkpoint_lists_is_never_shown(world: World) -> None:
    w = world
    forged = _alices_other_first_entry(w, b"what alice told bob alone")
    real = w.post(w.ga, "what alice said to everyone")
    w.ga.checkpoint()
    _show_instead(w, real, forged)
    report = w.gb.sync()
    [alarm] = [a for a in report.alarms if a.check == "equivocation"]
    assert isinstance(alarm.error(), errors.EquivocationError)
    assert b"what alice told bob alone" not in [i.body for i in w.gb.entries()]
    assert not w.gb.verify().ok


def test_a_chain_held_before_a_checkpoint_that_lists_another_entry_is_an_alarm(
    world: World,
) -> None:
    """Bob took the forged entry in before any checkpoint covered that place; the checkpoint
    that arrives later lists Alice's real one: the difference is named, as equivocation."""
    w = world
    forged = _alices_other_first_entry(w, b"what alice told bob alone")
    real = w.post(w.ga, "what alice said to everyone")
    _show_instead(w, real, forged)
    w.gb.sync()
    w.ga.checkpoint()
    report = w.gb.sync()
    [alarm] = [a for a in report.alarms if a.check == "checkpoint"]
    assert isinstance(alarm.error(), errors.EquivocationError)
    assert "differs from the checkpoint" in alarm.text
    assert any("differs" in p for p in w.gb.verify().problems)


def test_a_retraction_naming_an_entry_nobody_holds_does_not_stop_the_sync(world: World) -> None:
    w = world
    kept = w.post(w.ga, "stays")
    w.gb.sync()
    missing = os.urandom(16)
    state, keys = w.ga.state, w.ga._load().keyring
    head = w.ga._load().tracker.head(w.alice._secrets.device.id)
    assert head is not None
    retraction = crypto.seal_entry(
        device=w.alice._secrets.device,
        epoch_key=keys.key(state.epoch),
        group=state.group_id,
        epoch=state.epoch,
        seq=head.seq + 1,
        prev=head.link,
        log_seq=state.seq,
        log_head=state.head,
        body=b"withdrawing something",
        retracts=[missing],
    )
    item = {"cursor": 10**6, "entry_id": retraction.entry.header.entry_id, "entry": retraction.data}

    def add(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["entries"].append(item)
        return page

    w.tamper.on("GET", "/entries", add)
    report = w.gb.sync()
    assert report.alarms == ()
    assert w.gb.get(kept).body == b"stays"
    assert b"withdrawing something" in [i.body for i in w.gb.entries()]


# --- a server that refuses --------------------------------------------------------------------


def _refuse_log(w: World, code: str) -> None:
    def refuse(request: httpx.Request, resp: httpx.Response) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/log"):
            return httpx.Response(403, json={"code": code, "detail": "refused"})
        return resp

    w.tamper.raw_hooks.append(refuse)


def test_a_member_the_server_calls_no_member_is_told_so_in_words(world: World) -> None:
    w = world
    _refuse_log(w, "not_a_member")
    with pytest.raises(errors.NotAMember):
        w.gb.sync()


def test_a_member_refused_the_log_for_another_reason_gets_that_refusal(world: World) -> None:
    w = world
    _refuse_log(w, "forbidden")
    with pytest.raises(errors.Forbidden):
        w.gb.sync()


def test_a_joiner_whose_invite_was_revoked_before_approval_is_told_so(person: Person) -> None:
    """The invite stops working while its request waits: the joiner's next sync says the
    invite is no longer usable (not a generic refusal), and what to do."""
    dana, jo = person("Dana"), person("Jo")
    [gd] = form_group(dana)
    gj = jo.join(gd.invite().link)
    [invite] = gd.invites()
    gd.revoke_invite(invite.id)
    with pytest.raises(errors.NotAMember, match="no longer usable") as err:
        gj.sync()
    assert "new invite" in (err.value.hint or "")


def test_a_joiner_refused_the_invitee_read_for_another_reason_gets_that_refusal(
    person: Person, tamper: Tamper, tampered_http: httpx.Client
) -> None:
    dana, jo = person("Dana"), person("Jo", http=tampered_http)
    [gd] = form_group(dana)
    gj = jo.join(gd.invite().link)
    asked: list[int] = []

    def refuse_second(request: httpx.Request, resp: httpx.Response) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/log"):
            asked.append(1)
            if len(asked) > 1:  # the member read is refused as usual, then the invitee read
                return httpx.Response(403, json={"code": "forbidden", "detail": "refused"})
        return resp

    tamper.raw_hooks.append(refuse_second)
    with pytest.raises(errors.Forbidden):
        gj.sync()
    assert len(asked) == 2


def test_joining_a_group_this_home_already_holds_is_refused_in_words(person: Person) -> None:
    dana, sam = person("Dana"), person("Sam")
    gd, _ = form_group(dana, sam)
    with pytest.raises(errors.UsageError, match="already holds that group"):
        sam.join(gd.invite().link)
    assert all(r.member != sam.member_id for r in gd.join_requests())


def test_a_joiner_does_not_answer_an_invite_the_log_shows_as_expired(person: Person) -> None:
    """The joiner judges the invite by the verified log and their own clock: a server still
    serving an expired invite's group gets no join request for it."""
    dana = person("Dana")
    jo = person("Jo", clock=lambda: time.time() + 400 * 86400)
    [gd] = form_group(dana)
    code = gd.invite().link
    with pytest.raises(errors.UsageError, match="used, revoked or has expired"):
        jo.join(code)
    assert gd.join_requests() == []


def test_a_made_up_genesis_served_to_a_joiner_is_named_a_substituted_group(
    person: Person, tamper: Tamper, tampered_http: httpx.Client
) -> None:
    """Whatever the server puts first in the invitee's log, a genesis that does not hash to
    the group the server named is a substituted group (and the next group it named, if any,
    is tried), not a damaged op of this one."""
    dana, jo = person("Dana"), person("Jo", http=tampered_http)
    [gd] = form_group(dana)

    def made_up(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page.update(ops=[b"\x92\xa7genesis\xc4\x20" + bytes(32)], seq=0, more=False)
        return page

    tamper.on("GET", "/log", made_up)
    with pytest.raises(errors.ForkError, match="does not match the invite"):
        jo.join(gd.invite().link)
    assert jo.groups() == []


def test_a_forged_op_in_the_log_served_to_a_joiner_is_refused_as_forged(
    person: Person, tamper: Tamper, tampered_http: httpx.Client
) -> None:
    """The joiner verifies the invitee's log op by op: a signature broken in its last op is
    named as a forged op, and nothing is asked or stored (not a stale invite, not a join)."""
    dana, jo = person("Dana"), person("Jo", http=tampered_http)
    [gd] = form_group(dana)

    def forged(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        if page["ops"]:
            last = bytearray(page["ops"][-1])
            last[-1] ^= 1
            page["ops"][-1] = bytes(last)
        return page

    tamper.on("GET", "/log", forged)
    with pytest.raises(errors.ForgedOpError):
        jo.join(gd.invite().link)
    assert jo.groups() == []
    assert gd.join_requests() == []


def test_an_empty_log_served_to_a_joiner_is_named_a_substituted_group(
    person: Person, tamper: Tamper, tampered_http: httpx.Client
) -> None:
    dana, jo = person("Dana"), person("Jo", http=tampered_http)
    [gd] = form_group(dana)

    def empty(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page.update(ops=[], more=False)
        return page

    tamper.on("GET", "/log", empty)
    with pytest.raises(errors.ForkError, match="does not match the invite"):
        jo.join(gd.invite().link)


# --- what a log page says about itself --------------------------------------------------------


def test_a_log_page_claiming_more_ops_than_it_sends_is_a_withholding_alarm(world: World) -> None:
    w = world
    w.ga.checkpoint()
    w.ga.checkpoint()
    total = w.ga.state.seq

    def drop_last(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["ops"] = page["ops"][:-1]  # the page still says the log reaches `total`
        return page

    w.tamper.on("GET", "/log", drop_last)
    report = w.gb.sync()
    [alarm] = [a for a in report.alarms if a.check == "withheld_op"]
    assert isinstance(alarm.error(), errors.WithheldError)
    assert f"reaches op {total}" in alarm.text
    assert w.gb.state.seq == total - 1  # what did verify is kept
    w.tamper.clear()
    assert not [a for a in w.gb.sync().alarms if a.check == "withheld_op"]


def test_a_log_page_whose_head_is_not_its_last_op_is_refused(world: World) -> None:
    w = world
    w.ga.checkpoint()
    seq = w.gb.state.seq

    def wrong_head(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["head"] = os.urandom(32)
        return page

    w.tamper.on("GET", "/log", wrong_head)
    with pytest.raises(errors.BadResponse, match="log head does not match"):
        w.gb.sync()
    assert w.gb.state.seq == seq


def test_a_removed_member_is_not_alarmed_when_the_server_stops_serving_their_lockboxes(
    world: World,
) -> None:
    """Bob misses a rotation he was in, then is removed: the server owes a departed device
    nothing more, so an empty lockbox answer is no withholding alarm."""
    w = world
    w.ga.rotate()
    w.ga.remove(w.bob.member_id)

    def nothing(request: httpx.Request, resp: httpx.Response) -> httpx.Response:
        if request.url.path.endswith("/lockboxes"):
            return httpx.Response(
                200,
                content=msgspec.msgpack.encode({"lockboxes": []}),
                headers={"content-type": "application/msgpack"},
            )
        return resp

    w.tamper.raw_hooks.append(nothing)
    report = w.gb.sync()
    assert report.status == "removed"
    assert not [a for a in report.alarms if a.check == "lockbox_withheld"]


def test_an_entry_a_page_lists_below_the_cursor_it_reached_is_not_taken(world: World) -> None:
    """The server's order is the only order a page has: an item listed after one with a
    later cursor is skipped (never re-verified, never stored out of turn), and what it leaves
    missing shows as a gap."""
    w = world
    w.post(w.ga, "one")
    w.post(w.ga, "two")

    def reverse(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["entries"] = page["entries"][::-1]
        return page

    w.tamper.on("GET", "/entries", reverse)
    report = w.gb.sync()
    assert [a.check for a in report.alarms] == ["gap"]
    assert [i.body for i in w.gb.entries()] == []


def test_an_entry_written_after_a_log_op_not_yet_shown_waits_for_it(world: World) -> None:
    """The server hides a rotation from Bob but serves an entry sealed after it: the entry
    waits (it may verify once the op arrives) instead of being judged, and is taken then."""
    w = world
    seq = w.gb.state.seq
    w.ga.rotate()
    w.post(w.ga, "sealed under the epoch bob was not shown")

    def hide_rotation(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["ops"] = [op for op in page["ops"] if crypto.decode_signed_op(op).op.seq <= seq]
        page["seq"] = seq
        page["head"] = crypto.op_hash(page["ops"][-1])
        return page

    w.tamper.on("GET", "/log", hide_rotation)
    [alarm] = [a for a in w.gb.sync().alarms if a.check == "log_head"]
    assert alarm.waiting
    w.tamper.clear()
    assert w.gb.sync().alarms == ()
    assert [i.body for i in w.gb.entries()][-1] == b"sealed under the epoch bob was not shown"


# --- the server's acknowledgement of this device's own write -------------------------------------
# A write is stored as sent only if it still verifies against what this home holds when the
# server's answer comes. Bob's other session (a second window on the same home) moves the store
# on while his write is on its way; the server then claims to have taken a write it refused.


def _other_session(w: World, http: httpx.Client) -> Group:
    """Bob's home opened a second time, as another process would: its own store handle and
    caches (the outbox is the home's), talking to the server directly."""
    bob2 = Account(w.bob.home, w.bob._secrets, http=http)
    return bob2.group(w.gb.id)


def _acknowledge_refused_posts(w: World) -> None:
    """The server answers a refused post of a single entry as if it had stored it."""

    def claim_taken(request: httpx.Request, resp: httpx.Response) -> httpx.Response:
        if request.method != "POST" or not request.url.path.endswith("/entries"):
            return resp
        if resp.status_code < 400:
            return resp
        data = base64.urlsafe_b64decode(msgspec.json.decode(request.content)["entry"] + "==")
        ack = {"entry_id": crypto.decode_entry(data).header.entry_id, "cursor": 10**6}
        return httpx.Response(
            201,
            content=msgspec.msgpack.encode(ack),
            headers={"content-type": "application/msgpack"},
        )

    w.tamper.raw_hooks.append(claim_taken)


def test_a_write_acknowledged_at_a_place_the_members_other_session_filled_is_not_stored(
    world: World, server: httpx.Client
) -> None:
    w = world
    w.post(w.gb, "bob's first")
    other = _other_session(w, server)
    w.tamper.race("POST", "/entries", lambda: other.post(b"from bob's other window"))
    _acknowledge_refused_posts(w)
    with pytest.raises(errors.EquivocationError):
        w.post(w.gb, "from bob's first window")
    # The other window sent the queued write too (the outbox is the home's), sealed anew at
    # the same place: that copy is the one kept, and the write is held once.
    bodies = [b"bob's first", b"from bob's first window", b"from bob's other window"]
    assert [i.body for i in w.gb.entries()] == bodies
    w.tamper.clear()
    w.gb.sync()
    assert [i.body for i in w.gb.entries()] == bodies
    assert w.gb.verify().ok


def test_a_write_acknowledged_after_the_member_was_removed_is_not_stored(
    world: World, server: httpx.Client
) -> None:
    """Alice removes Bob while his write is on its way, and his other session takes the
    removal in; the server still claims to have taken the write. It would be an entry after
    the last one the removal recorded for him: it is refused, and not stored."""
    w = world
    w.post(w.gb, "bob's first")
    other = _other_session(w, server)

    def removed_meanwhile() -> None:
        w.ga.remove(w.bob.member_id)
        other.sync()

    w.tamper.race("POST", "/entries", removed_meanwhile)
    _acknowledge_refused_posts(w)
    with pytest.raises(errors.VerificationError) as err:
        w.post(w.gb, "written as bob was removed")
    assert err.value.check == "departed"
    assert [i.body for i in w.gb.entries()] == [b"bob's first"]
    assert w.gb.verify().ok


# --- a departed member's entries, held back until their chain is whole ---------------------------


def test_a_departed_members_entries_served_before_their_last_are_kept_until_it_comes(
    world: World,
) -> None:
    """Carol is removed after three entries; the server serves Bob her first two (on both of
    his reads in that sync) but not the third, and from then on the third alone. Bob stores
    none of them until the chain reaches the last head the removal recorded, but keeps the
    two he was given, as waiting alarms, and shows all three once the third comes."""
    w = world
    one = w.post(w.gc, "carol one")
    two = w.post(w.gc, "carol two")
    three = w.post(w.gc, "carol three")
    w.ga.remove(w.carol.member_id)
    hidden = {three}

    def withhold(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["entries"] = [i for i in page["entries"] if i["entry_id"].hex() not in hidden]
        return page

    w.tamper.on("GET", "/entries", withhold)
    report = w.gb.sync()
    waiting = sorted(a.record for a in report.alarms if a.check == "departed")
    assert waiting == sorted([f"entry {one}", f"entry {two}"])
    assert all(a.waiting for a in report.alarms if a.check == "departed")
    assert b"carol one" not in [i.body for i in w.gb.entries()]
    hidden.clear()
    hidden.update({one, two})
    report = w.gb.sync()
    assert report.alarms == ()
    assert [i.body for i in w.gb.entries()][-3:] == [b"carol one", b"carol two", b"carol three"]
    assert w.gb.verify().ok


def test_a_retraction_of_a_departed_members_held_entry_waits_with_the_chain(world: World) -> None:
    """Alice retracts Carol's first entry, then removes her; the server withholds Carol's
    last entry. Alice's retraction verifies, but the entry it names is still held back with
    Carol's chain: nothing breaks, and when the chain is whole the entry is taken as retracted."""
    w = world
    one = w.post(w.gc, "carol one")
    w.post(w.gc, "carol two")
    three = w.post(w.gc, "carol three")
    w.ga.sync()
    w.ga.post(b"moderation", retracts=[one])
    w.ga.remove(w.carol.member_id)

    def withhold(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["entries"] = [i for i in page["entries"] if i["entry_id"].hex() != three]
        return page

    w.tamper.on("GET", "/entries", withhold)
    report = w.gb.sync()
    assert {a.check for a in report.alarms} == {"checkpoint", "departed", "retraction_missing"}
    assert b"carol two" not in [i.body for i in w.gb.entries()]
    w.tamper.clear()
    report = w.gb.sync()
    assert report.alarms == ()
    assert [i.body for i in w.gb.entries()][-3:] == [b"carol two", b"carol three", b"moderation"]
    with pytest.raises(errors.NotFound, match="retracted"):
        w.gb.get(one)
    assert w.gb.verify().ok


# --- records that are not what they claim ------------------------------------------------------


def _serve_also(w: World, *items: dict[str, Any]) -> None:
    def add(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        if not page["more"]:
            page["entries"].extend(items)
        return page

    w.tamper.on("GET", "/entries", add)


def _alices_next(
    w: World, body: bytes, *, prev: bytes, seq: int | None = None
) -> crypto.SealedEntry:
    """An entry Alice's device really signs as the next of her chain (or at `seq`), linking
    to `prev`."""
    snap = w.ga._load()
    head = snap.tracker.head(w.alice._secrets.device.id)
    assert head is not None
    return crypto.seal_entry(
        device=w.alice._secrets.device,
        epoch_key=snap.keyring.key(snap.state.epoch),
        group=snap.state.group_id,
        epoch=snap.state.epoch,
        seq=head.seq + 1 if seq is None else seq,
        prev=prev,
        log_seq=snap.state.seq,
        log_head=snap.state.head,
        body=body,
    )


def test_an_item_with_neither_entry_nor_stub_is_an_alarm_and_stops_nothing_else(
    world: World,
) -> None:
    w = world
    w.post(w.ga, "before")
    empty = {"cursor": 10**6, "entry_id": os.urandom(16), "entry": None, "stub": None}
    _serve_also(w, empty)
    report = w.gb.sync()
    [alarm] = report.alarms
    assert alarm.check == "encoding"
    assert not alarm.waiting
    assert isinstance(alarm.error(), errors.TamperedEntryError)
    w.post(w.ga, "after")
    w.gb.sync()
    assert [i.body for i in w.gb.entries()] == [b"before", b"after"]


def test_an_entry_that_does_not_link_to_its_predecessor_is_an_alarm_and_the_sync_goes_on(
    world: World,
) -> None:
    """Alice's device signs an entry whose back-link names no entry of hers (a device that
    forks its own chain): it is a chain alarm, not taken, and her real entries still are."""
    w = world
    w.post(w.ga, "first")
    forked = _alices_next(w, b"linked to nothing", prev=os.urandom(32))
    w.canaries.append(b"linked to nothing")
    _serve_also(
        w, {"cursor": 10**6, "entry_id": forked.entry.header.entry_id, "entry": forked.data}
    )
    report = w.gb.sync()
    [alarm] = report.alarms
    assert alarm.check == "chain"
    assert not alarm.waiting
    assert [i.body for i in w.gb.entries()] == [b"first"]
    w.tamper.clear()
    w.post(w.gc, "carol, after it")
    w.gb.sync()
    assert [i.body for i in w.gb.entries()] == [b"first", b"carol, after it"]


def test_an_entry_that_arrives_before_its_predecessor_waits_and_is_taken_in_the_same_sync(
    world: World,
) -> None:
    """The server lists Alice's second entry before her first (it orders the page): the
    second waits for the first and is taken as soon as it comes, in the same sync."""
    w = world
    w.post(w.ga, "one")
    w.post(w.ga, "two")

    def swap(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        a, b = page["entries"][:2]
        page["entries"][:2] = [b | {"cursor": a["cursor"]}, a | {"cursor": b["cursor"]}]
        return page

    w.tamper.on("GET", "/entries", swap)
    report = w.gb.sync()
    assert report.alarms == ()
    assert [i.body for i in w.gb.entries()] == [b"two", b"one"]  # in the server's order
    assert w.gb.verify().ok


def test_an_entry_whose_predecessor_never_comes_waits_for_it(world: World) -> None:
    w = world
    first = w.post(w.ga, "one")
    w.post(w.ga, "two")

    def withhold(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["entries"] = [i for i in page["entries"] if i["entry_id"].hex() != first]
        return page

    w.tamper.on("GET", "/entries", withhold)
    [alarm] = w.gb.sync().alarms
    assert alarm.check == "gap"
    assert alarm.waiting
    w.tamper.clear()
    # The page cursor is past the first entry now: the next checkpoint, which lists the
    # whole chain, makes Bob read everything again, and the chain is whole.
    w.ga.checkpoint()
    assert w.gb.sync().alarms == ()
    assert [i.body for i in w.gb.entries()] == [b"one", b"two"]


def test_an_entry_shown_without_its_text_and_naming_no_retraction_does_not_wait(
    world: World,
) -> None:
    """Nothing could come that justifies a deletion no retraction is named for: the alarm
    says so and does not wait."""
    w = world
    eid = w.post(w.ga, "kept")
    [item] = [
        i for i in w.ga._api().entries(w.ga.id_bytes, 0, 500).entries if i.entry_id.hex() == eid
    ]
    assert item.entry is not None
    stub = crypto.encode(crypto.stub_of(crypto.decode_entry(item.entry)))

    def strip(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        for i in page["entries"]:
            if i["entry_id"].hex() == eid:
                i.update(entry=None, stub=stub, retracted_by=None)
        return page

    w.tamper.on("GET", "/entries", strip)
    [alarm] = w.gb.sync().alarms
    assert alarm.check == "retraction_missing"
    assert not alarm.waiting
    assert "names no retraction" in alarm.text
    assert isinstance(alarm.error(), errors.FakeDeletionError)


def test_a_second_retraction_of_a_retracted_entry_changes_nothing(world: World) -> None:
    """Carol retracts her own entry, then Alice (a leader) retracts it too. The server shows
    Bob the entry's deletion first, naming Alice's retraction: Carol's, which Bob takes
    first, stays the one recorded, and Bob is told of no retraction by Alice."""
    w = world
    eid = w.post(w.gc, "carol's, soon withdrawn")
    w.gb.sync()
    w.ga.sync()
    w.gc.post(b"withdrawn by its author", retracts=[eid])
    alices = bytes.fromhex(w.ga.post(b"withdrawn by a leader too", retracts=[eid]))
    page = w.gc._api().entries(w.gc.id_bytes, 0, 500).entries
    [item] = [i for i in page if i.entry_id.hex() == eid]
    assert item.stub is not None
    assert item.retracted_by is not None
    carols = item.retracted_by
    deletion = {"entry_id": item.entry_id, "entry": None, "stub": item.stub}

    def deletion_first(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        items = page["entries"]
        if items:
            first = deletion | {"cursor": items[0]["cursor"], "retracted_by": alices}
            page["entries"] = [first, *(i | {"cursor": i["cursor"] + 1} for i in items)]
        return page

    w.tamper.on("GET", "/entries", deletion_first)
    report = w.gb.sync()
    assert report.alarms == ()
    assert not [a for a in report.announcements if a.kind == "retract"]
    row = w.gb._store.entry(w.gb._gid, bytes.fromhex(eid))
    assert row is not None
    assert row.ct is None
    assert row.retracted_by == carols


# --- quarantined records, asked for again -------------------------------------------------------


def test_a_bad_record_the_server_no_longer_serves_stops_being_an_alarm(world: World) -> None:
    w = world
    junk = {"cursor": 10**6, "entry_id": os.urandom(16), "entry": os.urandom(200)}
    _serve_also(w, junk)
    [alarm] = w.gb.sync().alarms
    assert not alarm.waiting
    w.tamper.clear()
    assert w.gb.sync().alarms == ()


def test_a_damaged_entry_the_server_later_serves_intact_is_taken(world: World) -> None:
    w = world
    eid = w.post(w.ga, "damaged on the way, then whole")

    def damage(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        for i in page["entries"]:
            if i["entry_id"].hex() == eid:
                i["entry"] = i["entry"][:-1] + bytes([i["entry"][-1] ^ 1])
        return page

    w.tamper.on("GET", "/entries", damage)
    [alarm] = w.gb.sync().alarms
    assert not alarm.waiting
    assert [i.body for i in w.gb.entries()] == []
    w.tamper.clear()
    assert w.gb.sync().alarms == ()
    assert [i.body for i in w.gb.entries()] == [b"damaged on the way, then whole"]


# --- deletions judged later --------------------------------------------------------------------


def _index(w: World, eid: str) -> Any:
    [ref] = [r for r in w.gb.entry_index() if r.id == eid]
    return ref


def test_a_deletion_whose_retraction_comes_a_sync_later_is_then_a_retraction(
    world: World,
) -> None:
    """The server shows Bob Alice's entry already deleted, but holds back her retraction for
    a sync: the deletion waits, unexplained, and is a retraction once the entry comes."""
    w = world
    eid = w.post(w.ga, "soon withdrawn")
    withdrawal = w.ga.post(b"withdrawing it", retracts=[eid])

    def hold_back(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["entries"] = [i for i in page["entries"] if i["entry_id"].hex() != withdrawal]
        return page

    w.tamper.on("GET", "/entries", hold_back)
    [alarm] = w.gb.sync().alarms
    assert alarm.check == "retraction_missing"
    assert alarm.waiting
    assert not _index(w, eid).retracted
    w.tamper.clear()
    assert w.gb.sync().alarms == ()
    assert _index(w, eid).retracted
    assert w.gb.verify().ok


def test_an_entry_retracted_in_the_sync_that_brings_it_counts_as_retracted_not_new(
    world: World,
) -> None:
    """Whether the server had deleted the ciphertext yet or not, an entry and its retraction
    taken in one sync count the same: one new entry (the retraction), one retracted."""
    w = world
    eid = w.post(w.ga, "soon withdrawn")
    [whole] = [
        i for i in w.ga._api().entries(w.ga.id_bytes, 0, 500).entries if i.entry_id.hex() == eid
    ]
    w.ga.post(b"withdrawing it", retracts=[eid])

    def still_whole(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        for i in page["entries"]:
            if i["entry_id"].hex() == eid:
                i.update(entry=whole.entry, stub=None, retracted_by=None)
        return page

    w.tamper.on("GET", "/entries", still_whole)
    report = w.gb.sync()
    assert report.alarms == ()
    assert (report.new_entries, report.retracted) == (1, 1)
    assert _index(w, eid).retracted
    assert w.gb.verify().ok
    # As an honest server shows it (the ciphertext already gone): the same counts.
    carol = w.gc.sync()
    assert (carol.new_entries, carol.retracted) == (1, 1)


def test_a_joiner_refused_the_log_for_a_reason_other_than_not_yet_a_member_gets_that_refusal(
    person: Person, tamper: Tamper, tampered_http: httpx.Client
) -> None:
    """Only 'not a member yet' sends a joiner to read as the invitee: any other refusal of
    the member read is the answer, and the invite's key is not tried."""
    dana, jo = person("Dana"), person("Jo", http=tampered_http)
    [gd] = form_group(dana)
    gj = jo.join(gd.invite().link)
    asked: list[int] = []

    def refuse(request: httpx.Request, resp: httpx.Response) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/log"):
            asked.append(1)
            return httpx.Response(403, json={"code": "forbidden", "detail": "refused"})
        return resp

    tamper.raw_hooks.append(refuse)
    with pytest.raises(errors.Forbidden):
        gj.sync()
    assert len(asked) == 1


def test_verify_counts_what_was_written_before_a_newcomer_joined_as_unreadable(
    person: Person,
) -> None:
    dana, jo = person("Dana"), person("Jo")
    [gd] = form_group(dana)
    gd.post(b"before jo")
    gd.post(b"also before jo")
    [gj] = admit(gd, jo)
    gd.post(b"after jo")
    gj.sync()
    report = gj.verify()
    assert report.ok
    assert (report.entries, report.unreadable) == (3, 2)
    assert [i.body for i in gj.entries()] == [b"after jo"]


def test_a_log_page_sending_no_ops_at_all_is_a_rollback_alarm(world: World) -> None:
    """The page names the log's real length but leaves out every op, even the newest one Bob
    already verified: it cannot show that log, so Bob is told the server went back."""
    w = world
    seq = w.gb.state.seq

    def nothing(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["ops"] = []
        return page

    w.tamper.on("GET", "/log", nothing)
    [alarm] = [a for a in w.gb.sync().alarms if a.check == "rollback"]
    assert isinstance(alarm.error(), errors.RollbackError)
    assert w.gb.state.seq == seq


def test_a_log_page_claiming_a_log_shorter_than_the_one_verified_is_a_rollback_alarm(
    world: World,
) -> None:
    """The ops are all there, but the page says the log ends before the op Bob holds."""
    w = world
    seq = w.gb.state.seq
    w.ga.checkpoint()

    def shorter(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["seq"] = seq - 1
        return page

    w.tamper.on("GET", "/log", shorter)
    [alarm] = [a for a in w.gb.sync().alarms if a.check == "rollback"]
    assert isinstance(alarm.error(), errors.RollbackError)
    assert w.gb.state.seq == seq


def test_a_log_page_claiming_fewer_ops_than_it_sends_is_refused(world: World) -> None:
    w = world
    seq = w.gb.state.seq
    w.ga.checkpoint()
    w.ga.checkpoint()

    def one_less(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["seq"] -= 1
        return page

    w.tamper.on("GET", "/log", one_less)
    with pytest.raises(errors.BadResponse, match="log head does not match"):
        w.gb.sync()
    assert w.gb.state.seq == seq


def test_an_entry_listed_at_the_cursor_of_the_one_before_it_is_not_taken(world: World) -> None:
    """Two items at one place in the server's order: the second is skipped (the server's
    page is malformed), and comes at its own place once the server lists it properly."""
    w = world
    w.post(w.ga, "one")
    w.post(w.ga, "two")

    def same_place(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        items = page["entries"]
        if len(items) >= 2:
            items[1]["cursor"] = items[0]["cursor"]
            page["entries"] = items[:2]
            page["more"] = False
        return page

    w.tamper.on("GET", "/entries", same_place)
    w.gb.sync()
    assert [i.body for i in w.gb.entries()] == [b"one"]
    w.tamper.clear()
    w.gb.sync()
    assert [i.body for i in w.gb.entries()] == [b"one", b"two"]


# --- what waits for a log op, and what does not -------------------------------------------------


def _serve_sealed(w: World, sealed: crypto.SealedEntry) -> None:
    _serve_also(
        w, {"cursor": 10**6, "entry_id": sealed.entry.header.entry_id, "entry": sealed.data}
    )


def test_a_strangers_entry_claiming_a_log_op_not_yet_shown_is_refused_not_left_waiting(
    world: World,
) -> None:
    """Only an entry whose one fault is a log op Bob has not seen may wait for it: one
    signed by a device no member ever had is refused at once, whatever head it claims."""
    w = world
    state = w.ga.state
    stranger = crypto.Secrets.generate(created=int(time.time()))
    sealed = crypto.seal_entry(
        device=stranger.device,
        epoch_key=w.ga._load().keyring.key(state.epoch),
        group=state.group_id,
        epoch=state.epoch,
        seq=1,
        prev=bytes(32),
        log_seq=state.seq + 5,
        log_head=os.urandom(32),
        body=b"from outside",
    )
    w.canaries.append(b"from outside")
    _serve_sealed(w, sealed)
    [alarm] = w.gb.sync().alarms
    assert alarm.check == "author"
    assert not alarm.waiting


def test_an_entry_claiming_a_head_the_verified_log_does_not_have_is_refused_not_left_waiting(
    world: World,
) -> None:
    """Alice's device signs an entry claiming a made-up head at a log position Bob has
    verified: no op to come can make it verify, so it does not wait."""
    w = world
    state = w.ga.state
    head = w.ga._load().tracker.head(w.alice._secrets.device.id)
    sealed = crypto.seal_entry(
        device=w.alice._secrets.device,
        epoch_key=w.ga._load().keyring.key(state.epoch),
        group=state.group_id,
        epoch=state.epoch,
        seq=head.seq + 1 if head else 1,
        prev=head.link if head else bytes(32),
        log_seq=state.seq,
        log_head=os.urandom(32),
        body=b"under a made-up head",
    )
    w.canaries.append(b"under a made-up head")
    _serve_sealed(w, sealed)
    [alarm] = w.gb.sync().alarms
    assert alarm.check == "log_head"
    assert not alarm.waiting


def test_an_entry_served_whole_after_the_retraction_naming_it_is_deleted_when_its_deletion_shows(
    world: World,
) -> None:
    """Alice (a leader) retracts Carol's entry. The server lists the retraction first and
    then the entry with its ciphertext, which it kept; when it shows the entry's deletion,
    Bob judges it against the retraction he holds, and deletes his copy."""
    w = world
    eid = w.post(w.gc, "carol's, withdrawn by a leader")
    w.ga.sync()
    [whole] = [
        i for i in w.ga._api().entries(w.ga.id_bytes, 0, 500).entries if i.entry_id.hex() == eid
    ]
    w.ga.post(b"moderation", retracts=[eid])
    page = w.ga._api().entries(w.ga.id_bytes, 0, 500).entries
    [deleted] = [i for i in page if i.entry_id.hex() == eid]
    assert deleted.retracted_by is not None

    def retraction_first(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        items = page["entries"]
        if len(items) == 2:
            entry, retraction = items
            page["entries"] = [
                retraction | {"cursor": entry["cursor"]},
                entry | {"cursor": retraction["cursor"], "entry": whole.entry, "stub": None},
            ]
        return page

    w.tamper.on("GET", "/entries", retraction_first)
    w.gb.sync()
    w.tamper.clear()
    stub = {"entry_id": deleted.entry_id, "entry": None, "stub": deleted.stub}
    _serve_also(w, stub | {"cursor": 10**6, "retracted_by": deleted.retracted_by})
    assert w.gb.sync().alarms == ()
    with pytest.raises(errors.NotFound, match="retracted"):
        w.gb.get(eid)
    assert _index(w, eid).retracted


def test_an_entry_already_retracted_raises_no_alarm_when_shown_deleted_by_another_retraction(
    world: World,
) -> None:
    """Bob holds Alice's entry as retracted, by her retraction he holds. The server then
    shows its deletion naming some other retraction: the entry is settled, nothing waits."""
    w = world
    eid = w.post(w.ga, "withdrawn")
    w.ga.post(b"withdrawing it", retracts=[eid])
    w.gb.sync()
    assert _index(w, eid).retracted
    page = w.ga._api().entries(w.ga.id_bytes, 0, 500).entries
    [deleted] = [i for i in page if i.entry_id.hex() == eid]
    _serve_also(
        w,
        {
            "cursor": 10**6,
            "entry_id": deleted.entry_id,
            "entry": None,
            "stub": deleted.stub,
            "retracted_by": os.urandom(16),
        },
    )
    assert w.gb.sync().alarms == ()
    assert _index(w, eid).retracted


def test_a_retraction_that_arrives_in_the_rescan_deletes_an_entry_taken_earlier_in_the_sync(
    world: World,
) -> None:
    """The server's first answer holds Alice's entry whole and leaves out her retraction of
    it; the checkpoint that lists the retraction makes Bob read everything again in the same
    sync, and the retraction then deletes the entry he has just stored."""
    w = world
    w.post(w.ga, "before")
    w.gb.sync()  # Bob's first read now starts after this entry; the rescan from the start
    eid = w.post(w.ga, "soon withdrawn")
    [whole] = [
        i for i in w.ga._api().entries(w.ga.id_bytes, 0, 500).entries if i.entry_id.hex() == eid
    ]
    withdrawal = w.ga.post(b"withdrawing it", retracts=[eid])
    w.ga.checkpoint()

    def first_read_only(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        if request.url.params.get("after") != "0":
            page["entries"] = [
                i | {"entry": whole.entry, "stub": None, "retracted_by": None}
                if i["entry_id"].hex() == eid
                else i
                for i in page["entries"]
                if i["entry_id"].hex() != withdrawal
            ]
        return page

    w.tamper.on("GET", "/entries", first_read_only)
    assert w.gb.sync().alarms == ()
    assert _index(w, eid).retracted
    assert [i.body for i in w.gb.entries()] == [b"before", b"withdrawing it"]
    assert w.gb.verify().ok


def test_a_joiner_reads_a_log_the_server_sends_one_op_per_page(
    person: Person, tamper: Tamper, tampered_http: httpx.Client
) -> None:
    """Only the log's first op is the genesis: the pages after the first start elsewhere."""
    dana, jo = person("Dana"), person("Jo", http=tampered_http)
    [gd] = form_group(dana)
    gd.checkpoint()

    def one_per_page(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        if len(page["ops"]) > 1:
            page.update(ops=page["ops"][:1], more=True)
        return page

    tamper.on("GET", "/log", one_per_page)
    gj = jo.join(gd.invite().link)
    assert [r.member for r in gd.join_requests()] == [jo.member_id]
    assert gj.state.seq == gd.state.seq


def test_an_entry_listed_twice_before_its_predecessor_is_taken_once(world: World) -> None:
    w = world
    w.post(w.ga, "one")
    w.post(w.ga, "two")

    def twice_first(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        items = page["entries"]
        if len(items) == 2:
            one, two = items
            c = one["cursor"]
            page["entries"] = [
                two | {"cursor": c},
                two | {"cursor": c + 1},
                one | {"cursor": c + 2},
            ]
        return page

    w.tamper.on("GET", "/entries", twice_first)
    assert w.gb.sync().alarms == ()
    assert [i.body for i in w.gb.entries()] == [b"two", b"one"]
    assert w.gb.verify().ok


def test_a_joiner_served_the_log_only_up_to_before_the_invite_is_refused(
    person: Person, tamper: Tamper, tampered_http: httpx.Client
) -> None:
    """The right group, cut before the op that made the invite: nothing in it vouches for the
    invite's key, so the joiner cannot tell it from a group the code was never for."""
    dana, jo = person("Dana"), person("Jo", http=tampered_http)
    [gd] = form_group(dana)
    seq = gd.state.seq

    def cut(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["ops"] = [op for op in page["ops"] if crypto.decode_signed_op(op).op.seq <= seq]
        page.update(seq=seq, head=crypto.op_hash(page["ops"][-1]), more=False)
        return page

    tamper.on("GET", "/log", cut)
    code = gd.invite().link
    with pytest.raises(errors.ForkError, match="does not match the invite"):
        jo.join(code)
    assert gd.join_requests() == []
