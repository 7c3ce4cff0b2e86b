"""The client's and the server's wire structs agree: what one side writes, the other reads.

The server's bodies are `chatham.server._private.wire` (and `errors.ErrorBody`); the
client's mirrors are in `chatham.client._private.engine.api`, and the client builds its
request bodies as mappings. Two checks, so that renaming a field on either side fails:

- every response struct the client decodes is compared with the server's struct of the
  same name: the same encoded field names, the same types (constraints aside), and a
  default on the client wherever the server may leave the field out;
- every request the client sends is captured (an httpx mock transport, no server) and
  decoded strictly with the server's request struct for that route, which refuses
  unknown and missing fields; the canned answers are server structs encoded by msgspec,
  so the client also decodes what the server writes.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest
from chatham import crypto
from chatham.client._private.engine import api as client
from chatham.server._private import errors as server_errors
from chatham.server._private import wire as server

RESPONSES: list[tuple[type[msgspec.Struct], type[msgspec.Struct]]] = [
    (server.Challenge, client.Challenge),
    (server.Token, client.Token),
    (server.Head, client.Head),
    (server.GroupInfo, client.GroupInfo),
    (server.ChainHeadItem, client.ChainHeadItem),
    (server.LogPage, client.LogPage),
    (server.DeviceLockbox, client.DeviceLockbox),
    (server.LockboxPage, client.LockboxPage),
    (server.EntryPosted, client.EntryPosted),
    (server.EntryOutcome, client.EntryOutcome),
    (server.EntryOutcomes, client.EntryOutcomes),
    (server.Healed, client.Healed),
    (server.EntryItem, client.EntryItem),
    (server.EntryPage, client.EntryPage),
    (server.JoinRequestItem, client.JoinRequestItem),
    (server.JoinRequestPage, client.JoinRequestPage),
    (server.InviteGroups, client.InviteGroups),
    (server.AttachmentInfo, client.AttachmentInfo),
    (server.AttachmentItem, client.AttachmentItem),
    (server.AttachmentList, client.AttachmentList),
    (server.Lockbox, client.Lockbox),
    (server.LinkInfo, client.LinkInfo),
    (server.LinkSlot, client.LinkSlot),
    (server.Escrow, client.Escrow),
    (server_errors.ErrorBody, client.ErrorBody),
]

SERVER_ONLY = {("Token", "device_id")}
"""Fields the server sends that the client does not read (it ignores unknown fields)."""


def _plain(annotation: Any) -> Any:
    """A type without its constraints, nested structs by name: what both sides must share."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _plain(args[0])
    if origin in (types.UnionType, typing.Union):
        return frozenset(_plain(a) for a in args)
    if origin is list:
        return ("list", _plain(args[0]))
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return ("struct", annotation.__name__)
    return annotation


def _fields(struct: type[msgspec.Struct]) -> dict[str, msgspec.structs.FieldInfo]:
    return {f.encode_name: f for f in msgspec.structs.fields(struct)}


def _disagreements(
    server_struct: type[msgspec.Struct], client_struct: type[msgspec.Struct]
) -> list[str]:
    name = server_struct.__name__
    theirs, ours = _fields(server_struct), _fields(client_struct)
    problems = [
        f"{name}.{f}: the client reads it, the server never sends it"
        for f in ours
        if f not in theirs
    ]
    for encoded, field in theirs.items():
        mine = ours.get(encoded)
        if mine is None:
            if (name, encoded) not in SERVER_ONLY:
                problems.append(f"{name}.{encoded}: the server sends it, the client drops it")
            continue
        if _plain(field.type) != _plain(mine.type):
            problems.append(f"{name}.{encoded}: server {field.type!r}, client {mine.type!r}")
        if not field.required and mine.required:
            problems.append(f"{name}.{encoded}: the server may leave it out, the client needs it")
    return problems


@pytest.mark.parametrize(("server_struct", "client_struct"), RESPONSES, ids=lambda s: s.__name__)
def test_response_structs_agree(
    server_struct: type[msgspec.Struct], client_struct: type[msgspec.Struct]
) -> None:
    assert server_struct.__name__ == client_struct.__name__
    assert _disagreements(server_struct, client_struct) == []


def test_every_client_body_has_a_server_counterpart() -> None:
    """A struct added to the client's mirrors must be paired here (and so checked)."""
    paired = {c for _, c in RESPONSES}
    mirrors = {
        obj
        for obj in vars(client).values()
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct) and obj is not client._Body
    }
    assert mirrors == paired


def test_the_comparison_catches_a_renamed_field() -> None:
    class Head(msgspec.Struct):
        group_id: bytes
        sequence: int
        head: bytes

    assert _disagreements(server.Head, Head) != []
    assert _disagreements(Head, client.Head) != []


# --- requests, as the client sends them ---------------------------------------------------------

G = bytes(range(32))
E = bytes(range(16))
H32 = bytes(32)

REQUESTS: dict[tuple[str, str], type[msgspec.Struct]] = {
    ("POST", "/v1/auth/token"): server.TokenRequest,
    ("POST", "/v1/auth/invite-token"): server.InviteTokenRequest,
    ("POST", "/v1/groups"): server.CreateGroup,
    ("POST", "/v1/groups/{g}/log"): server.AppendOp,
    ("POST", "/v1/groups/{g}/entries"): server.PostEntry,
    ("POST", "/v1/groups/{g}/entries/bulk"): server.PostEntries,
    ("POST", "/v1/groups/{g}/heal"): server.Heal,
    ("POST", "/v1/groups/{g}/join-requests"): server.PostJoinRequest,
    ("PUT", "/v1/groups/{g}/attachments/{e}/entry"): server.NameEntry,
}
"""Every route that takes a JSON body, and the server struct that reads it."""


