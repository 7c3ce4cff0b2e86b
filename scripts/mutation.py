"""Mutation testing of the verification paths: does every guard have a test that fails without it?

For each target module (TARGETS below), this script parses the source with `ast` and makes
guard-clause mutants inside its functions, one at a time:

- ``guard-off``: an ``if`` whose body raises, returns, continues or breaks never fires
  (its condition becomes ``False``);
- ``negate``: that condition is negated;
- ``drop-operand``: one operand of an ``and``/``or`` in such a condition is dropped;
- ``boundary``: ``<`` and ``<=`` (``>`` and ``>=``) trade places in a guard's comparison;
- ``flip``: ``==``/``!=``, ``in``/``not in``, ``is``/``is not`` flip inside a compound guard;
- ``drop-raise``: a ``raise`` that is not a guard's whole body (say, in an ``except``) is
  replaced by ``pass``, so the error is swallowed;
- ``skip-call``: a check call made for its effect (a name with check, verify, require,
  ensure, validate or reject in it) is not made;
- ``drop-kwarg``: a keyword argument of a check call is left out;
- ``return-early``: a check function that returns nothing returns at once;
- ``flip-return``: ``return True`` and ``return False`` trade places.

Each mutant is loaded in place of the original module by an import hook
(`scripts/mutation_site/sitecustomize.py`, also in every process a test starts), never by
editing a file, so mutants can run side by side and the tree is never left changed. The
module's own tests (TARGETS) run against it with ``pytest -x``; a failing test kills it, and
so does running past the time limit (reported apart: a mutant that makes a loop endless).

Mutants known to change nothing a member or the server could see are listed with a reason in
`scripts/mutation_equivalent.toml` and skipped. Survivors are printed with file:line, the
function and the change; the exit status is 1 when a module scores below --min-score.

    python scripts/mutation.py                     # every target (docs/testing.md)
    python scripts/mutation.py --quick             # the sync engine's guard mutants only
    python scripts/mutation.py crypto/_log.py -j 2 # one module, two workers
    python scripts/mutation.py --list crypto/_log.py
    python scripts/mutation.py ... --resume cut.json --json all.json  # finish a run cut short
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import importlib
import inspect
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import tomllib
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "scripts" / "mutation_site"
EQUIVALENT = ROOT / "scripts" / "mutation_equivalent.toml"
ENV_MUTANT = "CHATHAM_MUTANT"
PACKAGES = {"crypto": "chatham.crypto", "client": "chatham.client", "server": "chatham.server"}


@dataclass(frozen=True)
class Target:
    tests: tuple[str, ...]
    """The test files (or node ids) that guard this module, fastest killers first."""
    functions: tuple[str, ...] = ()
    """Qualified names of the functions mutated (all when empty)."""
    skip: tuple[str, ...] = ()
    """Qualified names never mutated (helpers with no check in them)."""
    select: str = ""
    """A pytest -k expression leaving out tests that check nothing of this module (slow ones)."""
    tables: bool = False
    """Also drop each entry of the module's dict literals (a mapping of checks)."""


_NO_KEYSTORE = "not keystore and not generator"
"""The keystore's vectors (slow key derivation) and the vector file's generator check nothing
the log, entry, lockbox and invite checks do."""
_SYNC_TESTS = (
    "tests/adversarial/test_sync_guards.py",
    "tests/adversarial/test_malicious_server.py",
    "tests/adversarial/test_review_findings_13.py",
    "tests/client/test_client_sync.py",
    "tests/client/test_hostile_answers.py",
    "tests/adversarial/test_authority.py",
)

