"""Tests for the sandbox's server-side SRP 2FA check against Telethon's real client computation."""

from __future__ import annotations

import pytest
from telethon.password import compute_check
from telethon.tl.types import (
    PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow,
    SecurePasswordKdfAlgoSHA512,
)
from telethon.tl.types.account import Password

from mcpgram.sandbox import srp

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def record() -> srp.PasswordRecord:
    return srp.make_password_record(PASSWORD, hint="horse")


def test_correct_password_passes(record: srp.PasswordRecord) -> None:
    """A proof computed by Telethon's compute_check with the right password is accepted."""
    challenge = srp.new_challenge(record)
    check = compute_check(challenge.to_tl(), PASSWORD)
    assert check.srp_id == challenge.srp_id
    assert srp.verify(challenge, record, check.A, check.M1)


def test_wrong_password_fails(record: srp.PasswordRecord) -> None:
    """A proof computed with a different password is rejected."""
    challenge = srp.new_challenge(record)
    check = compute_check(challenge.to_tl(), PASSWORD + "!")
    assert not srp.verify(challenge, record, check.A, check.M1)


def test_tampered_m1_and_replay_fail(record: srp.PasswordRecord) -> None:
    """A flipped bit in M1 is rejected, and a valid proof replayed against a new challenge is rejected."""
    challenge = srp.new_challenge(record)
    check = compute_check(challenge.to_tl(), PASSWORD)
    tampered = bytes([check.M1[0] ^ 1]) + check.M1[1:]
    assert not srp.verify(challenge, record, check.A, tampered)
    assert not srp.verify(challenge, record, check.A, check.M1[:-1])
    fresh = srp.new_challenge(record)
    assert not srp.verify(fresh, record, check.A, check.M1)
    assert srp.verify(challenge, record, check.A, check.M1)  # the original still verifies


@pytest.mark.parametrize(
    "a_value",
    [0, 1, srp.P - 1, srp.P, 2 * srp.P],
    ids=["zero", "one", "p-1", "p", "2p"],
)
def test_degenerate_a_rejected(record: srp.PasswordRecord, a_value: int) -> None:
    """Values of A that are 0, 1, p-1 or >= p (including multiples of p) are rejected outright."""
    challenge = srp.new_challenge(record)
    a_bytes = a_value.to_bytes(max(1, (a_value.bit_length() + 7) // 8), "big")
    assert not srp.verify(challenge, record, a_bytes, bytes(32))


def test_oversized_a_rejected(record: srp.PasswordRecord) -> None:
    """An A longer than 256 bytes is rejected even if its value is in range."""
    challenge = srp.new_challenge(record)
    assert not srp.verify(challenge, record, b"\x00" + (5).to_bytes(256, "big"), bytes(32))


def test_records_for_same_password_differ() -> None:
    """Two records for the same password get different salts and therefore different verifiers."""
    first = srp.make_password_record("same")
    second = srp.make_password_record("same")
    assert (len(first.salt1), len(first.salt2)) == (40, 16)
    assert first.salt1 != second.salt1
    assert first.salt2 != second.salt2
    assert first.verifier != second.verifier


def test_challenge_tl_object_matches_telegram_shape(record: srp.PasswordRecord) -> None:
    """The getPassword answer carries the standard p/g, a 256-byte B, the hint and fresh new_algo salts."""
    challenge = srp.new_challenge(record)
    tl = challenge.to_tl()
    assert isinstance(tl, Password)
    assert tl.has_password
    assert tl.hint == "horse"
    algo = tl.current_algo
    assert isinstance(algo, PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow)
    assert (algo.g, algo.p, algo.salt1, algo.salt2) == (3, srp.P_BYTES, record.salt1, record.salt2)
    assert len(tl.srp_B) == 256
    assert -(2**63) <= tl.srp_id < 2**63
    assert len(tl.new_algo.salt1) == 8
    assert isinstance(tl.new_secure_algo, SecurePasswordKdfAlgoSHA512)
    assert len(tl.secure_random) == 256
    assert bytes(tl)  # serialises with the layer's constructor


def test_no_password_answer() -> None:
    """Accounts without 2FA get has_password=False with no current algo but a new_algo to set one."""
    tl = srp.no_password()
    assert not tl.has_password
    assert tl.current_algo is None and tl.srp_B is None and tl.srp_id is None
    assert isinstance(tl.new_algo, PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow)
    assert tl.new_algo.p == srp.P_BYTES and tl.new_algo.g == 3
    assert bytes(tl)
