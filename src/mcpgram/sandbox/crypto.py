"""MTProto 2.0 cryptography for the server side, on Telethon's AES-IGE and TL serialisation.

What lives here: the sandbox RSA key (and its Telegram-style fingerprint), decryption of the client's
``p_q_inner_data`` in both the legacy SHA1 scheme (what Telethon sends) and ``RSA_PAD`` (what current
official clients send), the 2048-bit DH group, and the ``msg_key`` / AES key derivation for encrypted
messages (https://core.telegram.org/mtproto/description). Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import struct
from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from telethon.crypto import AES
from telethon.extensions import BinaryReader
from telethon.tl.tlobject import TLObject

#: Telegram's 2048-bit safe prime (the ``dh_prime`` of https://core.telegram.org/mtproto/auth_key), g = 3.
DH_PRIME = int(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F48198A0AA7C14058229493D22530F4DB"
    "FA336F6E0AC925139543AED44CCE7C3720FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F64"
    "2477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4A4A695811051907E162753B56B0F6B41"
    "0DBA74D8A84B2A14B3144E0EF1284754FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF5B9AE4"
    "E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F0D8115F635B105EE2E4E15D04B2454BF"
    "6F4FADF034B10403119CD8E3B92FCC5B",
    16,
)
DH_G = 3
_SAFETY = 2 ** (2048 - 64)


def int_to_bytes(value: int, size: int | None = None) -> bytes:
    """Big-endian bytes of a natural number, as MTProto's ``bytes`` fields carry them."""
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return value.to_bytes(length, "big")


def bytes_to_int(data: bytes) -> int:
    return int.from_bytes(data, "big")


@dataclass(frozen=True)
class SandboxKey:
    """The sandbox's RSA key pair. Clients must be told to trust :attr:`public_pem` (PKCS#1)."""

    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SandboxKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def from_pem(cls, pem: bytes) -> SandboxKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != 2048:
            raise ValueError("the sandbox key must be a 2048-bit RSA private key")
        return cls(key)

    def private_pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @cached_property
    def public_pem(self) -> str:
        """PKCS#1 PEM, the form ``telethon.crypto.rsa.add_key`` accepts."""
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
            .decode()
        )

    @cached_property
    def fingerprint(self) -> int:
        """Lower 64 bits of SHA1 over the TL-serialised modulus and exponent, as a signed long."""
        numbers = self.private.public_key().public_numbers()
        data = TLObject.serialize_bytes(int_to_bytes(numbers.n)) + TLObject.serialize_bytes(
            int_to_bytes(numbers.e)
        )
        return int(struct.unpack("<q", hashlib.sha1(data).digest()[-8:])[0])  # noqa: S324 - protocol-mandated

    def decrypt_inner_data(self, encrypted: bytes) -> bytes | None:
        """Recover the serialised ``p_q_inner_data`` from ``req_DH_params.encrypted_data``.

        Returns None when neither the legacy scheme nor RSA_PAD yields a well-formed payload.
        """
        if len(encrypted) != 256:
            return None
        numbers = self.private.private_numbers()
        value = bytes_to_int(encrypted)
        if value >= numbers.public_numbers.n:
            return None
        # Textbook RSA (the protocol pads by itself), with the CRT: about 3x faster than pow(c, d, n).
        m1 = pow(value, numbers.dmp1, numbers.p)
        m2 = pow(value, numbers.dmq1, numbers.q)
        plain = m2 + numbers.q * ((numbers.iqmp * (m1 - m2)) % numbers.p)
        block = int_to_bytes(plain, 256)
        return _decode_legacy(block) or _decode_rsa_pad(block)


def _read_tl_prefix(data: bytes) -> int | None:
    """Length of the TL object at the start of ``data``, or None if it does not parse."""
    try:
        with BinaryReader(data) as reader:
            reader.tgread_object()
            return int(reader.tell_position())
    except Exception:  # any parse failure just means "not this scheme"
        return None


def _decode_legacy(block: bytes) -> bytes | None:
    # sha1(data) + data + random padding, 255 bytes: the leading byte of the 256-byte block is zero.
    if block[0] != 0:
        return None
    body = block[1:]
    size = _read_tl_prefix(body[20:])
    if size is None:
        return None
    data = body[20 : 20 + size]
    if hashlib.sha1(data).digest() != body[:20]:  # noqa: S324 - protocol-mandated
        return None
    return data


def _decode_rsa_pad(block: bytes) -> bytes | None:
    temp_key_xor, aes_encrypted = block[:32], block[32:]
    digest = hashlib.sha256(aes_encrypted).digest()
    temp_key = bytes(a ^ b for a, b in zip(temp_key_xor, digest, strict=True))
    data_with_hash = AES.decrypt_ige(aes_encrypted, temp_key, bytes(32))
    data_with_padding = data_with_hash[:192][::-1]
    if hashlib.sha256(temp_key + data_with_padding).digest() != data_with_hash[192:]:
        return None
    size = _read_tl_prefix(data_with_padding)
    return data_with_padding[:size] if size is not None else None


def is_good_dh_value(value: int) -> bool:
    """g_a / g_b must lie in (2^{2048-64}, dh_prime - 2^{2048-64})."""
    return _SAFETY <= value <= DH_PRIME - _SAFETY


def random_pq() -> tuple[int, int, int]:
    """A product of two distinct primes below 2^31, as Telegram's ``resPQ.pq`` is."""
    p = _random_prime(2**29, 2**30)
    q = _random_prime(2**30, 2**31 - 1)
    return p * q, p, q


def _random_prime(low: int, high: int) -> int:
    while True:
        candidate = secrets.randbelow(high - low) + low | 1
        if _is_probable_prime(candidate):
            return candidate


def _is_probable_prime(n: int) -> bool:
    if n < 4:
        return n in (2, 3)
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):  # deterministic below 3.3e24
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _kdf(auth_key: bytes, msg_key: bytes, x: int) -> tuple[bytes, bytes]:
    sha256a = hashlib.sha256(msg_key + auth_key[x : x + 36]).digest()
    sha256b = hashlib.sha256(auth_key[x + 40 : x + 76] + msg_key).digest()
    key = sha256a[:8] + sha256b[8:24] + sha256a[24:32]
    iv = sha256b[:8] + sha256a[8:24] + sha256b[24:32]
    return key, iv


def encrypt_from_server(auth_key: bytes, key_id: bytes, plaintext: bytes) -> bytes:
    """Encrypt ``salt + session_id + message`` for the client (x = 8)."""
    padding = os.urandom(-(len(plaintext) + 12) % 16 + 12)
    msg_key = hashlib.sha256(auth_key[96:128] + plaintext + padding).digest()[8:24]
    key, iv = _kdf(auth_key, msg_key, 8)
    encrypted: bytes = AES.encrypt_ige(plaintext + padding, key, iv)
    return key_id + msg_key + encrypted


def decrypt_from_client(auth_key: bytes, body: bytes) -> bytes | None:
    """Decrypt a client packet (x = 0); None if msg_key or the length rules do not check out."""
    if len(body) < 24 + 32 or (len(body) - 24) % 16:
        return None
    msg_key = body[8:24]
    key, iv = _kdf(auth_key, msg_key, 0)
    plaintext: bytes = AES.decrypt_ige(body[24:], key, iv)
    if hashlib.sha256(auth_key[88:120] + plaintext).digest()[8:24] != msg_key:
        return None
    (length,) = struct.unpack_from("<i", plaintext, 28)
    padding = len(plaintext) - 32 - length
    if length < 0 or not 12 <= padding <= 1024:
        return None
    return plaintext
