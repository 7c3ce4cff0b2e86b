"""SQL for device links (one row per link mailbox, each slot written once) and for the
escrows of recovery kits (one per kit device)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from . import schema as t


@dataclass(frozen=True)
class LinkRow:
    link_id: bytes
    creator: bytes
    verifier: bytes
    expires: int
    offer: bytes | None
    request: bytes | None
    handover: bytes | None
    done: bool


def insert_link(
    conn: sa.Connection, link_id: bytes, creator: bytes, verifier: bytes, expires: int, offer: bytes
) -> None:
    """Store a new link (IntegrityError if its id exists)."""
    conn.execute(
        sa.insert(t.device_links).values(
            link_id=link_id,
            creator=creator,
            verifier=verifier,
            expires=expires,
            offer=offer,
            done=0,
        )
    )


def read_link(conn: sa.Connection, link_id: bytes) -> LinkRow | None:
    c = t.device_links.c
    r = conn.execute(sa.select(t.device_links).where(c.link_id == link_id)).first()
    if r is None:
        return None
    return LinkRow(
        r.link_id, r.creator, r.verifier, r.expires, r.offer, r.request, r.handover, bool(r.done)
    )


def open_links(conn: sa.Connection, creator: bytes, now: int) -> int:
    """How many live links this device has open."""
    c = t.device_links.c
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(t.device_links)
            .where(c.creator == creator, c.expires >= now, c.done == 0)
        ).scalar_one()
    )


def set_slot(conn: sa.Connection, link_id: bytes, slot: str, data: bytes) -> bool:
    """Write `slot` once; False when it was already written (the row is unchanged)."""
    c = t.device_links.c
    column = c[slot]
    done = conn.execute(
        sa.update(t.device_links)
        .where(c.link_id == link_id, column.is_(None), c.done == 0)
        .values({slot: data})
    )
    return done.rowcount == 1


def close_link(conn: sa.Connection, link_id: bytes) -> None:
    """The link is spent: its slots are dropped, the row stays (so a reuse says so) until
    it expires."""
    conn.execute(
        sa.update(t.device_links)
        .where(t.device_links.c.link_id == link_id)
        .values(offer=None, request=None, handover=None, done=1)
    )


def delete_link(conn: sa.Connection, link_id: bytes) -> None:
    conn.execute(sa.delete(t.device_links).where(t.device_links.c.link_id == link_id))


def purge_links(conn: sa.Connection, before: int) -> None:
    conn.execute(sa.delete(t.device_links).where(t.device_links.c.expires < before))


# --- recovery kit escrows -------------------------------------------------------------------


def put_escrow(conn: sa.Connection, device: bytes, escrow: bytes, now: int) -> None:
    """Store (or replace) the escrow of a kit's device."""
    c = t.escrows.c
    conn.execute(sa.delete(t.escrows).where(c.device_id == device))
    conn.execute(sa.insert(t.escrows).values(device_id=device, escrow=escrow, updated=now))


def read_escrow(conn: sa.Connection, device: bytes) -> bytes | None:
    c = t.escrows.c
    row = conn.execute(sa.select(c.escrow).where(c.device_id == device)).first()
    return None if row is None else bytes(row.escrow)


def delete_escrows(conn: sa.Connection, devices: list[bytes]) -> None:
    if devices:
        conn.execute(sa.delete(t.escrows).where(t.escrows.c.device_id.in_(devices)))
