"""telegram/media.py against the sandbox: size choices, exact byte ranges, expired file references."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from telethon import TelegramClient
from telethon.tl import types

from mcpgram.errors import InvalidArgument, MediaNotFound, MessageNotFound
from mcpgram.sandbox import SandboxServer
from mcpgram.telegram import media
from mcpgram.telegram.pool import ClientPool, TenantClient
from mcpgram.vault.vault import Vault

from .conftest import PoolFactory, login_tenant, phone_for

MIB = 1024 * 1024
#: 20 MiB plus an odd tail, so no window boundary lines up with the end.
BIG = 20 * MIB + 12_345


@dataclass
class Account:
    tenant: TenantClient
    server: SandboxServer

    async def run(self, fn: Any) -> Any:
        return await self.tenant.run(fn)

    async def upload(self, data: bytes, name: str, **kw: Any) -> tuple[int, int, int]:
        """Send ``data`` to Saved Messages as a document; its media ref."""

        async def send(client: TelegramClient) -> Any:
            attributes = [types.DocumentAttributeFilename(name)]
            return await client.send_file("me", data, attributes=attributes, force_document=True, **kw)

        message = await self.run(send)
        return int(message.peer_id.user_id), int(message.id), int(message.media.document.id)

    async def read(self, ref: tuple[int, int, int], **kw: Any) -> bytes:
        async def collect(client: TelegramClient) -> bytes:
            return b"".join([piece async for piece in media.media_chunks(client, ref, **kw)])

        data: bytes = await self.run(collect)
        return data


@pytest.fixture
async def account(make_pool: PoolFactory, vault: Vault, sandbox: SandboxServer) -> AsyncIterator[Account]:
    pool: ClientPool = make_pool(timeout=120.0)
    keys = await login_tenant(pool, vault, sandbox, phone_for(7))
    async with pool.client(keys) as tenant:
        yield Account(tenant, sandbox)


async def test_a_20_mb_file_streams_exact_ranges(account: Account) -> None:
    """Whole file and ranges at unaligned offsets and lengths (across 512 KiB and 1 MiB windows)
    come back byte for byte; pieces never exceed 512 KiB."""
    data = os.urandom(BIG)
    ref = await account.upload(data, "big.bin")
    whole = await account.read(ref)
    assert hashlib.sha256(whole).digest() == hashlib.sha256(data).digest()
    ranges = [
        (0, 1),
        (1, 4095),
        (4095, 2),
        (MIB - 3, 7),
        (MIB - 1, MIB + 2),
        (3 * MIB + 777, 5 * MIB + 1),
        (BIG - 10, 10),
        (BIG - 10, 1000),  # a limit past the end stops at the end
        (BIG, 5),  # at the end: nothing
        (12_345_678, 0),
    ]
    for offset, limit in ranges:
        got = await account.read(ref, offset=offset, limit=limit)
        assert got == data[offset : offset + limit], (offset, limit)

    async def largest_piece(client: TelegramClient) -> int:
        return max([len(p) async for p in media.media_chunks(client, ref, offset=5, limit=3 * MIB)])

    assert await account.run(largest_piece) <= 512 * 1024


async def test_info_describes_a_document(account: Account) -> None:
    """Kind, a safe name, MIME and size come from the document; a bad range is RANGE_INVALID."""
    ref = await account.upload(
        b"%PDF-1.7\n" + b"x" * 5000, "../../etc/report.pdf", mime_type="application/pdf"
    )
    info = await account.run(lambda c: media.media_info(c, ref))
    assert (info.kind, info.name, info.mime, info.size) == ("document", "report.pdf", "application/pdf", 5009)
    with pytest.raises(InvalidArgument) as caught:
        await account.read(ref, offset=5010)
    assert caught.value.code == "RANGE_INVALID"
    with pytest.raises(InvalidArgument) as no_thumb:
        await account.run(lambda c: media.media_info(c, ref, "thumb"))
    assert no_thumb.value.code == "SIZE_UNAVAILABLE"


async def test_an_expired_file_reference_is_refreshed_mid_stream(account: Account) -> None:
    """After the first piece the stored file's reference changes (Telegram expires them): the stream
    reads the message again and continues, byte-identical."""
    data = os.urandom(3 * MIB + 99)
    ref = await account.upload(data, "r.bin")
    stored = account.server.world.files[ref[2]]
    refreshes = 0

    async def collect(client: TelegramClient) -> bytes:
        nonlocal refreshes
        out = []
        async for piece in media.media_chunks(client, ref, offset=100):
            if not out:
                stored.file_reference = b"\x02renewed"
                refreshes += 1
            out.append(piece)
        return b"".join(out)

    assert await account.run(collect) == data[100:]
    assert refreshes == 1


async def test_a_reference_that_expires_again_later_is_refreshed_again(account: Account) -> None:
    """Each stretch of progress may refresh once: a reference expiring after every piece still
    streams the whole file."""
    data = os.urandom(2 * MIB + 5)
    ref = await account.upload(data, "e.bin")
    stored = account.server.world.files[ref[2]]

    async def collect(client: TelegramClient) -> bytes:
        out = []
        async for piece in media.media_chunks(client, ref):
            out.append(piece)
            stored.file_reference = os.urandom(8)
        return b"".join(out)

    assert await account.run(collect) == data


async def test_a_missing_message_or_other_media_is_named(account: Account) -> None:
    """Another media id in the same message: MEDIA_NOT_FOUND; a message id that does not exist:
    MESSAGE_NOT_FOUND. Both before any file bytes are asked for."""
    chat, message, media_id = await account.upload(b"hello", "h.txt")
    with pytest.raises(MediaNotFound):
        await account.run(lambda c: media.media_info(c, (chat, message, media_id + 1)))
    with pytest.raises(MessageNotFound) as caught:
        await account.run(lambda c: media.media_info(c, (chat, message + 1000, media_id)))
    assert caught.value.code == "MESSAGE_NOT_FOUND"
