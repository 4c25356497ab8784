"""Per-account state beyond the profile: login email, account and session TTLs, websites signed in
with Telegram, Passport values, push devices, Stars, and the codes that confirm changes to them.

``World.accounts`` holds one :class:`AccountData` per user id, made on first use by
:func:`account_data`. The RPC modules that keep these (``rpc/loginemail.py``, ``rpc/recovery.py``,
``rpc/security.py``, ``rpc/passport.py``, ``rpc/payments.py``) read and write it; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .world import World

#: Telegram's default for "delete my account if away for": 365 days (``account.getAccountTTL``).
DEFAULT_ACCOUNT_TTL_DAYS = 365


@dataclass
class EmailCode:
    """A code sent to an email address, waiting for ``account.verifyEmail`` or ``confirmPasswordEmail``."""

    email: str
    code: str
    expires: int
    #: What it confirms: "login" (set up or change the login email), "passport" or "recovery".
    purpose: str
    #: For a login email set up during sign-in: the ``phone_code_hash`` of that sign-in.
    phone_code_hash: str | None = None


@dataclass
class WebAuthorization:
    """A website the account signed in to with Telegram (``account.getWebAuthorizations``)."""

    hash: int
    bot_id: int
    domain: str
    browser: str = "Firefox"
    platform: str = "Linux"
    date_created: int = 0
    date_active: int = 0


@dataclass
class AccountData:
    """What the sandbox keeps of one account's security and payment settings."""

    account_ttl_days: int = DEFAULT_ACCOUNT_TTL_DAYS
    #: Days an unused session lives (``account.setAuthorizationTTL``); Telegram's default is 180.
    authorization_ttl_days: int = 180
    login_email: str | None = None
    recovery_email: str | None = None
    #: The code waiting to confirm an email (one at a time, as Telegram keeps it).
    email_code: EmailCode | None = None
    #: The code ``auth.requestPasswordRecovery`` sent to the recovery email.
    recovery_code: EmailCode | None = None
    #: When a requested password reset (``account.resetPassword``) takes effect, or None.
    password_reset_at: int | None = None
    web_authorizations: list[WebAuthorization] = field(default_factory=list)
    #: Telegram Passport values by their ``SecureValueType`` class name, as TL ``secureValue``.
    secure_values: dict[str, Any] = field(default_factory=dict)
    #: Push tokens registered with ``account.registerDevice``: (token_type, token).
    devices: list[tuple[int, str]] = field(default_factory=list)
    #: Sessions per auth key hash: the settings ``account.changeAuthorizationSettings`` sets.
    session_settings: dict[int, dict[str, bool]] = field(default_factory=dict)
    takeout_ids: list[int] = field(default_factory=list)
    stars: int = 0
    #: A pending change of phone number: (new phone, phone_code_hash).
    phone_change: tuple[str, str] | None = None


def account_data(world: World, user_id: int) -> AccountData:
    data = world.accounts.get(user_id)
    if data is None:
        data = world.accounts[user_id] = AccountData()
    return data