TARGETS: dict[str, Target] = {
    "crypto/_log.py": Target(
        (
            "tests/crypto/test_guard_cases.py",
            "tests/crypto/test_log.py",
            "tests/crypto/test_review_findings.py",
            "tests/crypto/test_membership_crypto.py",
            "tests/crypto/test_vectors.py",
            "tests/crypto/test_entries.py",
            "tests/crypto/test_properties.py",
            "tests/crypto/test_devices.py",
        ),
        select=_NO_KEYSTORE,
    ),
    "crypto/_entry.py": Target(
        (
            "tests/crypto/test_guard_cases.py",
            "tests/crypto/test_entries.py",
            "tests/crypto/test_review_findings.py",
            "tests/crypto/test_vectors.py",
            "tests/crypto/test_log.py",
            "tests/crypto/test_properties.py",
        ),
        select=_NO_KEYSTORE,
    ),
    "crypto/_epoch.py": Target(
        (
            "tests/crypto/test_guard_cases.py",
            "tests/crypto/test_membership_crypto.py",
            "tests/crypto/test_log.py",
            "tests/crypto/test_review_findings.py",
            "tests/crypto/test_vectors.py",
        ),
        select=_NO_KEYSTORE,
        functions=("open_names", "open_lockbox", "open_backlink"),
    ),
    "crypto/_group.py": Target(
        (
            "tests/crypto/test_guard_cases.py",
            "tests/crypto/test_membership_crypto.py",
            "tests/crypto/test_log.py",
            "tests/crypto/test_review_findings.py",
            "tests/crypto/test_vectors.py",
        ),
        select=_NO_KEYSTORE,
        functions=("Keyring.key", "Keyring.accept_lockbox", "Keyring.follow_backlinks"),
    ),
    "crypto/_invite.py": Target(
        (
            "tests/crypto/test_guard_cases.py",
            "tests/crypto/test_membership_crypto.py",
            "tests/crypto/test_review_findings.py",
            "tests/crypto/test_vectors.py",
            "tests/crypto/test_log.py",
        ),
        select=_NO_KEYSTORE,
    ),
    "client/_private/journal/permissions.py": Target(
        (
            "tests/client/test_journal.py",
            "tests/client/test_journal_rounds.py",
            "tests/client/test_overtaken_writes.py",
        )
    ),
    "client/_private/engine/checks.py": Target(
        (
            "tests/client/test_check_errors.py",
            "tests/adversarial/test_malicious_server.py",
            "tests/client/test_client_sync.py",
            "tests/adversarial/test_sync_guards.py",
        ),
        tables=True,
    ),
    "client/_private/engine/sync.py": Target(
        _SYNC_TESTS,
        functions=(
            "_pull_log",
            "_read_log",
            "_pull_keys",
            "_pull_entries",
            "_recheck",
            "check_public",
            "track",
            "check_checkpoint",
            "checkpoint_problems",
        ),
    ),
    "client/_private/engine/intake.py": Target(_SYNC_TESTS, skip=("Intake._announce",)),
    "client/_private/account.py": Target(
        (
            "tests/adversarial/test_sync_guards.py",
            "tests/client/test_membership.py",
            "tests/adversarial/test_review_findings_13.py",
        ),
        functions=("Account._join", "Account._invitee_log"),
    ),
    "client/_private/engine/verify.py": Target(
        (
            "tests/adversarial/test_sync_guards.py",
            "tests/client/test_client_store.py",
            "tests/adversarial/test_malicious_server.py",
            "tests/adversarial/test_review_findings_13.py",
        )
    ),
}
QUICK = ("client/_private/engine/sync.py", "client/_private/engine/intake.py")
"""The modules `--quick` mutates (guard-off and drop-raise only): the sync engine."""
QUICK_OPS = ("guard-off", "drop-raise", "skip-call")
QUICK_TESTS = (
    "tests/adversarial/test_sync_guards.py",
    "tests/adversarial/test_malicious_server.py",
    "tests/adversarial/test_review_findings_13.py",
    "tests/client/test_client_sync.py",
)
"""The tests `--quick` runs each mutant against (every one of its mutants dies on them)."""

CHECK_NAME = re.compile(r"check|verify|require|ensure|validate|reject|accept_lockbox|replay")
ESCAPES = (ast.Raise, ast.Return, ast.Continue, ast.Break)
BOUNDARY: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
}
FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass(frozen=True)
class Mutant:
    path: str
    index: int
    line: int
    function: str
    op: str
    before: str
    after: str
    occurrence: int = 1
    """1 for the first mutant of this function with this very change, 2 for the next, ..."""

    @property
    def key(self) -> str:
        """Stable across edits elsewhere in the file: where, what kind, and the code changed."""
        again = f" #{self.occurrence}" if self.occurrence > 1 else ""
        return f"{self.path}:{self.function}:{self.op}:{self.before} -> {self.after}{again}"

    def describe(self) -> str:
        where = f"{self.path}:{self.line}: [{self.op}] in {self.function}"
        return f"{where}: {self.before} -> {self.after}"


# --- making mutants ---------------------------------------------------------------------------


