"""A login made for one server is useless at another: two real servers, real clients.

A login signs the server's identity (from its challenge), which the client pins per server
address the first time it logs in there. A hostile server that relays another server's
challenge must show that server's identity, which this device has pinned for another address,
so the client refuses before signing anything; and a signature made for one server never
verifies at another, whatever Host header either saw.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chatham.client import Account, errors
from chatham.server.testing import LiveServer, live_server

PASSPHRASE = "identity test passphrase"


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    with (
        live_server(tmp_path / "a", "--rate-auth", "0") as a,
        live_server(tmp_path / "b", "--rate-auth", "0") as b,
    ):
        yield a, b


class Network(httpx.BaseTransport):
    """Real HTTP to real servers, except that `hostile` answers challenges with `victim`'s
    (a relay), and every request is recorded."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.relay: tuple[str, str] | None = None
        self.answer_for: dict[str, str] = {}
        self.seen: list[tuple[str, str, bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        request.read()
        self.seen.append((origin, request.url.path, request.content))
        target = self.answer_for.get(origin, origin)
        relayed = self.relay is not None and origin == self.relay[0]
        if relayed and request.url.path == "/v1/auth/challenge":
            assert self.relay is not None
            target = self.relay[1]
        if target != origin:
            request = httpx.Request(
                request.method,
                target + request.url.raw_path.decode(),
                headers=[(k, v) for k, v in request.headers.items() if k != "host"],
                content=request.content,
            )
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.slow
def test_a_hostile_server_cannot_relay_a_members_login(
    servers: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    a, b = servers
    net = Network()
    with httpx.Client(transport=net) as http:
        alice = Account.init(tmp_path / "alice", passphrase=PASSPHRASE, name="Alice", http=http)
        group = alice.create_group("Forum at A", a.url)
        group.post(b"only the members of the group at A read this")
        # Server B hands Alice server A's challenge (and so A's identity) to sign.
        net.relay = (b.url, a.url)
        with pytest.raises(errors.ServerChanged) as caught:
            alice.create_group("Forum at B", b.url)
        assert a.url in str(caught.value)
        assert not [s for s in net.seen if s[0] == b.url and s[1] == "/v1/auth/token"]
        # An honest B: Alice logs in there, and what she signed is useless at A.
        net.relay = None
        alice.create_group("Forum at B", b.url)
        signed_for_b = [s for s in net.seen if s[0] == b.url and s[1] == "/v1/auth/token"]
        assert signed_for_b
        with httpx.Client(base_url=a.url) as direct:
            challenge = direct.post("/v1/auth/challenge").json()
            body = httpx.Response(200, content=signed_for_b[-1][2]).json()
            body["challenge"] = challenge["challenge"]  # B would relay a fresh one from A
            answer = direct.post("/v1/auth/token", json=body)
            assert answer.status_code == 401
            assert answer.json()["code"] == "bad_signature"
        alice.close()


@pytest.mark.slow
def test_a_different_server_at_a_known_address_is_refused(
    servers: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    a, b = servers
    net = Network()
    with httpx.Client(transport=net) as http:
        alice = Account.init(tmp_path / "alice", passphrase=PASSPHRASE, name="Alice", http=http)
        group = alice.create_group("Forum", a.url)
        group.post(b"before")
        alice.close()
        # Server B now answers at A's address (a rebuilt server, or someone else's).
        net.answer_for[a.url] = b.url
        later = time.time() + 86400  # the cached token has expired: a fresh login
        alice = Account.open(
            tmp_path / "alice", passphrase=PASSPHRASE, http=http, clock=lambda: later
        )
        before = len(net.seen)
        with pytest.raises(errors.ServerChanged) as caught:
            alice.group().sync()
        assert "identity changed" in str(caught.value)
        assert not [s for s in net.seen[before:] if s[1] == "/v1/auth/token"]
        # Everything already verified stays readable offline.
        assert [e.body for e in alice.group().entries()] == [b"before"]
        alice.close()
