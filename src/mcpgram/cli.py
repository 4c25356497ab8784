"""The ``mcpgram`` command line: one argparse subcommand per ``_add_<name>`` function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias

from mcpgram import __version__

DEMO_NOT_YET = (
    "mcpgram demo: not yet — the gateway core (issue 3) will serve the demo; "
    "run `mcpgram sandbox --demo` for the sandbox alone."
)

# The exit status of a command that exists but cannot run yet (argparse uses 2 for usage errors too).
EXIT_NOT_YET = 2

Handler: TypeAlias = Callable[[argparse.Namespace], int]

if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def _run_demo(args: argparse.Namespace) -> int:
    """Say that the demo is not available until the gateway core lands."""
    del args
    print(DEMO_NOT_YET, file=sys.stderr)
    return EXIT_NOT_YET


def _add_demo(subparsers: Subparsers) -> None:
    """Register ``mcpgram demo``: the gateway against the embedded sandbox, no Telegram account needed."""
    parser = subparsers.add_parser(
        "demo",
        help="run mcpgram against the embedded sandbox (no Telegram account needed)",
        description="Run the mcpgram gateway against the embedded Telegram sandbox.",
    )
    parser.set_defaults(handler=_run_demo)


def _run_sandbox(args: argparse.Namespace) -> int:
    """Run the sandbox server in the foreground; its own parser handles the arguments."""
    from mcpgram.sandbox.cli import main as sandbox_main  # noqa: PLC0415 - keeps `mcpgram --help` fast

    return sandbox_main(args.sandbox_argv, prog="mcpgram sandbox")


def _add_sandbox(subparsers: Subparsers) -> None:
    """Register ``mcpgram sandbox [--demo] [--port N] ...``: the embedded Telegram server on its own."""
    # The sandbox's options live in mcpgram.sandbox.cli, which imports Telethon. An option prefix no
    # argument can start with makes this parser pass every argument (``--help`` too) through unparsed.
    parser = subparsers.add_parser(
        "sandbox",
        help="run the embedded Telegram sandbox server (see `mcpgram sandbox --help`)",
        add_help=False,
        prefix_chars="\0",
    )
    parser.add_argument("sandbox_argv", nargs="*", metavar="ARGS")
    parser.set_defaults(handler=_run_sandbox)


# To add a subcommand, write one ``_add_<name>(subparsers)`` function that calls
# ``subparsers.add_parser(...)`` and ``set_defaults(handler=...)``, and list it here.
SUBCOMMANDS: tuple[Callable[[Subparsers], None], ...] = (_add_demo, _add_sandbox)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="mcpgram",
        description="A secure, multi-tenant Telegram gateway for AI agents (an MCP server).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for add_subcommand in SUBCOMMANDS:
        add_subcommand(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the chosen subcommand and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    return handler(args)
