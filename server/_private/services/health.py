"""Whether this process can serve: the database answers."""

from __future__ import annotations

from ..errors import ErrorCode, ServiceError
from ..runtime import Runtime
from ..storage.maintenance import ping
from ..wire import Health


async def check(runtime: Runtime) -> Health:
    """`ok` and the database kind, or 503 `unavailable` when the database does not answer."""
    try:
        await runtime.db.read(ping)
    except Exception:
        raise ServiceError(ErrorCode.UNAVAILABLE, "the database is not reachable") from None
    return Health("ok", runtime.db.dialect)
