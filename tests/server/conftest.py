"""Fixtures for the server tests: the real app in-process, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chatham.server import create_app
from litestar.testing import TestClient

from tests.support.server_harness import HOST, World


@pytest.fixture
def make_client(server_settings: Callable[..., Any]) -> Iterator[Callable[..., TestClient[Any]]]:
    """Start the app with settings overrides; every client is closed (app shut down) at the end."""
    clients: list[TestClient[Any]] = []

    def make(**overrides: Any) -> TestClient[Any]:
        client: TestClient[Any] = TestClient(
            create_app(server_settings(**overrides)), base_url=f"http://{HOST}"
        )
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient[Any]]) -> TestClient[Any]:
    return make_client()


@pytest.fixture
def world(client: TestClient[Any]) -> World:
    return World(client)