def _short(node: ast.AST, limit: int = 90) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _callee(call: ast.Call) -> str:
    f = call.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return ""


def _is_check_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and bool(CHECK_NAME.search(_callee(node)))


def _is_guard(node: ast.If) -> bool:
    """An `if` whose body leaves (raises, returns, continues, breaks) at its end."""
    return isinstance(node.body[-1], ESCAPES)


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    def walk(body: list[ast.stmt], prefix: str) -> Iterator[tuple[str, ast.FunctionDef]]:
        for node in body:
            if isinstance(node, ast.ClassDef):
                yield from walk(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{prefix}{node.name}", node  # type: ignore[misc]

    yield from walk(tree.body, "")


def _returns_value(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(n, ast.Return | ast.Yield | ast.YieldFrom) and getattr(n, "value", None)
        for n in ast.walk(fn)
    )


@dataclass
class _Site:
    """One place to mutate: the node (found again by its position) and how."""

    node: ast.AST
    op: str
    function: str
    after: str
    apply: str  # the name of the transformation (see _transform)
    arg: int = 0


def _sites(tree: ast.Module, target: Target) -> list[_Site]:
    sites: list[_Site] = []
    for qualname, fn in _functions(tree):
        if target.functions and qualname not in target.functions:
            continue
        if qualname in target.skip:
            continue
        if (
            CHECK_NAME.search(fn.name)
            and not _returns_value(fn)
            and not isinstance(fn.body[0], ast.Pass)
        ):
            sites.append(_Site(fn, "return-early", qualname, "return at once", "return-early"))
        guarded_raises: set[int] = set()
        for node in ast.walk(fn):
            if isinstance(node, ast.If) and not _is_guard(node):
                # A branch that records a problem or picks a meaning (say, the error class).
                sites.append(_Site(node, "branch-off", qualname, "if False:", "guard-off"))
                sites += _operand_sites(node, qualname)
                for i, cmp in enumerate(_compares(node.test)):
                    if type(cmp.ops[0]) in BOUNDARY:
                        sites.append(_compare_site(node, qualname, cmp, i))
            if isinstance(node, ast.If) and _is_guard(node):
                if len(node.body) == 1 and isinstance(node.body[0], ast.Raise):
                    guarded_raises.add(id(node.body[0]))
                sites.append(_Site(node, "guard-off", qualname, "if False:", "guard-off"))
                sites.append(_Site(node, "negate", qualname, "if not (...):", "negate"))
                test = node.test
                sites += _operand_sites(node, qualname)
                for i, cmp in enumerate(_compares(test)):
                    op = type(cmp.ops[0])
                    if op in BOUNDARY or (op in FLIP and cmp is not test):
                        sites.append(_compare_site(node, qualname, cmp, i))
        for node in ast.walk(fn):
            if isinstance(node, ast.Raise) and id(node) not in guarded_raises:
                sites.append(_Site(node, "drop-raise", qualname, "pass", "drop-raise"))
            elif isinstance(node, ast.Expr) and _is_check_call(node.value):
                sites.append(_Site(node, "skip-call", qualname, "pass", "skip-call"))
            elif (
                isinstance(node, ast.Return)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, bool)
            ):
                sites.append(
                    _Site(node, "flip-return", qualname, f"return {not node.value.value}", "flip")
                )
            if _is_check_call(node):
                assert isinstance(node, ast.Call)
                for i, kw in enumerate(node.keywords):
                    if kw.arg is not None:
                        sites.append(
                            _Site(
                                node, "drop-kwarg", qualname, f"without {kw.arg}=", "drop-kwarg", i
                            )
                        )
    if target.tables:
        for node in tree.body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if isinstance(value, ast.Dict):
                name = _short(node.targets[0] if isinstance(node, ast.Assign) else node.target)
                for i, k in enumerate(value.keys):
                    if k is not None:
                        sites.append(
                            _Site(node, "drop-entry", name, f"without {_short(k)}", "drop-entry", i)
                        )
    sites.sort(key=lambda s: (getattr(s.node, "lineno", 0), getattr(s.node, "col_offset", 0)))
    return sites


def _operand_sites(node: ast.If, qualname: str) -> list[_Site]:
    if not isinstance(node.test, ast.BoolOp):
        return []
    return [
        _Site(node, "drop-operand", qualname, f"without `{_short(v, 50)}`", "drop-operand", i)
        for i, v in enumerate(node.test.values)
    ]


