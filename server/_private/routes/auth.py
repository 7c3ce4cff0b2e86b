"""Routes of login: challenge, device token, invitee token (`services.login`)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, post
from litestar.params import JSONBody

from ..guards import ServicesDep, client_key
from ..lean_route import LeanRoute
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


async def _token(data: JSONBody[TokenRequest], services: ServicesDep) -> Token:
    return await login.device_login(services, data)


token = post(
    "/token",
    summary="Log in as a device",
    description=(
        "signature = Sign(device_sk, SIG_AUTH, frame(server_id, 'login', challenge)), server_id "
        "being this server's identity from /v1/auth/challenge (clients pin it per server)."
    ),
    status_code=200,
    responses=responses(400, 401, 413, 429),
    # LeanRoute: the per-address limit before the body is read, the body capped and typed.
    middleware=[LeanRoute(_token, TokenRequest)],
)(_token)


async def _invite_token(data: JSONBody[InviteTokenRequest], services: ServicesDep) -> Token:
    return await login.invitee_login(services, data)


invite_token = post(
    "/invite-token",
    summary="Log in as an invitee",
    description=(
        "signature = Sign(join_sk, SIG_JOIN_READ, frame(group, invite_id, challenge)). The token "
        "reads that group's log while the invite is live."
    ),
    status_code=200,
    responses=responses(400, 401, 403, 413, 429),
    middleware=[LeanRoute(_invite_token, InviteTokenRequest)],
)(_invite_token)


auth_router = Router(
    path="/v1/auth", route_handlers=[challenge, token, invite_token], tags=["auth"]
)
