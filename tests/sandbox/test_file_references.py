"""File references that expire, and how a client refreshes them: through plain Telethon.

A stale reference is ``FILE_REFERENCE_EXPIRED`` in ``upload.getFile`` and when the media is sent
again; ``messages.getMessages``, ``channels.getMessages`` and history carry the current one.
"""

from __future__ import annotations

import os
import time

import pytest
from telethon import TelegramClient, errors, functions, types

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.world import Participant

from .conftest import ClientFactory
from .test_files import make_pair, named
from .test_photo_sizes import picture


async def get_file(client: TelegramClient, document: types.Document, limit: int = 64 * 1024) -> bytes:
    """One raw upload.getFile of a document's first bytes, with the reference the object carries."""
    location = types.InputDocumentFileLocation(document.id, document.access_hash, document.file_reference, "")
    answer = await client(functions.upload.GetFileRequest(location, 0, limit))
    return bytes(answer.bytes)


async def test_expired_reference_is_refused_and_a_refetched_message_works(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """After expiry, getFile and re-sends with the old reference fail; getMessages and history give the
    new one, which works; other files keep theirs. Telethon refreshes a document's reference by itself
    (it refetches the message when getFile says FILE_REFERENCE_EXPIRED), not a photo's."""
    pair = await make_pair(make_client, sandbox, "1")
    data = os.urandom(40_000)
    await pair.alice.send_file(pair.bob_peer, named(data, "a.bin"), force_document=True)
    await pair.alice.send_file(pair.bob_peer, named(picture(200, 100), "p.png"))
    doc_message, photo_message = await pair.received(2)
    assert await pair.bob.download_media(doc_message, bytes) == data
    old_ref = doc_message.document.file_reference

    sandbox.world.expire_file_references(doc_message.document.id)
    with pytest.raises(errors.FileReferenceExpiredError):
        await get_file(pair.bob, doc_message.document)
    refetches = sandbox.rpc_counts["messages.getMessages"]
    assert await pair.bob.download_media(doc_message, bytes) == data  # Telethon refetched the message
    assert sandbox.rpc_counts["messages.getMessages"] == refetches + 1
    with pytest.raises(errors.FileReferenceExpiredError):
        await pair.bob.send_file("me", doc_message.document)
    assert await pair.bob.download_media(photo_message, bytes)  # untouched

    (fresh,) = await pair.bob.get_messages(doc_message.chat_id, ids=[doc_message.id])
    assert fresh.document.file_reference not in (old_ref, b"")
    assert await get_file(pair.bob, fresh.document) == data
    resent = await pair.bob.send_file("me", fresh.document)
    assert resent.document.id == fresh.document.id

    sandbox.world.expire_file_references()  # every file at once
    with pytest.raises(errors.FileReferenceExpiredError):
        await pair.bob.download_media(photo_message, bytes)
    history = await pair.bob.get_messages(photo_message.chat_id, limit=5)
    newest_photo = next(m for m in history if m.id == photo_message.id)
    assert newest_photo.photo.file_reference != photo_message.photo.file_reference
    assert await pair.bob.download_media(newest_photo, bytes)


async def test_channel_messages_carry_the_fresh_reference(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """channels.getMessages renders the current reference too, for every member alike."""
    alice = await make_client(phone="9996620011", first_name="Alice")
    bob = await make_client(phone="9996620012", first_name="Bob")
    world = sandbox.world
    alice_id, bob_id = (await alice.get_me()).id, (await bob.get_me()).id
    channel = world.add_channel(title="Files", creator_id=alice_id, broadcast=True)
    channel.participants[bob_id] = Participant(bob_id, world.now())
    as_alice = types.InputPeerChannel(channel.id, world.access_hash(alice_id, "channel", channel.id))
    as_bob = types.InputPeerChannel(channel.id, world.access_hash(bob_id, "channel", channel.id))
    data = os.urandom(9_000)
    post = await alice.send_file(as_alice, named(data, "c.bin"), force_document=True)
    world.expire_file_references(post.document.id)
    with pytest.raises(errors.FileReferenceExpiredError):
        await get_file(bob, post.document)
    answer = await bob(functions.channels.GetMessagesRequest(as_bob, [types.InputMessageID(post.id)]))
    document = answer.messages[0].media.document
    assert document.file_reference != post.document.file_reference
    assert (
        document.file_reference == (await alice.get_messages(as_alice, ids=post.id)).document.file_reference
    )
    assert await get_file(bob, document) == data


async def test_references_rotate_with_the_ttl(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """With file_reference_ttl set, a reference goes stale when the world's clock enters a new period."""
    alice = await make_client(phone="9996620021", first_name="Alice")
    world = sandbox.world
    now = [float(int(time.time()) // 3600 * 3600 + 10)]  # 10 s into an hour
    world.clock = lambda: now[0]
    world.file_reference_ttl = 3600
    sent = await alice.send_file("me", named(os.urandom(5000), "t.bin"), force_document=True)
    now[0] += 3000
    assert await get_file(alice, sent.document)  # same period
    now[0] += 600
    with pytest.raises(errors.FileReferenceExpiredError):
        await get_file(alice, sent.document)
    (fresh,) = await alice.get_messages("me", ids=[sent.id])
    assert await get_file(alice, fresh.document)


async def test_empty_reference_is_its_own_error(make_client: ClientFactory) -> None:
    alice = await make_client(phone="9996620031", first_name="Alice")
    sent = await alice.send_file("me", named(os.urandom(5000), "e.bin"), force_document=True)
    location = types.InputDocumentFileLocation(sent.document.id, sent.document.access_hash, b"", "")
    with pytest.raises(errors.FileReferenceEmptyError):
        await alice(functions.upload.GetFileRequest(location, 0, 4096))
