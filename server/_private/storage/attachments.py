"""SQL for attachments and their chunks (write-once: the primary key refuses a second upload)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from . import schema as t


def _insert_ignore(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> None:
    """INSERT … ON CONFLICT DO NOTHING, in whichever dialect the connection speaks."""
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(table).values(**values).on_conflict_do_nothing())
    else:
        conn.execute(sqlite.insert(table).values(**values).on_conflict_do_nothing())


def claim(
    conn: sa.Connection, group_id: bytes, attachment_id: bytes, device: bytes, created: int
) -> bytes | None:
    """Record `device` as the uploader unless someone already is; the uploader, or None if the
    id was used by an attachment since deleted (an id is never claimed again)."""
    _insert_ignore(
        conn,
        t.attachments,
        {
            "group_id": group_id,
            "attachment_id": attachment_id,
            "device_id": device,
            "created": created,
            "finished": False,
        },
    )
    owner, deleted = conn.execute(
        sa.select(t.attachments.c.device_id, t.attachments.c.deleted).where(
            t.attachments.c.group_id == group_id, t.attachments.c.attachment_id == attachment_id
        )
    ).one()
    return None if deleted is not None else bytes(owner)


def uploader(conn: sa.Connection, group_id: bytes, attachment_id: bytes) -> bytes | None:
    """The uploading device of a live attachment (None if there is none, or it was deleted)."""
    owner: bytes | None = conn.execute(
        sa.select(t.attachments.c.device_id).where(
            t.attachments.c.group_id == group_id,
            t.attachments.c.attachment_id == attachment_id,
            t.attachments.c.deleted.is_(None),
        )
    ).scalar()
    return owner


def grow_stored_bytes(conn: sa.Connection, group_id: bytes, size: int, quota: int) -> bool:
    """Add `size` to the group's stored bytes unless that passes its quota (its own, if the
    operator set one, else `quota`); False if it would."""
    grown = conn.execute(
        sa.update(t.groups)
        .where(
            t.groups.c.group_id == group_id,
            t.groups.c.stored_bytes + size <= sa.func.coalesce(t.groups.c.quota, quota),
        )
        .values(stored_bytes=t.groups.c.stored_bytes + size)
    )
    return grown.rowcount == 1


def insert_chunk(
    conn: sa.Connection, group_id: bytes, attachment_id: bytes, index: int, data: bytes
) -> None:
    """Store a chunk (IntegrityError if this index is stored already)."""
    conn.execute(
        sa.insert(t.attachment_chunks).values(
            group_id=group_id, attachment_id=attachment_id, idx=index, data=data
        )
    )


def chunk(conn: sa.Connection, group_id: bytes, attachment_id: bytes, index: int) -> bytes | None:
    """The stored bytes of one chunk."""
    data: bytes | None = conn.execute(
        sa.select(t.attachment_chunks.c.data).where(
            t.attachment_chunks.c.group_id == group_id,
            t.attachment_chunks.c.attachment_id == attachment_id,
            t.attachment_chunks.c.idx == index,
        )
    ).scalar()
    return data


def chunk_count_and_size(
    conn: sa.Connection, group_id: bytes, attachment_id: bytes
) -> tuple[int, int] | None:
    """How many chunks the attachment has and their total bytes; None if there is no such
    attachment."""
    if uploader(conn, group_id, attachment_id) is None:
        return None
    count, size = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.func.length(t.attachment_chunks.c.data)), 0),
        ).where(
            t.attachment_chunks.c.group_id == group_id,
            t.attachment_chunks.c.attachment_id == attachment_id,
        )
    ).one()
    return int(count), int(size)


def delete_attachment(
    conn: sa.Connection, group_id: bytes, attachment_id: bytes, size: int, deleted: int
) -> None:
    """Delete the attachment's chunks, keep its id as a tombstone (never claimed again), and
    give its `size` back to the group's quota."""
    conn.execute(
        sa.delete(t.attachment_chunks).where(
            t.attachment_chunks.c.group_id == group_id,
            t.attachment_chunks.c.attachment_id == attachment_id,
        )
    )
    conn.execute(
        sa.update(t.attachments)
        .where(t.attachments.c.group_id == group_id, t.attachments.c.attachment_id == attachment_id)
        .values(deleted=deleted)
    )
    conn.execute(
        sa.update(t.groups)
        .where(t.groups.c.group_id == group_id)
        .values(stored_bytes=t.groups.c.stored_bytes - size)
    )


def name_entry(conn: sa.Connection, group_id: bytes, attachment_id: bytes, entry_id: bytes) -> None:
    """Mark a live attachment finished: `entry_id` is the entry that refers to it."""
    a = t.attachments.c
    conn.execute(
        sa.update(t.attachments)
        .where(a.group_id == group_id, a.attachment_id == attachment_id, a.deleted.is_(None))
        .values(entry_id=entry_id, finished=True)
    )


def unfinished(conn: sa.Connection, created_before: int) -> list[tuple[bytes, bytes]]:
    """(group, attachment) of live uploads that no entry has named, created before the time."""
    a = t.attachments.c
    rows = conn.execute(
        sa.select(a.group_id, a.attachment_id).where(
            a.finished.is_(False), a.created < created_before, a.deleted.is_(None)
        )
    ).all()
    return [(bytes(g), bytes(i)) for g, i in rows]


def unfinished_of(conn: sa.Connection, group_id: bytes, devices: list[bytes]) -> list[bytes]:
    """The live uploads of these devices in the group that no entry has named."""
    a = t.attachments.c
    rows = conn.execute(
        sa.select(a.attachment_id).where(
            a.group_id == group_id,
            a.device_id.in_(devices),
            a.finished.is_(False),
            a.deleted.is_(None),
        )
    ).all()
    return [bytes(r[0]) for r in rows]


def listing(
    conn: sa.Connection, group_id: bytes, after: bytes, limit: int
) -> list[tuple[bytes, bytes, bytes | None, int, int]]:
    """(attachment, uploader, entry named or None, chunks, bytes) of the group's live
    attachments with ids after `after`, in id order, at most `limit`."""
    a, c = t.attachments.c, t.attachment_chunks.c
    rows = conn.execute(
        sa.select(
            a.attachment_id,
            a.device_id,
            a.entry_id,
            sa.func.count(c.idx),
            sa.func.coalesce(sa.func.sum(sa.func.length(c.data)), 0),
        )
        .select_from(
            t.attachments.outerjoin(
                t.attachment_chunks,
                sa.and_(c.group_id == a.group_id, c.attachment_id == a.attachment_id),
            )
        )
        .where(a.group_id == group_id, a.attachment_id > after, a.deleted.is_(None))
        .group_by(a.attachment_id, a.device_id, a.entry_id)
        .order_by(a.attachment_id)
        .limit(limit)
    ).all()
    return [
        (bytes(i), bytes(d), None if e is None else bytes(e), int(n), int(size))
        for i, d, e, n, size in rows
    ]
