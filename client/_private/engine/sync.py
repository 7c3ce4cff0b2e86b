"""The sync engine: fetch the group log and entries, verify everything, store what verified.

The engine trusts nothing the server says. Every op is replayed through the
protocol's verifier, every lockbox is checked against the op's commitment and key
confirmation, every entry's signature, header and chain position is checked against
the verified log, and only then is anything stored. Pinned state (log head, entry
cursor, chain heads) moves only inside the same SQLite transaction that stores what
was verified, page by page, so a sync that is killed resumes where the last committed
page ended, and a sync that finds something wrong raises a specific
`VerificationError` and leaves the store as it was before the bad record.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import msgspec
from chatham import crypto

from ... import errors as E
from ..local.store import EntryRow
from ..membership.roster import announce, display
from ..membership.values import Announcement
from .checks import entry_error, log_error
from .results import SyncReport
from .snapshot import Snapshot

if TYPE_CHECKING:
    from .api import EntryItem, EntryPage, ServerApi
    from .group import Group

PAGE = 500
COMMIT_ROWS = 2000
"""Verified entries are committed (with the pinned state) at least this often, and at the end."""
Progress = Callable[[int, int | None], None]
"""progress(done, total): entries processed so far, and the total when the server said."""


def sync_once(group: Group, progress: Progress | None, send: bool) -> SyncReport:
    snap = group._load()
    api = group._api()
    before_status = snap.status
    applied = _pull_log(group, api, snap)
    snap = group._load()
    names = group._names(snap)
    announcements = announce(applied, snap.state, names, group._me())
    new_entries = retracted = 0
    sent: list[str] = []
    if snap.status == "member":
        new_entries, retracted, extra = _pull_entries(group, api, progress)
        announcements += extra
        if any(checkpoint_problems(group, group._load())):
            # Something checkpointed is missing: it may sit behind the cursor (a server
            # that withheld it before). Ask for everything once more before judging.
            more, gone, extra = _pull_entries(group, api, None, rescan=True)
            new_entries, retracted = new_entries + more, retracted + gone
            announcements += extra
        check_checkpoint(group)
        if send:
            # Sending builds on syncing (and reseals after a conflict by syncing again).
            from .ops import rotate_if_pending
            from .outbox import flush

            rotated = rotate_if_pending(group)
            if rotated is not None:
                announcements += announce([rotated], group._load().state, names, group._me())
            sent = flush(group, api)
    if before_status == "joining" and snap.status == "member":
        announcements.append(
            Announcement(
                snap.state.seq,
                "joined",
                "Your join request was approved: you are now a member of the group",
                group._me().hex(),
                (group._me().hex(),),
            )
        )
    return SyncReport(
        group=group.id,
        new_ops=len(applied),
        new_entries=new_entries,
        retracted=retracted,
        sent=tuple(sent),
        queued=group._store.outbox_count(group._gid),
        announcements=tuple(announcements),
        status=group._load().status,
    )


def _pull_log(group: Group, api: ServerApi, snap: Snapshot) -> list[crypto.AppliedOp]:
    """Fetch, verify and store new log ops and this device's new epoch keys."""
    secret = group._store.join_secret(group._gid) if snap.status == "joining" else None
    try:
        state, applied = _read_log(group, api, snap)
    except E.Forbidden as e:
        if secret is None or e.code != "not_a_member":
            if e.code == "not_a_member":
                raise E.NotAMember() from None
            raise
        # Not in the roster yet: read as the invitee, with the invite's join key.
        api.as_invitee(crypto.InviteSecret(secret, group._gid, group.server))
        try:
            state, applied = _read_log(group, api, snap)
        except E.Forbidden as e2:
            if e2.code == "invite_not_usable":
                raise E.NotAMember(
                    "the invite is no longer usable: it was used, revoked or has expired, "
                    "and this device was not added",
                    hint="ask a leader for a new invite",
                ) from None
            raise
        finally:
            api.as_invitee(None)
    status = group._status_of(state, snap.status)
    keyring, boxes = _pull_keys(group, api, snap, state, status)
    if not applied and not boxes and status == snap.status:
        return []
    commit_log(group, snap, state, applied, keyring, boxes, status)
    return applied


