"""Writing: the outbox of queued entries, sealed under the newest epoch only at send time.

An entry waits in the store sealed under the store key until it is sent, so a write
made offline never uses a key that a departed member holds; a conflict (a new epoch, a
pending rotation, a chain that moved) syncs and reseals before retrying.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final, TypeAlias

import msgspec
from chatham import crypto

from ... import errors as E
from ..local.store import EntryRow
from ..local.vault import random_bytes
from .ops import rotate_if_pending
from .sync import add_alarm, check_public, sync_once, track

if TYPE_CHECKING:
    from .api import ServerApi
    from .group import Group

ZERO32 = bytes(32)


RESEAL: Final = (
    "stale_epoch",
    "stale_log_head",
    "rotation_pending",
    "chain_gap",
    "duplicate_entry",
)
"""Conflicts after which a queued write is sealed again on the newest state and retried."""


WriteRules: TypeAlias = "Callable[[Group, Sequence[tuple[bytes, bytes]]], dict[bytes, str]]"
"""Of queued writes (entry id, opaque body; oldest first), those the rules above this layer
would have every client ignore if sealed on the group's head now: entry id → why, in the
member's words (the journal's `disallowed`, set with `Group.set_write_rules`)."""


BULK: Final = 500
"""Most queued writes sent in one bulk request."""
BULK_BYTES: Final = 12 << 20
"""Most body bytes in one bulk request (base64 adds a third; the server's cap is 32 MiB)."""


def flush(group: Group, api: ServerApi) -> tuple[list[str], list[tuple[str, str]]]:
    """Send every queued write: runs of plain writes in bulk requests, then the rest (and
    anything a bulk post refused) one by one, resealing after a conflict; (ids sent, (id,
    reason) of writes kept unsent: the rules no longer allow them, or the server refused them
    for good)."""
    sent: list[str] = []
    refused = _hold_back(group)
    judged = group._load().state.seq
    while True:
        more = _send_bulk(group, api)
        sent += more
        if not more:
            break
    for queued_id, body, retracts in group._store.outbox(group._gid):
        entry_id = queued_id
        for attempt in range(4):
            if group._load().state.seq != judged:
                # The log moved (a conflict synced, a rotation): the rules may have too.
                refused += _hold_back(group)
                judged = group._load().state.seq
            if entry_id.hex() in {rid for rid, _ in refused}:
                break
            if group._store.entry(group._gid, entry_id) is not None:
                if _is_ours(group, entry_id, body):
                    # It reached the server before (the client died before unqueueing).
                    with group._store.write() as db:
                        group._store.unqueue(db, entry_id)
                    sent.append(entry_id.hex())
                    break
                # Another entry holds this id: this write was never sent. Keep the text.
                entry_id = _requeue(group, entry_id, body, retracts)
                continue
            rotate_if_pending(group)
            sealed = seal(group, entry_id, body, retracts)
            try:
                posted = api.post_entry(group._gid, sealed.data)
            except E.Conflict as e:
                if attempt == 3 or e.code not in RESEAL:
                    raise
                sync_once(group, None, send=False)  # the log or a chain moved: catch up, reseal
                continue
            except E.Forbidden as e:
                # The server judged the write on the newest head and refused it for good: its
                # author lost the power it needs (a demotion that landed first, for what the
                # server can judge: a retraction). Kept queued, it would fail every later
                # sync: it leaves the outbox for `unsent`, sealed as it was, so its author
                # can read it back.
                with group._store.write() as db:
                    group._store.set_aside(
                        db, group._gid, entry_id, e.message, group._account.now()
                    )
                refused.append((entry_id.hex(), e.message))
                break
            store_own(group, sealed, posted.cursor, entry_id)
            sent.append(entry_id.hex())
            break
    return sent, refused


def _hold_back(group: Group) -> list[tuple[str, str]]:
    """Move the queued writes the group's rules no longer allow on its head out of the
    outbox into `unsent`, as if the server had refused them: sealed on this head, they
    would be accepted (the server cannot read them) and then ignored by every client,
    their author's included. (id, reason) of each."""
    rules = group._write_rules
    if rules is None:
        return []
    waiting = [
        (entry_id, body)
        for entry_id, body, _ in group._store.outbox(group._gid)
        if group._store.entry(group._gid, entry_id) is None  # not sent before a crash
    ]
    if not waiting:
        return []
    held = rules(group, waiting)
    if not held:
        return []
    now = group._account.now()
    with group._store.write() as db:
        for entry_id, reason in held.items():
            group._store.set_aside(db, group._gid, entry_id, reason, now)
    return [(entry_id.hex(), reason) for entry_id, reason in held.items()]


def _send_bulk(group: Group, api: ServerApi) -> list[str]:
    """Send the leading run of queued writes that retract nothing in one request; the ids
    the server took. The first one refused ends the run: it (and what follows it) goes out
    one by one, as a single post, with that path's conflict handling."""
    run: list[tuple[bytes, bytes, Sequence[bytes]]] = []
    size = 0
    for entry_id, body, retracts in group._store.outbox(group._gid):
        if retracts or len(run) == BULK or size + len(body) > BULK_BYTES:
            break
        if group._store.entry(group._gid, entry_id) is not None:
            break  # sent before the client stopped: the single path settles it
        run.append((entry_id, body, ()))
        size += len(body)
    if len(run) < 2:
        return []
    rotate_if_pending(group)
    sealed = seal_chain(group, run)
    try:
        outcomes = api.post_entries(group._gid, [s.data for s in sealed])
    except E.ServerError as e:
        if e.code in ("not_found", "method_not_allowed") or isinstance(e, E.TooLarge):
            return []  # a server (or a proxy) without the bulk route or its cap: one by one
        raise
    acknowledged: list[tuple[crypto.SealedEntry, int, bytes]] = []
    for (entry_id, _, _), s, outcome in zip(run, sealed, outcomes, strict=False):
        if isinstance(outcome, E.ServerError):
            break
        acknowledged.append((s, outcome.cursor, entry_id))
    if acknowledged:
        store_own_many(group, acknowledged)
    return [entry_id.hex() for _, _, entry_id in acknowledged]


def _is_ours(group: Group, entry_id: bytes, body: bytes) -> bool:
    """Whether the stored entry with this id is this device's, with exactly this body (or
    this device's and retracted since: its text is gone, but it was delivered)."""
    snap = group._load()
    row = group._store.entry(group._gid, entry_id)
    if row is None or row.device != group._device().id:
        return False
    if row.ct is None:
        return True
    key = snap.keyring.keys.get(row.epoch)
    if key is None:
        return False
    header = crypto.decode(row.header, crypto.EntryHeader, max_size=crypto.MAX_STUB_SIZE)
    try:
        return crypto.open_entry(crypto.Entry(header, row.ct, row.sig), key) == body
    except crypto.CouldNotOpen:
        return False


def _requeue(group: Group, entry_id: bytes, body: bytes, retracts: list[bytes]) -> bytes:
    """Move a queued write whose id another entry already holds to a fresh id, and say so."""
    fresh = random_bytes(16)
    store = group._store
    store.queue(group._gid, fresh, body, group._account.now(), retracts)
    with store.write() as db:
        store.unqueue(db, entry_id)
    add_alarm(
        group,
        f"outbox:{entry_id.hex()}",
        E.TamperedEntryError(
            "the server holds another entry under the id of a write queued here; the write "
            "was kept and sent under a new id",
            check="entry_id",
            record=f"entry {entry_id.hex()}",
        ),
    )
    return fresh


def seal(
    group: Group, entry_id: bytes, body: bytes, retracts: Sequence[bytes] = ()
) -> crypto.SealedEntry:
    [sealed] = seal_chain(group, [(entry_id, body, list(retracts))])
    return sealed


def seal_chain(
    group: Group, writes: Sequence[tuple[bytes, bytes, Sequence[bytes]]]
) -> list[crypto.SealedEntry]:
    """Seal queued writes as the next entries of this device's chain, in order, each linking
    to the one before: (entry id, body, entries it retracts) each."""
    snap = group._load()
    state = snap.state
    if state.pending_rotation:
        raise E.RotationPending()
    if state.epoch not in snap.keyring.keys:
        raise E.CouldNotOpen(
            "this device does not have the group's current key yet", hint="run `chatham sync`"
        )
    device = group._device()
    head = snap.tracker.head(device.id)
    seq, prev = (head.seq + 1, head.link) if head else (1, ZERO32)
    out: list[crypto.SealedEntry] = []
    for entry_id, body, retracts in writes:
        sealed = crypto.seal_entry(
            device=device,
            epoch_key=snap.keyring.keys[state.epoch],
            group=group._gid,
            epoch=state.epoch,
            seq=seq,
            prev=prev,
            log_seq=state.seq,
            log_head=state.head,
            body=body,
            entry_id=entry_id,
            retracts=retracts,
        )
        out.append(sealed)
        seq, prev = seq + 1, sealed.link
    return out


def store_own(group: Group, sealed: crypto.SealedEntry, cursor: int, entry_id: bytes) -> None:
    store_own_many(group, [(sealed, cursor, entry_id)])


def store_own_many(
    group: Group, acknowledged: Sequence[tuple[crypto.SealedEntry, int, bytes]]
) -> None:
    """Store this device's entries the server acknowledged (sealed, cursor, entry id each, in
    chain order) and take them out of the outbox, in one transaction."""
    snap = group._load()
    store = group._store
    rows: list[EntryRow] = []
    gone: dict[bytes, EntryRow] = {}
    for sealed, cursor, entry_id in acknowledged:
        entry = sealed.entry
        link = check_public(snap.state, entry)
        header = entry.header
        track(snap.tracker, header, link)
        rows.append(
            EntryRow(
                entry_id,
                cursor,
                header.device,
                header.seq,
                header.epoch,
                header.log_seq,
                crypto.encode(header),
                entry.ct,
                crypto.ct_hash(entry.ct),
                entry.sig,
                link,
                None,
            )
        )
        # The server deleted what this entry retracts; so does this member's copy.
        for r in header.retracts:
            t = store.entry(group._gid, r)
            if t is not None and t.ct is not None:
                gone[r] = dataclasses.replace(t, ct=None, retracted_by=entry_id)
    pinned = msgspec.structs.replace(
        snap.pinned,
        entries=snap.pinned.entries + len(rows),
        heads=[(h.device, h.seq, h.link) for h in snap.tracker.heads()],
    )
    try:
        with store.write() as db:
            store.claim(db, group._gid, snap.version)
            store.add_entries(db, group._gid, rows)
            for t in gone.values():
                store.update_entry(db, group._gid, t)
            for _, _, entry_id in acknowledged:
                store.unqueue(db, entry_id)
            version = store.pin(db, group._gid, snap.version, pinned)
    except BaseException:
        group._snap = None
        raise
    snap.version, snap.pinned = version, pinned


MAX_ENTRY_BODY = 1 << 20
"""The protocol's cap on an entry body (docs/protocol.md §7.2)."""


def queue(group: Group, body: bytes, retracts: Sequence[bytes] = ()) -> str:
    """Queue `body` as a new entry and send it now if the server is reachable; its id.

    The body is opaque here (the journal layer encodes it). It is kept sealed under the
    store key until it is sent, and sealed under the newest epoch only at send time, so
    a write made offline never uses a key that a departed member holds.
    """
    if not isinstance(body, bytes):
        raise TypeError("an entry body is bytes")
    if len(body) > MAX_ENTRY_BODY:
        raise E.UsageError(
            f"an entry is at most {MAX_ENTRY_BODY} bytes",
            hint="attach large content as a file instead",
        )
    if len(set(retracts)) > crypto.MAX_RETRACTS:
        raise E.UsageError(
            f"one entry retracts at most {crypto.MAX_RETRACTS} others",
            hint="retract them in several steps",
        )
    snap = group._load()
    if snap.status != "member":
        raise E.NotAMember()
    _may_retract(group, retracts)
    entry_id = random_bytes(16)
    group._store.queue(group._gid, entry_id, body, group._account.now(), sorted(set(retracts)))
    with contextlib.suppress(E.Unreachable):  # queued; the next sync sends it
        # Other writes the server refuses on this sync are kept too, and counted by
        # `Group.unsent_count` (what the write's caller reports).
        for rid, reason in group.sync().refused:
            if rid == entry_id.hex():
                raise E.NotAllowed(
                    reason,
                    hint="it was not sent; its text is kept: `chatham unsent` shows it",
                )
    return entry_id.hex()


def _may_retract(group: Group, retracts: Sequence[bytes]) -> None:
    """Refuse, before anything is queued, a retraction the server would refuse: of an entry
    not held here, or of someone else's entry by a member who is not a leader."""
    if not retracts:
        return
    state = group._load().state
    me = group._me()
    leader = state.members[me].role == "leader"
    for target in retracts:
        row = group._store.entry(group._gid, target)
        if row is None:
            raise E.NotFound(f"no entry {target.hex()} in this group", hint="run `chatham sync`")
        author = state.member_of_device(row.device)
        if not leader and (author is None or author.id != me):
            raise E.NotAllowed(
                "only the author or a leader may retract an entry",
                hint="ask the author or a leader",
            )
