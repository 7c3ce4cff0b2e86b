"""Helpers every `chatham` command module uses: the unlocked account, text inputs, output, and
what the journal commands share (long text, the editor, one line per write, progress bars).

Import only the standard library and typer at module level here and in every command
module: the library (and httpx, sqlite, crypto) loads inside commands, so that
`chatham --help` stays fast.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from .. import Account, Freshness, Group, SyncReport
    from ..journal import Journal, Posted


@dataclasses.dataclass
class CliState:
    """Global options and the account opened for this invocation (one per process)."""

    group_ref: str | None = None
    passphrase_file: Path | None = None
    anyway: bool = False
    """Write even when this copy of the group is too old to write safely."""
    _account: Account | None = None

    def passphrase_from_file(self) -> str | None:
        if self.passphrase_file is None:
            return None
        from ..errors import UsageError

        try:
            if str(self.passphrase_file) == "-":
                text = sys.stdin.read()
            else:
                text = self.passphrase_file.read_text(encoding="utf-8")
        except OSError as e:
            raise UsageError(
                f"cannot read the passphrase file ({e.strerror})",
                hint="check the path given to --passphrase-file",
            ) from None
        return text.rstrip("\r\n")

    def prompt(self, *, confirm: bool = False) -> str | None:
        """The passphrase from --passphrase-file, else asked on the terminal (never echoed)."""
        from_file = self.passphrase_from_file()
        if from_file is not None:
            return from_file
        if not sys.stdin.isatty():
            return None
        import getpass

        first = getpass.getpass("passphrase: ")
        if confirm:
            if len(first) < 8:
                from ..errors import UsageError

                raise UsageError(
                    "a passphrase needs at least 8 characters",
                    hint="a few unrelated words make a good passphrase",
                )
            if getpass.getpass("passphrase (again): ") != first:
                from ..errors import UsageError

                raise UsageError("the passphrases differ", hint="nothing was changed; try again")
        return first

    def account(self) -> Account:
        """The member's unlocked account (session, CHATHAM_PASSPHRASE, file, or prompt)."""
        if self._account is None:
            from .. import Account, Home

            home = Home.default()
            if self.passphrase_file is not None:
                # A live session first; then the file, which wins over CHATHAM_PASSPHRASE.
                secrets, _ = home.unlock(env={}, prompt=self.passphrase_from_file)
                self._account = Account(home, secrets)
            else:
                self._account = Account.open(home, prompt=self.prompt)
        return self._account

    def group(self) -> Group:
        """The group named by --group, else the current one."""
        return self.account().group(self.group_ref)

    def close(self) -> None:
        if self._account is not None:
            self._account.close()
            self._account = None


STATE = CliState()
"""This process's state; `chatham.client.cli` resets it per invocation."""


def state() -> CliState:
    return STATE


def text(value: str | None) -> str | None:
    """A text option's value: `-` reads stdin, `@path` reads a file, anything else is itself.

    Use it for every text option, so secrets and long text need not sit in the
    command line (`/proc/*/cmdline`, shell history). `@@x` means the literal `@x`.
    """
    if value is None:
        return None
    if value == "-":
        return sys.stdin.read().rstrip("\r\n")
    if value.startswith("@@"):
        return value[1:]
    if value.startswith("@") and len(value) > 1:
        from ..errors import UsageError

        try:
            return Path(value[1:]).expanduser().read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as e:
            raise UsageError(
                f"cannot read {value[1:]} ({e.strerror})", hint="`@path` reads text from a file"
            ) from None
    return value


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr
        }
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return value


