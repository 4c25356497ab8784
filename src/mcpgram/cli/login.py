"""``mcpgram login [--qr] [--token-stdin]``: log a tenant in to Telegram from the terminal.

Without ``--token-stdin`` it logs in the local owner tenant (the one ``serve`` uses over stdio, its
key in ``data_dir/owner.key``); with it, the HTTP tenant whose token is read from stdin. The prompts
drive the same login state machine a web setup page will (``telegram/login.py``); the session it
creates is sealed in the vault (``telegram/account.py``), and the Telegram settings it used (API id
and hash, DC and key, proxy) are saved in the data dir (``datadir.save_telegram_settings``), so a
client that starts ``mcpgram serve`` with an empty environment connects the same way. ``--qr``
draws a QR code to scan in a Telegram app where the account is logged in (Settings > Devices >
Link Desktop Device).

Must not: echo the 2FA password, print or log the code, the password or the full phone number.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .runtime import Terminal, load_settings, open_vault, owner_keys, read_token, terminal

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from ..settings import Settings, TelegramConfig
    from ..telegram.account import TenantLogin
    from ..telegram.login import AccountSummary, LoginState, QrPending
    from ..vault.vault import TenantKeys, Vault

    LoginOpener = Callable[[TelegramConfig, Vault, TenantKeys], AbstractAsyncContextManager[TenantLogin]]

_WHERE: dict[str, str] = {
    "app": "your Telegram app (a chat from 'Telegram' on another device)",
    "sms": "an SMS",
    "call": "a phone call",
    "flash_call": "a flash call (the code is the last digits of the calling number)",
    "missed_call": "a missed call (the code is the last digits of the calling number)",
    "email": "your login email",
    "fragment": "Fragment",
}


def _open_login(
    config: TelegramConfig, vault: Vault, keys: TenantKeys
) -> AbstractAsyncContextManager[TenantLogin]:
    """The one place the CLI gets a Telegram client for logging in."""
    from ..telegram.account import open_login

    return open_login(config, vault, keys)


async def login(*, qr: bool = False, token_stdin: bool = False, data_dir: Path | None = None) -> int:
    """Log a tenant in to Telegram: the local owner, or with --token-stdin the token's HTTP tenant.

    Asks for the phone number, then the login code, then the two-step verification password if the
    account has one. The session is stored encrypted in the vault.

    Args:
        qr: Show a QR code to scan in a Telegram app instead of typing a phone number and code.
        token_stdin: Log in the HTTP tenant whose token is read from stdin (never pass it as an argument).
        data_dir: Where the vault lives (default: MCPGRAM_DATA_DIR, else ~/.local/share/mcpgram).
    """
    term = terminal()
    settings = load_settings(data_dir=data_dir)
    config = settings.telegram_config()
    token = read_token(term) if token_stdin else None
    with open_vault(settings) as vault:
        if token is not None:
            keys = vault.unlock_with_token(token)
            who = f"tenant {keys.tenant_id}"
        else:
            keys = owner_keys(vault, settings.data_dir)
            who = "the owner tenant (stdio)"
        account = await run_login(_open_login, config, vault, keys, term, qr=qr, who=who)
    term.out(f"Logged in as {describe(account)}.")
    _save_settings(settings, term)
    return 0


def _save_settings(settings: Settings, term: Terminal) -> None:
    """Keep the Telegram settings in the data dir: a client starting ``serve`` has no MCPGRAM_* of yours."""
    from ..datadir import save_telegram_settings

    saved = save_telegram_settings(settings)
    if saved is not None:
        term.say(
            f"Saved the Telegram settings (API id {settings.api_id}; the hash is not shown) in {saved} "
            "(mode 0600): `mcpgram serve` uses them when MCPGRAM_* variables do not say otherwise."
        )


def describe(account: AccountSummary) -> str:
    """``Ada Lovelace (@ada, +********11, id 42)`` - the phone is already masked."""
    details = [f"@{account.username}"] if account.username else []
    details += [account.phone] if account.phone else []
    return f"{account.name} ({', '.join([*details, f'id {account.user_id}'])})"


async def run_login(
    opener: LoginOpener,
    config: TelegramConfig,
    vault: Vault,
    keys: TenantKeys,
    term: Terminal,
    *,
    qr: bool = False,
    who: str = "",
) -> AccountSummary:
    """Open the tenant's session and converse until it is logged in.

    Raises:
        FloodWait: Telegram asks to wait before the next try.
        TelegramError: Telegram is unreachable or refused in a way retyping cannot fix.
        EOFError: the input ended first.
    """
    async with opener(config, vault, keys) as session:
        current = await session.current_account()
        if current is not None:
            term.say(f"{who or 'This tenant'} is already logged in.")
            return current
        term.say(f"Logging in {who}." if who else "Logging in.")
        return await converse(session, term, qr=qr)


async def converse(session: TenantLogin, term: Terminal, *, qr: bool) -> AccountSummary:
    """Prompt for whatever the login machine needs next until it reaches LoggedIn."""
    from ..telegram.login import (
        CodeSent,
        LoggedIn,
        NeedPassword,
        NeedPhone,
        PollQr,
        QrPending,
        StartQr,
        SubmitCode,
        SubmitPassword,
        SubmitPhone,
    )

    driver = session.driver
    state: LoginState = driver.state
    shown: str | None = None  # what was last said, so a retry does not repeat the explanation
    while not isinstance(state, LoggedIn):
        problem = getattr(state, "problem", None)
        if problem is not None:
            term.say(problem.message)
        if isinstance(state, NeedPhone):
            shown = None  # a restart (expired code or QR) explains the next step afresh
            if qr:
                state = await driver.send(StartQr())
                continue
            phone = _ask(term.prompt, "Phone number (international format, e.g. +44 7700 900123): ")
            state = await driver.send(SubmitPhone(phone))
        elif isinstance(state, CodeSent):
            if shown != "code":
                where = _WHERE.get(state.code_type, "Telegram")
                term.say(f"Telegram sent a login code for {state.masked_phone} to {where}.")
                shown = "code"
            state = await driver.send(SubmitCode(_ask(term.prompt, "Login code: ")))
        elif isinstance(state, NeedPassword):
            if shown != "password":
                hint = f" (hint: {state.hint})" if state.hint else ""
                term.say(f"This account has two-step verification{hint}.")
                shown = "password"
            # getpass raises EOFError itself; an empty answer is an empty password, which the machine refuses.
            state = await driver.send(SubmitPassword(term.secret("Two-step verification password: ")))
        elif isinstance(state, QrPending):
            if shown != state.url:
                _draw_qr(term, state)
                shown = state.url
            state = await driver.send(PollQr())
    return state.account


def _ask(read: Callable[[str], str], prompt: str) -> str:
    answer = read(prompt)
    if answer == "":  # readline() at the end of input (an empty line is "\n")
        raise EOFError
    return answer.strip()


def _draw_qr(term: Terminal, state: QrPending) -> None:
    from .qr import qr_lines

    seconds = max(0, round(state.expires - time.time()))
    term.say(
        "Scan this QR code in a Telegram app where the account is logged in: "
        "Settings > Devices > Link Desktop Device."
    )
    for line in qr_lines(state.url):
        term.say(line)
    term.say(f"Or open this link on a device where Telegram is logged in: {state.url}")
    term.say(f"Waiting for the scan (a new code appears in {seconds} s if this one expires)...")
