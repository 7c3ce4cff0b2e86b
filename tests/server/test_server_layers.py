"""The server's layers: routes only translate, services hold the rules, storage the SQL.

Parsed, not imported: a route module imports neither SQLAlchemy nor storage and never
touches the database; a service module writes no SQL (it may name a connection's type
and catch the database's IntegrityError, which decides races); every module opens with
a docstring saying what it is for, and none grows past 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PRIVATE = Path(__file__).resolve().parents[2] / "server" / "_private"
ROUTES = sorted((PRIVATE / "routes").glob("*.py"))
SERVICES = sorted((PRIVATE / "services").glob("*.py"))
SQL_BUILDERS = {"select", "insert", "update", "delete", "text", "and_", "or_", "func", "case"}


def _imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found += [base, *(f"{base}.{a.name}" for a in node.names)]
    return found


def _id(path: Path) -> str:
    return str(path.relative_to(PRIVATE))


@pytest.mark.parametrize("path", ROUTES, ids=_id)
def test_routes_only_translate(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports = _imports(tree)
    assert not [i for i in imports if i.startswith(("sqlalchemy", "..storage", "..runtime"))]
    touched = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not touched & {"db", "states", "limiter", "hub", "tokens"}


@pytest.mark.parametrize("path", SERVICES, ids=_id)
def test_services_write_no_sql(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports = _imports(tree)
    assert not [i for i in imports if i.startswith("sqlalchemy") and i not in _ALLOWED]
    built = {
        n.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute) and getattr(n.value, "id", None) == "sa"
    }
    assert built <= {"Connection"}


_ALLOWED = {"sqlalchemy", "sqlalchemy.exc", "sqlalchemy.exc.IntegrityError"}


@pytest.mark.parametrize("path", sorted(PRIVATE.rglob("*.py")), ids=_id)
def test_each_module_says_what_it_is_for_and_stays_small(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert doc, "a module says what it is for"
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 500
