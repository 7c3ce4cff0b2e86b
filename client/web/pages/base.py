"""What every page shares: running library work on a thread under the desk's lock, the context
a page runs in (the account, the group, its journal), rendering, redirects and errors.

A handler parses the request (async), then hands `run` a function of a `Ctx` that does the
library work and renders; `run` sends the member to the right door first (create an
identity, unlock, join a group, wait for approval). A `ChathamError` a page does not handle
itself becomes an error page in plain words (words.py); any other exception becomes a page
that says "something went wrong", and nothing about it is logged.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlencode

import anyio.to_thread
from litestar import Request, Response
from litestar.datastructures import FormMultiDict

from ... import ChathamError, errors
from ..render import ago, render, when
from ..words import Said, explain

if TYPE_CHECKING:
    from ... import Account, Group
    from ...journal import IssueItem, Item, Journal, JournalView, MeetingItem, NoteItem, Posted
    from ..desk import Desk
    from ..guard import Door
    from ..live import Live

ItemT = TypeVar("ItemT", bound="Item")

Needs = Literal["nothing", "account", "group", "member"]

PAGE_ROWS = 100
"""A long list shows this many rows and a link to show them all (docs/performance.md, "Web")."""


def first_rows(rows: list[Any], everything: bool) -> tuple[list[Any], int]:
    """(the rows to show, how many there are in all)."""
    return (rows if everything else rows[:PAGE_ROWS]), len(rows)


@dataclass
class Web:
    """The running app's parts, shared by every request (`app.state.web`)."""

    desk: Desk
    door: Door
    live: Live


@dataclass
class Ctx:
    """One request's view of the member's home, with the desk's lock held."""

    web: Web
    path: str
    query: str = ""
    _group: Group | None = field(default=None, repr=False)
    _journal: Journal | None = field(default=None, repr=False)

    @property
    def desk(self) -> Desk:
        return self.web.desk

    @property
    def account(self) -> Account:
        return self.desk.require_account()

    @property
    def group(self) -> Group:
        if self._group is None:
            self._group = self.account.group()
        return self._group

    @property
    def journal(self) -> Journal:
        # Once per request: checking the store for changes is cheap, but not per table row.
        if self._journal is None:
            self._journal = self.desk.journal(self.group)
        return self._journal

    @property
    def view(self) -> JournalView:
        return self.journal.view

    @property
    def today(self) -> date:
        return self.journal.today()

    @property
    def me(self) -> bytes:
        return bytes.fromhex(self.account.member_id)

    @property
    def is_leader(self) -> bool:
        m = self.group.state.members.get(self.me)
        return m is not None and m.status == "active" and m.role == "leader"

    def allowed(self, action: str, ref: str, kind: type[ItemT]) -> ItemT:
        """The item `ref` (of `kind`) once the permission table lets this member do `action`
        to it now; otherwise NotAllowed (the journal's own words), before any form is shown."""
        it = self.journal.item(ref, kind)
        self.journal.require(action, it)
        return it

    def edit(
        self,
        it: IssueItem | MeetingItem | NoteItem,
        wanted: dict[str, Any],
        write: Callable[..., object],
    ) -> dict[str, Any]:
        """Write, after catching up, the fields of an edit form that differ from the item's
        (`write(it, **changes)`); the fields written, empty when nothing changed."""
        changes = {k: v for k, v in wanted.items() if getattr(it.body, k) != v}
        if changes:
            self.catch_up()
            write(it, **changes)
        return changes

    def catch_up(self) -> None:
        """Sync before a write, so it is judged against the newest state (offline: queued)."""
        with contextlib.suppress(errors.Unreachable):
            self.desk.sync(self.group)

    def name(self, member: bytes | str) -> str:
        return self.view.name(member if isinstance(member, bytes) else bytes.fromhex(member))

    # --- answers ----------------------------------------------------------------------------

    def page(
        self, template: str, *, title: str, section: str = "", status: int = 200, **values: Any
    ) -> Response[str]:
        html = render(template, **self.common(title, section), **values)
        return Response(html, status_code=status, media_type="text/html; charset=utf-8")

    def common(self, title: str, section: str) -> dict[str, Any]:
        """What the layout needs on every page."""
        desk = self.desk
        out: dict[str, Any] = {
            "title": title,
            "section": section,
            "csrf": self.web.door.csrf,
            "notices": desk.take_notices(),
            "account": None,
            "group": None,
            "groups": [],
            "alarm": None,
            "more_alarms": 0,
            "waiting": False,
            "stale": None,
            "freshness": None,
            "anyway": False,
            "unsent": 0,
            "not_here": [],
            "leader": False,
            "ctx": self,
            "when": when,
            "ago": ago,
        }
        if desk.account is None:
            return out
        out["account"] = desk.account
        # Groups another device of this member handed over that did not come yet: said on
        # every page, as the CLI says it at every command, with why in the page's words.
        out["not_here"] = [(w.name, explain(w.problem).title) for w in desk.account.waiting]
        try:
            groups = desk.account.groups()
        except ChathamError:
            return out
        out["groups"] = groups
        if not groups:
            return out
        try:
            g = self.group
        except ChathamError:
            return out
        out["group"] = g
        out["leader"] = self.is_leader
        out["unsent"] = g.unsent_count  # said on every page while any are kept
        h = desk.health_of(g)
        if h.alarm is not None:
            out["alarm"] = explain(h.alarm)
            out["more_alarms"] = max(0, len(h.alarms) - 1)
            out["waiting"] = bool(h.alarms) and all(a.waiting for a in h.alarms)
        if h.problem is not None and h.alarm is None:
            out["stale"] = {"said": explain(h.problem), "at": h.synced_at}
        if g.status == "member":
            fresh = g.freshness()
            if fresh.level != "current":
                out["freshness"] = fresh
                out["anyway"] = g.id in desk.anyway
        return out

    def redirect(self, to: str, notice: str | None = None) -> Response[str]:
        if notice:
            self.desk.notify(notice)
        return see_other(to)

    def problem(self, e: ChathamError) -> Response[str]:
        said = explain(e)
        status = _status(e)
        return self.page("problem.html", title=said.title, said=said, status=status)


