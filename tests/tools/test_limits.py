"""Limits tripped and recovered, through a real MCP client, the gateway, Telethon and the sandbox.

The call limit answers RATE_LIMITED with retry_after for tools, resources and prompts, before
Telegram; paced writes wait their turn per tenant, per chat and for first messages; a FLOOD_WAIT is
RATE_LIMITED with Telegram's seconds and holds the tenant's writes; and where raw Telethon trips the
sandbox's flood control, the same writes through the gateway never do.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastmcp.exceptions import ToolError
from mcp import MCPError
from telethon import errors, functions

from mcpgram.telegram import chats, scope
from tests.sandbox.conftest import login, new_client

from .conftest import Demo, serve_demo

#: Alex (written to before, @alex_trails) and Maria (written to before); Emma never written to.
ALEX, MARIA, EMMA = "100000002", "100000003", "@emma_editor"
RETRY = re.compile(r"retry_after=(\d+)")


@asynccontextmanager
async def limited(
    tmp_path: Path, telegram: dict[str, Any] | None = None, **settings: Any
) -> AsyncIterator[Demo]:
    """The demo behind a gateway with these limits (pacing on; the call limit off unless given)."""
    settings = {"pacing": True, **settings}
    async for demo in serve_demo(tmp_path / "data", settings=settings, telegram=telegram):
        yield demo


async def refused(call: Any) -> tuple[str, int]:
    """The RATE_LIMITED text of a refused call and its retry_after."""
    with pytest.raises((ToolError, MCPError)) as caught:
        await call
    text = str(caught.value)
    assert text.startswith("RATE_LIMITED: "), text
    found = RETRY.search(text)
    assert found is not None, text
    return text, int(found.group(1))


async def test_calls_over_the_limit_are_refused_before_telegram_and_recover(tmp_path: Path) -> None:
    """Past call_burst, a tool call, a resource read and a prompt get each answer RATE_LIMITED with
    retry_after, and nothing reaches Telegram; after retry_after seconds calls work again."""
    async with limited(tmp_path, call_rate=0.5, call_burst=3) as demo:
        for _ in range(3):
            await demo.call("get_chat", chat=ALEX)
        before = Counter(demo.sandbox.rpc_counts)
        text, retry_after = await refused(demo.call("get_chat", chat=ALEX))
        assert "3 calls at once, then 0.5 a second" in text and retry_after == 2
        await refused(demo.client.read_resource(f"telegram://chats/{ALEX}"))
        await refused(demo.client.get_prompt("summarize_chat", {"chat": ALEX}))
        assert demo.sandbox.rpc_counts == before
        await asyncio.sleep(retry_after)
        await demo.call("get_chat", chat=ALEX)


async def test_writes_to_one_chat_are_paced_by_resolved_chat(tmp_path: Path) -> None:
    """A second write to a chat within pace_chat_seconds waits when the wait is short, and is refused
    (RATE_LIMITED, retry_after) when it is longer than pace_max_wait, however the chat is named;
    another chat is not slowed."""
    async with limited(
        tmp_path, pace_chat_seconds=1.5, pace_chat_burst=1, pace_max_wait=1.0, pace_write_burst=50
    ) as demo:
        first = time.monotonic()
        await demo.call("send_message", chat=ALEX, text="one")
        text, retry_after = await refused(demo.call("send_message", chat="@alex_trails", text="two"))
        assert "writes to one chat" in text and retry_after == 2
        await demo.call("send_message", chat=MARIA, text="another chat")
        # From 0.7 s after the first send, the rest of its 1.5 s is within pace_max_wait: waited out.
        await asyncio.sleep(max(0.0, first + 0.7 - time.monotonic()))
        await demo.call("send_message", chat=ALEX, text="three")
        assert time.monotonic() - first >= 1.5


async def test_first_messages_to_new_chats_are_paced_and_known_chats_are_not(tmp_path: Path) -> None:
    """After the new-recipient burst a first message elsewhere is refused (naming first messages);
    chats written in before are not slowed, and a chat written to once is known from then on."""
    async with limited(
        tmp_path, pace_new_recipient_burst=1, pace_new_recipient_seconds=60.0, pace_max_wait=1.0
    ) as demo:
        await demo.call("send_message", chat=EMMA, text="hello, first time")
        igor = demo.demo.phones["igor"]
        text, retry_after = await refused(demo.call("send_to_phone", phone=igor, text="hi"))
        assert "first messages" in text and 50 <= retry_after <= 60
        before = Counter(demo.sandbox.rpc_counts)
        await demo.call("send_message", chat=ALEX, text="an old friend")
        await demo.call("send_message", chat=EMMA, text="and again")  # Emma is known now
        # Alex was looked up once (messages.search from self); Emma not again.
        assert (Counter(demo.sandbox.rpc_counts) - before)["messages.search"] == 1


async def test_a_flood_wait_is_rate_limited_and_holds_the_tenants_writes_until_then(tmp_path: Path) -> None:
    """FLOOD_WAIT_3 on a send answers RATE_LIMITED retry_after=3; until then every write is refused
    (while more than pace_max_wait of it is left) without reaching Telegram; after it writes work."""
    async with limited(tmp_path, pace_max_wait=0.5, telegram={"flood_sleep_threshold": 0}) as demo:
        demo.sandbox.faults.flood_wait(functions.messages.SendMessageRequest, 3)
        text, retry_after = await refused(demo.call("send_message", chat=ALEX, text="storm"))
        flooded = time.monotonic()
        assert "FLOOD_WAIT" in text and retry_after == 3
        before = Counter(demo.sandbox.rpc_counts)
        text, _ = await refused(demo.call("send_message", chat=MARIA, text="held"))
        assert "FLOOD_WAIT" in text
        await refused(demo.call("mark_read", chat=MARIA))
        writes = {"messages.sendMessage", "messages.readHistory"}
        assert not writes & set(Counter(demo.sandbox.rpc_counts) - before)
        await demo.call("get_chat", chat=ALEX)  # reads go on
        await asyncio.sleep(max(0.0, 3.05 - (time.monotonic() - flooded)))
        assert (await demo.call("send_message", chat=ALEX, text="after the wait"))["id"] > 0


async def test_paced_writes_never_trip_flood_control_where_raw_telethon_does(tmp_path: Path) -> None:
    """At the same request rate (16 sends back to back), raw Telethon trips the sandbox's flood
    control (12 writes in 2 s) and the gateway's paced sends do not (2 at once, then one per 0.25 s:
    at most 10 in any 2 s): all 16 arrive and the sandbox answered no FLOOD_WAIT."""
    async with limited(tmp_path, pace_write_seconds=0.25, pace_write_burst=2, pace_chat_seconds=0) as demo:
        raw = new_client(demo.sandbox)
        try:
            await login(raw, demo.sandbox, demo.demo.phones["alex"])
            control = demo.sandbox.faults.flood_control(max_writes=12, window=2.0, seconds=1)
            with pytest.raises(errors.FloodWaitError):
                for i in range(16):
                    await raw.send_message("me", f"raw {i}")
            assert control.tripped == 1
        finally:
            await raw.disconnect()
        control = demo.sandbox.faults.flood_control(max_writes=12, window=2.0, seconds=1)
        started = time.monotonic()
        sent = [await demo.call("send_message", chat="me", text=f"paced {i}") for i in range(16)]
        assert control.tripped == 0 and len({message["id"] for message in sent}) == 16
        assert time.monotonic() - started >= 14 * 0.25 - 0.1


async def test_the_guard_and_the_pacer_resolve_a_sends_chat_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the default policy (first_contact asks a person) with pacing on, the guard, the pacer
    and the send itself all need a send's chat: it is looked up in the entity cache once per call
    (``telegram.scope.resolutions``), and each call looks it up afresh."""
    instant = {"pace_write_seconds": 0, "pace_chat_seconds": 0, "pace_new_recipient_seconds": 0}
    looked_up: list[object] = []
    resolve = chats._resolve_chat

    async def counted(client: Any, ref: str | int) -> Any:
        looked_up.append(ref)
        return await resolve(client, ref)

    async for demo in serve_demo(tmp_path / "data", settings={"pacing": True, **instant}, approvals=True):
        await demo.call("send_message", chat=ALEX, text="warm")  # Alex was written to: no approval
        monkeypatch.setattr(chats, "_resolve_chat", counted)
        sent = [await demo.call("send_message", chat=ALEX, text=text) for text in ("one", "two")]
        assert looked_up == [ALEX, ALEX]
        assert all(message["chat"] == int(ALEX) for message in sent)


