"""The connection limits uvicorn's httptools protocol lacks: header bytes and count, a timer
from connect to the end of the headers, a timer on body progress, and a connection cap.

uvicorn hands every byte of a request head to httptools, which keeps a header it has not
seen the end of in memory however long it grows, and it times out only idle keep-alive
connections between requests. A connection that never finishes its headers, or a body
stopped one byte short, would be held for ever. `GuardedHttpTools` is uvicorn's protocol
with these checks added (`chatham-server` serves with it: `cli.serve`):

- a request head (request line and headers) of more than `max_header_bytes` is answered
  431 `headers_too_large` and the connection closed, and more than `max_headers` headers
  431 too;
- the head must be complete `header_timeout` seconds after the connection opened (or,
  on a kept-alive connection, after the request's first byte), else the connection closes;
- while a body is being sent, `body_timeout` seconds without a byte close it (not while
  the server itself has paused reading because the application has not read yet);
- a request answered before its body was read (a 401, 413 or 429) closes its connection
  instead of reading the rest of the body;
- an answer the client does not read for `send_timeout` seconds closes the connection;
- past `max_connections` open connections in this process, or `max_address_connections`
  from one client address (not counting trusted proxies), a new one is answered 503
  `unavailable` and closed at once.

The limits are read from the `CHATHAM_SERVER_*` variables (the CLI sets them for its
worker processes), since uvicorn builds the protocol itself.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import msgspec
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from .errors import STATUS, ErrorCode, error_body
from .settings import Settings, settings_from_env


@functools.cache
def _limits() -> Settings:
    return settings_from_env()


_BY_ADDRESS: dict[str, int] = {}
"""Open connections per client address in this process (in memory only, never stored)."""


class _TooManyHeaders(Exception):
    """Raised from the parser's header callback; httptools turns it into a parser error."""


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with limits on the request head, timers and a cap."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = _limits()
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._in_body = False
        self._timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._address = ""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else ""
        per_address = _BY_ADDRESS.get(self._address, 0) + 1
        _BY_ADDRESS[self._address] = per_address
        most = self.limits.max_address_connections
        if len(self.connections) > self.limits.max_connections:
            self._refuse(ErrorCode.UNAVAILABLE, "too many connections")
            return
        if most and per_address > most and self._address not in self.limits.proxies:
            self._refuse(ErrorCode.UNAVAILABLE, "too many connections from this address")
            return
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        left = _BY_ADDRESS.get(self._address, 0) - 1
        if left > 0:
            _BY_ADDRESS[self._address] = left
        else:
            _BY_ADDRESS.pop(self._address, None)
        self._disarm()
        if self._write_timer is not None:
            self._write_timer.cancel()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        # The client stopped reading: give it `send_timeout` to start again.
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.limits.send_timeout, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _stalled(self) -> None:
        self._write_timer = None
        self.transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._in_body:
            self._arm(self.limits.body_timeout)
        counting = self._in_head
        super().data_received(data)
        if self.transport.is_closing():
            return
        if self._header_count > self.limits.max_headers:
            self._refuse(ErrorCode.HEADERS_TOO_LARGE, "too many request headers")
        elif counting and self._in_head:
            # Still inside a head: httptools holds what it has seen of it.
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(ErrorCode.HEADERS_TOO_LARGE, "the request head is too large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._header_count = 0
        if self._timer is None:
            self._arm(self.limits.header_timeout)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            raise _TooManyHeaders
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._in_body = True
        self._arm(self.limits.body_timeout)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._in_body and not self.transport.is_closing():
            # Answered before the body was read (401, 413, 429…): the rest of the body is not
            # worth reading, so the connection closes instead of draining it.
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        if self._header_count > self.limits.max_headers:
            self._refuse(ErrorCode.HEADERS_TOO_LARGE, "too many request headers")
        else:
            super().send_400_response(msg)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._in_body and self.flow.read_paused:
            # The application has not read what came; the client is not the one stalling.
            self._arm(self.limits.body_timeout)
            return
        if self._in_head or self._in_body:
            self.transport.close()

    def _refuse(self, code: ErrorCode, message: str) -> None:
        """Answer with `code`'s status and error body, as the app answers, then close: nothing
        more is read."""
        self._disarm()
        status = STATUS[code]
        reason = {431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}[status]
        body = msgspec.json.encode(error_body(code, message))
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (status, reason, len(body), body)
        )
        self.transport.close()
