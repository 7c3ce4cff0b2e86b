"""Membership commands: invite (and invite list, invite revoke), join, requests, approve,
members, remove, leave, rotate, checkpoint, group policy.

Output contract (docs/membership.md shows each command; scripts depend on these):

- `invite` prints the whole invite (server and code, `URL#CODE`) as the last line of
  stdout, and nowhere else; no other command prints a code. On a terminal it also
  shows it as a QR code.
- `requests --json` is a list of objects with at least `id`, `member`, `status`
  (`waiting` or `expired`) and `expires`, and never the fingerprint: the leader types
  what the newcomer reads aloud. `approve ID --fingerprint FP` takes that id (or a
  unique prefix) and the words as `whoami` prints them (spaces and case do not matter).
- `members --json` is a list of objects with at least `id`, `name`, `role`,
  `fingerprint`, `status`, `joined_epoch` and `verified`.
- MEMBER arguments accept a member id, a unique id prefix, or a unique name.
- Questions (a fingerprint to type, a name, "remove X?") are asked only when
  stdin and stderr are a terminal, and go to stderr; without a terminal the
  command needs its options (`--fingerprint`, `--name`) and does not ask for
  confirmation.
- Every refusal is a `chatham: error:` line and a `chatham: hint:` line from the
  one dispatcher in `chatham.client.cli`, and changes nothing in the group.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from .common import JsonOpt, clock, console, emit_json, safe, short, state, text, verbose

if TYPE_CHECKING:
    from .. import Group

YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
MemberArg = Annotated[str, typer.Argument(help="A member's name, id or unique id prefix.")]
FingerprintOpt = Annotated[
    str | None,
    typer.Option(
        "--fingerprint",
        help="The eight words the member reads aloud (`-` or `@file` to read them).",
    ),
]

members_app = typer.Typer(
    help="The roster: list members, verify fingerprints, promote and demote leaders, exposure.",
    invoke_without_command=True,
    rich_markup_mode=None,
)


# --- terminal helpers ---------------------------------------------------------------------------


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def _ask(prompt: str) -> str | None:
    """One line typed at the terminal (None without a terminal or at end of input)."""
    if not _interactive():
        return None
    sys.stderr.write(safe(prompt))  # a question may quote a name the invitee chose
    sys.stderr.flush()
    line = sys.stdin.readline()
    return line.strip() if line else None


def _confirm(prompt: str) -> bool:
    """Yes without a terminal (scripts asked for it); otherwise what the user answers."""
    if not _interactive():
        return True
    answer = _ask(f"{prompt} [y/N] ")
    return (answer or "").lower() in ("y", "yes")


def _who(name: str | None, member_id: str) -> str:
    return name if name is not None else f"member {short(member_id)}"


def _group() -> Group:
    return state().group()


# --- invites and joining ------------------------------------------------------------------------


invite_app = typer.Typer(
    help="Invite someone (leaders): `invite` makes a one-time code; `invite list` and "
    "`invite revoke` manage open invites.",
    invoke_without_command=True,
    rich_markup_mode=None,
)


@invite_app.callback()
def invite(
    ctx: typer.Context,
    role: Annotated[
        str, typer.Option("--role", help="The newcomer's role: member or leader.")
    ] = "member",
    expires: Annotated[
        str, typer.Option("--expires", help="How long the code works: 90m, 2d, 7d.")
    ] = "7d",
    name: Annotated[
        str | None,
        typer.Option("--name", help="The newcomer's name, used when you approve them."),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Invite someone (leaders): prints a one-time code to hand over in person."""
    from .. import parse_duration
    from ..errors import UsageError

    if ctx.invoked_subcommand is not None:
        return
    if role not in ("member", "leader"):
        raise UsageError(f"unknown role {role!r}", hint="use --role member or --role leader")
    newcomer = text(name)
    g = _group()
    secret = g.invite(
        role="leader" if role == "leader" else "member",
        expires_in=parse_duration(expires),
        name=newcomer,
    )
    until = g.state.invites[secret.invite_id].expires
    if json:
        emit_json(
            {
                "invite_id": secret.invite_id.hex(),
                "role": role,
                "name": newcomer,
                "expires": until,
                "server": secret.server,
                "code": secret.code,
                "link": secret.link,
            }
        )
        return
    who = f"a new {role}" + (f" named {newcomer}" if newcomer else "")
    out = console()
    out.print(f"invite for {who} to {g.name}, valid until {clock(until)}; it works once")
    out.print("hand it over in person: show the QR code, or read out the server and the code")
    if sys.stdout.isatty():
        _print_qr(secret.link)
    out.print(f"server: {secret.server}")
    out.print(f"code:   {secret.code}")
    out.print("they run `chatham join` and paste the line below (or type the server and code):")
    # The whole invite goes out as one plain line, never through rich (no wrapping).
    sys.stdout.write(safe(secret.link) + "\n")


