"""Reading request bodies: JSON that does not decode or fit its type is a 400, raw bytes past
their cap a 413.

Litestar's own reading (`BodyRequest.json`) and the lean route's (`decode_body`) give the
same answers: `invalid_request`, the message msgspec gives without its "- at `$.x`"
suffix, and `field` naming the input (tests compare both routes).
"""

from __future__ import annotations

import re
from typing import Any, Final, TypeVar

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


async def read_capped(request: Request[Any, Any, Any], cap: int, what: str = "a chunk") -> bytes:
    """A raw body of at most `cap` bytes, refused as soon as it passes the cap (or as soon as
    its Content-Length says it would), so a request costs at most `cap` bytes of memory
    whatever the client sends."""
    declared = request.headers.get("content-length")
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > cap:
        raise _too_large(what, cap)
    buf = bytearray()
    async for part in request.stream():
        buf += part
        if len(buf) > cap:
            raise _too_large(what, cap)
    return bytes(buf)


def _too_large(what: str, cap: int) -> ServiceError:
    return ServiceError(ErrorCode.BODY_TOO_LARGE, f"{what} is at most {cap} bytes")


JSON_SLACK: Final = 1024
"""Bytes allowed beyond a body's largest compact encoding: whitespace, key order, escapes."""


def json_bound(kind: Any) -> int | None:
    """The most bytes a JSON body of type `kind` can take when every bound its type declares is
    met (bytes as base64, two bytes of whitespace per value), plus `JSON_SLACK`; None when
    some part of it has no declared bound. Each route caps its body at this (and at
    `max_body`), so a route that takes a signature is not made to read two megabytes."""
    size = _bound(msgspec.inspect.type_info(kind))
    return None if size is None else size + JSON_SLACK


def _bound(t: msgspec.inspect.Type) -> int | None:
    mi = msgspec.inspect
    if isinstance(t, mi.Metadata):
        return _bound(t.type)
    if isinstance(t, mi.BytesType):
        return None if t.max_length is None else 4 * -(-t.max_length // 3) + 4
    if isinstance(t, mi.StrType):
        # A character may be escaped as \uXXXX: six bytes.
        return None if t.max_length is None else 6 * t.max_length + 4
    if isinstance(t, (mi.IntType, mi.NoneType, mi.BoolType)):
        return 24
    if isinstance(t, mi.ListType):
        item = _bound(t.item_type)
        return None if item is None or t.max_length is None else 4 + t.max_length * (item + 1)
    if isinstance(t, mi.UnionType):
        sizes = [_bound(u) for u in t.types]
        return None if None in sizes else max(s for s in sizes if s is not None)
    if isinstance(t, mi.StructType):
        total = 4
        for f in t.fields:
            size = _bound(f.type)
            if size is None:
                return None
            total += len(f.encode_name) + 6 + size
        return total
    return None
