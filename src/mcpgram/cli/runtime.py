"""What the commands share: the terminal they talk through, settings from flags, the vault, tokens on stdin.

The terminal is a :class:`Terminal` in a context variable, so tests run a command in-process with
scripted input and captured output (``main(argv, terminal=...)``). Tokens are only ever read from
stdin (or a hidden prompt), never from argv, which every user on the machine can read in ``ps``.

Must not: print a token anywhere but the one stdout line of the command that mints it, or import
Telethon, FastMCP or the settings at import time (``mcpgram --help`` stays fast).
"""

from __future__ import annotations

import contextvars
import getpass
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import ConfigError, NotAuthenticated

if TYPE_CHECKING:
    from ..settings import Settings
    from ..vault.vault import TenantKeys, Vault


@contextmanager
def interruptible() -> Iterator[None]:
    """Make Ctrl-C raise KeyboardInterrupt at once in the block (a blocking read in the main thread).

    Under ``asyncio.run`` the first SIGINT only cancels the main task, which a read blocked in the
    event loop's thread never notices: the prompt would go on waiting, and the answer typed after
    Ctrl-C would still be sent to Telegram. Python's default handler interrupts the read itself.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is not None:  # None: installed outside Python; cannot be put back
            signal.signal(signal.SIGINT, previous)


def _default_prompt(text: str) -> str:
    # With the token piped on stdin, the answers come from the terminal itself.
    with interruptible():  # before the prompt shows: a Ctrl-C right after it must interrupt too
        print(text, end="", file=sys.stderr, flush=True)
        if sys.stdin.isatty():
            return sys.stdin.readline()
        try:
            with open("/dev/tty", encoding="utf-8") as tty:
                return tty.readline()
        except OSError:
            return sys.stdin.readline()


def _default_secret(text: str) -> str:
    with interruptible():
        return getpass.getpass(text, stream=sys.stderr)


@dataclass
class Terminal:
    """Where a command reads and writes. ``prompt`` echoes what is typed; ``secret`` does not."""

    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    prompt: Callable[[str], str] = _default_prompt
    secret: Callable[[str], str] = _default_secret

    def say(self, text: str) -> None:
        """A message for the person at the terminal (stderr: stdout is for output others parse)."""
        print(text, file=self.stderr, flush=True)

    def out(self, text: str) -> None:
        """The command's output."""
        print(text, file=self.stdout, flush=True)


_terminal: contextvars.ContextVar[Terminal | None] = contextvars.ContextVar("mcpgram_terminal", default=None)


def terminal() -> Terminal:
    """The terminal of the running command (the process's own streams unless a test set one)."""
    return _terminal.get() or Terminal()


@contextmanager
def use_terminal(term: Terminal | None) -> Iterator[Terminal]:
    """Run the block with ``term`` (or the real streams) as the terminal."""
    token = _terminal.set(term or Terminal())
    try:
        yield terminal()
    finally:
        _terminal.reset(token)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, ``.env`` and the command's flags (``None`` = not given).

    Also configures logging to stderr: at the configured level if ``MCPGRAM_LOG_LEVEL`` was set,
    else WARNING, so an interactive command is not interleaved with progress lines.

    Raises:
        ConfigError: a setting is invalid (one line, naming it).
    """
    from ..settings import Settings

    settings = Settings.load(**overrides)
    configure_logging_for(settings)
    return settings


def log_level_for(settings: Settings) -> int | str:
    """The configured level if ``MCPGRAM_LOG_LEVEL`` was set, else WARNING."""
    return settings.log_level if "log_level" in settings.model_fields_set else logging.WARNING


def configure_logging_for(settings: Settings, *, level: int | str | None = None) -> None:
    """Log to stderr at ``level`` (default :func:`log_level_for`); again after importing FastMCP."""
    from ..log import configure_logging

    chosen = log_level_for(settings) if level is None else level
    configure_logging(chosen, json=settings.log_json, stream=terminal().stderr)


@contextmanager
def open_vault(settings: Settings) -> Iterator[Vault]:
    """``Vault(SQLiteVault(data_dir / "vault.db"))`` under the server secret; closed on exit.

    Raises:
        ConfigError: the data dir or its key files are unsafe.
    """
    from ..datadir import ensure_data_dir, server_secret_bytes
    from ..vault.sqlite import SQLiteVault
    from ..vault.vault import Vault

    ensure_data_dir(settings.data_dir)
    secret = server_secret_bytes(settings)
    store = SQLiteVault(settings.data_dir / "vault.db")
    try:
        yield Vault(store, server_secret=secret)
    finally:
        store.close()


def owner_keys(vault: Vault, data_dir: Path) -> TenantKeys:
    """The stdio owner tenant's keys (created on first use)."""
    from ..datadir import owner_key_bytes

    return vault.open_owner(owner_key_bytes(data_dir))


def read_token(term: Terminal) -> str:
    """A bearer token from stdin (a hidden prompt when stdin is a terminal), checked for format only.

    Raises:
        NotAuthenticated: nothing was given, or it is not an mcpgram token.
    """
    from ..auth import is_well_formed

    raw = term.secret("mcpgram token: ") if term.stdin.isatty() else term.stdin.readline()
    token = raw.strip()
    if not token:
        raise NotAuthenticated(
            "no token on stdin", hint="pipe it in: `mcpgram ... --token-stdin < token.txt`"
        )
    if not is_well_formed(token):
        raise NotAuthenticated("that is not an mcpgram token (mcpg_ followed by 43 characters)")
    return token


def require(condition: bool, message: str) -> None:
    """Refuse a usage error (exit 2) with ``message``."""
    if not condition:
        raise ConfigError(message)


@contextmanager
def startup_gc() -> Iterator[None]:
    """Start up without the cyclic GC, then freeze what start-up made.

    Importing FastMCP, Telethon and pydantic allocates hundreds of thousands of long-lived objects;
    the collector would walk them over and over for nothing (~0.15 s of a cold start). Afterwards
    ``gc.freeze()`` moves them out of every later collection's way, too.
    """
    import gc

    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
