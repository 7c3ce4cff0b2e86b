"""The door of the web app: who may talk to it, checked on every request before any page runs.

The app listens on a loopback address, but every program on the machine, and every web page
the member's browser opens, can reach a loopback port. So each HTTP request must pass, in
this order (docs/web.md, "How it is protected"):

1. **Host** is this app's own address (`127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`):
   a hostile page that re-resolves its own name to 127.0.0.1 (DNS rebinding) sends its own
   name as Host and is refused.
2. **Origin**, when the browser sends one, is this app's origin (or `null`, which the
   browser sends on its own form posts because of `Referrer-Policy: no-referrer`, together
   with `Sec-Fetch-Site: same-origin`); **Sec-Fetch-Site**, when sent, is `same-origin` or
   `none` (typed or opened by `chatham web`). A page on any other origin, another local
   port included, is refused before it can post anything.
3. **The cookie.** `/launch?token=…` exchanges the one-time token that `chatham web` printed
   for an HttpOnly, SameSite=Strict cookie; the token is spent at its first use and the
   cookie's value lives only in this process. Every other path except `/static/` needs it.
4. **CSRF token** on every state-changing request (POST and the rest): the `X-CSRF-Token`
   header, the `csrf` field of a URL-encoded form, or the `csrf` query parameter of a file
   upload, equal to the token the pages carry.

Every response gets the headers in `SECURITY_HEADERS`: a Content-Security-Policy that
allows only this origin's own files (no inline script, no framing), nosniff, no referrer,
and `Cache-Control: no-store`, since nearly every page holds plaintext (the package's own
CSS and JS, whose addresses carry a digest of their content, may be cached). A refusal is a
short text page saying what to do; nothing about the request is logged.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any, Final
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)

SECURITY_HEADERS: Final[tuple[tuple[bytes, bytes], ...]] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cache-control", b"no-store"),
)

STATIC_HEADERS: Final = (
    *SECURITY_HEADERS[:-1],
    # The package's own CSS and JS hold no plaintext; their address carries a digest of
    # their content (render.py), so they may be kept.
    (b"cache-control", b"max-age=31536000, immutable"),
)

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM: Final = 4 * 1024 * 1024
"""A URL-encoded form is read whole to find its CSRF token; no form of the app is larger
(the longest text, a note, is 200,000 characters)."""

LAUNCH_PATH: Final = "/launch"
STATIC_PREFIX: Final = "/static/"


@dataclass
class Door:
    """The secrets of one running web app: made at start, never written anywhere."""

    port: int
    host: str = "127.0.0.1"
    cookie_value: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    _launch: str | None = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def hosts(self) -> frozenset[str]:
        """The Host headers that name this app (the address it listens on, and localhost)."""
        names = {self.host, "localhost"} if self.host.startswith("127.") else {"[::1]", "localhost"}
        return frozenset(f"{n}:{self.port}" for n in names)

    @property
    def cookie_name(self) -> str:
        # Cookies are not kept apart by port: another `chatham web` on this machine (another
        # member's, say) must not overwrite this one's.
        return f"chatham-web-{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host if self.host.startswith('127.') else '[::1]'}:{self.port}"

    def launch_url(self) -> str:
        """The address with a fresh one-time token (the previous unused one stops working)."""
        self._launch = secrets.token_urlsafe(32)
        return f"{self.base_url}{LAUNCH_PATH}?token={self._launch}"

    def spend(self, token: str) -> bool:
        """True once for the current launch token; it is useless afterwards."""
        current = self._launch
        if current is None or not hmac.compare_digest(token.encode(), current.encode()):
            return False
        self._launch = None
        return True

    def signed_in(self, cookie_header: str) -> bool:
        try:
            jar = SimpleCookie(cookie_header)
        except CookieError:
            return False
        morsel = jar.get(self.cookie_name)
        return morsel is not None and hmac.compare_digest(
            morsel.value.encode(), self.cookie_value.encode()
        )

    def csrf_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf.encode())


REFUSALS: Final = {
    "host": "This address is not Chatham's. Open the address `chatham web` printed.",
    "origin": "Refused: this request came from another web site.",
    "signin": (
        "Not signed in. Open the address `chatham web` printed in your terminal; "
        "if it was used already, stop `chatham web` and start it again for a new one."
    ),
    "spent": (
        "This sign-in link was used already (each one works once). Stop `chatham web` "
        "and start it again, or press Enter in its terminal, for a new link."
    ),
    "csrf": "Refused: the form is out of date or did not come from Chatham. Reload the page.",
    "websocket": "Refused.",
}


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        name = k.decode("latin-1").lower()
        # A repeated Host, Origin or Cookie header is never the browser's: keep the first,
        # and let the check below refuse it if that one is wrong.
        out.setdefault(name, v.decode("latin-1"))
    return out


def _count(scope: Scope, name: bytes) -> int:
    return sum(1 for k, _ in scope.get("headers", []) if k.lower() == name)


async def _text(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = (text + "\n").encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *extra,
        *SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


LAUNCHED: Final = (
    b"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
    b"<meta http-equiv='refresh' content='0;url=/'><title>Chatham</title>"
    b"<link rel='stylesheet' href='/static/app.css'></head><body><main class='narrow'>"
    b"<p>Signed in. <a href='/'>Open Chatham</a>.</p></main></body></html>"
)
"""The answer to a good launch link. Not a redirect: the page's own refresh makes the next
request a same-origin one, so the SameSite=Strict cookie goes with it even when the link
was opened from another application."""


def guarded(app: ASGIApp, door: Door) -> ASGIApp:
    """`app` behind the checks in the module docstring, with the security headers added."""

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await app(scope, receive, send)
            return
        if scope["type"] != "http":
            # No WebSockets here: close before accepting.
            await send({"type": "websocket.close", "code": 1008})
            return
        h = _headers(scope)
        path: str = scope.get("path", "")
        if _count(scope, b"host") != 1 or h.get("host", "") not in door.hosts:
            await _text(send, 403, REFUSALS["host"], [])
            return
        origin = h.get("origin")
        site = h.get("sec-fetch-site")
        # With `Referrer-Policy: no-referrer` the browser sends `Origin: null` on its own form
        # posts; it is accepted only when the browser also vouches the request is same-origin.
        if (
            origin is not None
            and origin != f"http://{h['host']}"
            and not (origin == "null" and site == "same-origin")
        ):
            await _text(send, 403, REFUSALS["origin"], [])
            return
        if path == LAUNCH_PATH:
            await _launch(scope, send, door)
            return
        if site is not None and site not in ("same-origin", "none"):
            await _text(send, 403, REFUSALS["origin"], [])
            return
        if path.startswith(STATIC_PREFIX):
            if scope["method"] not in SAFE_METHODS:
                await _text(send, 405, "Method not allowed.", [])
                return
            await app(scope, receive, _with_headers(send, STATIC_HEADERS))
            return
        if _count(scope, b"cookie") > 1 or not door.signed_in(h.get("cookie", "")):
            await _text(send, 403, REFUSALS["signin"], [])
            return
        if scope["method"] not in SAFE_METHODS:
            token = h.get("x-csrf-token")
            if token is None:
                query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                token = query.get("csrf", [None])[0]
            if token is None and h.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"
            ):
                body = await _read_body(receive)
                if body is None:
                    await _text(send, 413, "The form is too large.", [])
                    return
                fields = parse_qs(body.decode("utf-8", errors="replace"))
                token = fields.get("csrf", [None])[0]
                receive = _replay(body, receive)
            if not door.csrf_ok(token):
                await _text(send, 403, REFUSALS["csrf"], [])
                return
        await app(scope, receive, _with_headers(send))

    def _with_headers(
        send: Send, headers: tuple[tuple[bytes, bytes], ...] = SECURITY_HEADERS
    ) -> Send:
        async def send_with(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = {k.lower() for k, _ in headers}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in own]
                message["headers"] = kept + list(headers)
            await send(message)

        return send_with

    return guard


async def _launch(scope: Scope, send: Send, door: Door) -> None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    token = query.get("token", [""])[0]
    if scope["method"] != "GET" or not door.spend(token):
        await _text(send, 403, REFUSALS["spent"], [])
        return
    cookie = f"{door.cookie_name}={door.cookie_value}; Path=/; HttpOnly; SameSite=Strict"
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(LAUNCHED)).encode()),
        (b"set-cookie", cookie.encode()),
        *SECURITY_HEADERS,
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": LAUNCHED})


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, then: Receive) -> Receive:
    """The body read once more for the app; after it, the client's own messages (disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await then()

    return receive
