"""The page templates: one Jinja environment, autoescaping everything, with the filters pages use.

Every value a template prints is escaped unless it is `Markup` made here (rendered Markdown,
markdown.py). Undefined names fail loudly instead of printing nothing. Templates live in
`templates/`, static files in `static/`, both inside the package: nothing is fetched from
anywhere at run time.
"""

from __future__ import annotations

import hashlib
import time
from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..journal import dated, file_size, relative_date, short_id
from .markdown import render as markdown

PACKAGE = Path(str(files("chatham.client.web")))
TEMPLATES = PACKAGE / "templates"
STATIC = PACKAGE / "static"


def _hex(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.hex() if isinstance(value, bytes) else value


def _short(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return short_id(value) if isinstance(value, bytes) else value[:8]


def _clock(ts: float | int | None) -> str:
    """A moment as this computer's local time: "14:05", or "3 Dec 14:05" if not today."""
    if ts is None:
        return ""
    t = time.localtime(ts)
    if time.strftime("%Y-%m-%d", t) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M", t)
    return time.strftime("%Y-%m-%d %H:%M", t)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


QR_BORDER = 4
"""Modules of light margin around a QR code, as the standard asks for a reliable scan."""


def qr_svg(text: str) -> Markup:
    """`text` as a QR code (segno, error correction M, as on the terminal), drawn as inline
    SVG: one path of dark squares, numbers only, so nothing in it is text or markup from
    anywhere, and nothing loads from anywhere (the CSP allows no data: images)."""
    import segno

    qr = segno.make(text, error="m", micro=False)
    side = len(qr.matrix) + 2 * QR_BORDER
    squares = "".join(
        f"M{x + QR_BORDER} {y + QR_BORDER}h1v1h-1z"
        for y, row in enumerate(qr.matrix)
        for x, dark in enumerate(row)
        if dark
    )
    svg = (
        f'<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" '
        f'role="img" aria-label="The invite as a QR code" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="#fff"/><path d="{squares}" fill="#000"/></svg>'
    )
    return Markup(svg)  # noqa: S704 - built here from integers only


@cache
def asset(name: str) -> str:
    """`/static/NAME?v=DIGEST`: a new address whenever the file changes, so it can be cached."""
    digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals["asset"] = asset
    env.filters.update(
        md=markdown,
        hex=_hex,
        short=_short,
        size=file_size,
        plural=_plural,
        clock=_clock,
        qr=qr_svg,
    )
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def when(day: date, today: date) -> str:
    """ "in 3 days", "yesterday", or the date: how listings say a date."""
    return dated(day, today)


def ago(day: date, today: date) -> str:
    return relative_date(day, today)
