"""The pure parts of writing: text preparation, schedules, phone numbers and local files."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telethon.tl import types

from mcpgram.errors import MCPGramError, TooLarge
from mcpgram.telegram.local_files import FileRefused, read_local_file
from mcpgram.telegram.phone import normalize_phone
from mcpgram.telegram.sending import MAX_TEXT, SendRefused, parse_schedule, prepare_text

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_text_mode_keeps_everything_verbatim() -> None:
    """parse_mode text: snake_case, stars, underscores and tags survive untouched, without entities."""
    text = "  my_var_name *x* __y__ <b>z</b>  "
    assert prepare_text(text, "text").text == text
    assert prepare_text(text, "text").entities == []


def test_markdown_and_html_give_entities() -> None:
    """Each markup mode yields Telegram entities for its own syntax only."""
    md = prepare_text("**b** and snake_case", "markdown")
    assert md.text == "b and snake_case" and [type(e) for e in md.entities] == [types.MessageEntityBold]
    page = prepare_text('<a href="https://example.com">x</a>', "html")
    assert page.text == "x" and isinstance(page.entities[0], types.MessageEntityTextUrl)


def test_length_counts_utf16_units_after_markup() -> None:
    """4096 UTF-16 units pass; one more is MESSAGE_TOO_LONG; emoji count twice; markup does not count."""
    assert prepare_text("😀" * (MAX_TEXT // 2), "text").text
    with pytest.raises(SendRefused) as caught:
        prepare_text("😀" * (MAX_TEXT // 2) + "a", "text")
    assert caught.value.code == "MESSAGE_TOO_LONG" and "4097" in caught.value.message
    assert prepare_text("<b>" + "a" * MAX_TEXT + "</b>", "html").text == "a" * MAX_TEXT


def test_empty_text_is_refused_unless_a_file_carries_it() -> None:
    """Blank text is MESSAGE_EMPTY, except as the caption of a file."""
    with pytest.raises(SendRefused) as caught:
        prepare_text(" \n", "text")
    assert caught.value.code == "MESSAGE_EMPTY"
    assert prepare_text("", "text", allow_empty=True).text == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("2026-01-01T13:00:00Z", NOW + timedelta(hours=1)),
        ("2026-01-01T13:00:00", NOW + timedelta(hours=1)),
        ("2026-01-01T15:00:00+02:00", NOW + timedelta(hours=1)),
        ("2026-12-31T12:00:00Z", NOW + timedelta(days=364)),
    ],
)
def test_schedule_accepts_future_iso_times(value: str, expected: datetime | None) -> None:
    """ISO times in the future within a year are accepted; no offset means UTC."""
    assert parse_schedule(value, now=NOW) == expected


@pytest.mark.parametrize(
    "value", ["2026-01-01T12:00:00Z", "2025-12-31T00:00:00Z", "2027-01-02T12:00:00Z", "soon", "9999-99-99"]
)
def test_schedule_refuses_past_far_and_garbage(value: str) -> None:
    """The present, the past, more than 365 days ahead and non-dates are SCHEDULE_INVALID."""
    with pytest.raises(SendRefused) as caught:
        parse_schedule(value, now=NOW)
    assert caught.value.code == "SCHEDULE_INVALID"


@pytest.mark.parametrize(
    ("phone", "digits"), [("+1 (555) 123-4567", "15551234567"), ("9996610000", "9996610000")]
)
def test_phone_numbers_normalize_to_digits(phone: str, digits: str) -> None:
    assert normalize_phone(phone) == digits


@pytest.mark.parametrize("phone", ["abc", "+12", "1234567890123456", "+1 555 abc 1234", "@user"])
def test_bad_phone_numbers_are_refused_without_echoing_them(phone: str) -> None:
    with pytest.raises(SendRefused) as caught:
        normalize_phone(phone)
    assert caught.value.code == "PHONE_INVALID" and phone not in str(caught.value)


def _refusal(path: str, **kwargs: int) -> MCPGramError:
    with pytest.raises(MCPGramError) as caught:
        read_local_file(path, roots=[Path(path).parent if path.startswith("/") else "/"], **kwargs)
    assert path not in caught.value.message and (caught.value.hint or "").find(path) < 0
    return caught.value


def test_local_file_reads_a_regular_file(tmp_path: Path) -> None:
    """A regular file gives its bytes and base name, also through a symlink."""
    target = tmp_path / "report.pdf"
    target.write_bytes(b"%PDF-1.4")
    link = tmp_path / "link.pdf"
    link.symlink_to(target)
    assert read_local_file(str(target), roots=[tmp_path]).data == b"%PDF-1.4"
    assert read_local_file(str(link), roots=[tmp_path]).name == "report.pdf"


def test_local_file_refusals(tmp_path: Path) -> None:
    """Relative, '..', directories, devices, FIFOs, empty, missing and over-size files are refused."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    empty = tmp_path / "empty.txt"
    empty.touch()
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * 11)
    to_device = tmp_path / "null"
    to_device.symlink_to("/dev/null")
    assert isinstance(_refusal(str(big), max_bytes=10), TooLarge)
    for path in [
        "a.txt",
        f"{tmp_path}/../x",
        str(tmp_path),
        "/dev/zero",
        str(fifo),
        str(empty),
        str(to_device),
    ]:
        refused = _refusal(path)
        assert isinstance(refused, FileRefused) and refused.code == "FILE_INVALID", path
    missing = _refusal(str(tmp_path / "nope"))
    assert isinstance(missing, FileRefused) and missing.code == "FILE_NOT_FOUND"
