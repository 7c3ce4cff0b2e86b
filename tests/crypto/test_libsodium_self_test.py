"""chatham.crypto refuses to load on a libsodium that accepts an Ed25519 key outside the
prime-order subgroup (CVE-2025-69277): PyNaCl may be built against a system libsodium, so the
version floor alone does not settle it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from chatham.crypto import _primitives as prim

from tests.support.edwards25519 import BASE, L, P, add, affine, before_the_fix, decode, times


def test_the_self_test_point_is_the_base_point_plus_the_point_of_order_two() -> None:
    assert BASE is not None
    point = decode(prim.MIXED_ORDER_POINT)
    assert point is not None
    assert affine(point) == affine(add(BASE, (0, P - 1, 1, 0)))
    assert affine(times(L, point)) == (0, P - 1)  # not in the prime-order subgroup
    # The old check lets it through; the installed libsodium refuses it.
    assert before_the_fix(prim.MIXED_ORDER_POINT) == 1
    assert before_the_fix(prim.ed25519_seed_to_keys(bytes(32))[0]) == 1
    assert not prim.sodium.crypto_core_ed25519_is_valid_point(prim.MIXED_ORDER_POINT)


def test_a_key_with_a_small_order_component_is_refused() -> None:
    with pytest.raises(prim.SignatureError):
        prim.check_ed25519_public_key(prim.MIXED_ORDER_POINT)


def test_the_self_test_refuses_a_libsodium_that_accepts_the_point() -> None:
    with pytest.raises(prim.UnsafeLibsodium, match="CVE-2025-69277"):
        prim.self_test(before_the_fix)
    prim.self_test(prim.sodium.crypto_core_ed25519_is_valid_point)


def run_with_old_libsodium(code: str) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter whose PyNaCl answers point checks as before the fix."""
    root = Path(__file__).parents[2]
    prelude = (
        f"import sys; sys.path.insert(0, {str(root)!r})\n"
        "import nacl.bindings\n"
        "from tests.support.edwards25519 import before_the_fix\n"
        "nacl.bindings.crypto_core_ed25519_is_valid_point = before_the_fix\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATHAM_")}
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_chatham_crypto_does_not_load_on_an_unsafe_libsodium() -> None:
    got = run_with_old_libsodium("import chatham.crypto")
    assert got.returncode != 0
    assert "UnsafeLibsodium" in got.stderr
    assert "CVE-2025-69277" in got.stderr


def test_the_command_line_says_why_it_cannot_start() -> None:
    got = run_with_old_libsodium("from chatham.client.cli import main\nsys.exit(main(['whoami']))")
    assert got.returncode == 1
    lines = got.stderr.splitlines()
    assert lines[0].startswith("chatham: error: ")
    assert "small-order" in lines[0]
    assert "CVE-2025-69277" in lines[0]
    assert lines[1].startswith("chatham: hint: install PyNaCl 1.6.2 or later")
    assert "Traceback" not in got.stderr
