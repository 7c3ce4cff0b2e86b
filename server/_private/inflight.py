"""Requests in flight per device: a device holds at most `max_device_requests` at once.

A request holds its place from the token check until the last byte of its answer has been
handed to the connection, and large answers are sent in pieces that wait for the client to
read (`answers.Answer`), so a device that opens many requests and reads none of the answers
holds at most that many answers in server memory (the rest are 429 at once). Event streams
are capped on their own (`hub.Hub`) and hold no place here.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

from .errors import ErrorCode, ServiceError

_HELD = "chatham.held"
"""The scope key under which a request keeps the key it holds a place for."""


class InFlight:
    """Places held per key (a device id, or an invitee token's hash)."""

    def __init__(self) -> None:
        self._held: dict[Hashable, int] = {}

    def hold(self, scope: Scope, key: Hashable, most: int) -> None:
        """Take a place for `key` for this request (429 past `most`); `release_held` frees it."""
        if most <= 0 or _HELD in scope:
            return
        held = self._held.get(key, 0)
        if held >= most:
            raise ServiceError(
                ErrorCode.RATE_LIMITED,
                f"at most {most} requests at once from one device; read the answers first",
                retry_after=1,
            )
        self._held[key] = held + 1
        scope[_HELD] = (self, key)  # type: ignore[literal-required]

    def release(self, key: Hashable) -> None:
        held = self._held.get(key, 0) - 1
        if held > 0:
            self._held[key] = held
        else:
            self._held.pop(key, None)


def release_held(app: ASGIApp) -> ASGIApp:
    """App middleware: whatever place a request took is freed once its answer is sent."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            held: Any = scope.pop(_HELD, None)  # type: ignore[misc]
            if held is not None:
                held[0].release(held[1])

    return middleware
