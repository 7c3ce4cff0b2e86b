"""Dates as members type and read them: `2026-12-03`, `today`, `tomorrow`, `next-meeting`,
and "in 3 days"."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from ...errors import InvalidDate

if TYPE_CHECKING:
    from .fold import JournalView


def parse_date(text: str, *, today: date, view: JournalView | None = None) -> date:
    """`YYYY-MM-DD`, `today`, `tomorrow` or `next-meeting` (needs `view`)."""
    t = text.strip().lower()
    if t == "today":
        return today
    if t == "tomorrow":
        return today + timedelta(days=1)
    if t == "next-meeting":
        m = view.next_meeting(today) if view is not None else None
        if m is None:
            raise InvalidDate(
                "no meeting is planned",
                hint="plan one with `chatham meeting new`, or give a date as YYYY-MM-DD",
            )
        return m.date
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
        try:
            return date.fromisoformat(t)
        except ValueError:
            pass
    raise InvalidDate("not a date")


def relative_date(d: date, today: date) -> str:
    """`today`, `tomorrow`, `in 3 days`, `2 weeks ago`, ...; ISO beyond two months."""
    n = (d - today).days
    if n == 0:
        return "today"
    if n == 1:
        return "tomorrow"
    if n == -1:
        return "yesterday"
    a = abs(n)
    if a < 14:
        span = f"{a} days"
    elif a < 60:
        span = f"{a // 7} weeks"
    else:
        return d.isoformat()
    return f"in {span}" if n > 0 else f"{span} ago"


def dated(d: date | None, today: date) -> str:
    if d is None:
        return "—"
    rel = relative_date(d, today)
    return d.isoformat() if rel == d.isoformat() else f"{d.isoformat()} ({rel})"


def local_zone() -> tzinfo:
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone
