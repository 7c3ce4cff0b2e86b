"""`chatham-server`: run, migrate and administer a Chatham server.

Output contract (deployment scripts depend on it):

- `chatham-server [OPTIONS]` serves until interrupted; `GET /health` answers 200
  once it can serve.
- `chatham-server [OPTIONS] migrate` applies the database migrations and exits 0.
- `chatham-server [OPTIONS] issue-token` prints one registration token on stdout,
  nothing else; everything meant for people goes to stderr.
- `chatham-server [OPTIONS] backup DEST` writes a consistent copy of the database to the
  new file DEST while the server may run; `chatham-server [OPTIONS] restore SRC` puts one
  into an empty database. Both exit 0 on success and print nothing on stdout.
- The server's own options (`--data-dir`, `--database`, …) may also follow the command:
  `chatham-server issue-token --data-dir /srv/chatham` acts on that database, and says
  where it wrote the token.
- `groups [--json]` prints one line per group on stdout (sizes and counts only); `tokens` one
  line per registration token; `set-quota`, `delete-group --yes` and `revoke-token` print
  nothing on stdout and log what they did on stderr (and to the system log), as
  `issue-token` does.
- Errors: `chatham-server: error: …` then `chatham-server: hint: …` on stderr,
  lower case, no trailing period; exit status 1 (2 for usage errors, 130 when
  interrupted). Every error is printed by `fail`, and by nothing else: commands
  raise what it returns, and `main` hands it the usage errors the parser finds.

Every option can also be set by an environment variable, named in --help;
every other setting (see `Settings`) by CHATHAM_SERVER_<FIELD NAME>.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from chatham.crypto import error_lines

from ._private.settings import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    Settings,
    env_name,
    settings_from_env,
    settings_to_env,
)

T = TypeVar("T")

PROG = "chatham-server"
SHUTDOWN_GRACE = 3
"""Seconds a stopping server waits for open requests (event streams) before closing them."""

app = typer.Typer(
    name=PROG,
    help=(
        "Run a Chatham server: it stores only ciphertext and signed records, and authorizes "
        "every request from the group's verified log. With no command it serves HTTP "
        "(uvicorn with uvloop and httptools). Default database: a SQLite file in --data-dir; "
        "pass --database postgresql://… to share one PostgreSQL among several processes."
    ),
    add_completion=False,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def fail(message: str, hint: str, code: int = 1) -> typer.Exit:
    """Print an error and its hint (the output contract above); raise what it returns."""
    sys.stderr.write(error_lines(PROG, message, hint or "see chatham-server --help"))
    return typer.Exit(code)


def _failed(what: str, e: Exception) -> typer.Exit:
    """`what` failed with `e`: its type as the error, the start of its message's first line as
    the hint (a database error goes on with its statement and the values it carried)."""
    first = str(e).strip().split("\n", 1)[0]
    return fail(f"{what}: {type(e).__name__}", first[:200])


def _run(what: str, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`work(*args, **kwargs)`, with its refusal printed as it says (its message and hint)
    and any other failure as `what` failed."""
    from ._private.errors import Refused

    try:
        return work(*args, **kwargs)
    except Refused as e:
        raise fail(str(e), e.hint) from None
    except Exception as e:
        raise _failed(what, e) from None


def _env(field: str) -> str:
    return env_name(field)


