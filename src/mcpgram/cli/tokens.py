"""``mcpgram token create|list|rotate|revoke``: HTTP tenants and their bearer tokens.

A token is printed once, alone on stdout, by the command that mints it (``create``, ``rotate``);
everything else goes to stderr. Existing tokens are read from stdin only. ``list`` shows each
tenant's fingerprint (a short keyed hash), never a token.

Must not: print, log or echo a token anywhere else, or take one from argv.
"""

from __future__ import annotations

import datetime
import json
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from cyclopts import App, Parameter

from ..errors import LoginRequired, TenantError
from ..vault.vault import OWNER_TENANT_ID
from .runtime import load_settings, open_vault, read_token, require, terminal

if TYPE_CHECKING:
    from ..settings import Settings
    from ..vault.store import TenantRecord
    from ..vault.vault import TenantKeys, Vault

app = App(name="token", help="Create, list, rotate and revoke HTTP tenants' tokens.")

MAX_LABEL = 64
_TENANT_ID = re.compile(r"^tnt_[0-9a-f]{16}$")
STORE_WARNING = (
    "Store this token now, like a password: it is shown once and cannot be recovered. "
    "Anyone holding it can act in the Telegram account it logs in to."
)
SESSIONS_NOTE = (
    "The tenant's keys and sealed Telegram session are destroyed, so nobody can use its authorization. "
    "It stays listed under the Telegram account's active sessions (Settings > Devices) until "
    "terminated there; revoke with --token-stdin to log it out of Telegram first."
)


def check_label(label: str) -> str:
    """A tenant label: up to 64 printable characters (no control, format or bidi characters).

    Raises:
        ConfigError: the label is too long or holds characters a terminal could misinterpret.
    """
    label = label.strip()
    require(len(label) <= MAX_LABEL, f"--label is longer than {MAX_LABEL} characters")
    require(
        all(unicodedata.category(ch)[0] != "C" for ch in label),
        "--label may not contain control or invisible formatting characters",
    )
    return label


def _shown(text: str) -> str:
    # Labels were checked on the way in; this also covers rows written by anything else.
    return "".join(ch if unicodedata.category(ch)[0] != "C" else "?" for ch in text)


def _created(timestamp: int, *, iso: bool = False) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z") if iso else moment.strftime("%Y-%m-%d %H:%M UTC")


@app.command
def create(*, label: str = "", data_dir: Path | None = None) -> int:
    """Create an HTTP tenant and print its bearer token, once, to stdout.

    The tenant starts as login_required: log it in with `mcpgram login --token-stdin`.

    Args:
        label: A name to recognise the tenant by in `token list` (up to 64 characters).
        data_dir: Where the vault lives (default: MCPGRAM_DATA_DIR, else ~/.local/share/mcpgram).
    """
    term = terminal()
    label = check_label(label)
    settings = load_settings(data_dir=data_dir)
    with open_vault(settings) as vault:
        record, token = vault.create_tenant(label)
    term.out(token)
    term.say(f"Created tenant {record.tenant_id} (fingerprint {record.token_fingerprint}).")
    term.say(STORE_WARNING)
    term.say("Next: mcpgram login --token-stdin   (pipe the token in; never pass it as an argument)")
    return 0


def _row(record: TenantRecord, *, iso: bool) -> dict[str, Any]:
    return {
        "tenant_id": record.tenant_id,
        "label": _shown(record.label),
        "status": record.status,
        "created": _created(record.created, iso=iso),
        "fingerprint": record.token_fingerprint or "-",
    }


