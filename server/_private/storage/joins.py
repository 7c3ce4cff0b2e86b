"""SQL for join requests (one row per invite, the primary key (group, invite) refusing a
second) and for the invite index, which says which group published an invite id."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from . import schema as t


def insert_join_request(
    conn: sa.Connection, group_id: bytes, invite_id: bytes, request: bytes, created: int
) -> None:
    """Store a request (IntegrityError if one for this invite exists)."""
    conn.execute(
        sa.insert(t.join_requests).values(
            group_id=group_id, invite_id=invite_id, request=request, created=created
        )
    )


def join_requests(conn: sa.Connection, group_id: bytes) -> list[tuple[bytes, bytes]]:
    """Every stored request of the group as (invite_id, request), by invite id."""
    rows = conn.execute(
        sa.select(t.join_requests.c.invite_id, t.join_requests.c.request)
        .where(t.join_requests.c.group_id == group_id)
        .order_by(t.join_requests.c.invite_id)
    ).all()
    return [(r.invite_id, r.request) for r in rows]


def requested_invites(conn: sa.Connection, group_id: bytes) -> list[bytes]:
    """The invite ids the group has requests for."""
    rows = conn.execute(
        sa.select(t.join_requests.c.invite_id).where(t.join_requests.c.group_id == group_id)
    ).all()
    return [r.invite_id for r in rows]


def groups_with_requests(conn: sa.Connection) -> list[bytes]:
    """Every group holding at least one join request."""
    rows = conn.execute(sa.select(t.join_requests.c.group_id).distinct()).all()
    return [r.group_id for r in rows]


def delete_join_requests(conn: sa.Connection, group_id: bytes, invites: Sequence[bytes]) -> None:
    conn.execute(
        sa.delete(t.join_requests).where(
            t.join_requests.c.group_id == group_id, t.join_requests.c.invite_id.in_(invites)
        )
    )


def add_invite(conn: sa.Connection, group_id: bytes, invite_id: bytes) -> None:
    """Index an invite op's id under its group (a second group may hold the same id)."""
    conn.execute(sa.insert(t.invites).values(invite_id=invite_id, group_id=group_id))


def invite_groups(conn: sa.Connection, invite_id: bytes) -> list[bytes]:
    """The groups whose log holds an invite op with this id, by group id."""
    rows = conn.execute(
        sa.select(t.invites.c.group_id)
        .where(t.invites.c.invite_id == invite_id)
        .order_by(t.invites.c.group_id)
    ).all()
    return [r.group_id for r in rows]
