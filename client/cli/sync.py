"""Sync commands: fetch and verify what is new (sync) and re-verify everything held (verify)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .common import (
    JsonOpt,
    changed_words,
    console,
    emit_json,
    short,
    state,
    unsent_words,
    verbose,
    warn_if_stale,
)

if TYPE_CHECKING:
    from .. import Alarm, Group, SyncReport, VerifyReport


def sync(
    json: JsonOpt = False,
    every: Annotated[bool, typer.Option("--all", help="Sync every group in this home.")] = False,
) -> None:
    """Fetch, verify and store what is new; send queued writes; announce leader actions."""
    if every:
        _sync_all(json)
        return
    g = state().group()
    report = _sync_one(g, json)
    if json:
        emit_json(report)
    else:
        _print_sync(g.name, report)
        warn_if_stale(report.freshness)
    _fail_on_alarms(report.alarms)


def _sync_all(json: bool) -> None:
    """Each group in turn; one that fails does not stop the others, and is named at the end."""
    from ..errors import ChathamError

    account = state().account()
    reports = []
    failed: list[tuple[str, ChathamError]] = []
    for summary in account.groups():
        g = account.group(summary.id)
        try:
            report = _sync_one(g, json)
        except ChathamError as e:
            failed.append((g.name, e))
            continue
        reports.append(report)
        if not json:
            _print_sync(g.name, report)
            warn_if_stale(report.freshness)
        try:
            _fail_on_alarms(report.alarms)
        except ChathamError as e:
            failed.append((g.name, e))
    if json:
        emit_json(reports)
    if failed:
        name, first = failed[0]
        raise ChathamError(
            f"{len(failed)} of {len(account.groups())} groups did not sync; "
            f"{name}: {first.message}",
            hint=first.hint,
        )


def _sync_one(g: Group, json: bool) -> SyncReport:
    import sys

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
    return report


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
        detail = f" ({a.detail})" if verbose() and a.detail else ""
        out.print(Text(f"• {a.text}{detail}"))
    for alarm in report.alarms:
        waits = " (waiting: it may resolve when the rest arrives)" if alarm.waiting else ""
        out.print(Text(f"alarm: {alarm.text}{waits}"))
    for entry, reason in report.refused:
        out.print(Text(f"not sent: write {entry[:8]}: {reason}; its text is kept"))
    if report.unsent:  # every sync says so while any are kept, whatever else it reports
        out.print(unsent_words(report.unsent))
    if report.status == "joining":
        out.print(f"{name}: waiting for a leader to approve your join request")
        return
    if report.status in ("removed", "left"):
        out.print(f"{name}: you are no longer a member; what you already have stays readable here")
        return
    summary = changed_words(report, sent=True)
    if report.checkpointed:
        summary += ", checkpoint signed (the group had been quiet for a day)"
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
    if not (offline or state().offline):  # `--offline` is also the global option
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
