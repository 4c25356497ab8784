"""MTProto TCP transports, server side: Full, Intermediate (plain and padded), Abridged, obfuscated.

The client picks the transport with its first bytes (https://core.telegram.org/mtproto/mtproto-transports):
``0xef`` is Abridged, ``0xeeeeeeee`` Intermediate, ``0xdddddddd`` padded Intermediate. Otherwise the
first 8 bytes are either TCP Full's first length and sequence number (always 0), or the start of
the 64-byte random header of the obfuscated transport, whose bytes 4..8 are never zero. This
module only frames bytes; it knows nothing of MTProto messages. It must not import from mcpgram
outside the sandbox.
"""

from __future__ import annotations

import hashlib
import os
import struct
from typing import Protocol
from zlib import crc32

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

#: Largest packet the sandbox accepts from a client (Telegram's own limit is about 1 MiB plus headers).
MAX_PACKET = 2 * 1024 * 1024

_ABRIDGED_TAG = b"\xef"
_INTERMEDIATE_TAG = b"\xee\xee\xee\xee"
_PADDED_TAG = b"\xdd\xdd\xdd\xdd"
_OBFUSCATED_HEADER = 64


class ByteSource(Protocol):
    """Where codecs read from: an ``asyncio.StreamReader``, or a decrypting view of one."""

    async def readexactly(self, n: int) -> bytes: ...


class TransportError(Exception):
    """The peer broke the framing rules; the connection must be closed."""


class Codec:
    """Reads client packets from a stream and frames server packets."""

    name = "codec"

    async def read(self, reader: ByteSource) -> bytes:
        raise NotImplementedError

    def encode(self, payload: bytes) -> bytes:
        raise NotImplementedError


def _check_length(length: int) -> None:
    if length <= 0 or length > MAX_PACKET:
        raise TransportError(f"bad packet length {length}")


class FullCodec(Codec):
    """TCP Full: ``len:int32 seq:int32 payload crc32:uint32``, sequence numbers checked both ways."""

    name = "full"

    def __init__(self, prefix: bytes) -> None:
        #: Bytes already consumed by transport detection: the first packet's length (and seq_no).
        self._prefix = prefix
        self._recv_seq = 0
        self._send_seq = 0

    async def read(self, reader: ByteSource) -> bytes:
        prefix, self._prefix = self._prefix, b""
        if len(prefix) < 4:
            prefix += await reader.readexactly(4 - len(prefix))
        head, early = prefix[:4], prefix[4:]
        (length,) = struct.unpack("<i", head)
        _check_length(length)
        if length < 12:
            raise TransportError("full packet shorter than its header")
        rest = early + await reader.readexactly(length - 4 - len(early))
        (seq,) = struct.unpack("<i", rest[:4])
        (checksum,) = struct.unpack("<I", rest[-4:])
        if crc32(head + rest[:-4]) != checksum:
            raise TransportError("crc32 mismatch")
        if seq != self._recv_seq:
            raise TransportError(f"sequence {seq}, expected {self._recv_seq}")
        self._recv_seq += 1
        return rest[4:-4]

    def encode(self, payload: bytes) -> bytes:
        head = struct.pack("<ii", len(payload) + 12, self._send_seq)
        self._send_seq += 1
        body = head + payload
        return body + struct.pack("<I", crc32(body))


class IntermediateCodec(Codec):
    """Intermediate: ``len:int32 payload``; the padded variant adds 0-3 random bytes per packet."""

    name = "intermediate"

    def __init__(self, *, padded: bool = False) -> None:
        self._padded = padded
        if padded:
            self.name = "padded-intermediate"

    async def read(self, reader: ByteSource) -> bytes:
        (length,) = struct.unpack("<i", await reader.readexactly(4))
        _check_length(length)
        data = await reader.readexactly(length)
        if self._padded:
            # Padding never makes the real payload misaligned: MTProto payloads are multiples of 4.
            data = data[: len(data) - len(data) % 4]
        return data

    def encode(self, payload: bytes) -> bytes:
        if self._padded:
            payload += os.urandom(os.urandom(1)[0] % 4)
        return struct.pack("<i", len(payload)) + payload


