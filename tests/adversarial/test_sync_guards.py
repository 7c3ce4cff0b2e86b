"""Attacks on the sync engine that each one guard alone stops: disable the guard and the test
fails (`make mutation`, docs/testing.md). Bob, the victim, talks to the server through
`world.tamper`; Alice and Carol talk to it directly.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from chatham.client import errors

from tests.support.client_fixtures import Person, Tamper, form_group
from tests.support.tamper_kit import World

ENOUGH: int = 12
"""A client that keeps asking after a broken promise is let finish after this many requests
(so a test of the guard fails instead of hanging)."""


def _broken_promise(field: str) -> tuple[list[int], Any]:
    calls: list[int] = []

    def hook(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        if len(calls) > ENOUGH:
            return page
        if len(calls) > 1:
            page[field] = []
        page["more"] = True
        return page

    return calls, hook


def test_a_log_page_promising_more_ops_and_bringing_none_is_refused(world: World) -> None:
    w = world
    w.ga.checkpoint()
    calls, hook = _broken_promise("ops")
    w.tamper.on("GET", "/log", hook)
    with pytest.raises(errors.BadResponse, match="promised more log ops"):
        w.gb.sync()
    assert len(calls) == 2


def test_an_entry_page_promising_more_and_bringing_none_is_refused(world: World) -> None:
    w = world
    w.post(w.ga, "one entry")
    calls, hook = _broken_promise("entries")
    w.tamper.on("GET", "/entries", hook)
    with pytest.raises(errors.BadResponse, match="promised more entries"):
        w.gb.sync()
    assert len(calls) <= 3  # the page after the promise, and perhaps one fetched ahead


def test_a_lockbox_request_refused_for_an_active_member_is_an_error(world: World) -> None:
    """A server answering 403 to a current member's lockbox request must not pass for
    'nothing to fetch': Bob is told, and holds no key for the epoch."""
    w = world
    w.ga.rotate()
    epoch = w.ga.state.epoch

    def refuse(request: httpx.Request, resp: httpx.Response) -> httpx.Response:
        if request.url.path.endswith("/lockboxes"):
            return httpx.Response(403, json={"code": "forbidden", "detail": "not for you"})
        return resp

    w.tamper.raw_hooks.append(refuse)
    with pytest.raises(errors.Forbidden):
        w.gb.sync()
    assert epoch not in w.gb._load().keyring.keys
    w.tamper.clear()
    w.gb.sync()
    assert epoch in w.gb._load().keyring.keys


def test_a_server_serving_another_group_for_an_invite_is_refused_at_join(
    person: Person, tamper: Tamper, tampered_http: httpx.Client
) -> None:
    """The server answers a joiner's log request with a whole other group (a real one, every
    op signed): the joiner refuses it before asking to join, and stores nothing."""
    dana, mallory = person("Dana"), person("Mallory")
    jo = person("Jo", http=tampered_http)
    [gd] = form_group(dana)
    [gm] = form_group(mallory)
    fake = gm._api().log(gm.id_bytes, -1)
    real = base64.urlsafe_b64encode(gd.id_bytes).rstrip(b"=").decode()

    def substitute(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        if f"/groups/{real}/log" in request.url.path:
            page.update(ops=list(fake.ops), seq=fake.seq, head=fake.head, more=False)
        return page

    tamper.on("GET", "/log", substitute)
    code = gd.invite().link
    with pytest.raises(errors.ForkError, match="does not match the invite"):
        jo.join(code)
    assert jo.groups() == []
    assert gd.join_requests() == []
