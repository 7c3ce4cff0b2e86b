"""The dependencies every route may take: the runtime, the caller, the device.

Injected by name: `services` (the process's `Runtime`), `caller` (whoever the bearer
token names) and `device` (the logged-in device; 403 for invitee tokens). A handler
takes `device` or `caller`, never both: each checks the token and spends one
rate-limit token.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide

from .errors import ErrorCode, ServiceError
from .runtime import Runtime
from .services import tokens
from .services.tokens import Caller, device_of

ServicesDep = NamedDependency[Runtime]
"""The per-process runtime (injected by name: `services`)."""
CallerDep = NamedDependency[Caller]
"""Whoever the bearer token names (injected by name: `caller`)."""
STREAM = "chatham_stream"
"""A route's `opt` flag: its answer is a long-lived stream, which holds no place in flight."""
DeviceDep = NamedDependency[bytes]
"""The logged-in device's id; 403 for invitee tokens (injected by name: `device`)."""


async def provide_services(request: Request[Any, Any, Any]) -> Runtime:
    runtime: Runtime = request.app.state.services
    return runtime


def _authorization(request: Request[Any, Any, Any]) -> str:
    """The first Authorization header, as `request.headers.get` gives it (latin-1), read
    straight from the ASGI scope: every authenticated request needs this one header, and
    none of the others Litestar's `Headers` would build (docs/performance.md)."""
    for name, value in request.scope["headers"]:
        if name.lower() == b"authorization":
            return value.decode("latin-1")
    return ""


async def provide_caller(request: Request[Any, Any, Any], services: ServicesDep) -> Caller:
    """The caller, who then holds one of its places in flight (`inflight`) until the answer
    is sent, except on an event stream (capped on its own)."""
    scheme, _, token = _authorization(request).partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ServiceError(
            ErrorCode.UNAUTHORIZED, "a bearer token is required (POST /v1/auth/token)"
        )
    caller = await tokens.resolve(services, token.strip())
    if not request.route_handler.opt.get(STREAM):
        key = caller.device_id or (caller.group_id, caller.invite_id)
        services.inflight.hold(request.scope, key, services.settings.max_device_requests)
    return caller


async def provide_device(request: Request[Any, Any, Any], services: ServicesDep) -> bytes:
    """The caller's device id, checked like `caller` (one dependency fewer per request)."""
    return device_of(await provide_caller(request, services))


def client_key(request: Request[Any, Any, Any]) -> str:
    """The client address, used only as an in-memory rate-limit key and never stored.

    Behind a trusted proxy (`Settings.trusted_proxies`) it is the nearest address in
    X-Forwarded-For that is not itself a trusted proxy; from anyone else the header is
    ignored, so a client cannot pick its own key by sending one."""
    peer = request.client.host if request.client else "unknown"
    proxies: frozenset[str] = request.app.state.settings.proxies
    if peer not in proxies:
        return peer
    hops: list[str] = []
    for name, value in request.scope["headers"]:
        if name.lower() == b"x-forwarded-for":
            hops += [h.strip() for h in value.decode("latin-1").split(",")]
    for hop in reversed(hops):
        if hop and hop not in proxies:
            return hop
    return peer


DEPENDENCIES = {
    "services": Provide(provide_services),
    "caller": Provide(provide_caller),
    "device": Provide(provide_device),
}
