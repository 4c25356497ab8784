"""Run the sandbox server as ``python -m mcpgram.sandbox`` (see ``cli.py`` for the options)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
