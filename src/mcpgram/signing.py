"""Signed, expiring download capabilities for attachments (``GET /v1/attachments/<capability>``). Pure.

A capability is an AEAD envelope (AES-256-GCM), base64url without padding::

    version (1) | key id (1) | route (8) | nonce (12) | ciphertext + tag (16)

The first 10 bytes are cleartext and authenticated as associated data: the key id picks the
attachment key, and the route (a hash of the bearer token it was minted under,
``web/frontwire.route_hash``) lets the multi-worker front send the request to the worker that owns
the tenant without decrypting anything. The encrypted payload holds what the download needs and
nothing else: the tenant id, the tenant's vault *data key* (so the tenant's sealed session can be
opened without its bearer token, after a restart and on any process with the same keys), the
token generation it was minted under (``TenantRecord.key_version``: a rotated or revoked token's
capabilities are refused), the expiry, the chat, message, media id and size choice, and whether a
person approved the download it came from (one trailing byte, present only then). The bearer
token itself is never in it.

Attachment keys: a :class:`Keyring` of numbered 256-bit keys; the first is current (mints), the
others only verify, so an old key keeps working until the capabilities minted under it expire.
Each key is HKDF-SHA256 of an operator secret (``MCPGRAM_ATTACHMENT_KEYS``) salted with the server
secret; with none configured, key id 0 derives from the server secret alone.

Must not: do I/O, read the clock (``now`` is a parameter), or log.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import TicketExpired, TicketInvalid

__all__ = [
    "DEFAULT_TTL_SECONDS",
    "MAX_CAPABILITY_CHARS",
    "Capability",
    "Keyring",
    "derive_key",
    "mint",
    "open_capability",
    "peek_route",
]

VERSION = 1
DEFAULT_TTL_SECONDS = 900
_HEADER = struct.Struct(">BBQ")  # version, key id, route
_NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_INFO = b"mcpgram/attachment-key/v1|"
_AAD_LABEL = b"mcpgram/attachment/v1|"
# tenant id (length-prefixed), data key, key version, expiry, chat, message, media, size (prefixed)
_FIXED = struct.Struct(">32sIIqiq")
_MAX_TENANT = 64
_MAX_SIZE_CHOICE = 16
#: Longer input is refused before decoding (a real one is about 180 characters).
MAX_CAPABILITY_CHARS = 400

RandomBytes = Callable[[int], bytes]


def _refused() -> TicketInvalid:
    # One message for every way a capability can be wrong: a caller learns nothing about which.
    return TicketInvalid(
        "this download link is not valid", hint="ask the agent for a new link (download_media)"
    )


@dataclass(frozen=True)
class Capability:
    """What a download link grants: one media of one message, for one tenant, until ``expires``.

    ``data_key`` is the tenant's vault data key; the repr never shows it.
    """

    tenant_id: str
    data_key: bytes = field(repr=False)
    key_version: int
    expires: int
    chat: int
    message: int
    media: int
    size: str
    #: ``web/frontwire.route_hash`` of the minting token (0 without one): picks the worker.
    route: int = 0
    #: Minted for a download a person approved (the policy's ``download`` or ``read`` was
    #: ``approve``): only such a link is served while the policy still says ``approve``.
    approved: bool = False


def derive_key(secret: bytes, *, server_secret: bytes, key_id: int) -> bytes:
    """The attachment key number ``key_id``: HKDF-SHA256(secret), salted with the server secret."""
    if len(secret) < 16:
        raise ValueError("an attachment key secret must have at least 128 bits")
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=server_secret, info=_KEY_INFO + str(key_id).encode()
    )
    return hkdf.derive(secret)


class Keyring:
    """Numbered attachment keys (0-255); the first one given mints, all of them verify."""

    def __init__(self, keys: Iterable[tuple[int, bytes]]) -> None:
        items = list(keys)
        if not items:
            raise ValueError("a keyring needs at least one key")
        self._keys: dict[int, AESGCM] = {}
        for key_id, key in items:
            if not 0 <= key_id <= 255 or key_id in self._keys or len(key) != 32:
                raise ValueError("key ids must be distinct numbers 0-255, keys 32 bytes")
            self._keys[key_id] = AESGCM(key)
        self.current = items[0][0]

    def __repr__(self) -> str:
        return f"Keyring(current={self.current}, ids={sorted(self._keys)})"

    @classmethod
    def from_secrets(cls, secrets: Iterable[tuple[int, bytes]], *, server_secret: bytes) -> Keyring:
        """Keys derived from operator secrets ``(key id, secret)``, current first; none: id 0 from
        the server secret itself."""
        given = list(secrets) or [(0, server_secret)]
        return cls((key_id, derive_key(s, server_secret=server_secret, key_id=key_id)) for key_id, s in given)

    def cipher(self, key_id: int) -> AESGCM | None:
        return self._keys.get(key_id)


def _aad(header: bytes) -> bytes:
    return _AAD_LABEL + header


def _encode_payload(cap: Capability) -> bytes:
    tenant = cap.tenant_id.encode()
    size = cap.size.encode("ascii")
    if not 0 < len(tenant) <= _MAX_TENANT or len(size) > _MAX_SIZE_CHOICE or len(cap.data_key) != 32:
        raise ValueError("tenant id, size choice or data key out of bounds")
    fixed = _FIXED.pack(cap.data_key, cap.key_version, cap.expires, cap.chat, cap.message, cap.media)
    flag = b"\x01" if cap.approved else b""  # absent on links of no approval (their bytes unchanged)
    return bytes([len(tenant)]) + tenant + fixed + bytes([len(size)]) + size + flag


def _decode_payload(data: bytes, route: int) -> Capability:
    tenant_len = data[0]
    at = 1 + tenant_len
    data_key, key_version, expires, chat, message, media = _FIXED.unpack_from(data, at)
    at += _FIXED.size
    size_len = data[at]
    size = data[at + 1 : at + 1 + size_len]
    flag = data[at + 1 + size_len :]
    if len(size) != size_len or flag not in (b"", b"\x01"):
        raise ValueError("payload length mismatch")
    return Capability(
        tenant_id=data[1 : 1 + tenant_len].decode(),
        data_key=data_key,
        key_version=key_version,
        expires=expires,
        chat=chat,
        message=message,
        media=media,
        size=size.decode("ascii"),
        route=route,
        approved=flag == b"\x01",
    )


def mint(keyring: Keyring, cap: Capability, *, randbytes: RandomBytes = os.urandom) -> str:
    """The capability's URL-safe text, sealed under the keyring's current key.

    ``randbytes`` exists for known-answer tests; real callers never pass it.
    """
    cipher = keyring.cipher(keyring.current)
    assert cipher is not None
    header = _HEADER.pack(VERSION, keyring.current, cap.route)
    nonce = randbytes(_NONCE_BYTES)
    if len(nonce) != _NONCE_BYTES:
        raise ValueError("a GCM nonce must be 12 bytes")
    sealed = cipher.encrypt(nonce, _encode_payload(cap), _aad(header))
    return base64.urlsafe_b64encode(header + nonce + sealed).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes | None:
    if not text or len(text) > MAX_CAPABILITY_CHARS or not text.isascii() or "=" in text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # Exactly one text per byte string: unused trailing bits must be zero (no aliases of one link).
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        return None
    if len(raw) < _HEADER.size + _NONCE_BYTES + _TAG_BYTES + 1 or raw[0] != VERSION:
        return None
    return raw


def peek_route(text: str) -> int | None:
    """The cleartext route of a well-formed capability (unauthenticated: only to pick a worker)."""
    raw = _decode(text)
    return None if raw is None else _HEADER.unpack_from(raw)[2]


def open_capability(keyring: Keyring, text: str, *, now: float) -> Capability:
    """Verify and decrypt a capability.

    Raises:
        TicketInvalid: malformed, truncated, altered, or sealed under a key this keyring lacks.
        TicketExpired: authentic, but ``now`` is past its expiry.
    """
    raw = _decode(text)
    if raw is None:
        raise _refused()
    _, key_id, route = _HEADER.unpack_from(raw)
    cipher = keyring.cipher(key_id)
    if cipher is None:
        raise _refused()
    header = raw[: _HEADER.size]
    nonce = raw[_HEADER.size : _HEADER.size + _NONCE_BYTES]
    try:
        payload = cipher.decrypt(nonce, raw[_HEADER.size + _NONCE_BYTES :], _aad(header))
        cap = _decode_payload(payload, route)
    except (InvalidTag, ValueError, IndexError, struct.error):
        raise _refused() from None
    if now >= cap.expires:
        raise TicketExpired(
            "this download link has expired", hint="ask the agent for a new link (download_media)"
        )
    return cap
