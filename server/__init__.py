"""chatham.server: the thin server. It stores ciphertext and signed records, never keys.

    from chatham.server import Settings, create_app
    app = create_app(Settings(data_dir=Path("/var/lib/chatham")))

The command line (`chatham-server`) lives in `chatham.server.cli`; the HTTP API
is described in docs/server-api.md and served at /schema/openapi.json.
"""

from __future__ import annotations

from ._private.app import API_VERSION, create_app
from ._private.settings import Settings

__all__ = ["API_VERSION", "Settings", "create_app"]
