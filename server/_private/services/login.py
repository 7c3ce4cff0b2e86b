"""Login: challenge → Ed25519 signature bound to (server id, action, challenge) → bearer token.

An account is a device signing key; the server learns nothing else. Challenges
are random, single-use (consumed by an atomic DELETE) and expire after
`challenge_ttl`. A signature is checked before its challenge is consumed, so a
bad signature spends nothing. An invitee trades a signature from the invite's
join key for a token that can read that one group's log.
"""

from __future__ import annotations

import secrets

from chatham.crypto import CryptoError, InviteError, device_id, verify_auth, verify_join_read
from sqlalchemy.exc import IntegrityError

from ..errors import ErrorCode, ServiceError
from ..rosters import current_state
from ..runtime import Runtime
from ..storage import credentials
from ..wire import Challenge, InviteTokenRequest, Token, TokenRequest
from . import tokens

LOGIN_ACTION = "login"
CHALLENGE_LEN = 32


async def _limit_logins(runtime: Runtime, client: str) -> None:
    """Per client address, in memory only: the address is never stored."""
    await runtime.limiter.hit(("auth", client), runtime.settings.rate_auth)


async def server_identity(runtime: Runtime) -> bytes:
    """This server's identity, made on its first start and kept in its database (every process
    on one database shares it)."""
    fresh = secrets.token_bytes(32)
    try:
        return await runtime.db.write(lambda conn: credentials.server_id(conn, fresh))
    except IntegrityError:  # another worker stored its identity first: use that one
        return await runtime.db.write(lambda conn: credentials.server_id(conn, fresh))


async def new_challenge(runtime: Runtime, client: str) -> Challenge:
    """A random single-use challenge to sign, with this server's identity, and its expiry."""
    await _limit_logins(runtime, client)
    challenge = secrets.token_bytes(CHALLENGE_LEN)
    expires = runtime.settings.now() + runtime.settings.challenge_ttl
    await runtime.db.batch(lambda conn: credentials.insert_challenge(conn, challenge, expires))
    return Challenge(challenge, expires, runtime.server_id)


async def _consume_challenge(runtime: Runtime, challenge: bytes) -> None:
    now = runtime.settings.now()
    consumed = await runtime.db.batch(
        lambda conn: credentials.consume_challenge(conn, challenge, now)
    )
    # Single use: only the request whose DELETE removed the row may proceed.
    if not consumed:
        raise ServiceError(ErrorCode.INVALID_CHALLENGE, "the challenge is unknown, used or expired")


async def device_login(runtime: Runtime, data: TokenRequest) -> Token:
    """A device token for a signature over (this server's id, "login", challenge) by the
    device key (the route spent the caller's per-address allowance before reading the body)."""
    try:
        verify_auth(
            data.device_key, runtime.server_id, LOGIN_ACTION, data.challenge, data.signature
        )
    except CryptoError:
        raise ServiceError(
            ErrorCode.BAD_SIGNATURE,
            "the signature does not verify for this key, this server and challenge",
        ) from None
    await _consume_challenge(runtime, data.challenge)
    device = device_id(data.device_key)
    token, expires = await tokens.issue(runtime, device=device)
    return Token(token, expires, device)


async def invitee_login(runtime: Runtime, data: InviteTokenRequest) -> Token:
    """A token that reads one group's log while the invite is live, for a join-key signature.

    The group's join allowance is spent only once the signature verifies: a stranger who
    knows the group id cannot empty it with garbage and lock the real invitee out."""
    now = runtime.settings.now()
    state = await runtime.db.read(lambda conn: current_state(runtime.states, conn, data.group_id))
    invite = None if state is None else state.invites.get(data.invite_id)
    if state is None or invite is None or not state.invite_usable(data.invite_id, now):
        raise ServiceError(ErrorCode.INVITE_NOT_USABLE, "no live invite with this id in this group")
    try:
        verify_join_read(
            invite.join_key, data.group_id, data.invite_id, data.challenge, data.signature
        )
    except InviteError:
        raise ServiceError(
            ErrorCode.BAD_SIGNATURE, "the join-key signature does not verify"
        ) from None
    await runtime.limiter.hit(("join", data.group_id), runtime.settings.rate_join)
    await _consume_challenge(runtime, data.challenge)
    token, expires = await tokens.issue(runtime, group=data.group_id, invite=data.invite_id)
    return Token(token, expires)
