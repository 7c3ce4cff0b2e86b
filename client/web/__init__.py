"""chatham.client.web: the member's own client as a small web app on a loopback address.

`chatham web` (client/cli/web.py) starts it and opens the member's browser. Pages are
rendered on this computer from the member's local store, through the public library API
only (tests/test_layering.py holds it to that); the group's server is reached through the
library, exactly as the CLI does. docs/web.md says what it does, how it is protected, and
what it does not protect.

    desk = Desk(Home.default(), lock_after=900)
    door = Door(port)
    app = create_app(desk, door)          # ASGI; `serve(...)` runs it on 127.0.0.1
"""

from __future__ import annotations

from .app import create_app
from .desk import Desk
from .guard import Door
from .serve import LOOPBACK, NotLoopback, serve

__all__ = ["LOOPBACK", "Desk", "Door", "NotLoopback", "create_app", "serve"]
