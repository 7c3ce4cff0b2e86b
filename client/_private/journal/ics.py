"""The journal's meetings as an iCalendar file (RFC 5545), with text escaped and folded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from .fold import JournalView


def ics_escape(text: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11)."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\n")
        .replace("\n", "\\n")
    )


def ics_fold(line: str) -> str:
    """Fold a content line into ≤75-octet lines joined by CRLF + space (RFC 5545 §3.1),
    never splitting a UTF-8 sequence."""
    out: list[str] = []
    cur, size, limit = "", 0, 75
    for ch in line:
        n = len(ch.encode())
        if size + n > limit:
            out.append(cur)
            cur, size, limit = "", 0, 74  # continuation lines start with one space
        cur += ch
        size += n
    out.append(cur)
    return "\r\n ".join(out) + "\r\n"


def _ics_date(d: date) -> str:
    return d.strftime("%Y%m%d")


def ics_calendar(view: JournalView, *, now: int) -> str:
    """A VCALENDAR: a VEVENT per meeting and a VTODO per commitment."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Chatham//Chatham journal export//EN",
        "CALSCALE:GREGORIAN",
    ]
    for m in view.meetings():
        b = m.body
        lines += ["BEGIN:VEVENT", f"UID:{m.id.hex()}@chatham", f"DTSTAMP:{stamp}"]
        if b.start is None:
            lines.append(f"DTSTART;VALUE=DATE:{_ics_date(b.date)}")
            lines.append(f"DTEND;VALUE=DATE:{_ics_date(b.date + timedelta(days=1))}")
        else:  # floating local time: the group's wall clock, wherever the reader is
            start = datetime.combine(b.date, b.start)
            lines.append(f"DTSTART:{start.strftime('%Y%m%dT%H%M%S')}")
            if b.minutes is not None:
                end = start + timedelta(minutes=b.minutes)
                lines.append(f"DTEND:{end.strftime('%Y%m%dT%H%M%S')}")
        lines.append(f"SUMMARY:{ics_escape(b.title)}")
        if b.place:
            lines.append(f"LOCATION:{ics_escape(b.place)}")
        lines.append(f"STATUS:{'CONFIRMED' if m.status != 'planned' else 'TENTATIVE'}")
        agenda = view.agenda(m.id, b.date)
        if agenda.published and agenda.issues:
            desc = "Agenda:\n" + "\n".join(
                f"{n}. {i.title}" for n, i in enumerate(agenda.issues, 1)
            )
            lines.append(f"DESCRIPTION:{ics_escape(desc)}")
        lines.append("END:VEVENT")
    status = {
        "open": "NEEDS-ACTION",
        "done": "COMPLETED",
        "partial": "IN-PROCESS",
        "dropped": "CANCELLED",
    }
    for c in view.commitments():
        lines += ["BEGIN:VTODO", f"UID:{c.id.hex()}@chatham", f"DTSTAMP:{stamp}"]
        lines.append(f"SUMMARY:{ics_escape(c.text.split(chr(10), 1)[0])}")
        desc = f"Owner: {view.name(c.owner)}\n\n{c.text}"
        if c.report:
            desc += f"\n\nReport: {c.report}"
        lines.append(f"DESCRIPTION:{ics_escape(desc)}")
        if c.due_date is not None:
            lines.append(f"DUE;VALUE=DATE:{_ics_date(c.due_date)}")
        lines.append(f"STATUS:{status[c.status]}")
        if c.status == "done":
            lines.append("PERCENT-COMPLETE:100")
        lines.append("END:VTODO")
    lines.append("END:VCALENDAR")
    return "".join(ics_fold(line) for line in lines)
