"""Range parsing, filenames and media types for downloads: exact, and safe on hostile input."""

from __future__ import annotations

import pytest

from mcpgram.web.byteranges import (
    UNSATISFIABLE,
    ByteRange,
    content_disposition,
    media_type,
    parse_range,
    safe_filename,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-0", ByteRange(0, 0, 1000)),
        ("bytes=0-499", ByteRange(0, 499, 1000)),
        ("bytes=500-", ByteRange(500, 999, 1000)),
        ("bytes=-1", ByteRange(999, 999, 1000)),
        ("bytes=-200", ByteRange(800, 999, 1000)),
        ("bytes=-5000", ByteRange(0, 999, 1000)),
        ("bytes=990-5000", ByteRange(990, 999, 1000)),
        ("BYTES = 10-19", ByteRange(10, 19, 1000)),
        ("bytes=999-999", ByteRange(999, 999, 1000)),
    ],
)
def test_one_range_is_served_exactly(header: str, expected: ByteRange) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0", "bytes=5000-6000"])
def test_a_range_past_the_end_is_unsatisfiable(header: str) -> None:
    assert parse_range(header, 1000) is UNSATISFIABLE


def test_any_range_of_an_empty_file_is_unsatisfiable() -> None:
    assert parse_range("bytes=0-", 0) is UNSATISFIABLE
    assert parse_range("bytes=-10", 0) is UNSATISFIABLE


@pytest.mark.parametrize(
    "header",
    [
        None,
        "items=0-10",
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=a-b",
        "bytes=10-5",
        "bytes=0-1,5-6",  # several ranges: the whole file (documented)
        "bytes=1-2,",
        "bytes=" + "9" * 30 + "-",
        "bytes=+1-2",
        "bytes=0x10-20",
        "bytes=\uff11-\uff12",  # fullwidth digits
    ],
)
def test_other_headers_serve_the_whole_file(header: str | None) -> None:
    assert parse_range(header, 1000) is None


def test_if_range_serves_the_whole_file() -> None:
    assert parse_range("bytes=0-1", 1000, if_range='"etag"') is None


def test_content_range_text() -> None:
    assert ByteRange(5, 9, 10).content_range() == "bytes 5-9/10"
    assert ByteRange(5, 9, 10).length == 5


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\evil.exe", "evil.exe"),
        ('a"b;c%d.txt', "a_b_c_d.txt"),
        ("line\r\nSet-Cookie: x", "line__Set-Cookie_ x"),
        ("", "attachment"),
        (None, "attachment"),
        ("..", "attachment"),
        ("rtl\u202egpj.exe", "rtlgpj.exe"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_filenames_lose_paths_and_controls(name: str | None, safe: str) -> None:
    assert safe_filename(name) == safe


def test_content_disposition_has_an_ascii_fallback_and_utf8() -> None:
    assert content_disposition("report.pdf") == 'attachment; filename="report.pdf"'
    value = content_disposition("отчёт 2026.pdf")
    assert value == (
        "attachment; filename=\"_____ 2026.pdf\"; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%202026.pdf"
    )
    assert "\r" not in content_disposition("a\r\nb") and "\n" not in content_disposition("a\r\nb")


@pytest.mark.parametrize(
    ("mime", "served"),
    [
        ("image/jpeg", "image/jpeg"),
        ("Application/PDF", "application/pdf"),
        ("text/html; charset=utf-8", "application/octet-stream"),
        ("text/html\r\nX: y", "application/octet-stream"),
        (None, "application/octet-stream"),
        ("nonsense", "application/octet-stream"),
    ],
)
def test_media_types_are_plain_or_octet_stream(mime: str | None, served: str) -> None:
    assert media_type(mime) == served