def _version(value: bool) -> None:
    if value:  # the server is the `server` extra of the one `chatham` distribution
        from importlib.metadata import version

        typer.echo(f"{PROG} {version('chatham')}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            envvar=_env("data_dir"),
            help="Directory for the SQLite database (created mode 0700). "
            "Default: $XDG_DATA_HOME/chatham-server.",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(envvar=_env("host"), help="Address to listen on.")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(envvar=_env("port"), help="Port to listen on.")] = (
        DEFAULT_PORT
    ),
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            "--database-url",
            envvar=_env("database_url"),
            help="postgresql://user@host/db to use PostgreSQL; default SQLite in --data-dir.",
        ),
    ] = None,
    open_registration: Annotated[
        bool,
        typer.Option(
            envvar=_env("open_registration"),
            help="Let any device create groups. Off: group creation needs a token "
            "from `issue-token`.",
        ),
    ] = False,
    workers: Annotated[
        int, typer.Option(envvar=_env("workers"), min=1, help="Worker processes.")
    ] = 1,
    migrate_on_start: Annotated[
        bool,
        typer.Option(envvar=_env("migrate_on_start"), help="Apply migrations when starting."),
    ] = True,
    access_log: Annotated[
        bool,
        typer.Option(
            envvar=_env("access_log"),
            help="Log every request. Off by default: an access log records client IP addresses.",
        ),
    ] = False,
    time_bucket: Annotated[
        int,
        typer.Option(
            envvar=_env("time_bucket"),
            min=1,
            help="Stored timestamps are rounded down to this many seconds.",
        ),
    ] = 3600,
    token_ttl: Annotated[
        int, typer.Option(envvar=_env("token_ttl"), min=60, help="Login token lifetime, seconds.")
    ] = 3600,
    max_body: Annotated[
        int,
        typer.Option(envvar=_env("max_body"), min=1024, help="Largest JSON request body, bytes."),
    ] = Settings.max_body,
    max_bulk_body: Annotated[
        int,
        typer.Option(
            envvar=_env("max_bulk_body"),
            min=1024,
            help="Largest bulk request body (many entries, a heal), bytes.",
        ),
    ] = Settings.max_bulk_body,
    max_chunk: Annotated[
        int,
        typer.Option(envvar=_env("max_chunk"), min=1024, help="Largest attachment chunk, bytes."),
    ] = Settings.max_chunk,
    group_quota: Annotated[
        int,
        typer.Option(
            envvar=_env("group_quota"),
            min=0,
            help="Bytes of ciphertext (entries and attachments) one group may store.",
        ),
    ] = Settings.group_quota,
    rate_auth: Annotated[
        int,
        typer.Option(
            envvar=_env("rate_auth"),
            min=0,
            help="Logins per minute per client address (0: unlimited).",
        ),
    ] = Settings.rate_auth,
    rate_device: Annotated[
        int,
        typer.Option(
            envvar=_env("rate_device"),
            min=0,
            help="Requests per minute per device (0: unlimited).",
        ),
    ] = Settings.rate_device,
    metrics_port: Annotated[
        int,
        typer.Option(
            envvar=_env("metrics_port"),
            min=0,
            max=65535,
            help="Serve Prometheus metrics at http://127.0.0.1:PORT/metrics (0: none). "
            "Needs --workers 1.",
        ),
    ] = 0,
    rate_join: Annotated[
        int,
        typer.Option(
            envvar=_env("rate_join"),
            min=0,
            help="Join requests and invitee logins per minute per group (0: unlimited).",
        ),
    ] = Settings.rate_join,
) -> None:
    values: dict[str, Any] = {
        "host": host,
        "port": port,
        "database_url": database or None,
        "open_registration": open_registration,
        "workers": workers,
        "migrate_on_start": migrate_on_start,
        "access_log": access_log,
        "time_bucket": time_bucket,
        "token_ttl": token_ttl,
        "max_body": max_body,
        "max_bulk_body": max_bulk_body,
        "max_chunk": max_chunk,
        "group_quota": group_quota,
        "rate_auth": rate_auth,
        "rate_device": rate_device,
        "rate_join": rate_join,
        "metrics_port": metrics_port,
    }
    if data_dir is not None:
        values["data_dir"] = data_dir
    try:
        # Settings without an option of their own (events, page sizes, …) come from their
        # CHATHAM_SERVER_* variables; options (and their variables) override the rest.
        settings = settings_from_env().replace(**values)
        settings.sqlalchemy_url  # noqa: B018 - validates the database URL early
    except ValueError as e:
        raise fail(str(e), "see chatham-server --help") from None
    ctx.obj = settings
    if ctx.invoked_subcommand is None:
        serve(settings)


def _prepare_data_dir(settings: Settings) -> None:
    if settings.database_url is None:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


def serve(settings: Settings) -> None:
    """Serve with uvicorn on uvloop + httptools (several workers on the plain loop is slow)."""
    try:
        import httptools  # noqa: F401
        import uvicorn
        import uvloop  # noqa: F401
    except ImportError:
        raise fail(
            "uvloop and httptools are required to serve",
            "install uvicorn[standard]: plain asyncio with several workers is far slower "
            "(docs/operations.md)",
        ) from None
    _prepare_data_dir(settings)
    if settings.migrate_on_start:
        from ._private.services.admin import migrate_now

        _run("cannot open the database", asyncio.run, migrate_now(settings))
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        # uvicorn's httptools protocol with limits on headers, timers and a connection cap.
        "http": "chatham.server._private.connections:GuardedHttpTools",
        "access_log": settings.access_log,
        "proxy_headers": False,
        "server_header": False,
        "lifespan": "on",
        # Event streams never finish on their own: on Ctrl-C or SIGTERM, give requests in
        # flight this long, then close what is left (clients reconnect and resume).
        "timeout_graceful_shutdown": SHUTDOWN_GRACE,
    }
    # Worker processes (and the connection protocol, which uvicorn builds) read the same
    # settings from the environment.
    os.environ.update(settings_to_env(settings.replace(migrate_on_start=False)))
    if settings.workers == 1:
        from ._private.app import create_app

        uvicorn.run(create_app(settings), **common)
        return
    uvicorn.run(
        "chatham.server._private.app:create_app_from_env",
        factory=True,
        workers=settings.workers,
        **common,
    )


