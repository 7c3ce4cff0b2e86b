"""SQL for the operator's commands: sizes and counts per group, a group's quota, deleting a
group, registration tokens. Nothing here reads ciphertext or a signed record's contents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from . import schema as t


@dataclass(frozen=True)
class GroupStats:
    """One group as the operator sees it: sizes and counts, never content."""

    group_id: bytes
    created: int
    log_ops: int
    entries: int
    retracted: int
    attachments: int
    chunks: int
    stored_bytes: int
    quota: int | None
    pending_joins: int


def _counts(conn: sa.Connection, column: Any, *where: Any) -> dict[bytes, int]:
    query = sa.select(column, sa.func.count()).where(*where).group_by(column)
    return {bytes(g): int(n) for g, n in conn.execute(query).all()}


def group_stats(conn: sa.Connection, group_id: bytes | None = None) -> list[GroupStats]:
    """Every group (or one), by group id."""
    g = t.groups.c
    query = sa.select(g.group_id, g.created, g.seq, g.stored_bytes, g.quota).order_by(g.group_id)
    if group_id is not None:
        query = query.where(g.group_id == group_id)
    groups = conn.execute(query).all()
    e, a, c, j = t.entries.c, t.attachments.c, t.attachment_chunks.c, t.join_requests.c
    entries = _counts(conn, e.group_id)
    retracted = _counts(conn, e.group_id, e.retracted_by.is_not(None))
    attachments = _counts(conn, a.group_id, a.deleted.is_(None))
    chunks = _counts(conn, c.group_id)
    joins = _counts(conn, j.group_id)
    return [
        GroupStats(
            group_id=bytes(row.group_id),
            created=int(row.created),
            log_ops=int(row.seq) + 1,
            entries=entries.get(bytes(row.group_id), 0),
            retracted=retracted.get(bytes(row.group_id), 0),
            attachments=attachments.get(bytes(row.group_id), 0),
            chunks=chunks.get(bytes(row.group_id), 0),
            stored_bytes=int(row.stored_bytes),
            quota=None if row.quota is None else int(row.quota),
            pending_joins=joins.get(bytes(row.group_id), 0),
        )
        for row in groups
    ]


def set_quota(conn: sa.Connection, group_id: bytes, quota: int | None) -> bool:
    """Give the group a quota of its own (None: the server's again); False if no such group."""
    done = conn.execute(
        sa.update(t.groups).where(t.groups.c.group_id == group_id).values(quota=quota)
    )
    return done.rowcount == 1


GROUP_TABLES = (
    t.attachment_chunks,
    t.attachments,
    t.entries,
    t.lockboxes,
    t.join_requests,
    t.invites,
    t.tokens,
    t.log_ops,
    t.groups,
)
"""Every table holding rows of a group, children first."""


def delete_group(conn: sa.Connection, group_id: bytes) -> dict[str, int]:
    """Delete every row of the group (its invitee tokens too); rows deleted per table."""
    deleted = {}
    for table in GROUP_TABLES:
        done = conn.execute(sa.delete(table).where(table.c.group_id == group_id))
        deleted[table.name] = done.rowcount
    return deleted


def registration_tokens(conn: sa.Connection) -> list[tuple[bytes, int, int]]:
    """(token hash, uses left, expires) of every registration token."""
    r = t.registration_tokens.c
    rows = conn.execute(sa.select(r.token_hash, r.uses_left, r.expires).order_by(r.expires))
    return [(bytes(h), int(u), int(x)) for h, u, x in rows.all()]


def revoke_registration_tokens(conn: sa.Connection, hashes: list[bytes]) -> int:
    """Delete these registration tokens; how many there were."""
    if not hashes:
        return 0
    r = t.registration_tokens
    return int(conn.execute(sa.delete(r).where(r.c.token_hash.in_(hashes))).rowcount)
