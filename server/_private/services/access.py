"""Who may touch a group, decided from the verified log state only.

Non-members get 403 `not_a_member` for every read and write, and so does
anyone asking about a group that does not exist (no existence oracle). The two
exceptions the protocol needs are here: an invitee's token reads the log while
its invite is live (unused, unexpired, issuer still a leader), and a departed
device reads the log up to and including its departure op.
"""

from __future__ import annotations

import sqlalchemy as sa
from chatham.crypto import GroupState

from ..errors import ErrorCode, ServiceError, not_a_member
from ..rosters import current_state
from ..runtime import Runtime
from ..storage.groups import GroupRow, read_group_row
from .tokens import Caller


def require_active(state: GroupState | None, device: bytes) -> GroupState:
    if state is None or not state.is_active_device(device):
        raise not_a_member()
    return state


def active_member(runtime: Runtime, conn: sa.Connection, gid: bytes, device: bytes) -> GroupState:
    """For readers: the group's verified state, if `device` is an active member's (else 403)."""
    return require_active(current_state(runtime.states, conn, gid), device)


def active_writer(
    runtime: Runtime, conn: sa.Connection, gid: bytes, device: bytes
) -> tuple[GroupRow, GroupState]:
    """For writers: the group row, locked until the transaction ends, and the verified state at
    exactly that head, if `device` is an active member's (else 403)."""
    row = read_group_row(conn, gid, lock=True)
    if row is None:
        raise not_a_member()
    return row, require_active(runtime.states.state_at(conn, row), device)


async def warm(runtime: Runtime, gid: bytes) -> None:
    """Before a write: when the group's roster is not cached, replay its log in a reader
    thread, so that the writing transaction (on SQLite, the one writer every write of the
    process waits for) applies at most the ops appended since, never a whole log."""
    if runtime.states.get(gid) is None:
        await runtime.db.read(lambda conn: current_state(runtime.states, conn, gid))


def require_leader(state: GroupState | None, device: bytes) -> GroupState:
    state = require_active(state, device)
    if not state.is_leader_device(device):
        raise ServiceError(ErrorCode.NOT_A_LEADER, "only a leader's device may do this")
    return state


def log_limit(state: GroupState | None, caller: Caller, group_id: bytes, now: int) -> int:
    """The highest log seq this caller may read, or 403."""
    if state is None:
        raise not_a_member()
    if caller.device_id is not None:
        # Decided per device: a member added again comes back on a new device, and their old
        # one stays departed.
        device = state.devices.get(caller.device_id)
        if device is None:
            raise not_a_member()
        if state.is_active_device(caller.device_id):
            return state.seq
        if device.departed_seq is None:  # pragma: no cover - a device is active or departed
            raise not_a_member()
        # A departed device may verify its own departure, and nothing after it.
        return device.departed_seq
    if caller.group_id != group_id or caller.invite_id is None:
        raise not_a_member()
    # Once the invite is used (the invitee was added) the device logs in as itself.
    if not state.invite_usable(caller.invite_id, now):
        raise ServiceError(
            ErrorCode.INVITE_NOT_USABLE,
            "the invite was used or revoked, has expired or is dead",
        )
    return state.seq
