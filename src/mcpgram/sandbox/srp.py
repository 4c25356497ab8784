"""Server side of Telegram's SRP two-step verification, for the test sandbox.

Implements what the real server does for ``account.getPassword``, ``auth.checkPassword`` and
``account.updatePasswordSettings``
(https://core.telegram.org/api/srp) with the only algorithm Telegram uses,
``passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow``, over the standard
2048-bit prime with g = 3, so unmodified clients (Telethon's ``compute_check``) can log in.

This module is part of ``mcpgram.sandbox`` and must not import from mcpgram outside the sandbox;
it depends only on the standard library and Telethon's TL types.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from telethon.tl import types
from telethon.tl.types import account

Rng = Callable[[int], bytes]

#: Telegram's standard SRP group: the 2048-bit safe prime Telethon accepts without checking.
P_BYTES = bytes.fromhex(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F"
    "48198A0AA7C14058229493D22530F4DBFA336F6E0AC925139543AED44CCE7C37"
    "20FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"
    "2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4"
    "A4A695811051907E162753B56B0F6B410DBA74D8A84B2A14B3144E0EF1284754"
    "FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
    "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F"
    "0D8115F635B105EE2E4E15D04B2454BF6F4FADF034B10403119CD8E3B92FCC5B"
)
P = int.from_bytes(P_BYTES, "big")
G = 3
SIZE = 256  # every big number is hashed as 256 bytes, big-endian, left-padded with zeros


def _h(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


def _pad(n: int) -> bytes:
    return n.to_bytes(SIZE, "big")


G_PADDED = _pad(G)
K = int.from_bytes(_h(P_BYTES, G_PADDED), "big")  # k = H(p | g)
_H_P_XOR_H_G = bytes(a ^ b for a, b in zip(_h(P_BYTES), _h(G_PADDED), strict=True))


def password_hash(password: str, salt1: bytes, salt2: bytes) -> int:
    """x = PH2(password, salt1, salt2), as Telegram defines it, as an integer."""
    ph1 = _h(salt2, _h(salt1, password.encode("utf-8"), salt1), salt2)
    return int.from_bytes(_h(salt2, hashlib.pbkdf2_hmac("sha512", ph1, salt1, 100000), salt2), "big")


@dataclass(frozen=True)
class PasswordRecord:
    """What the server stores for an account's 2FA password: the salts, v = g^x mod p, and the hint."""

    salt1: bytes
    salt2: bytes
    verifier: int
    hint: str


def make_password_record(password: str, hint: str = "", *, rng: Rng = os.urandom) -> PasswordRecord:
    """Derive a fresh record (random salts) for ``password``, as account.updatePasswordSettings would."""
    salt1, salt2 = rng(40), rng(16)
    return PasswordRecord(salt1, salt2, pow(G, password_hash(password, salt1, salt2), P), hint)


def _algo(
    salt1: bytes, salt2: bytes
) -> types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow:
    return types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
        salt1=salt1, salt2=salt2, g=G, p=P_BYTES
    )


@dataclass(frozen=True)
class NewSalts:
    """The salts one account.getPassword answer offers for a *new* password (its ``new_algo``).

    Telegram sends an 8-byte salt1 prefix; the client appends 32 random bytes of its own, and
    account.updatePasswordSettings must come back with exactly that (see :func:`record_from_settings`).
    """

    salt1: bytes
    salt2: bytes
    secure_salt: bytes
    secure_random: bytes

    @classmethod
    def generate(cls, rng: Rng = os.urandom) -> NewSalts:
        return cls(salt1=rng(8), salt2=rng(16), secure_salt=rng(8), secure_random=rng(256))

    def fields(self) -> dict[str, object]:
        return {
            "new_algo": _algo(self.salt1, self.salt2),
            "new_secure_algo": types.SecurePasswordKdfAlgoSHA512(salt=self.secure_salt),
            "secure_random": self.secure_random,
        }


#: Bytes a client appends to the offered salt1 for a new password (tdesktop and Telethon: 32).
CLIENT_SALT_BYTES = 32


