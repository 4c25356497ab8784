"""SIGTERM ends mcpgram cleanly: exit 0, sessions flushed, the demo's temporary data dir removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def _wait_for(proc: subprocess.Popen[str], marker: str, timeout: float = 30) -> None:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if marker in line:
            return
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"never saw {marker!r}")


@pytest.mark.parametrize(("args", "marker"), [(["--http"], "MCP at http"), ([], "serving MCP over stdio")])
def test_sigterm_shuts_the_demo_down_cleanly(tmp_path: Path, args: list[str], marker: str) -> None:
    """On SIGTERM the demo exits 0 and leaves no temporary data dir (with its vault) behind."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcpgram", "demo", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _wait_for(proc, marker)
        assert list(tmp_path.glob("mcpgram-demo-*")), "the demo keeps its data in a temp dir while running"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert not list(tmp_path.glob("mcpgram-demo-*"))
