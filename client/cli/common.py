"""Helpers every `chatham` command module uses: the unlocked account, text inputs, output, and
what the journal commands share (long text, the editor, one line per write, progress bars).

Import only the standard library and typer at module level here and in every command
module: the library (and httpx, sqlite, crypto) loads inside commands, so that
`chatham --help` stays fast.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from .. import Account, Freshness, Group, SyncReport
    from ..journal import Journal, Posted
    from .editor import Draft


@dataclasses.dataclass
class CliState:
    """Global options and the account opened for this invocation (one per process)."""

    group_ref: str | None = None
    passphrase_file: Path | None = None
    verbose: bool = False
    """`--verbose`: also name the protocol's records (log ops, epochs, checkpoints)."""
    offline: bool = False
    """`--offline`: reads show the local copy without asking the server first."""
    anyway: bool = False
    """Write even when this copy of the group is too old to write safely."""
    _asked: int = 0
    _account: Account | None = None
    _wrote: Group | None = None
    """The group a journal command wrote to (`journal(write=True)`)."""

    def after_success(self) -> None:
        """After a write command: sending its write sent those waiting before it, and the
        server may have refused one for good; say how many are kept while any are."""
        if self._wrote is None:
            return
        n = self._wrote.unsent_count
        if n:
            console(stderr=True).print(f"chatham: note: {unsent_words(n)}")

    def passphrase_from_file(self) -> str | None:
        if self.passphrase_file is None:
            return None
        from ..errors import UsageError

        try:
            if str(self.passphrase_file) == "-":
                text = sys.stdin.read()
            else:
                text = _read_private(self.passphrase_file)
        except OSError as e:
            raise UsageError(
                f"cannot read the passphrase file ({e.strerror})",
                hint="check the path given to --passphrase-file",
            ) from None
        return text.rstrip("\r\n")

    def new_passphrase(self) -> str:
        """The passphrase for a keystore being created (`init`, `device add`, `recover`):
        --passphrase-file, else CHATHAM_PASSPHRASE, else asked twice on a terminal."""
        return self._given_passphrase("no passphrase to protect the new keystore", new=True)

    def current_passphrase(self) -> str:
        """The keystore's passphrase, for a command that must have it typed even during an
        unlock session (`unlock`, `passphrase`): --passphrase-file, else
        CHATHAM_PASSPHRASE, else asked on a terminal."""
        return self._given_passphrase("no passphrase given", new=False)

    def _given_passphrase(self, missing: str, *, new: bool) -> str:
        from .. import env_passphrase
        from ..errors import Locked

        if self.passphrase_file is not None:
            passphrase = self.passphrase_from_file()
        else:
            passphrase = env_passphrase() or self.prompt(confirm=new)
        if not passphrase:
            raise Locked(
                missing, hint="run on a terminal, or set CHATHAM_PASSPHRASE or --passphrase-file"
            )
        return passphrase

    def prompt(self, *, confirm: bool = False) -> str | None:
        """The passphrase from --passphrase-file, else asked on the terminal (never echoed)."""
        from_file = self.passphrase_from_file()
        if from_file is not None:
            return from_file
        if not sys.stdin.isatty():
            return None
        import getpass

        if self._asked and not confirm:
            sys.stderr.write("chatham: wrong passphrase, try again (case matters)\n")
        self._asked += 1
        first = getpass.getpass("passphrase: ")
        if confirm:
            return self._confirmed(first, "passphrase (again): ")
        return first

    @staticmethod
    def _confirmed(first: str, again: str) -> str:
        """A new passphrase typed a second time, after the library's rule for it."""
        import getpass

        from .. import check_new_passphrase
        from ..errors import UsageError

        check_new_passphrase(first)
        if getpass.getpass(again) != first:
            raise UsageError("the passphrases differ", hint="nothing was changed; try again")
        return first

    def changed_passphrase(self, value: str | None) -> str | None:
        """The new passphrase of `chatham passphrase`: `--new-passphrase` (`-` for stdin,
        `@file`), else asked twice on the terminal; None when there is no way to ask."""
        if value is not None:
            from ..errors import UsageError

            if value != "-" and (not value.startswith("@") or value.startswith("@@")):
                # Other users can read a command line (/proc/*/cmdline, shell history).
                raise UsageError(
                    "a passphrase is never given on the command line",
                    hint="pass --new-passphrase @FILE, or - to read it from standard input",
                )
            if value in ("-", "@-") and str(self.passphrase_file) == "-":
                raise UsageError(
                    "both passphrases cannot come from standard input",
                    hint="give one of them as a file (@FILE, --passphrase-file FILE)",
                )
            if value.startswith("@") and value != "@-":
                path = Path(value[1:]).expanduser()
                try:  # a file others can read is refused, as for --passphrase-file
                    return _read_private(path).rstrip("\r\n")
                except OSError as e:
                    raise UsageError(
                        f"cannot read {path} ({e.strerror})", hint="`@path` reads text from a file"
                    ) from None
            return text(value)
        if not sys.stdin.isatty():
            return None
        import getpass

        return self._confirmed(getpass.getpass("new passphrase: "), "new passphrase (again): ")

    def account(self) -> Account:
        """The member's unlocked account (session, CHATHAM_PASSPHRASE, file, or prompt)."""
        if self._account is None:
            from .. import Account, Home

            home = Home.default()
            if self.passphrase_file is not None:
                # A live session first; then the file, which wins over CHATHAM_PASSPHRASE.
                self._account = Account.open(home, env={}, prompt=self.passphrase_from_file)
            else:
                self._account = Account.open(home, prompt=self.prompt)
            for w in self._account.waiting:
                # What kept a group from another device of yours away is said, every time.
                console(stderr=True).print(
                    f"not here yet: {w.name}, from your other device ({w.problem}); it is "
                    "added at a later command"
                )
        return self._account

    def group(self) -> Group:
        """The group named by --group, else the current one."""
        return self.account().group(self.group_ref)

    def close(self) -> None:
        if self._account is not None:
            self._account.close()
            self._account = None


