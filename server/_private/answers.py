"""Response bodies for the hot routes: JSON or msgpack as the client asks, sent lean.

`negotiate` picks the encoding from the Accept header; `Answer` sends status,
`content-type`, `content-length` and the body without Litestar's general response
assembly (header merging, cookies, background tasks), which costs a sizeable share of a
bare request (figures: docs/performance.md). The bytes are the ones Litestar would have
rendered, and OpenAPI is unchanged because the handlers' annotations are.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.response.base import ASGIResponse
from litestar.serialization import default_serializer
from litestar.types import Receive, Scope, Send

T = TypeVar("T")

MSGPACK = "application/msgpack"


def wants_msgpack(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    return MSGPACK in accept or "application/x-msgpack" in accept


def negotiate(request: Request[Any, Any, Any], body: T, status_code: int = 200) -> Response[T]:
    """JSON by default; msgpack when the client's Accept header asks for it (bulk sync pages)."""
    if wants_msgpack(request):
        packed: Response[Any] = Answer(
            msgspec.msgpack.encode(body), media_type=MSGPACK, status_code=status_code
        )
        return packed
    return Answer(body, status_code=status_code)


class Answer(Response[T]):
    """A `Response` sent without the general response assembly.

    It sends the status, `content-type` and `content-length` and the same bytes Litestar
    would have rendered (JSON through msgspec with Litestar's serializer, or bytes as they
    are). An answer that needs more (headers, cookies, a background task, type encoders, a
    HEAD request, a status without a body) goes through Litestar's own response.
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


PIECE = 256 * 1024
"""Bytes of an answer handed to the connection at a time."""

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
        body = self.body
        # A large body goes in pieces: each waits until the client has read enough of the
        # last (the server's send waits while the connection's buffer is full), so an answer
        # nobody reads is held once, here, and not copied whole into the connection.
        at = 0
        while len(body) - at > PIECE:
            piece = body[at : at + PIECE]
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            at += PIECE
        rest = body[at:] if at else body
        await send({"type": "http.response.body", "body": rest, "more_body": False})
