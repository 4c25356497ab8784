"""The checkout builds a wheel that installs a working ``mcpgram`` command (as `uv tool install .` does).

Needs the package registry (the build backend and the dependencies), so it is marked slow.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from uv import find_uv_bin

import mcpgram

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in argv], capture_output=True, text=True, timeout=300, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_built_wheel_installs_a_working_mcpgram_command(tmp_path: Path) -> None:
    """A fresh venv with only the wheel and its dependencies has `mcpgram` answering --version and --help."""
    uv = find_uv_bin()
    run(uv, "build", "--wheel", "--out-dir", tmp_path / "dist", ROOT)
    [wheel] = (tmp_path / "dist").glob("mcpgram-*.whl")
    venv = tmp_path / "venv"
    run(uv, "venv", "--quiet", "--python", sys.executable, venv)
    run(uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel)
    command = venv / "bin" / "mcpgram"
    # An empty environment, as a GUI client starts it: the script finds its own interpreter.
    assert run(command, "--version", env={}) == f"mcpgram {mcpgram.__version__}\n"
    usage = run(command, "--help", env={})
    for name in ("serve", "demo", "login", "token", "config", "sandbox"):
        assert f" {name} " in usage
