"""Routes of login: challenge, device token, invitee token (`services.login`)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, post
from litestar.params import JSONBody

from ..guards import ServicesDep, client_key
from ..openapi import responses
from ..services import login
from ..wire import Challenge, InviteTokenRequest, Token, TokenRequest


@post(
    "/challenge",
    summary="Get a login challenge",
    description="A random single-use challenge to sign for /v1/auth/token or /v1/auth/invite-token",
    status_code=200,
    responses=responses(429),
)
async def challenge(request: Request[Any, Any, Any], services: ServicesDep) -> Challenge:
    return await login.new_challenge(services, client_key(request))


@post(
    "/token",
    summary="Log in as a device",
    description=(
        "signature = Sign(device_sk, SIG_AUTH, frame(server_id, 'login', challenge)), server_id "
        "being this server's identity from /v1/auth/challenge (clients pin it per server)."
    ),
    status_code=200,
    responses=responses(400, 401, 429),
)
async def token(
    request: Request[Any, Any, Any], data: JSONBody[TokenRequest], services: ServicesDep
) -> Token:
    return await login.device_login(services, client_key(request), data)


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
    return await login.invitee_login(services, client_key(request), data)


auth_router = Router(
    path="/v1/auth", route_handlers=[challenge, token, invite_token], tags=["auth"]
)
