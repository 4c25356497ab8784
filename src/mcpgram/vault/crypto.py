"""The vault's envelope encryption: pure functions over bytes, no storage and no I/O.

Each tenant has a random 256-bit *data key*. Secrets (the Telegram session, the entity cache) are
sealed with AES-256-GCM under that data key. The data key itself is stored only *wrapped*: sealed
under a key derived with HKDF-SHA256 from the tenant's bearer token (or, for the local owner
tenant, from a key file), salted with the server secret. Every ciphertext binds the tenant id, the
record's purpose and a version as associated data, so a row copied to another tenant, or a session
blob swapped into the wrapped-key slot, fails to open instead of decrypting to the wrong thing.

Consequences: a copied database is useless without the tokens; rotating a token re-wraps only the
32-byte data key; nothing here ever sees a token after :func:`derive_wrapping_key` returns.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import DecryptFailed

#: Envelope format version; part of every associated-data string.
VERSION = 1
KEY_BYTES = 32
_NONCE_BYTES = 12
_HEADER = struct.Struct(">B12s")  # version, nonce
_WRAP_INFO = b"mcpgram/vault/wrap-key/v1"

#: Where nonces come from; a parameter only so known-answer tests can fix them.
RandomBytes = Callable[[int], bytes]


def new_data_key() -> bytes:
    """A fresh random AES-256 key for one tenant."""
    return AESGCM.generate_key(bit_length=256)


def derive_wrapping_key(secret: bytes, *, server_secret: bytes, tenant_id: str) -> bytes:
    """HKDF-SHA256(token or owner key) -> the key that wraps one tenant's data key.

    The server secret is the HKDF salt and the tenant id is part of ``info``, so the same token
    can never unwrap another tenant's key, and the database plus tokens without the server secret
    is not enough either.
    """
    if len(secret) < 16:
        raise ValueError("the wrapping secret must have at least 128 bits")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=server_secret,
        info=_WRAP_INFO + b"|" + tenant_id.encode(),
    )
    return hkdf.derive(secret)


def _aad(tenant_id: str, purpose: str) -> bytes:
    return f"mcpgram|v{VERSION}|{tenant_id}|{purpose}".encode()


def seal(
    key: bytes, plaintext: bytes, *, tenant_id: str, purpose: str, randbytes: RandomBytes = os.urandom
) -> bytes:
    """AES-256-GCM with a random nonce; output is ``version | nonce | ciphertext+tag``.

    ``randbytes`` exists for the known-answer vectors in ``tests/vault/vectors.json``; real callers
    never pass it (a repeated nonce under one key breaks GCM).
    """
    nonce = randbytes(_NONCE_BYTES)
    if len(nonce) != _NONCE_BYTES:
        raise ValueError("a GCM nonce must be 12 bytes")
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, _aad(tenant_id, purpose))
    return _HEADER.pack(VERSION, nonce) + ciphertext


def open_sealed(key: bytes, blob: bytes, *, tenant_id: str, purpose: str) -> bytes:
    """Inverse of :func:`seal`. Any mismatch (key, tenant, purpose, bytes) raises DecryptFailed."""
    if len(blob) < _HEADER.size + 16:
        raise DecryptFailed("stored secret is truncated")
    version, nonce = _HEADER.unpack_from(blob)
    if version != VERSION:
        raise DecryptFailed("stored secret has an unknown format version")
    try:
        return AESGCM(key).decrypt(nonce, blob[_HEADER.size :], _aad(tenant_id, purpose))
    except InvalidTag:
        raise DecryptFailed("stored secret does not open with this key") from None


def wrap_data_key(
    wrapping_key: bytes, data_key: bytes, *, tenant_id: str, randbytes: RandomBytes = os.urandom
) -> bytes:
    return seal(wrapping_key, data_key, tenant_id=tenant_id, purpose="data-key", randbytes=randbytes)


def unwrap_data_key(wrapping_key: bytes, wrapped: bytes, *, tenant_id: str) -> bytes:
    data_key = open_sealed(wrapping_key, wrapped, tenant_id=tenant_id, purpose="data-key")
    if len(data_key) != KEY_BYTES:
        raise DecryptFailed("stored data key has the wrong size")
    return data_key
