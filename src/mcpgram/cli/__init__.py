"""The ``mcpgram`` command line (cyclopts): parse the arguments, run one command, map errors to exit codes.

Each command lives in its own module and is registered here by import path with its help text, so
``mcpgram --help`` imports cyclopts and none of the commands (no settings, Telethon or FastMCP).
``mcpgram sandbox ...`` hands every argument, ``--help`` included, to the sandbox's own parser.

Exit codes: 0 success, 1 the command failed (``mcpgram: <reason>`` on stderr), 2 usage or
configuration errors (one line, never a traceback), 130 interrupted (Ctrl-C, e.g. at a login prompt,
which aborts at once without sending anything). A stdio server (``serve``, ``demo``) stopped by
SIGINT or SIGTERM seals its sessions and exits 0: the client asked it to stop, and it did.

Must not: import a command module at import time, or print a secret in an error.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from typing import Any

from cyclopts import App, CycloptsError, Parameter

from .. import __version__
from ..errors import ConfigError, MCPGramError
from .runtime import Terminal, terminal, use_terminal

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_USAGE", "app", "main"]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

app = App(
    name="mcpgram",
    help="A secure, multi-tenant Telegram gateway for AI agents (an MCP server).",
    version=f"mcpgram {__version__}",
    # Plain text: rendering help as Markdown would import rich.markdown (and pygments) on every --help.
    help_format="plaintext",
    result_action="return_value",
    # main() reports Ctrl-C itself ("mcpgram: interrupted", exit 130) instead of a silent sys.exit(130).
    suppress_keyboard_interrupt=False,
    # Flags are switches: no generated --no-<flag> twins.
    default_parameter=Parameter(negative=()),
)
app.command(
    "mcpgram.cli.serve:serve",
    name="serve",
    help="Run the MCP server (stdio for one local user, or HTTP for many tenants).",
)
app.command(
    "mcpgram.cli.serve:demo",
    name="demo",
    help="Run mcpgram against the embedded sandbox (no Telegram account needed).",
)
app.command(
    "mcpgram.cli.login:login",
    name="login",
    help="Log a tenant in to Telegram (phone and code, or --qr).",
)
app.command(
    "mcpgram.cli.tokens:app", name="token", help="Create, list, rotate and revoke HTTP tenants' tokens."
)
app.command("mcpgram.cli.invites:app", name="invite", help="Create single-use invitation codes for /setup.")
app.command(
    "mcpgram.cli.policy:app",
    name="policy",
    help="Show and set what each tenant's agent may do: verbs, chat scopes, tool profiles.",
)
app.command(
    "mcpgram.cli.clientconfig:config",
    name="config",
    help="Print a ready MCP client config, or --write it into the client's own file "
    "(claude-desktop, claude-code, cursor, vscode).",
)


@app.command(name="sandbox", help="Run the embedded Telegram sandbox server (see `mcpgram sandbox --help`).")
def _sandbox() -> int:
    # Listed for --help only: main() hands `sandbox ...` to the sandbox's own parser before cyclopts.
    return _run_sandbox([])


@app.default
def _no_command() -> int:
    """Without a command: the help, on stderr, and a usage error."""
    app.help_print(console=_console(terminal().stderr))
    return EXIT_USAGE


def _run_sandbox(argv: list[str]) -> int:
    from mcpgram.sandbox.cli import main as sandbox_main  # imports Telethon: only when asked for

    return sandbox_main(argv, prog="mcpgram sandbox")


def _console(stream: Any) -> Any:
    from rich.console import Console  # cyclopts depends on rich; imported only to redirect output

    return Console(file=stream, width=100, highlight=False, soft_wrap=False)


def _fail(term: Terminal, error: MCPGramError) -> None:
    term.say(f"mcpgram: {error.message}")
    if error.hint:
        term.say(f"  hint: {error.hint}")


def main(argv: Sequence[str] | None = None, *, terminal: Terminal | None = None) -> int:
    """Run ``mcpgram ARGV`` (default ``sys.argv[1:]``) and return the exit status.

    Args:
        argv: The arguments after the program name.
        terminal: Streams and prompts to use instead of the process's own (tests).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["sandbox"]:
        return _run_sandbox(args[1:])
    with use_terminal(terminal) as term:
        consoles: dict[str, Any] = {}
        if terminal is not None:
            consoles = {"console": _console(term.stdout), "error_console": _console(term.stderr)}
        try:
            result = app(args, exit_on_error=False, print_error=True, **consoles)
        except CycloptsError:
            return EXIT_USAGE  # cyclopts has printed what was wrong
        except ConfigError as exc:
            _fail(term, exc)
            return EXIT_USAGE
        except MCPGramError as exc:
            _fail(term, exc)
            return EXIT_FAILED
        except EOFError:
            term.say("mcpgram: the input ended before the command finished")
            return EXIT_FAILED
        except KeyboardInterrupt:
            term.say("mcpgram: interrupted")
            return EXIT_INTERRUPTED
        except Exception as exc:
            # The outermost boundary: log it (with the traceback only at DEBUG), say one line.
            log = logging.getLogger("mcpgram.cli")
            debug = log.isEnabledFor(logging.DEBUG)
            log.error("cli.internal_error", extra={"error": type(exc).__name__}, exc_info=debug)
            term.say("mcpgram: internal error; run with MCPGRAM_LOG_LEVEL=DEBUG for details")
            return EXIT_FAILED
    return result if isinstance(result, int) else 0
