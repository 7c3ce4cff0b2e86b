"""The Litestar application factory."""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec
import sqlalchemy as sa
from litestar import Litestar, Request, Response, Router, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, OpenAPI, Schema, SecurityScheme
from litestar.openapi.spec.enums import OpenAPIType

from . import errors, wire
from .auth import DEPENDENCIES, ServicesDep, auth_router
from .errors import EXCEPTION_HANDLERS, ErrorBody
from .http import BodyRequest, LeanRoute
from .routes.attachments import attachments_router
from .routes.entries import entries_router
from .routes.events import events_router
from .routes.groups import groups_router
from .routes.joins import joins_router
from .services import lifespan
from .settings import Settings, settings_from_env
from .wire import Health

API_VERSION = "1.0.0"


@get(
    "/health",
    summary="Liveness and database reachability",
    responses={
        503: ResponseSpec(ErrorBody, description="database unreachable", generate_examples=False)
    },
    tags=["health"],
)
async def health(request: Request[Any, Any, Any], services: ServicesDep) -> Response[Health]:
    try:
        await services.db.read(lambda conn: conn.execute(sa.text("SELECT 1")).scalar())
    except Exception:
        return Response(
            content=ErrorBody("unavailable", "the database is not reachable"),  # type: ignore[arg-type]
            status_code=503,
        )
    return Response(content=Health("ok", "sqlite" if services.db.is_sqlite else "postgresql"))


async def _json_not_found(response: Response[Any]) -> Response[Any]:
    """Litestar answers an unknown path under /schema with an HTML page; ours is JSON."""
    if response.status_code != 404:
        return response
    body = msgspec.json.encode(ErrorBody("not_found", "no such path"))
    return Response(body, status_code=404, media_type="application/json")


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the Chatham server application; startup opens the database and migrates it."""
    settings = settings or Settings()
    app = Litestar(
        route_handlers=[
            health,
            auth_router,
            groups_router,
            entries_router,
            attachments_router,
            joins_router,
            events_router,
        ],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=BodyRequest,
        lifespan=[lifespan],
        state=State({"settings": settings}),
        request_max_body_size=settings.max_body,
        openapi_config=OpenAPIConfig(
            title="Chatham server",
            version=API_VERSION,
            description=(
                "The thin server of Chatham: stores ciphertext and signed records, authorizes "
                "from the verified group log. See docs/server-api.md."
            ),
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
            openapi_router=Router(
                path="/schema",
                route_handlers=[],
                include_in_schema=False,
                after_request=_json_not_found,
            ),
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http", scheme="bearer", description="token from POST /v1/auth/token"
                    )
                }
            ),
        ),
        debug=False,
    )
    annotate_bytes_fields(app.openapi_schema)
    LeanRoute.verify(app)
    return app


def create_app_from_env() -> Litestar:
    """The app built from CHATHAM_SERVER_* variables (uvicorn workers call this)."""
    return create_app(settings_from_env())


_B64 = "[A-Za-z0-9+/]"


def _base64_pattern(n: int) -> str:
    """A regular expression matching exactly the canonical base64 encodings of n bytes."""
    q, r = divmod(n, 3)
    tail = {0: "", 1: f"{_B64}[AQgw]==", 2: f"{_B64}{{2}}[AEIMQUYcgkosw048]="}[r]
    return f"^{_B64}{{{4 * q}}}{tail}$"


def _mark_base64(schema: Schema) -> None:
    """Tell OpenAPI readers that a string holds standard base64 of so many bytes."""
    if schema.type == OpenAPIType.STRING:
        schema.content_encoding = "base64"
        lo, hi = schema.min_length, schema.max_length
        if lo is not None and lo == hi:
            # A fixed size (ids, keys, signatures): a pattern says it exactly.
            schema.pattern = _base64_pattern(lo)
            schema.min_length = schema.max_length = None
            schema.description = f"base64 of exactly {lo} bytes"
        else:
            schema.format = "byte"  # type: ignore[assignment]
            # Length bounds were declared on the decoded bytes; JSON Schema measures the text.
            if lo is not None:
                schema.min_length = 4 * -(-lo // 3)
            if hi is not None:
                schema.max_length = 4 * -(-hi // 3)
    for sub in (*(schema.one_of or ()), *(schema.any_of or ())):
        if isinstance(sub, Schema):
            _mark_base64(sub)
    if isinstance(schema.items, Schema):
        _mark_base64(schema.items)


def _is_bytes(annotation: Any) -> bool:
    if annotation is bytes:
        return True
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_bytes(args[0])
    if origin in (types.UnionType, typing.Union, list):
        return any(_is_bytes(a) for a in args if a is not type(None))
    return False


def annotate_bytes_fields(openapi: OpenAPI) -> None:
    """Litestar renders `bytes` as a bare string; say it is base64 so clients and fuzzers know."""
    components = openapi.components.schemas if openapi.components else None
    if not components:
        return
    structs = [
        obj
        for module in (wire, errors)
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct)
    ]
    for struct in structs:
        component = components.get(struct.__name__)
        if component is None or not component.properties:
            continue
        hints = typing.get_type_hints(struct, include_extras=True)
        for field in msgspec.structs.fields(struct):
            prop = component.properties.get(field.encode_name)
            if isinstance(prop, Schema) and _is_bytes(hints[field.name]):
                _mark_base64(prop)
