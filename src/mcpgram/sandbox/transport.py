"""MTProto TCP transports, server side: Full, Intermediate (plain and padded) and Abridged.

The client picks the transport with its first bytes (https://core.telegram.org/mtproto/mtproto-transports):
``0xef`` is Abridged, ``0xeeeeeeee`` Intermediate, ``0xdddddddd`` padded Intermediate, and anything
else is the first length field of TCP Full. This module only frames bytes; it knows nothing of
MTProto messages. It must not import from mcpgram outside the sandbox.
"""

from __future__ import annotations

import asyncio
import os
import struct
from zlib import crc32

#: Largest packet the sandbox accepts from a client (Telegram's own limit is about 1 MiB plus headers).
MAX_PACKET = 2 * 1024 * 1024

_ABRIDGED_TAG = b"\xef"
_INTERMEDIATE_TAG = b"\xee\xee\xee\xee"
_PADDED_TAG = b"\xdd\xdd\xdd\xdd"


class TransportError(Exception):
    """The peer broke the framing rules; the connection must be closed."""


class Codec:
    """Reads client packets from a stream and frames server packets."""

    name = "codec"

    async def read(self, reader: asyncio.StreamReader) -> bytes:
        raise NotImplementedError

    def encode(self, payload: bytes) -> bytes:
        raise NotImplementedError


def _check_length(length: int) -> None:
    if length <= 0 or length > MAX_PACKET:
        raise TransportError(f"bad packet length {length}")


class FullCodec(Codec):
    """TCP Full: ``len:int32 seq:int32 payload crc32:uint32``, sequence numbers checked both ways."""

    name = "full"

    def __init__(self, first4: bytes) -> None:
        self._pending_len: bytes | None = first4
        self._recv_seq = 0
        self._send_seq = 0

    async def read(self, reader: asyncio.StreamReader) -> bytes:
        if self._pending_len is not None:
            head, self._pending_len = self._pending_len, None
        else:
            head = await reader.readexactly(4)
        (length,) = struct.unpack("<i", head)
        _check_length(length)
        if length < 12:
            raise TransportError("full packet shorter than its header")
        rest = await reader.readexactly(length - 4)
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

    async def read(self, reader: asyncio.StreamReader) -> bytes:
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

    async def read(self, reader: asyncio.StreamReader) -> bytes:
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


async def detect_codec(reader: asyncio.StreamReader) -> Codec:
    """Read the transport tag (or the first length of TCP Full) and return the matching codec."""
    first = await reader.readexactly(1)
    if first == _ABRIDGED_TAG:
        return AbridgedCodec()
    first4 = first + await reader.readexactly(3)
    if first4 == _INTERMEDIATE_TAG:
        return IntermediateCodec()
    if first4 == _PADDED_TAG:
        return IntermediateCodec(padded=True)
    if first4 in (b"GET ", b"POST", b"HEAD") or first4.startswith(b"\x16\x03"):
        raise TransportError("not an MTProto transport (HTTP or TLS)")
    return FullCodec(first4)
