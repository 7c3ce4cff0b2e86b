"""SQL for what lets someone in: login challenges, bearer tokens, registration tokens.

Tokens are stored only as hashes; a challenge is consumed by deleting it, so
only the one request whose DELETE removed the row may use it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from . import schema as t


def server_id(conn: sa.Connection, fresh: bytes) -> bytes:
    """This server's identity: the stored one, or `fresh`, stored now (the first start)."""
    found: bytes | None = conn.execute(
        sa.select(t.server_identity.c.server_id).where(t.server_identity.c.id == 1)
    ).scalar()
    if found is not None:
        return bytes(found)
    conn.execute(sa.insert(t.server_identity).values(id=1, server_id=fresh))
    return fresh


def insert_challenge(conn: sa.Connection, challenge: bytes, expires: int) -> None:
    conn.execute(sa.insert(t.auth_challenges).values(challenge=challenge, expires=expires))


def consume_challenge(conn: sa.Connection, challenge: bytes, now: int) -> bool:
    """Delete the challenge if it is live; True if this call deleted it."""
    deleted = conn.execute(
        sa.delete(t.auth_challenges).where(
            t.auth_challenges.c.challenge == challenge, t.auth_challenges.c.expires >= now
        )
    )
    return deleted.rowcount == 1


def insert_token(
    conn: sa.Connection,
    token_hash: bytes,
    *,
    device: bytes | None,
    group: bytes | None,
    invite: bytes | None,
    expires: int,
) -> None:
    conn.execute(
        sa.insert(t.tokens).values(
            token_hash=token_hash,
            device_id=device,
            group_id=group,
            invite_id=invite,
            expires=expires,
        )
    )


_TOKEN = sa.select(
    t.tokens.c.device_id, t.tokens.c.group_id, t.tokens.c.invite_id, t.tokens.c.expires
).where(t.tokens.c.token_hash == sa.bindparam("h"))


def find_token(conn: sa.Connection, token_hash: bytes) -> Any:
    """The token's row (device_id, group_id, invite_id, expires), or None."""
    return conn.execute(_TOKEN, {"h": token_hash}).first()


def insert_registration_token(
    conn: sa.Connection, token_hash: bytes, uses: int, expires: int
) -> None:
    conn.execute(
        sa.insert(t.registration_tokens).values(
            token_hash=token_hash, uses_left=uses, expires=expires
        )
    )


def spend_registration_token(conn: sa.Connection, token_hash: bytes, now: int) -> bool:
    """Take one use of a live registration token; False if it is unknown, used up or expired."""
    used = conn.execute(
        sa.update(t.registration_tokens)
        .where(
            t.registration_tokens.c.token_hash == token_hash,
            t.registration_tokens.c.uses_left > 0,
            t.registration_tokens.c.expires >= now,
        )
        .values(uses_left=t.registration_tokens.c.uses_left - 1)
    )
    return used.rowcount == 1


def purge_expired(conn: sa.Connection, now: int) -> None:
    """Delete expired challenges and tokens, and used-up registration tokens."""
    conn.execute(sa.delete(t.auth_challenges).where(t.auth_challenges.c.expires < now))
    conn.execute(sa.delete(t.tokens).where(t.tokens.c.expires < now))
    conn.execute(
        sa.delete(t.registration_tokens).where(
            sa.or_(
                t.registration_tokens.c.expires < now,
                t.registration_tokens.c.uses_left <= 0,
            )
        )
    )
