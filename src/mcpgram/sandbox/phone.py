"""``mcpgram sandbox accept-qr``: play the phone that scans a QR login code, against a running sandbox.

A client showing a QR code for login (Telethon's ``client.qr_login()``, mcpgram's web login) waits
until a signed-in session of the account accepts its ``tg://login?token=...`` URL. On Telegram that
is the phone app; here this command does what the app does, as an ordinary Telethon client: it signs
in to the given account (by code, and 2FA password if the account has one), calls
``auth.acceptLoginToken`` with the token, and logs its own session out again. So it goes through the
same MTProto path and checks (expired, unknown or already used tokens) as any client would.

Codes follow the test-DC rule (``99966XYYYY`` -> ``XXXXX``, e.g. the demo accounts' 11111); other
numbers need ``--code``. Must not: import anything from mcpgram outside the sandbox.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import getpass
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

import telethon
from telethon import TelegramClient, errors, functions
from telethon.errors.rpcerrorlist import rpc_errors_dict
from telethon.sessions import MemorySession

from .rpc.auth import fixed_login_code

#: Any id and 32-hex hash are accepted by the sandbox; these are the ones it prints for mcpgram too.
SANDBOX_API_ID = 1
SANDBOX_API_HASH = "5a9d6bc1e2f3a4b5c6d7e8f9a0b1c2d3"
EXIT_FAILED = 1
EXIT_USAGE = 2

_DC = re.compile(r"^(?P<id>\d{1,4})@(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})$")


@dataclass(frozen=True)
class Endpoint:
    """Where the sandbox listens, in the ``MCPGRAM_DC`` form ``<id>@<host>:<port>``."""

    dc_id: int
    host: str
    port: int

    @classmethod
    def parse(cls, value: str) -> Endpoint:
        """Parse ``"2@127.0.0.1:4430"`` (IPv6 in brackets: ``"2@[::1]:4430"``).

        Raises:
            ValueError: the value is not of that form.
        """
        match = _DC.match(value.strip())
        if not match or not 1 <= int(match["id"]) <= 1000 or not 1 <= int(match["port"]) <= 65535:
            raise ValueError("expected <dc id>@<host>:<port>, e.g. 2@127.0.0.1:4430")
        return cls(int(match["id"]), match["host"].strip("[]"), int(match["port"]))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.dc_id}@{host}:{self.port}"


def login_token(url: str) -> bytes:
    """The token of a ``tg://login?token=<base64url>`` URL, as a phone app reads it from the QR code.

    Raises:
        ValueError: not such a URL, or the token is not base64url.
    """
    parts = urlsplit(url.strip())
    tokens = parse_qs(parts.query).get("token", [])
    if parts.scheme != "tg" or parts.netloc != "login" or len(tokens) != 1:
        raise ValueError("expected a tg://login?token=... URL")
    encoded = tokens[0]
    try:
        token = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("the token is not base64url") from None
    if not token:
        raise ValueError("the token is empty")
    return token


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Accept a QR login (tg://login?token=...) as a sandbox account, as its phone app would: "
        "sign in to the account, call auth.acceptLoginToken, log out again.",
    )
    parser.add_argument("url", help="the tg://login?token=... URL the waiting client shows")
    parser.add_argument("--phone", required=True, help="the account that accepts, e.g. 9996610000 (demo)")
    parser.add_argument(
        "--dc", required=True, help="the sandbox as <dc id>@<host>:<port> (what it prints as MCPGRAM_DC)"
    )
    parser.add_argument(
        "--key-file", type=Path, required=True, help="its RSA public key (printed as MCPGRAM_RSA_KEY_FILE)"
    )
    parser.add_argument("--code", help="the login code (default: the test-DC rule, 99966XYYYY -> XXXXX)")
    parser.add_argument(
        "--password", help="the account's 2FA password (asked for on a terminal when needed and not given)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log Telethon's activity to stderr")
    return parser


def main(argv: Sequence[str] | None = None, *, prog: str = "mcpgram sandbox accept-qr") -> int:
    """Parse ``argv``, accept the token and return the exit status (0 accepted, 1 refused, 2 usage)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        token = login_token(args.url)
        endpoint = Endpoint.parse(args.dc)
    except ValueError as exc:
        parser.error(str(exc))
    code = args.code or fixed_login_code(args.phone)
    if code is None:
        parser.error("--code is needed for a phone number outside 99966XYYYY")
    if args.verbose:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    try:
        pem = args.key_file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{prog}: cannot read the key file: {exc.__class__.__name__}", file=sys.stderr)
        return EXIT_FAILED
    telethon_log = logging.getLogger("telethon")
    level = telethon_log.level
    if not args.verbose:  # Telethon warns of every failed connection attempt; the outcome is one line
        telethon_log.setLevel(logging.ERROR)
    try:
        return asyncio.run(accept(endpoint, pem, token, phone=args.phone, code=code, password=args.password))
    except errors.RPCError as exc:
        print(f"{prog}: refused: {_error_name(exc)}", file=sys.stderr)
    except (ConnectionError, OSError, TimeoutError):
        print(f"{prog}: cannot reach the sandbox at {endpoint.host}:{endpoint.port}", file=sys.stderr)
    except ValueError as exc:  # Telethon's answer to an unusable key file or phone number
        print(f"{prog}: {exc}", file=sys.stderr)
    finally:
        telethon_log.setLevel(level)
    return EXIT_FAILED


def _error_name(exc: errors.RPCError) -> str:
    """Telegram's error message (``AUTH_TOKEN_EXPIRED``); Telethon keeps it only for unknown errors."""
    for name, cls in rpc_errors_dict.items():
        if type(exc) is cls:
            return str(name)
    return str(exc.message)


async def accept(
    endpoint: Endpoint,
    public_key_pem: str,
    token: bytes,
    *,
    phone: str,
    code: str,
    password: str | None,
    out: TextIO = sys.stdout,
) -> int:
    """Sign in as ``phone``, accept ``token`` with ``auth.acceptLoginToken``, and log out again."""
    telethon.crypto.rsa.add_key(public_key_pem, old=False)
    session = MemorySession()
    session.set_dc(endpoint.dc_id, endpoint.host, endpoint.port)
    client = TelegramClient(
        session,
        SANDBOX_API_ID,
        SANDBOX_API_HASH,
        device_model="mcpgram sandbox accept-qr",
        # Telethon drops a leading zero byte of the new auth key, so about 1 in 256 key exchanges
        # fails its nonce-hash check and is retried: one attempt is not enough.
        connection_retries=3,
        request_retries=1,
        flood_sleep_threshold=0,
    )
    try:
        await asyncio.wait_for(client.connect(), 15)
        await _sign_in(client, phone, code, password)
        try:
            authorization: Any = await client(functions.auth.AcceptLoginTokenRequest(token))
        finally:
            await client.log_out()
    finally:
        await client.disconnect()
    print(
        f"accepted: {authorization.app_name} on {authorization.device_model} is now logged in as {phone}",
        file=out,
        flush=True,
    )
    return 0


async def _sign_in(client: TelegramClient, phone: str, code: str, password: str | None) -> None:
    sent = await client.send_code_request(phone)
    try:
        await client.sign_in(phone, code, phone_code_hash=sent.phone_code_hash)
    except errors.SessionPasswordNeededError:
        if password is None:
            if not sys.stdin.isatty():
                raise ValueError("the account has a 2FA password: give --password") from None
            password = await asyncio.to_thread(getpass.getpass, "2FA password: ")
        await client.sign_in(password=password)