class PasswordSettingsError(ValueError):
    """New password settings Telegram would refuse; ``code`` is its error message."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def record_from_settings(
    offered: NewSalts | None, new_algo: object, new_password_hash: bytes | None, hint: str | None
) -> PasswordRecord | None:
    """The record account.updatePasswordSettings stores, or None when the settings remove the password.

    An empty ``new_password_hash`` removes the password (whatever ``new_algo`` says, as clients send
    either the offered algorithm or ``passwordKdfAlgoUnknown``). Otherwise ``new_algo`` must be the
    offered algorithm with the client's 32 bytes appended to salt1, and the hash v = g^x mod p as
    256 bytes.

    Raises:
        PasswordSettingsError: ``NEW_SETTINGS_EMPTY``, ``NEW_SALT_INVALID`` or ``NEW_SETTINGS_INVALID``.
    """
    if new_password_hash is None:
        raise PasswordSettingsError("NEW_SETTINGS_EMPTY")
    if not new_password_hash:
        return None
    algo = types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow
    if not isinstance(new_algo, algo) or new_algo.g != G or new_algo.p != P_BYTES:
        raise PasswordSettingsError("NEW_SETTINGS_INVALID")
    if (
        offered is None
        or len(new_algo.salt1) != len(offered.salt1) + CLIENT_SALT_BYTES
        or not new_algo.salt1.startswith(offered.salt1)
        or new_algo.salt2 != offered.salt2
    ):
        raise PasswordSettingsError("NEW_SALT_INVALID")
    verifier = int.from_bytes(new_password_hash, "big")
    if len(new_password_hash) != SIZE or not 1 < verifier < P - 1:
        raise PasswordSettingsError("NEW_SETTINGS_INVALID")
    return PasswordRecord(new_algo.salt1, new_algo.salt2, verifier, hint or "")


def _good_mod_exp(n: int) -> bool:
    # Mirrors the client's check (tdesktop / Telethon is_good_mod_exp_first): g^b must not be near 0 or p.
    return n.bit_length() >= 2048 - 64 and (P - n).bit_length() >= 2048 - 64


@dataclass(frozen=True)
class SrpChallenge:
    """One account.getPassword answer: the server's ephemeral secret b and public B = k*v + g^b mod p.

    Single use: the caller must discard it after one auth.checkPassword attempt (whatever the result)
    and look it up by ``srp_id``.
    """

    srp_id: int
    b: int = field(repr=False)
    B: bytes  # 256 bytes, big-endian
    record: PasswordRecord = field(repr=False)

    def to_tl(self, salts: NewSalts | None = None) -> account.Password:
        """The account.Password object the server returns for this challenge, offering ``salts``."""
        return account.Password(
            has_password=True,
            has_recovery=False,
            has_secure_values=False,
            current_algo=_algo(self.record.salt1, self.record.salt2),
            srp_B=self.B,
            srp_id=self.srp_id,
            hint=self.record.hint or None,
            **(salts or NewSalts.generate()).fields(),
        )


def new_challenge(record: PasswordRecord, *, rng: Rng = os.urandom) -> SrpChallenge:
    """Start an SRP exchange against ``record`` with a fresh random b and srp_id."""
    srp_id = int.from_bytes(rng(8), "big", signed=True)
    while True:
        b = int.from_bytes(rng(SIZE), "big")
        g_b = pow(G, b, P)
        if _good_mod_exp(g_b):
            break
    B = (K * record.verifier + g_b) % P
    return SrpChallenge(srp_id=srp_id, b=b, B=_pad(B), record=record)


def no_password(salts: NewSalts | None = None) -> account.Password:
    """The account.Password object the server returns when the account has no 2FA password."""
    return account.Password(
        has_password=False,
        has_recovery=False,
        has_secure_values=False,
        **(salts or NewSalts.generate()).fields(),
    )


def verify(challenge: SrpChallenge, record: PasswordRecord, A: bytes, M1: bytes) -> bool:
    """Check the client's InputCheckPasswordSRP (A, M1) against ``challenge``; True iff the password is right.

    The caller must discard ``challenge`` afterwards, whatever the result (challenges are single use).
    """
    if len(A) > SIZE:
        return False
    a_int = int.from_bytes(A, "big")
    if not 1 < a_int < P - 1:  # also rules out A mod p == 0
        return False
    a_padded = _pad(a_int)
    u = int.from_bytes(_h(a_padded, challenge.B), "big")
    if u == 0:
        return False
    S = pow(a_int * pow(record.verifier, u, P) % P, challenge.b, P)
    expected = _h(_H_P_XOR_H_G, _h(record.salt1), _h(record.salt2), a_padded, challenge.B, _h(_pad(S)))
    return hmac.compare_digest(expected, M1)
