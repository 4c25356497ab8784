"""Transports and protocol robustness: every TCP transport Telethon offers, and clients that misbehave."""

from __future__ import annotations

import asyncio
import os
import struct
import time
import zlib

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from telethon import errors, functions, types
from telethon.extensions import BinaryReader
from telethon.network.connection import (
    ConnectionTcpAbridged,
    ConnectionTcpFull,
    ConnectionTcpIntermediate,
    ConnectionTcpObfuscated,
)
from telethon.tl.tlobject import TLRequest

from mcpgram.sandbox import SandboxServer

from .conftest import ClientFactory

_INTERMEDIATE = b"\xee\xee\xee\xee"


class _BogusRequest(TLRequest):  # type: ignore[misc]
    """A method no TL layer has: the server must answer it with an error, not stall."""

    CONSTRUCTOR_ID = 0x1BADC0DE
    SUBCLASS_OF_ID = 0x1BADC0DF

    def to_dict(self) -> dict[str, str]:
        return {"_": "BogusRequest"}

    def _bytes(self) -> bytes:
        return struct.pack("<I", self.CONSTRUCTOR_ID)


def _plain(body: bytes) -> bytes:
    """An unencrypted MTProto message (auth_key_id 0), as the key exchange sends them."""
    msg_id = int(time.time()) << 32
    return struct.pack("<qqi", 0, msg_id, len(body)) + body


def _req_pq() -> bytes:
    return _plain(
        bytes(functions.ReqPqMultiRequest(nonce=int.from_bytes(os.urandom(16), "little", signed=True)))
    )


def _full_packet(payload: bytes, seq: int = 0, *, crc_delta: int = 0) -> bytes:
    head = struct.pack("<ii", len(payload) + 12, seq) + payload
    return head + struct.pack("<I", (zlib.crc32(head) + crc_delta) & 0xFFFFFFFF)