def _read_log(
    group: Group, api: ServerApi, snap: Snapshot
) -> tuple[crypto.GroupState, list[crypto.AppliedOp]]:
    state = snap.state.copy()
    known_seq, known_head = snap.state.seq, snap.state.head
    # Ask again for the newest op already verified: a fork shows even when nothing is new.
    since = known_seq - 1 if known_seq >= 0 else -1
    applied: list[crypto.AppliedOp] = []
    first = True
    while True:
        page = api.log(group._gid, since)
        if page.group_id != group._gid:
            raise E.BadResponse("the server answered with another group's log")
        ops = page.ops
        if first and known_seq >= 0:
            if not ops or page.seq < known_seq:
                raise E.RollbackError(
                    f"the server shows a log of {max(page.seq, -1) + 1} ops, older than the "
                    f"{known_seq + 1} already verified",
                    check="rollback",
                    record=f"log op {known_seq}",
                )
            if not hmac.compare_digest(crypto.op_hash(ops[0]), known_head):
                raise E.ForkError(
                    "the server's op differs from the one already verified",
                    check="fork",
                    record=f"log op {known_seq}",
                )
            ops = ops[1:]
        first = False
        for data in ops:
            try:
                applied.append(state.apply(data))
            except crypto.LogError as e:
                raise log_error(e) from None
        if not page.more:
            break
        if not page.ops:
            raise E.BadResponse("the server promised more log ops and sent none")
        since = state.seq
    if page.seq > state.seq:
        raise E.WithheldError(
            f"the server says the log reaches op {page.seq} but sent only up to op {state.seq}",
            check="withheld_op",
            record=f"log op {state.seq + 1}",
        )
    if page.seq < state.seq or (state.seq >= 0 and page.head != state.head):
        raise E.BadResponse("the server's log head does not match the ops it sent")
    if group._gid != state.group_id:
        raise E.ForkError("the log's genesis does not hash to this group's id", check="genesis")
    return state, applied


def _pull_keys(
    group: Group, api: ServerApi, snap: Snapshot, state: crypto.GroupState, status: str
) -> tuple[crypto.Keyring, dict[int, bytes]]:
    """Open this device's lockbox for every new epoch sealed to it; (keyring, lockboxes)."""
    device = group._device()
    needed = [e for e in _rotation_epochs(state, device.id) if e not in snap.keyring.keys]
    keyring = crypto.Keyring(dict(snap.keyring.keys))
    if not needed:
        return keyring, {}
    try:
        served = {b.epoch: b.lockbox for b in api.lockboxes(group._gid, min(needed) - 1)}
    except E.Forbidden:
        if status == "member":
            raise
        return keyring, {}  # departed: the server serves nothing more, as it should
    boxes: dict[int, bytes] = {}
    for epoch in needed:
        info = state.rotations[epoch]
        sealed = served.get(epoch)
        if sealed is None:
            if status != "member":
                continue
            raise E.WithheldError(
                f"the server withheld this device's lockbox for epoch {epoch}",
                check="lockbox_withheld",
                record=f"log op {info.seq}",
            )
        try:
            keyring.accept_lockbox(state, device, group._me(), epoch, sealed)
        except crypto.RotationError as e:
            err = log_error(e)
            err.record = f"log op {info.seq}"
            raise err from None
        except crypto.CouldNotOpen:
            raise E.CouldNotOpen() from None
        boxes[epoch] = sealed
    return keyring, boxes


def commit_log(
    group: Group,
    snap: Snapshot,
    state: crypto.GroupState,
    applied: list[crypto.AppliedOp],
    keyring: crypto.Keyring,
    boxes: dict[int, bytes],
    status: str,
) -> None:
    store = group._store
    pinned = msgspec.structs.replace(
        snap.pinned, log_seq=state.seq, log_head=state.head, epochs=sorted(keyring.keys)
    )
    with store.write() as db:
        store.claim(db, group._gid, snap.version)
        if applied:
            store.add_ops(db, group._gid, snap.state.seq + 1, [a.data for a in applied])
        for epoch in sorted(set(keyring.keys) - set(snap.keyring.keys)):
            store.add_epoch_key(db, group._gid, epoch, keyring.keys[epoch], boxes.get(epoch))
        if status == "member":
            store.set_join_secret(db, group._gid, None)
        version = store.pin(db, group._gid, snap.version, pinned, status)
    group._snap = Snapshot(
        version, pinned, state, keyring, snap.tracker, status, snap.log + applied
    )


