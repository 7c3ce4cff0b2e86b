"""Verified group state: the server's view of each roster, always equal to the signed log.

Authorization never comes from a table the server could edit: it comes from
replaying the group's log with `chatham.crypto.replay` (verify_public). Each
process keeps the newest verified state per group in memory and revalidates
it against the group row's (seq, head) inside every transaction that uses it,
so several processes sharing PostgreSQL never act on a stale roster. Cached
states are never mutated; an append verifies onto a copy.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass

import sqlalchemy as sa
from chatham.crypto import GroupState, LogError, Rotation, lockbox_hash

from .errors import ApiError
from .storage import schema as t
from .storage.db import Statement
from .wire import Lockbox


@dataclass(frozen=True)
class GroupRow:
    group_id: bytes
    seq: int
    head: bytes
    entry_cursor: int


_GROUP_ROW = sa.select(t.groups.c.seq, t.groups.c.head, t.groups.c.entry_cursor).where(
    t.groups.c.group_id == sa.bindparam("g")
)
_READ_GROUP_ROW = Statement(_GROUP_ROW)
_LOCK_GROUP_ROW = Statement(_GROUP_ROW.with_for_update())


def read_group_row(conn: sa.Connection, group_id: bytes, *, lock: bool = False) -> GroupRow | None:
    """The group's head pointer; with `lock`, the row is locked until the transaction ends."""
    row = (_LOCK_GROUP_ROW if lock else _READ_GROUP_ROW).first(conn, {"g": group_id})
    if row is None:
        return None
    seq, head, entry_cursor = row
    return GroupRow(group_id, seq, head, entry_cursor)


class StateCache:
    """The newest verified state per group, bounded (least recently used first out).

    Used from the event loop and from database threads, hence the lock; the
    states themselves are never mutated once cached.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._states: collections.OrderedDict[bytes, GroupState] = collections.OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def get(self, group_id: bytes) -> GroupState | None:
        with self._lock:
            st = self._states.get(group_id)
            if st is not None:
                self._states.move_to_end(group_id)
            return st

    def put(self, state: GroupState) -> None:
        with self._lock:
            current = self._states.get(state.group_id)
            # Never replace a newer state with an older one (another writer may have won).
            if current is not None and current.seq > state.seq:
                return
            self._states[state.group_id] = state
            self._states.move_to_end(state.group_id)
            while len(self._states) > self._capacity:
                self._states.popitem(last=False)

    def drop(self, group_id: bytes) -> None:
        with self._lock:
            self._states.pop(group_id, None)

    def clear(self) -> None:
        """Forget everything (after a failed commit, states read inside it may never have been)."""
        with self._lock:
            self._states.clear()

    def state_at(self, conn: sa.Connection, row: GroupRow, *, exact: bool = True) -> GroupState:
        """The verified state at the row's (seq, head), reading missing ops on `conn`.

        Writers need the state at exactly the head they locked. A reader may be
        given a newer verified state that extends the head it read (another
        coroutine committed in between): that is the roster as it now is.
        """
        cached = self.get(row.group_id)
        if cached is not None and cached.seq == row.seq and cached.head == row.head:
            return cached
        if (
            not exact
            and cached is not None
            and cached.seq > row.seq
            and cached.op_hashes[row.seq] == row.head
        ):
            return cached
        base: GroupState | None = None
        if cached is not None and cached.seq < row.seq:
            base = cached
        since = -1 if base is None else base.seq
        result = conn.execute(
            sa.select(t.log_ops.c.op)
            .where(
                t.log_ops.c.group_id == row.group_id,
                t.log_ops.c.seq > since,
                t.log_ops.c.seq <= row.seq,
            )
            .order_by(t.log_ops.c.seq)
        )
        state = GroupState() if base is None else base.copy()
        try:
            for (op,) in result:
                state.apply(op)
        except LogError as e:  # pragma: no cover - only a tampered database gets here
            raise ApiError(500, "internal_error", f"stored log does not verify: {e}") from e
        if state.seq != row.seq or state.head != row.head:  # pragma: no cover - same
            raise ApiError(500, "internal_error", "stored log does not match its head")
        self.put(state)
        return state


def current_state(states: StateCache, conn: sa.Connection, group_id: bytes) -> GroupState | None:
    """For readers: the group's verified state (or a newer cached one), None if no such group."""
    row = read_group_row(conn, group_id)
    return None if row is None else states.state_at(conn, row, exact=False)


def rotation_of(op_body: object) -> Rotation | None:
    """The rotation an op carries (rotate, add, remove), if any."""
    rot = getattr(op_body, "rotation", None)
    return rot if isinstance(rot, Rotation) else None


def check_lockboxes(
    group_id: bytes, rotation: Rotation | None, uploads: list[Lockbox]
) -> dict[bytes, bytes]:
    """The uploaded lockboxes must be exactly the rotation's refs, each hashing to its ref.

    The op commits to every lockbox by hash; storing one that does not match
    would let the server (or an uploader) hand a device a key nobody signed for.
    """
    if rotation is None:
        if uploads:
            raise ApiError(
                422,
                "invalid_lockboxes",
                "this op carries no rotation, so no lockboxes",
                field="lockboxes",
            )
        return {}
    by_device: dict[bytes, bytes] = {}
    for up in uploads:
        if up.device in by_device:
            raise ApiError(
                422, "invalid_lockboxes", "two lockboxes for one device", field="lockboxes"
            )
        by_device[up.device] = up.lockbox
    refs = {r.device: r.hash for r in rotation.refs}
    if set(by_device) != set(refs):
        raise ApiError(
            422,
            "invalid_lockboxes",
            "lockboxes must cover exactly the devices the rotation names",
            field="lockboxes",
        )
    for device, sealed in by_device.items():
        if lockbox_hash(group_id, rotation.epoch, device, sealed) != refs[device]:
            raise ApiError(
                422,
                "invalid_lockboxes",
                "a lockbox does not match the hash the op commits to",
                field="lockboxes",
            )
    return by_device
