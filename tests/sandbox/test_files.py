"""Uploads, downloads and media messages through real Telethon clients."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import time
import zlib
from dataclasses import dataclass

import pytest
from PIL import Image
from telethon import TelegramClient, errors, events, functions, types
from telethon.tl.custom import Message

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.world import Contact

from .conftest import ClientFactory


def make_png(width: int, height: int) -> bytes:
    """A valid RGB PNG of one colour."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"\x20\x80\xe0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_jpeg_header(width: int, height: int) -> bytes:
    """A JPEG's first segments (SOI, APP0, SOF0): enough for anything that only reads its size."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = (
        b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    )
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def named(data: bytes, name: str) -> io.BytesIO:
    stream = io.BytesIO(data)
    stream.name = name
    return stream


@dataclass
class Pair:
    alice: TelegramClient
    bob: TelegramClient
    bob_peer: types.InputPeerUser  # Bob as Alice sees him
    inbox: asyncio.Queue[Message]  # what arrives live at Bob

    async def received(self, count: int = 1) -> list[Message]:
        return [await asyncio.wait_for(self.inbox.get(), 10) for _ in range(count)]


async def make_pair(make_client: ClientFactory, sandbox: SandboxServer, digit: str) -> Pair:
    """Alice with Bob in her contacts, and Bob listening for incoming messages."""
    alice = await make_client(phone=f"99966{digit}0001", first_name="Alice")
    bob = await make_client(phone=f"99966{digit}0002", first_name="Bob")
    alice_id, bob_id = (await alice.get_me()).id, (await bob.get_me()).id
    sandbox.world.users[alice_id].contacts[bob_id] = Contact(bob_id, "Bob")  # no contacts API needed here
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    bob.add_event_handler(lambda event: inbox.put_nowait(event.message), events.NewMessage(incoming=True))
    await bob.catch_up()
    bob_peer = types.InputPeerUser(bob_id, sandbox.world.access_hash(alice_id, "user", bob_id))
    return Pair(alice, bob, bob_peer, inbox)


@pytest.mark.slow
async def test_big_file_round_trip(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """A file over 10 MB goes up in big parts and the recipient downloads it byte for byte."""
    pair = await make_pair(make_client, sandbox, "2")
    data = os.urandom(10 * 1024 * 1024 + 12345)  # just over Telethon's 10 MiB big-file threshold
    started = time.monotonic()
    sent = await pair.alice.send_file(pair.bob_peer, named(data, "blob.bin"), force_document=True)
    (message,) = await pair.received()
    assert message.document.id == sent.document.id and message.document.size == len(data)
    assert message.file.name == "blob.bin"
    downloaded = await pair.bob.download_media(message, bytes)
    assert downloaded == data
    assert time.monotonic() - started < 20


async def test_photo_keeps_image_dimensions(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """PNG and JPEG photos arrive with their real width and height; a decodable one downloads re-encoded
    as a JPEG of that size (as Telegram serves photos), one Pillow cannot decode as it was sent."""
    pair = await make_pair(make_client, sandbox, "3")
    png = make_png(37, 21)
    sent = await pair.alice.send_file(pair.bob_peer, named(png, "dot.png"), caption="a dot")
    (message,) = await pair.received()
    assert isinstance(message.media, types.MessageMediaPhoto)
    size = message.photo.sizes[-1]
    assert (size.w, size.h) == (37, 21)
    assert message.message == "a dot"
    assert message.photo.id == sent.photo.id
    downloaded = await pair.bob.download_media(message, bytes)
    with Image.open(io.BytesIO(downloaded)) as image:
        assert (image.format, image.size) == ("JPEG", (37, 21))
    header_only = make_jpeg_header(640, 480)
    await pair.alice.send_file(pair.bob_peer, named(header_only, "pic.jpg"))
    (jpeg,) = await pair.received()
    assert (jpeg.photo.sizes[-1].w, jpeg.photo.sizes[-1].h) == (640, 480)
    assert await pair.bob.download_media(jpeg, bytes) == header_only


async def test_voice_note_and_round_video_round_trip(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Voice notes keep voice=True with their duration, round videos keep round_message, on both sides."""
    pair = await make_pair(make_client, sandbox, "4")
    voice_attr = types.DocumentAttributeAudio(duration=7, voice=True, waveform=b"\x01\x02\x03")
    await pair.alice.send_file(
        pair.bob_peer, named(b"OggS" + os.urandom(3000), "note.ogg"), voice_note=True, attributes=[voice_attr]
    )
    round_attr = types.DocumentAttributeVideo(duration=3, w=240, h=240, round_message=True)
    await pair.alice.send_file(
        pair.bob_peer, named(os.urandom(5000), "round.mp4"), video_note=True, attributes=[round_attr]
    )
    voice, video = await pair.received(2)
    assert voice.voice is not None and voice.media.voice
    audio = next(a for a in voice.document.attributes if isinstance(a, types.DocumentAttributeAudio))
    assert audio.voice and audio.duration == 7 and audio.waveform == b"\x01\x02\x03"
    assert video.video_note is not None and video.media.round
    assert video.file.duration == 3


