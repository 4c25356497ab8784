"""Which Saved Messages count as the person's answer to an approval (``telegram/approvals.answer_among``).

Real Telethon message objects, as ``get_messages`` returns them: only a message typed in Saved
Messages answers; a forwarded one or one sent via an inline bot (an agent could get either there
without writing its text) does not. The forwarded case also runs end to end in
``tests/tools/test_approvals.py``; the sandbox has no inline bots, so via-bot is shown here.
"""

from __future__ import annotations

import datetime

from telethon.tl import types

from mcpgram.telegram.approvals import answer_among

ME = types.PeerUser(100)
WHEN = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def message(text: str, **extra: object) -> types.Message:
    return types.Message(id=1, peer_id=ME, date=WHEN, message=text, out=True, **extra)  # type: ignore[arg-type]


def test_only_a_typed_answer_counts() -> None:
    forwarded = message("yes ABC123", fwd_from=types.MessageFwdHeader(date=WHEN, from_id=types.PeerUser(7)))
    via_bot = message("yes ABC123", via_bot_id=42)
    assert answer_among([forwarded], "ABC123") is None
    assert answer_among([via_bot], "ABC123") is None
    assert answer_among([via_bot, forwarded, message("no ABC123")], "ABC123") is False
    assert answer_among([message("yes abc-123"), message("no ABC123")], "ABC123") is True
    assert answer_among([message("yes ABC124")], "ABC123") is None
