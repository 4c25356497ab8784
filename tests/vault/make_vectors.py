"""One-off: write ``vectors.json``, the known-answer vectors of vault envelope format v1.

Written once from the code of the commit that added it; ``test_vectors.py`` recomputes every value
with the current code. When that test fails, the change broke every existing vault: fix the code,
never rerun this script (it refuses to overwrite the file). A new format gets new vectors next to
these, and these stay, because old vaults must still open. All inputs are TEST-ONLY values.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from mcpgram import auth
from mcpgram.vault import crypto

OUT = Path(__file__).parent / "vectors.json"

SERVER_SECRET = bytes(range(0x00, 0x20))
TOKEN = "mcpg_" + base64.urlsafe_b64encode(bytes(range(0x20, 0x40))).rstrip(b"=").decode()
OWNER_KEY = bytes(range(0x40, 0x60))
TENANT_ID = "tnt_0123456789abcdef"
OWNER_TENANT_ID = "owner"
DATA_KEY = bytes(range(0x60, 0x80))
OWNER_DATA_KEY = bytes(range(0x80, 0xA0))
SESSION = b"TEST-ONLY session bytes " + bytes(range(0xA0, 0xC0))
ENTITIES = b'{"TEST-ONLY": "entity cache"}'


def _nonce(first: int) -> bytes:
    return bytes(range(first, first + 12))


def _fixed(nonce: bytes) -> crypto.RandomBytes:
    return lambda n: nonce[:n]


def _sealed(key: bytes, plaintext: bytes, tenant_id: str, purpose: str, nonce: bytes) -> dict[str, str]:
    blob = crypto.seal(key, plaintext, tenant_id=tenant_id, purpose=purpose, randbytes=_fixed(nonce))
    return {
        "tenant_id": tenant_id,
        "purpose": purpose,
        "key_hex": key.hex(),
        "nonce_hex": nonce.hex(),
        "aad": f"mcpgram|v1|{tenant_id}|{purpose}",
        "plaintext_hex": plaintext.hex(),
        "blob_hex": blob.hex(),
    }


def _wrapping(secret: bytes, tenant_id: str) -> dict[str, str]:
    key = crypto.derive_wrapping_key(secret, server_secret=SERVER_SECRET, tenant_id=tenant_id)
    return {
        "tenant_id": tenant_id,
        "secret_hex": secret.hex(),
        "salt_hex": SERVER_SECRET.hex(),
        "info": f"mcpgram/vault/wrap-key/v1|{tenant_id}",
        "key_hex": key.hex(),
    }


def vectors() -> dict[str, object]:
    token_wrapping = _wrapping(auth.token_secret_bytes(TOKEN), TENANT_ID)
    owner_wrapping = _wrapping(OWNER_KEY, OWNER_TENANT_ID)
    token_key = bytes.fromhex(token_wrapping["key_hex"])
    owner_key = bytes.fromhex(owner_wrapping["key_hex"])
    return {
        "note": "Vault envelope format v1, TEST-ONLY inputs. Never regenerate: see make_vectors.py.",
        "layout": "blob = version (1 byte, 0x01) | nonce (12 bytes) | AES-256-GCM ciphertext+tag",
        "token": {
            "server_secret_hex": SERVER_SECRET.hex(),
            "token": TOKEN,
            "digest_hex": auth.token_digest(SERVER_SECRET, TOKEN).hex(),
            "fingerprint": auth.token_fingerprint(SERVER_SECRET, TOKEN),
        },
        "hkdf_sha256": [token_wrapping, owner_wrapping],
        "wrapped_data_keys": [
            _sealed(token_key, DATA_KEY, TENANT_ID, "data-key", _nonce(0xC0)),
            _sealed(owner_key, OWNER_DATA_KEY, OWNER_TENANT_ID, "data-key", _nonce(0xD0)),
        ],
        "sealed_records": [
            _sealed(DATA_KEY, SESSION, TENANT_ID, "session", _nonce(0xE0)),
            _sealed(DATA_KEY, ENTITIES, TENANT_ID, "entities", _nonce(0xF0)),
            _sealed(OWNER_DATA_KEY, SESSION, OWNER_TENANT_ID, "session", _nonce(0xE0)),
        ],
    }


def main() -> None:
    if OUT.exists():
        raise SystemExit(f"{OUT} exists; the vectors are written once and never regenerated")
    OUT.write_text(json.dumps(vectors(), indent=2) + "\n")


if __name__ == "__main__":
    main()
