"""The ``mcpgram`` command line's root: help, version, stubs, sandbox pass-through and error exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mcpgram

from .cli.conftest import clean_env, run_cli

__all__ = ["clean_env"]  # the autouse fixture: no MCPGRAM_* variables or .env from outside

COMMANDS = ("serve", "demo", "login", "token", "config", "sandbox")


def run_subprocess(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mcpgram ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "mcpgram", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_help_lists_every_command_and_imports_none_of_them() -> None:
    """``mcpgram --help`` lists the commands without importing settings, Telethon, FastMCP or pydantic."""
    heavy = ("telethon", "fastmcp", "pydantic", "pydantic_settings", "segno", "mcpgram.settings")
    ours = ("mcpgram.cli.serve", "mcpgram.cli.login", "mcpgram.cli.tokens", "mcpgram.cli.clientconfig")
    probe = (
        "import sys; from mcpgram.cli import main; code = main(['--help']); "
        f"print('HEAVY', sorted(m for m in sys.modules if m in {heavy + ours!r}), code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert command in result.stdout
    assert result.stdout.rstrip().endswith("HEAVY [] 0")


def test_version_prints_the_package_version() -> None:
    """``mcpgram --version`` prints the package version."""
    result = run_subprocess("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"mcpgram {mcpgram.__version__}"


def test_no_command_prints_help_to_stderr_and_fails() -> None:
    """``mcpgram`` without a command prints the help to stderr and exits 2."""
    result = run_cli()
    assert result.code == 2 and result.out == ""
    assert all(command in result.err for command in COMMANDS)


def test_unknown_command_is_a_usage_error() -> None:
    """An unknown command exits 2 and says so."""
    result = run_cli("frobnicate")
    assert result.code == 2 and "frobnicate" in result.err


def test_serve_refuses_no_auth_on_a_public_bind() -> None:
    """``serve --transport http --no-auth`` on a non-loopback host is a one-line config error, exit 2."""
    result = run_cli("serve", "--transport", "http", "--host", "0.0.0.0", "--no-auth")  # noqa: S104
    assert result.code == 2
    assert result.err.startswith("mcpgram: ") and "no_auth" in result.err
    assert "Traceback" not in result.err


def test_sandbox_arguments_pass_through(capsys: pytest.CaptureFixture[str]) -> None:
    """``mcpgram sandbox --help`` reaches the sandbox's own parser, help included."""
    with pytest.raises(SystemExit) as exited:
        mcpgram.cli.main(["sandbox", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mcpgram sandbox") and "--allow-remote" in out


def test_config_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    """A bad setting exits 2 with one `mcpgram: ...` line naming it, and never a traceback."""
    result = run_subprocess("token", "list", "--data-dir", str(tmp_path), env={"MCPGRAM_PORT": "eighty"})
    assert result.returncode == 2
    assert result.stderr.startswith("mcpgram: invalid setting port (MCPGRAM_PORT)")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "setting", "secret"),
    [
        (
            {"MCPGRAM_API_ID": "1", "MCPGRAM_API_HASH": "not-hex-secret-value"},
            "api_hash",
            "not-hex-secret-value",
        ),
        ({"MCPGRAM_SERVER_SECRET": "short-secret"}, "server_secret", "short-secret"),
        ({"MCPGRAM_PROXY": "socks5://user:hunter2@"}, "proxy", "hunter2"),
        ({"MCPGRAM_DC": "2@evil host:443"}, "dc", "evil host"),
        ({"MCPGRAM_NO_AUTH": "1", "MCPGRAM_HOST": "0.0.0.0"}, "no_auth", None),  # noqa: S104 - the refused bind
    ],
)
def test_bad_settings_exit_2_without_echoing_values(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], setting: str, secret: str | None
) -> None:
    """Each invalid setting gives exit 2 and one line that names it and does not repeat the value."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run_cli("token", "list", "--data-dir", str(tmp_path))
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"mcpgram: invalid setting {setting}") and result.err.count("\n") == 1
    if secret is not None:
        assert secret not in result.err
