"""The mutation harness (scripts/mutation.py, docs/testing.md) makes the mutants it says, puts
them where the tests see them, and its list of equivalent mutants still names real ones."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def mutation() -> Iterator[ModuleType]:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import mutation

        yield mutation
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def test_every_target_has_mutants_and_tests(mutation: ModuleType) -> None:
    for path, target in mutation.TARGETS.items():
        made = mutation.mutants(path)
        assert made, path
        assert len({m.key for m in made}) == len(made), f"{path}: two mutants share a key"
        for test in target.tests:
            assert (ROOT / test).exists(), f"{path}: no test file {test}"


def test_every_listed_equivalent_mutant_still_exists(mutation: ModuleType) -> None:
    """A listed mutant whose code changed is no longer vouched for: list it again or test it."""
    keys = {m.key for path in mutation.TARGETS for m in mutation.mutants(path)}
    stale = [k for k in mutation.load_equivalent() if k not in keys]
    assert not stale, "equivalent mutants no longer made (update scripts/mutation_equivalent.toml)"


def test_a_mutant_is_put_into_the_live_function_every_caller_sees(mutation: ModuleType) -> None:
    from chatham import crypto
    from chatham.crypto import _entry

    [m] = [
        m
        for m in mutation.mutants("crypto/_entry.py")
        if m.function == "check_retraction"
        and m.op == "guard-off"
        and "not in retracting.retracts" in m.before
    ]
    original = _entry.check_retraction.__code__
    header = crypto.EntryHeader(
        2, bytes(32), bytes(16), 1, bytes(32), 1, bytes(32), 0, bytes(32), []
    )
    with pytest.raises(crypto.EntryError):
        crypto.check_retraction(crypto.GroupState(), header, header)
    try:
        mutation.apply_in_process(m)
        # The guard is gone for the public name too: the next check (unknown device) fires.
        with pytest.raises(crypto.EntryError) as err:
            crypto.check_retraction(crypto.GroupState(), header, header)
        assert err.value.check == "author"
    finally:
        _entry.check_retraction.__code__ = original


def test_the_quick_mode_mutates_every_guard_of_the_sync_engine(mutation: ModuleType) -> None:
    quick = [
        m for path in mutation.QUICK for m in mutation.mutants(path) if m.op in mutation.QUICK_OPS
    ]
    guards = [m for m in quick if m.op == "guard-off"]
    assert {m.path for m in guards} == set(mutation.QUICK)
    assert any("promised more" in m.before or "page.more" in m.before for m in guards)
