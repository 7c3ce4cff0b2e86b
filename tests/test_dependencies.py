"""What gets installed is pinned by hash and stays above every known advisory
(docs/dependencies.md): a lock that lost a hash, a floor lowered below a fix, or a
dependency the lock does not hold fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCKS = {
    "ci": ("", "server", "dev"),
    "server": ("", "server"),
    "client": ("",),
}


def lock(name: str) -> dict[str, tuple[Version, list[str]]]:
    """name → (pinned version, hashes) from a requirements file pip reads."""
    text = (ROOT / "requirements" / f"{name}.txt").read_text()
    out: dict[str, tuple[Version, list[str]]] = {}
    for block in re.split(r"\n(?=\S)", text):
        first = block.split("\\")[0].strip()
        if not first or first.startswith("#"):
            continue
        req = Requirement(first)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{name}: {first} is not pinned"
        out[canonicalize_name(req.name)] = (
            Version(spec.version),
            re.findall(r"--hash=sha256:([0-9a-f]{64})", block),
        )
    return out


def declared(extra: str) -> list[Requirement]:
    if extra == "":
        items = PYPROJECT["project"]["dependencies"]
    else:
        items = PYPROJECT["project"]["optional-dependencies"][extra]
    return [Requirement(r) for r in items]


def advisories() -> list[tuple[str, Version, str]]:
    """The table of docs/dependencies.md: (package, first fixed release, advisory)."""
    doc = (ROOT / "docs" / "dependencies.md").read_text()
    section = doc.split("## Floors above known advisories", 1)[1]
    rows = re.findall(r"^\| ([a-z0-9-]+) \| ([0-9][0-9.]*) \| ([^|]+) \|$", section, re.M)
    assert len(rows) >= 10
    return [(canonicalize_name(p), Version(v), a.split(":")[0]) for p, v, a in rows]


@pytest.mark.parametrize("name", [*LOCKS, "uv"])
def test_every_locked_package_is_pinned_with_the_hash_of_each_file(name: str) -> None:
    pins = lock(name)
    assert pins
    for package, (_, hashes) in pins.items():
        assert hashes, f"{name}.txt pins {package} without a hash"


@pytest.mark.parametrize("name", LOCKS)
def test_each_lock_holds_every_dependency_it_installs_at_an_allowed_version(name: str) -> None:
    pins = lock(name)
    for extra in LOCKS[name]:
        for req in declared(extra):
            key = canonicalize_name(req.name)
            assert key in pins, f"{name}.txt lacks {req.name}: run `make lock`"
            assert pins[key][0] in req.specifier, f"{name}.txt: {key} {pins[key][0]} not {req}"


def test_the_three_locks_agree_on_every_version() -> None:
    ci = lock("ci")
    for name in ("server", "client"):
        for package, (version, _) in lock(name).items():
            assert ci[package][0] == version, f"{package}: {name}.txt differs from ci.txt"


def test_floors_and_pins_stay_above_every_known_advisory() -> None:
    everything = [r for extra in ("", "server", "dev") for r in declared(extra)]
    everything += [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    floors: dict[str, SpecifierSet] = {}
    for req in everything:
        key = canonicalize_name(req.name)
        floors[key] = floors.get(key, SpecifierSet()) & req.specifier
    pins = {name: lock(name) for name in LOCKS}
    for package, fixed, advisory in advisories():
        spec = floors.get(package)
        if spec is not None:
            lowest = [Version(s.version) for s in spec if s.operator in (">=", "==", "~=")]
            assert lowest, f"{package} has no floor: {advisory}"
            assert max(lowest) >= fixed, f"{package} {spec} admits {advisory} (fixed in {fixed})"
        for name, pinned in pins.items():
            if package in pinned:
                assert pinned[package][0] >= fixed, f"{name}.txt pins {package} under {advisory}"


def test_the_locked_build_backend_satisfies_the_build_system() -> None:
    build_in = [
        Requirement(line)
        for line in (ROOT / "requirements" / "build.in").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    system = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    assert sorted(map(str, build_in)) == sorted(map(str, system))
    ci = lock("ci")
    for req in system:
        assert ci[canonicalize_name(req.name)][0] in req.specifier


def test_make_install_and_ci_install_only_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK := requirements/ci.txt" in makefile
    assert "pip install --quiet --require-hashes -r $(LOCK)" in makefile
    assert "pip install --quiet --no-deps --no-build-isolation -e ." in makefile
    installs = [line for line in makefile.splitlines() if "pip install" in line]
    for line in installs:
        assert "--require-hashes" in line or "--no-deps" in line or "--upgrade pip" in line, line
    assert "make test" in (ROOT / ".ci" / "run").read_text()