def _read_private(path: Path) -> str:
    """A passphrase file's text, refused (as ssh refuses a private key) when it is a file
    other users can read or write: the passphrase in it is not the member's alone. Checked
    on the file opened, so it cannot be swapped between check and read; a pipe
    (`--passphrase-file <(pass show chatham)`) is not a file anyone else reads."""
    import stat

    from ..errors import UsageError

    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if stat.S_ISREG(st.st_mode) and (st.st_mode & 0o077 or st.st_uid != os.getuid()):
            raise UsageError(
                f"{path} can be read by other users of this computer, so the passphrase in it "
                "is not yours alone",
                hint=f"nothing was unlocked; run `chmod 600 {path}`, and change the passphrase "
                "if others may have read it",
            )
        return f.read().decode("utf-8")


STATE = CliState()
"""This process's state; `chatham.client.cli` resets it per invocation."""


def state() -> CliState:
    return STATE


def verbose() -> bool:
    """Whether to add the protocol's terms (log ops, epochs, checkpoints) to everyday output.

    Everyday output says what happened in the members' words; `--verbose` adds where it
    sits in the protocol, for those who check (`chatham verify` always does)."""
    return STATE.verbose


def text(value: str | None) -> str | None:
    """A text option's value: `-` (or `@-`) reads stdin, `@path` reads a file, anything else
    is itself.

    Use it for every text option, so secrets and long text need not sit in the
    command line (`/proc/*/cmdline`, shell history). `@@x` means the literal `@x`.
    """
    if value is None:
        return None
    if value in ("-", "@-"):
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


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def emit_json(value: Any) -> None:
    """Print one JSON document on stdout (and nothing else goes to stdout with --json).

    `json.dumps` escapes C0 controls; DEL, C1 controls (`\\x9b` is a CSI on some terminals),
    line separators and bidi overrides are escaped too (as `\\u009b`), so a document shown
    on a terminal cannot drive it, and it decodes to exactly the same strings."""
    doc = json.dumps(to_jsonable(value), indent=2, ensure_ascii=False)
    sys.stdout.write(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", doc) + "\n")


def safe(text: str) -> str:
    """`text` fit for a terminal: what a server or another member wrote can move no cursor,
    recolour nothing, set no clipboard or window title and reorder no text (every control
    character but newline and tab, and every bidi override, becomes U+FFFD). `console()`
    applies it to everything it prints; this is for the few lines written without it."""
    from .. import terminal_text

    return terminal_text(text)


def console(*, stderr: bool = False) -> Console:
    """A rich console: colour only on a terminal, and never when NO_COLOR is set.

    Markup and emoji codes are off: every string printed may hold a member's name, a group
    name or the server's words, and `Lee [/]` or `:smile:` must print as typed (styles come
    only from `rich.text.Text`, as in `show.py`). Every piece of text it renders also goes
    through `safe` (rich's own colours and cursor moves are styles and control segments,
    never text), so no output path of the CLI passes an escape sequence to the terminal.
    """
    return _safe_console_class()(
        stderr=stderr,
        markup=False,
        emoji=False,
        highlight=False,
        no_color="NO_COLOR" in os.environ or None,
        soft_wrap=True,
    )


@functools.cache
def _safe_console_class() -> type[Console]:
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.segment import Segment

    from .. import terminal_text

    class SafeConsole(Console):
        """Rich's console, with every text segment through `terminal_text` as it renders."""

        def render(
            self, renderable: RenderableType, options: ConsoleOptions | None = None
        ) -> Iterable[Segment]:
            for segment in super().render(renderable, options):
                text, style, control = segment
                if control is None and text:
                    clean = terminal_text(text)
                    if clean != text:
                        segment = Segment(clean, style)
                yield segment

    return SafeConsole


def short(hex_id: str, n: int = 12) -> str:
    return hex_id[:n]


def plural(n: int, one: str, many: str | None = None) -> str:
    """`1 entry`, `2 entries`."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def unsent_words(n: int) -> str:
    """`1 post was not sent; `chatham unsent` shows it`: writes kept unsent (`Group.unsent`),
    said while any are kept."""
    were, it = ("was", "it") if n == 1 else ("were", "them")
    return f"{plural(n, 'post')} {were} not sent; `chatham unsent` shows {it}"


def group_changes(n: int) -> str:
    """`3 changes to the group`: its log ops (membership, keys, checkpoints); `--verbose`
    calls them that."""
    return plural(n, "log op") if verbose() else plural(n, "change") + " to the group"


def changed_words(report: SyncReport, *, sent: bool = False) -> str:
    """`2 new entries, 1 retracted, 1 change to the group`: counts only, never content."""
    parts = []
    if report.new_entries:
        parts.append(plural(report.new_entries, "new entry", "new entries"))
    if report.retracted:
        parts.append(f"{report.retracted} retracted")
    if report.new_ops:
        parts.append(group_changes(report.new_ops))
    if sent and report.sent:
        parts.append(f"{len(report.sent)} sent")
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
    """The current group's journal: for a write, synced first so ids from others resolve;
    for a read, synced first if the server answers promptly (`fresh`)."""
    from ..journal import Journal

    st = state()
    group = st.group()
    if not write:
        fresh(group)
    gj = Journal(group, st.account().member_id, insist=st.anyway)
    if write:
        st._wrote = group
        gj.catch_up()
    return gj


def fresh(group: Group) -> None:
    """Before a read: sync if the server answers promptly, so nobody reads a stale copy
    unknowingly; otherwise say on stderr how old the local copy is. `--offline` skips it."""
    if state().offline:
        return
    report = group.refresh()
    if report is not None:
        if sys.stderr.isatty():  # what changed in the group, told once, as `sync` does
            for a in report.announcements:
                console(stderr=True).print(f"• {a.text}")
        if report.refused:  # this read's sync sent a waiting write the server refused
            console(stderr=True).print(f"chatham: note: {unsent_words(report.unsent)}")
        return
    when = group.last_synced
    since = "never synced" if when is None else f"last synced {ago(when)}"
    console(stderr=True).print(
        f"chatham: note: the server is out of reach; showing your copy ({since})"
    )


def clock(ts: int) -> str:
    """`2026-12-04 18:30`: a moment as the member's own clock shows it (local time)."""
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def ago(ts: int) -> str:
    """`2026-12-04 18:30 (3 hours ago)` in local time."""
    import time

    seconds = max(0, int(time.time()) - ts)
    if seconds < 90:
        rel = "just now"
    elif seconds < 5400:
        rel = f"{round(seconds / 60)} minutes ago"
    elif seconds < 36 * 3600:
        rel = f"{round(seconds / 3600)} hours ago"
    else:
        rel = f"{round(seconds / 86400)} days ago"
    return f"{clock(ts)} ({rel})"


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


def draft_key(kind: str) -> str:
    """A draft's name: per group and per command (`issue-new`, `report-3f9a0c12`).

    It unlocks the account first, so the passphrase is asked for before any editor opens.
    """
    return f"{state().group().id[:12]}-{kind}"


def edit(draft: Draft, what: str, initial: str = "") -> str:
    """One text from the editor (a commitment, a comment, a note); an empty one cancels."""
    from ..journal import clean_text
    from .editor import Cancelled

    saved = clean_text(draft.edit(initial))
    if not saved.strip():
        raise Cancelled(
            f"nothing was posted: the {what} is empty", hint="nothing was kept", draft=draft
        )
    return saved


SECTION_MARK = "## "
INSTRUCTIONS = (
    "# Write under each heading; leave a section empty to skip it.",
    "# Keep the `## ` headings as they are. These first lines are ignored; markdown is fine.",
)


def edit_sections(
    draft: Draft, heading: str, sections: list[tuple[str, str, str]]
) -> dict[str, str]:
    """Open the editor with one `## label` section per field; return field → text.

    Lines above the first section are instructions. A section runs to the next line that
    is exactly another section's heading, so `## ` lines of the member's own markdown stay
    text. Nothing typed is dropped: text above the first heading, or a heading that was
    changed, is an error that keeps the draft. Saving every section empty cancels.
    """
    from ..errors import UsageError
    from ..journal import clean_text
    from .editor import Cancelled

    top = [f"# {heading}", *INSTRUCTIONS]
    lines = [*top, ""]
    for _, label, initial in sections:
        lines += [f"{SECTION_MARK}{label}", "", *([initial, ""] if initial else [])]
    saved = clean_text(draft.edit("\n".join(lines) + "\n"))
    by_label = {f"{SECTION_MARK}{label}".lower(): key for key, label, _ in sections}
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line in saved.split("\n"):
        key = by_label.get(line.strip().lower())
        if key is not None:
            if key in found:
                raise UsageError(
                    f"the heading “{line.strip()}” appears twice",
                    hint="keep each heading once and write under it",
                )
            current = key
            found[key] = []
        elif current is not None:
            found[current].append(line)
        elif line.strip() and line.strip() not in top:
            raise UsageError(
                "there is text above the first heading, where it would be lost",
                hint="move it under one of the `## ` headings",
            )
    missing = [label for key, label, _ in sections if key not in found]
    if missing:
        raise UsageError(
            f"the heading “{SECTION_MARK}{missing[0]}” is missing or was changed",
            hint="keep each `## ` heading line as it was, and write under it",
        )
    texts = {key: clean_text("\n".join(body)) for key, body in found.items()}
    if not any(texts.values()):
        raise Cancelled(
            "nothing was posted: every section is empty", hint="nothing was kept", draft=draft
        )
    return texts


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
