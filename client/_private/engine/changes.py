"""The change stream: follow the server's event stream ("the group changed", nothing more)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ... import errors as E

if TYPE_CHECKING:
    import httpx

    from .group import Group


def changes(
    group: Group, *, read_timeout: float = 45.0, until: float | None = None
) -> Iterator[tuple[int, int]]:
    """Follow the server's event stream: (entry cursor, log seq) now and on every change.

    The stream carries nothing else (no ids, authors or sizes). It ends when the server
    ends it (token expiry, an hour, or this device leaving the group), or at `until`
    (a `time.monotonic()` deadline, checked on every line and keepalive). A dropped
    connection, or no byte for `read_timeout` seconds, raises `Unreachable`.
    """
    import json
    import time

    import httpx

    def left() -> float:
        return read_timeout if until is None else min(read_timeout, until - time.monotonic())

    if left() <= 0:
        return
    resp = group._api().events(group._gid, read_timeout=left())
    invalid = "the server's event stream is not valid"
    try:
        event = ""
        for line in _event_lines(resp, until):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "changed":
                try:
                    data = json.loads(line[5:])
                    position = (int(data["cursor"]), int(data["seq"]))
                except (ValueError, KeyError, TypeError, RecursionError, OverflowError):
                    raise E.BadResponse(invalid) from None
                yield position
            elif not line:
                event = ""
    except (UnicodeDecodeError, httpx.DecodingError):
        raise E.BadResponse(invalid) from None
    except httpx.TransportError as e:
        if until is not None and time.monotonic() >= until:
            return
        raise E.Unreachable(
            f"lost the event stream from {group.server} ({type(e).__name__})"
        ) from None
    finally:
        resp.close()


MAX_EVENT_LINE = 4096
"""No line of the event stream is longer; a longer one is not the protocol."""


def _event_lines(resp: httpx.Response, until: float | None) -> Iterator[str]:
    """The lines of an event stream, decoded as UTF-8 (what the format says, whatever charset
    the server names), each at most `MAX_EVENT_LINE` bytes; ends at `until`, checked on every
    chunk that arrives (keepalives included). Invalid UTF-8 raises UnicodeDecodeError."""
    import time

    pending = b""
    for chunk in resp.iter_bytes():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            if len(raw) > MAX_EVENT_LINE:
                raise E.BadResponse("the server's event stream is not valid")
            yield raw.rstrip(b"\r").decode("utf-8")
        if len(pending) > MAX_EVENT_LINE:
            raise E.BadResponse("the server's event stream is not valid")
        if until is not None and time.monotonic() >= until:
            return
