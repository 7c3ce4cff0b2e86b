"""SQL for the group log: the head row, the ops, the lockboxes they commit to.

The group row is the head pointer every writer locks: an append compares and
swaps it, and entry posts take their cursor from it, so a rotation and an entry
cannot pass each other. The primary key (group_id, seq) of `log_ops` lets exactly
one append win per sequence number, whichever process inserts first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from . import schema as t
from .statements import Statement


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


def insert_group(
    conn: sa.Connection, group_id: bytes, seq: int, head: bytes, created: int, founder: bytes
) -> None:
    """A new group row at (seq, head), with no entries and nothing stored."""
    conn.execute(
        sa.insert(t.groups).values(
            group_id=group_id,
            seq=seq,
            head=head,
            entry_cursor=0,
            stored_bytes=0,
            created=created,
            founder=founder,
        )
    )


def founded_by(conn: sa.Connection, device: bytes) -> int:
    """How many groups this device created."""
    found = conn.execute(
        sa.select(sa.func.count()).select_from(t.groups).where(t.groups.c.founder == device)
    ).scalar()
    return int(found or 0)


def move_head(conn: sa.Connection, group_id: bytes, seq: int, new_seq: int, head: bytes) -> bool:
    """Move the head from `seq` to (new_seq, head); False if it was no longer at `seq`."""
    moved = conn.execute(
        sa.update(t.groups)
        .where(t.groups.c.group_id == group_id, t.groups.c.seq == seq)
        .values(seq=new_seq, head=head)
    )
    return moved.rowcount == 1


def store_op(
    conn: sa.Connection,
    group_id: bytes,
    seq: int,
    op_hash: bytes,
    op: bytes,
    lockboxes: dict[bytes, bytes],
    epoch: int,
) -> None:
    """Insert the op at `seq` (IntegrityError if another took it) and its lockboxes."""
    conn.execute(sa.insert(t.log_ops).values(group_id=group_id, seq=seq, op_hash=op_hash, op=op))
    if lockboxes:
        conn.execute(
            sa.insert(t.lockboxes),
            [
                {"group_id": group_id, "epoch": epoch, "device_id": d, "seq": seq, "lockbox": lb}
                for d, lb in sorted(lockboxes.items())
            ],
        )


def ops_between(conn: sa.Connection, group_id: bytes, since: int, until: int) -> Iterable[bytes]:
    """The ops with `since < seq <= until`, oldest first."""
    result = conn.execute(
        sa.select(t.log_ops.c.op)
        .where(
            t.log_ops.c.group_id == group_id,
            t.log_ops.c.seq > since,
            t.log_ops.c.seq <= until,
        )
        .order_by(t.log_ops.c.seq)
    )
    return (op for (op,) in result)


def _log_range(
    column: sa.ColumnElement[Any], group_id: bytes, since: int, until: int, limit: int
) -> sa.Select[tuple[int, Any]]:
    """(seq, `column`) of at most `limit` ops with `since < seq <= until`, oldest first."""
    return (
        sa.select(t.log_ops.c.seq, column)
        .where(
            t.log_ops.c.group_id == group_id,
            t.log_ops.c.seq > since,
            t.log_ops.c.seq <= until,
        )
        .order_by(t.log_ops.c.seq)
        .limit(limit)
    )


def log_sizes(
    conn: sa.Connection, group_id: bytes, since: int, until: int, limit: int
) -> list[tuple[int, int]]:
    """(seq, op bytes) of at most `limit` ops with `since < seq <= until`, oldest first."""
    length = sa.func.length(t.log_ops.c.op)
    rows = conn.execute(_log_range(length, group_id, since, until, limit)).all()
    return [(int(seq), int(size)) for seq, size in rows]


def log_page(
    conn: sa.Connection, group_id: bytes, since: int, until: int, limit: int
) -> Sequence[Any]:
    """At most `limit` rows (seq, op) with `since < seq <= until`, oldest first."""
    return conn.execute(_log_range(t.log_ops.c.op, group_id, since, until, limit)).all()


def device_lockboxes(
    conn: sa.Connection, group_id: bytes, device: bytes, since_epoch: int
) -> list[tuple[int, int, bytes]]:
    """The device's own lockboxes (epoch, seq, lockbox) for epochs > since_epoch, oldest first."""
    result = conn.execute(
        sa.select(t.lockboxes.c.epoch, t.lockboxes.c.seq, t.lockboxes.c.lockbox)
        .where(
            t.lockboxes.c.group_id == group_id,
            t.lockboxes.c.device_id == device,
            t.lockboxes.c.epoch > since_epoch,
        )
        .order_by(t.lockboxes.c.epoch)
    )
    return [(r.epoch, r.seq, r.lockbox) for r in result]


def add_lockbox(
    conn: sa.Connection, group_id: bytes, epoch: int, device: bytes, seq: int, lockbox: bytes
) -> None:
    """Store a lockbox a heal brings back, unless one is held for (epoch, device)."""
    lb = t.lockboxes.c
    held = conn.execute(
        sa.select(lb.seq).where(lb.group_id == group_id, lb.epoch == epoch, lb.device_id == device)
    ).first()
    if held is None:
        conn.execute(
            sa.insert(t.lockboxes).values(
                group_id=group_id, epoch=epoch, device_id=device, seq=seq, lockbox=lockbox
            )
        )
