"""What an error says: its `ErrorCode`, its status, its body, carried by `ServiceError`.

Every error the server returns has the body `{"code": "...", "detail": "..."}`:
`code` is one of `ErrorCode` (docs/server-api.md lists them all, a test keeps the
two equal), `detail` is for people. A few codes carry one more field: `field`
(which input was wrong), `check` (which protocol check failed), or `seq`/`head`
(the current log head, with `stale_head`).

    ServiceError             raised by services and request parsing: a code; its status from STATUS
    litestar HTTPException   framework errors (404 route, 405, 413, 400 parse): FRAMEWORK_CODES
    Exception                anything else: 500 internal_error, logged without request data

The exceptions become bodies in one place, `error_handlers.py`. The operator's commands
(`chatham-server backup`, `groups`, …) have no HTTP answer: they raise `Refused`, which
`cli.py` prints as `chatham-server: error:` and `hint:`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum, unique
from typing import Final

import msgspec
from chatham.crypto import Check


@unique
class ErrorCode(StrEnum):
    """Every `code` an error body can carry: what clients branch on."""

    INVALID_REQUEST = "invalid_request"
    INVALID_ID = "invalid_id"
    UNAUTHORIZED = "unauthorized"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - an error code, not a secret
    INVALID_CHALLENGE = "invalid_challenge"
    BAD_SIGNATURE = "bad_signature"
    NOT_A_MEMBER = "not_a_member"
    NOT_A_LEADER = "not_a_leader"
    DEVICE_TOKEN_REQUIRED = "device_token_required"  # noqa: S105 - an error code, not a secret
    NOT_FOUNDER = "not_founder"
    REGISTRATION_REQUIRED = "registration_required"
    INVALID_REGISTRATION_TOKEN = "invalid_registration_token"  # noqa: S105 - an error code, not a secret
    NOT_AUTHOR = "not_author"
    NOT_ALLOWED = "not_allowed"
    NOT_UPLOADER = "not_uploader"
    INVITE_NOT_USABLE = "invite_not_usable"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    INVITE_UNKNOWN = "invite_unknown"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    STALE_HEAD = "stale_head"
    GROUP_EXISTS = "group_exists"
    DUPLICATE_ENTRY = "duplicate_entry"
    CHAIN_GAP = "chain_gap"
    STALE_EPOCH = "stale_epoch"
    STALE_LOG_HEAD = "stale_log_head"
    STALE_HEADS = "stale_heads"
    NOT_A_PREFIX = "not_a_prefix"
    ROTATION_PENDING = "rotation_pending"
    CHUNK_EXISTS = "chunk_exists"
    ATTACHMENT_DELETED = "attachment_deleted"
    INVITE_USED = "invite_used"
    LINK_UNKNOWN = "link_unknown"
    LINK_EXPIRED = "link_expired"
    LINK_USED = "link_used"
    LINK_WAITING = "link_waiting"
    TOO_MANY_LINKS = "too_many_links"
    ESCROW_UNKNOWN = "escrow_unknown"
    CONFLICT = "conflict"
    BODY_TOO_LARGE = "body_too_large"
    HEADERS_TOO_LARGE = "headers_too_large"
    QUOTA_EXCEEDED = "quota_exceeded"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INVALID_OP = "invalid_op"
    INVALID_LOCKBOXES = "invalid_lockboxes"
    INVALID_ENTRY = "invalid_entry"
    INVALID_JOIN_REQUEST = "invalid_join_request"
    INVALID = "invalid"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    UNAVAILABLE = "unavailable"
    ERROR = "error"


C = ErrorCode

STATUS: Final[Mapping[ErrorCode, int]] = {
    C.INVALID_REQUEST: 400,
    C.INVALID_ID: 400,
    C.UNAUTHORIZED: 401,
    C.INVALID_TOKEN: 401,
    C.INVALID_CHALLENGE: 401,
    C.BAD_SIGNATURE: 401,
    C.NOT_A_MEMBER: 403,
    C.NOT_A_LEADER: 403,
    C.DEVICE_TOKEN_REQUIRED: 403,
    C.NOT_FOUNDER: 403,
    C.REGISTRATION_REQUIRED: 403,
    C.INVALID_REGISTRATION_TOKEN: 403,
    C.NOT_AUTHOR: 403,
    C.NOT_ALLOWED: 403,
    C.NOT_UPLOADER: 403,
    C.INVITE_NOT_USABLE: 403,
    C.FORBIDDEN: 403,
    C.NOT_FOUND: 404,
    C.INVITE_UNKNOWN: 404,
    C.METHOD_NOT_ALLOWED: 405,
    C.NOT_ACCEPTABLE: 406,
    C.STALE_HEAD: 409,
    C.GROUP_EXISTS: 409,
    C.DUPLICATE_ENTRY: 409,
    C.CHAIN_GAP: 409,
    C.STALE_EPOCH: 409,
    C.STALE_LOG_HEAD: 409,
    C.STALE_HEADS: 409,
    C.NOT_A_PREFIX: 409,
    C.ROTATION_PENDING: 409,
    C.CHUNK_EXISTS: 409,
    C.ATTACHMENT_DELETED: 409,
    C.INVITE_USED: 409,
    C.LINK_UNKNOWN: 404,
    C.LINK_EXPIRED: 410,
    C.LINK_USED: 409,
    C.LINK_WAITING: 409,
    C.TOO_MANY_LINKS: 429,
    C.ESCROW_UNKNOWN: 404,
    C.CONFLICT: 409,
    C.BODY_TOO_LARGE: 413,
    C.HEADERS_TOO_LARGE: 431,
    C.QUOTA_EXCEEDED: 413,
    C.UNSUPPORTED_MEDIA_TYPE: 415,
    C.INVALID_OP: 422,
    C.INVALID_LOCKBOXES: 422,
    C.INVALID_ENTRY: 422,
    C.INVALID_JOIN_REQUEST: 422,
    C.INVALID: 422,
    C.RATE_LIMITED: 429,
    C.INTERNAL_ERROR: 500,
    C.UNAVAILABLE: 503,
}
"""The HTTP status of each code. `error` has none: it names a framework error whose status
no other code covers, and keeps that status."""

FRAMEWORK_CODES: Final[Mapping[int, ErrorCode]] = {
    400: C.INVALID_REQUEST,
    401: C.UNAUTHORIZED,
    403: C.FORBIDDEN,
    404: C.NOT_FOUND,
    405: C.METHOD_NOT_ALLOWED,
    406: C.NOT_ACCEPTABLE,
    409: C.CONFLICT,
    413: C.BODY_TOO_LARGE,
    415: C.UNSUPPORTED_MEDIA_TYPE,
    422: C.INVALID,
    429: C.RATE_LIMITED,
}
"""The code of a framework error (Litestar's HTTPException) with this status; any other 4xx
status is `error`."""


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """The body of every error response. Built only by `error_body`, so its code is typed."""

    code: str
    detail: str
    field: str | None = None
    check: str | None = None
    seq: int | None = None
    head: bytes | None = None


def error_body(
    code: ErrorCode,
    detail: str,
    *,
    field: str | None = None,
    check: Check | None = None,
    seq: int | None = None,
    head: bytes | None = None,
) -> ErrorBody:
    """An error body; `code` must be an `ErrorCode`, so a misspelt code fails the type check."""
    return ErrorBody(code.value, detail, field, check, seq, head)


class ServiceError(Exception):
    """A request refused (or, for 5xx codes, failed) with a stable code; nothing was changed.

    Services raise it with the code and the detail; the HTTP status comes from the code
    (`STATUS`), in the exception handler.
    """

    def __init__(
        self,
        code: ErrorCode,
        detail: str,
        *,
        field: str | None = None,
        check: Check | None = None,
        seq: int | None = None,
        head: bytes | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.body = error_body(code, detail, field=field, check=check, seq=seq, head=head)
        self.retry_after = retry_after
        """Seconds, for `rate_limited`: sent as the Retry-After header."""

    @property
    def status(self) -> int:
        return STATUS[self.code]


def not_found(what: str) -> ServiceError:
    return ServiceError(C.NOT_FOUND, f"no such {what}")


def not_a_member() -> ServiceError:
    return ServiceError(C.NOT_A_MEMBER, "this device is not an active member of the group")


def invalid_request(detail: str, field: str | None = None) -> ServiceError:
    return ServiceError(C.INVALID_REQUEST, detail, field=field)


class Refused(Exception):
    """An operator command cannot be done as asked; `hint` says what to do instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint
