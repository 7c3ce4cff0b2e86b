"""chatham.server: the thin server. It stores ciphertext and signed records, never keys.

    from chatham.server import Settings, create_app
    app = create_app(Settings(data_dir=Path("/var/lib/chatham")))

The command line (`chatham-server`) lives in `chatham.server.cli`; the HTTP API
is described in docs/server-api.md and served at /schema/openapi.json.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._private.app import API_VERSION, create_app
    from ._private.settings import Settings

__all__ = ["API_VERSION", "Settings", "create_app"]

_EXPORTS = {"API_VERSION": "app", "create_app": "app", "Settings": "settings"}


def __getattr__(name: str) -> Any:
    # Lazily (PEP 562): `chatham-server` must start, and say what to install, in a member's
    # install of Chatham, which has the client without the server's dependencies.
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"._private.{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
