#!/usr/bin/env python3
# Set up and run mcpgram for development: `python3 dev.py demo | test | check` (see scripts/devenv.py).
#
# This file only checks the interpreter, in syntax that every Python still parses (2.7 and 3.x), so
# that an old `python3` says what it lacks instead of failing with a SyntaxError; the work is done by
# scripts/devenv.py, which needs Python 3.11+.
import os
import sys

if sys.version_info < (3, 11):
    sys.stderr.write(
        "dev.py: error: mcpgram needs Python 3.11 or newer; this is Python %s (%s)\n"
        % (sys.version.split()[0], sys.executable)
    )
    sys.exit(1)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts"))
from devenv import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