def _compares(test: ast.expr) -> list[ast.Compare]:
    return [n for n in ast.walk(test) if isinstance(n, ast.Compare)]


def _compare_site(node: ast.If, qualname: str, cmp: ast.Compare, i: int) -> _Site:
    op = type(cmp.ops[0])
    new = BOUNDARY.get(op) or FLIP[op]
    return _Site(
        node,
        "boundary" if op in BOUNDARY else "flip",
        qualname,
        f"{op.__name__} -> {new.__name__} in `{_short(cmp, 50)}`",
        "compare",
        i,
    )


def _before(site: _Site) -> str:
    node = site.node
    if isinstance(node, ast.If):
        return f"if {_short(node.test)}:"
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return f"def {node.name}(...)"
    if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict):
        return f"{site.function} = {{...}}"
    return _short(node)


class _Apply(ast.NodeTransformer):
    def __init__(self, pos: tuple[int, int, str], site: _Site) -> None:
        self.pos, self.site, self.done = pos, site, False

    def _match(self, node: ast.AST) -> bool:
        return (
            not self.done
            and (getattr(node, "lineno", -1), getattr(node, "col_offset", -1), type(node).__name__)
            == self.pos
        )

    def visit(self, node: ast.AST) -> ast.AST | list[ast.stmt] | None:
        if not self._match(node):
            return self.generic_visit(node)
        self.done = True
        how, arg = self.site.apply, self.site.arg
        if how == "guard-off":
            assert isinstance(node, ast.If)
            node.test = ast.Constant(False)
        elif how == "negate":
            assert isinstance(node, ast.If)
            node.test = ast.UnaryOp(ast.Not(), node.test)
        elif how == "drop-operand":
            assert isinstance(node, ast.If)
            assert isinstance(node.test, ast.BoolOp)
            rest = [v for i, v in enumerate(node.test.values) if i != arg]
            node.test = rest[0] if len(rest) == 1 else ast.BoolOp(node.test.op, rest)
        elif how == "compare":
            assert isinstance(node, ast.If)
            cmp = _compares(node.test)[arg]
            op = type(cmp.ops[0])
            cmp.ops[0] = (BOUNDARY.get(op) or FLIP[op])()
        elif how in ("drop-raise", "skip-call"):
            return ast.Pass()
        elif how == "flip":
            assert isinstance(node, ast.Return)
            assert isinstance(node.value, ast.Constant)
            node.value = ast.Constant(not node.value.value)
        elif how == "drop-kwarg":
            assert isinstance(node, ast.Call)
            del node.keywords[arg]
        elif how == "drop-entry":
            assert isinstance(node, ast.Assign | ast.AnnAssign)
            assert isinstance(node.value, ast.Dict)
            del node.value.keys[arg], node.value.values[arg]
        elif how == "return-early":
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            first = 1 if ast.get_docstring(node) is not None else 0
            node.body.insert(first, ast.Return(None))
        return node


def _pos(node: ast.AST) -> tuple[int, int, str]:
    return (getattr(node, "lineno", -1), getattr(node, "col_offset", -1), type(node).__name__)


def mutants(path: str) -> list[Mutant]:
    source = (ROOT / path).read_text()
    tree = ast.parse(source)
    out: list[Mutant] = []
    seen: dict[str, int] = {}
    for i, s in enumerate(_sites(tree, TARGETS[path])):
        m = Mutant(path, i, getattr(s.node, "lineno", 0), s.function, s.op, _before(s), s.after)
        seen[m.key] = seen.get(m.key, 0) + 1
        out.append(dataclasses.replace(m, occurrence=seen[m.key]))
    return out


def mutated_code(path: str, index: int) -> object:
    """The code object of mutant `index` of `path` (what the import hook runs)."""
    source = (ROOT / path).read_text()
    tree = ast.parse(source)
    site = _sites(tree, TARGETS[path])[index]
    fresh = ast.parse(source)
    applier = _Apply(_pos(site.node), site)
    fresh = applier.visit(fresh)
    if not applier.done:
        raise RuntimeError(f"mutant {path}#{index} not found again")
    ast.fix_missing_locations(fresh)
    return compile(fresh, str(ROOT / path), "exec")


