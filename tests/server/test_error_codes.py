"""Every error code is one `ErrorCode`, with one status, and docs/server-api.md lists exactly
those codes with those statuses."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from chatham.server._private.errors import FRAMEWORK_CODES, STATUS, ErrorCode

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "server-api.md"
_ROW = re.compile(r"^\| (\d{3}|4xx) \| `([a-z_]+)` \|", re.MULTILINE)


def documented() -> dict[str, str]:
    """code -> status, from the table under "## Errors"."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    rows = _ROW.findall(section)
    codes = [code for _, code in rows]
    assert len(codes) == len(set(codes)), "a code is listed twice"
    return {code: status for status, code in rows}


def test_the_doc_lists_every_code_and_no_other() -> None:
    assert set(documented()) == {c.value for c in ErrorCode}


def test_the_doc_gives_each_code_its_status() -> None:
    for code, status in documented().items():
        expected = STATUS.get(ErrorCode(code))
        assert status == ("4xx" if expected is None else str(expected)), code


def test_every_code_but_the_fallback_has_a_status() -> None:
    assert set(ErrorCode) - set(STATUS) == {ErrorCode.ERROR}
    for status, code in FRAMEWORK_CODES.items():
        assert STATUS[code] == status


def test_error_bodies_are_built_only_from_codes() -> None:
    """`ErrorBody(...)` is called only by `errors.error_body`, whose code is an `ErrorCode`."""
    calls = []
    for path in sorted((ROOT / "server").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ErrorBody":
                calls.append(str(path.relative_to(ROOT)))
    assert calls == ["server/_private/errors.py"]