def _print_qr(link: str) -> None:
    """The invite as a QR code in the terminal (two rows of modules per line of text)."""
    import segno

    segno.make(link, error="m", micro=False).terminal(out=sys.stdout, compact=True)


@invite_app.command("list")
def invite_list(
    every: Annotated[
        bool, typer.Option("--all", help="Also used, revoked and expired invites.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """List the group's open invites (leaders): who they are for and until when."""
    from .show import print_table

    g = _group()
    found = g.invites(everything=every)
    if json:
        emit_json(found)
        return
    if not found:
        console().print("no open invites" + ("" if every else " (`--all` shows every invite)"))
        return
    rows = [
        [
            short(i.id),
            i.name or "",
            i.role,
            i.status,
            clock(i.expires),
            i.invited_by_name or short(i.invited_by, 8),
        ]
        for i in found
    ]
    print_table(console(), ["id", "for", "role", "status", "until", "invited by"], rows)


@invite_app.command("revoke")
def invite_revoke(
    invite_id: Annotated[str, typer.Argument(metavar="INVITE", help="The id from `invite list`.")],
) -> None:
    """Revoke an unused invite (leaders): its code stops working at once."""
    i = _group().revoke_invite(text(invite_id) or "")
    who = f" for {i.name}" if i.name else ""
    console().print(f"revoked invite {short(i.id)}{who}: its code no longer works")


def join(
    code: Annotated[
        str | None,
        typer.Argument(
            help="The invite line from the leader (`server#code`), or the code with --server; "
            "read from stdin when not given (`@file` works).",
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="The server's address, when you have the code alone."),
    ] = None,
    group_name: Annotated[
        str | None,
        typer.Option("--group-name", help="What to call the group in this home."),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Answer an invite: checks the group, sends a join request, prints your fingerprint."""
    import getpass

    j = state().account()  # the passphrase first, then the code
    if code is None:
        code = getpass.getpass("invite code: ") if _interactive() else sys.stdin.read()
    else:
        code = text(code) or ""
    g = j.join(code, server=text(server), name=text(group_name))
    if json:
        emit_json(
            {
                "group": g.id,
                "server": g.server,
                "status": g.status,
                "member": j.member_id,
                "fingerprint": j.fingerprint,
            }
        )
        return
    out = console()
    if group_name is None:
        out.print(
            f"sent a join request to group {short(g.id, 8)} on {g.server}; "
            "you see its name once a leader approves you"
        )
    else:
        out.print(f"sent a join request to {g.name} on {g.server}")
    out.print(f"your fingerprint: {j.fingerprint}")
    out.print("read these eight words aloud to the leader, who types them to approve you;")
    out.print("then `chatham sync` brings you in")


def requests(json: JsonOpt = False) -> None:
    """List join requests waiting for approval (leaders), and those whose invite expired.

    Fingerprints are not listed: the newcomer reads theirs aloud and you type what you
    hear, so a copied fingerprint can never stand in for the check."""
    from .show import print_table

    refused: list[str] = []
    pending = _group().join_requests(refused=refused)
    err = console(stderr=True)
    for reason in refused:
        err.print(f"chatham: note: refused a join request the server listed ({reason})")
    if json:
        emit_json(pending)
        return
    out = console()
    if not pending:
        out.print("no join requests waiting")
        return
    rows = [
        [
            short(p.id),
            p.name or "",
            p.role,
            "waiting" if p.status == "waiting" else "expired: invite them again",
            clock(p.expires),
        ]
        for p in pending
    ]
    print_table(out, ["id", "name", "role", "status", "invite until"], rows)
    if any(p.status == "waiting" for p in pending):
        out.print("approve with `chatham approve ID`: it asks for the words they read aloud")


def approve(
    request: Annotated[str, typer.Argument(help="The request id from `chatham requests`.")],
    fingerprint: FingerprintOpt = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="The name the group will know them by."),
    ] = None,
) -> None:
    """Add the member behind a join request, after checking their fingerprint (leaders)."""

    done = _group().approve(request, fingerprint=text(fingerprint), name=text(name), ask=_ask)
    out = console()
    out.print(f"the words match: {done.fingerprint}")
    out.print(f"approved {done.name} as {done.role}; the group has a fresh key")
    detail = f" (log op {done.seq}; epoch {done.epoch})" if verbose() else ""
    out.print(f"{done.name} is in once they run `chatham sync`{detail}")


# --- the roster ---------------------------------------------------------------------------------


def _print_roster(g: Group) -> None:
    from .show import print_table

    rows = []
    roster = g.roster()
    several = any(r.devices > 1 for r in roster)
    for r in roster:
        check = "you" if r.is_me else ("verified" if r.verified else "not verified")
        row = [
            ("* " if r.is_me else "  ") + _who(r.name, r.id),
            r.role,
            {"active": "active", "removed": "removed", "left": "left"}[r.status],
            short(r.id),
            r.fingerprint,
            check,
        ]
        if several:
            row.append(str(r.devices))
        if verbose():
            row.append(str(r.joined_epoch))
        rows.append(row)
    headers = ["name", "role", "status", "id", "fingerprint", "checked"]
    headers += ["devices"] if several else []
    print_table(console(), headers + (["joined epoch"] if verbose() else []), rows)


@members_app.callback()
def members(ctx: typer.Context, json: JsonOpt = False) -> None:
    """The roster (`members` alone lists it)."""
    if ctx.invoked_subcommand is not None:
        return
    members_list(json)


@members_app.command("list")
def members_list(json: JsonOpt = False) -> None:
    """List every member with role, fingerprint, when they joined and whether you verified them."""

    from .common import fresh

    g = _group()
    fresh(g)
    if json:
        emit_json(g.roster())
        return
    _print_roster(g)


@members_app.command("verify")
def members_verify(member: MemberArg, fingerprint: FingerprintOpt = None) -> None:
    """Record that you compared a member's fingerprint aloud (this device only)."""

    r = _group().verify_member(member, text(fingerprint), ask=_ask)
    console().print(f"verified {_who(r.name, r.id)}: the words match ({r.fingerprint})")


@members_app.command("promote")
def members_promote(member: MemberArg) -> None:
    """Make a member a leader (leaders)."""

    m = _group().set_role(member, "leader")
    console().print(f"made {_who(m.name, m.id)} a leader")


@members_app.command("demote")
def members_demote(member: MemberArg) -> None:
    """Make a leader a member again, or step down yourself (leaders)."""

    m = _group().set_role(member, "member")
    if m.is_me:
        console().print("you stepped down: you are a member now, no longer a leader")
    else:
        console().print(f"made {_who(m.name, m.id)} a member (no longer a leader)")


@members_app.command("exposure")
def members_exposure(member: MemberArg, json: JsonOpt = False) -> None:
    """What a (departed) member could have read: the group's keys they held, and entries."""

    x = _group().exposure(member)
    if json:
        emit_json(x)
        return
    out = console()
    who = _who(x.name, x.member)
    if x.status == "active":
        where = f"{who} is an active member; so far"
    else:
        verb = "was removed" if x.status == "removed" else "left"
        detail = f" (log op {x.departed_seq})" if verbose() else ""
        where = f"{who} {verb}{detail}; before that"
    n = len(x.epochs)
    out.print(f"{where} they held {n} of the group's keys, in turn")
    for e in x.epochs:
        gone = f", {e.retracted} retracted since" if e.retracted else ""
        how = "their own copy" if e.via == "lockbox" else "a link from a newer key"
        label = f"epoch {e.epoch}" if verbose() else f"key {e.epoch}"
        out.print(f"  {label}  by {how}  {e.entries} entries{gone}")
    out.print(f"entries held here that they could read: {x.entries} (+{x.retracted} retracted)")
    if x.status != "active":
        out.print("a retraction deletes an entry everywhere, but cannot recall what was read")


# --- remove, leave, rotate, checkpoint ----------------------------------------------------------


def remove(member: MemberArg, yes: YesOpt = False) -> None:
    """Remove a member and rotate the group key in one signed step (leaders)."""
    from ..errors import ChathamError

    g = _group()
    m = g.removable(member)
    who = _who(m.name, m.id)
    out = console()
    out.print(f"removing {who} (fingerprint: {m.fingerprint})")
    if not yes and not _confirm(f"remove {who} from {g.name}?"):
        raise ChathamError("not removed", hint="nothing was changed")
    done = g.remove(m.id)
    detail = f" (log op {done.seq}; epoch {done.epoch})" if verbose() else ""
    out.print(
        f"removed {who}; the group has a fresh key, so nothing written from now on "
        f"reaches them{detail}"
    )
    ref = m.name if m.name is not None else m.id[:12]
    out.print(f"{who} keeps what they already had: `chatham members exposure {ref}` lists it")


def leave(yes: YesOpt = False) -> None:
    """Leave the group; what you already have stays readable here."""
    from ..errors import ChathamError

    g = _group()
    if not yes and not _confirm(f"leave {g.name}? nothing written from now on will reach you"):
        raise ChathamError("not left", hint="nothing was changed")
    applied = g.leave()
    out = console()
    detail = f" (log op {applied.seq})" if verbose() else ""
    out.print(f"you left {g.name}{detail}; what you already have stays here")
    out.print("the group gets a fresh key before anything new is written")


def rotate() -> None:
    """Give the group a fresh key now (leaders; anyone while a rotation is pending)."""

    g = _group()
    applied = g.rotate()
    detail = f" (epoch {g.epoch}, log op {applied.seq})" if verbose() else ""
    console().print(f"the group has a fresh key{detail}: what is written from now on uses it")


def checkpoint() -> None:
    """Sign every author's latest entry, for the meeting code (leaders)."""

    g = _group()
    applied = g.checkpoint()
    cp = g.state.checkpoint
    chains = 0 if cp is None else len(cp.heads)
    out = console()
    detail = f" ({chains} author chains at log op {applied.seq})" if verbose() else ""
    out.print(f"confirmed everyone's entries so far{detail}")
    code = g.meeting_code()
    if code:
        out.print(f"meeting code: {code}")


def group_policy(
    history: Annotated[
        str | None,
        typer.Option("--history", help="What new members read: from-join or full."),
    ] = None,
    notes: Annotated[
        str | None,
        typer.Option("--notes", help="Who writes meeting notes: all or leaders."),
    ] = None,
    rotate_each_meeting: Annotated[
        bool | None,
        typer.Option(
            "--rotate-each-meeting/--no-rotate-each-meeting",
            help="Rotate the group key when each meeting opens.",
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Show the group policy, or change it for keys created from now on (leaders)."""
    from ..errors import UsageError

    if history not in (None, "full", "from-join"):
        raise UsageError(
            f"unknown history policy {history!r}", hint="use --history from-join or --history full"
        )
    if notes not in (None, "all", "leaders"):
        raise UsageError(f"unknown notes policy {notes!r}", hint="use --notes all or leaders")
    g = _group()
    before = g.state.policy
    changing = history is not None or notes is not None or rotate_each_meeting is not None
    if changing:
        p = g.set_policy(
            history="full" if history == "full" else "from-join" if history else None,
            notes="leaders" if notes == "leaders" else "all" if notes else None,
            rotate_each_meeting=rotate_each_meeting,
        )
    else:
        p = before
    if json:
        emit_json(
            {
                "history": p.history,
                "notes": p.notes,
                "rotate_each_meeting": p.rotate_each_meeting,
            }
        )
        return
    out = console()
    if changing:
        if p == before:
            out.print("the policy already says that; nothing was changed")
        else:
            detail = f" (log op {g.state.seq})" if verbose() else ""
            out.print(f"changed the group policy{detail}; it applies from now on")
    reads = "everything before they joined" if p.history == "full" else "only what follows"
    out.print(f"history: {p.history} (new members read {reads})")
    out.print(f"notes: {'any member' if p.notes == 'all' else 'leaders only'}")
    out.print(f"a fresh key at each meeting: {'yes' if p.rotate_each_meeting else 'no'}")


def register(app: typer.Typer) -> None:
    from .groups import group_app

    app.add_typer(invite_app, name="invite")
    app.command()(join)
    app.command()(requests)
    app.command()(approve)
    app.add_typer(members_app, name="members")
    app.command()(remove)
    app.command()(leave)
    app.command()(rotate)
    app.command()(checkpoint)
    group_app.command("policy")(group_policy)
