"""Member-written Markdown as safe HTML: raw HTML off, links shown with their address, nothing
loaded from the network.

markdown-it-py (CommonMark, already installed as a dependency of rich) parses; its output
escapes all text. On top of its defaults:

- `html` is off, so `<script>` and any other tag stay visible text;
- an image is never loaded (that would tell a remote server when a member read the note):
  it shows as its description and address, as text;
- a link shows its address beside its text, so a label cannot disguise where it goes; only
  http, https and mailto addresses are links at all (others are text), and they open in a
  new tab with no referrer;
- the CSP (guard.py) forbids any remote resource anyway, so this is the second wall.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Final

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup, escape

LINK_SCHEMES: Final = ("http://", "https://", "mailto:")


def _link_open(_r: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    href = str(tokens[idx].attrGet("href") or "")
    env.setdefault("links", []).append(href)
    if not href.lower().startswith(LINK_SCHEMES):
        return ""
    return f'<a href="{escape(href)}" rel="noopener noreferrer nofollow" target="_blank">'


def _link_close(_r: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    href = env["links"].pop() if env.get("links") else ""
    is_link = href.lower().startswith(LINK_SCHEMES)
    label = _label_before(tokens, idx)
    shown = href.removeprefix("mailto:")
    suffix = "" if label in (href, shown) else f' <span class="addr">({escape(href)})</span>'
    return ("</a>" if is_link else "") + suffix


def _label_before(tokens: Sequence[Token], idx: int) -> str:
    """The plain text between this link_close and its link_open."""
    parts: list[str] = []
    depth = 0
    for t in reversed(tokens[:idx]):
        if t.type == "link_close":
            depth += 1
        elif t.type == "link_open":
            if depth == 0:
                break
            depth -= 1
        elif t.type in ("text", "code_inline"):
            parts.append(t.content)
    return "".join(reversed(parts))


def _image(_r: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    t = tokens[idx]
    src = str(t.attrGet("src") or "")
    alt = "".join(c.content for c in (t.children or []))
    addr = f'<span class="addr">({escape(src)})</span>'
    return f'<span class="image">[image: {escape(alt)}] {addr}</span>'


@cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("link_close", _link_close)
    md.add_render_rule("image", _image)
    return md


def render(text: str) -> Markup:
    """`text` (Markdown) as HTML that is safe to put in a page."""
    return Markup(_parser().render(text, {}))  # noqa: S704 - markdown-it escapes; html is off
