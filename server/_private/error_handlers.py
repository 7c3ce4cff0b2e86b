"""Turning every exception a request raises into the error body, at one boundary.

`ServiceError` takes its status from its code (`errors.STATUS`); Litestar's own
`HTTPException` keeps its status and takes its code from `errors.FRAMEWORK_CODES`;
anything else is a bug, answered `500 internal_error` and logged without request data.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from .bodies import field_of
from .errors import FRAMEWORK_CODES, ErrorBody, ErrorCode, ServiceError, error_body

log = logging.getLogger("chatham.server")


def error_response(
    status: int, body: ErrorBody, headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        content=body, status_code=status, headers=headers, media_type="application/json"
    )


def handle_service_error(_: Request[Any, Any, Any], exc: ServiceError) -> Response[Any]:
    headers = None if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
    return error_response(exc.status, exc.body, headers)


def handle_http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status >= 500:
        log.error("internal error (%s)", type(exc).__name__)
        return error_response(status, error_body(ErrorCode.INTERNAL_ERROR, "internal server error"))
    if isinstance(exc, ValidationException) or (status == 400 and isinstance(exc.extra, list)):
        items = exc.extra if isinstance(exc.extra, list) else []
        first = items[0] if items and isinstance(items[0], dict) else {}
        field = field_of(first) if first else None
        message = str(first.get("message", exc.detail)) if first else str(exc.detail)
        return error_response(400, error_body(ErrorCode.INVALID_REQUEST, message, field=field))
    code = FRAMEWORK_CODES.get(status, ErrorCode.ERROR)
    detail = str(exc.detail) if exc.detail else code.replace("_", " ")
    if status == 413:
        detail = "request body is larger than this endpoint accepts"
    headers = {k: str(v) for k, v in (exc.headers or {}).items()}
    return error_response(status, error_body(code, detail), headers or None)


def handle_internal_error(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Log the type and place only: request bodies are ciphertext or signed records, but
    # tokens can appear in headers, and nothing secret may reach a log.
    log.error("internal error: %s", type(exc).__name__, exc_info=exc)
    return error_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        error_body(ErrorCode.INTERNAL_ERROR, "internal server error"),
    )


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    ServiceError: handle_service_error,
    HTTPException: handle_http_exception,
    Exception: handle_internal_error,
}