async def test_album_shares_one_grouped_id(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """Three photos sent as an album arrive as three messages with one grouped_id and their captions."""
    pair = await make_pair(make_client, sandbox, "5")
    files = [named(make_png(10 + i, 10), f"p{i}.png") for i in range(3)]
    sent = await pair.alice.send_file(pair.bob_peer, files, caption=["one", "two", "three"])
    assert len(sent) == 3
    received = await pair.received(3)
    grouped = {m.grouped_id for m in received}
    assert len(grouped) == 1 and None not in grouped
    assert {m.grouped_id for m in sent} == grouped
    assert [m.message for m in received] == ["one", "two", "three"]
    assert [m.photo.sizes[-1].w for m in received] == [10, 11, 12]


async def test_album_refuses_uploaded_media(make_client: ClientFactory) -> None:
    """sendMultiMedia with media that was not stored through uploadMedia first answers MEDIA_INVALID."""
    alice = await make_client(phone="9996650003", first_name="Alice")
    uploaded = await alice.upload_file(named(make_png(4, 4), "x.png"))
    items = [types.InputSingleMedia(types.InputMediaUploadedPhoto(uploaded), "") for _ in range(2)]
    with pytest.raises(errors.MediaInvalidError):
        await alice(functions.messages.SendMultiMediaRequest(types.InputPeerSelf(), items))


async def test_resend_existing_document_by_reference(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A stored document sent again by id and access hash reaches the recipient as the same file."""
    pair = await make_pair(make_client, sandbox, "6")
    data = os.urandom(70_000)
    saved = await pair.alice.send_file("me", named(data, "report.pdf"), force_document=True)
    await pair.alice.send_file(pair.bob_peer, saved.document, caption="fwd")
    (message,) = await pair.received()
    assert message.document.id == saved.document.id
    assert message.message == "fwd" and message.file.name == "report.pdf"
    assert await pair.bob.download_media(message, bytes) == data
    forged = types.InputDocument(
        saved.document.id, saved.document.access_hash + 1, saved.document.file_reference
    )
    with pytest.raises(errors.MediaEmptyError):
        await pair.alice.send_file(pair.bob_peer, forged)


async def test_get_file_checks_access_hash_reference_and_window(make_client: ClientFactory) -> None:
    """getFile refuses a forged access hash, a stale file reference, and windows Telegram does not allow."""
    alice = await make_client(phone="9996670001", first_name="Alice")
    mallory = await make_client(phone="9996670002", first_name="Mallory")
    data = os.urandom(300_000)
    doc = (await alice.send_file("me", named(data, "a.bin"), force_document=True)).document

    def location(
        access_hash: int = doc.access_hash, ref: bytes = doc.file_reference
    ) -> types.InputDocumentFileLocation:
        return types.InputDocumentFileLocation(doc.id, access_hash, ref, "")

    with pytest.raises(errors.FileIdInvalidError):
        await mallory(functions.upload.GetFileRequest(location(access_hash=doc.access_hash ^ 1), 0, 4096))
    with pytest.raises(errors.FileReferenceExpiredError):
        await mallory(functions.upload.GetFileRequest(location(ref=b"stale"), 0, 4096))
    with pytest.raises(errors.LimitInvalidError):
        await mallory(functions.upload.GetFileRequest(location(), 0, 3 * 4096))  # does not divide 1 MiB
    with pytest.raises(errors.OffsetInvalidError):
        await mallory(functions.upload.GetFileRequest(location(), 1024, 4096))  # 1 KiB steps need precise
    tail = await mallory(functions.upload.GetFileRequest(location(), 1024, 3 * 1024, precise=True))
    assert tail.bytes == data[1024 : 4 * 1024]
    assert isinstance(tail.type, types.storage.FilePartial)
    past_end = await mallory(functions.upload.GetFileRequest(location(), 512 * 1024, 512 * 1024))
    assert past_end.bytes == b""


async def test_invalid_parts_are_refused(make_client: ClientFactory) -> None:
    """Parts of a size Telegram forbids, out-of-range part numbers and incomplete uploads are refused."""
    alice = await make_client(phone="9996680001", first_name="Alice")
    kib = 1024
    with pytest.raises(errors.FilePartSizeInvalidError):  # not the last of 3 parts, and not a valid size
        await alice(functions.upload.SaveBigFilePartRequest(1, 0, 3, b"x" * 3 * kib))
    with pytest.raises(errors.FilePartInvalidError):
        await alice(functions.upload.SaveBigFilePartRequest(2, 3, 3, b"x" * 4 * kib))
    with pytest.raises(errors.FilePartTooBigError):
        await alice(functions.upload.SaveFilePartRequest(3, 0, b"x" * 520 * kib))
    assert await alice(functions.upload.SaveFilePartRequest(4, 0, b"x" * 1000))  # may be a whole small file
    with pytest.raises(errors.FilePartSizeInvalidError):  # ...but then part 0 is not the last one
        await alice(functions.upload.SaveFilePartRequest(4, 1, b"x" * 4 * kib))
    assert await alice(functions.upload.SaveFilePartRequest(5, 0, b"x" * 4 * kib))
    with pytest.raises(errors.FilePartSizeChangedError):
        await alice(functions.upload.SaveFilePartRequest(5, 2, b"x" * 8 * kib))
    assert await alice(functions.upload.SaveFilePartRequest(5, 2, b"x" * 100))
    missing = types.InputFile(5, 3, "a.bin", "")
    with pytest.raises(errors.FilePartMissingError) as caught:
        await alice(functions.messages.UploadMediaRequest(types.InputPeerSelf(), _document(missing)))
    assert caught.value.which == 1
    assert await alice(functions.upload.SaveFilePartRequest(5, 1, b"y" * 4 * kib))
    wrong_md5 = types.InputFile(5, 3, "a.bin", "0" * 32)
    with pytest.raises(errors.Md5ChecksumInvalidError):
        await alice(functions.messages.UploadMediaRequest(types.InputPeerSelf(), _document(wrong_md5)))


def _document(input_file: types.InputFile) -> types.InputMediaUploadedDocument:
    return types.InputMediaUploadedDocument(input_file, "application/octet-stream", [])


async def test_pending_uploads_are_capped_per_user(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Past the per-user cap the oldest pending upload expires; one upload bigger than the cap is refused."""
    sandbox.world.upload_cap = 64 * 1024
    alice = await make_client(phone="9996690001", first_name="Alice")
    part = os.urandom(32 * 1024)
    for file_id in (1, 2, 3):  # the third upload pushes the first one out
        assert await alice(functions.upload.SaveFilePartRequest(file_id, 0, part))
    with pytest.raises(errors.FilePart0MissingError):
        await alice(
            functions.messages.UploadMediaRequest(
                types.InputPeerSelf(), _document(types.InputFile(1, 1, "a", ""))
            )
        )
    stored = await alice(
        functions.messages.UploadMediaRequest(
            types.InputPeerSelf(), _document(types.InputFile(3, 1, "c", ""))
        )
    )
    assert stored.document.size == len(part)
    with pytest.raises(errors.FilePartsInvalidError):
        for index in range(3):
            await alice(functions.upload.SaveFilePartRequest(4, index, part))
