"""Reading request bodies: JSON that does not decode or fit its type is a 400, raw bytes past
their cap a 413.

Litestar's own reading (`BodyRequest.json`) and the lean route's (`decode_body`) give the
same answers: `invalid_request`, the message msgspec gives without its "- at `$.x`"
suffix, and `field` naming the input (tests compare both routes).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions import SerializationException

from .errors import ErrorCode, ServiceError, invalid_request

T = TypeVar("T")

NESTED = "the JSON body is nested too deeply"
NOT_UTF8 = "the JSON body is not valid UTF-8"


class BodyRequest(Request[Any, Any, Any]):
    """The request class of every route: every undecodable JSON body is a 400, not a 500.

    msgspec refuses JSON nested more than about a thousand levels with a RecursionError,
    and invalid UTF-8 in a string or key with a UnicodeDecodeError; Litestar counts
    neither as a bad body.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise SerializationException(NESTED) from None
        except UnicodeDecodeError:
            raise SerializationException(NOT_UTF8) from None


def decode_body(decoder: msgspec.json.Decoder[T], raw: bytes) -> T:
    """`raw` decoded strictly into the decoder's type, or the 400 Litestar's validation gives."""
    try:
        # An empty body is JSON null, as Litestar reads it.
        return decoder.decode(raw or b"null")
    except msgspec.ValidationError as e:
        raise invalid_body(e) from None
    except msgspec.DecodeError as e:
        raise invalid_request(str(e)) from None
    except RecursionError:
        raise invalid_request(NESTED) from None
    except UnicodeDecodeError:
        raise invalid_request(NOT_UTF8) from None


# msgspec's messages end in "- at `$.field[0]`" and name a missing field in backquotes.
_AT_RE = re.compile(r"at `\$\.?([^`]*)`")
_MISSING_RE = re.compile(r"required field `([^`]+)`")


def field_of(item: dict[str, Any]) -> str | None:
    """The input a validation message (one of Litestar's `extra` items) is about."""
    message = str(item.get("message", ""))
    at = _AT_RE.search(message)
    key = str(item.get("key") or "")
    # Litestar moves msgspec's "at `$.x`" into `key` ("data" is the body itself).
    path = at.group(1) if at else ("" if key == "data" else key)
    missing = _MISSING_RE.search(message)
    if missing:
        return f"{path}.{missing.group(1)}" if path else missing.group(1)
    return path or None


def invalid_body(exc: msgspec.ValidationError) -> ServiceError:
    """The error for a body that does not fit its type, as Litestar's validation gives it.

    Same code, the message without msgspec's "- at `$.x`" suffix, and the field named.
    """
    message = str(exc)
    return invalid_request(message.split(" - ", 1)[0], field_of({"message": message}))


async def read_capped(request: Request[Any, Any, Any], cap: int) -> bytes:
    """A raw body of at most `cap` bytes, refused as soon as it passes the cap, so a request
    costs at most `cap` bytes of memory whatever the client sends."""
    declared = request.headers.get("content-length")
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > cap:
        raise ServiceError(ErrorCode.BODY_TOO_LARGE, f"a chunk is at most {cap} bytes")
    buf = bytearray()
    async for part in request.stream():
        buf += part
        if len(buf) > cap:
            raise ServiceError(ErrorCode.BODY_TOO_LARGE, f"a chunk is at most {cap} bytes")
    return bytes(buf)
