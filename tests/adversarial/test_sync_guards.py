"""Attacks on the sync engine that each one guard alone stops: disable the guard and the test
fails (`make mutation`, docs/testing.md). Bob, the victim, talks to the server through
`world.tamper`; Alice and Carol talk to it directly.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from typing import Any

import httpx
import msgspec
import pytest
from chatham import crypto
from chatham.client import errors
from chatham.client._private.local.store import EntryRow

from tests.support.client_fixtures import Person, Tamper, form_group
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
    import time

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
