"""Login: challenge → Ed25519 signature bound to (host, action, challenge) → bearer token.

An account is a device signing key; the server learns nothing else. Challenges
are random, single-use (consumed by an atomic DELETE) and expire after
`challenge_ttl`. Tokens are 32 random bytes, handed out once and stored only as
a hash, and expire after `token_ttl`. An invitee trades a signature from the
invite's join key for a token that can read that one group's log.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from chatham.crypto import (
    CryptoError,
    InviteError,
    device_id,
    labels,
    verify_auth,
    verify_join_read,
)
from litestar import Request, Router, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from .errors import ApiError, responses
from .groups import current_state
from .services import CachedToken, Services
from .storage import schema as t
from .wire import Challenge, InviteTokenRequest, Token, TokenRequest

ServicesDep = NamedDependency[Services]
"""The per-process services (injected by name: `services`)."""

LOGIN_ACTION = "login"
CHALLENGE_LEN = 32
TOKEN_LEN = 32


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


CallerDep = NamedDependency[Caller]
"""Whoever the bearer token names (injected by name: `caller`)."""
DeviceDep = NamedDependency[bytes]
"""The logged-in device's id; 403 for invitee tokens (injected by name: `device`)."""


def client_key(request: Request[Any, Any, Any]) -> str:
    """The client address, used only as an in-memory rate-limit key and never stored."""
    return request.client.host if request.client else "unknown"


def login_host(request: Request[Any, Any, Any], services: ServicesDep) -> str:
    """The host a login signature must name: the configured public host, else the Host header."""
    if services.settings.public_host:
        return services.settings.public_host
    return request.headers.get("host", "")


async def provide_services(request: Request[Any, Any, Any]) -> Services:
    services: ServicesDep = request.app.state.services
    return services


def _authorization(request: Request[Any, Any, Any]) -> str:
    """The first Authorization header, as `request.headers.get` gives it (latin-1), read
    straight from the ASGI scope: building Litestar's `Headers` for it cost ~6% of an entry
    post's event-loop time."""
    for name, value in request.scope["headers"]:
        if name.lower() == b"authorization":
            return value.decode("latin-1")
    return ""


async def provide_caller(request: Request[Any, Any, Any], services: ServicesDep) -> Caller:
    header = _authorization(request)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "a bearer token is required (POST /v1/auth/token)")
    h = hash_token(token.strip())
    now = services.settings.now()
    cached = services.tokens.get(h)
    if cached is None or cached.expires < now:
        query = sa.select(
            t.tokens.c.device_id, t.tokens.c.group_id, t.tokens.c.invite_id, t.tokens.c.expires
        ).where(t.tokens.c.token_hash == h)
        row = await services.db.read(lambda conn: conn.execute(query).first(), inline=True)
        if row is None or row.expires < now:
            raise ApiError(
                401, "invalid_token", "the token is unknown or has expired; log in again"
            )
        cached = CachedToken(row.device_id, row.group_id, row.invite_id, row.expires)
        if len(services.tokens) > 50_000:
            services.tokens.clear()
        services.tokens[h] = cached
    key = cached.device_id if cached.device_id is not None else h
    services.limiter.hit(("device", key), services.settings.rate_device)
    return Caller(cached.device_id, cached.group_id, cached.invite_id, cached.expires)


def device_of(caller: Caller) -> bytes:
    """The caller's device id; invitee tokens may not use device endpoints."""
    if caller.device_id is None:
        raise ApiError(403, "device_token_required", "this endpoint needs a device login")
    return caller.device_id


async def provide_device(request: Request[Any, Any, Any], services: ServicesDep) -> bytes:
    """The caller's device id, checked like `caller` (one dependency fewer per request).

    A handler takes `device` or `caller`, never both: each checks the token and spends
    one rate-limit token.
    """
    return device_of(await provide_caller(request, services))


DEPENDENCIES = {
    "services": Provide(provide_services),
    "caller": Provide(provide_caller),
    "device": Provide(provide_device),
}


