"""The Litestar application factory: everything `create_app` wires together."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Litestar, Response, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from .bodies import BodyRequest
from .error_handlers import EXCEPTION_HANDLERS
from .errors import ErrorCode, error_body
from .guards import DEPENDENCIES
from .inflight import release_held
from .lean_route import LeanRoute
from .metrics import METRICS, MetricsServer, measured
from .openapi import annotate_bytes_fields
from .routes.attachments import attachments_router
from .routes.auth import auth_router
from .routes.bulk import bulk_router
from .routes.entries import entries_router
from .routes.events import events_router
from .routes.groups import groups_router
from .routes.health import health
from .routes.joins import invites_router, joins_router
from .routes.links import escrow_router, links_router
from .runtime import Runtime
from .services import login, upkeep
from .settings import Settings, settings_from_env
from .storage import migrate
from .storage.db import Database
from .storage.maintenance import table_sizes

API_VERSION = "1.0.0"


async def _json_not_found(response: Response[Any]) -> Response[Any]:
    """Litestar answers an unknown path under /schema with an HTML page; ours is JSON."""
    if response.status_code != 404:
        return response
    body = msgspec.json.encode(error_body(ErrorCode.NOT_FOUND, "no such path"))
    return Response(body, status_code=404, media_type="application/json")


@contextlib.asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    """Open the database (migrating it if asked), purge what expired, and start the upkeep."""
    settings: Settings = app.state.settings
    runtime = Runtime(settings, Database(settings))
    try:
        if settings.migrate_on_start:
            await migrate.upgrade(runtime.db)
        await upkeep.purge_expired(runtime)
        runtime.server_id = await login.server_identity(runtime)
        app.state.services = runtime
        runtime.spawn(upkeep.purge_loop(runtime))
        if settings.metrics_port:
            exporter = MetricsServer(
                settings.metrics_port,
                runtime.hub.streams,
                lambda: runtime.db.read(table_sizes),
            )
            await exporter.start()
            runtime.closing.append(exporter.close)
        yield
    finally:
        await upkeep.scrub_before_exit(runtime)
        await runtime.close()


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the Chatham server application; startup opens the database and migrates it."""
    settings = settings or Settings()
    app = Litestar(
        route_handlers=[
            health,
            auth_router,
            groups_router,
            entries_router,
            bulk_router(settings.max_bulk_body),
            attachments_router,
            joins_router,
            invites_router,
            links_router,
            escrow_router,
            events_router,
        ],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=BodyRequest,
        middleware=[release_held],
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
    if settings.metrics_port:
        # Outside every Litestar layer (lean routes included): each request is counted once,
        # under the route template the router chose.
        METRICS.enabled = True
        app.asgi_handler = measured(app.asgi_handler)
    return app


def create_app_from_env() -> Litestar:
    """The app built from CHATHAM_SERVER_* variables (uvicorn workers call this)."""
    return create_app(settings_from_env())
