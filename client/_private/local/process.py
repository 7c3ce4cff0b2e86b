"""Hardening the client process before it reads a secret: no core dumps, no passphrase left in
the environment.

A client process holds the keystore key, epoch keys and decrypted text in memory. A crash
report (a core file, systemd-coredump, apport) would write all of it to disk, readable by
whoever reads crash reports. `harden_process()`, called first by the `chatham` command (and so
by `chatham web`), sets RLIMIT_CORE to 0 (hard limit too, so children such as the editor
inherit it) and, on Linux, clears the process's dumpable flag (PR_SET_DUMPABLE), which also
stops other processes of the same user from attaching a debugger to it or reading its
/proc/PID/mem and /proc/PID/environ. Then CHATHAM_PASSPHRASE is taken out of the environment
(`take_env_passphrase`): nothing the client starts later inherits it, and on Linux the copy
the kernel shows in /proc/PID/environ is overwritten.

Limits, plainly: Python cannot wipe the strings it holds, so the passphrase stays in this
process's memory until it exits (where no core dump can reach it); the dumpable flag does
not stop root, and RLIMIT_CORE is advisory for a crash handler that reads /proc itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import sys
from collections.abc import Mapping
from typing import Final

ENV_PASSPHRASE: Final = "CHATHAM_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
PR_SET_DUMPABLE: Final = 4


def disable_core_dumps() -> None:
    """RLIMIT_CORE = 0 (soft and hard), and on Linux PR_SET_DUMPABLE = 0."""
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def harden_process() -> None:
    """What every client process does first: no core dumps, passphrase out of the env."""
    disable_core_dumps()
    take_env_passphrase()


_taken_passphrase: str | None = None
"""CHATHAM_PASSPHRASE, once `take_env_passphrase` took it out of the environment."""


def take_env_passphrase() -> None:
    """Move CHATHAM_PASSPHRASE out of `os.environ` into this process's memory.

    Children started later (the editor, a browser) no longer inherit it; on Linux the
    process's initial environment block, which /proc/PID/environ shows and a core dump
    would hold, is overwritten first. `env_passphrase()` still finds it.
    """
    global _taken_passphrase
    value = os.environ.get(ENV_PASSPHRASE)
    if value is None:
        return
    _taken_passphrase = value or None
    _overwrite_initial_environ(ENV_PASSPHRASE)
    os.environ.pop(ENV_PASSPHRASE, None)


def _overwrite_initial_environ(name: str) -> None:
    """Zero the value of `name` where libc's `environ` points (glibc and musl on Linux)."""
    if not sys.platform.startswith("linux"):
        return
    prefix = name.encode() + b"="
    try:
        environ = ctypes.POINTER(ctypes.c_void_p).in_dll(ctypes.CDLL(None), "environ")
    except (OSError, ValueError):
        return
    i = 0
    while (address := environ[i]) is not None:
        entry = ctypes.string_at(address)
        if entry.startswith(prefix):
            # The bytes stay where they are (the string is still `environ`'s until
            # unsetenv drops it); only the value is zeroed, never past its end.
            ctypes.memset(address + len(prefix), 0, len(entry) - len(prefix))
        i += 1


def env_passphrase(env: Mapping[str, str] | None = None) -> str | None:
    """CHATHAM_PASSPHRASE from `env` (default: the environment, or what
    `take_env_passphrase` took from it)."""
    if env is not None:
        return env.get(ENV_PASSPHRASE) or None
    return os.environ.get(ENV_PASSPHRASE) or _taken_passphrase