async def _open(sandbox: SandboxServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(sandbox.host, sandbox.port)


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server still sent before closing; fails if it keeps the connection open."""
    return await asyncio.wait_for(reader.read(), 3)


async def _server_still_serves(make_client: ClientFactory, phone: str) -> None:
    client = await make_client(phone=phone)
    me = await client.get_me()
    assert me is not None and me.phone == phone


def _handler_count() -> int:
    return sum(
        1 for task in asyncio.all_tasks() if task.get_coro().__qualname__ == "SandboxServer._on_client"
    )


@pytest.mark.parametrize(
    ("connection", "codec_name"),
    [
        (ConnectionTcpFull, "full"),
        (ConnectionTcpIntermediate, "intermediate"),
        (ConnectionTcpAbridged, "abridged"),
        (ConnectionTcpObfuscated, "obfuscated-abridged"),
    ],
)
async def test_every_transport_logs_in(
    make_client: ClientFactory, sandbox: SandboxServer, connection: type, codec_name: str
) -> None:
    """Telethon logs in and calls get_me over each TCP transport, and the server speaks that transport."""
    client = await make_client(phone="9996670001", first_name="Transport", connection=connection)
    me = await client.get_me()
    assert me is not None and me.first_name == "Transport"
    assert [c.codec.name for c in sandbox.connections if c.codec is not None] == [codec_name]


async def test_ping_pong(make_client: ClientFactory) -> None:
    """ping answers a pong echoing the ping_id, with or without a login."""
    client = await make_client()
    pong = await client(functions.PingRequest(ping_id=0x1234_5678_9ABC))
    assert isinstance(pong, types.Pong) and pong.ping_id == 0x1234_5678_9ABC
    delayed = await client(functions.PingDelayDisconnectRequest(ping_id=-7, disconnect_delay=75))
    assert delayed.ping_id == -7


async def test_garbage_bytes_close_the_connection(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """Bytes that frame no transport make the server close the connection; it keeps serving others."""
    for garbage in (b"\xff\xff\xff\xff" + os.urandom(60), bytes(range(1, 129)), b"GET / HTTP/1.1\r\n\r\n"):
        reader, writer = await _open(sandbox)
        writer.write(garbage)
        assert await _closed_by_server(reader) == b""
        writer.close()
    await _server_still_serves(make_client, "9996670002")


async def test_truncated_packet_is_dropped(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """A packet cut short by the client closing its side ends that connection without an answer."""
    reader, writer = await _open(sandbox)
    packet = _req_pq()
    writer.write(_INTERMEDIATE + struct.pack("<i", len(packet)) + packet[: len(packet) // 2])
    await writer.drain()
    writer.write_eof()
    assert await _closed_by_server(reader) == b""
    writer.close()
    await _server_still_serves(make_client, "9996670003")


async def test_full_transport_checks_crc(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """A TCP Full packet with a wrong CRC32 closes the connection; with the right CRC it is answered."""
    packet = _req_pq()
    reader, writer = await _open(sandbox)
    writer.write(_full_packet(packet, crc_delta=1))
    assert await _closed_by_server(reader) == b""
    writer.close()

    reader, writer = await _open(sandbox)
    writer.write(_full_packet(packet))
    length, seq = struct.unpack("<ii", await reader.readexactly(8))
    answer = await reader.readexactly(length - 8)
    assert seq == 0
    assert struct.unpack("<I", answer[-4:])[0] == zlib.crc32(struct.pack("<ii", length, seq) + answer[:-4])
    assert isinstance(BinaryReader(answer[20:-4]).tgread_object(), types.ResPQ)
    writer.close()
    await _server_still_serves(make_client, "9996670004")


async def test_unknown_auth_key_gets_404(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """An encrypted packet under an auth key the server does not know is answered with -404, then closed."""
    reader, writer = await _open(sandbox)
    packet = os.urandom(8) + os.urandom(16) + os.urandom(64)
    writer.write(_INTERMEDIATE + struct.pack("<i", len(packet)) + packet)
    (length,) = struct.unpack("<i", await reader.readexactly(4))
    assert length == 4
    assert struct.unpack("<i", await reader.readexactly(4))[0] == -404
    assert await _closed_by_server(reader) == b""
    writer.close()
    await _server_still_serves(make_client, "9996670005")


async def test_undecryptable_packet_under_a_known_key(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Random bytes under a registered key id get -404 and a close, and the key itself stays usable."""
    client = await make_client(phone="9996670008")
    reader, writer = await _open(sandbox)
    packet = struct.pack("<Q", client.session.auth_key.key_id) + os.urandom(16 + 64)
    writer.write(_INTERMEDIATE + struct.pack("<i", len(packet)) + packet)
    assert await _closed_by_server(reader) == struct.pack("<ii", 4, -404)
    writer.close()
    assert (await client.get_me()).phone == "9996670008"


async def test_obfuscated_padded_intermediate(sandbox: SandboxServer) -> None:
    """An obfuscation header carrying the padded-intermediate tag gets answers in that framing, encrypted."""
    while True:
        header = bytearray(os.urandom(64))
        if header[0] != 0xEF and header[4:8] != bytes(4) and bytes(header[:4]) != _INTERMEDIATE:
            break
    send = Cipher(algorithms.AES(bytes(header[8:40])), modes.CTR(bytes(header[40:56]))).encryptor()
    back = bytes(header[8:56])[::-1]
    receive = Cipher(algorithms.AES(back[:32]), modes.CTR(back[32:48])).decryptor()
    header[56:60] = b"\xdd\xdd\xdd\xdd"
    header[56:64] = send.update(bytes(header))[56:64]
    reader, writer = await _open(sandbox)
    packet = _req_pq() + b"\x00\x01"  # up to 3 bytes of padding are allowed
    writer.write(bytes(header) + send.update(struct.pack("<i", len(packet)) + packet))
    (length,) = struct.unpack("<i", receive.update(await reader.readexactly(4)))
    answer = receive.update(await reader.readexactly(length))
    assert isinstance(BinaryReader(answer[20:]).tgread_object(), types.ResPQ)
    writer.close()


async def test_unknown_constructor_is_an_rpc_error(make_client: ClientFactory) -> None:
    """A request with a constructor no layer defines gets an RPC error, alone or inside a container."""
    client = await make_client(phone="9996670006")
    with pytest.raises(errors.RPCError) as caught:
        await asyncio.wait_for(client(_BogusRequest()), 5)
    assert caught.value.code == 400
    assert "INPUT_METHOD_INVALID" in caught.value.message
    # Sent together, Telethon packs both into one msg_container: the good call must still be answered.
    bogus, good = await asyncio.wait_for(
        asyncio.gather(
            client(_BogusRequest()), client(functions.help.GetNearestDcRequest()), return_exceptions=True
        ),
        5,
    )
    assert isinstance(bogus, errors.RPCError)
    assert isinstance(good, types.NearestDc)
    assert (await client.get_me()).phone == "9996670006"


async def test_many_connections_dropped_mid_handshake(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Twenty connections aborted in the middle of the key exchange leave no handler behind."""
    baseline = _handler_count()

    async def abandon(index: int) -> None:
        reader, writer = await _open(sandbox)
        packet = _req_pq()
        writer.write(_INTERMEDIATE + struct.pack("<i", len(packet)) + packet)
        await writer.drain()
        if index % 2:
            (length,) = struct.unpack("<i", await reader.readexactly(4))
            assert isinstance(
                BinaryReader((await reader.readexactly(length))[20:]).tgread_object(), types.ResPQ
            )
        writer.transport.abort()

    await asyncio.gather(*(abandon(i) for i in range(20)))
    for _ in range(100):
        if _handler_count() <= baseline:
            break
        await asyncio.sleep(0.02)
    assert _handler_count() <= baseline
    await _server_still_serves(make_client, "9996670007")
