"""What every benchmark shares: the environment record and how results are printed and saved.

Imported by the scripts in this folder (``python bench/<name>.py`` puts the folder on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any


def environment(**versions: str) -> dict[str, Any]:
    """Python, the machine, the given package versions, and the load average during the run."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        **versions,
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "platform": platform.platform(),
        "machine": platform.machine(),
        # Other work on the machine skews every number; the load average says how much there was.
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def emit(result: dict[str, Any], output: Path | None) -> None:
    """The JSON result on stdout, and in ``output`` when given."""
    text = json.dumps(result, indent=2)
    print(text)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n")


def measure_in_tempdir(name: str, measure: Callable[[Path], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Run ``measure(work)`` on a fresh event loop with a temp dir that is removed afterwards.

    Benchmarks never touch the user's data dir or ``.env``: everything they create lives there.
    """
    work = Path(tempfile.mkdtemp(prefix=f"mcpgram-bench-{name}-"))
    try:
        return asyncio.run(measure(work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(
    name: str,
    measure: Callable[[Path], Awaitable[dict[str, Any]]],
    build_result: Callable[[dict[str, Any]], dict[str, Any]],
    report: Callable[[dict[str, Any]], None],
    output: Path | None,
) -> int:
    """Measure in a temp dir, shape the result, print its JSON (also to ``output``), then the table."""
    result = build_result(measure_in_tempdir(name, measure))
    emit(result, output)
    report(result)
    return 0
