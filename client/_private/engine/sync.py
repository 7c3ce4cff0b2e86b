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

import hmac
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Final

import msgspec
from chatham import crypto

from ... import errors as E
from ..membership.roster import announce, display
from ..membership.values import Announcement
from .alarms import STATE_PREFIX, Alarm, alarm_of, item_key, record_of
from .checks import entry_error, log_error
from .freshness import OP_CLOCK_SKEW, checkpoint_if_quiet
from .intake import Intake
from .results import SyncReport
from .rollback import RESTORED, server_behind
from .snapshot import Snapshot

if TYPE_CHECKING:
    from .api import EntryPage, ServerApi
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
    found: dict[str, E.VerificationError] = {}
    applied = _pull_log(group, api, snap, found)
    snap = group._load()
    names = group._names(snap)
    announcements = announce(applied, snap.state, names, group._me())
    if moved_away(group, applied):
        send = False  # queued writes go to the server the group moved to (move.follow)
    new_entries = retracted = 0
    sent: list[str] = []
    refused: list[tuple[str, str]] = []
    checkpointed = False
    if snap.status == "member":
        behind = server_behind(group, snap, group._server_heads, group._server_cursor)
        if behind is not None:
            found[STATE_PREFIX + "entries"] = behind
        intake = _pull_entries(group, api, progress, server_cursor=group._server_cursor)
        if any(checkpoint_problems(group, group._load())):
            # Something checkpointed is missing: it may sit behind the cursor (a server
            # that withheld it before). Ask for everything once more before judging.
            _pull_entries(group, api, None, rescan=True, intake=intake)
        _recheck(group, api, intake)
        new_entries, retracted = intake.new, intake.retracted
        announcements += intake.announcements
        problem = check_checkpoint(group)
        if problem is not None:
            found[STATE_PREFIX + "checkpoint"] = problem
    put_state_alarms(group, found)
    if snap.status == "member" and send:
        # Sending builds on syncing (and reseals after a conflict by syncing again).
        from .ops import rotate_if_pending
        from .outbox import flush

        rotated = rotate_if_pending(group)
        if rotated is not None:
            announcements += announce([rotated], group._load().state, names, group._me())
        sent, refused = flush(group, api)
        checkpointed = checkpoint_if_quiet(group) is not None
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
        refused=tuple(refused),
        queued=group._store.outbox_count(group._gid),
        announcements=tuple(announcements),
        status=group._load().status,
        alarms=alarms(group),
        freshness=group.freshness(),
        checkpointed=checkpointed,
    )


def moved_away(group: Group, applied: list[crypto.AppliedOp]) -> bool:
    """Whether this sync verified a move to a server other than the one this copy uses."""
    from .api import normalize_url

    target = group._load().state.server
    return (
        target is not None
        and any(isinstance(a.op.body, crypto.Move) for a in applied)
        and normalize_url(target) != group.server
    )


def _pull_log(
    group: Group, api: ServerApi, snap: Snapshot, found: dict[str, E.VerificationError]
) -> list[crypto.AppliedOp]:
    """Fetch, verify and store new log ops and this device's new epoch keys. A log that fails
    a check keeps what verified before the failure and becomes an alarm in `found`."""
    secret = group._store.join_secret(group._gid) if snap.status == "joining" else None
    try:
        state, applied, problem = _read_log(group, api, snap)
    except E.Forbidden as e:
        if secret is None or e.code != "not_a_member":
            if e.code == "not_a_member":
                raise E.NotAMember() from None
            raise
        # Not in the roster yet: read as the invitee, with the invite's join key.
        api.as_invitee(crypto.InviteSecret(secret, group._gid, group.server))
        try:
            state, applied, problem = _read_log(group, api, snap)
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
    if problem is not None:
        found[STATE_PREFIX + "log"] = problem
    status = group._status_of(state, snap.status)
    keyring, boxes = _pull_keys(group, api, snap, state, status, found)
    if not applied and not boxes and status == snap.status:
        return []
    commit_log(group, snap, state, applied, keyring, boxes, status)
    return applied


