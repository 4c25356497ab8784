"""Messaging a phone number that is not in the address book: the Telegram side of ``send_to_phone``.

Telegram lets an account message a number only through a contact, so the number is imported as a
temporary contact, the message is sent, and the contact is removed again unless the caller keeps
it. The removal also happens when the send fails, so a failed call leaves the address book as it
was. A person who already was a contact is never imported (that would rename them) and never
removed: :func:`send_to_phone` reads the address book first, and also checks the imported user
against it, since a contact saved without a visible number is found only by the import.

Must not: put the phone number in an error, a log line or a result.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import dataclass
from typing import Any, Literal

from telethon import TelegramClient, functions, types, utils

from .sending import ParseMode, SendRefused, Sent, prepare_text, send_prepared

__all__ = ["PhoneSent", "normalize_phone", "send_to_phone"]

log = logging.getLogger(__name__)

#: E.164 allows up to 15 digits; Telegram's test numbers have 10.
_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{3,24}$")
#: Seconds the clean-up after a failed send may take before it is abandoned (and logged).
_CLEANUP_TIMEOUT = 5.0

ContactFate = Literal["removed", "kept", "existing"]


@dataclass(frozen=True)
class PhoneSent:
    sent: Sent
    #: What became of the contact: removed again, kept (asked, or removal failed), or already saved.
    contact: ContactFate


def normalize_phone(phone: str) -> str:
    """Digits only, 5 to 15 of them, or PHONE_INVALID."""
    digits = re.sub(r"\D", "", phone)
    if not _PHONE.match(phone.strip()) or not 5 <= len(digits) <= 15:
        raise SendRefused(
            "PHONE_INVALID",
            "not a phone number",
            hint="give the number in international format with its country code, e.g. +15551234567",
        )
    return digits


def _not_reachable() -> SendRefused:
    return SendRefused(
        "PHONE_NOT_FOUND",
        "no Telegram account can be messaged at this number",
        hint="the number is not on Telegram, or its owner's privacy hides it; ask for their @username",
    )


async def _forget(client: TelegramClient, user: Any) -> bool:
    """Remove a temporary contact; False (logged) if Telegram did not take it."""
    try:
        await client(functions.contacts.DeleteContactsRequest(id=[utils.get_input_user(user)]))
    except Exception as exc:  # the caller reports the contact as kept; never mask the send's outcome
        log.warning("send_to_phone.cleanup_failed", extra={"error": type(exc).__name__})
        return False
    return True


async def _forget_after_failure(client: TelegramClient, user: Any) -> None:
    """Remove the contact while the send's own error is on its way; never replace that error."""
    try:
        await asyncio.wait_for(_forget(client, user), _CLEANUP_TIMEOUT)
    except (TimeoutError, asyncio.CancelledError):
        log.warning("send_to_phone.cleanup_abandoned")


async def send_to_phone(
    client: TelegramClient,
    phone: str,
    text: str,
    *,
    parse_mode: ParseMode = "text",
    first_name: str = "",
    keep_contact: bool = False,
) -> PhoneSent:
    """Send a text message to the Telegram account behind ``phone`` (see the module docstring)."""
    digits = normalize_phone(phone)
    outgoing = prepare_text(text, parse_mode)
    book = await client(functions.contacts.GetContactsRequest(hash=0))
    saved = {contact.user_id for contact in getattr(book, "contacts", [])}
    existing = next((u for u in getattr(book, "users", []) if getattr(u, "phone", None) == digits), None)
    if existing is not None:
        sent = await send_prepared(client, utils.get_input_peer(existing), outgoing)
        return PhoneSent(sent, "existing")
    entry = types.InputPhoneContact(
        client_id=int.from_bytes(os.urandom(8), "little", signed=True),
        phone=digits,
        # Telegram's apps show an unnamed contact by its number; so does this default.
        first_name=first_name.strip() or "+" + digits,
        last_name="",
    )
    imported = await client(functions.contacts.ImportContactsRequest(contacts=[entry]))
    user_ids = {item.user_id for item in imported.imported if item.client_id == entry.client_id}
    user = next((u for u in imported.users if u.id in user_ids), None)
    if user is None:
        raise _not_reachable()
    added = user.id not in saved
    try:
        sent = await send_prepared(client, utils.get_input_peer(user), outgoing)
    except BaseException:
        if added:
            # A failed send (or a timed-out call) must not leave a stranger in the address book.
            await _forget_after_failure(client, user)
        raise
    if not added:
        return PhoneSent(sent, "existing")
    if keep_contact:
        return PhoneSent(sent, "kept")
    return PhoneSent(sent, "removed" if await _forget(client, user) else "kept")
