"""The Litestar application factory."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from .api_attachments import attachments_router
from .api_entries import entries_router
from .api_events import events_router
from .api_groups import groups_router
from .api_joins import joins_router
from .auth import DEPENDENCIES, ServicesDep, auth_router
from .errors import EXCEPTION_HANDLERS, ErrorBody
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
        async with services.db.read() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception:
        return Response(
            content=ErrorBody("unavailable", "the database is not reachable"),  # type: ignore[arg-type]
            status_code=503,
        )
    return Response(content=Health("ok", "sqlite" if services.db.is_sqlite else "postgresql"))


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the Chatham server application; startup opens the database and migrates it."""
    settings = settings or Settings()
    return Litestar(
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


def create_app_from_env() -> Litestar:
    """The app built from CHATHAM_SERVER_* variables (uvicorn workers call this)."""
    return create_app(settings_from_env())
