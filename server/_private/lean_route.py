"""`LeanRoute`: the hottest write (an entry post) served with less framework work per request.

Used as `@post(..., middleware=[LeanRoute(fn, Body)])(fn)`: Litestar still routes the
request, documents the route in OpenAPI from `fn`'s signature, and turns whatever is
raised into the usual error body. For this one method of this one route, instead of
Litestar's per-request machinery (signature model, dependency injection, response
assembly: a large share of a bare request, docs/performance.md) the handler function
is called directly with the four arguments it takes, obtained the same way:

- `device`: `provide_device`, the same token check and rate limit as every route;
- `data`: the body, read through Litestar's `Request.body()` (same size cap, same 413),
  decoded into `body` by msgspec (`bodies.decode_body`: the 400s Litestar's validation
  gives);
- the path parameters as Litestar parsed them, and `services` (`provide_services`).

The token is checked before the body is read or parsed. The body is decoded strictly,
where Litestar converts leniently (`"5"` for an int); the two agree for fields of bytes
or str, so only such bodies are accepted. Whatever else Litestar would do for a route
(guards, hooks, response headers, CSRF, compression, allowed hosts, other middleware)
this path would skip: `LeanRoute.verify(app)` refuses to build an app where a lean
route has any of it.
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable
from typing import Any, cast

import msgspec
from litestar import Litestar, Request, Response
from litestar.di import Provide
from litestar.exceptions import ImproperlyConfiguredException
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from .bodies import decode_body
from .guards import provide_device, provide_services


class LeanRoute:
    """Route middleware that calls the handler function directly (see the module docstring)."""

    def __init__(
        self, fn: Callable[..., Awaitable[Response[Any]]], body: type[msgspec.Struct]
    ) -> None:
        for field in msgspec.structs.fields(body):
            kind = field.type
            while typing.get_origin(kind) is typing.Annotated:
                kind = typing.get_args(kind)[0]
            if kind not in (bytes, str):
                raise TypeError(
                    f"LeanRoute bodies hold bytes or str only: {body.__name__}.{field.name}"
                )
        self._fn = fn
        self._decoder = msgspec.json.Decoder(body)

    @staticmethod
    def verify(app: Litestar) -> None:
        """Refuse an app in which a lean route would skip something Litestar was asked to do."""
        framework = [
            ("CSRF", app.csrf_config),
            ("compression", app.compression_config),
            ("allowed hosts", app.allowed_hosts),
        ]
        for route in app.routes:
            for handler in getattr(route, "route_handlers", ()):
                middleware = handler.resolve_middleware()
                if not any(isinstance(m, LeanRoute) for m in middleware):
                    continue
                deps = handler.resolve_dependencies()
                skipped = [
                    name
                    for name, present in [
                        *framework,
                        ("guards", handler.resolve_guards()),
                        ("before_request", handler.resolve_before_request()),
                        (
                            "after_request",
                            [
                                x
                                for x in handler.ownership_layers
                                if getattr(x, "after_request", None)
                            ],
                        ),
                        ("after_response", handler.resolve_after_response()),
                        ("response headers", handler.resolve_response_headers()),
                        ("response cookies", handler.resolve_response_cookies()),
                        ("response cache", handler.cache),
                        (
                            "other middleware",
                            [m for m in middleware if not isinstance(m, LeanRoute)],
                        ),
                        ("another device check", _provider(deps, "device") is not provide_device),
                        (
                            "another services provider",
                            _provider(deps, "services") is not provide_services,
                        ),
                    ]
                    if present
                ]
                if skipped:
                    raise ImproperlyConfiguredException(
                        f"{handler} is served by LeanRoute, which would skip: {', '.join(skipped)}"
                    )

    def __deepcopy__(self, memo: dict[int, Any]) -> LeanRoute:
        # Litestar copies a handler's middleware for every app; this holds nothing mutable.
        return self

    def __call__(self, app: ASGIApp) -> ASGIApp:
        # `app` is Litestar's own handling of this route and method, which this replaces.
        return self.serve

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request: Request[Any, Any, Any] = Request(scope, receive, send)
        services = await provide_services(request)
        device = await provide_device(request, services)
        data = decode_body(self._decoder, await request.body())
        response = await self._fn(
            **scope["path_params"], data=data, device=device, services=services
        )
        handler = cast("HTTPRouteHandler", scope["route_handler"])
        await response.to_asgi_response(None, request, status_code=handler.status_code)(
            scope, receive, send
        )


def _provider(dependencies: dict[str, Provide], name: str) -> Any:
    provide = dependencies.get(name)
    return None if provide is None else provide.dependency
