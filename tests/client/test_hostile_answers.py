"""A server's answers are untrusted input: anything malformed is BadResponse, never a crash."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest
from chatham import crypto
from chatham.client import errors
from chatham.client._private.engine.api import ServerApi

NESTED = b"[" * 100_000 + b"]" * 100_000


def _api(answer: httpx.Response) -> ServerApi:
    def handler(request: httpx.Request) -> httpx.Response:
        return answer

    http = httpx.Client(transport=httpx.MockTransport(handler))
    keys = crypto.DeviceKeys.from_seeds(secrets.token_bytes(32), secrets.token_bytes(96))
    return ServerApi(http, "http://127.0.0.1:1", keys, sleep=lambda _: None)


@pytest.mark.parametrize(
    "content",
    [
        NESTED,
        b'{"challenge": "AAAA", "expires": 1, "extra": ' + NESTED + b"}",
        b"{not json",
        b'{"challenge": "\xff\xfe", "expires": 1}',
        b'{"\xff": 1}',
        json.dumps({"challenge": 5}).encode(),
    ],
)
def test_a_malformed_answer_is_bad_response(content: bytes) -> None:
    api = _api(httpx.Response(200, content=content, headers={"content-type": "application/json"}))
    with pytest.raises(errors.BadResponse, match="not valid protocol"):
        api.group_info(bytes(32))


@pytest.mark.parametrize(
    "body",
    [b'{"code": "x", "detail": "y", "extra": ' + NESTED + b"}", b'{"code": "\xff", "detail": "y"}'],
)
def test_a_malformed_error_body_still_gives_the_status_error(body: bytes) -> None:
    api = _api(httpx.Response(403, content=body, headers={"content-type": "application/json"}))
    with pytest.raises(errors.ServerError) as raised:
        api.group_info(bytes(32))
    assert not isinstance(raised.value, errors.BadResponse)
    assert "403" in str(raised.value)


@pytest.mark.parametrize(
    "content",
    [
        b'{"group_id": "AAAA", "seq": 9223372036854775808, "head": "AAAA", "epoch": 1,'
        b' "pending_rotation": false, "entry_cursor": 1}',
        b'{"group_id": "AAAA", "seq": -1, "head": "AAAA", "epoch": 1,'
        b' "pending_rotation": false, "entry_cursor": 1}',
        b'{"group_id": "AAAA", "seq": 1e30, "head": "AAAA", "epoch": 1,'
        b' "pending_rotation": false, "entry_cursor": 1}',
    ],
)
def test_numbers_outside_what_the_store_holds_are_bad_response(content: bytes) -> None:
    answers = iter(
        [
            httpx.Response(200, json={"challenge": "AAAA", "expires": 1}),
            httpx.Response(200, json={"token": "tok", "expires": 2**40}),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(200, content=content))

    http = httpx.Client(transport=httpx.MockTransport(handler))
    keys = crypto.DeviceKeys.from_seeds(secrets.token_bytes(32), secrets.token_bytes(96))
    api = ServerApi(http, "http://127.0.0.1:1", keys, sleep=lambda _: None)
    with pytest.raises(errors.BadResponse):
        api.group_info(bytes(32))


class _Tokens:
    def __init__(self) -> None:
        self.saved: list[object] = []

    def load(self, url: str) -> tuple[str, float] | None:
        return None

    def save(self, url: str, token: tuple[str, float] | None) -> None:
        self.saved.append(token)


@pytest.mark.parametrize("token", ["tök", "a b", "", "a" * 600, "x\r\nSet-Cookie: y"])
def test_a_token_that_cannot_be_sent_back_is_refused_and_not_kept(token: str) -> None:
    answers = iter(
        [
            httpx.Response(200, json={"challenge": "AAAA", "expires": 1}),
            httpx.Response(200, json={"token": token, "expires": 2**40}),
        ]
    )
    http = httpx.Client(transport=httpx.MockTransport(lambda r: next(answers)))
    keys = crypto.DeviceKeys.from_seeds(secrets.token_bytes(32), secrets.token_bytes(96))
    tokens = _Tokens()
    api = ServerApi(http, "http://127.0.0.1:1", keys, tokens=tokens, sleep=lambda _: None)
    with pytest.raises(errors.BadResponse):
        api.group_info(bytes(32))
    assert tokens.saved == []


def test_a_false_content_encoding_is_bad_response() -> None:
    api = _api(
        httpx.Response(
            200,
            stream=httpx.ByteStream(b'{"challenge": "AAAA"}'),
            headers={"content-type": "application/json", "content-encoding": "gzip"},
        )
    )
    with pytest.raises(errors.BadResponse, match="encoding"):
        api.group_info(bytes(32))


def _changes(answer: httpx.Response) -> list[tuple[int, int]]:
    from types import SimpleNamespace

    from chatham.client._private.engine.changes import changes

    api = SimpleNamespace(events=lambda group, read_timeout: answer)
    group = SimpleNamespace(_api=lambda: api, _gid=bytes(32), server="http://127.0.0.1:1")
    return list(changes(group, read_timeout=5))  # type: ignore[arg-type]


EVENT = b'event: changed\ndata: {"cursor": 3, "seq": 2}\n\n'


@pytest.mark.parametrize("charset", ["rot13", "utf-16", "zlib", "undefined", "nonsense"])
def test_an_event_stream_is_utf8_whatever_charset_it_names(charset: str) -> None:
    headers = {"content-type": f"text/event-stream; charset={charset}"}
    assert _changes(httpx.Response(200, content=EVENT, headers=headers)) == [(3, 2)]


@pytest.mark.parametrize(
    "stream",
    [
        b'event: changed\ndata: {"cursor": Infinity, "seq": 1}\n\n',
        b'event: changed\ndata: {"cursor": 1e400, "seq": 1}\n\n',
        b'event: changed\ndata: {"cursor": "\xff", "seq": 1}\n\n',
        b"event: changed\ndata: " + b"[" * 100_000 + b"\n\n",
        b"data: " + b"x" * 10_000,
        b"x" * 10_000 + b"\n",
    ],
)
def test_a_malformed_event_stream_is_bad_response(stream: bytes) -> None:
    with pytest.raises(errors.BadResponse, match="event stream"):
        _changes(httpx.Response(200, content=stream))


def test_a_false_encoding_on_the_event_stream_is_bad_response() -> None:
    answer = httpx.Response(
        200, stream=httpx.ByteStream(EVENT), headers={"content-encoding": "gzip"}
    )
    with pytest.raises(errors.BadResponse, match="event stream"):
        _changes(answer)


def test_watch_waits_before_reconnecting_to_a_stream_that_says_nothing() -> None:
    from types import SimpleNamespace

    from chatham.client.journal import Journal

    opened = 0

    def changes(until: float | None = None) -> Any:
        nonlocal opened
        opened += 1
        return iter(())

    service = SimpleNamespace(group=SimpleNamespace(changes=changes))
    assert Journal.watch(service, lambda report: None, timeout=1.5) == 0  # type: ignore[arg-type]
    assert opened <= 3  # 1 s, then the 0.5 s left: not thousands of reconnections
