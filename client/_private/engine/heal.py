"""Healing: give a server that went back to an older copy (or lost the group) what this
device verified beyond it (docs/protocol.md §14.2).

The server's state must be a prefix of this device's verified copy: its log head one of
the ops verified here, and every chain head it holds one of the entries verified here.
Then this device sends the ops after the server's head, the lockboxes it holds, and
every entry (or retraction stub) the server lacks, in the order the server first
listed them, in bulk requests the server checks as any write. Anything else (the server
holds an op or an entry this device does not) is a fork: it is reported and nothing is
sent. The group's signed records are the same whoever sends them, so a heal by any
member, or by several, converges.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from chatham import crypto

from ... import errors as E

if TYPE_CHECKING:
    from ..local.store import EntryRow
    from .alarms import Alarm
    from .api import ServerApi
    from .group import Group

PART_ENTRIES: Final = 1000
PART_BYTES: Final = 12 << 20
"""Most entries, and body bytes, one heal request carries (the server's caps: 1,000, 32 MiB)."""
PASSES: Final = 3
"""Entries refused for want of one sent in a later request are sent again, this often."""


@dataclass(frozen=True)
class HealReport:
    """What a heal gave the server back."""

    group: str
    ops: int = 0
    lockboxes: int = 0
    entries: int = 0
    created: bool = False
    """The server held nothing of the group: it was created again from this copy."""
    refused: tuple[str, ...] = field(default=())
    """Entries the server refused, each as `entry <id>: <why>` (the rest were healed)."""
    alarms: tuple[Alarm, ...] = field(default=())
    """What the sync after the heal still finds (nothing, when the server holds everything
    this device verified again)."""

    @property
    def healed(self) -> bool:
        return bool(self.ops or self.entries or self.created)


@dataclass
class _ServerState:
    seq: int
    head: bytes
    heads: dict[bytes, tuple[int, bytes]]


def heal(group: Group, *, registration_token: str | None = None) -> HealReport:
    snap = group._load()
    if snap.status == "joining":
        raise E.NotAMember("only members hold a copy of the group to heal a server with")
    api = group._api()
    server = server_state(api, group._gid)
    state = snap.state
    if server is not None:
        if server.seq > state.seq:
            raise E.StaleLocal(
                "the server holds log ops this device has not verified yet",
                hint="run `chatham sync` first, then heal",
            )
        if not hmac.compare_digest(state.op_hashes[server.seq], server.head):
            raise E.ForkError(
                f"the server's log op {server.seq} differs from the one verified here: the "
                "server is not an older copy of this group but a different one (a fork), and "
                "nothing was sent",
                check="fork",
                record=f"log op {server.seq}",
            )
    start = -1 if server is None else server.seq
    ops = group._store.ops(group._gid)[start + 1 :]
    lockboxes = _lockboxes(group, state)
    held = {} if server is None else server.heads
    entries = _entries_beyond(group, snap.tracker, held)
    expected_seq, expected_head = (-1, b"") if server is None else (server.seq, server.head)
    healed = 0
    refused: dict[bytes, tuple[EntryRow, E.ServerError]] = {}
    pending = entries
    first = True
    for _ in range(PASSES):
        accepted_this_pass = 0
        refused = {}
        for part in _parts(pending, first and (bool(ops or lockboxes) or server is None)):
            try:
                answer = api.heal(
                    group._gid,
                    expected_seq,
                    expected_head,
                    ops if first else [],
                    lockboxes if first else [],
                    [item for _, item in part],
                    registration_token if first else None,
                )
            except E.Conflict as e:
                if e.code != "not_a_prefix":
                    raise
                raise E.ForkError(
                    "the server holds what the group's signed log rules out (for example an "
                    "entry by a removed member written after their removal): it is not an "
                    "older copy of this group and cannot be healed; nothing held here changed",
                    hint="tell your group's leader: a leader moves the group to a new server "
                    "with `chatham group move --server URL`",
                    check="fork",
                ) from None
            first = False
            expected_seq, expected_head = answer.seq, answer.head
            for (row, _), outcome in zip(part, answer.results, strict=True):
                if isinstance(outcome, E.ServerError):
                    refused[row.entry_id] = (row, outcome)
                else:
                    accepted_this_pass += 1
        healed += accepted_this_pass
        if not refused or not accepted_this_pass:
            break
        pending = [(row, item) for row, item in entries if row.entry_id in refused]
    return HealReport(
        group=group.id,
        ops=len(ops),
        lockboxes=len(lockboxes),
        entries=healed,
        created=server is None,
        refused=tuple(f"entry {eid.hex()}: {err.message}" for eid, (_, err) in refused.items()),
    )


def server_state(api: ServerApi, gid: bytes) -> _ServerState | None:
    """The server's log head and chain heads, or None when it holds no such group."""
    try:
        page = api.log(gid, 2**62)  # past the head: no ops, only where the server stands
    except E.Forbidden as e:
        if e.code != "not_a_member":
            raise
        return None  # no such group here (a server never says which: protocol §14.2)
    if page.group_id != gid:
        raise E.BadResponse("the server answered with another group's log")
    heads = {h.device: (h.seq, h.link) for h in page.heads or []}
    return _ServerState(page.seq, page.head, heads)


def _lockboxes(group: Group, state: crypto.GroupState) -> list[tuple[int, bytes, bytes]]:
    """(op seq, device, lockbox) of every lockbox this device holds: its own, and every one
    of the rotations it signed (a leader's client keeps them)."""
    device = group._device().id
    held = {(e, device): box for e, box in group._store.lockboxes(group._gid).items()}
    for epoch, d, box in group._store.signed_lockboxes(group._gid):
        held.setdefault((epoch, d), box)
    out = []
    for (epoch, d), box in sorted(held.items()):
        info = state.rotations.get(epoch)
        if info is not None:
            out.append((info.seq, d, box))
    return out


def _entries_beyond(
    group: Group, tracker: crypto.ChainTracker, held: dict[bytes, tuple[int, bytes]]
) -> list[tuple[EntryRow, dict[str, Any]]]:
    """Every stored entry the server lacks, in the server's first order, as heal items; a
    fork (the server holds a chain head this device does not) raises."""
    for device, (seq, link) in held.items():
        mine = tracker.links.get(device, {})
        if seq in mine and not hmac.compare_digest(mine[seq], link):
            raise E.ForkError(
                "the server holds another entry than the one verified here at a place in an "
                "author's chain: it is not an older copy of this group, and nothing was sent",
                check="fork",
            )
    out = []
    for row in group._store.iter_entries(group._gid):
        if row.seq <= held.get(row.device, (0, b""))[0]:
            continue
        header = crypto.decode(row.header, crypto.EntryHeader, max_size=crypto.MAX_STUB_SIZE)
        if row.ct is not None:
            item: dict[str, Any] = {"entry": crypto.encode(crypto.Entry(header, row.ct, row.sig))}
        else:
            stub = crypto.EntryStub(header, row.ct_hash, row.sig)
            item = {"stub": crypto.encode(stub), "retracted_by": row.retracted_by}
        out.append((row, item))
    return out


def _parts(
    items: list[tuple[EntryRow, dict[str, Any]]], need_one: bool
) -> list[list[tuple[EntryRow, dict[str, Any]]]]:
    """Items cut into requests under the server's caps (one, possibly empty, when ops go)."""
    parts: list[list[tuple[EntryRow, dict[str, Any]]]] = []
    part: list[tuple[EntryRow, dict[str, Any]]] = []
    size = 0
    for row, item in items:
        n = len(row.ct or b"") + 512
        if part and (len(part) == PART_ENTRIES or size + n > PART_BYTES):
            parts.append(part)
            part, size = [], 0
        part.append((row, item))
        size += n
    if part or (need_one and not parts):
        parts.append(part)
    return parts
