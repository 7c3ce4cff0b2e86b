"""Groups, the group log and lockboxes.

Appending is compare-and-swap twice over: the request names the head it
extends (409 `stale_head` otherwise, with the current head), and the insert
into `log_ops` relies on the primary key (group_id, seq), so when two
processes race for one seq exactly one insert succeeds. Every op is verified
with the protocol's public verifier before it is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import sqlalchemy as sa
from chatham.crypto import GroupState, LogError
from litestar import Request, Response, Router, get, post
from litestar.params import JSONBody, Parameter
from sqlalchemy.exc import IntegrityError

from ..access import log_limit, require_active
from ..auth import CallerDep, DeviceDep, ServicesDep, hash_token
from ..errors import ApiError, not_a_member, responses
from ..groups import GroupRow, check_lockboxes, current_state, read_group_row, rotation_of
from ..http import negotiate, path_id
from ..storage import schema as t
from ..wire import AppendOp, CreateGroup, DeviceLockbox, GroupInfo, Head, LockboxPage, LogPage

GroupIdParam = Annotated[
    str, Parameter(description="The group id: unpadded base64url of 32 bytes (43 characters).")
]


def _invalid_op(e: LogError) -> ApiError:
    return ApiError(422, "invalid_op", str(e), check=e.check, seq=e.seq)


def _store_op(
    conn: sa.Connection,
    group_id: bytes,
    seq: int,
    h: bytes,
    op: bytes,
    lockboxes: dict[bytes, bytes],
    epoch: int,
) -> None:
    conn.execute(sa.insert(t.log_ops).values(group_id=group_id, seq=seq, op_hash=h, op=op))
    if lockboxes:
        conn.execute(
            sa.insert(t.lockboxes),
            [
                {"group_id": group_id, "epoch": epoch, "device_id": d, "seq": seq, "lockbox": lb}
                for d, lb in sorted(lockboxes.items())
            ],
        )


@post(
    "/",
    summary="Create a group",
    description=(
        "ops = [genesis] or [genesis, first op] (normally the founder's rotate); lockboxes for "
        "the rotation's refs. The caller must be the founder's device. Needs open registration "
        "or an operator registration token."
    ),
    status_code=201,
    responses=responses(400, 401, 403, 409, 413, 422, 429),
    security=[{"bearer": []}],
)
async def create_group(
    data: JSONBody[CreateGroup], device: DeviceDep, services: ServicesDep
) -> Head:
    state = GroupState()
    applied = []
    try:
        for op in data.ops:
            applied.append(state.apply(op))
    except LogError as e:
        raise _invalid_op(e) from None
    if applied[0].op.signer != device:
        raise ApiError(403, "not_founder", "a group is created by its founder's device")
    rotation = rotation_of(applied[-1].op.body) if len(applied) > 1 else None
    lockboxes = check_lockboxes(state.group_id, rotation, data.lockboxes)
    settings = services.settings
    now = settings.now()
    if not settings.open_registration and data.registration_token is None:
        raise ApiError(
            403,
            "registration_required",
            "this server needs an operator's registration token to create a group",
            field="registration_token",
        )

    def work(conn: sa.Connection) -> None:
        if data.registration_token is not None and not settings.open_registration:
            used = conn.execute(
                sa.update(t.registration_tokens)
                .where(
                    t.registration_tokens.c.token_hash == hash_token(data.registration_token),
                    t.registration_tokens.c.uses_left > 0,
                    t.registration_tokens.c.expires >= now,
                )
                .values(uses_left=t.registration_tokens.c.uses_left - 1)
            )
            if used.rowcount != 1:
                raise ApiError(
                    403,
                    "invalid_registration_token",
                    "the registration token is unknown, used up or expired",
                    field="registration_token",
                )
        conn.execute(
            sa.insert(t.groups).values(
                group_id=state.group_id,
                seq=state.seq,
                head=state.head,
                entry_cursor=0,
                stored_bytes=0,
                created=settings.blurred_now(),
            )
        )
        for a in applied:
            boxes = lockboxes if rotation is not None and a is applied[-1] else {}
            epoch = rotation.epoch if rotation else 0
            _store_op(conn, state.group_id, a.seq, a.hash, a.data, boxes, epoch)

    try:
        await services.db.write(work)
    except IntegrityError:
        raise ApiError(409, "group_exists", "a group with this genesis already exists") from None
    services.states.put(state)
    return Head(state.group_id, state.seq, state.head)


@get(
    "/{group_id:str}",
    summary="Group head, epoch and entry cursor (members)",
    responses=responses(400, 401, 403, 429),
    security=[{"bearer": []}],
)
async def group_info(group_id: GroupIdParam, device: DeviceDep, services: ServicesDep) -> GroupInfo:
    gid = path_id(group_id, 32, "group_id")

    def work(conn: sa.Connection) -> tuple[GroupRow | None, GroupState | None]:
        row = read_group_row(conn, gid)
        return row, None if row is None else services.states.state_at(conn, row, exact=False)

    row, state = await services.db.read(work)
    state = require_active(state, device)
    assert row is not None
    return GroupInfo(
        gid, state.seq, state.head, state.epoch, state.pending_rotation, row.entry_cursor
    )


@get(
    "/{group_id:str}/log",
    summary="Read the group log",
    description=(
        "Ops with since < seq <= the newest op the caller may read, oldest first, at most "
        "`limit`. `since` defaults to -1 (from genesis). Members read everything; a departed "
        "member up to and including their departure op; an invitee token the whole log while "
        "the invite is live. Accept: application/msgpack for a msgpack page."
    ),
    responses=responses(400, 401, 403, 429),
    security=[{"bearer": []}],
)
async def read_log(
    request: Request[Any, Any, Any],
    group_id: GroupIdParam,
    caller: CallerDep,
    services: ServicesDep,
    since: Annotated[int, Parameter(ge=-1, le=2**62)] = -1,
    limit: Annotated[int | None, Parameter(ge=1, le=100_000)] = None,
) -> Response[LogPage]:
    gid = path_id(group_id, 32, "group_id")
    page = min(limit or services.settings.page_limit, services.settings.page_limit)
    now = services.settings.now()

    def work(conn: sa.Connection) -> tuple[GroupState, int, Sequence[Any]]:
        row = read_group_row(conn, gid)
        state = None if row is None else services.states.state_at(conn, row, exact=False)
        until = log_limit(state, caller, gid, now)
        assert state is not None
        assert row is not None
        until = min(until, row.seq)
        rows = conn.execute(
            sa.select(t.log_ops.c.seq, t.log_ops.c.op)
            .where(t.log_ops.c.group_id == gid, t.log_ops.c.seq > since, t.log_ops.c.seq <= until)
            .order_by(t.log_ops.c.seq)
            .limit(page)
        ).all()
        return state, until, rows

    state, until, rows = await services.db.read(work)
    last = rows[-1].seq if rows else max(since, -1)
    body = LogPage(
        gid,
        [r.op for r in rows],
        until,
        state.op_hashes[until],
        more=last < until,
    )
    return negotiate(request, body)


@post(
    "/{group_id:str}/log",
    summary="Append an op",
    description=(
        "Appends `op` if the log's head is still (expected_seq, expected_head): otherwise 409 "
        "stale_head with the current seq and head. The op is verified (422 invalid_op naming the "
        "check); `lockboxes` must be exactly the rotation's refs."
    ),
    status_code=201,
    responses=responses(400, 401, 403, 409, 413, 422, 429),
    security=[{"bearer": []}],
)
async def append_op(
    group_id: GroupIdParam, data: JSONBody[AppendOp], device: DeviceDep, services: ServicesDep
) -> Head:
    gid = path_id(group_id, 32, "group_id")
    now = services.settings.now()

    def work(conn: sa.Connection) -> GroupState:
        row = read_group_row(conn, gid, lock=True)
        if row is None:
            raise not_a_member()
        state = require_active(services.states.state_at(conn, row), device)
        if data.expected_seq != row.seq or data.expected_head != row.head:
            raise _stale(row.seq, row.head)
        new = state.copy()
        try:
            applied = new.apply(data.op)
        except LogError as e:
            raise _invalid_op(e) from None
        rotation = rotation_of(applied.op.body)
        lockboxes = check_lockboxes(gid, rotation, data.lockboxes)
        epoch = rotation.epoch if rotation else 0
        _store_op(conn, gid, applied.seq, applied.hash, data.op, lockboxes, epoch)
        moved = conn.execute(
            sa.update(t.groups)
            .where(t.groups.c.group_id == gid, t.groups.c.seq == row.seq)
            .values(seq=applied.seq, head=applied.hash)
        )
        if moved.rowcount != 1:  # pragma: no cover - the primary key already decided
            raise IntegrityError("groups", None, Exception("head moved"))
        _drop_dead_join_requests(conn, gid, new, now)
        return new

    try:
        new = await services.db.write(work)
    except IntegrityError:
        # Another writer won this seq between our read and our insert.
        current = await services.db.read(lambda conn: read_group_row(conn, gid))
        assert current is not None
        raise _stale(current.seq, current.head) from None
    services.states.put(new)
    services.hub.notify(gid)
    return Head(gid, new.seq, new.head)


def _stale(seq: int, head: bytes) -> ApiError:
    return ApiError(
        409,
        "stale_head",
        "the log has moved on; fetch the new ops, rebuild the op and retry",
        seq=seq,
        head=head,
    )


def _drop_dead_join_requests(conn: sa.Connection, gid: bytes, state: GroupState, now: int) -> None:
    rows = conn.execute(
        sa.select(t.join_requests.c.invite_id).where(t.join_requests.c.group_id == gid)
    ).all()
    dead = [r.invite_id for r in rows if not state.invite_usable(r.invite_id, now)]
    if dead:
        conn.execute(
            sa.delete(t.join_requests).where(
                t.join_requests.c.group_id == gid, t.join_requests.c.invite_id.in_(dead)
            )
        )


@get(
    "/{group_id:str}/lockboxes",
    summary="This device's lockboxes",
    description="The caller's own lockboxes for epochs > since_epoch, oldest first.",
    responses=responses(400, 401, 403, 429),
    security=[{"bearer": []}],
)
async def read_lockboxes(
    request: Request[Any, Any, Any],
    group_id: GroupIdParam,
    device: DeviceDep,
    services: ServicesDep,
    since_epoch: Annotated[int, Parameter(ge=0, le=2**62)] = 0,
) -> Response[LockboxPage]:
    gid = path_id(group_id, 32, "group_id")

    def work(conn: sa.Connection) -> list[DeviceLockbox]:
        require_active(current_state(services.states, conn, gid), device)
        result = conn.execute(
            sa.select(t.lockboxes.c.epoch, t.lockboxes.c.seq, t.lockboxes.c.lockbox)
            .where(
                t.lockboxes.c.group_id == gid,
                t.lockboxes.c.device_id == device,
                t.lockboxes.c.epoch > since_epoch,
            )
            .order_by(t.lockboxes.c.epoch)
        )
        return [DeviceLockbox(r.epoch, r.seq, r.lockbox) for r in result]

    boxes = await services.db.read(work)
    return negotiate(request, LockboxPage(boxes))


groups_router = Router(
    path="/v1/groups",
    route_handlers=[create_group, group_info, read_log, append_op, read_lockboxes],
    tags=["groups"],
)
