"""Freshness: a server that hides a removal from a member cannot keep them writing for long.

A server colluding with a removed member can stop showing a victim the remove op, so the victim
would keep sealing under a key the removed member holds. Op times bound how stale a view can
be (docs/protocol.md §9.1): leaders' syncs checkpoint a quiet log daily, a member whose newest
verified op is a week old is warned, and past a month their client refuses to write unless they
insist.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatham import crypto
from chatham.client import Freshness, errors
from chatham.server import Settings, create_app
from litestar.testing import TestClient

from tests.client.test_membership import Clock
from tests.support.client_fixtures import SERVER_URL, Person, form_group

DAY = 86400


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(tmp_path: Path, clock: Clock) -> Iterator[TestClient[Any]]:
    """The real server app on the same hand-moved clock as the members."""
    settings = Settings(data_dir=tmp_path / "server", open_registration=True, clock=clock)
    with TestClient(create_app(settings), base_url=SERVER_URL) as client:
        yield client


def hide_ops_after(seq: int) -> Any:
    """A /log hook: the server shows the log as it was at op `seq`, and nothing after."""

    def hook(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        page["ops"] = [op for op in page["ops"] if crypto.decode_signed_op(op).op.seq <= seq]
        page["seq"] = min(page["seq"], seq)
        if page["ops"]:
            page["head"] = crypto.op_hash(page["ops"][-1])
        page["more"] = False
        return page

    return hook


def test_a_leaders_sync_checkpoints_a_quiet_log(person: Person, clock: Clock) -> None:
    dana, sam = person("Dana", clock=clock), person("Sam", clock=clock)
    gd, gs = form_group(dana, sam)
    before = gd.state.seq
    assert not gd.sync().checkpointed  # the log is not quiet yet
    clock.now += DAY + 60
    assert not gs.sync().checkpointed  # a member's sync adds nothing
    assert gs.state.seq == before
    report = gd.sync()
    assert report.checkpointed
    assert gd.state.seq == before + 1
    assert gd.state.checkpoint is not None
    assert gd.state.checkpoint.seq == before + 1
    assert not gd.sync().checkpointed  # once a day, not once a sync
    assert gs.sync().freshness == Freshness(int(clock.now), 0, "current")


def test_a_server_hiding_a_removal_cannot_keep_a_member_writing(
    person: Person, clock: Clock, tampered_http: httpx.Client, tamper: Any
) -> None:
    dana, eve = person("Dana", clock=clock), person("Eve", clock=clock)
    sam = person("Sam", http=tampered_http, clock=clock)
    gd, _, gs = form_group(dana, eve, sam)
    hidden_from = gd.state.seq
    tamper.on("GET", "/log", hide_ops_after(hidden_from))
    gd.remove(gd.member(eve.member_id).id)  # Eve keeps the old key; the server hides this
    for _ in range(8):  # a week: Dana syncs daily, so the real log never goes quiet
        clock.now += DAY
        gd.sync()
    report = gs.sync()
    assert gs.state.seq == hidden_from
    assert report.freshness is not None
    assert report.freshness.level == "stale"
    assert report.freshness.days == 8
    assert "8 days ago" in report.freshness.words()
    for _ in range(23):
        clock.now += DAY
        gd.sync()
    queued = gs.queued
    with pytest.raises(errors.StaleView) as refused:
        gs.post(b"what Eve must not read")
    assert "31 days ago" in str(refused.value)
    assert "--anyway" in (refused.value.hint or "")
    assert gs.queued == queued  # nothing was queued
    assert b"what Eve must not read" not in [e.body for e in gs.entries()]
    # The member may insist, knowingly: the write is queued (this server, honest about
    # epochs, then refuses it under the old key; a colluding one would take it).
    with pytest.raises(errors.Conflict):
        gs.post(b"sent anyway", insist=True)
    assert gs.queued == queued + 1
    # The server stops hiding: the removal shows, the view is current again, and the queued
    # write goes out sealed under the new key.
    tamper.clear()
    report = gs.sync()
    assert report.freshness is not None
    assert report.freshness.level == "current"
    assert gs.member(eve.member_id).status == "removed"
    assert gs.queued == 0
    sent = [e for e in gs.entries() if e.body == b"sent anyway"]
    assert [e.epoch for e in sent] == [gs.epoch]


def test_a_member_whose_leaders_are_away_is_refused_only_past_the_bound(
    person: Person, clock: Clock
) -> None:
    dana, sam = person("Dana", clock=clock), person("Sam", clock=clock)
    _, gs = form_group(dana, sam)
    clock.now += 29 * DAY
    assert gs.sync().freshness.level == "stale"  # type: ignore[union-attr]
    gs.post(b"a month of quiet is still fine")
    clock.now += 2 * DAY
    with pytest.raises(errors.StaleView):
        gs.journal().new_issue(title="Hiring")
    gs.journal(insist=True).new_issue(title="Hiring")


def test_an_op_dated_in_the_future_waits_for_its_time(
    tmp_path: Path, person: Person, clock: Clock
) -> None:
    """A leader whose clock runs days ahead, through a server whose clock does too: members
    set the op aside (an alarm) until its time comes, so it lends no view a false freshness."""
    ahead = Clock()
    ahead.now = clock.now + 3 * DAY
    settings = Settings(data_dir=tmp_path / "server", open_registration=True, clock=ahead)
    with TestClient(create_app(settings), base_url=SERVER_URL) as fast:
        dana = person("Dana", http=fast, clock=clock)
        sam = person("Sam", http=fast, clock=clock)
        gd, gs = form_group(dana, sam)
        seq = gs.state.seq
        dana._clock = ahead  # type: ignore[attr-defined]
        gd.checkpoint()
        report = gs.sync()
        assert [a.check for a in report.alarms] == ["future"]
        assert gs.state.seq == seq  # the verified prefix stays; nothing after it
        clock.now += 3 * DAY
        report = gs.sync()
        assert report.alarms == ()
        assert gs.state.seq == seq + 1