async def _new_challenge(services: Services) -> Challenge:
    challenge = secrets.token_bytes(CHALLENGE_LEN)
    expires = services.settings.now() + services.settings.challenge_ttl
    insert = sa.insert(t.auth_challenges).values(challenge=challenge, expires=expires)
    await services.db.batch(lambda conn: conn.execute(insert))
    return Challenge(challenge, expires)


async def _consume_challenge(services: Services, challenge: bytes) -> None:
    now = services.settings.now()
    delete = sa.delete(t.auth_challenges).where(
        t.auth_challenges.c.challenge == challenge, t.auth_challenges.c.expires >= now
    )
    deleted = await services.db.batch(lambda conn: conn.execute(delete).rowcount)
    # Single use: only the request whose DELETE removed the row may proceed.
    if deleted != 1:
        raise ApiError(401, "invalid_challenge", "the challenge is unknown, used or expired")


async def _issue_token(
    services: Services,
    *,
    device: bytes | None = None,
    group: bytes | None = None,
    invite: bytes | None = None,
) -> Token:
    token = new_token()
    expires = services.settings.now() + services.settings.token_ttl
    insert = sa.insert(t.tokens).values(
        token_hash=hash_token(token),
        device_id=device,
        group_id=group,
        invite_id=invite,
        expires=expires,
    )
    await services.db.batch(lambda conn: conn.execute(insert))
    return Token(token, expires, device)


@post(
    "/challenge",
    summary="Get a login challenge",
    description="A random single-use challenge to sign for /v1/auth/token or /v1/auth/invite-token",
    status_code=200,
    responses=responses(429),
)
async def challenge(request: Request[Any, Any, Any], services: ServicesDep) -> Challenge:
    services.limiter.hit(("auth", client_key(request)), services.settings.rate_auth)
    return await _new_challenge(services)


@post(
    "/token",
    summary="Log in as a device",
    description=(
        "signature = Sign(device_sk, SIG_AUTH, frame(host, 'login', challenge)), host being the "
        "server's public host (or the Host header the client sends)."
    ),
    status_code=200,
    responses=responses(400, 401, 429),
)
async def token(
    request: Request[Any, Any, Any], data: JSONBody[TokenRequest], services: ServicesDep
) -> Token:
    services.limiter.hit(("auth", client_key(request)), services.settings.rate_auth)
    host = login_host(request, services)
    try:
        verify_auth(data.device_key, host, LOGIN_ACTION, data.challenge, data.signature)
    except CryptoError:
        raise ApiError(
            401, "bad_signature", "the signature does not verify for this key, host and challenge"
        ) from None
    await _consume_challenge(services, data.challenge)
    return await _issue_token(services, device=device_id(data.device_key))


@post(
    "/invite-token",
    summary="Log in as an invitee",
    description=(
        "signature = Sign(join_sk, SIG_JOIN_READ, frame(group, invite_id, challenge)). The token "
        "reads that group's log while the invite is live."
    ),
    status_code=200,
    responses=responses(400, 401, 403, 429),
)
async def invite_token(
    request: Request[Any, Any, Any], data: JSONBody[InviteTokenRequest], services: ServicesDep
) -> Token:
    services.limiter.hit(("auth", client_key(request)), services.settings.rate_auth)
    services.limiter.hit(("join", data.group_id), services.settings.rate_join)
    now = services.settings.now()
    state = await services.db.read(lambda conn: current_state(services.states, conn, data.group_id))
    invite = None if state is None else state.invites.get(data.invite_id)
    if state is None or invite is None or not state.invite_usable(data.invite_id, now):
        raise ApiError(403, "invite_not_usable", "no live invite with this id in this group")
    try:
        verify_join_read(
            invite.join_key, data.group_id, data.invite_id, data.challenge, data.signature
        )
    except InviteError:
        raise ApiError(401, "bad_signature", "the join-key signature does not verify") from None
    await _consume_challenge(services, data.challenge)
    return await _issue_token(services, group=data.group_id, invite=data.invite_id)


auth_router = Router(
    path="/v1/auth", route_handlers=[challenge, token, invite_token], tags=["auth"]
)
