"""The import hook of scripts/mutation.py: with CHATHAM_MUTANT set ("path#index#line"), the
one module it names is loaded from the mutated code instead of its file. Every Python process
started with this folder on PYTHONPATH (the test run and any process a test starts) gets it.
"""

from __future__ import annotations

import os

_SPEC = os.environ.get("CHATHAM_MUTANT")

if _SPEC:
    import importlib.abc
    import importlib.util
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import mutation

    sys.path.pop(0)
    _path, _index, _ = _SPEC.split("#")
    _name = mutation.module_name(_path)
    _code = mutation.mutated_code(_path, int(_index))

    class _Loader(importlib.abc.Loader):
        def create_module(self, spec):  # type: ignore[no-untyped-def]
            return None

        def exec_module(self, module):  # type: ignore[no-untyped-def]
            exec(_code, module.__dict__)  # the mutant under test

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
            if fullname != _name:
                return None
            return importlib.util.spec_from_file_location(
                fullname, str(mutation.ROOT / _path), loader=_Loader()
            )

    sys.meta_path.insert(0, _Finder())
