"""Unsent writes: texts their author lost the right to send, to read back, copy and discard."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from ... import ChathamError
from ..words import explain
from .base import Ctx, run


def _page(c: Ctx, error: Any = None, status: int = 200) -> Response[Any]:
    return c.page(
        "unsent.html",
        title="Posts that were not sent",
        section="unsent",
        kept=c.group.unsent(),
        error=error,
        status=status,
    )


@get("/unsent")
async def unsent(request: Request[Any, Any, Any]) -> Response[Any]:
    # A member who was removed or left may still read back what they wrote.
    return await run(request, _page, needs="group")


@post("/unsent/{ref:str}/discard")
async def discard(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def act(c: Ctx) -> Response[Any]:
        try:
            c.group.discard_unsent(ref)
        except ChathamError as e:
            return _page(c, explain(e), 404)
        return c.redirect("/unsent", "Discarded: that post's text is gone from this computer.")

    return await run(request, act, needs="group")


ROUTES = [unsent, discard]