def _pull_entries(
    group: Group, api: ServerApi, progress: Progress | None, *, rescan: bool = False
) -> tuple[int, int, list[Announcement]]:
    """Fetch entries after the pinned cursor (or, with rescan, all of them again)."""
    snap = group._load()
    cursor = 0 if rescan else snap.pinned.cursor
    total: int | None = None
    if progress is not None:
        try:
            total = max(0, api.group_info(group._gid).entry_cursor - snap.pinned.cursor)
        except E.ServerError:
            total = None
        progress(0, total)
    done = new = retracted = 0
    announcements: list[Announcement] = []
    # While one page is verified and stored, the next is already on its way: the server's
    # and the network's time overlaps the client's (signature checks release the GIL).
    # Verified rows wait in memory for at most COMMIT_ROWS, then go to disk in one
    # transaction with the pinned state: fewer fsyncs, and a crash loses only those.
    rows: list[EntryRow] = []
    updates: list[EntryRow] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatham-fetch") as fetcher:
        ahead: Future[EntryPage] = fetcher.submit(api.entries, group._gid, cursor, PAGE)
        while True:
            page = ahead.result()
            last = page.entries[-1].cursor if page.entries else cursor
            if page.cursor < last:
                raise E.BadResponse("the server's page cursor is behind its entries")
            if page.more and not page.entries:
                raise E.BadResponse("the server promised more entries and sent none")
            if page.more:
                ahead = fetcher.submit(api.entries, group._gid, page.cursor, PAGE)
            snap = group._load()
            prev = cursor
            for item in page.entries:
                if item.cursor <= prev:
                    raise E.BadResponse("the server sent entries out of order")
                prev = item.cursor
                _verify_item(group, snap, item, rows, updates, announcements)
            cursor = page.cursor
            done += len(page.entries)
            if len(rows) + len(updates) >= COMMIT_ROWS or not page.more:
                if rows or updates or cursor > snap.pinned.cursor:
                    _commit_entries(group, snap, rows, updates, cursor)
                new += sum(1 for r in rows if r.ct is not None)
                retracted += len(updates) + sum(1 for r in rows if r.ct is None)
                rows, updates = [], []
            if progress is not None:
                progress(done, total)
            if not page.more:
                return new, retracted, announcements


def _verify_item(
    group: Group,
    snap: Snapshot,
    item: EntryItem,
    rows: list[EntryRow],
    updates: list[EntryRow],
    announcements: list[Announcement],
) -> None:
    state, tracker = snap.state, snap.tracker
    eid = item.entry_id
    ct: bytes | None = None
    try:
        if item.entry is not None:
            entry = crypto.decode_entry(item.entry)
            ct = entry.ct
            # Hash the ciphertext once: checking the stub (header, this hash, signature) is
            # the same check as checking the entry, whose signature covers it by hash.
            stub = crypto.EntryStub(entry.header, crypto.ct_hash(ct), entry.sig)
        elif item.stub is not None:
            stub = crypto.decode_stub(item.stub)
        else:
            raise E.BadResponse(f"entry {eid.hex()}: neither an entry nor a retraction stub")
    except crypto.EntryError as e:
        raise entry_error(e, eid) from None
    header = stub.header
    if header.entry_id != eid:
        raise E.TamperedEntryError(
            f"the server labels this {'stub' if ct is None else 'entry'} with another id (swapped)",
            check="entry_id",
            record=f"entry {eid.hex()}",
        )
    link = check_public(state, stub)
    if ct is not None:
        if track(tracker, header, link):
            rows.append(_entry_row(item, stub, link, ct))
        return
    if item.retraction is None:
        raise E.FakeDeletionError(check="retraction_missing", record=f"entry {eid.hex()}")
    try:
        signed = crypto.verify_retraction(
            state, item.retraction, header.device, entry_log_seq=header.log_seq
        )
    except crypto.EntryError as e:
        raise E.FakeDeletionError(
            f"the server claims the entry was retracted, but the retraction is invalid ({e})",
            check=e.check,
            record=f"entry {eid.hex()}",
        ) from None
    if signed.retraction.entry_id != eid:
        raise E.FakeDeletionError(
            "the retraction names another entry", check="entry_id", record=f"entry {eid.hex()}"
        )
    if track(tracker, header, link):
        rows.append(_entry_row(item, stub, link, None))
        return
    known = next((r for r in rows if r.entry_id == eid), None) or group._store.entry(
        group._gid, eid
    )
    if known is None or known.retraction is not None:
        return
    retracted = dataclasses.replace(known, ct=None, retraction=item.retraction)
    if known in rows:
        rows[rows.index(known)] = retracted
        return
    updates.append(retracted)
    signer = state.member_of_device(signed.retraction.signer)
    author = state.member_of_device(header.device)
    if signer is not None and author is not None and signer.id != author.id:
        names = group._names(snap)
        who = display(signer.id, names, group._me())
        announcements.append(
            Announcement(
                signed.retraction.log_seq,
                "retract",
                f"{who[:1].upper() + who[1:]} (leader) retracted an entry by "
                f"{display(author.id, names, group._me())}",
                signer.id.hex(),
                (author.id.hex(),),
            )
        )


