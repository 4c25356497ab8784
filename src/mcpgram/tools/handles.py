"""Media handles: a compact, tenant-bound name for a message's photo or document. Pure, no I/O.

A handle is ``base64url(version | chat | message | media id | MAC)``: 1 + 8 + 4 + 8 bytes of
payload and a 12-byte (96-bit) HMAC-SHA256 tag, 44 URL-safe characters. The tag covers the calling
tenant's id, so a handle minted for one tenant is refused for every other one, and a forged or
altered handle is refused before Telegram is asked anything. The key is derived from the cursor key
(itself from the server secret), so handles outlive restarts and work on every worker with the
same secret; rotating the secret retires them. ``get_messages``/``search_messages``/``get_chat``
results carry one per message with media (``media.handle``); ``send_message`` files take it back,
and ``download_media`` (issue 11 item 4) is meant to take the same handle.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from typing import Any

from ..errors import InvalidArgument
from ..telegram.shapes import pruned
from .context import ToolContext

__all__ = ["HANDLE_CHARS", "decode_handle", "encode_handle", "handle_key", "message_dict"]

_VERSION = 1
_PAYLOAD = struct.Struct(">Bqiq")
_TAG_BYTES = 12
#: Length of every handle (no padding).
HANDLE_CHARS = 44


def handle_key(cursor_key: bytes) -> bytes:
    """The handle key, derived from the cursor key so the two never sign each other's tokens."""
    return hmac.new(cursor_key, b"mcpgram/media-handle/v1", hashlib.sha256).digest()


def _tag(key: bytes, tenant_id: str, payload: bytes) -> bytes:
    return hmac.new(key, tenant_id.encode() + b"|" + payload, hashlib.sha256).digest()[:_TAG_BYTES]


def encode_handle(key: bytes, tenant_id: str, ref: tuple[int, int, int]) -> str:
    """The handle of ``(chat, message id, media id)`` for ``tenant_id``."""
    payload = _PAYLOAD.pack(_VERSION, *ref)
    return base64.urlsafe_b64encode(payload + _tag(key, tenant_id, payload)).decode()


def decode_handle(key: bytes, tenant_id: str, handle: str) -> tuple[int, int, int]:
    """``(chat, message id, media id)`` of a handle minted for ``tenant_id``.

    Raises:
        InvalidArgument: ``MEDIA_HANDLE_INVALID`` for a malformed, altered or another tenant's handle.
    """
    refused = InvalidArgument(
        "the media handle is not valid for this account",
        code="MEDIA_HANDLE_INVALID",
        hint="use media.handle from get_messages, as it came",
    )
    if len(handle) != HANDLE_CHARS or not handle.isascii():
        raise refused
    try:
        raw = base64.urlsafe_b64decode(handle)
    except (binascii.Error, ValueError):
        raise refused from None
    payload, tag = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    if len(tag) != _TAG_BYTES or not hmac.compare_digest(tag, _tag(key, tenant_id, payload)):
        raise refused
    version, chat, message, media = _PAYLOAD.unpack(payload)
    if version != _VERSION:
        raise refused
    return chat, message, media


def message_dict(ctx: ToolContext, message: Any) -> dict[str, Any]:
    """A pruned message whose media ``ref`` became the calling tenant's ``handle`` (inside ``ctx.run``)."""
    result = pruned(message)
    media = result.get("media")
    if isinstance(media, dict) and "ref" in media:
        chat, msg_id, media_id = media.pop("ref")
        media["handle"] = encode_handle(handle_key(ctx.cursor_key), ctx.tenant(), (chat, msg_id, media_id))
    return result
