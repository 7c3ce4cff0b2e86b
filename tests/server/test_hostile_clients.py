"""Hostile clients against a real `chatham-server` on 127.0.0.1: what a stranger's connection
may cost the server, and that it does not stop honest requests.

Every loop is bounded in count and time; every socket targets 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chatham.server.testing import LiveServer, live_server

from tests.support.server_harness import Group, Person, World

LIMITS = {
    "CHATHAM_SERVER_HEADER_TIMEOUT": "1",
    "CHATHAM_SERVER_BODY_TIMEOUT": "1",
    "CHATHAM_SERVER_MAX_HEADER_BYTES": "8192",
    "CHATHAM_SERVER_MAX_HEADERS": "20",
    "CHATHAM_SERVER_MAX_CONNECTIONS": "12",
    "CHATHAM_SERVER_MAX_ADDRESS_CONNECTIONS": "8",
    "CHATHAM_SERVER_TRUSTED_PROXIES": "127.0.0.4",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in LIMITS.items():
            mp.setenv(name, value)
        data = Path(tmp_path_factory.mktemp("hostile"))
        with live_server(data, "--rate-auth", "0") as live:
            yield live


def _connect(server: LiveServer, source: str = "127.0.0.1") -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)), timeout=5, source_address=(source, 0))
    return s


def _answer(s: socket.socket, wait: float = 5.0) -> bytes:
    """Whatever the server sends until it closes the connection (or `wait` passes)."""
    s.settimeout(wait)
    got = b""
    deadline = time.monotonic() + wait
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while time.monotonic() < deadline:
            part = s.recv(65536)
            if not part:
                break
            got += part
    return got


def _closed_within(s: socket.socket, seconds: float) -> bool:
    start = time.monotonic()
    _answer(s, seconds + 3)
    return time.monotonic() - start < seconds + 2.5


def _refusal(answer: bytes, status: int, code: str) -> None:
    """A connection refused as every error is answered: the status, and a JSON body whose
    `code` a client can branch on."""
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), answer[:80]
    assert b"content-type: application/json" in head.lower(), head
    assert json.loads(body)["code"] == code, body


def _honest(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200


def test_a_head_that_never_ends_is_refused_early(server: LiveServer) -> None:
    with _connect(server) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ")
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < 4 << 20:
                s.sendall(b"a" * 4096)
                sent += 4096
        answer = _answer(s)
    # Answered (and closed) after its 8 KiB cap; the megabytes in flight were never read.
    _refusal(answer, 431, "headers_too_large")
    _honest(server)


def test_too_many_headers_are_refused(server: LiveServer) -> None:
    with _connect(server) as s:
        headers = b"".join(b"X-H%d: v\r\n" % i for i in range(40))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        _refusal(_answer(s), 431, "headers_too_large")


def test_an_idle_connection_is_closed(server: LiveServer) -> None:
    with _connect(server) as s:
        assert _closed_within(s, 1.0)


def test_a_head_sent_slowly_is_cut_off(server: LiveServer) -> None:
    with _connect(server) as s:
        s.sendall(b"GET /health HTTP/1.1\r\n")
        start = time.monotonic()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(10):  # a byte every 0.3 s keeps no timer of its own alive
                s.sendall(b"X")
                time.sleep(0.3)
        assert _closed_within(s, 0.1)
        assert time.monotonic() - start < 5


def test_a_body_stopped_short_is_closed(server: LiveServer) -> None:
    with _connect(server) as s:
        s.sendall(
            b"POST /v1/groups/" + b"A" * 43 + b"/join-requests HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + b"{" * 10
        )
        assert _closed_within(s, 1.0)


def test_connections_past_the_caps_are_turned_away_and_honest_ones_return(
    server: LiveServer,
) -> None:
    # Loopback has many addresses: 127.0.0.2 and .3 are other clients here.
    held = [_connect(server) for _ in range(8)]
    try:
        time.sleep(0.2)
        with _connect(server) as extra:
            _refusal(_answer(extra, 2), 503, "unavailable")  # one address's share
        held += [_connect(server, "127.0.0.2") for _ in range(4)]
        time.sleep(0.2)
        with _connect(server, "127.0.0.3") as extra:
            _refusal(_answer(extra, 2), 503, "unavailable")  # the process's
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    _honest(server)


def test_a_trusted_proxy_is_not_held_to_one_addresss_share(server: LiveServer) -> None:
    # It carries many clients' connections: past the per-address cap (8), under the process's.
    held = [_connect(server, "127.0.0.4") for _ in range(10)]
    try:
        last = held[-1]
        last.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _answer(last, 2).startswith(b"HTTP/1.1 200")
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)


def test_an_authenticated_route_answers_before_the_body_is_sent(server: LiveServer) -> None:
    # A stranger announces two megabytes and sends none: the token check answers at once,
    # without waiting for (or reading) the body.
    for path in (
        "/v1/groups",
        "/v1/groups/" + "A" * 43 + "/log",
        "/v1/groups/" + "A" * 43 + "/entries",
    ):
        with _connect(server) as s:
            s.sendall(
                b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                b"Authorization: Bearer nonsense\r\nContent-Type: application/json\r\n"
                b"Content-Length: 2000000\r\n\r\n["
            )
            s.settimeout(0.8)
            head = s.recv(200)
            # And the connection closes at once (not after the body timer's second): the rest
            # of the body is never read.
            start = time.monotonic()
            _answer(s, 3)
            waited = time.monotonic() - start
        assert head.startswith(b"HTTP/1.1 401"), (path, head[:60])
        assert waited < 0.7


def test_a_login_body_past_its_cap_is_refused_unread(server: LiveServer) -> None:
    with _connect(server) as s:
        s.sendall(
            b"POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n"
        )
        s.settimeout(0.8)
        assert s.recv(200).startswith(b"HTTP/1.1 413")


def _request_unread(server: LiveServer, path: str, headers: dict[str, str]) -> socket.socket:
    """A GET whose answer this side never reads (a tiny receive buffer, nothing read)."""
    host, port = server.url.removeprefix("http://").split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect((host, int(port)))
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
    return s


@contextlib.contextmanager
def _two_members(
    data: Path, monkeypatch: pytest.MonkeyPatch, **limits: str
) -> Iterator[tuple[LiveServer, World, Group, Person, Person]]:
    """A server of its own with these `CHATHAM_SERVER_*` limits, and a group of two on it."""
    for name, value in limits.items():
        monkeypatch.setenv(f"CHATHAM_SERVER_{name.upper()}", value)
    with (
        live_server(data, "--rate-auth", "0") as live,
        httpx.Client(base_url=live.url, timeout=30) as http,
    ):
        world = World(http)
        group, (alice, bob) = world.group_of(2)
        yield live, world, group, alice, bob


def _status_and_code(s: socket.socket) -> tuple[int, str]:
    """The status and error code of one answer on a connection that may stay open."""
    s.settimeout(3)
    got = b""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        head, sep, body = got.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", head)
        if sep and length and len(body) >= int(length[1]):
            return int(head.split(b" ")[1]), json.loads(body)["code"]
        part = s.recv(4096)
        if not part:
            break
        got += part
    raise AssertionError(f"no whole answer: {got[:120]!r}")


def test_a_device_that_reads_no_answers_holds_only_a_few(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _two_members(
        tmp_path / "unread", monkeypatch, max_device_requests="3", send_timeout="3"
    ) as (live, world, group, alice, bob):
        for _ in range(8):  # about 8 MiB of entries: a page far larger than socket buffers
            group.post_entry(alice, b"x" * (1 << 20))
        path = f"{group.path}/entries"
        stuck = [_request_unread(live, path, alice.headers) for _ in range(3)]
        try:
            time.sleep(1.0)
            with _request_unread(live, path, alice.headers) as extra:
                assert _status_and_code(extra) == (429, "rate_limited")
            # Another member is served meanwhile.
            r = world.client.get(f"{group.path}/entries", params={"limit": 1}, headers=bob.headers)
            assert r.status_code == 200
            # Answers left unread for the send timeout are dropped with their connections, and
            # the places they held are free again (this side has closed nothing).
            time.sleep(3.5)
            r = world.client.get(
                f"{group.path}/entries", params={"limit": 1}, headers=alice.headers
            )
            assert r.status_code == 200
        finally:
            for s in stuck:
                s.close()


def test_event_streams_are_capped_per_device(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _two_members(tmp_path / "streams", monkeypatch, events_per_device="2") as (
        live,
        _,
        group,
        alice,
        bob,
    ):
        path = f"{group.path}/events"
        held = [_request_unread(live, path, alice.headers) for _ in range(2)]
        try:
            for s in held:
                assert s.recv(64).startswith(b"HTTP/1.1 200")
            with _request_unread(live, path, alice.headers) as extra:
                assert _status_and_code(extra) == (429, "rate_limited")
            # Another device still gets its stream.
            with _request_unread(live, path, bob.headers) as other:
                assert other.recv(64).startswith(b"HTTP/1.1 200")
        finally:
            for s in held:
                s.close()
