"""The group log service: a group's creation, its ops, the lockboxes its ops commit to.

Appending is compare-and-swap twice over: the request names the head it
extends (409 `stale_head` otherwise, with the current head), and the insert
into `log_ops` relies on the primary key (group_id, seq), so when two
processes race for one seq exactly one insert succeeds. Every op is verified
with the protocol's public verifier before it is stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from chatham.crypto import Checkpoint, GroupState, Invite, LogError, OpBody, pinned_heads
from sqlalchemy.exc import IntegrityError

from ..errors import ErrorCode, ServiceError, not_a_member
from ..runtime import Runtime
from ..settings import Settings
from ..storage import credentials, joins, links
from ..storage import groups as store
from ..storage.entries import chain_heads as entry_store_heads
from ..wire import (
    AppendOp,
    ChainHeadItem,
    CreateGroup,
    DeviceLockbox,
    GroupInfo,
    Head,
    LockboxPage,
    LogPage,
)
from .access import active_member, active_writer, log_limit, require_active, warm
from .attachments import drop_departed_uploads
from .entry_pages import page_cut
from .joins import drop_dead_join_requests
from .lockboxes import check_lockboxes, rotation_of
from .tokens import Caller, hash_token
from .upkeep import schedule_scrub


def invalid_op(e: LogError) -> ServiceError:
    return ServiceError(ErrorCode.INVALID_OP, str(e), check=e.check, seq=e.seq)


OP_CLOCK_SKEW = 3600
"""How far ahead of this server's clock an op may be dated: op times are how clients bound
how stale their view is (docs/protocol.md §9.1), so no op may be dated in the future."""


def stale_head(seq: int, head: bytes) -> ServiceError:
    return ServiceError(
        ErrorCode.STALE_HEAD,
        "the log has moved on; fetch the new ops, rebuild the op and retry",
        seq=seq,
        head=head,
    )


async def create_group(runtime: Runtime, device: bytes, data: CreateGroup) -> Head:
    """Verify the genesis (and its first op), spend a registration token, store the group."""
    state = GroupState()
    applied = []
    not_after = runtime.settings.now() + OP_CLOCK_SKEW
    try:
        for op in data.ops:
            applied.append(state.apply(op, not_after=not_after))
    except LogError as e:
        raise invalid_op(e) from None
    if applied[0].op.signer != device:
        raise ServiceError(ErrorCode.NOT_FOUNDER, "a group is created by its founder's device")
    rotation = rotation_of(applied[-1].op.body) if len(applied) > 1 else None
    lockboxes = check_lockboxes(state.group_id, rotation, data.lockboxes)
    settings = runtime.settings
    now = settings.now()
    require_registration(settings, data.registration_token)

    def work(conn: sa.Connection) -> None:
        spend_registration(conn, settings, data.registration_token, device, now)
        store.insert_group(
            conn, state.group_id, state.seq, state.head, settings.blurred_now(), device
        )
        for a in applied:
            boxes = lockboxes if rotation is not None and a is applied[-1] else {}
            epoch = rotation.epoch if rotation else 0
            store.store_op(conn, state.group_id, a.seq, a.hash, a.data, boxes, epoch)

    try:
        await runtime.db.write(work)
    except IntegrityError:
        raise ServiceError(
            ErrorCode.GROUP_EXISTS, "a group with this genesis already exists"
        ) from None
    runtime.states.put(state)
    return Head(state.group_id, state.seq, state.head)


async def lost_race(runtime: Runtime, gid: bytes) -> ServiceError:
    """Another writer took a log position between our read and our insert: `stale_head`
    with the group's head now (`not_a_member` if the group went meanwhile)."""
    current = await runtime.db.read(lambda conn: store.read_group_row(conn, gid))
    if current is None:
        return not_a_member()
    return stale_head(current.seq, current.head)


