"""Races between members, with real clients against a real server over a socket.

A member who posts while a leader removes them used to leave an entry beyond the final
head the remove op recorded, and every member's sync failed at it for good. The server
now refuses a remove whose heads miss an accepted entry (409 stale_heads) and the
leader's client rebuilds it; no member's sync stops.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chatham import crypto
from chatham.client import Account, Group, errors
from chatham.server.testing import LiveServer, live_server

PASSPHRASE = "race test passphrase"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "server", "--rate-auth", "0") as s:
        yield s


def members(server: LiveServer, tmp_path: Path, *names: str) -> tuple[list[Account], list[Group]]:
    accounts = [Account.init(tmp_path / n, passphrase=PASSPHRASE, name=n) for n in names]
    lead = accounts[0].create_group("Forum", server.url)
    groups = [lead]
    for a in accounts[1:]:
        g = a.join(lead.invite().code)
        lead.approve(
            next(r for r in lead.join_requests() if r.member == a.member_id),
            fingerprint=a.fingerprint,
            name=a.name,
        )
        g.sync()
        groups.append(g)
    return accounts, groups


@pytest.mark.slow
def test_a_member_posting_while_a_leader_removes_them_wedges_no_one(
    server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts, (dana, sam, ana) = members(server, tmp_path, "Dana", "Sam", "Ana")
    try:
        sam.post(b"before")
        dana.sync()
        real = crypto.build_remove
        raced = []

        def build_remove(*args: Any, **kw: Any) -> Any:
            if not raced:
                raced.append(sam.post(b"posted while dana removes sam"))  # the race, made sure
            return real(*args, **kw)

        monkeypatch.setattr(crypto, "build_remove", build_remove)
        dana.remove("Sam")  # its first try pins a stale head: refused, rebuilt, sent
        monkeypatch.setattr(crypto, "build_remove", real)
        for g in (dana, ana):
            report = g.sync()
            assert report.alarms == ()
            assert [e.body for e in g.entries()] == [b"before", b"posted while dana removes sam"]
            assert g.verify().ok
        assert sam.sync().status == "removed"
        with pytest.raises(errors.NotAMember):
            sam.post(b"after the removal")
    finally:
        for a in accounts:
            a.close()


@pytest.mark.slow
def test_posts_racing_a_removal_on_threads_leave_every_sync_clean(
    server: LiveServer, tmp_path: Path
) -> None:
    accounts, (dana, sam, ana) = members(server, tmp_path, "Dana", "Sam", "Ana")
    try:
        stop = threading.Event()
        posted: list[str] = []

        def keep_posting() -> None:
            for i in range(40):  # bounded: at most 40 posts
                if stop.is_set():
                    return
                try:
                    posted.append(sam.post(b"race %d" % i))
                except errors.ChathamError:
                    return  # removed: refused from here on

        thread = threading.Thread(target=keep_posting)
        thread.start()
        try:
            dana.remove("Sam")
        finally:
            stop.set()
            thread.join(timeout=60)
        for g in (dana, ana):
            report = g.sync()
            assert report.alarms == (), report.alarms
            assert g.verify().ok
        [device] = dana.member("Sam").devices
        final = dana.state.devices[bytes.fromhex(device)].final_head
        assert final is not None
        # Every post the server accepted from Sam, and no more, and every member holds them.
        assert len(list(dana.entries())) == final.seq == len(list(ana.entries()))
    finally:
        for a in accounts:
            a.close()
