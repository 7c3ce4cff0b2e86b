"""Text for people: the one format of a command line's error and hint, and terminal-safe text.

Both command lines (`chatham` and `chatham-server`) print failures through `error_lines`,
so the output contract (`PROG: error: …` then `PROG: hint: …`) is written once. Strings
that reach a terminal may come from a server or another member: `terminal_text` replaces
every control character (C0 but tab and newline, DEL, C1) and every bidirectional
override with U+FFFD, so none of them can move the cursor, recolour, retitle the window
or make text read differently from its bytes. No I/O here: callers write the result.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str, *, one_line: bool = False) -> str:
    """`text` with every control character and bidi override replaced by U+FFFD; with
    `one_line`, tabs and newlines too."""
    return (_UNSAFE_LINE if one_line else _UNSAFE).sub("\ufffd", text)


def error_lines(program: str, message: str, hint: str | None) -> str:
    """`program: error: message` and, if there is a hint, `program: hint: hint`, each on one
    line ending in a newline, with anything unsafe for a terminal replaced."""
    out = f"{program}: error: {terminal_text(message, one_line=True)}\n"
    if hint:
        out += f"{program}: hint: {terminal_text(hint, one_line=True)}\n"
    return out