def follow_roster(
    runtime: Runtime, conn: sa.Connection, gid: bytes, old: GroupState, new: GroupState, now: int
) -> int:
    """In the transaction that moves the group's log from `old` to `new` (an append, or a
    heal that brings ops back): what the new roster ends goes with it. A departed device's
    recovery escrow is deleted (removing a kit's device, in any group, revokes the kit:
    docs/protocol.md §5.5) and its unfinished uploads too; join requests whose invites died
    are pending no more. How many uploads went (the caller schedules the scrub once
    committed)."""
    departed = [d for d in old.devices if old.is_active_device(d) and not new.is_active_device(d)]
    links.delete_escrows(conn, departed)
    drop_dead_join_requests(conn, gid, new, now)
    return drop_departed_uploads(runtime, conn, gid, departed)


def require_registration(settings: Settings, token: str | None) -> None:
    """Before anything else: a server with closed registration creates groups with a token."""
    if not settings.open_registration and token is None:
        raise ServiceError(
            ErrorCode.REGISTRATION_REQUIRED,
            "this server needs an operator's registration token to create a group",
            field="registration_token",
        )


def spend_registration(
    conn: sa.Connection, settings: Settings, token: str | None, device: bytes, now: int
) -> None:
    """In the creating transaction: an operator's token counts for itself; under open
    registration a device may create `max_groups_per_device` groups (each with a full
    quota), no more. (A group a heal creates again counts as a creation.)"""
    if token is not None and not settings.open_registration:
        if not credentials.spend_registration_token(conn, hash_token(token), now):
            raise ServiceError(
                ErrorCode.INVALID_REGISTRATION_TOKEN,
                "the registration token is unknown, used up or expired",
                field="registration_token",
            )
        return
    most = settings.max_groups_per_device
    if most and store.founded_by(conn, device) >= most:
        raise ServiceError(
            ErrorCode.NOT_ALLOWED,
            f"a device creates at most {most} groups on this server "
            "without an operator's registration token",
        )


async def group_info(runtime: Runtime, gid: bytes, device: bytes) -> GroupInfo:
    """The head, epoch and entry cursor, for active members."""

    def work(conn: sa.Connection) -> tuple[store.GroupRow | None, GroupState | None]:
        row = store.read_group_row(conn, gid)
        return row, None if row is None else runtime.states.state_at(conn, row, exact=False)

    row, state = await runtime.db.read(work)
    state = require_active(state, device)
    assert row is not None
    return GroupInfo(
        gid, state.seq, state.head, state.epoch, state.pending_rotation, row.entry_cursor
    )


async def read_log(
    runtime: Runtime, gid: bytes, caller: Caller, since: int, limit: int | None
) -> LogPage:
    """The ops after `since` up to the newest the caller may read (`access.log_limit`), at
    most `page_limit` of them and about `PAGE_BYTES` (`more` says whether to ask again)."""
    page = min(limit or runtime.settings.page_limit, runtime.settings.page_limit)
    now = runtime.settings.now()

    def work(
        conn: sa.Connection,
    ) -> tuple[GroupState, int, list[tuple[int, bytes]], int | None, list[ChainHeadItem] | None]:
        row = store.read_group_row(conn, gid)
        state = None if row is None else runtime.states.state_at(conn, row, exact=False)
        until = log_limit(state, caller, gid, now)
        assert state is not None
        assert row is not None
        until = min(until, row.seq)
        # Sizes first: a page of large ops is cut at `PAGE_BYTES` before any of it is loaded.
        sizes = store.log_sizes(conn, gid, since, until, page)
        take, _ = page_cut([size for _, size in sizes])
        rows = store.log_page(conn, gid, since, sizes[take - 1][0], page) if take else []
        active = caller.device_id is not None and state.is_active_device(caller.device_id)
        last = rows[-1].seq if rows else max(since, -1)
        heads = None
        if active and last >= until:
            # Read in the same transaction as the cursor: every head a client verified before
            # this sync is at or below these (the server only grows), or the server went back.
            held = entry_store_heads(conn, gid)
            heads = [ChainHeadItem(d, s, link) for d, (s, link) in sorted(held.items())]
        cursor = row.entry_cursor if active else None
        return state, until, [(r.seq, r.op) for r in rows], cursor, heads

    state, until, rows, entry_cursor, heads = await runtime.db.read(work)
    last = rows[-1][0] if rows else max(since, -1)
    return LogPage(
        gid,
        [op for _, op in rows],
        until,
        state.op_hashes[until],
        more=last < until,
        entry_cursor=entry_cursor,
        heads=heads,
    )


