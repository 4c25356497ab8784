"""Bearer tokens: minting, strict parsing, and the keyed hash that is all the server ever stores.

A token is ``mcpg_`` followed by 43 url-safe base64 characters (256 random bits). The server keeps
only ``HMAC-SHA256(server_secret, token)``: a leaked database yields no usable token, and lookups by
that digest need no constant-time scan. The format is checked *before* any lookup, so hostile input
(``../``, reserved-looking names, query-string junk, oversized strings) never reaches storage.
Tokens never become file names, paths or log lines; :func:`token_fingerprint` is what logs show.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

PREFIX = "mcpg_"
_RANDOM_BYTES = 32
_BODY_LEN = 43  # base64url of 32 bytes, unpadded
_TOKEN_RE = re.compile(rf"^{PREFIX}[A-Za-z0-9_-]{{{_BODY_LEN}}}$")
MAX_TOKEN_LEN = len(PREFIX) + _BODY_LEN


def new_token() -> str:
    """A fresh token: ``mcpg_`` + 256-bit url-safe random."""
    body = base64.urlsafe_b64encode(secrets.token_bytes(_RANDOM_BYTES)).rstrip(b"=").decode()
    return PREFIX + body


def is_well_formed(candidate: object) -> bool:
    """Strict format check; anything else is refused without touching storage."""
    if not isinstance(candidate, str) or len(candidate) != MAX_TOKEN_LEN:
        return False
    if not _TOKEN_RE.match(candidate):
        return False
    # The last base64 character of 256 bits carries 2 padding bits that must be zero; a token with
    # them set was not minted here (and would alias another token after decoding).
    raw = base64.urlsafe_b64decode(candidate[len(PREFIX) :] + "=")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == candidate[len(PREFIX) :]


def token_digest(server_secret: bytes, token: str) -> bytes:
    """What the server stores and looks tokens up by."""
    return hmac.new(server_secret, token.encode(), hashlib.sha256).digest()


def digests_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def token_fingerprint(server_secret: bytes, token: str) -> str:
    """A short, non-reversible label for logs and `token list` (first 8 hex of a separate HMAC)."""
    return hmac.new(server_secret, b"fingerprint|" + token.encode(), hashlib.sha256).hexdigest()[:8]


def token_secret_bytes(token: str) -> bytes:
    """The token's key material for deriving the tenant's wrapping key."""
    if not is_well_formed(token):
        raise ValueError("not a well-formed token")
    return token.encode()
