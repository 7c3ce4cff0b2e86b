"""The machine a benchmark ran on, for the head of its report (run from this folder)."""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe_machine() -> str:
    """CPU model, CPU count, architecture and Python version, on one line."""
    return (
        f"{cpu_model()}, {os.cpu_count()} CPUs, {platform.machine()}; "
        f"Python {platform.python_version()}"
    )
