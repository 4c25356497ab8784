"""HMAC-SHA256 under a fixed key, cheaply, for the journal's hot path. Pure.

The standard construction (RFC 2104), ``H((K ^ opad) || H((K ^ ipad) || m))``, with both padded
keys hashed once: a MAC then costs two copies of a hash state and the message's own blocks. The
``hmac`` module's one-shot ``hmac.digest(key, msg, "sha256")`` asks OpenSSL 3 for the digest by
name on every call, which costs three times as much in a tight loop and more in a busy server
(bench/audit.py). The results are ``hmac``'s byte for byte (``tests/audit/test_entry.py``).
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["KeyedHash"]

_BLOCK = 64  # SHA-256's block size


class KeyedHash:
    """HMAC-SHA256 under ``key``: :meth:`hexdigest` of a message, or :meth:`stream` to feed pieces."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        padded = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def __repr__(self) -> str:
        return "KeyedHash(***)"

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def stream(self) -> KeyedStream:
        return KeyedStream(self._inner.copy(), self._outer)


class KeyedStream:
    """One MAC fed in pieces (``update``), read once with :meth:`hexdigest`."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, inner: Any, outer: Any) -> None:
        self._inner = inner
        self._outer = outer

    def update(self, data: bytes) -> None:
        self._inner.update(data)

    def hexdigest(self) -> str:
        outer = self._outer.copy()
        outer.update(self._inner.digest())
        result: str = outer.hexdigest()
        return result
