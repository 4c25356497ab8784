"""Known-answer vectors pin the vault's on-disk envelope (format v1) byte for byte.

Round-trip tests pass for any self-consistent format, so a refactor that changed the HKDF info, the
AAD layout or the blob header would pass them and make every existing vault unreadable. These tests
recompute ``vectors.json`` (written once by ``make_vectors.py``) with the current code, and also
check each vector against the raw primitives, so the layout the JSON documents is the real one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mcpgram import auth
from mcpgram.vault import crypto

VECTORS: dict[str, Any] = json.loads((Path(__file__).parent / "vectors.json").read_text())
BLOBS = VECTORS["wrapped_data_keys"] + VECTORS["sealed_records"]


def _ids(cases: list[dict[str, str]]) -> list[str]:
    return [f"{case['tenant_id']}-{case.get('purpose', 'hkdf')}" for case in cases]


def test_token_digest_and_fingerprint_are_pinned() -> None:
    """The stored token digest (the lookup key) and the fingerprint operators see are unchanged."""
    case = VECTORS["token"]
    server_secret = bytes.fromhex(case["server_secret_hex"])
    assert auth.token_digest(server_secret, case["token"]).hex() == case["digest_hex"]
    assert auth.token_fingerprint(server_secret, case["token"]) == case["fingerprint"]
    assert auth.token_secret_bytes(case["token"]).hex() == VECTORS["hkdf_sha256"][0]["secret_hex"]


@pytest.mark.parametrize("case", VECTORS["hkdf_sha256"], ids=_ids(VECTORS["hkdf_sha256"]))
def test_wrapping_keys_are_pinned(case: dict[str, str]) -> None:
    """HKDF-SHA256(secret, salt = server secret, info = label|tenant id) gives the pinned key."""
    secret, salt = bytes.fromhex(case["secret_hex"]), bytes.fromhex(case["salt_hex"])
    derived = crypto.derive_wrapping_key(secret, server_secret=salt, tenant_id=case["tenant_id"])
    assert derived.hex() == case["key_hex"]
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=case["info"].encode()).derive(secret)
    assert raw == derived


@pytest.mark.parametrize("case", BLOBS, ids=_ids(BLOBS))
def test_sealing_with_a_fixed_nonce_gives_the_pinned_bytes(case: dict[str, str]) -> None:
    """Wrapped data keys and sealed records come out byte-identical to the v1 vectors."""
    key, nonce = bytes.fromhex(case["key_hex"]), bytes.fromhex(case["nonce_hex"])
    plaintext = bytes.fromhex(case["plaintext_hex"])
    if case["purpose"] == "data-key":
        blob = crypto.wrap_data_key(key, plaintext, tenant_id=case["tenant_id"], randbytes=lambda n: nonce)
    else:
        blob = crypto.seal(
            key, plaintext, tenant_id=case["tenant_id"], purpose=case["purpose"], randbytes=lambda n: nonce
        )
    assert blob.hex() == case["blob_hex"]


@pytest.mark.parametrize("case", BLOBS, ids=_ids(BLOBS))
def test_pinned_blobs_open_and_match_the_documented_layout(case: dict[str, str]) -> None:
    """Each pinned blob opens with the current code, and is exactly 0x01 | nonce | GCM(aad) as documented."""
    key, blob = bytes.fromhex(case["key_hex"]), bytes.fromhex(case["blob_hex"])
    plaintext = bytes.fromhex(case["plaintext_hex"])
    if case["purpose"] == "data-key":
        opened = crypto.unwrap_data_key(key, blob, tenant_id=case["tenant_id"])
    else:
        opened = crypto.open_sealed(key, blob, tenant_id=case["tenant_id"], purpose=case["purpose"])
    assert opened == plaintext
    assert blob[:1] == b"\x01" and blob[1:13] == bytes.fromhex(case["nonce_hex"])
    assert AESGCM(key).decrypt(blob[1:13], blob[13:], case["aad"].encode()) == plaintext


def test_an_injected_nonce_must_have_the_gcm_length() -> None:
    """A nonce source returning the wrong length is refused, not silently padded into the header."""
    with pytest.raises(ValueError, match="12 bytes"):
        crypto.seal(b"k" * 32, b"x", tenant_id="t", purpose="session", randbytes=lambda n: b"short")