def check_public(state: crypto.GroupState, item: crypto.Entry | crypto.EntryStub) -> bytes:
    try:
        return crypto.check_entry_public(state, item)
    except crypto.EntryError as e:
        raise entry_error(
            e, item.header.entry_id, log_seq=item.header.log_seq, known_seq=state.seq
        ) from None


def track(tracker: crypto.ChainTracker, header: crypto.EntryHeader, link: bytes) -> bool:
    try:
        new = tracker.check(header, link)
    except crypto.EntryError as e:
        raise entry_error(e, header.entry_id) from None
    if new:
        tracker.add(header, link)
    return new


def _commit_entries(
    group: Group, snap: Snapshot, rows: list[EntryRow], updates: list[EntryRow], cursor: int
) -> None:
    store = group._store
    pinned = msgspec.structs.replace(
        snap.pinned,
        cursor=max(cursor, snap.pinned.cursor),
        entries=snap.pinned.entries + len(rows),
        heads=[(h.device, h.seq, h.link) for h in snap.tracker.heads()],
    )
    with store.write() as db:
        store.claim(db, group._gid, snap.version)
        store.add_entries(db, group._gid, rows)
        for r in updates:
            store.update_entry(db, group._gid, r)
        version = store.pin(db, group._gid, snap.version, pinned)
    snap.version, snap.pinned = version, pinned


def check_checkpoint(group: Group) -> None:
    """Every chain head a leader checkpointed (or recorded at a departure) must be here."""
    snap = group._load()
    withheld, differ = checkpoint_problems(group, snap)
    if differ:
        raise E.EquivocationError(
            "; ".join(differ), check="checkpoint", record=_cp_record(snap.state)
        )
    if withheld:
        raise E.WithheldError(
            "; ".join(withheld), check="checkpoint", record=_cp_record(snap.state)
        )


def checkpoint_problems(group: Group, snap: Snapshot) -> tuple[list[str], list[str]]:
    state, tracker = snap.state, snap.tracker
    names: dict[bytes, str] | None = None
    expected: list[tuple[crypto.ChainHead, str]] = []
    if state.checkpoint is not None:
        cp = state.checkpoint
        expected += [(h, f"the checkpoint at log op {cp.seq}") for h in cp.heads]
    for d in state.devices.values():
        if d.final_head is not None:
            expected.append((d.final_head, "the departure op"))
    withheld: list[str] = []
    differ: list[str] = []
    for head, source in expected:
        chain = tracker.links.get(head.device, {})
        mine = max(chain) if chain else 0
        if head.seq <= mine and (head.seq == 0 or hmac.compare_digest(chain[head.seq], head.link)):
            continue
        if names is None:
            names = group._names(snap)  # only to word a problem: opening names costs
        m = state.member_of_device(head.device)
        who = display(m.id, names, group._me()) if m else head.device.hex()[:12]
        if head.seq > mine:
            withheld.append(
                f"{source} lists {head.seq} entries by {who}, "
                f"but the server delivered only {mine} (withheld)"
            )
        else:
            differ.append(f"entry {head.seq} by {who} differs from {source}")
    return withheld, differ


def _entry_row(item: EntryItem, stub: crypto.EntryStub, link: bytes, ct: bytes | None) -> EntryRow:
    """The row a verified entry is stored as: with its ciphertext, or (`ct` None) as the
    stub of a retracted entry, with the retraction that removed it."""
    h = stub.header
    retraction = None if ct is not None else item.retraction
    return EntryRow(
        item.entry_id,
        item.cursor,
        h.device,
        h.seq,
        h.epoch,
        crypto.encode(h),
        ct,
        stub.ct_hash,
        stub.sig,
        link,
        retraction,
    )


def _rotation_epochs(state: crypto.GroupState, device: bytes) -> list[int]:
    return sorted(
        e
        for e, info in state.rotations.items()
        if any(r.device == device for r in info.rotation.refs)
    )


def _cp_record(state: crypto.GroupState) -> str | None:
    return None if state.checkpoint is None else f"log op {state.checkpoint.seq}"
