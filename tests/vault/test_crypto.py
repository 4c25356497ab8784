"""The vault envelope: sealing, wrapping and the ways it must fail closed."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from mcpgram.errors import DecryptFailed
from mcpgram.vault import crypto

SERVER_SECRET = b"s" * 32
TOKEN = b"mcpg_" + b"A" * 43


def _wrapping_key(tenant: str = "t1", token: bytes = TOKEN, server_secret: bytes = SERVER_SECRET) -> bytes:
    return crypto.derive_wrapping_key(token, server_secret=server_secret, tenant_id=tenant)


def test_sealed_data_opens_with_the_same_key_tenant_and_purpose() -> None:
    """A sealed blob round-trips when key, tenant and purpose all match."""
    key = crypto.new_data_key()
    blob = crypto.seal(key, b"session bytes", tenant_id="t1", purpose="session")
    assert b"session bytes" not in blob
    assert crypto.open_sealed(key, blob, tenant_id="t1", purpose="session") == b"session bytes"


def test_sealing_twice_gives_different_ciphertexts() -> None:
    """Nonces are random, so equal plaintexts never produce equal blobs."""
    key = crypto.new_data_key()
    first = crypto.seal(key, b"x", tenant_id="t", purpose="p")
    assert first != crypto.seal(key, b"x", tenant_id="t", purpose="p")


def _flip_last(blob: bytes) -> bytes:
    return blob[:-1] + bytes([blob[-1] ^ 1])


@pytest.mark.parametrize(
    ("case", "tenant", "purpose", "other_key", "mangle"),
    [
        ("other tenant", "t2", "session", False, None),
        ("other purpose", "t1", "entities", False, None),
        ("wrong key", "t1", "session", True, None),
        ("flipped byte", "t1", "session", False, _flip_last),
        ("truncated", "t1", "session", False, lambda b: b[:20]),
        ("empty", "t1", "session", False, lambda b: b""),
        ("unknown version", "t1", "session", False, lambda b: b"\x09" + b[1:]),
    ],
)
def test_any_mismatch_fails_closed(
    case: str, tenant: str, purpose: str, other_key: bool, mangle: Callable[[bytes], bytes] | None
) -> None:
    """Swapped tenants or purposes, wrong keys and tampered or truncated bytes all raise DecryptFailed."""
    key = crypto.new_data_key()
    blob = crypto.seal(key, b"secret", tenant_id="t1", purpose="session")
    if mangle is not None:
        blob = mangle(blob)
    opening_key = crypto.new_data_key() if other_key else key
    with pytest.raises(DecryptFailed):
        crypto.open_sealed(opening_key, blob, tenant_id=tenant, purpose=purpose)


def test_wrapped_data_key_needs_the_right_token_tenant_and_server_secret() -> None:
    """A data key unwraps only with the token, tenant id and server secret it was wrapped with."""
    data_key = crypto.new_data_key()
    wrapped = crypto.wrap_data_key(_wrapping_key(), data_key, tenant_id="t1")
    assert crypto.unwrap_data_key(_wrapping_key(), wrapped, tenant_id="t1") == data_key
    for wrong in (
        _wrapping_key(token=b"mcpg_" + b"B" * 43),
        _wrapping_key(tenant="t2"),
        _wrapping_key(server_secret=os.urandom(32)),
    ):
        with pytest.raises(DecryptFailed):
            crypto.unwrap_data_key(wrong, wrapped, tenant_id="t1")


def test_a_session_blob_cannot_pose_as_a_wrapped_key() -> None:
    """Purpose binding: a blob sealed as a session is refused where a wrapped data key is expected."""
    wrapping_key = _wrapping_key()
    session_blob = crypto.seal(wrapping_key, os.urandom(32), tenant_id="t1", purpose="session")
    with pytest.raises(DecryptFailed):
        crypto.unwrap_data_key(wrapping_key, session_blob, tenant_id="t1")


def test_short_wrapping_secrets_are_refused() -> None:
    """Key material under 128 bits cannot derive a wrapping key."""
    with pytest.raises(ValueError, match="128 bits"):
        crypto.derive_wrapping_key(b"short", server_secret=SERVER_SECRET, tenant_id="t1")
