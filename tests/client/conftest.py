"""Fixtures for the client tests (defined in client_fixtures.py, shared with other folders)."""

from __future__ import annotations

from client_fixtures import group_of, person, server

__all__ = ["group_of", "person", "server"]
