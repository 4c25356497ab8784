"""The suite's process guard (tests/conftest.py): a test that times out with a child running, or
forgets one, fails the run, and the child is killed, not left running after the suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

INNER = textwrap.dedent(
    """
    import subprocess, sys, time

    def test_times_out_with_a_child_running(tmp_path):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        (tmp_path.parent.parent / "pids").open("a").write(f"{child.pid}\\n")
        time.sleep(30)  # the timeout (2 s) ends the test here

    def test_forgets_a_child(tmp_path):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        (tmp_path.parent.parent / "pids").open("a").write(f"{child.pid}\\n")
    """
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="the guard reads /proc (Linux)")
def test_left_processes_are_killed_and_fail_the_run(tmp_path: Path) -> None:
    shutil.copy(Path(__file__).parent / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_inner.py").write_text(INNER)
    base = tmp_path / "base"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=2",
         f"--basetemp={base}", "-c", os.devnull, "--rootdir", str(tmp_path), str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    pids = [int(line) for line in (tmp_path / "pids").read_text().split()]
    assert len(pids) == 2, run.stdout + run.stderr
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids), "a child outlived the suite"
    assert run.returncode != 0
    assert "LEAK: test_inner.py left processes running" in run.stdout, run.stdout
    assert "1 failed, 1 passed" in run.stdout  # the timeout fails its test; the leak fails the run