class AbridgedCodec(Codec):
    """Abridged: one length byte (in 4-byte words) or ``0x7f`` and three more."""

    name = "abridged"

    async def read(self, reader: ByteSource) -> bytes:
        first = (await reader.readexactly(1))[0]
        words = first
        if first >= 0x7F:
            words = int.from_bytes(await reader.readexactly(3), "little")
        _check_length(words * 4)
        return await reader.readexactly(words * 4)

    def encode(self, payload: bytes) -> bytes:
        words = len(payload) // 4
        if words < 0x7F:
            return bytes([words]) + payload
        return b"\x7f" + words.to_bytes(3, "little") + payload


class _Decrypting:
    """A :class:`ByteSource` that AES-CTR-decrypts what it reads, as one continuous stream."""

    def __init__(self, reader: ByteSource, decryptor: CipherContext) -> None:
        self._reader = reader
        self._decryptor = decryptor

    async def readexactly(self, n: int) -> bytes:
        return self._decryptor.update(await self._reader.readexactly(n))


class ObfuscatedCodec(Codec):
    """Obfuscated transport ("obfuscated2"): an inner codec whose bytes are AES-256-CTR encrypted."""

    def __init__(
        self, inner: Codec, decryptor: CipherContext, encryptor: CipherContext, *, dc_id: int = 0
    ) -> None:
        self._inner = inner
        self._decryptor = decryptor
        self._encryptor = encryptor
        self.name = f"obfuscated-{inner.name}"
        #: The data centre the header asks for (bytes 60..62); an MTProto proxy routes by it.
        self.dc_id = dc_id

    async def read(self, reader: ByteSource) -> bytes:
        return await self._inner.read(_Decrypting(reader, self._decryptor))

    def encode(self, payload: bytes) -> bytes:
        return self._encryptor.update(self._inner.encode(payload))


def _ctr(key: bytes, iv: bytes) -> Cipher[modes.CTR]:
    return Cipher(algorithms.AES(key), modes.CTR(iv))


def obfuscated_codec(header: bytes, *, secret: bytes = b"") -> ObfuscatedCodec:
    """Derive both directions' keys from the client's 64-byte header and check its protocol tag.

    With an MTProto proxy ``secret`` (16 bytes), each key is ``SHA256(key bytes + secret)``, as
    MTProxy derives them; without one, the header bytes are the keys (direct obfuscated2).
    """
    if len(header) != _OBFUSCATED_HEADER:
        raise TransportError("short obfuscation header")
    # The client encrypts with header[8:56]; the server encrypts with the same bytes reversed.
    reversed_part = header[8:56][::-1]
    decrypt_key, encrypt_key = header[8:40], reversed_part[:32]
    if secret:
        decrypt_key = hashlib.sha256(decrypt_key + secret).digest()
        encrypt_key = hashlib.sha256(encrypt_key + secret).digest()
    decryptor = _ctr(decrypt_key, header[40:56]).decryptor()
    encryptor = _ctr(encrypt_key, reversed_part[32:48]).encryptor()
    # Decrypting the whole header advances the client-to-server stream past it, as the client did.
    plain = decryptor.update(header)
    tag = plain[56:60]
    (dc_id,) = struct.unpack("<h", plain[60:62])
    inner: Codec
    if tag == _ABRIDGED_TAG * 4:
        inner = AbridgedCodec()
    elif tag == _INTERMEDIATE_TAG:
        inner = IntermediateCodec()
    elif tag == _PADDED_TAG:
        inner = IntermediateCodec(padded=True)
    else:
        raise TransportError("obfuscation header carries no known protocol tag")
    return ObfuscatedCodec(inner, decryptor, encryptor, dc_id=dc_id)


async def detect_codec(reader: ByteSource) -> Codec:
    """Read the transport tag (or the start of TCP Full or of an obfuscation header); return its codec."""
    first = await reader.readexactly(1)
    if first == _ABRIDGED_TAG:
        return AbridgedCodec()
    first4 = first + await reader.readexactly(3)
    if first4 == _INTERMEDIATE_TAG:
        return IntermediateCodec()
    if first4 == _PADDED_TAG:
        return IntermediateCodec(padded=True)
    if first4 in (b"GET ", b"POST", b"HEAD", b"OPTI") or first4.startswith(b"\x16\x03"):
        raise TransportError("not an MTProto transport (HTTP or TLS)")
    first8 = first4 + await reader.readexactly(4)
    if first8[4:] == b"\0\0\0\0":
        return FullCodec(first8)  # TCP Full's first seq_no is 0; an obfuscation header avoids that
    return obfuscated_codec(first8 + await reader.readexactly(_OBFUSCATED_HEADER - 8))