@app.command("migrate")
def migrate_command(ctx: typer.Context) -> None:
    """Apply the database migrations (the server also does this when it starts)."""
    from ._private.services.admin import migrate_now

    settings: Settings = ctx.obj
    _prepare_data_dir(settings)
    revision = _run("migration failed", asyncio.run, migrate_now(settings))
    typer.echo(f"{PROG}: database at revision {revision}", err=True)


@app.command("issue-token")
def issue_token_command(
    ctx: typer.Context,
    uses: Annotated[int, typer.Option(min=1, help="How many groups the token may create.")] = 1,
    expires_in: Annotated[int, typer.Option(min=60, help="Seconds until the token expires.")] = 7
    * 24
    * 3600,
) -> None:
    """Mint a registration token that lets someone create groups (printed once, stored hashed)."""
    from ._private.services.admin import issue_registration_token

    settings: Settings = ctx.obj
    _prepare_data_dir(settings)
    token = _run(
        "cannot issue a token",
        asyncio.run,
        issue_registration_token(settings, uses=uses, expires_in=expires_in),
    )
    typer.echo(token)
    typer.echo(
        f"{PROG}: token valid for {uses} group(s), {expires_in} s; it is not shown again",
        err=True,
    )
    typer.echo(
        f"{PROG}: stored in {_database_label(settings)}; start the server with the same "
        "--data-dir or --database, or the token will not be found",
        err=True,
    )


def _database_label(settings: Settings) -> str:
    """Where the database is, without any password a URL may carry."""
    if settings.database_url is None:
        return str(settings.data_dir)
    from sqlalchemy.engine import make_url

    url = make_url(settings.sqlalchemy_url)
    return f"PostgreSQL database {url.database} on {url.host or 'localhost'}"


@app.command("scrub")
def scrub_command(ctx: typer.Context) -> None:
    """Make deleted ciphertext unrecoverable now (SQLite checkpoint; PostgreSQL VACUUM FULL)."""
    from ._private.services.admin import scrub_now

    settings: Settings = ctx.obj
    _run("scrub failed", asyncio.run, scrub_now(settings))
    typer.echo(f"{PROG}: scrubbed", err=True)


@app.command("backup")
def backup_command(
    ctx: typer.Context,
    dest: Annotated[Path, typer.Argument(help="The new backup file (never overwritten).")],
) -> None:
    """Write an online, consistent copy of the database to DEST (safe while serving)."""
    from ._private.services.backup import backup

    settings: Settings = ctx.obj
    copied = _run("backup failed", backup, settings, dest)
    typer.echo(
        f"{PROG}: backed up {_database_label(settings)} to {dest} ({copied.size} bytes; "
        f"{_rows(copied.counts)})",
        err=True,
    )


@app.command("restore")
def restore_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="A file `chatham-server backup` wrote.")],
) -> None:
    """Put the backup SOURCE into an empty database (stop the server first)."""
    from ._private.services.backup import restore

    settings: Settings = ctx.obj
    _prepare_data_dir(settings)
    copied = _run("restore failed", restore, settings, source)
    typer.echo(
        f"{PROG}: restored {source} into {_database_label(settings)} ({_rows(copied.counts)}); "
        "members' clients will report anything written after the backup as missing",
        err=True,
    )


def _group_id(text: str) -> bytes:
    from ._private.services.admin import group_id_of

    return _run("not a group id", group_id_of, text)


@app.command("groups")
def groups_command(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Argument(help="Only this group id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Storage and activity per group id: sizes and counts only, never content."""
    import json
    import time

    from ._private.services.admin import group_report

    settings: Settings = ctx.obj
    _prepare_data_dir(settings)
    wanted = None if group is None else _group_id(group)
    found = _run("the report failed", asyncio.run, group_report(settings, wanted))
    if as_json:
        for g in found:
            row = {**g.__dict__, "group_id": g.group_id.hex()}
            typer.echo(json.dumps(row, sort_keys=True))
        return
    header = ("group id", "created", "ops", "entries", "retracted", "files", "chunks", "bytes")
    typer.echo("  ".join(header) + "  quota  joins")
    for g in found:
        created = time.strftime("%Y-%m-%d", time.gmtime(g.created))
        quota = "default" if g.quota is None else str(g.quota)
        cells: list[object] = [g.group_id.hex(), created, g.log_ops, g.entries, g.retracted]
        cells += [g.attachments, g.chunks, g.stored_bytes, quota, g.pending_joins]
        typer.echo("  ".join(str(c) for c in cells))
    typer.echo(f"{PROG}: {len(found)} group(s) in {_database_label(settings)}", err=True)


@app.command("set-quota")
def set_quota_command(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="The group id (`chatham-server groups`).")],
    quota: Annotated[str, typer.Argument(help="Bytes of ciphertext it may store, or `default`.")],
) -> None:
    """Give one group a storage quota of its own (or the server's --group-quota again)."""
    from ._private.services.admin import set_group_quota

    settings: Settings = ctx.obj
    gid = _group_id(group)
    if quota == "default":
        limit = None
    elif quota.isdigit():
        limit = int(quota)
    else:
        raise fail(f"not a number of bytes: {quota[:40]!r}", "give whole bytes, or `default`")
    _run("set-quota failed", asyncio.run, set_group_quota(settings, gid, limit))


