"""A small client for the server tests: real keys, real signed records, the real HTTP API.

Everything is built with the public API of chatham.crypto, exactly as a client
would; the harness only keeps the bookkeeping (the verified log replica, the
epoch keys it created, each device's chain) so a test reads as a story:

    alice = world.person()
    group = world.create_group(alice)
    bob = world.person()
    group.join(bob, by=alice)
    group.post_entry(bob, b"hello")
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from chatham.crypto import (
    ChainHead,
    GroupState,
    InviteSecret,
    Keyring,
    MemberCard,
    PendingOp,
    Policy,
    SealedEntry,
    Secrets,
    build_add,
    build_checkpoint,
    build_invite,
    build_leave,
    build_policy,
    build_remove,
    build_revoke_invite,
    build_rotate,
    build_set_role,
    create_group,
    make_card,
    seal_entry,
    sign_auth,
)

HOST = "testserver.local"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def now() -> int:
    return int(time.time())


@dataclass
class Person:
    """A member-to-be: keys, a card, and (after login) a bearer token."""

    secrets: Secrets
    card: MemberCard
    token: str | None = None
    chain_seq: int = 0
    chain_link: bytes = bytes(32)

    @property
    def device_id(self) -> bytes:
        return self.secrets.device.id

    @property
    def member_id(self) -> bytes:
        return self.secrets.member.id

    @property
    def headers(self) -> dict[str, str]:
        assert self.token is not None, "log in first"
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    client: httpx.Client
    people: list[Person] = field(default_factory=list)
    registration_token: str | None = None
    server_id: bytes = b""
    """The server's identity, as its last challenge showed it: what a login signs."""

    def person(self, *, login: bool = True) -> Person:
        secrets = Secrets.generate(created=now())
        p = Person(secrets, make_card(secrets.member, secrets.device, created=now()))
        if login:
            self.login(p)
        self.people.append(p)
        return p

    def challenge(self) -> bytes:
        r = self.client.post("/v1/auth/challenge")
        assert r.status_code == 200, r.text
        self.server_id = unb64(r.json()["server_id"])
        return unb64(r.json()["challenge"])

    def login(self, p: Person, server_id: bytes | None = None) -> httpx.Response:
        challenge = self.challenge()
        sig = sign_auth(p.secrets.device, server_id or self.server_id, "login", challenge)
        r = self.client.post(
            "/v1/auth/token",
            json={
                "device_key": b64(p.secrets.device.public),
                "challenge": b64(challenge),
                "signature": b64(sig),
            },
        )
        if r.status_code == 200:
            p.token = r.json()["token"]
        return r

    def invite_token(
        self, group: Group, invite: Any, challenge: bytes | None = None, signer: Any = None
    ) -> httpx.Response:
        """Ask for an invitee's token, signed with the join key of `signer` (the invite)."""
        challenge = challenge if challenge is not None else self.challenge()
        return self.client.post(
            "/v1/auth/invite-token",
            json={
                "group_id": b64(group.id),
                "invite_id": b64(invite.invite_id),
                "challenge": b64(challenge),
                "signature": b64((signer or invite).read_signature(challenge)),
            },
        )

    def invitee_headers(self, group: Group, invite: Any) -> dict[str, str]:
        """The Authorization header of a fresh invitee token for `invite`."""
        r = self.invite_token(group, invite)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def group_of(self, n: int = 1) -> tuple[Group, list[Person]]:
        """A group of n new people: the first founds it, the others join as members."""
        people = [self.person() for _ in range(n)]
        group = self.create_group(people[0])
        for p in people[1:]:
            group.join(p, by=people[0])
        return group, people

    def create_group(self, founder: Person, *, expect: int = 201, **extra: Any) -> Group:
        new = create_group(founder.secrets, "Founder", time=now(), card=founder.card)
        body: dict[str, Any] = {
            "ops": [b64(op) for op in new.ops],
            "lockboxes": [
                {"device": b64(d), "lockbox": b64(lb)} for d, lb in sorted(new.lockboxes.items())
            ],
        }
        if self.registration_token is not None:
            body["registration_token"] = self.registration_token
        body.update(extra)
        r = self.client.post("/v1/groups", json=body, headers=founder.headers)
        assert r.status_code == expect, r.text
        keyring = Keyring()
        keyring.keys[1] = new.key
        return Group(self, new.state, keyring, r, new.ops, new.lockboxes)


