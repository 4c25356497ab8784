"""Pure parts of ``telegram/actions.py``: reading a message's reactions out of Telegram's answer."""

from __future__ import annotations

from telethon.tl import types

from mcpgram.telegram.actions import reactions_after


def _updates(*updates: object) -> types.Updates:
    return types.Updates(updates=list(updates), users=[], chats=[], date=None, seq=0)


def _reactions(msg_id: int, *counts: types.ReactionCount) -> types.UpdateMessageReactions:
    return types.UpdateMessageReactions(
        peer=types.PeerUser(1), msg_id=msg_id, reactions=types.MessageReactions(results=list(counts))
    )


def test_the_summary_comes_from_the_update_for_this_message() -> None:
    """Counts and the account's own reactions (in the order chosen) come from this message's update only."""
    answer = _updates(
        _reactions(7, types.ReactionCount(types.ReactionEmoji("👎"), 9, chosen_order=0)),
        _reactions(
            8,
            types.ReactionCount(types.ReactionEmoji("🔥"), 2, chosen_order=1),
            types.ReactionCount(types.ReactionEmoji("👍"), 3, chosen_order=0),
            types.ReactionCount(types.ReactionEmoji("❤"), 1),
        ),
    )
    summary = reactions_after(answer, 8)
    assert summary.known
    assert summary.counts == {"🔥": 2, "👍": 3, "❤": 1}
    assert summary.mine == ["👍", "🔥"]


def test_custom_and_paid_reactions_are_named_not_dropped() -> None:
    """Custom emoji add up under "custom" and paid stars under "paid", so the counts stay true."""
    answer = _updates(
        _reactions(
            3,
            types.ReactionCount(types.ReactionCustomEmoji(11), 2),
            types.ReactionCount(types.ReactionCustomEmoji(12), 1),
            types.ReactionCount(types.ReactionPaid(), 5),
        )
    )
    assert reactions_after(answer, 3).counts == {"custom": 3, "paid": 5}


def test_an_answer_without_the_update_is_unknown_not_empty() -> None:
    """Without updateMessageReactions the summary is marked unknown rather than claiming no reactions."""
    for answer in (_updates(), _updates(_reactions(4)), types.UpdatesTooLong(), None):
        summary = reactions_after(answer, 5)
        assert not summary.known and summary.counts == {} and summary.mine == []
    assert reactions_after(_updates(_reactions(5)), 5).known
