"""`LeanRoute`: every route with a JSON body, served so that a stranger's body costs nothing.

Used as `@post(..., middleware=[LeanRoute(fn, Body)])(fn)`: Litestar still routes the
request, documents the route in OpenAPI from `fn`'s signature, and turns whatever is
raised into the usual error body. For this one method of this one route, instead of
Litestar's per-request machinery (which reads and parses the whole body before any
dependency runs, so a token check or a rate limit came after the cost: docs/threat-model.md)
the handler function is called directly, in this order:

1. the caller: `device` or `caller` (`provide_device`, `provide_caller`: the token check
   and the device's rate limit), or, for a route without a login, the per-address limit
   (`rate_auth`) — before one byte of the body is read;
2. the body, read up to the route's cap (`bodies.json_bound` of its type, at most
   `max_body`, or `max_bulk_body` for the bulk routes; 413 as soon as it passes it or its
   Content-Length says it would);
3. the body decoded straight into its type by msgspec (`bodies.decode_body`: the 400s
   Litestar's validation gives), never into an intermediate tree of lists and dicts;
4. the function, with the path parameters as Litestar parsed them, `services`, and
   `request` when it takes one.

`LeanRoute.verify(app)` also refuses an app with a JSON body route (one taking `data`) that
is not served this way.

Decoding is strict where Litestar converts leniently: a number sent as a string (`"5"`)
is refused. Whatever else Litestar would do for a route (guards, hooks, response headers,
CSRF, compression, allowed hosts, other middleware) this path would skip:
`LeanRoute.verify(app)` refuses to build an app where a lean route has any of it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, cast

import msgspec
from litestar import Litestar, Request, Response
from litestar.di import Provide
from litestar.exceptions import ImproperlyConfiguredException
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from .answers import Answer
from .bodies import decode_body, json_bound, read_capped
from .guards import client_key, provide_caller, provide_device, provide_services
from .inflight import release_held


class LeanRoute:
    """Route middleware that calls the handler function directly (see the module docstring)."""

    def __init__(
        self,
        fn: Callable[..., Awaitable[Any]],
        body: type[msgspec.Struct],
        *,
        limit: str = "max_body",
    ) -> None:
        """`limit` names the setting that caps the route's body (the bulk routes have their
        own, `max_bulk_body`)."""
        params = set(inspect.signature(fn).parameters)
        self._limit = limit
        if "data" not in params or "services" not in params:
            raise TypeError(f"{fn.__name__} takes no `data` or no `services`")
        self._fn = fn
        self._decoder = msgspec.json.Decoder(body)
        self._bound = json_bound(body)
        self._who = "device" if "device" in params else "caller" if "caller" in params else None
        self._takes_request = "request" in params

    def cap(self, max_body: int) -> int:
        """The most bytes this route reads: what its body type can need, at most `max_body`."""
        return max_body if self._bound is None else min(self._bound, max_body)

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
                    if "data" in handler.parsed_fn_signature.parameters:
                        raise ImproperlyConfiguredException(
                            f"{handler} takes a JSON body but is not served by LeanRoute, so "
                            "its body would be read before its caller is checked"
                        )
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
                            [
                                m
                                for m in middleware
                                if not isinstance(m, LeanRoute) and m is not release_held
                            ],
                        ),
                        ("another device check", _provider(deps, "device") is not provide_device),
                        ("another caller check", _provider(deps, "caller") is not provide_caller),
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
        kwargs: dict[str, Any] = {**scope["path_params"], "services": services}
        settings = services.settings
        # Who is asking, before one byte of the body is read.
        if self._who == "device":
            kwargs["device"] = await provide_device(request, services)
        elif self._who == "caller":
            kwargs["caller"] = await provide_caller(request, services)
        else:
            await services.limiter.hit(("auth", client_key(request)), settings.rate_auth)
        if self._takes_request:
            kwargs["request"] = request
        limit = getattr(settings, self._limit)
        raw = await read_capped(request, self.cap(limit), "this request's body")
        kwargs["data"] = decode_body(self._decoder, raw)
        answer = await self._fn(**kwargs)
        response = answer if isinstance(answer, Response) else Answer(answer)
        handler = cast("HTTPRouteHandler", scope["route_handler"])
        await response.to_asgi_response(None, request, status_code=handler.status_code)(
            scope, receive, send
        )


def _provider(dependencies: dict[str, Provide], name: str) -> Any:
    provide = dependencies.get(name)
    return None if provide is None else provide.dependency