@dataclass
class Group:
    world: World
    state: GroupState
    keyring: Keyring
    created: httpx.Response
    genesis_ops: list[bytes]
    genesis_lockboxes: dict[bytes, bytes]
    ops: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ops = list(self.genesis_ops)

    @property
    def id(self) -> bytes:
        return self.state.group_id

    @property
    def path(self) -> str:
        return f"/v1/groups/{b64url(self.id)}"

    @property
    def client(self) -> httpx.Client:
        return self.world.client

    # --- the log ---------------------------------------------------------------------------

    def append_body(self, pending: PendingOp, **override: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "expected_seq": self.state.seq,
            "expected_head": b64(self.state.head),
            "op": b64(pending.op),
            "lockboxes": [
                {"device": b64(d), "lockbox": b64(lb)}
                for d, lb in sorted(pending.lockboxes.items())
            ],
        }
        body.update(override)
        return body

    def append(
        self, by: Person, pending: PendingOp, *, expect: int = 201, **override: Any
    ) -> httpx.Response:
        r = self.client.post(
            f"{self.path}/log", json=self.append_body(pending, **override), headers=by.headers
        )
        assert r.status_code == expect, r.text
        if r.status_code == 201:
            self.state.apply(pending.op)
            self.ops.append(pending.op)
            if pending.key is not None and pending.epoch is not None:
                self.keyring.keys[pending.epoch] = pending.key
        return r

    def invite(
        self, by: Person, *, role: str = "member", expires: int | None = None
    ) -> InviteSecret:
        pending, secret = build_invite(
            self.state,
            by.secrets.device,
            role=role,  # type: ignore[arg-type]
            expires=expires if expires is not None else now() + 3600,
            server=f"http://{HOST}",
            time=now(),
        )
        self.append(by, pending)
        return secret

    def add(
        self, by: Person, *joins: tuple[Person, InviteSecret], expect: int = 201
    ) -> httpx.Response:
        pending = build_add(
            self.state,
            self.keyring,
            by.secrets.device,
            [(p.card, inv.invite_id, "Member") for p, inv in joins],
            time=now(),
        )
        return self.append(by, pending, expect=expect)

    def join(self, person: Person, *, by: Person, role: str = "member") -> InviteSecret:
        invite = self.invite(by, role=role)
        self.add(by, (person, invite))
        return invite

    def rotate(self, by: Person, *, expect: int = 201) -> httpx.Response:
        return self.append(
            by, build_rotate(self.state, self.keyring, by.secrets.device, time=now()), expect=expect
        )

    def heads_of(self, person: Person) -> list[ChainHead]:
        if person.chain_seq == 0:
            return []
        return [ChainHead(person.device_id, person.chain_seq, person.chain_link)]

    def remove(self, person: Person, *, by: Person, expect: int = 201) -> httpx.Response:
        pending = build_remove(
            self.state,
            self.keyring,
            by.secrets.device,
            person.member_id,
            self.heads_of(person),
            time=now(),
        )
        return self.append(by, pending, expect=expect)

    def leave(self, person: Person, *, expect: int = 201) -> httpx.Response:
        pending = build_leave(
            self.state, person.secrets.device, person.member_id, self.heads_of(person), time=now()
        )
        return self.append(person, pending, expect=expect)

    def all_heads(self) -> list[ChainHead]:
        """Every chain head the harness knows: each person's own posts."""
        return [h for p in self.world.people for h in self.heads_of(p)]

    def set_role(
        self, person: Person, role: str, *, by: Person, expect: int = 201
    ) -> httpx.Response:
        pending = build_set_role(
            self.state,
            by.secrets.device,
            person.member_id,
            role,  # type: ignore[arg-type]
            self.all_heads(),
            time=now(),
        )
        return self.append(by, pending, expect=expect)

    def set_policy(
        self,
        policy: Policy,
        *,
        by: Person,
        heads: list[ChainHead] | None = None,
        expect: int = 201,
    ) -> httpx.Response:
        known = self.all_heads() if heads is None else heads
        pending = build_policy(self.state, by.secrets.device, policy, known, time=now())
        return self.append(by, pending, expect=expect)

    def checkpoint(
        self, by: Person, *, heads: list[ChainHead] | None = None, expect: int = 201
    ) -> httpx.Response:
        known = self.all_heads() if heads is None else heads
        pending = build_checkpoint(self.state, by.secrets.device, known, time=now())
        return self.append(by, pending, expect=expect)

    def revoke(self, invite: InviteSecret, *, by: Person) -> httpx.Response:
        return self.append(
            by, build_revoke_invite(self.state, by.secrets.device, invite.invite_id, time=now())
        )

    def read_log(
        self, by: Person | None = None, *, headers: dict[str, str] | None = None, **params: Any
    ) -> httpx.Response:
        return self.client.get(
            f"{self.path}/log", params=params, headers=headers or (by.headers if by else {})
        )

    # --- entries ---------------------------------------------------------------------------

    def seal(self, by: Person, body: bytes = b"an entry", **override: Any) -> SealedEntry:
        args: dict[str, Any] = {
            "device": by.secrets.device,
            "epoch_key": self.keyring.keys[self.state.epoch],
            "group": self.id,
            "epoch": self.state.epoch,
            "seq": by.chain_seq + 1,
            "prev": by.chain_link,
            "log_seq": self.state.seq,
            "log_head": self.state.head,
            "body": body,
        }
        args.update(override)
        return seal_entry(**args)

    def post_sealed(self, by: Person, sealed: SealedEntry, *, expect: int = 201) -> httpx.Response:
        r = self.client.post(
            f"{self.path}/entries", json={"entry": b64(sealed.data)}, headers=by.headers
        )
        assert r.status_code == expect, r.text
        if r.status_code == 201 and sealed.entry.header.seq == by.chain_seq + 1:
            by.chain_seq += 1
            by.chain_link = sealed.link
        return r

    def post_entry(
        self, by: Person, body: bytes = b"an entry", *, expect: int = 201
    ) -> httpx.Response:
        return self.post_sealed(by, self.seal(by, body), expect=expect)

    def list_entries(self, by: Person, **params: Any) -> httpx.Response:
        return self.client.get(f"{self.path}/entries", params=params, headers=by.headers)

    def retract(
        self, by: Person, *entry_ids: bytes, expect: int | None = None, **override: Any
    ) -> httpx.Response:
        """Post an entry of `by`'s chain that retracts these entries (protocol §7.1)."""
        sealed = self.seal(by, b"a retraction", retracts=sorted(entry_ids), **override)
        r = self.client.post(
            f"{self.path}/entries", json={"entry": b64(sealed.data)}, headers=by.headers
        )
        if expect is not None:
            assert r.status_code == expect, r.text
        if r.status_code == 201:
            by.chain_seq += 1
            by.chain_link = sealed.link
        return r


class Clock:
    """A settable clock for Settings(clock=...): tests move time instead of sleeping."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an error with this status and code, in the documented shape."""
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body  # type: ignore[no-any-return]


def sealed_chain(group: Group, by: Person, n: int, start: int | None = None) -> list[SealedEntry]:
    """`n` entries continuing `by`'s chain (as the harness tracks it, or from seq `start`),
    sealed and not posted."""
    seq = by.chain_seq if start is None else start
    link = by.chain_link
    out = []
    for i in range(n):
        s = group.seal(by, f"entry {seq + i + 1}".encode(), seq=seq + i + 1, prev=link)
        out.append(s)
        link = s.link
    return out
