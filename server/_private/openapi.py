"""What the OpenAPI document says beyond what Litestar derives: error responses, base64 bytes."""

from __future__ import annotations

import types
import typing
from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPI, Schema
from litestar.openapi.spec.enums import OpenAPIType

from . import errors, wire
from .errors import ErrorBody

_DESCRIPTIONS = {
    400: "malformed request (code invalid_request, invalid_id, ...; `field` names the input)",
    401: "missing, unknown or expired token, or a bad login signature",
    403: "not allowed (not_a_member, not_a_leader, ...)",
    404: "no such item",
    409: "conflict (stale_head, duplicate_entry, ...)",
    410: "gone: the link code expired (link_expired)",
    413: "body too large, or the group's storage quota is full",
    422: "well-formed but refused by a protocol check (`check` names it)",
    429: "rate limited; see Retry-After",
    503: "database unreachable",
}


def responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the error responses a route can give (all share ErrorBody)."""
    return {
        s: ResponseSpec(ErrorBody, description=_DESCRIPTIONS[s], generate_examples=False)
        for s in statuses
    }


_B64 = "[A-Za-z0-9+/]"


def _base64_pattern(n: int) -> str:
    """A regular expression matching exactly the canonical base64 encodings of n bytes."""
    q, r = divmod(n, 3)
    tail = {0: "", 1: f"{_B64}[AQgw]==", 2: f"{_B64}{{2}}[AEIMQUYcgkosw048]="}[r]
    return f"^{_B64}{{{4 * q}}}{tail}$"


def _mark_base64(schema: Schema) -> None:
    """Tell OpenAPI readers that a string holds standard base64 of so many bytes."""
    if schema.type == OpenAPIType.STRING:
        schema.content_encoding = "base64"
        lo, hi = schema.min_length, schema.max_length
        if lo is not None and lo == hi:
            # A fixed size (ids, keys, signatures): a pattern says it exactly.
            schema.pattern = _base64_pattern(lo)
            schema.min_length = schema.max_length = None
            schema.description = f"base64 of exactly {lo} bytes"
        else:
            schema.format = "byte"  # type: ignore[assignment]
            # Length bounds were declared on the decoded bytes; JSON Schema measures the text.
            if lo is not None:
                schema.min_length = 4 * -(-lo // 3)
            if hi is not None:
                schema.max_length = 4 * -(-hi // 3)
    for sub in (*(schema.one_of or ()), *(schema.any_of or ())):
        if isinstance(sub, Schema):
            _mark_base64(sub)
    if isinstance(schema.items, Schema):
        _mark_base64(schema.items)


def _is_bytes(annotation: Any) -> bool:
    if annotation is bytes:
        return True
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_bytes(args[0])
    if origin in (types.UnionType, typing.Union, list):
        return any(_is_bytes(a) for a in args if a is not type(None))
    return False


def annotate_bytes_fields(openapi: OpenAPI) -> None:
    """Litestar renders `bytes` as a bare string; say it is base64 so clients and fuzzers know."""
    components = openapi.components.schemas if openapi.components else None
    if not components:
        return
    structs = [
        obj
        for module in (wire, errors)
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct)
    ]
    for struct in structs:
        component = components.get(struct.__name__)
        if component is None or not component.properties:
            continue
        hints = typing.get_type_hints(struct, include_extras=True)
        for field in msgspec.structs.fields(struct):
            prop = component.properties.get(field.encode_name)
            if isinstance(prop, Schema) and _is_bytes(hints[field.name]):
                _mark_base64(prop)
