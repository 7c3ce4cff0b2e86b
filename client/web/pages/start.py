"""The first doors: create an identity, unlock and lock, join or found a group, wait for
approval, switch groups, call a group something else on this computer, and sync now."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from ... import ChathamError
from ..words import explain
from .base import Ctx, field_text, for_the_form, form_of, local_path, run, see_other


@get("/welcome")
async def welcome(request: Request[Any, Any, Any]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        if c.desk.state != "new":
            return see_other("/")
        return c.page("welcome.html", title="Welcome", values={}, error=None)

    return await run(request, page, needs="nothing")


@post("/welcome")
async def welcome_create(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    name = field_text(form, "name").strip()
    passphrase = field_text(form, "passphrase")
    again = field_text(form, "again")

    def act(c: Ctx) -> Response[Any]:
        if c.desk.state != "new":
            return see_other("/")
        values = {"name": name}
        try:
            if passphrase != again:
                from ...errors import UsageError

                raise UsageError("the two passphrases differ", hint="type the same one twice")
            c.desk.create_identity(passphrase, name)
        except ChathamError as e:
            return c.page(
                "welcome.html", title="Welcome", values=values, error=explain(e), status=400
            )
        return c.redirect("/start", "Your identity is ready. Next: join your group.")

    return await run(request, act, needs="nothing")


@get("/unlock")
async def unlock_page(request: Request[Any, Any, Any]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        if c.desk.state == "new":
            return see_other("/welcome")
        if c.desk.state == "open":
            return see_other("/")
        return c.page("unlock.html", title="Unlock", error=None)

    return await run(request, page, needs="nothing")


@post("/unlock")
async def unlock(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    passphrase = field_text(form, "passphrase")

    def act(c: Ctx) -> Response[Any]:
        if c.desk.state == "open":
            return see_other("/")
        try:
            c.desk.unlock(passphrase)
        except ChathamError as e:
            return c.page("unlock.html", title="Unlock", error=explain(e), status=400)
        return see_other("/")

    return await run(request, act, needs="nothing")


@post("/lock")
async def lock(request: Request[Any, Any, Any]) -> Response[Any]:
    def act(c: Ctx) -> Response[Any]:
        c.desk.lock(end_session=True)
        return c.redirect("/unlock", "Locked. Type your passphrase to open Chatham again.")

    return await run(request, act, needs="nothing")


@get("/start")
async def start(request: Request[Any, Any, Any]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        return c.page("start.html", title="Join a group", values={}, error=None, create_error=None)

    return await run(request, page, needs="account")


@post("/join")
async def join(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    code = field_text(form, "code")
    server = field_text(form, "join_server").strip()
    group_name = field_text(form, "group_name").strip()

    def act(c: Ctx) -> Response[Any]:
        try:
            g = c.account.join(code, server=server or None, name=group_name or None)
            c.account.use(g.id)
        except ChathamError as e:
            # What was typed stays in the form (a typo is named as a typo, to be corrected).
            values = {"group_name": group_name, "join_server": server, "code": code}
            return c.page(
                "start.html",
                title="Join a group",
                values=values,
                error=explain(e),
                create_error=None,
                status=400,
            )
        c.web.live.poke()
        return see_other("/waiting")

    return await run(request, act, needs="account")


@post("/groups")
async def create_group(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    values = {k: field_text(form, k).strip() for k in ("name", "server", "history", "token")}

    def act(c: Ctx) -> Response[Any]:
        try:
            g = c.account.create_group(
                values["name"],
                values["server"],
                history="full" if values["history"] == "full" else "from-join",
                registration_token=values["token"] or None,
            )
            c.account.use(g.id)
        except ChathamError as e:
            return c.page(
                "start.html",
                title="Start a group",
                values=values,
                error=None,
                create_error=explain(e),
                status=400,
            )
        c.web.live.poke()
        return c.redirect("/members", f"You founded {g.name} and lead it. Invite its members.")

    return await run(request, act, needs="account")


@get("/waiting")
async def waiting(request: Request[Any, Any, Any]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        if c.group.status != "joining":
            return see_other("/")
        return c.page("waiting.html", title="Waiting for approval")

    return await run(request, page, needs="group")


@post("/groups/use")
async def use_group(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    ref = field_text(form, "group")

    def act(c: Ctx) -> Response[Any]:
        g = c.account.use(ref)
        c.web.live.poke()
        return c.redirect("/", f"Now showing {g.name}.")

    return await run(request, act, needs="group")


@post("/groups/rename")
async def rename_group(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    name = field_text(form, "name")

    def act(c: Ctx) -> Response[Any]:
        g = c.group
        before = g.name
        try:
            g.rename(name)
        except ChathamError as e:
            return c.page("settings.html", title="Settings", error=for_the_form(e), status=400)
        if g.name == before:
            return c.redirect("/settings", "Nothing changed.")
        return c.redirect(
            "/settings", f"On this computer the group is now called {g.name} (before: {before})."
        )

    return await run(request, act, needs="group")


@post("/sync")
async def sync_now(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    back = local_path(field_text(form, "back"))

    def act(c: Ctx) -> Response[Any]:
        try:
            r = c.desk.sync(c.group)
        except ChathamError as e:
            said = explain(e)
            c.desk.notify(f"{said.title}. {said.todo}", "error")
            return see_other(back)
        parts = []
        if r.new_entries:
            parts.append(f"{r.new_entries} new post{'s' if r.new_entries != 1 else ''}")
        if r.new_ops:
            parts.append(f"{r.new_ops} membership change{'s' if r.new_ops != 1 else ''}")
        if r.sent:
            parts.append(f"{len(r.sent)} sent")
        for a in r.announcements:
            c.desk.notify(a.text)
        return c.redirect(back, "Up to date" + (f": {', '.join(parts)}." if parts else "."))

    return await run(request, act, needs="group")


ROUTES = [
    welcome,
    welcome_create,
    unlock_page,
    unlock,
    lock,
    start,
    join,
    create_group,
    waiting,
    use_group,
    rename_group,
    sync_now,
]