def emit_json(value: Any) -> None:
    """Print one JSON document on stdout (and nothing else goes to stdout with --json)."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False) + "\n")


def console(*, stderr: bool = False) -> Console:
    """A rich console: colour only on a terminal, and never when NO_COLOR is set."""
    from rich.console import Console

    return Console(
        stderr=stderr,
        highlight=False,
        no_color="NO_COLOR" in os.environ or None,
        soft_wrap=True,
    )


def short(hex_id: str, n: int = 12) -> str:
    return hex_id[:n]


def changed_words(report: SyncReport) -> str:
    """`2 new entries, 1 log op, 1 retracted`: counts only, never content."""
    parts = []
    if report.new_entries:
        n = report.new_entries
        parts.append(f"{n} new {'entry' if n == 1 else 'entries'}")
    if report.retracted:
        parts.append(f"{report.retracted} retracted")
    if report.new_ops:
        parts.append(f"{report.new_ops} log {'op' if report.new_ops == 1 else 'ops'}")
    return ", ".join(parts) or "up to date"


# --- what the journal commands share -----------------------------------------------------------


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


MeetingArg = Annotated[
    str | None,
    typer.Argument(
        help="Meeting id (prefix) or date; default: the open meeting, else the next planned one.",
        show_default=False,
    ),
]


MeetingOpt = Annotated[
    str | None,
    typer.Option(
        "--meeting",
        "-m",
        help="Meeting id (prefix) or date; default: the meeting in progress, if any.",
        show_default=False,
    ),
]


def sub_app(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


def journal(*, write: bool = False) -> Journal:
    """The current group's journal; for a write, synced first so ids from others resolve."""
    from ..journal import Journal

    st = state()
    gj = Journal(st.group(), st.account().member_id, insist=st.anyway)
    if write:
        gj.catch_up()
    return gj


def interactive() -> bool:
    """Whether $EDITOR may be opened (tests replace this)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def long_text(value: str | None) -> str | None:
    from ..journal import clean_text

    got = text(value)
    return None if got is None else clean_text(got)


def line_text(value: str | None) -> str | None:
    from ..journal import clean_line

    got = text(value)
    return None if got is None else clean_line(got)


def edit(initial: str) -> str:
    from ..journal import clean_text
    from .editor import edit_text

    return clean_text(edit_text(initial))


SECTION_MARK = "## "


def edit_sections(heading: str, sections: list[tuple[str, str, str]]) -> dict[str, str]:
    """Open $EDITOR with one `## label` section per field; return field → text.

    Lines before the first section are instructions and are dropped; a section ends at
    the next line that is exactly another section's heading.
    """
    lines = [
        f"# {heading}",
        "# Write under each heading; leave a section empty to skip it.",
        "# These first lines are ignored; markdown is fine.",
        "",
    ]
    for _, label, initial in sections:
        lines += [f"{SECTION_MARK}{label}", "", *([initial, ""] if initial else [])]
    saved = edit("\n".join(lines) + "\n")
    by_label = {f"{SECTION_MARK}{label}".lower(): key for key, label, _ in sections}
    found: dict[str, list[str]] = {key: [] for key, _, _ in sections}
    current: str | None = None
    for line in saved.split("\n"):
        key = by_label.get(line.strip().lower())
        if key is not None:
            current = key
        elif current is not None:
            found[current].append(line)
    from ..journal import clean_text

    return {key: clean_text("\n".join(body)) for key, body in found.items()}


def announce(posted: Posted, what: str, json: bool, done: str | None = None) -> None:
    """One line about a write: `issue 3f9a0c12 posted`, or `done` for a change to an item."""
    if json:
        emit_json({"id": posted.id, "queued": posted.queued})
        return
    out = console()
    if done is None:
        done = f"{what} {posted.short} {'queued' if posted.queued else 'posted'}"
    elif posted.queued:
        done += " (queued)"
    if posted.queued:
        done += ": the server is out of reach; it goes out with the next `chatham sync`"
    out.print(done)
    warn_if_stale(state().group().freshness())


def warn_if_stale(fresh: Freshness | None) -> None:
    """A plain warning on stderr when this copy of the group has not been confirmed current
    for a week (a server may be hiding changes, such as a removal)."""
    if fresh is None or fresh.level == "current":
        return
    from rich.text import Text

    console(stderr=True).print(
        Text(
            f"chatham: warning: {fresh.words()}; the server may be hiding changes to the "
            "group. Ask a leader to sync (their app confirms the group is current)"
        )
    )


def progress_bar(label: str, total: int) -> Any:
    """A byte progress bar on stderr when it is a terminal; None otherwise."""
    if not sys.stderr.isatty():
        return None
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console(stderr=True),
        transient=True,
    )


def with_progress(label: str, total: int, work: Any) -> Any:
    bar = progress_bar(label, total)
    if bar is None:
        return work(None)
    task = bar.add_task(label, total=total)
    with bar:
        return work(lambda done, all_: bar.update(task, completed=done, total=all_))


def show_item(gj: Journal, item: Any, json: bool) -> None:
    from ..journal import item_json
    from .show import print_item

    if json:
        emit_json(item_json(gj.view, item, history=True))
    else:
        print_item(console(), gj.view, item, gj.today())