async def test_a_send_under_every_guardrail_costs_telegram_one_request(tmp_path: Path) -> None:
    """The default policy (first_contact asks), pacing and the journal add no Telegram request to
    a send to a chat the account has written in: one ``messages.sendMessage`` and nothing else."""
    instant = {"pace_write_seconds": 0, "pace_chat_seconds": 0, "pace_new_recipient_seconds": 0}
    async for demo in serve_demo(tmp_path / "data", settings={"pacing": True, **instant}, approvals=True):
        await demo.call("send_message", chat=ALEX, text="warm")  # Alex was written to: no approval
        before = Counter(demo.sandbox.rpc_counts)
        for text in ("one", "two", "three"):
            await demo.call("send_message", chat=ALEX, text=text)
        made = Counter(demo.sandbox.rpc_counts) - before
        assert made == {"messages.sendMessage": 3}


async def test_the_guard_looks_up_no_chat_given_by_an_id_known_as_written_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """First contact is asked of the memory of written chats by id first: a send to a chat id that
    memory knows costs the guard no look-up; one by username (or not yet known) still resolves."""
    guard_lookups: list[object] = []
    resolve_target = scope.resolve_target

    async def counted(client: Any, ref: str | int) -> Any:
        guard_lookups.append(ref)
        return await resolve_target(client, ref)

    async for demo in serve_demo(tmp_path / "data", settings={"pacing": False}, approvals=True):
        monkeypatch.setattr(scope, "resolve_target", counted)
        await demo.call("send_message", chat=ALEX, text="first")  # not yet known here: looked up
        assert guard_lookups == [ALEX]
        await demo.call("send_message", chat=ALEX, text="again")
        await demo.call("send_message", chat="@alex_trails", text="by name")
        assert guard_lookups == [ALEX, "@alex_trails"]