@app.command(name="list")
def list_(
    *,
    # ``--json`` reads better than ``--json-output``; the name avoids shadowing the json module.
    json_output: Annotated[bool, Parameter(name="--json")] = False,
    data_dir: Path | None = None,
) -> int:
    """List tenants: id, label, status, creation time and token fingerprint (never a token).

    Args:
        json_output: Print a JSON array instead of a table.
        data_dir: Where the vault lives.
    """
    term = terminal()
    settings = load_settings(data_dir=data_dir)
    with open_vault(settings) as vault:
        rows = [_row(record, iso=json_output) for record in vault.list_tenants()]
    if json_output:
        term.out(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        term.say("No tenants yet: create one with `mcpgram token create --label NAME`.")
        return 0
    columns = ("tenant_id", "status", "created", "fingerprint", "label")
    widths = {name: max(len(name), *(len(row[name]) for row in rows)) for name in columns}
    term.out("  ".join(name.upper().ljust(widths[name]) for name in columns).rstrip())
    for row in rows:
        term.out("  ".join(row[name].ljust(widths[name]) for name in columns).rstrip())
    return 0


@app.command
def rotate(*, token_stdin: bool = False, data_dir: Path | None = None) -> int:
    """Replace a tenant's token: reads the current one from stdin, prints the new one; the old one dies.

    Args:
        token_stdin: Read the current token from stdin (required: tokens never go in arguments).
        data_dir: Where the vault lives.
    """
    term = terminal()
    require(token_stdin, "pass the current token on stdin with --token-stdin (never as an argument)")
    settings = load_settings(data_dir=data_dir)
    token = read_token(term)
    with open_vault(settings) as vault:
        new_token = vault.rotate(token)
    term.out(new_token)
    term.say("The old token no longer works. " + STORE_WARNING)
    return 0


@app.command
async def revoke(tenant_id: str, /, *, token_stdin: bool = False, data_dir: Path | None = None) -> int:
    """Revoke a tenant: its token stops working and its sealed Telegram session is destroyed.

    With --token-stdin (the tenant's token on stdin) the Telegram authorization is logged out first.

    Args:
        tenant_id: The tenant to revoke (tnt_..., see `mcpgram token list`).
        token_stdin: Read the tenant's token from stdin to log it out of Telegram before revoking.
        data_dir: Where the vault lives.
    """
    term = terminal()
    require(tenant_id != OWNER_TENANT_ID, "the owner tenant has no token and cannot be revoked here")
    require(
        bool(_TENANT_ID.match(tenant_id)),
        "not a tenant id (tnt_ and 16 hex digits; see `mcpgram token list`)",
    )
    settings = load_settings(data_dir=data_dir)
    token = read_token(term) if token_stdin else None
    with open_vault(settings) as vault:
        record = vault.get_tenant(tenant_id)
        if record is None:
            raise TenantError(f"no tenant {tenant_id}")
        if record.status == "revoked":
            term.say(f"Tenant {tenant_id} was already revoked.")
            return 0
        if token is None:
            vault.revoke(tenant_id)
            term.say(f"Revoked tenant {tenant_id}. {SESSIONS_NOTE}")
            return 0
        keys = vault.unlock_with_token(token)
        if keys.tenant_id != tenant_id:
            raise TenantError("that token belongs to another tenant; nothing was revoked")
        logged_out = await _log_out(settings, vault, keys)
        vault.revoke(tenant_id)
    if logged_out:
        term.say(f"Logged tenant {tenant_id} out of Telegram and revoked it; its token and session are gone.")
    else:
        term.say(
            f"Tenant {tenant_id} was not logged in to Telegram; revoked it, its token and session are gone."
        )
    return 0


async def _log_out(settings: Settings, vault: Vault, keys: TenantKeys) -> bool:
    """Log the tenant's Telegram authorization out through the pool; False if it was not logged in."""
    from ..telegram.account import log_out
    from ..telegram.pool import ClientPool

    pool = ClientPool(settings.telegram_config(), vault, settings.pool_limits())
    await pool.start()
    try:
        async with pool.client(keys) as tenant:
            return await tenant.run(log_out)
    except LoginRequired:
        return False  # Telegram already ended it (terminated from another device)
    finally:
        await pool.close()
