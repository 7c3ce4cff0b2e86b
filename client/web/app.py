"""The web app itself: the pages, the static files and the guard, put together.

    door = Door(port)
    app = create_app(Desk(home), door)      # an ASGI app; `serve` runs it on loopback

Nothing here logs a request: Litestar's logging is off, uvicorn's access log is off
(serve.py), and errors are answered by pages that say what happened in plain words.
"""

from __future__ import annotations

from typing import Any, cast

from litestar import Litestar
from litestar.static_files import create_static_files_router

from .desk import Desk
from .guard import ASGIApp, Door, guarded
from .live import Live
from .pages import home, issues, items, meetings, members, start, unsent, writing
from .pages.base import Web
from .render import STATIC, environment


def create_app(desk: Desk, door: Door) -> ASGIApp:
    """The app for one member home, behind the guard (guard.py)."""
    live = Live(desk)
    desk.on_unlock.append(live.start)
    desk.on_lock.append(live.stop)
    web = Web(desk, door, live)
    environment()  # load templates now, not on the first page
    routes: list[Any] = [
        *start.ROUTES,
        *home.ROUTES,
        *issues.ROUTES,
        *items.ROUTES,
        *meetings.ROUTES,
        *writing.ROUTES,
        *members.ROUTES,
        *unsent.ROUTES,
        create_static_files_router(path="/static", directories=[STATIC], send_as_attachment=False),
    ]
    app = Litestar(
        route_handlers=routes,
        logging_config=None,
        openapi_config=None,
        debug=False,
        state=None,
        on_startup=[],
    )
    app.state.web = web
    if desk.account is not None:
        live.start()
    return guarded(cast(ASGIApp, app), door)
