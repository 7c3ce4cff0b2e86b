"""Fixtures for the web app's tests (the client's, from client_fixtures.py)."""

from __future__ import annotations

from tests.support.client_fixtures import group_of, person, server, tamper, tampered_http

__all__ = ["group_of", "person", "server", "tamper", "tampered_http"]
