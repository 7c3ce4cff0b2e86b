"""Bearer tokens: minted as random strings, stored only as hashes, resolved to their caller.

A token found in the database is remembered by this process until it expires
(`Runtime.tokens`); tokens are never revoked early, only deleted once expired, so
this changes nothing a request may do.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from chatham.crypto import labels

from ..errors import ErrorCode, ServiceError
from ..runtime import CachedToken, Runtime
from ..storage import credentials

TOKEN_LEN = 32
TOKEN_CACHE_MAX = 50_000
"""Remembered tokens at most; past it the cache starts again empty (tokens are re-read)."""


def hash_token(token: str) -> bytes:
    """Tokens are stored as SHA-256 under the protocol's token label, never in the clear."""
    return hashlib.sha256(labels.H_TOKEN + b"\x00" + token.encode()).digest()


def new_token() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_LEN)).rstrip(b"=").decode()


@dataclass(frozen=True)
class Caller:
    """Who is asking: a device, or an invitee allowed to read one group's log."""

    device_id: bytes | None
    group_id: bytes | None
    invite_id: bytes | None
    expires: int


async def resolve(runtime: Runtime, token: str) -> Caller:
    """The caller a bearer token names (401 if none), after spending one of its rate tokens."""
    h = hash_token(token)
    now = runtime.settings.now()
    cached = runtime.tokens.get(h)
    if cached is None or cached.expires < now:
        # One indexed row: read on the event loop (Database.read).
        row = await runtime.db.read(lambda conn: credentials.find_token(conn, h), inline=True)
        if row is None or row.expires < now:
            raise ServiceError(
                ErrorCode.INVALID_TOKEN, "the token is unknown or has expired; log in again"
            )
        cached = CachedToken(row.device_id, row.group_id, row.invite_id, row.expires)
        if len(runtime.tokens) > TOKEN_CACHE_MAX:
            runtime.tokens.clear()
        runtime.tokens[h] = cached
    key = cached.device_id if cached.device_id is not None else h
    await runtime.limiter.hit(("device", key), runtime.settings.rate_device)
    return Caller(cached.device_id, cached.group_id, cached.invite_id, cached.expires)


def device_of(caller: Caller) -> bytes:
    """The caller's device id; invitee tokens may not use device endpoints."""
    if caller.device_id is None:
        raise ServiceError(ErrorCode.DEVICE_TOKEN_REQUIRED, "this endpoint needs a device login")
    return caller.device_id


async def issue(
    runtime: Runtime,
    *,
    device: bytes | None = None,
    group: bytes | None = None,
    invite: bytes | None = None,
) -> tuple[str, int]:
    """A fresh token for a device (or an invitee of one group) and when it expires."""
    token = new_token()
    expires = runtime.settings.now() + runtime.settings.token_ttl
    h = hash_token(token)
    await runtime.db.batch(
        lambda conn: credentials.insert_token(
            conn, h, device=device, group=group, invite=invite, expires=expires
        )
    )
    return token, expires
