"""Changing servers: point this copy of a group at another server, and publish it there.

A group is its signed log, not its server. A member's client accepts another server for
a group only if that server's log and this device's verified log agree wherever both
reach (the server's is a continuation of the head pinned here, or an older copy of it);
a server that serves another log (a stranger's, or a fork) is refused before anything
is stored. A server that holds nothing of the group yet is accepted only to be given
this device's copy (`heal`): that is how a leader moves a group, and how a member
brings back a server that lost its database (docs/protocol.md §14.3).
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from ... import errors as E
from ..membership.values import Announcement
from .heal import HealReport, heal, server_state
from .results import SyncReport

if TYPE_CHECKING:
    from .api import ServerApi
    from .group import Group


def use_server(
    group: Group, url: str, *, give_copy: bool = False, registration_token: str | None = None
) -> HealReport | None:
    """Point the group at the server at `url` once its log checks out (see the module
    docstring); with `give_copy`, then give it what this device verified beyond it. The
    heal's report, or None when nothing was given."""
    from .api import normalize_url

    url = normalize_url(url)
    snap = group._load()
    if snap.status == "joining":
        raise E.NotAMember("a join request waits on the server it was sent to")
    old_pin = group._store.server_pins().get(url)
    if url == group.server:
        # The same address answering with another identity (a server rebuilt from nothing,
        # or restored elsewhere): the member asks for it by name, so the old pin goes; what
        # it serves is checked below like any other server's, and the old pin comes back
        # if it does not pass.
        group._store.pin_server(url, None)
        group._store.set_server_token(url, None)
        group._account._apis.pop(url, None)
    try:
        api = group._account._api(url)
        server = server_state(api, group._gid)
        if server is None:
            if not give_copy:
                raise E.ServerNotFound(
                    f"the server at {url} holds no copy of this group",
                    hint="if it is the group's new server and empty, a leader moves the group "
                    "there with `chatham group move --server URL` (or any member gives it "
                    "this copy with `chatham group server URL --give-copy`)",
                )
        else:
            _check_continues(api, group, server.seq, server.head)
    except BaseException:
        if old_pin is not None and group._store.server_pins().get(url) != old_pin:
            group._store.pin_server(url, old_pin)
            group._store.set_server_token(url, None)
            group._account._apis.pop(url, None)
        raise
    _switch(group, url)
    if server is not None and not give_copy:
        return None
    report = heal(group, registration_token=registration_token)
    return report


def _check_continues(api: ServerApi, group: Group, seq: int, head: bytes) -> None:
    """The server's log agrees with the one verified here wherever both reach."""
    state = group._load().state
    if seq <= state.seq:
        same = hmac.compare_digest(state.op_hashes[seq], head)
    else:
        page = api.log(group._gid, state.seq - 1, limit=1)
        same = bool(page.ops) and hmac.compare_digest(
            _op_hash(page.ops[0]), state.op_hashes[state.seq]
        )
    if not same:
        raise E.ForkError(
            "that server serves another log than this group's (a stranger's server, or a "
            "fork of the group): refused, and nothing was stored",
            hint="check the address with a leader of your group; keep using the old one",
            check="fork",
        )


def _op_hash(op: bytes) -> bytes:
    from chatham import crypto

    return crypto.op_hash(op)


def _switch(group: Group, url: str) -> None:
    """Record the new server, and read its entries from the start: its cursors are its own."""
    snap = group._load()
    store = group._store
    pinned = msgspec.structs.replace(snap.pinned, cursor=0)
    with store.write() as db:
        store.claim(db, group._gid, snap.version)
        store.set_group_server(db, group._gid, url)
        version = store.pin(db, group._gid, snap.version, pinned)
    snap.version, snap.pinned = version, pinned
    group.server = url
    group._server_cursor = None
    group._server_heads = None


def follow(group: Group, report: SyncReport, again: Callable[[], SyncReport]) -> SyncReport:
    """After a sync that verified a leader's move (a signed `move` op) to another server:
    switch to it once its log checks out (`use_server`), and sync there (`again`). If it
    cannot be used yet, this copy stays on the old server and the member is told why."""
    target = group._load().state.server
    if target is None or not any(a.kind == "move" for a in report.announcements):
        return report
    from .api import normalize_url

    if normalize_url(target) == group.server:
        return report
    snap = group._load()
    me = group._me().hex()
    try:
        use_server(group, target)
    except (E.ServerError, E.VerificationError, E.NotAMember) as e:
        note = Announcement(
            snap.state.seq,
            "server",
            f"this device could not use the group's new server yet ({e.message}); it keeps "
            f"the old one: try `chatham group server {target}` later",
            me,
        )
        return dataclasses.replace(report, announcements=(*report.announcements, note))
    there = again()
    note = Announcement(
        snap.state.seq, "server", f"this device now uses the group's server at {target}", me
    )
    return dataclasses.replace(
        there,
        new_ops=report.new_ops + there.new_ops,
        new_entries=report.new_entries + there.new_entries,
        retracted=report.retracted + there.retracted,
        announcements=(*report.announcements, note, *there.announcements),
    )
