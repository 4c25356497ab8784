"""Bootstrap and run mcpgram for development; standard library only, any Python 3.11+ with pip.

    python3 dev.py demo [args...]   run mcpgram against the embedded sandbox
    python3 dev.py test [args...]   run the test suite (pytest; its config is in pyproject.toml)
    python3 dev.py check            ruff check, ruff format --check, mypy (what CI runs)

Each command first makes sure ``.venv`` exists and matches ``requirements.lock``: the sha256 of
the two lock files and pyproject.toml is kept in ``.venv/.mcpgram-lock-hash`` and the locked
dependencies (plus mcpgram itself, editable) are reinstalled only when it changes. The venv's pip
is first brought to the release pinned in ``requirements-bootstrap.lock``: the pips that stock
interpreters bundle (23.0, 23.2) cannot install the hashed lock.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
EXE = ".exe" if os.name == "nt" else ""
VENV_PYTHON = BIN / f"python{EXE}"
LOCK = ROOT / "requirements.lock"
BOOTSTRAP_LOCK = ROOT / "requirements-bootstrap.lock"
PYPROJECT = ROOT / "pyproject.toml"
HASH_FILE = VENV / ".mcpgram-lock-hash"
PIP_QUIET = ["--disable-pip-version-check", "-q"]

USAGE = """\
usage: python3 dev.py COMMAND [args...]

commands:
  demo [args...]   run `mcpgram demo` against the embedded sandbox (no Telegram account needed)
  test [args...]   run pytest with the given arguments
  check            ruff check + ruff format --check + mypy src/mcpgram
"""


def say(message: str) -> None:
    """Print one progress line to stderr."""
    print(f"dev.py: {message}", file=sys.stderr, flush=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error line to stderr and exit with ``code``."""
    say(f"error: {message}")
    raise SystemExit(code)


def lock_hash() -> str:
    """Return the sha256 of requirements.lock and pyproject.toml, the inputs of the environment."""
    digest = hashlib.sha256()
    for path in (BOOTSTRAP_LOCK, LOCK, PYPROJECT):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def run_quietly(argv: Sequence[str], what: str) -> None:
    """Run a set-up command, showing its output only if it fails."""
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        fail(f"{what} failed (exit {result.returncode}): {' '.join(argv)}", result.returncode)


def ensure_venv() -> None:
    """Create .venv if needed and bring it in sync with requirements.lock."""
    if not LOCK.is_file():
        fail(f"{LOCK.name} is missing; see README.md (Development) for how to generate it")
    if not VENV_PYTHON.exists():
        version = ".".join(map(str, sys.version_info[:3]))
        say(f"creating .venv with {sys.executable} (Python {version})")
        result = subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=False)
        if result.returncode != 0:
            fail("could not create .venv; on Debian/Ubuntu: apt-get install python3-venv")
    wanted = lock_hash()
    have = HASH_FILE.read_text().strip() if HASH_FILE.is_file() else ""
    if have == wanted and (BIN / f"mcpgram{EXE}").exists():
        return
    say("installing locked dependencies from requirements.lock (first run takes a minute)")
    HASH_FILE.unlink(missing_ok=True)
    pip = [str(VENV_PYTHON), "-m", "pip", "install", *PIP_QUIET]
    # Old bundled pips (23.0, 23.2) refuse the hashed lock; a pinned, hashed pip installs first.
    run_quietly([*pip, "--require-hashes", "-r", str(BOOTSTRAP_LOCK)], "installing the pinned pip")
    run_quietly([*pip, "--require-hashes", "-r", str(LOCK)], "installing requirements.lock")
    say("installing mcpgram (editable)")
    run_quietly([*pip, "--no-deps", "-e", str(ROOT)], "installing mcpgram")
    HASH_FILE.write_text(wanted + "\n")
    say(".venv is in sync with requirements.lock")


def exec_(argv: Sequence[str]) -> NoReturn:
    """Replace this process with ``argv`` so its exit status becomes ours."""
    sys.stderr.flush()
    sys.stdout.flush()
    if os.name == "nt":  # no real exec on Windows: run and pass the exit status on
        raise SystemExit(subprocess.run(argv, check=False).returncode)
    os.execv(argv[0], list(argv))


def check() -> int:
    """Run every static check, report each, and return non-zero if any failed."""
    os.chdir(ROOT)
    steps = {
        "ruff check": [str(BIN / f"ruff{EXE}"), "check", "."],
        "ruff format --check": [str(BIN / f"ruff{EXE}"), "format", "--check", "."],
        "mypy src/mcpgram": [str(VENV_PYTHON), "-m", "mypy", "src/mcpgram"],
    }
    failed = []
    for name, argv in steps.items():
        say(f"running {name}")
        if subprocess.run(argv, check=False).returncode != 0:
            failed.append(name)
    if failed:
        say(f"check FAILED: {', '.join(failed)}")
        return 1
    say("check passed: " + ", ".join(steps))
    return 0


def main(argv: Sequence[str]) -> int:
    """Dispatch ``dev.py COMMAND [args...]``."""
    if not argv or argv[0] in {"-h", "--help", "help"}:
        sys.stderr.write(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], list(argv[1:])
    if command not in {"demo", "test", "check"}:
        sys.stderr.write(USAGE)
        fail(f"unknown command {command!r}", 2)
    ensure_venv()
    if command == "demo":
        exec_([str(BIN / f"mcpgram{EXE}"), "demo", *rest])
    if command == "test":
        os.chdir(ROOT)
        say(" ".join(["running pytest", *rest]))
        exec_([str(VENV_PYTHON), "-m", "pytest", *rest])
    if rest:
        fail("check takes no arguments", 2)
    return check()
