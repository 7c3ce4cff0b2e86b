"""Layering: chatham.crypto imports neither client nor server; client and server never meet;
the client's front doors (the CLI, the web app) stand on the public library API only.

Every .py file under crypto/, server/ and client/ is parsed (not imported) and
each import is resolved to an absolute module name, relative imports
included, as are `importlib.import_module("...")` and `__import__("...")`
calls with a literal name. The checker is itself tested on sources that break
the rule, so a resolver bug cannot turn this test into one that always passes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"crypto": "chatham.crypto", "server": "chatham.server", "client": "chatham.client"}
FORBIDDEN = {
    "chatham.crypto": ("chatham.client", "chatham.server"),
    "chatham.server": ("chatham.client",),
    "chatham.client": ("chatham.server",),
}


def module_name(path: Path) -> tuple[str, bool]:
    """(dotted module name, is a package __init__) of a file under one of the three folders."""
    rel = path.relative_to(ROOT)
    parts = [PACKAGES[rel.parts[0]], *rel.parts[1:-1]]
    is_pkg = rel.name == "__init__.py"
    if not is_pkg:
        parts.append(rel.stem)
    return ".".join(parts), is_pkg


def imported_modules(source: str, module: str, is_pkg: bool) -> list[tuple[int, str]]:
    """Every module (line, absolute dotted name) a source file imports."""
    package = module.split(".") if is_pkg else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if node.level - 1 >= len(package):
                    found.append((node.lineno, "<relative import beyond the top package>"))
                    continue
                base = package[: len(package) - (node.level - 1)]
            else:
                base = []
            if node.module:
                base = [*base, *node.module.split(".")]
            target = ".".join(base)
            found.append((node.lineno, target))
            # `from chatham import server` / `from .. import client` import submodules.
            found += [(node.lineno, f"{target}.{a.name}") for a in node.names if a.name != "*"]
        elif isinstance(node, ast.Call) and node.args:
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            arg = node.args[0]
            if (
                name in ("import_module", "__import__")
                and isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
            ):
                found.append((node.lineno, arg.value))
    return found


FRONT_DOORS = ("chatham.client.cli", "chatham.client.web")
"""Packages members use directly. They import the public `chatham.client` modules only: never
`chatham.client._private`, and never the protocol (`chatham.crypto`) beneath the library."""
FRONT_DOOR_FORBIDDEN = ("chatham.client._private", "chatham.crypto", "chatham.server")


def _front_door(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FRONT_DOORS)


def _private_crypto(target: str) -> bool:
    # The server and the client use chatham.crypto's public recipes only; the hazmat
    # layer and the record internals stay behind its __init__.
    rest = target.removeprefix("chatham.crypto.")
    return rest != target and rest.startswith("_")


def violations(source: str, module: str, is_pkg: bool) -> list[str]:
    layer = ".".join(module.split(".")[:2])
    bad = FORBIDDEN[layer]
    if _front_door(module):
        bad = bad + FRONT_DOOR_FORBIDDEN
    return [
        f"{module}:{line} imports {target}"
        for line, target in imported_modules(source, module, is_pkg)
        if target.startswith("<")
        or any(target == b or target.startswith(b + ".") for b in bad)
        or (layer != "chatham.crypto" and _private_crypto(target))
    ]


def source_files() -> list[Path]:
    return sorted(p for folder in PACKAGES for p in (ROOT / folder).rglob("*.py"))


def test_the_three_packages_are_found():
    files = source_files()
    by_layer = {
        folder: [p for p in files if p.relative_to(ROOT).parts[0] == folder] for folder in PACKAGES
    }
    assert len(by_layer["crypto"]) >= 10
    assert by_layer["server"]
    assert by_layer["client"]
    # The resolver sees real imports: the server builds on chatham.crypto.
    seen = set()
    for p in by_layer["server"]:
        m, pkg = module_name(p)
        seen |= {t for _, t in imported_modules(p.read_text(encoding="utf-8"), m, pkg)}
    assert any(t == "chatham.crypto" or t.startswith("chatham.crypto.") for t in seen)


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_layering(path):
    module, is_pkg = module_name(path)
    assert violations(path.read_text(encoding="utf-8"), module, is_pkg) == []


@pytest.mark.parametrize(
    ("module", "is_pkg", "source"),
    [
        ("chatham.crypto._log", False, "from chatham.client import core"),
        ("chatham.crypto._log", False, "import chatham.server._private.app"),
        ("chatham.crypto._log", False, "from chatham import server"),
        ("chatham.crypto._log", False, "from ..server import app"),
        ("chatham.crypto._log", False, "from .. import client"),
        ("chatham.crypto", True, "from ..client._private import core"),
        ("chatham.crypto._log", False, "def f():\n    from chatham.server import app"),
        (
            "chatham.crypto._log",
            False,
            "importlib.import_module('chatham.client')",
        ),
        ("chatham.crypto._log", False, "__import__('chatham.server.cli')"),
        ("chatham.crypto._log", False, "from .... import anything"),
        ("chatham.server._private.app", False, "from ...client import api"),
        ("chatham.server._private.app", False, "import chatham.client"),
        ("chatham.client._private.api", False, "from chatham.server._private import wire"),
        ("chatham.client._private.vault", False, "from chatham.crypto import _primitives"),
        ("chatham.server._private.app", False, "from chatham.crypto._records import Add"),
        ("chatham.client._private.api", False, "from ... import server"),
        ("chatham.client.cli.issues", False, "from .._private.journal import fold"),
        ("chatham.client.cli.issues", False, "def f():\n    from .._private import account"),
        ("chatham.client.cli", True, "from .._private.account import Account"),
        ("chatham.client.cli", True, "from .. import _private"),
        ("chatham.client.cli.issues", False, "import chatham.client._private.engine.group"),
        ("chatham.client.cli.issues", False, "from chatham import crypto"),
        ("chatham.client.cli.issues", False, "importlib.import_module('chatham.client._private')"),
        ("chatham.client.web.app", False, "from .._private.journal.service import Journal"),
        ("chatham.client.web", True, "from chatham.crypto import fingerprint"),
    ],
)
def test_the_checker_catches_violations(module, is_pkg, source):
    assert violations(source, module, is_pkg) != []


@pytest.mark.parametrize(
    ("module", "is_pkg", "source"),
    [
        ("chatham.crypto._log", False, "from . import _labels as L\nfrom ._errors import LogError"),
        ("chatham.crypto", True, "from ._log import replay"),
        (
            "chatham.server._private.app",
            False,
            "from chatham.crypto import x\nfrom .. import cli",
        ),
        (
            "chatham.client._private.api",
            False,
            "from chatham.crypto import x\nimport httpx",
        ),
        ("chatham.client._private.api", False, "from .core import serverless"),
        ("chatham.client.cli", False, "import chatham.serverless_thing"),
        ("chatham.client.cli.issues", False, "from .. import Account, errors"),
        ("chatham.client.cli.issues", False, "from ..journal import IssueItem, item_json"),
        ("chatham.client.cli.issues", False, "from .common import journal\nfrom . import show"),
        ("chatham.client.cli", True, "from ..errors import ChathamError"),
        ("chatham.client.web.app", False, "from ... import client\nimport litestar"),
    ],
)
def test_the_checker_allows_the_permitted_imports(module, is_pkg, source):
    assert violations(source, module, is_pkg) == []


def test_the_front_doors_exist_and_use_the_library() -> None:
    """The CLI is found by the rule above, and it does reach the library (publicly)."""
    files = [p for p in source_files() if _front_door(module_name(p)[0])]
    assert len(files) >= 10
    seen = set()
    for p in files:
        m, pkg = module_name(p)
        seen |= {t for _, t in imported_modules(p.read_text(encoding="utf-8"), m, pkg)}
    assert "chatham.client.journal" in seen
    assert "chatham.client" in seen