@app.command("delete-group")
def delete_group_command(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="The group id (`chatham-server groups`).")],
    yes: Annotated[bool, typer.Option("--yes", help="Really delete it.")] = False,
) -> None:
    """Delete a group and everything it stored on this server (members keep their copies)."""
    from ._private.services.admin import delete_group

    settings: Settings = ctx.obj
    gid = _group_id(group)
    if not yes:
        raise fail(
            f"deleting group {gid.hex()} cannot be undone",
            "add --yes to delete it; a backup taken before still holds it",
        )
    _run("delete-group failed", asyncio.run, delete_group(settings, gid))


@app.command("tokens")
def tokens_command(ctx: typer.Context) -> None:
    """List the registration tokens (by id: the start of their hash; the tokens are not kept)."""
    from ._private.services.admin import registration_tokens

    settings: Settings = ctx.obj
    _prepare_data_dir(settings)
    for token, uses, expires in _run("tokens failed", asyncio.run, registration_tokens(settings)):
        typer.echo(f"{token}  uses left {uses}  expires {expires}")


@app.command("revoke-token")
def revoke_token_command(
    ctx: typer.Context,
    which: Annotated[str, typer.Argument(help="The token, its id from `tokens`, or `all`.")],
) -> None:
    """Revoke registration tokens: they can create no more groups."""
    from ._private.services.admin import revoke_registration_token

    settings: Settings = ctx.obj
    _run("revoke-token failed", asyncio.run, revoke_registration_token(settings, which))


def _rows(counts: dict[str, int]) -> str:
    shown = ("groups", "log_ops", "entries", "attachments", "attachment_chunks")
    return ", ".join(f"{counts.get(name, 0)} {name}" for name in shown)


def hoist_options(args: list[str]) -> list[str]:
    """Move the server's own options to the front, so `issue-token --data-dir X` acts on X
    (a token written into another database than the server's would never be found)."""
    cmd = typer.main.get_command(app)
    takes = {
        name: not getattr(p, "is_flag", False)
        for p in cmd.params
        if p.param_type_name == "option"
        for name in (*p.opts, *p.secondary_opts)
        if name not in ("--help", "--version")
    }
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, _ = arg.partition("=")
        if name in takes and rest:
            step = 1 if eq or not takes[name] else 2
            front += args[i : i + step]
            i += step
            continue
        rest.append(arg)
        i += 1
    return front + rest


SERVER_MODULES = ("sqlalchemy", "alembic", "asyncpg", "uvloop", "httptools")
"""What the `server` extra installs on top of the member's install."""


def _missing_server_modules() -> list[str]:
    import importlib.util

    return [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs one command; the parser's usage errors go through `fail`."""
    click = _click_exceptions()
    args = hoist_options(list(argv if argv is not None else sys.argv[1:]))
    if not {"--help", "-h", "--version"} & set(args) and _missing_server_modules():
        # A member's install (`pipx install chatham`) has the client only.
        code = fail(
            "the server is not installed here: this is a member's install of Chatham",
            "install the server with `pipx install 'chatham[server]'` "
            "(or `pip install 'chatham[server]'`)",
        ).exit_code
        sys.exit(code)
    try:
        result = app(args=args, prog_name=PROG, standalone_mode=False)
        code = result if isinstance(result, int) else 0
        if code == 130:  # typer turns Ctrl-C into a silent exit code 130
            code = fail("interrupted", "run the command again", 130).exit_code
    except click.UsageError as e:
        command = e.ctx.command_path if e.ctx is not None else PROG
        message = e.format_message().rstrip(".")
        hint = f"see `{command} --help`"
        code = fail(message[:1].lower() + message[1:], hint, 2).exit_code
    except (click.Abort, KeyboardInterrupt):
        code = fail("interrupted", "run the command again", 130).exit_code
    sys.exit(code)


def _click_exceptions() -> Any:
    """The click exceptions typer raises (recent typer vendors click as typer._click)."""
    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:  # pragma: no cover - older typer uses click itself
        return importlib.import_module("click.exceptions")
