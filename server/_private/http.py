"""Small HTTP helpers: ids in paths, content negotiation, dialect-neutral inserts."""

from __future__ import annotations

import base64
import binascii
import functools
import re
import typing
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import msgspec
import sqlalchemy as sa
from litestar import Litestar, Request, Response
from litestar.di import Provide
from litestar.exceptions import ImproperlyConfiguredException, SerializationException
from litestar.handlers import HTTPRouteHandler
from litestar.response.base import ASGIResponse
from litestar.serialization import default_serializer
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.dialects import postgresql, sqlite

from .auth import provide_device, provide_services
from .errors import ApiError, bad_request, invalid_body

T = TypeVar("T")

MSGPACK = "application/msgpack"
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def path_id(value: str, length: int, name: str) -> bytes:
    """Decode an id from a path segment: unpadded base64url of exactly `length` bytes."""
    # Overlong values are refused before the cache, which must hold only short keys.
    raw = _decode_id(value, length) if len(value) <= 2 * length + 4 else _NOT_B64URL
    if isinstance(raw, bytes):
        return raw
    raise ApiError(400, "invalid_id", raw.format(name=name, length=length), field=name)


_NOT_B64URL = "{name} must be unpadded base64url"


@functools.lru_cache(maxsize=4096)
def _decode_id(value: str, length: int) -> bytes | str:
    """The id's bytes, or what is wrong with it (a pure function: the same group id is
    decoded on every request to the group)."""
    if not _B64URL.match(value):
        return _NOT_B64URL
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return "{name} is not valid base64url"
    if len(raw) != length or b64url(raw) != value:
        return "{name} must encode exactly {length} bytes"
    return raw


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


_NESTED = "the JSON body is nested too deeply"
_NOT_UTF8 = "the JSON body is not valid UTF-8"


class BodyRequest(Request[Any, Any, Any]):
    """The request class of every route: every undecodable JSON body is a 400, not a 500.

    msgspec refuses JSON nested more than about a thousand levels with a RecursionError,
    and invalid UTF-8 in a string or key with a UnicodeDecodeError; Litestar counts
    neither as a bad body.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise SerializationException(_NESTED) from None
        except UnicodeDecodeError:
            raise SerializationException(_NOT_UTF8) from None


def wants_msgpack(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    return MSGPACK in accept or "application/x-msgpack" in accept


class Answer(Response[T]):
    """A `Response` for the hot routes (entry posts, entry pages), sent without the general
    response assembly.

    Litestar turns a Response into an `ASGIResponse` that merges headers, encodes cookies,
    runs background tasks and checks the status against the body; measured here that costs
    about a third of a bare request (docs/performance.md). An `Answer` carries none of those:
    it sends the status, `content-type` and `content-length` and the same bytes Litestar
    would have rendered (JSON through msgspec with Litestar's serializer, or bytes as they
    are). An answer that needs more (headers, cookies, a background task, type encoders, a
    HEAD request, a status without a body) goes through Litestar's own response. The
    route's OpenAPI description is unchanged, since the handler's annotation still names the
    content type.
    """

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        background: Any = None,
        cookies: Any = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        status_code: int | None = None,
        type_encoders: Any = None,
        **kwargs: Any,
    ) -> ASGIResponse:
        status = self.status_code or status_code or 200
        needs_framework = (
            # Anything beyond status, type, length and body: Litestar's response does it.
            background
            or cookies
            or headers
            or type_encoders
            or self.background
            or self.cookies
            or self.headers
            or self.response_type_encoders
            or is_head_response
            or status < 200
            or status in (204, 304)
        )
        if needs_framework:
            return super().to_asgi_response(
                app,
                request,
                background=background,
                cookies=cookies,
                headers=headers,
                is_head_response=is_head_response,
                status_code=status_code,
                type_encoders=type_encoders,
                **kwargs,
            )
        content = self.content
        body = content if isinstance(content, bytes) else _json.encode(content)
        media_type = self.media_type if isinstance(self.media_type, str) else "application/json"
        return _Sent(status, media_type, body)


_json = msgspec.json.Encoder(enc_hook=default_serializer)


class _Sent(ASGIResponse):
    """The ASGI side of an `Answer`: a start event and one body event."""

    def __init__(self, status: int, media_type: str, body: bytes) -> None:
        # Deliberately not ASGIResponse.__init__: this class sends only what is set here, and
        # only `__call__` is ever used (by the route that awaits it).
        self.status_code = status
        self._start = {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media_type.encode("latin-1")),
                (b"content-length", str(len(body)).encode("latin-1")),
            ],
        }
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(self._start)  # type: ignore[arg-type]
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


class LeanRoute:
    """Route middleware that serves the hottest write (an entry post) with less framework work.

    Used as `@post(..., middleware=[LeanRoute(fn, Body)])(fn)`: Litestar still routes the
    request, documents the route in OpenAPI from `fn`'s signature, and turns whatever is
    raised into the usual error body. For this one method of this one route, instead of
    Litestar's per-request machinery (signature model, dependency injection, response
    assembly: about half of a bare request here, docs/performance.md) the handler function
    is called directly with the four arguments it takes, obtained the same way:

    - `device`: `provide_device`, the same token check and rate limit as every route;
    - `data`: the body, read through Litestar's `Request.body()` (same size cap, same 413),
      decoded into `body` by msgspec; errors are the 400s Litestar's validation gives;
    - the path parameters as Litestar parsed them, and `services` (`provide_services`).

    The token is checked before the body is read or parsed. The body is decoded strictly,
    where Litestar converts leniently (`"5"` for an int); the two agree for fields of bytes
    or str, so only such bodies are accepted. Whatever else Litestar would do for a route
    (guards, hooks, response headers, CSRF, compression, allowed hosts, other middleware)
    this path would skip: `LeanRoute.verify(app)` refuses to build an app where a lean
    route has any of it.
    """

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
        raw = await request.body()
        try:
            # An empty body is JSON null, as Litestar reads it.
            data = self._decoder.decode(raw or b"null")
        except msgspec.ValidationError as e:
            raise invalid_body(e) from None
        except msgspec.DecodeError as e:
            raise bad_request("invalid_request", str(e)) from None
        except RecursionError:
            raise bad_request("invalid_request", _NESTED) from None
        except UnicodeDecodeError:
            raise bad_request("invalid_request", _NOT_UTF8) from None
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


def negotiate(request: Request[Any, Any, Any], body: T, status_code: int = 200) -> Response[T]:
    """JSON by default; msgpack when the client's Accept header asks for it (bulk sync pages)."""
    if wants_msgpack(request):
        packed: Response[Any] = Answer(
            msgspec.msgpack.encode(body), media_type=MSGPACK, status_code=status_code
        )
        return packed
    return Answer(body, status_code=status_code)


def insert_ignore(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> None:
    """INSERT … ON CONFLICT DO NOTHING, in whichever dialect the connection speaks."""
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(table).values(**values).on_conflict_do_nothing())
    else:
        conn.execute(sqlite.insert(table).values(**values).on_conflict_do_nothing())
