"""Fixtures for the client tests (defined in client_fixtures.py, shared with other folders)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chatham.server.testing import LiveServer, live_server

from tests.support.client_fixtures import group_of, person, server, tamper, tampered_http

__all__ = ["group_of", "person", "server", "tamper", "tampered_http"]


@pytest.fixture(scope="session")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real chatham-server over a socket, shared by the CLI tests."""
    with live_server(tmp_path_factory.mktemp("live-server")) as s:
        yield s