def _answers() -> dict[tuple[str, str], msgspec.Struct]:
    """A valid answer, as the server's structs encode it, for each route the test drives."""
    head = server.Head(G, 1, H32)
    item = server.EntryItem(1, E, entry=b"entry")
    stub = server.EntryItem(2, E, stub=b"stub", retracted_by=E)
    info = server.AttachmentInfo(E, 1, 5)
    return {
        ("POST", "/v1/auth/challenge"): server.Challenge(b"c" * 32, 10**10, b"s" * 32),
        ("POST", "/v1/auth/token"): server.Token("t" * 43, 10**10, b"d" * 32),
        ("POST", "/v1/auth/invite-token"): server.Token("i" * 43, 10**10),
        ("POST", "/v1/groups"): head,
        ("GET", "/v1/groups/{g}"): server.GroupInfo(G, 1, H32, 1, False, 0),
        ("GET", "/v1/groups/{g}/log"): server.LogPage(G, [b"op"], 1, H32, more=False),
        ("POST", "/v1/groups/{g}/log"): head,
        ("GET", "/v1/groups/{g}/lockboxes"): server.LockboxPage(
            [server.DeviceLockbox(1, 1, b"box")]
        ),
        ("POST", "/v1/groups/{g}/entries"): server.EntryPosted(E, 1),
        ("POST", "/v1/groups/{g}/heal"): server.Healed(
            1, H32, [server.EntryOutcome(E, 1), server.EntryOutcome(E, 2)]
        ),
        ("POST", "/v1/groups/{g}/entries/bulk"): server.EntryOutcomes(
            [
                server.EntryOutcome(E, 1),
                server.EntryOutcome(error=server_errors.ErrorBody("x", "y")),
            ]
        ),
        ("GET", "/v1/groups/{g}/entries"): server.EntryPage([item, stub], 2, False),
        ("GET", "/v1/groups/{g}/entries/{e}"): item,
        ("POST", "/v1/groups/{g}/join-requests"): server.JoinRequestItem(G, b"request"),
        ("GET", "/v1/groups/{g}/join-requests"): server.JoinRequestPage(
            [server.JoinRequestItem(G, b"request")]
        ),
        ("GET", "/v1/groups/{g}/attachments/{e}"): info,
        ("DELETE", "/v1/groups/{g}/attachments/{e}"): info,
        ("PUT", "/v1/groups/{g}/attachments/{e}/entry"): info,
        ("GET", "/v1/groups/{g}/attachments"): server.AttachmentList(
            [server.AttachmentItem(E, b"d" * 32, 1, 5, E)], more=False
        ),
    }


def _route(path: str) -> str:
    return path.replace(client.b64url(G), "{g}").replace(client.b64url(E), "{e}")


class Recorder:
    """An httpx transport that answers like the server and keeps every request body."""

    def __init__(self) -> None:
        self.answers = _answers()
        self.bodies: list[tuple[tuple[str, str], bytes]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, _route(request.url.path))
        self.bodies.append((key, request.content))
        if key[1].endswith("/chunks/0"):
            return httpx.Response(201 if key[0] == "PUT" else 200, content=b"chunk")
        answer = self.answers[key]
        if request.headers.get("accept") == client.MSGPACK:
            content = msgspec.msgpack.encode(answer)
            return httpx.Response(200, content=content, headers={"content-type": client.MSGPACK})
        headers = {"content-type": "application/json"}
        return httpx.Response(200, content=msgspec.json.encode(answer), headers=headers)


def _drive(api: client.ServerApi) -> list[Callable[[], Any]]:
    """Every call of the client's API that reaches the wire."""
    return [
        lambda: api.create_group([b"genesis", b"rotate"], {b"d" * 32: b"lockbox"}, "token"),
        lambda: api.create_group([b"genesis"], {}, None),
        lambda: api.group_info(G),
        lambda: api.log(G, -1, limit=10),
        lambda: api.append(G, 1, H32, b"op", {b"d" * 32: b"lockbox"}),
        lambda: api.lockboxes(G, 0),
        lambda: api.post_entry(G, b"entry"),
        lambda: api.post_entries(G, [b"entry", b"other"]),
        lambda: api.heal(
            G,
            1,
            H32,
            [b"op"],
            [(1, b"d" * 32, b"lockbox")],
            [{"entry": b"entry"}, {"stub": b"stub", "retracted_by": E}],
            "token",
        ),
        lambda: api.entries(G, 0),
        lambda: api.entry(G, E),
        lambda: api.post_join_request(G, b"request"),
        lambda: api.join_requests(G),
        lambda: api.put_chunk(G, E, 0, b"chunk"),
        lambda: api.get_chunk(G, E, 0),
        lambda: api.attachment_info(G, E),
        lambda: api.delete_attachment(G, E),
        lambda: api.name_attachment_entry(G, E, E),
        lambda: api.list_attachments(G, E, 10),
    ]


def test_the_server_reads_every_body_the_client_sends() -> None:
    recorder = Recorder()
    device = crypto.DeviceKeys.from_seeds(bytes(32), bytes(96))
    with httpx.Client(transport=httpx.MockTransport(recorder)) as http:
        api = client.ServerApi(http, "http://chatham.test", device)
        for call in _drive(api):
            call()
        api.as_invitee(crypto.InviteSecret.generate(G, "http://chatham.test"))
        api.log(G, -1)
    sent = {key for key, _ in recorder.bodies}
    assert set(REQUESTS) <= sent, set(REQUESTS) - sent
    for key, body in recorder.bodies:
        if key in REQUESTS:
            # Strict: an unknown, missing or mistyped field is an error, as on the server.
            msgspec.json.decode(body, type=REQUESTS[key])
