"""Bearer tokens: format, digests and the hostile inputs refused before any lookup."""

from __future__ import annotations

import pytest

from mcpgram import auth

SECRET = b"k" * 32


def test_new_tokens_are_well_formed_and_unique() -> None:
    """Minted tokens pass the strict check, carry the prefix and never repeat."""
    tokens = {auth.new_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(t.startswith("mcpg_") and auth.is_well_formed(t) for t in tokens)


VALID = auth.new_token()


@pytest.mark.parametrize(
    "candidate",
    [
        None,
        "",
        "mcpg_",
        "Bearer " + VALID,
        VALID + "x",
        VALID[:-1],
        VALID.upper(),
        "../../etc/passwd",
        "mcpg_../../../../../../../../../../../../../etc/passwd",
        "mcpg_" + "A" * 42 + "/",
        "mcpg_" + "A" * 42 + "=",
        "telegram",
        "default",
        "session",
        "mcpg_" + "A" * 42 + "B",  # non-zero padding bits: not a minted token
        VALID.replace("mcpg_", "MCPG_"),
        " " + VALID,
        VALID + "\n",
        VALID[:10] + "\x00" + VALID[11:],
        "mcpg_" + "é" * 43,
        "x" * 10_000,
        12345,
        b"mcpg_" + b"A" * 43,
    ],
)
def test_malformed_tokens_are_refused(candidate: object) -> None:
    """Traversal paths, reserved names, padding tricks, case, whitespace and junk fail the format check."""
    assert not auth.is_well_formed(candidate)


def test_digest_is_keyed_and_stable() -> None:
    """The stored digest depends on the server secret and is the same for the same token."""
    token = auth.new_token()
    assert auth.token_digest(SECRET, token) == auth.token_digest(SECRET, token)
    assert auth.token_digest(SECRET, token) != auth.token_digest(b"j" * 32, token)
    assert token.encode() not in auth.token_digest(SECRET, token)


def test_fingerprint_reveals_nothing_reusable() -> None:
    """The log fingerprint is 8 hex characters and differs from the digest and the token."""
    token = auth.new_token()
    fingerprint = auth.token_fingerprint(SECRET, token)
    assert len(fingerprint) == 8 and fingerprint not in token
    assert fingerprint != auth.token_digest(SECRET, token).hex()[:8]


def test_secret_bytes_refuse_malformed_tokens() -> None:
    """Key material is only derived from well-formed tokens."""
    with pytest.raises(ValueError, match="well-formed"):
        auth.token_secret_bytes("../etc")
