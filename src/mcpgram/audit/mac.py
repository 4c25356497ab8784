"""HMAC-SHA256 under a fixed key, cheaply, for the journal's hot path. Pure.

The standard construction (RFC 2104), ``H((K ^ opad) || H((K ^ ipad) || m))``, with both padded
keys hashed once: a MAC then costs two copies of a hash state and the message's own blocks. The
``hmac`` module's one-shot ``hmac.digest(key, msg, "sha256")`` asks OpenSSL 3 for the digest by
name on every call, which costs three times as much in a tight loop and more in a busy server
(bench/audit.py). The results are ``hmac``'s byte for byte (``tests/audit/test_entry.py``).

Which SHA-256: a journal line and a text's digest are a few hundred bytes, hashed once per write in
a server busy with other calls, so the hash's code is cold by then. CPython's own SHA-256 (the
``_sha2`` module, ``_sha256`` before 3.12; HACL*'s verified code since 3.12) is a small C loop, and
cold it costs about 6.5 µs per MAC against OpenSSL's 10 µs, whose every copy and final goes through
its provider layer (2026-12-07, a loop that evicts the caches between MACs; hot, OpenSSL's is
faster: 0.9 against 1.6 µs). So messages up to :data:`SMALL` bytes use CPython's, longer ones and
streams (files) OpenSSL's (SHA extensions: several times faster per byte). Both are SHA-256: the
same MAC either way. A CPython built without its own hashes uses OpenSSL's for all.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["SMALL", "SMALL_HASHER", "KeyedHash"]

_BLOCK = 64  # SHA-256's block size
#: Messages up to this many bytes are hashed by CPython's own SHA-256 (see the module doc).
SMALL = 2048


def _cpython_sha256() -> Callable[[bytes], Any]:
    for module in ("_sha2", "_sha256"):  # CPython 3.12 and newer, CPython 3.11
        try:
            sha256: Callable[[bytes], Any] = importlib.import_module(module).sha256
        except (ImportError, AttributeError):
            continue
        return sha256
    return hashlib.sha256  # built without its own hashes


_small_sha256 = _cpython_sha256()
#: The module whose SHA-256 hashes short messages (``_sha2``, ``_sha256``; ``_hashlib``: OpenSSL's).
SMALL_HASHER: str = getattr(_small_sha256, "__module__", None) or "?"


class KeyedHash:
    """HMAC-SHA256 under ``key``: :meth:`hexdigest` of a message, or :meth:`stream` to feed pieces."""

    __slots__ = ("_inner", "_outer", "_small_inner", "_small_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        padded = key.ljust(_BLOCK, b"\0")
        inner, outer = bytes(b ^ 0x36 for b in padded), bytes(b ^ 0x5C for b in padded)
        self._inner, self._outer = hashlib.sha256(inner), hashlib.sha256(outer)
        self._small_inner, self._small_outer = _small_sha256(inner), _small_sha256(outer)

    def __repr__(self) -> str:
        return "KeyedHash(***)"

    def hexdigest(self, message: bytes) -> str:
        if len(message) > SMALL:
            inner, outer = self._inner.copy(), self._outer.copy()
        else:
            inner, outer = self._small_inner.copy(), self._small_outer.copy()
        inner.update(message)
        outer.update(inner.digest())
        result: str = outer.hexdigest()
        return result

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
