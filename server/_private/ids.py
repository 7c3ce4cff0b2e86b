"""Ids in request paths: unpadded base64url of a fixed number of bytes, else `400 invalid_id`."""

from __future__ import annotations

import base64
import binascii
import functools
import re

from .errors import ErrorCode, ServiceError

_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_NOT_B64URL = "{name} must be unpadded base64url"


def path_id(value: str, length: int, name: str) -> bytes:
    """Decode an id from a path segment: unpadded base64url of exactly `length` bytes."""
    # Overlong values are refused before the cache, which must hold only short keys.
    raw = _decode_id(value, length) if len(value) <= 2 * length + 4 else _NOT_B64URL
    if isinstance(raw, bytes):
        return raw
    detail = raw.format(name=name, length=length)
    raise ServiceError(ErrorCode.INVALID_ID, detail, field=name)


@functools.lru_cache(maxsize=4096)
def _decode_id(value: str, length: int) -> bytes | str:
    """The id's bytes, or what is wrong with it. Cached: it is a pure function, and every
    request to a group decodes the same group id."""
    if not _B64URL.match(value):
        return _NOT_B64URL
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return "{name} is not valid base64url"
    if len(raw) != length or b64url(raw) != value:
        return "{name} must encode exactly {length} bytes"
    return raw


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
