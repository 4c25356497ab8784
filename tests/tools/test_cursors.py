"""Pagination cursors: what was minted for a tenant decodes for it, anything else is refused."""

from __future__ import annotations

import pytest

from mcpgram.errors import InvalidCursor
from mcpgram.tools.cursors import decode_cursor, encode_cursor

KEY = b"k" * 32


def test_a_minted_cursor_decodes_only_for_its_tenant() -> None:
    """A cursor round-trips for the tenant it was minted for and is refused for another."""
    cursor = encode_cursor(KEY, "tenant-a", {"chat": "me", "before": 7})
    assert decode_cursor(KEY, "tenant-a", cursor) == {"chat": "me", "before": 7}
    with pytest.raises(InvalidCursor):
        decode_cursor(KEY, "tenant-b", cursor)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "no-dot",
        "a.b.c",
        "e30.AAAAAAAAAAAAAAAAAAAAAA",
        "e30." + "\u00e9" * 22,  # non-ASCII MAC: hmac.compare_digest raises TypeError on str
        "\u0436.\u0436",
        "." + "A" * 600,
    ],
)
def test_forged_cursors_are_refused_as_invalid(cursor: str) -> None:
    """Forged, malformed and non-ASCII cursors raise InvalidCursor, never another exception."""
    with pytest.raises(InvalidCursor):
        decode_cursor(KEY, "tenant-a", cursor)