def _read_log(
    group: Group, api: ServerApi, snap: Snapshot
) -> tuple[crypto.GroupState, list[crypto.AppliedOp], E.VerificationError | None]:
    """(state, ops applied, the problem that stopped the read, if one). The server's entry
    cursor, as its last log page gives it, is left in `group._server_cursor`."""
    state = snap.state.copy()
    known_seq, known_head = snap.state.seq, snap.state.head
    # Ask again for the newest op already verified: a fork shows even when nothing is new.
    since = known_seq - 1 if known_seq >= 0 else -1
    applied: list[crypto.AppliedOp] = []
    not_after = int(group._account.now()) + OP_CLOCK_SKEW
    first = True
    while True:
        page = api.log(group._gid, since)
        if page.group_id != group._gid:
            raise E.BadResponse("the server answered with another group's log")
        group._server_cursor = page.entry_cursor
        group._server_heads = page.heads
        ops = page.ops
        if first and known_seq >= 0:
            if not ops or page.seq < known_seq:
                return (
                    state,
                    applied,
                    E.RollbackError(
                        f"{RESTORED}: it shows a log of {max(page.seq, -1) + 1} ops, older "
                        f"than the {known_seq + 1} already verified here",
                        check="rollback",
                        record=f"log op {known_seq}",
                    ),
                )
            if not hmac.compare_digest(crypto.op_hash(ops[0]), known_head):
                return (
                    state,
                    applied,
                    E.ForkError(
                        "the server's op differs from the one already verified",
                        check="fork",
                        record=f"log op {known_seq}",
                    ),
                )
            ops = ops[1:]
        first = False
        for data in ops:
            try:
                applied.append(state.apply(data, not_after=not_after))
            except crypto.LogError as e:
                return state, applied, log_error(e)
        if not page.more:
            break
        if not page.ops:
            raise E.BadResponse("the server promised more log ops and sent none")
        since = state.seq
    if state.seq >= 0 and group._gid != state.group_id:
        return (
            snap.state.copy(),
            [],
            E.ForkError("the log's genesis does not hash to this group's id", check="genesis"),
        )
    if page.seq > state.seq:
        return (
            state,
            applied,
            E.WithheldError(
                f"the server says the log reaches op {page.seq} but sent only up to op {state.seq}",
                check="withheld_op",
                record=f"log op {state.seq + 1}",
            ),
        )
    if page.seq < state.seq or (state.seq >= 0 and page.head != state.head):
        raise E.BadResponse("the server's log head does not match the ops it sent")
    return state, applied, None


def _pull_keys(
    group: Group,
    api: ServerApi,
    snap: Snapshot,
    state: crypto.GroupState,
    status: str,
    found: dict[str, E.VerificationError],
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
            found[f"{STATE_PREFIX}lockbox:{epoch}"] = E.WithheldError(
                f"the server withheld this device's lockbox for epoch {epoch}",
                check="lockbox_withheld",
                record=f"log op {info.seq}",
            )
            continue
        try:
            keyring.accept_lockbox(state, device, group._me(), epoch, sealed)
        except crypto.RotationError as e:
            err = log_error(e)
            err.record = f"log op {info.seq}"
            found[f"{STATE_PREFIX}lockbox:{epoch}"] = err
            continue
        except crypto.CouldNotOpen:
            found[f"{STATE_PREFIX}lockbox:{epoch}"] = E.KeySubstitutionError(
                "this device's lockbox does not open to the key its rotation committed to",
                check="lockbox_hash",
                record=f"log op {info.seq}",
            )
            continue
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
    group: Group,
    api: ServerApi,
    progress: Progress | None,
    *,
    rescan: bool = False,
    intake: Intake | None = None,
    server_cursor: int | None = None,
) -> Intake:
    """Fetch entries after the pinned cursor (or, with rescan, all of them again) and take
    them in (`intake.py`): what verifies is stored, the rest kept as alarms.

    The cursor is the server's order, which only the server asserts: the client never pins a
    cursor beyond the entry cursor the server's log page gave this sync, and a server whose
    entry cursor is behind the pinned one (it lied about a cursor once, or lost entries) is
    read again from the start and the cursor pinned where the server really is; the entries
    held here are kept either way.
    """
    snap = group._load()
    if intake is None:
        intake = Intake(group, snap, group._account.now())
        intake.start(group._store.alarms(group._gid))
    behind = server_cursor is not None and server_cursor < snap.pinned.cursor
    cursor = 0 if rescan or behind else snap.pinned.cursor
    total: int | None = None
    if progress is not None:
        try:
            total = max(0, api.group_info(group._gid).entry_cursor - snap.pinned.cursor)
        except E.ServerError:
            total = None
        progress(0, total)
    done = 0
    # While one page is verified and stored, the next is already on its way: the server's
    # and the network's time overlaps the client's (signature checks release the GIL).
    # Verified rows wait in memory for at most COMMIT_ROWS, then go to disk in one
    # transaction with the pinned state: fewer fsyncs, and a crash loses only those.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatham-fetch") as fetcher:
        ahead: Future[EntryPage] = fetcher.submit(api.entries, group._gid, cursor, PAGE)
        while True:
            page = ahead.result()
            # The page's own cursor is only a claim: the next page starts after the last
            # item, so a page that names a far cursor cannot make the client skip entries.
            last = max(cursor, page.entries[-1].cursor) if page.entries else cursor
            if page.more and not page.entries:
                raise E.BadResponse("the server promised more entries and sent none")
            if page.more:
                ahead = fetcher.submit(api.entries, group._gid, last, PAGE)
            prev = cursor
            for item in page.entries:
                if item.cursor <= prev:
                    # Out of order, or again below the cursor: nothing a verified chain needs
                    # (a missing entry shows as a gap or against a checkpoint). Skipped.
                    continue
                prev = item.cursor
                intake.take(item)
            cursor = last
            done += len(page.entries)
            if intake.size >= COMMIT_ROWS or not page.more:
                # Never pin beyond where the server said it was this sync: an item claiming a
                # later cursor is taken, and asked for again next time (it dedupes).
                pin = cursor if server_cursor is None else min(cursor, server_cursor)
                _commit_entries(group, intake, pin, repin=behind)
            if progress is not None:
                progress(done, total)
            if not page.more:
                return intake


