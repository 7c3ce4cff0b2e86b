"""Sync commands: fetch and verify what is new (sync) and re-verify everything held (verify)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .common import JsonOpt, console, emit_json, short, state

if TYPE_CHECKING:
    from .. import Alarm, SyncReport, VerifyReport


def sync(json: JsonOpt = False) -> None:
    """Fetch, verify and store what is new; send queued writes; announce leader actions."""
    import sys

    g = state().group()
    if json or not sys.stderr.isatty():
        report = g.sync()
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        bar = Progress(
            TextColumn("syncing"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console(stderr=True),
            transient=True,
        )
        task = bar.add_task("sync", total=None)

        def progress(done: int, total: int | None) -> None:
            # Only long syncs get a bar; a quick one stays silent.
            if total is not None and total >= 200 and not bar.live.is_started:
                bar.start()
            bar.update(task, completed=done, total=total)

        try:
            report = g.sync(progress=progress)
        finally:
            if bar.live.is_started:
                bar.stop()
    if json:
        emit_json(report)
    else:
        _print_sync(g.name, report)
    _fail_on_alarms(report.alarms)


def _fail_on_alarms(alarms: tuple[Alarm, ...]) -> None:
    """Exit non-zero, naming the oldest problem, while any alarm stands (after the output)."""
    if not alarms:
        return
    from ..errors import VerificationError

    first = alarms[0]
    n = len(alarms)
    raise VerificationError(
        f"{n} problem{'s' if n != 1 else ''} found: {first.text}",
        hint=first.hint,
        check=first.check,  # type: ignore[arg-type]
    )


def _print_sync(name: str, report: SyncReport) -> None:
    from rich.text import Text

    out = console()
    for a in report.announcements:
        out.print(Text(f"• {a.text}"))
    for alarm in report.alarms:
        waits = " (waiting: it may resolve when the rest arrives)" if alarm.waiting else ""
        out.print(Text(f"alarm: {alarm.text}{waits}"))
    if report.status == "joining":
        out.print(f"{name}: waiting for a leader to approve your join request")
        return
    parts = []
    if report.new_entries:
        parts.append(
            f"{report.new_entries} new {'entry' if report.new_entries == 1 else 'entries'}"
        )
    if report.retracted:
        parts.append(f"{report.retracted} retracted")
    if report.new_ops:
        parts.append(f"{report.new_ops} log {'op' if report.new_ops == 1 else 'ops'}")
    if report.sent:
        parts.append(f"{len(report.sent)} sent")
    summary = ", ".join(parts) if parts else "up to date"
    out.print(f"{name}: {summary}")
    if report.queued:
        out.print(f"{report.queued} writes still queued; they go out on the next sync")


def verify(
    json: JsonOpt = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Verify what is stored, without syncing first.")
    ] = False,
) -> None:
    """Replay the whole log and every author chain, and print the meeting code."""
    from ..errors import VerificationError

    g = state().group()
    if not offline:
        g.sync(send=False)
    report = g.verify()
    if json:
        emit_json(report)
    else:
        _print_verify(g.name, report)
    if not report.ok:
        n = len(report.problems)
        raise VerificationError(
            f"{n} problem{'s' if n != 1 else ''} found: {report.problems[0]}",
            check="checkpoint",
        )


def _print_verify(name: str, r: VerifyReport) -> None:
    from rich.text import Text

    out = console()
    out.print(f"group {name} ({short(r.group)})")
    out.print(f"log: {r.log_ops} ops verified, head {short(r.log_head)}, epoch {r.epoch}")
    out.print(f"members: {r.members} active")
    out.print(
        f"entries: {r.entries} verified in {len(r.chains)} author chains "
        f"({r.retracted} retracted, {r.unreadable} unreadable)"
    )
    if r.checkpoint_seq is not None:
        out.print(f"checkpoint: log op {r.checkpoint_seq}")
    if r.meeting_code:
        out.print(f"meeting code: {r.meeting_code}")
    else:
        out.print("meeting code: none yet (a leader signs a checkpoint with `chatham checkpoint`)")
    for p in r.problems:
        out.print(Text(f"problem: {p}"))
    if r.ok:
        out.print("everything verifies")


def register(app: typer.Typer) -> None:
    app.command()(sync)
    app.command()(verify)
