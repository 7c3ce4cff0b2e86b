"""Small HTTP helpers: ids in paths, content negotiation, dialect-neutral inserts."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, TypeVar, cast

import msgspec
import sqlalchemy as sa
from litestar import Request, Response
from sqlalchemy.dialects import postgresql, sqlite

from .errors import ApiError

T = TypeVar("T")

MSGPACK = "application/msgpack"
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def path_id(value: str, length: int, name: str) -> bytes:
    """Decode an id from a path segment: unpadded base64url of exactly `length` bytes."""
    if len(value) > 2 * length + 4 or not _B64URL.match(value):
        raise ApiError(400, "invalid_id", f"{name} must be unpadded base64url", field=name)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_id", f"{name} is not valid base64url", field=name) from None
    if len(raw) != length or b64url(raw) != value:
        raise ApiError(400, "invalid_id", f"{name} must encode exactly {length} bytes", field=name)
    return raw


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def wants_msgpack(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    return MSGPACK in accept or "application/x-msgpack" in accept


def negotiate(request: Request[Any, Any, Any], body: T, status_code: int = 200) -> Response[T]:
    """JSON by default; msgpack when the client's Accept header asks for it (bulk sync pages)."""
    if wants_msgpack(request):
        return cast(
            "Response[T]",
            Response(
                content=msgspec.msgpack.encode(body), media_type=MSGPACK, status_code=status_code
            ),
        )
    return Response(content=body, status_code=status_code)


def insert_ignore(conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> None:
    """INSERT … ON CONFLICT DO NOTHING, in whichever dialect the connection speaks."""
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(table).values(**values).on_conflict_do_nothing())
    else:
        conn.execute(sqlite.insert(table).values(**values).on_conflict_do_nothing())