async def append_op(runtime: Runtime, gid: bytes, device: bytes, data: AppendOp) -> Head:
    """Verify the op onto the head the caller named, store it with its lockboxes, move the
    head; a race lost to another writer is `stale_head`."""
    now = runtime.settings.now()
    await warm(runtime, gid)

    def work(conn: sa.Connection) -> tuple[GroupState, int]:
        row, state = active_writer(runtime, conn, gid, device)
        if data.expected_seq != row.seq or data.expected_head != row.head:
            raise stale_head(row.seq, row.head)
        new = state.copy()
        try:
            applied = new.apply(data.op, not_after=now + OP_CLOCK_SKEW)
        except LogError as e:
            raise invalid_op(e) from None
        rotation = rotation_of(applied.op.body)
        lockboxes = check_lockboxes(gid, rotation, data.lockboxes)
        _check_pinned_heads(conn, gid, applied.op.body)
        epoch = rotation.epoch if rotation else 0
        store.store_op(conn, gid, applied.seq, applied.hash, data.op, lockboxes, epoch)
        if isinstance(applied.op.body, Invite):
            joins.add_invite(conn, gid, applied.op.body.invite_id)
        moved = store.move_head(conn, gid, row.seq, applied.seq, applied.hash)
        if not moved:  # pragma: no cover - the primary key already decided
            raise IntegrityError("groups", None, Exception("head moved"))
        return new, follow_roster(runtime, conn, gid, state, new, now)

    try:
        new, dropped = await runtime.db.write(work)
    except IntegrityError:
        raise await lost_race(runtime, gid) from None
    runtime.states.put(new)
    runtime.hub.notify(gid)
    if dropped:
        schedule_scrub(runtime)
    return Head(gid, new.seq, new.head)


def _check_pinned_heads(conn: sa.Connection, gid: bytes, body: OpBody) -> None:
    """An op that pins chain heads must pin the chains as the server holds them (409
    `stale_heads` otherwise: sync and rebuild), so that no entry the server accepted is
    left beyond a departure's final head or outside a checkpoint (docs/protocol.md §5.2)."""
    if isinstance(body, Checkpoint):
        listed = {h.device: (h.seq, h.link) for h in body.heads if h.seq > 0}
        held = entry_store_heads(conn, gid)
        if listed != held:
            raise _stale_heads()
        return
    heads = pinned_heads(body)
    if not heads:
        return
    held = entry_store_heads(conn, gid)
    for h in heads:
        if held.get(h.device, (0, bytes(32))) != (h.seq, h.link):
            raise _stale_heads()


def _stale_heads() -> ServiceError:
    return ServiceError(
        ErrorCode.STALE_HEADS,
        "the op pins chain heads that differ from the entries this server holds; "
        "fetch the new entries, rebuild the op and retry",
    )


async def read_lockboxes(
    runtime: Runtime, gid: bytes, device: bytes, since_epoch: int
) -> LockboxPage:
    """The calling device's own lockboxes for epochs after `since_epoch`, for active members."""

    def work(conn: sa.Connection) -> list[DeviceLockbox]:
        active_member(runtime, conn, gid, device)
        found = store.device_lockboxes(conn, gid, device, since_epoch)
        return [DeviceLockbox(epoch, seq, lockbox) for epoch, seq, lockbox in found]

    return LockboxPage(await runtime.db.read(work))
