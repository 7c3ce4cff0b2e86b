"""The verified roster of each group, cached per process and always equal to the signed log.

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

import sqlalchemy as sa
from chatham.crypto import GroupState, LogError

from .errors import ErrorCode, ServiceError
from .storage.groups import GroupRow, ops_between, read_group_row


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
        state = GroupState() if base is None else base.copy()
        try:
            for op in ops_between(conn, row.group_id, since, row.seq):
                state.apply(op)
        except LogError as e:  # pragma: no cover - only a tampered database gets here
            detail = f"stored log does not verify: {e}"
            raise ServiceError(ErrorCode.INTERNAL_ERROR, detail) from e
        if state.seq != row.seq or state.head != row.head:  # pragma: no cover - same
            raise ServiceError(ErrorCode.INTERNAL_ERROR, "stored log does not match its head")
        self.put(state)
        return state


def current_state(states: StateCache, conn: sa.Connection, group_id: bytes) -> GroupState | None:
    """For readers: the group's verified state (or a newer cached one), None if no such group."""
    row = read_group_row(conn, group_id)
    return None if row is None else states.state_at(conn, row, exact=False)
