"""upload.getFile's rules, document attributes, and a 100 MB file up and down: plain Telethon.

The offset / limit rules are https://core.telegram.org/api/files ("Downloading files"): without
``precise``, offset and limit are multiples of 4 KiB and the limit divides 1 MiB; with it, multiples
of 1 KiB and a limit of at most 1 MiB; either way one request stays inside one 1 MiB block.
"""

from __future__ import annotations

import hashlib
import os
import time
import tracemalloc
from typing import Any

import pytest
from telethon import TelegramClient, errors, functions, types

from mcpgram.sandbox import SandboxServer

from .conftest import ClientFactory
from .test_files import make_pair, named
from .test_photo_sizes import picture

KIB, MIB = 1024, 1024 * 1024

#: (offset, limit, precise, error): every rule broken once, and its precise twin.
BROKEN = [
    (-4 * KIB, 4 * KIB, False, errors.OffsetInvalidError),  # negative
    (KIB, 4 * KIB, False, errors.OffsetInvalidError),  # 1 KiB steps need precise
    (4 * KIB + 512, 4 * KIB, True, errors.OffsetInvalidError),  # not even 1 KiB steps
    (0, 0, False, errors.LimitInvalidError),  # nothing asked
    (0, 2 * KIB, False, errors.LimitInvalidError),  # not a multiple of 4 KiB
    (0, 12 * KIB, False, errors.LimitInvalidError),  # a multiple of 4 KiB that does not divide 1 MiB
    (0, 2 * MIB, False, errors.LimitInvalidError),  # over 1 MiB
    (0, 1536, True, errors.LimitInvalidError),  # precise: not a multiple of 1 KiB
    (0, MIB + KIB, True, errors.LimitInvalidError),  # precise: over 1 MiB
    (MIB - 4 * KIB, 8 * KIB, False, errors.LimitInvalidError),  # crosses the 1 MiB boundary
    (MIB - KIB, 2 * KIB, True, errors.LimitInvalidError),  # precise, and still crosses it
]

#: (offset, limit, precise): windows Telegram serves.
ALLOWED = [
    (0, MIB, False),
    (12 * KIB, 4 * KIB, False),
    (MIB, 512 * KIB, False),
    (KIB, 3 * KIB, True),  # precise lifts the 4 KiB and divisor rules
    (MIB - 3 * KIB, 3 * KIB, True),  # ends exactly at the boundary
    (MIB + 5 * KIB, 1000 * KIB, True),
]


def location(document: Any, thumb: str = "") -> types.InputDocumentFileLocation:
    return types.InputDocumentFileLocation(document.id, document.access_hash, document.file_reference, thumb)


async def get(client: TelegramClient, where: Any, offset: int, limit: int, precise: bool = False) -> bytes:
    answer = await client(functions.upload.GetFileRequest(where, offset, limit, precise=precise))
    return bytes(answer.bytes)


async def test_every_broken_window_rule_has_its_error(make_client: ClientFactory) -> None:
    """Each rule of the download window, broken alone, answers its own error; the allowed windows
    answer exactly the bytes asked for."""
    alice = await make_client(phone="9996640001", first_name="Alice")
    data = os.urandom(2 * MIB + 77 * KIB)
    document = (await alice.send_file("me", named(data, "w.bin"), force_document=True)).document
    for offset, limit, precise, error in BROKEN:
        with pytest.raises(error):
            await get(alice, location(document), offset, limit, precise)
    for offset, limit, precise in ALLOWED:
        assert await get(alice, location(document), offset, limit, precise) == data[offset : offset + limit]
    assert await get(alice, location(document), 3 * MIB, 4 * KIB) == b""  # past the end: empty


async def test_locations_name_only_sizes_the_file_has(make_client: ClientFactory) -> None:
    """A photo size it lacks, the stripped size (it travels inline), a thumbnail of a document without
    thumbnails and a forged access hash are refused."""
    alice = await make_client(phone="9996640002", first_name="Alice")
    photo = (await alice.send_file("me", named(picture(300, 200), "p.png"))).photo
    assert [s.type for s in photo.sizes] == ["i", "s", "m"]

    def at(thumb: str, access_hash: int = photo.access_hash) -> types.InputPhotoFileLocation:
        return types.InputPhotoFileLocation(photo.id, access_hash, photo.file_reference, thumb)

    assert await get(alice, at("s"), 0, 64 * KIB)
    for thumb in ("x", "i", ""):
        with pytest.raises(errors.LocationInvalidError):
            await get(alice, at(thumb), 0, 4 * KIB)
    with pytest.raises(errors.FileIdInvalidError):
        await get(alice, at("s", photo.access_hash ^ 1), 0, 4 * KIB)
    document = (await alice.send_file("me", named(b"plain", "p.txt"), force_document=True)).document
    with pytest.raises(errors.LocationInvalidError):
        await get(alice, location(document, "m"), 0, 4 * KIB)


