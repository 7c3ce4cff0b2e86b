"""Error bodies and the exception handlers that produce them.

Every error the server returns has the body `{"code": "...", "detail": "..."}`:
`code` is a stable snake_case string clients branch on (docs/server-api.md
lists them all), `detail` is for people. A few codes carry one more field:
`field` (which input was wrong), `check` (which protocol check failed), or
`seq`/`head` (the current log head, with `stale_head`).

    ApiError                 raised by handlers, carries status + code
    litestar HTTPException   framework errors (404 route, 405, 413, 400 parse)
    Exception                anything else: 500 internal_error, logged without request data
"""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger("chatham.server")


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """The body of every error response."""

    code: str
    detail: str
    field: str | None = None
    check: str | None = None
    seq: int | None = None
    head: bytes | None = None


class ApiError(Exception):
    """An error with an HTTP status and a stable code; the handler turns it into ErrorBody."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        field: str | None = None,
        check: str | None = None,
        seq: int | None = None,
        head: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.body = ErrorBody(code, detail, field, check, seq, head)
        self.headers = headers or {}


def bad_request(code: str, detail: str, field: str | None = None) -> ApiError:
    return ApiError(400, code, detail, field=field)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


def not_a_member() -> ApiError:
    return ApiError(403, "not_a_member", "this device is not an active member of the group")


_STATUS_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}

# msgspec's messages end in "- at `$.field[0]`" and name a missing field in backquotes.
_AT_RE = re.compile(r"at `\$\.?([^`]*)`")
_MISSING_RE = re.compile(r"required field `([^`]+)`")


def _field_of(item: dict[str, Any]) -> str | None:
    message = str(item.get("message", ""))
    at = _AT_RE.search(message)
    key = str(item.get("key") or "")
    # Litestar moves msgspec's "at `$.x`" into `key` ("data" is the body itself).
    path = at.group(1) if at else ("" if key == "data" else key)
    missing = _MISSING_RE.search(message)
    if missing:
        return f"{path}.{missing.group(1)}" if path else missing.group(1)
    return path or None


def invalid_body(exc: msgspec.ValidationError) -> ApiError:
    """The error for a body that does not fit its type, as Litestar's validation gives it.

    Same code, the message without msgspec's "- at `$.x`" suffix, and the field named.
    """
    message = str(exc)
    return bad_request(
        "invalid_request", message.split(" - ", 1)[0], _field_of({"message": message})
    )


def _error_response(
    status: int, body: ErrorBody, headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        content=body, status_code=status, headers=headers, media_type="application/json"
    )


def handle_api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return _error_response(exc.status, exc.body, exc.headers)


def handle_http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= 500:
        log.error("internal error (%s)", type(exc).__name__)
        return _error_response(status, ErrorBody("internal_error", "internal server error"))
    if isinstance(exc, ValidationException) or (status == 400 and isinstance(exc.extra, list)):
        items = exc.extra if isinstance(exc.extra, list) else []
        first = items[0] if items and isinstance(items[0], dict) else {}
        field = _field_of(first) if first else None
        message = str(first.get("message", exc.detail)) if first else str(exc.detail)
        return _error_response(400, ErrorBody("invalid_request", message, field=field))
    code = _STATUS_CODES.get(status, "error")
    detail = str(exc.detail) if exc.detail else code.replace("_", " ")
    if status == 413:
        detail = "request body is larger than this endpoint accepts"
    headers = {k: str(v) for k, v in (exc.headers or {}).items()}
    return _error_response(status, ErrorBody(code, detail), headers or None)


def handle_internal_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Log the type and place only: request bodies are ciphertext or signed records, but
    # tokens can appear in headers, and nothing secret may reach a log.
    log.error("internal error: %s", type(exc).__name__, exc_info=exc)
    return Response(
        content=ErrorBody("internal_error", "internal server error"),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        media_type="application/json",
    )


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    ApiError: handle_api_error,
    HTTPException: handle_http_exception,
    Exception: handle_internal_error,
}


_DESCRIPTIONS = {
    400: "malformed request (code invalid_request, invalid_id, ...; `field` names the input)",
    401: "missing, unknown or expired token, or a bad login signature",
    403: "not allowed (not_a_member, not_a_leader, ...)",
    404: "no such item",
    409: "conflict (stale_head, duplicate_entry, ...)",
    413: "body too large, or the group's storage quota is full",
    422: "well-formed but refused by a protocol check (`check` names it)",
    429: "rate limited; see Retry-After",
}


def responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the error responses a route can give (all share ErrorBody)."""
    return {
        s: ResponseSpec(ErrorBody, description=_DESCRIPTIONS[s], generate_examples=False)
        for s in statuses
    }