def module_name(path: str) -> str:
    top, _, rest = path.removesuffix(".py").partition("/")
    return f"{PACKAGES[top]}.{rest.replace('/', '.')}"


# --- running them -----------------------------------------------------------------------------


@dataclass
class Result:
    mutant: Mutant
    outcome: str  # killed, survived, timeout, error
    seconds: float
    detail: str = ""


@dataclass
class Score:
    killed: int = 0
    timeout: int = 0
    survived: list[Result] = field(default_factory=list)
    equivalent: int = 0
    known: int = 0
    """Known survivors left out of this run (--quick)."""

    @property
    def total(self) -> int:
        return self.killed + self.timeout + len(self.survived)

    @property
    def percent(self) -> float:
        return 100.0 if not self.total else 100.0 * (self.killed + self.timeout) / self.total


def load_equivalent() -> dict[str, str]:
    if not EQUIVALENT.exists():
        return {}
    data = tomllib.loads(EQUIVALENT.read_text())
    return {e["mutant"]: e["reason"] for e in data.get("equivalent", [])}


def load_known() -> dict[str, str]:
    """Survivors not yet killed, each with what its test must show: `--quick` does not run
    them (a survivor not listed fails it), a full run does and counts them."""
    if not EQUIVALENT.exists():
        return {}
    data = tomllib.loads(EQUIVALENT.read_text())
    return {e["mutant"]: e["todo"] for e in data.get("known", [])}


def _pytest_args(tests: tuple[str, ...]) -> list[str]:
    return ["-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", *tests]


def _tests(path: str) -> tuple[str, ...]:
    target = TARGETS[path]
    files = tuple(t for t in target.tests if (ROOT / t.split("::")[0]).exists())
    return (*files, "-k", target.select) if target.select else files


def _live_function(module: object, qualname: str) -> object:
    obj = module
    for part in qualname.split("."):
        obj = vars(obj)[part]
        if isinstance(obj, staticmethod | classmethod):
            obj = obj.__func__
        elif isinstance(obj, property):
            obj = obj.fget
    return inspect.unwrap(obj)  # type: ignore[arg-type]


def _code_of(code: types.CodeType, qualname: str) -> types.CodeType | None:
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_qualname == qualname:
                return const
            found = _code_of(const, qualname)
            if found is not None:
                return found
    return None


def apply_in_process(m: Mutant) -> None:
    """Put mutant `m` into the modules already imported here: the mutated function's code
    replaces the live function's (every reference to it sees the mutant), or, for a table,
    the entry leaves the live dict."""
    module = importlib.import_module(module_name(m.path))
    tree = ast.parse((ROOT / m.path).read_text())
    site = _sites(tree, TARGETS[m.path])[m.index]
    if site.apply == "drop-entry":
        assert isinstance(site.node, ast.Assign | ast.AnnAssign)
        assert isinstance(site.node.value, ast.Dict)
        key = site.node.value.keys[site.arg]
        assert key is not None
        del getattr(module, m.function)[ast.literal_eval(key)]
        return
    code = mutated_code(m.path, m.index)
    assert isinstance(code, types.CodeType)
    new = _code_of(code, m.function)
    live = _live_function(module, m.function)
    if new is None or not isinstance(live, types.FunctionType):
        raise RuntimeError(f"{m.describe()}: no function {m.function} to patch")
    live.__code__ = new


def _fork(m: Mutant | None, tests: tuple[str, ...], out: Path) -> int:
    """Run the tests in a child of this process (everything already imported), with `m`
    put in; the child's own children (a server a test starts) load it by the import hook."""
    pid = os.fork()
    if pid:
        return pid
    code = 3
    try:
        os.setpgrp()
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        if m is not None:
            os.environ[ENV_MUTANT] = f"{m.path}#{m.index}#{m.line}"
            apply_in_process(m)
        import pytest

        code = int(pytest.main(_pytest_args(tests)))
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _outcome(status: int, out: Path) -> tuple[str, str]:
    code = os.waitstatus_to_exitcode(status)
    text = out.read_text(errors="replace") if out.exists() else ""
    lines = text.strip().splitlines()
    if code == 0:
        return "survived", lines[-1] if lines else ""
    if code == 1:
        return "killed", next((ln for ln in lines if ln.startswith("FAILED")), lines[-1])
    return "error", text[-1500:]


