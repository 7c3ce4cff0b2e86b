"""Canonical encoding: one msgpack array per record, and a decoder that accepts only that.

Every signed or authenticated record is a msgspec `Struct(array_like=True)`.
The decoder refuses oversize input before parsing, unknown versions and tags,
out-of-bounds fields and trailing bytes, and finally re-encodes the value and
requires the exact input bytes back, so every record has a single encoding and
a signature over it means one thing.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from ._errors import EncodingError


class Record(msgspec.Struct, array_like=True, frozen=True, forbid_unknown_fields=True):
    """Base of every canonical record."""


T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()
_decoders: dict[Any, msgspec.msgpack.Decoder[Any]] = {}


def encode(value: Record | list[Any] | tuple[Any, ...]) -> bytes:
    """The canonical encoding of a record."""
    return _encoder.encode(value)


def decode(data: bytes, typ: type[T], *, max_size: int) -> T:
    """Decode canonical bytes into `typ`, or raise EncodingError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EncodingError("record must be bytes")
    data = bytes(data)
    if len(data) > max_size:
        raise EncodingError(f"record is larger than {max_size} bytes")
    dec = _decoders.get(typ)
    if dec is None:
        dec = _decoders[typ] = msgspec.msgpack.Decoder(typ)
    try:
        value: T = dec.decode(data)
    except msgspec.ValidationError as e:
        raise EncodingError(f"invalid record: {e}") from None
    except (msgspec.DecodeError, UnicodeDecodeError) as e:
        # msgspec reports invalid UTF-8 in a str field as UnicodeDecodeError, not as a
        # DecodeError: without this, one flipped bit in a name or tag escapes as a crash.
        raise EncodingError(f"malformed record: {e}") from None
    if _encoder.encode(value) != data:
        raise EncodingError("non-canonical encoding")
    return value
