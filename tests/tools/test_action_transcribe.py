"""``transcribe_voice`` through a real MCP client: the demo voice note, the free trial, Premium, refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fastmcp.exceptions import ToolError
from telethon.tl import functions

from mcpgram.sandbox.rpc.search import TRIAL_WEEKLY_NUMBER
from mcpgram.tools.context import THIRD_PARTY_NOTE

from .action_support import ref, refusal, telegram_calls
from .conftest import Demo


async def test_transcribes_the_demo_voice_note_and_counts_the_trial_once(served: Demo) -> None:
    """The text is Telegram's transcription; a second call for the same note is free and returns the same."""
    chat, msg_id = ref(served, "maria_voice")
    expected = served.demo.message("maria_voice").content.transcription
    assert expected
    first = await served.call("transcribe_voice", chat=chat, message_id=msg_id)
    assert first["note"] == THIRD_PARTY_NOTE  # the transcription is someone's words
    assert first["text"] == expected
    assert first["free_left"] == TRIAL_WEEKLY_NUMBER - 1
    assert first["free_resets"].endswith("Z") and "pending" not in first
    assert await served.call("transcribe_voice", chat=chat, message_id=msg_id) == first
    assert len(served.world.transcription_trials[served.me]) == 1


async def test_premium_accounts_get_no_trial_fields(served: Demo) -> None:
    """With Premium the result is just the text."""
    served.world.users[served.me].premium = True
    chat, msg_id = ref(served, "maria_voice")
    result = await served.call("transcribe_voice", chat=chat, message_id=msg_id)
    assert result == {
        "note": THIRD_PARTY_NOTE,
        "text": served.demo.message("maria_voice").content.transcription,
    }


async def test_used_up_trial_is_premium_required_with_a_hint(served: Demo) -> None:
    """Once the weekly free transcriptions are used on other notes, the call is PREMIUM_REQUIRED."""
    now = int(served.world.now())
    served.world.transcription_trials[served.me] = {-(n + 1): now for n in range(TRIAL_WEEKLY_NUMBER)}
    chat, msg_id = ref(served, "maria_voice")
    text = await refusal(served, "transcribe_voice", chat=chat, message_id=msg_id)
    assert text.startswith("PREMIUM_REQUIRED:") and "hint:" in text
    assert len(served.world.transcription_trials[served.me]) == TRIAL_WEEKLY_NUMBER


async def test_transcription_makes_one_call(served: Demo) -> None:
    """With the chat known, a transcription is one transcribeAudio call."""
    chat, msg_id = ref(served, "maria_voice")
    await served.call("transcribe_voice", chat=chat, message_id=msg_id)
    with telegram_calls(served) as calls:
        await served.call("transcribe_voice", chat=chat, message_id=msg_id)
    assert calls == {"messages.transcribeAudio": 1}


async def test_transcription_refusals_have_clear_codes(served: Demo) -> None:
    """Text, photo and file messages are NOT_VOICE; bad ids MESSAGE_NOT_FOUND; no free trial is used."""
    chat, voice = ref(served, "maria_voice")
    alex, alex_text = ref(served, "alex_plan")
    _, sunset = ref(served, "alex_sunset")
    sam, report = ref(served, "q3_report")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"chat": alex, "message_id": alex_text}, "NOT_VOICE"),
        ({"chat": alex, "message_id": sunset}, "NOT_VOICE"),
        ({"chat": sam, "message_id": report}, "NOT_VOICE"),
        ({"chat": chat, "message_id": 999_999}, "MESSAGE_NOT_FOUND"),
        ({"chat": alex, "message_id": voice}, "MESSAGE_NOT_FOUND"),  # the voice note is in another chat
        ({"chat": "Maria", "message_id": voice}, "CHAT_NOT_FOUND"),
        ({"chat": chat, "message_id": 0}, "validation"),
    ]
    for args, expected in cases:
        with pytest.raises(ToolError) as caught:
            await served.call("transcribe_voice", **args)
        text = str(caught.value)
        if expected == "validation":
            assert text.startswith("INVALID_ARGUMENT: "), (args, text)
        else:
            assert text.startswith(f"{expected}:") and "hint:" in text, (args, text)
    assert not served.world.transcription_trials.get(served.me)


async def test_transcription_long_flood_wait_is_reported(served: Demo) -> None:
    """A long FLOOD_WAIT is RATE_LIMITED with retry_after."""
    chat, msg_id = ref(served, "maria_voice")
    served.sandbox.faults.flood_wait(functions.messages.TranscribeAudioRequest, 3600)
    text = await refusal(served, "transcribe_voice", chat=chat, message_id=msg_id)
    assert text.startswith("RATE_LIMITED:") and "retry_after=3600" in text


@pytest.mark.parametrize(
    ("code", "error", "expected"),
    [
        (400, "MSG_VOICE_MISSING", "NOT_VOICE:"),
        (403, "PREMIUM_ACCOUNT_REQUIRED", "PREMIUM_REQUIRED:"),
        (400, "TRANSCRIPTION_FAILED", "TELEGRAM_ERROR: Telegram refused the call: TRANSCRIPTION_FAILED"),
        (400, "MSG_VOICE_TOO_LONG", "TELEGRAM_ERROR: Telegram refused the call: MSG_VOICE_TOO_LONG"),
    ],
)
async def test_telegram_refusals_of_a_transcription_map_to_codes(
    served: Demo, code: int, error: str, expected: str
) -> None:
    """Telegram's refusals become our codes; the others keep only Telegram's error name."""
    chat, msg_id = ref(served, "maria_voice")
    served.sandbox.faults.error(functions.messages.TranscribeAudioRequest, code, error)
    assert (await refusal(served, "transcribe_voice", chat=chat, message_id=msg_id)).startswith(expected)