def run_all(
    todo: list[tuple[Mutant | None, tuple[str, ...]]],
    *,
    jobs: int,
    timeout: dict[str, float],
    report: Callable[[Result | None, float, str], None],
) -> None:
    """Run every (mutant, tests) pair, at most `jobs` at once, each within its module's
    time limit; `report(result, seconds, detail)` as each ends (result None: the baseline)."""
    scratch = Path(tempfile.mkdtemp(prefix="chatham-mutation-"))
    running: dict[int, tuple[Mutant | None, float, Path]] = {}
    queue = list(todo)
    n = 0
    try:
        while queue or running:
            while queue and len(running) < jobs:
                m, tests = queue.pop(0)
                n += 1
                out = scratch / f"{n}.out"
                running[_fork(m, tests, out)] = (m, time.monotonic(), out)
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                now = time.monotonic()
                for cpid, (m, began, _) in list(running.items()):
                    limit = timeout.get(m.path if m else "", 1800.0)
                    if now - began > limit:
                        os.killpg(cpid, signal.SIGKILL)
                        os.waitpid(cpid, 0)
                        del running[cpid]
                        if m is not None:
                            report(Result(m, "timeout", now - began), now - began, "")
                time.sleep(0.05)
                continue
            if pid not in running:
                continue
            m, began, out = running.pop(pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # what the tests started and left
            took = time.monotonic() - began
            outcome, detail = _outcome(status, out)
            report(Result(m, outcome, took, detail) if m is not None else None, took, detail)
            if (outcome == "error" or m is None) and outcome != "survived":
                raise SystemExit(f"{m.describe() if m else 'baseline'}: {detail}")
    finally:
        for cpid in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(cpid, signal.SIGKILL)
        shutil.rmtree(scratch, ignore_errors=True)


def _prepare(tests: list[str]) -> None:
    """Import everything the tests need once, here, so each mutant's child starts at once."""
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(SITE), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    os.environ.pop(ENV_MUTANT, None)
    os.chdir(ROOT)
    import pytest

    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *tests])
    if code != 0:
        raise SystemExit(f"the tests do not collect (pytest exit {code})")


def run(
    modules: list[str],
    *,
    jobs: int,
    ops: tuple[str, ...] | None,
    limit: float | None,
    match: str | None = None,
    tests: tuple[str, ...] | None = None,
    only: set[str] | None = None,
    done: set[str] | None = None,
    skip_known: bool = False,
    progress: Callable[[list[Result]], None] | None = None,
) -> tuple[dict[str, Score], list[Result]]:
    equivalent = load_equivalent()
    known = load_known()
    tests_of = {path: tests or _tests(path) for path in modules}
    _prepare(sorted({t for ts in tests_of.values() for t in ts if t.startswith("tests/")}))
    scores = {path: Score() for path in modules}
    baseline: dict[str, float] = {}
    for path in modules:
        same = next((p for p in baseline if tests_of[p] == tests_of[path]), None)
        if same is not None:  # the same tests: run them unmutated once
            baseline[path] = baseline[same]
            continue

        def took(r: Result | None, seconds: float, detail: str, path: str = path) -> None:
            baseline[path] = seconds

        run_all([(None, tests_of[path])], jobs=1, timeout={}, report=took)
    timeout = {
        p: limit if limit is not None else max(30.0, 3 * b + 15) for p, b in baseline.items()
    }
    todo: list[tuple[Mutant | None, tuple[str, ...]]] = []
    for path in modules:
        count = 0
        for m in mutants(path):
            if ops is not None and m.op not in ops:
                continue
            if match is not None and match not in m.describe():
                continue
            if only is not None and m.key not in only:
                continue
            if done is not None and m.key in done:
                continue
            if m.key in equivalent:
                scores[path].equivalent += 1
                continue
            if skip_known and m.key in known:
                scores[path].known += 1
                continue
            todo.append((m, tests_of[path]))
            count += 1
        print(
            f"{path}: {count} mutants ({scores[path].equivalent} equivalent skipped), "
            f"tests {baseline[path]:.0f}s unmutated, limit {timeout[path]:.0f}s",
            flush=True,
        )
    # The kinds that stand for a missing guard first: a run cut short has measured them.
    first = ("guard-off", "drop-raise", "skip-call", "branch-off", "return-early")
    todo.sort(key=lambda mt: mt[0] is not None and mt[0].op not in first)
    results: list[Result] = []

    def report(r: Result | None, seconds: float, detail: str) -> None:
        assert r is not None
        results.append(r)
        score = scores[r.mutant.path]
        if r.outcome == "killed":
            score.killed += 1
        elif r.outcome == "timeout":
            score.timeout += 1
        else:
            score.survived.append(r)
        if r.outcome in ("survived", "timeout"):
            print(f"  {r.outcome.upper()}: {r.mutant.describe()}", flush=True)
        if progress is not None:
            progress(results)

    run_all(todo, jobs=jobs, timeout=timeout, report=report)
    return scores, results


