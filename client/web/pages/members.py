"""Membership: the roster (roles, devices, fingerprints), checking a fingerprint aloud, and for
leaders inviting, approving by typing the words heard, removing, promoting and demoting, the
history policy and what a departed member could read; leaving, for anyone.

A join request is shown without the newcomer's fingerprint: the leader types the words the
newcomer reads aloud, and the library compares them (docs/membership.md). Showing them
beside the request would invite approving by reading instead of listening.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath

from ... import ChathamError, parse_duration
from ...errors import UsageError
from .base import Ctx, field_text, for_the_form, form_of, run


def _devices(c: Ctx, ids: tuple[str, ...]) -> list[tuple[str, bool]]:
    """Each device's short id (the first 8 hex digits of its key's id), this computer's marked
    and first."""
    mine = c.account.device_id
    shown = [(f"{d[:4]} {d[4:8]}", d == mine) for d in ids]
    return sorted(shown, key=lambda x: not x[1])


def _roster(c: Ctx, error: Any = None, status: int = 200) -> Response[Any]:
    g = c.group
    members = {m.id: m for m in g.members()}
    return c.page(
        "members.html",
        title="Members",
        section="members",
        roster=g.roster(),
        devices={mid: _devices(c, m.devices) for mid, m in members.items()},
        policy=g.state.policy,
        member=g.status == "member",
        error=error,
        status=status,
    )


@get("/members")
async def members(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _roster)


@post("/members/{ref:str}/verify")
async def verify_member(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    words = field_text(form, "fingerprint")

    def act(c: Ctx) -> Response[Any]:
        try:
            r = c.group.verify_member(ref, words)
        except ChathamError as e:
            return _roster(c, for_the_form(e), 400)
        return c.redirect("/members", f"The words match: {r.name or 'the member'} is checked.")

    return await run(request, act)


@post("/members/{ref:str}/role")
async def set_role(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    role = field_text(form, "role")

    def act(c: Ctx) -> Response[Any]:
        if role not in ("leader", "member"):
            raise UsageError("unknown role")
        m = c.group.set_role(ref, "leader" if role == "leader" else "member")
        who = "You" if m.is_me else (m.name or "The member")
        words = "a leader" if role == "leader" else "a member (not a leader)"
        return c.redirect("/members", f"{who} {'are' if m.is_me else 'is'} now {words}.")

    return await run(request, act)


@get("/members/{ref:str}/remove")
async def remove_page(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        m = c.group.removable(ref)
        return c.page("remove.html", title="Remove a member", member=m)

    return await run(request, page)


@post("/members/{ref:str}/remove")
async def remove(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def act(c: Ctx) -> Response[Any]:
        done = c.group.remove(ref)
        who = done.name or "The member"
        return c.redirect(
            f"/members/{done.member}/exposure",
            f"{who} was removed and the group key changed: nothing written from now on reaches "
            "them. They keep what they already had; this page lists it.",
        )

    return await run(request, act)


@get("/members/{ref:str}/exposure")
async def exposure(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        return c.page("exposure.html", title="What they could read", x=c.group.exposure(ref))

    return await run(request, page)


@get("/leave")
async def leave_page(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, lambda c: c.page("leave.html", title="Leave the group"))


@post("/leave")
async def leave(request: Request[Any, Any, Any]) -> Response[Any]:
    def act(c: Ctx) -> Response[Any]:
        name = c.group.name
        c.group.leave()
        return c.redirect(
            "/", f"You left {name}. What you already have stays readable here; nothing new will."
        )

    return await run(request, act)


INVITES_SHOWN = 20


def _invite_page(
    c: Ctx, values: dict[str, str], error: Any = None, status: int = 200
) -> Response[Any]:
    return c.page(
        "invite.html",
        title="Invite",
        section="members",
        code=None,
        values=values,
        error=error,
        status=status,
    )


def _invites_page(c: Ctx, error: Any = None, status: int = 200) -> Response[Any]:
    # From the copy the event stream keeps current (live.py); revoking asks the server.
    return c.page(
        "invites.html",
        title="Invites",
        section="members",
        invites=c.group.invites(everything=True, sync=False)[:INVITES_SHOWN],
        error=error,
        status=status,
    )


@get("/invite")
async def invite_page(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, lambda c: _invite_page(c, {}))


@get("/invites")
async def invites_page(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, _invites_page)


@post("/invites/{ref:str}/revoke")
async def revoke_invite(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def act(c: Ctx) -> Response[Any]:
        try:
            c.catch_up()
            i = c.group.revoke_invite(ref)
        except ChathamError as e:
            return _invites_page(c, for_the_form(e), 400)
        who = f" for {i.name}" if i.name else ""
        return c.redirect("/invites", f"The invite{who} is revoked: its code no longer works.")

    return await run(request, act)


@post("/invite")
async def invite(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    values = {k: field_text(form, k).strip() for k in ("name", "role", "expires")}

    def act(c: Ctx) -> Response[Any]:
        try:
            seconds = parse_duration(values["expires"] or "7d")
            secret = c.group.invite(
                role="leader" if values["role"] == "leader" else "member",
                expires_in=seconds,
                name=values["name"] or None,
            )
        except ChathamError as e:
            return _invite_page(c, values, for_the_form(e), 400)
        until = c.group.state.invites[secret.invite_id].expires
        return c.page(
            "invite.html",
            title="Invite",
            section="members",
            code=secret.link,
            server=secret.server,
            short_code=secret.code,
            until=until,
            values=values,
            error=None,
        )

    return await run(request, act)


@get("/requests")
async def requests(request: Request[Any, Any, Any]) -> Response[Any]:
    return await run(request, lambda c: _requests(c, None))


def _requests(c: Ctx, error: Any, failed: str | None = None, status: int = 200) -> Response[Any]:
    refused: list[str] = []
    pending = c.group.join_requests(refused=refused)
    return c.page(
        "requests.html",
        title="Join requests",
        section="members",
        pending=pending,
        refused=refused,
        error=error,
        failed=failed,
        status=status,
    )


@post("/requests/{ref:str}/approve")
async def approve(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    words = field_text(form, "fingerprint")
    name = field_text(form, "name").strip()

    def act(c: Ctx) -> Response[Any]:
        try:
            if not words.strip():
                raise UsageError("type the eight words the newcomer read aloud")

            def nobody(question: str) -> str | None:
                # The page asked everything already; a question left means a missing answer.
                return None

            done = c.group.approve(ref, fingerprint=words, name=name or None, ask=nobody)
        except ChathamError as e:
            return _requests(c, for_the_form(e), failed=ref, status=400)
        return c.redirect(
            "/members",
            f"{done.name} is in: the words matched, and the group key changed so they can read "
            "from now on.",
        )

    return await run(request, act)


@get("/policy")
async def policy_page(request: Request[Any, Any, Any]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        return c.page("policy.html", title="Group policy", policy=c.group.state.policy, error=None)

    return await run(request, page)


@post("/policy")
async def policy(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    history = field_text(form, "history")
    notes = field_text(form, "notes")
    rotate = field_text(form, "rotate") == "yes"

    def act(c: Ctx) -> Response[Any]:
        before = c.group.state.policy
        try:
            after = c.group.set_policy(
                history="full" if history == "full" else "from-join",
                notes="leaders" if notes == "leaders" else "all",
                rotate_each_meeting=rotate,
            )
        except ChathamError as e:
            return c.page(
                "policy.html",
                title="Group policy",
                policy=before,
                error=for_the_form(e),
                status=400,
            )
        said = "Nothing changed." if after == before else "The policy changed for what comes next."
        return c.redirect("/members", said)

    return await run(request, act)


ROUTES = [
    members,
    verify_member,
    set_role,
    remove_page,
    remove,
    exposure,
    leave_page,
    leave,
    invite_page,
    invites_page,
    invite,
    revoke_invite,
    requests,
    approve,
    policy_page,
    policy,
]
