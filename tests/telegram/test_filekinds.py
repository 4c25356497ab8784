"""Photo or document by magic bytes, the MIME contradiction check, and safe names (pure)."""

from __future__ import annotations

import pytest

from mcpgram.errors import InvalidArgument
from mcpgram.telegram.filekinds import MAX_PHOTO_BYTES, classify, safe_name, sniff_image

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
GIF = b"GIF89a\x01\x00\x01\x00"
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 "
PDF = b"%PDF-1.7\n%\xe2\xe3"


@pytest.mark.parametrize(
    ("head", "name", "declared", "kind", "mime"),
    [
        (JPEG, "a.jpg", None, "photo", "image/jpeg"),
        (PNG, "a.png", "image/png", "photo", "image/png"),
        (WEBP, "a.webp", None, "photo", "image/webp"),
        (PNG, "upload.bin", "application/octet-stream", "photo", "image/png"),  # generic names say nothing
        (PNG, "noext", None, "photo", "image/png"),
        (GIF, "a.gif", "image/gif", "document", "image/gif"),  # an animation, as Telegram plays GIFs
        (PDF, "r.pdf", "application/pdf", "document", "application/pdf"),
        (PDF, "r", None, "document", "application/octet-stream"),
        (b"plain text", "notes.txt", None, "document", "text/plain"),
        (b"<svg/>", "a.svg", "image/svg+xml", "document", "image/svg+xml"),  # not a photo type
    ],
)
def test_content_decides_the_kind(head: bytes, name: str, declared: str | None, kind: str, mime: str) -> None:
    got = classify(head, 100, name=name, declared=declared)
    assert (got.kind, got.mime, got.name) == (kind, mime, name)


def test_an_image_over_the_photo_limit_goes_as_a_document() -> None:
    assert classify(PNG, MAX_PHOTO_BYTES, name="a.png").kind == "photo"
    assert classify(PNG, MAX_PHOTO_BYTES + 1, name="a.png").kind == "document"


@pytest.mark.parametrize(
    ("head", "name", "declared"),
    [
        (PDF, "photo.png", None),  # an image name on a PDF
        (PDF, "x", "image/jpeg"),  # an image type on a PDF
        (PNG, "x.jpg", None),  # one image type for another
        (PNG, "x", "image/webp"),
        (PNG, "report.pdf", None),  # an image posing as a document
        (JPEG, "x", "application/pdf"),
        (GIF, "notes.txt", None),
    ],
)
def test_a_contradicting_name_or_type_is_refused(head: bytes, name: str, declared: str | None) -> None:
    with pytest.raises(InvalidArgument) as caught:
        classify(head, 100, name=name, declared=declared)
    assert caught.value.code == "MIME_MISMATCH" and name not in caught.value.message


def test_sniffing_needs_the_whole_signature() -> None:
    assert [sniff_image(h) for h in (JPEG, PNG, GIF, WEBP)] == [
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
    ]
    assert [sniff_image(h) for h in (b"\xff\xd8", b"\x89PNG", b"GIF8", b"RIFF....WEBX", b"")] == [None] * 5


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\win.ini", "win.ini"),
        ("../../", "file"),
        (".hidden", "hidden"),
        ("a\x00b\r\nc.txt", "a_b_c.txt"),
        ("", "file"),
        ("x" * 300 + ".pdf", "x" * 124 + ".pdf"),
    ],
)
def test_names_become_plain_base_names(name: str, safe: str) -> None:
    assert safe_name(name) == safe
