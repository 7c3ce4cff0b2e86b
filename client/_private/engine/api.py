"""Every HTTP request the client makes, in one place (docs/server-api.md).

`ServerApi` speaks to one Chatham server as one device (or, before joining,
as an invitee holding an invite's join key). It turns the server's answers
into typed values or typed exceptions, and nothing else: it trusts nothing it
receives. Verification happens above it, in the sync engine.

The wire carries ids, sequence numbers, epochs, cursors and opaque bytes only;
bulk pages (log, lockboxes, entries) are asked for as msgpack.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Protocol, TypeVar

import httpx
import msgspec
from chatham import crypto
from msgspec import Meta

from ... import errors as E
from .tls import unreachable

T = TypeVar("T")

MSGPACK: Final = "application/msgpack"
LOGIN_ACTION: Final = "login"
TIMEOUT: Final = httpx.Timeout(30.0, connect=10.0)


def b64url(raw: bytes) -> str:
    """Ids in paths: unpadded base64url."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def normalize_url(url: str) -> str:
    """A server URL as groups store it and invite codes check it (`crypto.canonical_server`):
    scheme, lowercase host, port unless the default, path, no trailing /. A bare host name
    means https (`chatham.example.org`)."""
    url = url.strip()
    if url and "://" not in url:
        url = "https://" + url
    try:
        httpx.URL(url)
        return crypto.canonical_server(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise E.UsageError(
            f"not a server address: {url!r}", hint="write it like https://chatham.example.org"
        ) from None


# --- wire bodies (mirrors of docs/server-api.md; unknown fields are ignored here) ---------------


class _Body(msgspec.Struct, omit_defaults=True):
    pass


Count = Annotated[int, Meta(ge=0, le=(1 << 63) - 1)]
"""A cursor, sequence number, epoch, size or time from the server: what SQLite and the
local store can hold. Anything else is not the protocol (BadResponse)."""
TokenText = Annotated[str, Meta(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_-]+$")]
"""Tokens are unpadded base64url; anything else would break the Authorization header."""


class Challenge(_Body):
    challenge: bytes
    server_id: Annotated[bytes, Meta(min_length=16, max_length=64)]
    expires: Count = 0


class Token(_Body):
    token: TokenText
    expires: Count


class Lockbox(_Body):
    device: bytes
    lockbox: bytes


class Head(_Body):
    group_id: bytes
    seq: Count
    head: bytes


class GroupInfo(_Body):
    group_id: bytes
    seq: Count
    head: bytes
    epoch: Count
    pending_rotation: bool
    entry_cursor: Count


class ChainHeadItem(_Body):
    device: bytes
    seq: Count
    link: bytes


class LogPage(_Body):
    group_id: bytes
    ops: list[bytes]
    seq: Count
    head: bytes
    more: bool
    entry_cursor: Count | None = None
    heads: list[ChainHeadItem] | None = None


class DeviceLockbox(_Body):
    epoch: Count
    seq: Count
    lockbox: bytes


class LockboxPage(_Body):
    lockboxes: list[DeviceLockbox]


class EntryPosted(_Body):
    entry_id: bytes
    cursor: Count


class EntryItem(_Body):
    cursor: Count
    entry_id: bytes
    entry: bytes | None = None
    stub: bytes | None = None
    retracted_by: bytes | None = None


class EntryPage(_Body):
    entries: list[EntryItem]
    cursor: Count
    more: bool


class InviteGroups(_Body):
    groups: list[bytes]


class JoinRequestItem(_Body):
    invite_id: bytes
    request: bytes


class JoinRequestPage(_Body):
    requests: list[JoinRequestItem]


class AttachmentInfo(_Body):
    attachment_id: bytes
    chunks: Count
    size: Count


class AttachmentItem(_Body):
    attachment_id: bytes
    uploader: bytes
    chunks: Count
    size: Count
    entry_id: bytes | None = None


class AttachmentList(_Body):
    attachments: list[AttachmentItem]
    more: bool


class LinkInfo(_Body):
    link_id: bytes
    expires: int


class LinkSlot(_Body):
    data: bytes


class Escrow(_Body):
    escrow: bytes


class ErrorBody(_Body):
    code: str = "error"
    detail: str = ""
    field: str | None = None
    check: str | None = None
    seq: int | None = None
    head: bytes | None = None


class EntryOutcome(_Body):
    entry_id: bytes | None = None
    cursor: Count | None = None
    error: ErrorBody | None = None


class EntryOutcomes(_Body):
    results: list[EntryOutcome]


class Healed(_Body):
    seq: Count
    head: bytes
    results: list[EntryOutcome]


@dataclass(frozen=True)
class HealAnswer:
    seq: int
    head: bytes
    results: list[EntryPosted | E.ServerError]


_STATUS_ERRORS: Mapping[int, type[E.ServerError]] = {
    400: E.Refused,
    401: E.AuthFailed,
    403: E.Forbidden,
    404: E.ServerNotFound,
    409: E.Conflict,
    413: E.TooLarge,
    422: E.Refused,
    429: E.RateLimited,
}


RATE_RETRIES: Final = 2
MAX_RETRY_AFTER: Final = 10.0
"""A rate-limited request is retried after the server's Retry-After, if it is this short."""


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        wait = float(resp.headers.get("retry-after", ""))
    except ValueError:
        return None
    return wait if 0 <= wait <= MAX_RETRY_AFTER else None


class TokenCache(Protocol):
    """Where a device keeps, per server URL, its bearer token between commands and the
    identity the server showed at the first login there (both sealed at rest)."""

    def load(self, url: str) -> tuple[str, float] | None: ...

    def save(self, url: str, token: tuple[str, float] | None) -> None: ...

    def server_pins(self) -> dict[str, bytes]: ...

    def pin_server(self, url: str, server_id: bytes) -> None: ...


_CODE_WORDS: Mapping[str, tuple[str, str]] = {
    "registration_required": (
        "this server creates groups only with a registration token from its operator",
        "ask the server's operator for one (`chatham-server issue-token`), then run "
        "`chatham group create NAME --server URL --registration-token TOKEN`",
    ),
    "invalid_registration_token": (
        "the server does not accept this registration token: it is unknown, used up or expired",
        "check it was copied whole, or ask the server's operator for a new one "
        "(`chatham-server issue-token`, run with the server's own --data-dir or --database)",
    ),
    "not_a_member": (
        "the server does not count this device as a member of the group",
        "`chatham sync` shows where you stand; a leader can invite you again",
    ),
    "not_a_leader": (
        "the server lets only the group's leaders do that",
        "ask one of the group's leaders (`chatham members` shows who they are)",
    ),
    "link_unknown": (
        "the server knows no link with this code",
        "check the code against `chatham device link` on your other device; if it was "
        "made more than ten minutes ago, make a new one there",
    ),
    "link_expired": (
        "this link code has expired (a link lasts ten minutes)",
        "run `chatham device link` again on your other device",
    ),
    "link_used": (
        "this link code was already used",
        "link codes work once: run `chatham device link` again on your other device; if "
        "you did not use it, someone else saw the code, so do not confirm their words",
    ),
    "link_waiting": (
        "the other device has not done its part of the link yet",
        "on the new device run `chatham device add CODE`; then `chatham device confirm "
        "WORDS` here, and `chatham sync` there",
    ),
    "escrow_unknown": (
        "the server holds no recovery kit for these words",
        "it was revoked, or made for another server",
    ),
    "too_many_links": (
        "this device already has three links open",
        "use one of them, or wait ten minutes for them to expire",
    ),
    "quota_exceeded": (
        "the group has used all the space the server gives it",
        "ask a leader to retract old attachments, or the server's operator for more room",
    ),
}
"""Refusals a member can act on, in their words (the server's detail is for operators)."""


def server_error(status: int, body: ErrorBody) -> E.ServerError:
    cls = _STATUS_ERRORS.get(status, E.ServerError)
    detail = body.detail or body.code.replace("_", " ")
    hint = None
    if body.code in _CODE_WORDS:
        message, hint = _CODE_WORDS[body.code]
    elif status >= 500:
        message = f"the server failed ({status} {body.code})"
    else:
        message = f"the server refused: {detail}"
        if body.check:
            message += f" (check: {body.check})"
    err = cls(message, hint=hint, status=status, code=body.code)
    err.body = body
    return err


_ONE_STATUS: Mapping[str, int] = {
    "not_a_member": 403,
    "not_author": 403,
    "not_allowed": 403,
    "not_found": 404,
    "stale_head": 409,
    "duplicate_entry": 409,
    "chain_gap": 409,
    "stale_epoch": 409,
    "stale_log_head": 409,
    "stale_heads": 409,
    "rotation_pending": 409,
    "quota_exceeded": 413,
}
"""The status a record refused inside a bulk answer would have had alone (422 otherwise)."""


def outcome_of(r: EntryOutcome) -> EntryPosted | E.ServerError:
    """One answer of a bulk request: what was stored, or the error a single request gets."""
    if r.error is not None:
        return server_error(_ONE_STATUS.get(r.error.code, 422), r.error)
    if r.entry_id is None or r.cursor is None:
        raise E.BadResponse("the server answered an entry with neither a cursor nor an error")
    return EntryPosted(r.entry_id, r.cursor)


class ServerApi:
    """One server, as one device sees it. All HTTP lives here."""

    def __init__(
        self,
        http: httpx.Client,
        url: str,
        device: crypto.DeviceKeys,
        *,
        clock: Callable[[], float] = time.time,
        tokens: TokenCache | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = http
        self.url = normalize_url(url)
        self.device = device
        self.clock = clock
        self.sleep = sleep
        self.tokens = tokens
        self._token: str | None = None
        self._expires = 0.0
        self._invite: crypto.InviteSecret | None = None
        self.timeout = TIMEOUT
        self._device_token: tuple[str | None, float] = (None, 0.0)
        self._server_id: bytes | None = None
        if tokens is not None:
            cached = tokens.load(self.url)
            if cached is not None:
                self._token, self._expires = cached

    # --- plumbing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def quick(self, seconds: float) -> Iterator[None]:
        """Within the block, give up on a request after `seconds` without an answer (a read
        syncs first only if the server answers promptly; the local copy serves otherwise)."""
        saved = self.timeout
        self.timeout = httpx.Timeout(seconds)
        try:
            yield
        finally:
            self.timeout = saved

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        params: Mapping[str, int | str] | None = None,
        auth: bool = True,
        msgpack: bool = False,
    ) -> httpx.Response:
        headers = {"accept": MSGPACK if msgpack else "application/json"}
        body = content
        if json is not None:
            body = msgspec.json.encode(json)
            headers["content-type"] = "application/json"
        elif content is not None:
            headers["content-type"] = "application/octet-stream"
        relogged = False
        limited = 0
        while True:
            if auth:
                headers["authorization"] = f"Bearer {self._bearer()}"
            try:
                resp = self.http.request(
                    method,
                    self.url + path,
                    content=body,
                    params=dict(params) if params else None,
                    headers=headers,
                    timeout=self.timeout,
                )
            except httpx.TransportError as e:
                raise unreachable(self.url, e) from None
            except httpx.DecodingError:
                raise E.BadResponse(
                    "the server's answer is not valid protocol (its encoding)"
                ) from None
            if resp.status_code == 401 and auth and not relogged:
                # The token expired or the server forgot it: log in again, once.
                self._forget_token()
                relogged = True
                continue
            if resp.status_code == 429 and limited < RATE_RETRIES:
                # Rate limited: wait as long as the server asks (within reason) and retry.
                wait = _retry_after(resp)
                if wait is not None:
                    limited += 1
                    self.sleep(wait)
                    continue
            if resp.status_code >= 400:
                raise server_error(resp.status_code, self._error_body(resp))
            return resp

    @staticmethod
    def _error_body(resp: httpx.Response) -> ErrorBody:
        try:
            return msgspec.json.decode(resp.content, type=ErrorBody)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
            return ErrorBody("error", f"HTTP {resp.status_code}")

    @staticmethod
    def _decode(resp: httpx.Response, typ: type[T]) -> T:
        try:
            if resp.headers.get("content-type", "").startswith(MSGPACK):
                return msgspec.msgpack.decode(resp.content, type=typ)
            return msgspec.json.decode(resp.content, type=typ)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            raise E.BadResponse(
                f"the server's answer is not valid protocol ({e})", status=resp.status_code
            ) from None
        except (RecursionError, UnicodeDecodeError) as e:
            # Nested past msgspec's depth (answers allow unknown fields, skipped by recursion),
            # or invalid UTF-8, which msgspec reports as UnicodeDecodeError.
            why = "nested too deeply" if isinstance(e, RecursionError) else "invalid UTF-8"
            raise E.BadResponse(
                f"the server's answer is not valid protocol ({why})", status=resp.status_code
            ) from None

    def _bearer(self) -> str:
        if self._token is None or self.clock() > self._expires - 30:
            self._login()
        assert self._token is not None
        return self._token

    def _forget_token(self) -> None:
        self._token = None
        if self.tokens is not None and self._invite is None:
            self.tokens.save(self.url, None)

    def _check_identity(self, server_id: bytes) -> None:
        """Trust the server's identity on first use, then hold it to it.

        A login signs the server's identity, so a login this device signs for one server is
        useless at any other. A server relaying another's challenge must show that other
        server's identity: this device refuses it when that identity is pinned for another
        address, or when this address already showed a different one (docs/protocol.md §11).
        """
        pins = self.tokens.server_pins() if self.tokens is not None else {}
        if self._server_id is not None:
            pins[self.url] = self._server_id
        pinned = pins.get(self.url)
        if pinned is not None and not hmac.compare_digest(pinned, server_id):
            raise E.ServerChanged(
                f"the server at {self.url} is not the server this device first logged in to "
                "there (its identity changed)"
            )
        if pinned is None:
            other = next((u for u, i in pins.items() if hmac.compare_digest(i, server_id)), None)
            if other is not None:
                raise E.ServerChanged(
                    f"the server at {self.url} claims to be the server at {other}",
                    hint="use one address per server; if the two are the same server, use "
                    f"{other}; otherwise {self.url} may be relaying logins, so do not use it",
                )
            if self.tokens is not None:
                self.tokens.pin_server(self.url, server_id)
        self._server_id = server_id

    def _login(self) -> None:
        ch = self._decode(self._send("POST", "/v1/auth/challenge", auth=False), Challenge)
        self._check_identity(ch.server_id)
        if self._invite is not None:
            inv = self._invite
            body: dict[str, Any] = {
                "group_id": inv.group,
                "invite_id": inv.invite_id,
                "challenge": ch.challenge,
                "signature": inv.read_signature(ch.challenge),
            }
            path = "/v1/auth/invite-token"
        else:
            body = {
                "device_key": self.device.public,
                "challenge": ch.challenge,
                "signature": crypto.sign_auth(
                    self.device, ch.server_id, LOGIN_ACTION, ch.challenge
                ),
            }
            path = "/v1/auth/token"
        tok = self._decode(self._send("POST", path, json=body, auth=False), Token)
        self._token = tok.token
        self._expires = float(tok.expires)
        if self.tokens is not None and self._invite is None:
            self.tokens.save(self.url, (tok.token, float(tok.expires)))

    def as_invitee(self, invite: crypto.InviteSecret | None) -> None:
        """Log in with an invite's join key (to read the log before joining), or stop doing so."""
        if invite is self._invite:
            return
        if self._invite is None:
            self._device_token = (self._token, self._expires)
            self._token = None
        else:
            self._token, self._expires = self._device_token
        self._invite = invite

    # --- groups and the log ---------------------------------------------------------------------

    def create_group(
        self, ops: list[bytes], lockboxes: Mapping[bytes, bytes], registration_token: str | None
    ) -> Head:
        body: dict[str, Any] = {
            "ops": ops,
            "lockboxes": [{"device": d, "lockbox": b} for d, b in sorted(lockboxes.items())],
        }
        if registration_token is not None:
            body["registration_token"] = registration_token
        return self._decode(self._send("POST", "/v1/groups", json=body), Head)

    def group_info(self, group: bytes) -> GroupInfo:
        return self._decode(self._send("GET", f"/v1/groups/{b64url(group)}"), GroupInfo)

    def _page(self, path: str, params: dict[str, int | str], limit: int | None, typ: type[T]) -> T:
        """One page of a paged listing (msgpack); `limit` None leaves the size to the server."""
        if limit is not None:
            params["limit"] = limit
        return self._decode(self._send("GET", path, params=params, msgpack=True), typ)

    def log(self, group: bytes, since: int, limit: int | None = None) -> LogPage:
        return self._page(f"/v1/groups/{b64url(group)}/log", {"since": since}, limit, LogPage)

    def append(
        self,
        group: bytes,
        expected_seq: int,
        expected_head: bytes,
        op: bytes,
        lockboxes: Mapping[bytes, bytes],
    ) -> Head:
        body = {
            "expected_seq": expected_seq,
            "expected_head": expected_head,
            "op": op,
            "lockboxes": [{"device": d, "lockbox": b} for d, b in sorted(lockboxes.items())],
        }
        return self._decode(self._send("POST", f"/v1/groups/{b64url(group)}/log", json=body), Head)

    def lockboxes(self, group: bytes, since_epoch: int) -> list[DeviceLockbox]:
        resp = self._send(
            "GET",
            f"/v1/groups/{b64url(group)}/lockboxes",
            params={"since_epoch": since_epoch},
            msgpack=True,
        )
        return self._decode(resp, LockboxPage).lockboxes

    # --- entries --------------------------------------------------------------------------------

    def post_entry(self, group: bytes, entry: bytes) -> EntryPosted:
        resp = self._send("POST", f"/v1/groups/{b64url(group)}/entries", json={"entry": entry})
        return self._decode(resp, EntryPosted)

    def post_entries(
        self, group: bytes, entries: Sequence[bytes]
    ) -> list[EntryPosted | E.ServerError]:
        """Many entries in one request, in order; each one's answer as if posted alone."""
        resp = self._send(
            "POST", f"/v1/groups/{b64url(group)}/entries/bulk", json={"entries": list(entries)}
        )
        results = self._decode(resp, EntryOutcomes).results
        if len(results) != len(entries):
            raise E.BadResponse("the server answered another number of entries than were sent")
        return [outcome_of(r) for r in results]

    def heal(
        self,
        group: bytes,
        expected_seq: int,
        expected_head: bytes,
        ops: Sequence[bytes],
        lockboxes: Sequence[tuple[int, bytes, bytes]],
        entries: Sequence[Mapping[str, Any]],
        registration_token: str | None,
    ) -> HealAnswer:
        """Give the server back what this copy holds beyond its state (protocol §14.2)."""
        body: dict[str, Any] = {
            "expected_seq": expected_seq,
            "expected_head": expected_head,
            "ops": list(ops),
            "lockboxes": [{"seq": s, "device": d, "lockbox": b} for s, d, b in lockboxes],
            "entries": [dict(e) for e in entries],
        }
        if registration_token is not None:
            body["registration_token"] = registration_token
        resp = self._send("POST", f"/v1/groups/{b64url(group)}/heal", json=body)
        answer = self._decode(resp, Healed)
        if len(answer.results) != len(entries):
            raise E.BadResponse("the server answered another number of entries than were sent")
        return HealAnswer(answer.seq, answer.head, [outcome_of(r) for r in answer.results])

    def entries(self, group: bytes, after: int, limit: int | None = None) -> EntryPage:
        path = f"/v1/groups/{b64url(group)}/entries"
        return self._page(path, {"after": after}, limit, EntryPage)

    def entry(self, group: bytes, entry_id: bytes) -> EntryItem:
        resp = self._send(
            "GET", f"/v1/groups/{b64url(group)}/entries/{b64url(entry_id)}", msgpack=True
        )
        return self._decode(resp, EntryItem)

    # --- joining --------------------------------------------------------------------------------

    def invite_groups(self, invite_id: bytes) -> list[bytes]:
        """The groups whose log holds an invite with this id (normally one; none if unknown)."""
        try:
            resp = self._send("GET", f"/v1/invites/{b64url(invite_id)}", auth=False)
        except E.ServerNotFound:
            return []
        return self._decode(resp, InviteGroups).groups

    def post_join_request(self, group: bytes, request: bytes) -> None:
        self._send(
            "POST",
            f"/v1/groups/{b64url(group)}/join-requests",
            json={"request": request},
            auth=False,
        )

    def join_requests(self, group: bytes) -> list[JoinRequestItem]:
        resp = self._send("GET", f"/v1/groups/{b64url(group)}/join-requests")
        return self._decode(resp, JoinRequestPage).requests

    # --- device links (docs/protocol.md §5.4) -----------------------------------------------------

    def open_link(self, link_id: bytes, verifier: bytes, offer: bytes) -> LinkInfo:
        body = {"link_id": link_id, "verifier": verifier, "offer": offer}
        return self._decode(self._send("POST", "/v1/links", json=body), LinkInfo)

    def read_link_offer(self, link_id: bytes, auth: bytes) -> bytes:
        path = f"/v1/links/{b64url(link_id)}/offer"
        return self._decode(
            self._send("POST", path, json={"auth": auth}, auth=False), LinkSlot
        ).data

    def post_link_request(self, link_id: bytes, auth: bytes, request: bytes) -> LinkInfo:
        path = f"/v1/links/{b64url(link_id)}/request"
        resp = self._send("POST", path, json={"auth": auth, "request": request}, auth=False)
        return self._decode(resp, LinkInfo)

    def read_link_request(self, link_id: bytes) -> bytes:
        resp = self._send("GET", f"/v1/links/{b64url(link_id)}/request")
        return self._decode(resp, LinkSlot).data

    def post_link_handover(self, link_id: bytes, handover: bytes) -> LinkInfo:
        path = f"/v1/links/{b64url(link_id)}/handover"
        return self._decode(self._send("POST", path, json={"handover": handover}), LinkInfo)

    def read_link_handover(self, link_id: bytes, auth: bytes) -> bytes:
        path = f"/v1/links/{b64url(link_id)}/handover/read"
        return self._decode(
            self._send("POST", path, json={"auth": auth}, auth=False), LinkSlot
        ).data

    def close_link(self, link_id: bytes) -> None:
        self._send("DELETE", f"/v1/links/{b64url(link_id)}")

    def put_escrow(self, group: bytes, escrow: bytes) -> None:
        """Store this (kit) device's recovery escrow (docs/protocol.md §5.5); `group` is a
        group it is an active device of."""
        self._send("PUT", "/v1/escrow", json={"group": group, "escrow": escrow})

    def read_escrow(self) -> bytes:
        return self._decode(self._send("GET", "/v1/escrow"), Escrow).escrow

    # --- attachments ----------------------------------------------------------------------------

    def put_chunk(self, group: bytes, attachment: bytes, index: int, data: bytes) -> None:
        self._send(
            "PUT",
            f"/v1/groups/{b64url(group)}/attachments/{b64url(attachment)}/chunks/{index}",
            content=data,
        )

    def get_chunk(self, group: bytes, attachment: bytes, index: int) -> bytes:
        resp = self._send(
            "GET", f"/v1/groups/{b64url(group)}/attachments/{b64url(attachment)}/chunks/{index}"
        )
        return resp.content

    def attachment_info(self, group: bytes, attachment: bytes) -> AttachmentInfo:
        resp = self._send("GET", f"/v1/groups/{b64url(group)}/attachments/{b64url(attachment)}")
        return self._decode(resp, AttachmentInfo)

    def delete_attachment(self, group: bytes, attachment: bytes) -> AttachmentInfo:
        resp = self._send("DELETE", f"/v1/groups/{b64url(group)}/attachments/{b64url(attachment)}")
        return self._decode(resp, AttachmentInfo)

    def name_attachment_entry(
        self, group: bytes, attachment: bytes, entry_id: bytes
    ) -> AttachmentInfo:
        """Finish an upload: the entry (this device's, on the server) that refers to it."""
        resp = self._send(
            "PUT",
            f"/v1/groups/{b64url(group)}/attachments/{b64url(attachment)}/entry",
            json={"entry_id": entry_id},
        )
        return self._decode(resp, AttachmentInfo)

    def list_attachments(
        self, group: bytes, after: bytes | None = None, limit: int | None = None
    ) -> AttachmentList:
        params: dict[str, int | str] = {}
        if after is not None:
            params["after"] = b64url(after)
        if limit is not None:
            params["limit"] = limit
        resp = self._send("GET", f"/v1/groups/{b64url(group)}/attachments", params=params)
        return self._decode(resp, AttachmentList)

    # --- events ---------------------------------------------------------------------------------

    def events(self, group: bytes, *, read_timeout: float = 45.0) -> httpx.Response:
        """Open the server-sent event stream; the caller iterates `iter_lines()` and closes it.

        `read_timeout` bounds the wait for any byte; the server sends a keepalive every 15 s.
        """
        headers = {"accept": "text/event-stream", "authorization": f"Bearer {self._bearer()}"}
        req = self.http.build_request(
            "GET",
            f"{self.url}/v1/groups/{b64url(group)}/events",
            headers=headers,
            timeout=httpx.Timeout(read_timeout, connect=TIMEOUT.connect),
        )
        try:
            resp = self.http.send(req, stream=True)
        except httpx.TransportError as e:
            raise unreachable(self.url, e) from None
        if resp.status_code >= 400:
            resp.read()
            resp.close()
            raise server_error(resp.status_code, self._error_body(resp))
        return resp
