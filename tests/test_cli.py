"""The ``mcpgram`` command line, run as ``python -m mcpgram`` in a subprocess."""

from __future__ import annotations

import subprocess
import sys

import mcpgram


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mcpgram ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "mcpgram", *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_help_exits_zero_and_lists_subcommands() -> None:
    """``mcpgram --help`` exits 0 and lists the demo subcommand."""
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout
    assert "commands:" in result.stdout


def test_version_prints_the_package_version() -> None:
    """``mcpgram --version`` prints the package version."""
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"mcpgram {mcpgram.__version__}"


def test_demo_is_not_yet_available() -> None:
    """``mcpgram demo`` exits 2 with the not-yet message until the gateway core lands."""
    result = run_cli("demo")
    assert result.returncode == 2
    assert "mcpgram demo: not yet" in result.stderr
    assert "mcpgram sandbox --demo" in result.stderr


def test_no_command_prints_help_and_fails() -> None:
    """``mcpgram`` without a command prints the help to stderr and exits 2."""
    result = run_cli()
    assert result.returncode == 2
    assert "demo" in result.stderr