RECHECK: Final = 50
"""Quarantined records asked for again per sync, so a standing alarm resolves once the server
no longer serves the record (or serves one that verifies)."""


def _recheck(group: Group, api: ServerApi, intake: Intake) -> None:
    """Ask the server again for each quarantined record: gone means resolved (nothing of it was
    ever stored); a record that comes back is taken in again, to verify or stay an alarm.

    An equivocation is never resolved this way: the two signed entries for one place in an
    author's chain are evidence against that author's device, whatever the server does next.
    """
    standing = [
        (key, rec)
        for key, rec in intake.alarms.items()
        if key.startswith("entry:")
        and key in intake.kept_before
        and not rec.waiting
        and rec.entry_id is not None
        and rec.check != "equivocation"
    ]
    changed = False
    for key, rec in standing[:RECHECK]:
        assert rec.entry_id is not None
        try:
            item = api.entry(group._gid, rec.entry_id)
        except E.ServerNotFound:
            intake.resolve(key)
            changed = True
            continue
        except E.ServerError:
            return
        data = item.entry if item.entry is not None else item.stub
        if item_key(item.entry_id, data, item.retracted_by) != key:
            intake.resolve(key)  # what it serves now is another record: judge that one
            intake.take(item)
            changed = True
    if changed:
        _commit_entries(group, intake, group._load().pinned.cursor)


def _commit_entries(group: Group, intake: Intake, cursor: int, *, repin: bool = False) -> None:
    """Store what the intake verified, with its alarms and the pinned state, in one
    transaction."""
    snap = intake.snap
    store = group._store
    kept = store.alarms(group._gid)
    with store.write() as db:
        store.claim(db, group._gid, snap.version)
        store.add_entries(db, group._gid, intake.rows)
        for r in intake.updates.values():
            store.update_entry(db, group._gid, r)
        for key in kept.keys() - intake.alarms.keys():
            if not key.startswith(STATE_PREFIX):
                store.drop_alarm(db, group._gid, key)
        for key, rec in intake.alarms.items():
            if kept.get(key) != rec:
                store.put_alarm(db, group._gid, key, rec)
        pinned = msgspec.structs.replace(
            snap.pinned,
            cursor=cursor if repin else max(cursor, snap.pinned.cursor),
            entries=snap.pinned.entries + len(intake.rows),
            heads=[(h.device, h.seq, h.link) for h in snap.tracker.heads()],
            alarms=store.alarm_count(db, group._gid),
        )
        version = store.pin(db, group._gid, snap.version, pinned)
    snap.version, snap.pinned = version, pinned
    intake.rows, intake.updates = [], {}


def put_state_alarms(group: Group, found: dict[str, E.VerificationError]) -> None:
    """Replace the alarms about the group as a whole with those this sync `found`."""
    snap = group._load()
    store = group._store
    kept = store.alarms(group._gid)
    now = group._account.now()
    with store.write() as db:
        store.claim(db, group._gid, snap.version)
        for key in kept:
            if key.startswith(STATE_PREFIX) and key not in found:
                store.drop_alarm(db, group._gid, key)
        for key, err in found.items():
            old = kept.get(key)
            since = old.since if old is not None else now
            rec = record_of(err, waiting=False, since=since)
            if old != rec:
                store.put_alarm(db, group._gid, key, rec)
        pinned = msgspec.structs.replace(snap.pinned, alarms=store.alarm_count(db, group._gid))
        version = store.pin(db, group._gid, snap.version, pinned)
    snap.version, snap.pinned = version, pinned


def add_alarm(group: Group, key: str, err: E.VerificationError) -> None:
    """Keep one more alarm (a problem found outside a sync's intake)."""
    snap = group._load()
    store = group._store
    with store.write() as db:
        store.claim(db, group._gid, snap.version)
        store.put_alarm(
            db, group._gid, key, record_of(err, waiting=False, since=group._account.now())
        )
        pinned = msgspec.structs.replace(snap.pinned, alarms=store.alarm_count(db, group._gid))
        version = store.pin(db, group._gid, snap.version, pinned)
    snap.version, snap.pinned = version, pinned


