"""docs/client.md's examples are modules; each runs here against the real server app."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import httpx
import pytest

from tests.support.client_fixtures import SERVER_URL

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("client_*.py"))


def test_every_example_is_in_the_guide() -> None:
    guide = (DOCS / "client.md").read_text()
    assert EXAMPLES
    for example in EXAMPLES:
        assert f"examples/{example.name}" in guide
    for name in re.findall(r"examples/(client_\w+\.py)", guide):
        assert (DOCS / "examples" / name).exists(), name


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_example_runs(
    example: Path, server: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = importlib.util.spec_from_file_location(f"docs_example_{example.stem}", example)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.run(SERVER_URL, server, tmp_path)
    out = capsys.readouterr().out
    assert "Traceback" not in out
