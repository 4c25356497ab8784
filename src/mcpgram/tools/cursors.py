"""Opaque, tamper-proof pagination cursors bound to one tenant and one chat.

A cursor is ``base64url(payload) + "." + base64url(HMAC-SHA256(key, tenant | payload))[:22]``. A
forged cursor, or one minted for another tenant, is refused instead of silently paging somewhere
else. Pure functions; the key comes from the server secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from ..errors import InvalidCursor

_MAC_CHARS = 22  # 128 bits


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, tenant_id: str, body: str) -> str:
    return _b64(hmac.new(key, f"{tenant_id}|{body}".encode(), hashlib.sha256).digest())[:_MAC_CHARS]


def encode_cursor(key: bytes, tenant_id: str, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_mac(key, tenant_id, body)}"


def decode_cursor(key: bytes, tenant_id: str, cursor: str) -> dict[str, Any]:
    """The payload of a cursor this server minted for this tenant; InvalidCursor otherwise."""
    refusal = InvalidCursor("cursor is not valid here", hint="start again without a cursor")
    if len(cursor) > 512 or cursor.count(".") != 1:
        raise refusal
    body, mac = cursor.split(".")
    # Compared as bytes: compare_digest raises TypeError on a str with non-ASCII characters.
    if not hmac.compare_digest(mac.encode(), _mac(key, tenant_id, body).encode()):
        raise refusal
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        raise refusal from None
    if not isinstance(payload, dict):
        raise refusal
    return payload