def for_the_form(e: ChathamError) -> Said:
    """`e` in words, for the form it came from. A refusal (not allowed, not a member) is not
    the form's to fix: it is raised again, and answered 403 like every other refusal."""
    if isinstance(e, errors.NotAllowed | errors.NotAMember):
        raise e
    return explain(e)


def sent_words(posted: Posted, what: str, done: str = "was posted") -> str:
    """`Your note was posted.`, or, for a write waiting because the server was out of reach,
    that it goes out when the server is back: never "posted" for what was not sent."""
    if posted.queued:
        return f"{what} was saved; it goes out when the server is back."
    return f"{what} {done}."


def see_other(to: str) -> Response[str]:
    return Response("", status_code=303, headers={"location": to})


def _status(e: ChathamError) -> int:
    if isinstance(e, errors.NotFound):
        return 404
    if isinstance(e, errors.NotAllowed | errors.NotAMember):
        return 403
    if isinstance(e, errors.UsageError | errors.HomeError):
        return 400
    if isinstance(e, errors.Conflict):
        return 409
    return 502


async def run(
    request: Request[Any, Any, Any], work: Callable[[Ctx], Response[Any]], needs: Needs = "member"
) -> Response[Any]:
    """`work(ctx)` on a worker thread with the desk's lock held, after the doors `needs` asks."""
    web: Web = request.app.state.web

    def call() -> Response[Any]:
        desk = web.desk
        with desk.mutex:
            query = urlencode([kv for kv in request.query_params.multi_items() if kv[0] != "all"])
            ctx = Ctx(web, request.url.path, query)
            try:
                if needs != "nothing":
                    if desk.state == "new":
                        return see_other("/welcome")
                    if desk.state == "locked":
                        return see_other("/unlock")
                    desk.touch()
                if needs in ("group", "member"):
                    if not ctx.account.groups():
                        return see_other("/start")
                    if needs == "member" and ctx.group.status == "joining":
                        return see_other("/waiting")
                return work(ctx)
            except ChathamError as e:
                return ctx.problem(e)
            except Exception as e:
                # A bug. Say so, without anything that might be private (no message, no trace).
                sys.stderr.write(f"chatham web: internal error ({type(e).__name__})\n")
                return Response(
                    render("broken.html", **ctx.common("Something went wrong", "")),
                    status_code=500,
                    media_type="text/html; charset=utf-8",
                )

    return await anyio.to_thread.run_sync(call)


async def form_of(request: Request[Any, Any, Any]) -> FormMultiDict:
    """The submitted form (URL-encoded or multipart)."""
    return await request.form()


def local_path(value: str) -> str:
    """A same-site path to return to: never another origin, never `//host` or `/\\host`
    (which browsers read as `//host`)."""
    ok = value.startswith("/") and not value.startswith(("//", "/\\"))
    return value if ok else "/"


def field_text(form: FormMultiDict, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def field_texts(form: FormMultiDict, name: str) -> list[str]:
    """Every text value given for `name` (ticked boxes), in the order the form sent them."""
    return [v for v in form.getall(name, []) if isinstance(v, str)]