async def test_document_attributes_round_trip(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """Audio (title, performer, duration), voice (waveform), video (duration, size, streaming),
    animation and file name arrive as sent, live and through getMessages."""
    pair = await make_pair(make_client, sandbox, "4")
    song = types.DocumentAttributeAudio(duration=215, title="Harbour Lights", performer="The Gulls")
    voice = types.DocumentAttributeAudio(duration=5, voice=True, waveform=bytes(range(0, 250, 5)))
    video = types.DocumentAttributeVideo(duration=12.5, w=1280, h=720, supports_streaming=True)
    sends = [
        (named(b"ID3" + os.urandom(3000), "song.mp3"), [song, types.DocumentAttributeFilename("song.mp3")]),
        (named(b"OggS" + os.urandom(900), "note.ogg"), [voice]),
        (named(b"\x00\x00\x00\x18ftypmp42" + os.urandom(5000), "clip.mp4"), [video]),
        (named(b"GIF89a" + os.urandom(500), "loop.mp4"), [types.DocumentAttributeAnimated(), video]),
    ]
    for file, attributes in sends:
        await pair.alice.send_file(pair.bob_peer, file, attributes=attributes, force_document=False)
    live = await pair.received(4)
    fetched = await pair.bob.get_messages(live[0].chat_id, ids=[m.id for m in live])
    for message in (*live, *fetched):
        assert message.document is not None
    by_name = {type(a).__name__: a for a in fetched[0].document.attributes}
    assert by_name["DocumentAttributeAudio"].title == "Harbour Lights"
    assert by_name["DocumentAttributeAudio"].performer == "The Gulls"
    assert by_name["DocumentAttributeAudio"].duration == 215 and not by_name["DocumentAttributeAudio"].voice
    assert fetched[0].file.name == "song.mp3" and fetched[0].audio is not None
    note = fetched[1]
    assert note.voice is not None and note.media.voice
    (audio,) = [a for a in note.document.attributes if isinstance(a, types.DocumentAttributeAudio)]
    assert audio.voice and audio.duration == 5 and audio.waveform == bytes(range(0, 250, 5))
    clip = fetched[2]
    (vid,) = [a for a in clip.document.attributes if isinstance(a, types.DocumentAttributeVideo)]
    assert (vid.duration, vid.w, vid.h, vid.supports_streaming) == (12.5, 1280, 720, True)
    assert clip.media.video and clip.video is not None
    gif = fetched[3]
    assert gif.gif is not None
    assert any(isinstance(a, types.DocumentAttributeAnimated) for a in gif.document.attributes)
    assert [m.document.attributes for m in live] == [m.document.attributes for m in fetched]


async def test_hundred_megabyte_file_round_trip(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """100 MB goes up in big parts and comes down byte for byte; the world holds it once. (About 8 s
    here, so not marked slow; the process peaks near 400 MB: the client's copy, the parts, the stored
    file and the download.)"""
    pair = await make_pair(make_client, sandbox, "5")
    data = os.urandom(100 * MIB)
    digest = hashlib.sha256(data).digest()
    started = time.monotonic()
    sent = await pair.alice.send_file(pair.bob_peer, named(data, "huge.bin"), force_document=True)
    uploaded = time.monotonic()
    (message,) = await pair.received()
    assert message.document.size == len(data) and not sandbox.world.uploads
    stored = sandbox.world.files[sent.document.id]
    assert len(stored.data) == len(data) and isinstance(stored.data, bytes)
    del data  # the client's copy; the download below is compared by digest
    downloaded = await pair.bob.download_media(message, bytes)
    done = time.monotonic()
    assert len(downloaded) == 100 * MIB and hashlib.sha256(downloaded).digest() == digest
    print(f"100 MB: upload {uploaded - started:.1f} s, download {done - uploaded:.1f} s")


async def test_downloads_copy_only_the_window_they_answer(make_client: ClientFactory) -> None:
    """Serving a 16 MiB document in 1 MiB windows allocates about one window at a time, never the file:
    the sandbox slices its one stored copy (the client here streams, keeping nothing)."""
    alice = await make_client(phone="9996640006", first_name="Alice")
    data = os.urandom(16 * MIB)
    sent = await alice.send_file("me", named(data, "s.bin"), force_document=True)
    tracemalloc.start()
    try:
        received = 0
        async for chunk in alice.iter_download(sent.document, request_size=MIB):
            received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == len(data)
    assert peak < 8 * MIB, peak  # a whole-file copy alone would be 16 MiB
