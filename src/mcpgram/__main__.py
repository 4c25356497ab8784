"""Run the mcpgram command line as ``python -m mcpgram``."""

from __future__ import annotations

from mcpgram.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
