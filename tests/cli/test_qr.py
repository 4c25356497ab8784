"""The terminal QR code decodes on a light and on a dark theme (see ``screen.py`` for how)."""

from __future__ import annotations

import io

import pytest
import segno

from mcpgram.cli.qr import qr_lines

from .screen import SGR, THEMES, decode

URL = "tg://login?token=AQAAAABnMVpB8Sx3W-uX1XkUyYYq0bUZbp5ZmQz5xY4n0fMk"


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_qr_lines_decode_on_both_themes(theme: str) -> None:
    """The drawn code, surrounded by text lines as the login prints it, reads back as the URL."""
    text = "\n".join(["Scan this QR code in a Telegram app", *qr_lines(URL), f"Or open this link: {URL}"])
    assert decode(text, theme) == [URL]


def test_plain_block_characters_fail_on_one_theme() -> None:
    """The check can fail: segno's uncoloured terminal drawing reads on a dark theme only."""
    out = io.StringIO()
    segno.make(URL, error="l").terminal(out=out, compact=True, border=4)
    assert decode(out.getvalue(), "dark") == [URL]
    assert decode(out.getvalue(), "light") == []


def test_qr_lines_have_a_quiet_zone_and_reset_their_colours() -> None:
    """Every line starts black-on-white and ends reset; the first two lines (4 modules) are blank."""
    lines = qr_lines(URL)
    assert all(line.startswith("\x1b[38;5;16;48;5;231m") and line.endswith("\x1b[0m") for line in lines)
    cells = [SGR.sub("", line) for line in lines]
    assert cells[0].strip() == cells[1].strip() == "" and cells[-1].strip() == cells[-2].strip() == ""
    assert all(cell[:4] == cell[-4:] == "    " for cell in cells)
