"""Fixtures for the malicious-server suite (defined in tamper_kit.py)."""

from __future__ import annotations

from tests.support.tamper_kit import person, server, tamper, tampered_http, world

__all__ = ["person", "server", "tamper", "tampered_http", "world"]