def _survivors(path: Path) -> set[str]:
    return {r["key"] for r in json.loads(path.read_text()) if r["outcome"] != "killed"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="paths under the repository (default: all)")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="mutants run side by side")
    parser.add_argument("--quick", action="store_true", help="the sync engine's guards only")
    parser.add_argument("--ops", help="comma-separated mutation kinds to make (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--tests", help="comma-separated test files instead of the module's")
    parser.add_argument(
        "--rerun", type=Path, help="only the survivors recorded in this --json file"
    )
    parser.add_argument(
        "--resume",
        type=Path,
        help="skip the mutants this --json file (of a run cut short) measured; write it again "
        "with theirs and the new results",
    )
    parser.add_argument("-k", "--match", help="only mutants whose description has this text")
    parser.add_argument(
        "--min-score", type=float, help="the lowest score a module may have (95; --quick: 100)"
    )
    parser.add_argument("--timeout", type=float, help="seconds per mutant (default: 3x tests)")
    parser.add_argument("--json", type=Path, help="write every result here")
    args = parser.parse_args(argv)
    modules = args.modules or list(QUICK if args.quick else TARGETS)
    for m in modules:
        if m not in TARGETS:
            parser.error(f"{m} is not a target (one of: {', '.join(TARGETS)})")
    ops = tuple(args.ops.split(",")) if args.ops else (QUICK_OPS if args.quick else None)
    if args.list:
        equivalent = load_equivalent()
        for path in modules:
            for m in mutants(path):
                if (ops is None or m.op in ops) and (not args.match or args.match in m.describe()):
                    mark = "  (equivalent)" if m.key in equivalent else ""
                    print(m.describe() + mark)
        return 0
    # A run cut short by a time bound (`timeout`) still ends its children and keeps the
    # results measured so far in --json, which is rewritten after each mutant.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    measured = json.loads(args.resume.read_text()) if args.resume else []

    def write_json(results: list[Result]) -> None:
        if args.json:
            rows = [*measured, *(_as_json(r) for r in results)]
            args.json.write_text(json.dumps(rows, indent=1))

    start = time.monotonic()
    scores, everything = run(
        modules,
        jobs=args.jobs,
        ops=ops,
        limit=args.timeout,
        match=args.match,
        tests=tuple(args.tests.split(",")) if args.tests else (QUICK_TESTS if args.quick else None),
        only=_survivors(args.rerun) if args.rerun else None,
        done={r["key"] for r in measured} or None,
        skip_known=args.quick,
        progress=write_json,
    )
    min_score = args.min_score if args.min_score is not None else (100.0 if args.quick else 95.0)
    took = time.monotonic() - start
    print(f"\nmutation score (killed / behaviour-changing mutants), {took / 60:.1f} min:")
    failed = False
    for path, s in scores.items():
        low = s.percent < min_score
        failed |= low
        print(
            f"  {path}: {s.killed + s.timeout}/{s.total} = {s.percent:.1f}%"
            f" ({s.timeout} by timeout, {s.equivalent} equivalent,"
            f" {s.known} known survivors left out){'  BELOW GOAL' if low else ''}"
        )
    survivors = [r for s in scores.values() for r in s.survived]
    if survivors:
        print("\nsurvivors (a guard no test needs):")
        for r in survivors:
            print(f"  {r.mutant.describe()}")
            print(f"    key: {r.mutant.key}")
    write_json(everything)
    return 1 if failed else 0


def _as_json(r: Result) -> dict[str, object]:
    return {
        "mutant": r.mutant.describe(),
        "key": r.mutant.key,
        "outcome": r.outcome,
        "seconds": round(r.seconds, 1),
        "detail": r.detail,
    }


if __name__ == "__main__":
    sys.exit(main())
