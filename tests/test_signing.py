"""Signed download capabilities: sealed, bound, expiring, rotating; hostile input is refused (pure)."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from mcpgram.errors import TicketExpired, TicketInvalid
from mcpgram.signing import (
    MAX_CAPABILITY_CHARS,
    Capability,
    Keyring,
    derive_key,
    mint,
    open_capability,
    peek_route,
)

SERVER = b"s" * 32
NOW = 1_800_000_000
CAP = Capability(
    tenant_id="tnt_0123456789abcdef",
    data_key=bytes(range(32)),
    key_version=3,
    expires=NOW + 900,
    chat=-1001234567890,
    message=42,
    media=7_000_000_000_000_000_001,
    size="full",
    route=0xDEADBEEF12345678,
)


def ring(*ids: int) -> Keyring:
    return Keyring.from_secrets(
        [(i, b"operator-secret-%d-" % i + b"x" * 20) for i in ids], server_secret=SERVER
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _raw(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_capability_round_trips_and_is_opaque() -> None:
    text = mint(ring(1), CAP)
    assert open_capability(ring(1), text, now=NOW) == CAP
    assert len(text) < 200 and text.isascii() and "=" not in text
    raw = _raw(text)
    for secret in (CAP.data_key, CAP.tenant_id.encode(), CAP.size.encode(), (42).to_bytes(4, "big")):
        assert secret not in raw
    assert repr(CAP.data_key) not in repr(CAP)


def test_the_route_is_readable_without_a_key() -> None:
    text = mint(ring(1), CAP)
    assert peek_route(text) == CAP.route
    assert peek_route("garbage!") is None


def test_the_same_keys_open_it_after_a_restart() -> None:
    """A new keyring from the same secrets (another process, replica) opens it."""
    assert open_capability(ring(1), mint(ring(1), CAP), now=NOW) == CAP
    default = Keyring.from_secrets([], server_secret=SERVER)
    assert default.current == 0
    assert open_capability(Keyring.from_secrets([], server_secret=SERVER), mint(default, CAP), now=NOW) == CAP
    with pytest.raises(TicketInvalid):
        open_capability(Keyring.from_secrets([], server_secret=b"t" * 32), mint(default, CAP), now=NOW)


def test_expiry_is_exact() -> None:
    text = mint(ring(1), CAP)
    open_capability(ring(1), text, now=CAP.expires - 1)
    with pytest.raises(TicketExpired):
        open_capability(ring(1), text, now=CAP.expires)


def test_rotation_keeps_old_links_until_they_expire() -> None:
    old = mint(ring(1), CAP)
    rotated = ring(2, 1)
    assert rotated.current == 2
    new = mint(rotated, CAP)
    assert _raw(new)[1] == 2 and _raw(old)[1] == 1
    assert open_capability(rotated, old, now=NOW) == CAP
    assert open_capability(rotated, new, now=NOW) == CAP
    with pytest.raises(TicketExpired):
        open_capability(rotated, old, now=CAP.expires)
    with pytest.raises(TicketInvalid):  # the old key retired from the list
        open_capability(ring(2), old, now=NOW)


def _flipped(text: str, index: int) -> str:
    raw = bytearray(_raw(text))
    raw[index] ^= 0x01
    return _b64(bytes(raw))


HOSTILE = {
    "empty": lambda t: "",
    "truncated by one char": lambda t: t[:-1],
    "truncated by one byte": lambda t: _b64(_raw(t)[:-1]),
    "half": lambda t: t[: len(t) // 2],
    "header only": lambda t: _b64(_raw(t)[:10]),
    "version byte": lambda t: _flipped(t, 0),
    "key id byte": lambda t: _flipped(t, 1),
    "unknown key id": lambda t: _b64(bytes([1, 9]) + _raw(t)[2:]),
    "route byte": lambda t: _flipped(t, 5),
    "nonce byte": lambda t: _flipped(t, 12),
    "ciphertext byte": lambda t: _flipped(t, 30),
    "tag byte": lambda t: _flipped(t, len(_raw(t)) - 1),
    "extra byte": lambda t: _b64(_raw(t) + b"\0"),
    "padding": lambda t: t + "==",
    "non-zero spare bits": lambda t: t[:-1] + chr(ord(t[-1]) + 1) if t[-1] not in "_-9zZ" else t[:-1] + "A",
    "standard alphabet": lambda t: (
        t.replace("-", "+").replace("_", "/") if ("-" in t or "_" in t) else "+" + t
    ),
    "non-ascii": lambda t: t[:-1] + "é",
    "oversized": lambda t: "A" * (MAX_CAPABILITY_CHARS + 1),
    "garbage": lambda t: "not-a-capability",
    "a token": lambda t: "mcpg_" + "A" * 43,
    "dot dot": lambda t: "../../etc/passwd",
    "spaces": lambda t: " " + t,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_capabilities_are_refused_alike(name: str) -> None:
    text = mint(ring(1), CAP)
    forged = HOSTILE[name](text)
    assert forged != text
    with pytest.raises(TicketInvalid) as caught:
        open_capability(ring(1), forged, now=NOW)
    assert caught.value.message == "this download link is not valid"


def test_a_link_sealed_under_another_servers_key_is_refused() -> None:
    other = Keyring.from_secrets([(1, b"operator-secret-1-" + b"x" * 20)], server_secret=b"o" * 32)
    with pytest.raises(TicketInvalid):
        open_capability(ring(1), mint(other, CAP), now=NOW)


def test_fields_are_bounded() -> None:
    with pytest.raises(ValueError):
        mint(ring(1), replace(CAP, tenant_id="t" * 65))
    with pytest.raises(ValueError):
        mint(ring(1), replace(CAP, size="x" * 17))
    with pytest.raises(ValueError):
        Keyring([(256, b"k" * 32)])
    with pytest.raises(ValueError):
        Keyring([(1, b"k" * 32), (1, b"j" * 32)])
    with pytest.raises(ValueError):
        derive_key(b"short", server_secret=SERVER, key_id=1)


def test_known_answer_vector() -> None:
    """The format outlives a process: yesterday's links must open with today's code."""
    keyring = Keyring([(7, bytes(range(32)))])
    text = mint(keyring, CAP, randbytes=lambda n: b"\x01" * n)
    assert text == KNOWN
    assert open_capability(keyring, KNOWN, now=NOW) == CAP
    assert derive_key(b"k" * 32, server_secret=SERVER, key_id=1).hex() == KNOWN_KEY


KNOWN = (
    "AQferb7vEjRWeAEBAQEBAQEBAQEBAWO3i0E3tVlU52BSLi9fa7mpDeu-94MX3vDfAuqaAfc7p9pvQemGSyFLNuLJJb2XapD5"
    "VRNR_4EZ_h1t60PddCAcjoRVqyXJbc9cZKjBeJm2_aXm5QujRnBXt7hAI8SH7J2GtMzqZw"
)
KNOWN_KEY = "e14d70b043e2ffec198d26b265caf89d494ac3e9b3a7f1954797b0635d815400"
