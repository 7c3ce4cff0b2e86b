"""The `chatham` command line: a client of the public `chatham.client` API, nothing more.

Output contract (scripts depend on it):

- Results go to stdout. With `--json`, stdout carries exactly one JSON
  document and nothing else; progress bars and notices go to stderr.
- Every failure goes through one dispatcher (`main`), which prints to stderr

      chatham: error: <what happened>
      chatham: hint: <what to do next>

  lower case, no trailing period, and exits non-zero: 1 for errors, 2 for
  usage errors, 130 when interrupted.
- Every text option accepts `-` (read stdin) or `@path` (read a file), so
  secrets and long text need not appear in the command line.
- `chatham init --name NAME` never prompts when CHATHAM_PASSPHRASE is set; nor
  do `chatham device add` and `chatham recover`, which create a home too.
- `chatham device link` prints the link line (`server#code`) as its last line,
  `chatham device add` the six comparison words, `chatham recovery-kit` the
  fifteen kit words; `chatham device list --json` prints
  `[{"id", "name", "current", "added"}]`.

The journal commands add:

- Listings print a table on a terminal and plain two-space columns otherwise;
  with `--json` they print one JSON document whose item shapes are the
  journal's stable schema (docs/journal.md §11). `issue list` and
  `parking-lot` items have `id`, `title`, `priority`, `status` (parking-lot
  order is the ranking); `commit list` items have `id`, `text`, `status`,
  `due`; `agenda` has the ranked `issues` and the `commitments` due.
- Commands that write print one line naming the new entry's short id (and
  `--json` prints `{"id", "queued"}`); they never echo what was written.
- Item ids accept any unique prefix of 4 or more hex digits.
- Dates accept `2026-12-03`, `today`, `tomorrow` and `next-meeting`.
- Long text comes from an option, `-` or `@-` (stdin), `@file`, or the member's
  editor when the command runs on a terminal and no text was given (the editor's
  own contract, drafts included, is at the top of `editor.py`).
- Everyday output says what happened in the members' words; `--verbose` adds the
  protocol's terms (log ops, epochs, checkpoints). Member and server text is printed
  as text, never as markup, and never reaches the terminal with a control character,
  escape sequence or bidi override in it (`common.console()` and `common.safe`).
- A refusal by the permission table (docs/journal.md §4) is an error with a
  hint, checked before anything is posted, so it changes nothing.

Adding commands: write `client/cli/<group>.py` with a function
`register(app: typer.Typer) -> None` that adds its commands or sub-apps to `app`,
and list the module in `COMMAND_MODULES` below. Keep module level imports to the
standard library, typer and `.common`; import the library (`from .. import ...`,
`from ..journal import ...`: public modules only, a test checks) inside each
command, so `chatham --help` stays fast. `state().account()` is the unlocked
account, `state().group()` the group chosen with `--group` (or the current one);
raise `chatham.client.errors` exceptions and let the dispatcher print them. Global
options (`--group`, `--passphrase-file`, `--verbose`, `--offline`) may appear anywhere on the
line. Reads (listings, `show`, `agenda`, `review`, `members`) sync first when the server
answers promptly; otherwise they say on stderr how old the local copy is.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

COMMAND_MODULES: tuple[str, ...] = (
    "identity",
    "groups",
    "sync",
    "members",
    "devices",
    "issues",
    "meetings",
    "notes",
    "commitments",
    "comments",
    "updates",
    "items",
    "unsent",
    "web",
)
"""Modules under chatham.client.cli that register commands, in help order."""

GLOBAL_OPTIONS = {
    "--group": True,
    "-g": True,
    "--passphrase-file": True,
    "--verbose": False,
    "-v": False,
    "--offline": False,
    "--anyway": False,
}
"""Options that belong to `chatham` itself, with whether they take a value."""

app = typer.Typer(
    name="chatham",
    help="Chatham: a confidential group journal for peer groups, end-to-end encrypted.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion and --show-completion (bash, zsh, fish)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        sys.stdout.write(f"chatham {version('chatham')}\n")
        raise typer.Exit()


@app.callback()
def _root(
    group: Annotated[
        str | None,
        typer.Option("--group", "-g", help="The group to act on (id, id prefix or name)."),
    ] = None,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            help="Read the passphrase from this file (`-` for stdin) instead of prompting.",
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also name the protocol's records (log ops, epochs, checkpoints) in the output.",
        ),
    ] = False,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline", help="Read the local copy without asking the server for news first."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    anyway: Annotated[
        bool,
        typer.Option(
            "--anyway",
            help="Write even though this copy of the group has not been confirmed current for "
            "a month (a server may be hiding a removal).",
        ),
    ] = False,
) -> None:
    from .common import state

    st = state()
    st.group_ref = group
    st.passphrase_file = passphrase_file
    st.verbose = verbose
    st.offline = offline
    st.anyway = anyway


def _register() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"chatham.client.cli.{name}")
        module.register(app)


_register()


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move global options to the front, so `chatham sync --group X` works too."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest += argv[i:]
            break
        name, eq, _ = arg.partition("=")
        if name in GLOBAL_OPTIONS and i > 0:
            if eq or not GLOBAL_OPTIONS[name]:
                front.append(arg)
                i += 1
                continue
            front += argv[i : i + 2]
            i += 2
            continue
        rest.append(arg)
        i += 1
    return front + rest


INTERRUPTED = 130


def _interrupted() -> int:
    if sys.stderr.isatty():
        sys.stderr.write("\n")  # Ctrl-C lands mid-line (a prompt, a progress bar)
    return _fail("interrupted", "nothing was left half done; run the command again", INTERRUPTED)


def _fail(message: str, hint: str | None, code: int) -> int:
    try:
        from .. import error_lines
    except ImportError:
        # chatham.crypto, which holds the printer, refused to load (its libsodium self-test):
        # the same two lines, from our own words only, so the member still learns why.
        sys.stderr.write(f"chatham: error: {message}\n" + (f"chatham: hint: {hint}\n" * bool(hint)))
        return code
    sys.stderr.write(error_lines("chatham", message, hint))
    return code


def main(argv: list[str] | None = None) -> int:
    """Run one command; every error is printed here and nowhere else."""
    import os

    from ..errors import ChathamError, UsageError
    from . import common as cli_common

    cli_common.STATE = cli_common.CliState()  # fresh per invocation (tests call main repeatedly)
    args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    click = _click_exceptions()
    try:
        result = app(args=args, prog_name="chatham", standalone_mode=False)
        if result == INTERRUPTED:  # typer turns Ctrl-C into a silent exit code 130
            return _interrupted()
        cli_common.STATE.after_success()
        return result if isinstance(result, int) else 0
    except typer.Exit as e:
        return int(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        return _interrupted()
    except click.NoArgsIsHelpError as e:
        sys.stdout.write(e.format_message() + "\n")
        return 0
    except click.UsageError as e:
        command = e.ctx.command_path if e.ctx is not None else "chatham"
        message = e.format_message().rstrip(".")
        return _fail(message[:1].lower() + message[1:], f"see `{command} --help`", 2)
    except ChathamError as e:
        return _fail(e.message, e.hint, 2 if isinstance(e, UsageError) else 1)
    except BrokenPipeError:
        return 1
    except ImportError as e:
        # A broken install, or chatham.crypto's self-test refusing an unsafe libsodium:
        # the message says which; its `hint` (when it has one) says what to do.
        return _fail(str(e), getattr(e, "hint", None) or "reinstall chatham", 1)
    except Exception as e:
        if os.environ.get("CHATHAM_DEBUG") == "1":
            return _traceback(e)
        # A bug: say so without printing data that might be private.
        return _fail(
            f"internal error ({type(e).__name__})",
            "this is a bug in chatham; CHATHAM_DEBUG=1 shows the traceback",
            1,
        )
    finally:
        cli_common.STATE.close()


def _traceback(e: BaseException) -> int:
    """CHATHAM_DEBUG=1: the bug's traceback on stderr, as inert as every other output (its
    message may quote what a server or member sent)."""
    import traceback

    from .. import terminal_text

    sys.stderr.write(terminal_text("".join(traceback.format_exception(e))))
    return 1


def _click_exceptions() -> Any:
    """The click exceptions typer raises (recent typer vendors click as typer._click)."""
    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:  # pragma: no cover - older typer uses click itself
        return importlib.import_module("click.exceptions")


def run() -> None:
    """The `chatham` program: harden this process (no core dumps, the passphrase out of the
    environment: `chatham.client.harden_process`) before anything is read, then `main`."""
    from .. import harden_process

    harden_process()
    sys.exit(main())


if __name__ == "__main__":
    run()