def check_public(state: crypto.GroupState, item: crypto.Entry | crypto.EntryStub) -> bytes:
    """The public checks of this device's own entry (as the server acknowledged it)."""
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


def alarms(group: Group) -> tuple[Alarm, ...]:
    """Every alarm kept for the group, oldest first."""
    recs = group._store.alarms(group._gid).values()
    return tuple(alarm_of(r) for r in sorted(recs, key=lambda r: (r.since, r.cursor)))


def check_checkpoint(group: Group) -> E.VerificationError | None:
    """Every chain head a leader checkpointed (or recorded at a departure) must be here, and
    every entry here that a checkpoint should cover must be in it."""
    snap = group._load()
    withheld, differ = checkpoint_problems(group, snap)
    if differ:
        return E.EquivocationError(
            "; ".join(differ), check="checkpoint", record=_cp_record(snap.state)
        )
    if withheld:
        return E.WithheldError(
            "; ".join(withheld), check="checkpoint", record=_cp_record(snap.state)
        )
    return None


def checkpoint_problems(group: Group, snap: Snapshot) -> tuple[list[str], list[str]]:
    """(withheld, differing): heads a checkpoint or a departure lists that are not here, or
    differ; and entries here, written before a checkpoint, that it does not cover (§9)."""
    state, tracker = snap.state, snap.tracker
    names: dict[bytes, str] | None = None
    expected: list[tuple[crypto.ChainHead, str]] = []
    cp = state.checkpoint
    if cp is not None:
        expected += [(h, f"the checkpoint at log op {cp.seq}") for h in cp.heads]
    for d in state.devices.values():
        if d.final_head is not None:
            expected.append((d.final_head, "the departure op"))
    withheld: list[str] = []
    differ: list[str] = []

    def who(device: bytes) -> str:
        nonlocal names
        if names is None:
            names = group._names(snap)  # only to word a problem: opening names costs
        m = state.member_of_device(device)
        return display(m.id, names, group._me()) if m else device.hex()[:12]

    for head, source in expected:
        chain = tracker.links.get(head.device, {})
        mine = max(chain) if chain else 0
        if head.seq <= mine and (head.seq == 0 or hmac.compare_digest(chain[head.seq], head.link)):
            continue
        if head.seq > mine:
            withheld.append(
                f"{source} lists {head.seq} entries by {who(head.device)}, "
                f"but the server delivered only {mine} (withheld)"
            )
        else:
            differ.append(f"entry {head.seq} by {who(head.device)} differs from {source}")
    if cp is not None:
        # An honest server refuses an entry that claims a log head older than the latest
        # checkpoint, and a checkpoint that does not cover every entry it holds: an entry
        # here that claims a head before the checkpoint and lies beyond the head it lists
        # was withheld from the leader who signed it.
        listed = {h.device: h.seq for h in cp.heads}
        me = group._device().id
        for device, clocks in tracker.clocks.items():
            covered = listed.get(device, 0)
            missed = sorted(s for s, at in clocks.items() if s > covered and at < cp.seq)
            if missed:
                whose = "your" if device == me else f"{who(device)}'s"
                withheld.append(
                    f"the checkpoint at log op {cp.seq} does not cover {whose} entr"
                    f"{'y' if len(missed) == 1 else 'ies'} {', '.join(map(str, missed))}, "
                    "written before it: the server withheld them from the leader who signed it"
                )
    for device, d in state.devices.items():
        # The same for a departure: entries here beyond the final head it recorded were
        # written while their author was a member, and withheld from the leader who signed
        # the departure (an honest server refuses a departure that misses one).
        if d.final_head is None or d.departed_seq is None:
            continue
        beyond = sorted(s for s in tracker.clocks.get(device, {}) if s > d.final_head.seq)
        if beyond:
            withheld.append(
                f"the departure at log op {d.departed_seq} ends {who(device)}'s entries at "
                f"{d.final_head.seq}, but entr{'y' if len(beyond) == 1 else 'ies'} "
                f"{', '.join(map(str, beyond))} are here: the server withheld them from the "
                "leader who signed it"
            )
    return withheld, differ


def _rotation_epochs(state: crypto.GroupState, device: bytes) -> list[int]:
    return sorted(
        e
        for e, info in state.rotations.items()
        if any(r.device == device for r in info.rotation.refs)
    )


def _cp_record(state: crypto.GroupState) -> str | None:
    return None if state.checkpoint is None else f"log op {state.checkpoint.seq}"
