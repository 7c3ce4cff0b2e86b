"""A server's answers are untrusted input: anything malformed is BadResponse, never a crash."""

from __future__ import annotations

import json
import secrets

import httpx
import pytest
from chatham import crypto
from chatham.client import errors
from chatham.client._private.api import ServerApi

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
