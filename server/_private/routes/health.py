"""Route of the health check (`services.health`)."""

from __future__ import annotations

from litestar import get

from ..guards import ServicesDep
from ..openapi import responses
from ..services import health as service
from ..wire import Health


@get(
    "/health",
    summary="Liveness and database reachability",
    responses=responses(503),
    tags=["health"],
)
async def health(services: ServicesDep) -> Health:
    return await service.check(services)
