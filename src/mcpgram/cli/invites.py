"""``mcpgram invite create``: single-use invitation codes for the hosted sign-in page (/setup).

With ``signup = invite`` (the default) the /setup page asks for one of these codes before it creates
a tenant. A code is 192 random bits, valid once, until it expires; the data dir's ``signin.db``
keeps only its SHA-256 digest. The code is printed once, alone on stdout.
"""

from __future__ import annotations

from pathlib import Path

from cyclopts import App

from .runtime import load_settings, require, terminal

app = App(name="invite", help="Create single-use invitation codes for the /setup sign-in page.")


@app.command
def create(*, hours: float = 72.0, data_dir: Path | None = None) -> int:
    """Create a single-use invitation code and print it to stdout, once.

    Args:
        hours: How long the code stays valid (default 72 hours, at most 30 days).
        data_dir: Where the sign-in database lives (default: MCPGRAM_DATA_DIR).
    """
    from ..datadir import ensure_data_dir
    from ..web.setup import SetupStore

    require(0 < hours <= 24 * 30, "--hours must be above 0 and at most 720 (30 days)")
    term = terminal()
    settings = load_settings(data_dir=data_dir)
    ensure_data_dir(settings.data_dir)
    store = SetupStore(settings.data_dir / "signin.db")
    try:
        code = store.create_invite(valid_seconds=hours * 3600)
    finally:
        store.close()
    term.out(code)
    term.say(f"Single-use invitation code, valid for {hours:g} hours: give it to one person for /setup.")
    if settings.signup != "invite":
        term.say(f"Note: signup is '{settings.signup}' here, so /setup does not ask for invitation codes.")
    return 0
