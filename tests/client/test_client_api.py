"""The public surface stays honest: `__all__`, lazy exports, and the error tree as drawn."""

from __future__ import annotations

import inspect
import re

import chatham.client as client
from chatham.client import errors


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert client.__all__ == sorted(client.__all__, key=lambda n: (not n.isupper(), n))
    assert sorted(dir(client)) == sorted(client.__all__)
    for name in client.__all__:
        assert getattr(client, name) is not None, name


def test_nothing_public_hides_outside_all() -> None:
    exported = set(client.__all__)
    assert set(client._EXPORTS) | {"errors", "journal"} == exported


def error_classes() -> list[type[errors.ChathamError]]:
    return [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, errors.ChathamError) and obj.__module__ == errors.__name__
    ]


def test_errors_all_lists_every_error() -> None:
    assert sorted(errors.__all__) == sorted(c.__name__ for c in error_classes())
    assert errors.__all__ == sorted(errors.__all__)


def test_every_error_has_a_message_and_a_hint() -> None:
    for cls in error_classes():
        assert cls.__doc__, cls
        e = cls()
        assert e.message
        assert e.message == e.message.rstrip(".")
        assert e.message[0].islower(), (cls, e.message)
        assert e.hint, cls


def test_the_tree_in_the_docstring_matches_the_classes() -> None:
    doc = errors.__doc__ or ""
    drawn: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        m = re.match(r"^(\s*)(?:[│ ]*)(?:[├└]── )?([A-Z]\w+)\s{2,}", line)
        if not m or not re.search(r"[├└]── |^\s{4}ChathamError", line):
            continue
        name = m.group(2)
        depth = line.find(name)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        drawn[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    classes = {c.__name__: c for c in error_classes()}
    assert set(drawn) == set(classes)
    for name, parent in drawn.items():
        base = classes[name].__bases__[0].__name__
        assert (parent or "Exception") == base, (name, parent, base)
