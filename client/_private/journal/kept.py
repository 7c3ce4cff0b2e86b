"""A write the server refused for good, read back as the item it was: its fields as plain text.

The body is decoded strictly (`decode_body`), so what a member reads back passed the same
checks as anything they read in the journal; the result is text for a reader to show
as text, never markup.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

from msgspec import Struct, UnsetType

from ...errors import ContentError
from .content import FIELD_LABELS, decode_body

_SKIP = frozenset({"v", "ts"})
"""Format fields, not anything the member wrote."""


def written_fields(data: bytes) -> tuple[str, tuple[tuple[str, str], ...]]:
    """(kind, (label, text) of each field it holds) of an entry body; kind `write` for a
    body that is not a journal body (its bytes are not shown: they may be anything)."""
    try:
        body = decode_body(data)
    except ContentError:
        return "write", (("content", f"{len(data):,} bytes that are not a journal post"),)
    kind = str(type(body).__struct_config__.tag)
    return kind, tuple(_fields(body, kind))


def _fields(body: Struct, kind: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name in body.__struct_fields__:
        if name in _SKIP:
            continue
        value = getattr(body, name)
        if isinstance(value, Struct):
            out += _fields(value, str(type(value).__struct_config__.tag))
            continue
        shown = _text(value)
        if shown:
            out.append((_label(kind, name), shown))
    return out


def _label(kind: str, name: str) -> str:
    """The field's name as the forms show it: `Title`, `What is the issue?`, `Note`."""
    label = FIELD_LABELS.get(kind, {}).get(name) or name.replace("_", " ")
    label = label.removeprefix("the ")
    return label[:1].upper() + label[1:]


def _text(value: Any) -> str:
    if value is None or isinstance(value, UnsetType):
        return ""
    if isinstance(value, bytes):
        return value.hex()  # an item or member id
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)
