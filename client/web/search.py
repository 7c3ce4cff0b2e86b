"""The passage a search matched, to show under each result: found without regard to case or
accents ("resume" finds "Résumé"), cut to a few dozen words around the first match.

Which items match is the library's decision (`JournalView.search`); this only finds where,
in an item's text, to show. The pieces come back as plain strings (before, match, after),
so the template escapes each and marks only the match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..journal import fold_with_map as fold  # the library's folding, which search matches by

CONTEXT: Final = 80
"""Characters shown on each side of the match."""


@dataclass(frozen=True)
class Passage:
    before: str
    match: str
    after: str


def passage(texts: list[str], query: str) -> Passage | None:
    """The first place any word of `query` appears in `texts`, with its surroundings."""
    words = [fold(w)[0] for w in query.split()]
    words = [w for w in words if w]
    if not words:
        return None
    for text in texts:
        folded, where = fold(text)
        hits = [(folded.find(w), w) for w in words]
        hits = [(at, w) for at, w in hits if at >= 0]
        if not hits:
            continue
        at, word = min(hits)
        start, end = where[at], where[at + len(word) - 1] + 1
        lo, hi = max(0, start - CONTEXT), min(len(text), end + CONTEXT)
        before = ("…" if lo > 0 else "") + text[lo:start]
        after = text[end:hi] + ("…" if hi < len(text) else "")
        return Passage(_one_line(before), text[start:end], _one_line(after))
    return None


def _one_line(text: str) -> str:
    """Runs of white space (line breaks included) as one space, keeping one at either end."""
    if not text:
        return text
    inner = " ".join(text.split())
    lead = " " if text[0].isspace() and inner else ""
    trail = " " if text[-1].isspace() else ""
    return lead + inner + trail
