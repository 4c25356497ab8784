"""Approvals through Saved Messages and legacy elicitation: MCP client -> mcpgram -> Telethon -> sandbox.

The person is played by a second Telethon client logged in as the same account (their phone app):
it reads the request in Saved Messages and answers ``yes CODE`` / ``no CODE`` there. Sends are
counted in the sandbox's own history of the target chat, so "sent exactly once" and "nothing sent"
are what Telegram holds, not what a tool said.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import mcp_types
import pytest
from fastmcp import Client
from fastmcp.client.elicitation import ElicitResult
from fastmcp.exceptions import ToolError
from telethon import TelegramClient

from mcpgram.audit.reading import Filter, journal_files, newest
from mcpgram.policy.book import PolicyBook
from mcpgram.sandbox.messaging import Changes, post
from mcpgram.sandbox.world import Content, user_peer
from mcpgram.vault.vault import OWNER_TENANT_ID

from ..sandbox.conftest import login, new_client
from .conftest import Demo, serve_demo

#: Emma (@emma_editor): a chat the demo account has never written in (a first contact).
EMMA = "@emma_editor"
ALEX = 100000002
CODE = re.compile(r"mcpgram approval ([A-Z]{3}\d{3})")


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    """The demo world with the default policy: first contacts and deletes for everyone ask."""
    async for served in serve_demo(tmp_path / "data", approvals=True, settings={"approval_ttl_seconds": 60}):
        yield served


@contextlib.asynccontextmanager
async def person_client(demo: Demo) -> AsyncIterator[TelegramClient]:
    """The account's owner on another device: a second Telethon client logged in as the same user."""
    client = new_client(demo.sandbox)
    await login(client, demo.sandbox, demo.demo.phone)
    try:
        yield client
    finally:
        await client.disconnect()  # type: ignore[func-returns-value]


@pytest.fixture
async def person(demo: Demo) -> AsyncIterator[TelegramClient]:
    async with person_client(demo) as client:
        yield client


def emma(demo: Demo) -> int:
    peer = demo.world.resolve_username("emma_editor")
    assert peer is not None
    return peer.id


def sent_to(demo: Demo, user_id: int, text: str) -> int:
    """How many messages with ``text`` this account's history with ``user_id`` holds."""
    box = demo.world.box(demo.me)
    return sum(1 for i in box.history(user_peer(user_id)) if box.messages[i].content.text == text)


async def pending(demo: Demo, tool: str, **args: Any) -> str:
    with pytest.raises(ToolError) as caught:
        await demo.call(tool, **args)
    message = str(caught.value)
    assert message.startswith("APPROVAL_PENDING: "), message
    return message


async def last_code(person: TelegramClient) -> str:
    """The code of the newest approval request in Saved Messages, as the person reads it."""
    for message in await person.get_messages("me", limit=10):
        if match := CODE.search(message.message or ""):
            return match.group(1)
    raise AssertionError("no approval request in Saved Messages")


async def test_a_first_contact_waits_for_yes_in_saved_messages_then_is_sent_exactly_once(
    demo: Demo, person: TelegramClient
) -> None:
    """The first call asks in Saved Messages and sends nothing; the same call after "yes CODE" sends it
    once; the approval is used up, so the call after that asks again and sends nothing more."""
    text = "hello Emma, first time"
    message = await pending(demo, "send_message", chat=EMMA, text=text)
    assert "Saved Messages" in message and "same arguments" in message
    request = (await person.get_messages("me", limit=1))[0].message
    code = await last_code(person)
    assert code in message and text in request and "first_contact" in request
    assert sent_to(demo, emma(demo), text) == 0
    again = await pending(demo, "send_message", chat=EMMA, text=text)  # not answered yet
    assert "still waiting" in again and sent_to(demo, emma(demo), text) == 0
    await person.send_message("me", f"yes {code}")
    sent = await demo.call("send_message", chat=EMMA, text=text)
    assert sent["id"] and sent_to(demo, emma(demo), text) == 1
    # Emma has been written to now: the same text again is no first contact and goes straight out.
    await demo.call("send_message", chat=EMMA, text=text)
    assert sent_to(demo, emma(demo), text) == 2


async def test_no_code_refuses_and_nothing_is_sent(demo: Demo, person: TelegramClient) -> None:
    """ "no CODE": the retried call answers APPROVAL_REFUSED and Emma's chat stays empty; the next
    identical call asks anew."""
    text = "a message Emma must not get"
    await pending(demo, "send_message", chat=EMMA, text=text)
    first = await last_code(person)
    await person.send_message("me", f"no {first}")
    with pytest.raises(ToolError, match=r"^APPROVAL_REFUSED: the person refused"):
        await demo.call("send_message", chat=EMMA, text=text)
    assert sent_to(demo, emma(demo), text) == 0
    await pending(demo, "send_message", chat=EMMA, text=text)
    assert await last_code(person) != first and sent_to(demo, emma(demo), text) == 0


async def test_a_changed_text_needs_its_own_approval(demo: Demo, person: TelegramClient) -> None:
    """Approving one text does not approve another: the changed call asks again and sends nothing;
    the approved text still goes out once."""
    await pending(demo, "send_message", chat=EMMA, text="approved text")
    code = await last_code(person)
    await person.send_message("me", f"yes {code}")
    await pending(demo, "send_message", chat=EMMA, text="approved text, then changed")
    assert await last_code(person) != code
    assert sent_to(demo, emma(demo), "approved text, then changed") == 0
    await demo.call("send_message", chat=EMMA, text="approved text")
    assert sent_to(demo, emma(demo), "approved text") == 1


async def test_an_unanswered_approval_expires_and_nothing_is_sent(tmp_path: Path) -> None:
    """Past its expiry an approval answers APPROVAL_EXPIRED, even approved after the fact; nothing is sent."""
    async for demo in serve_demo(tmp_path / "data", approvals=True, settings={"approval_ttl_seconds": 0.5}):
        person = new_client(demo.sandbox)
        await login(person, demo.sandbox, demo.demo.phone)
        try:
            await pending(demo, "send_message", chat=EMMA, text="too late")
            code = await last_code(person)
            await asyncio.sleep(0.7)
            await person.send_message("me", f"yes {code}")
            with pytest.raises(ToolError, match=r"^APPROVAL_EXPIRED: "):
                await demo.call("send_message", chat=EMMA, text="too late")
            assert sent_to(demo, emma(demo), "too late") == 0
        finally:
            await person.disconnect()  # type: ignore[func-returns-value]


async def test_delete_for_everyone_asks_and_delete_for_me_does_not(
    demo: Demo, person: TelegramClient
) -> None:
    """Deleting for everyone waits for the person; deleting only for me goes ahead."""
    box = demo.world.box(demo.me)
    own = [i for i in box.history(user_peer(ALEX)) if box.messages[i].out][-2:]
    await pending(demo, "delete_messages", chat=str(ALEX), message_ids=[own[0]], for_everyone=True)
    assert own[0] in box.messages
    await person.send_message("me", f"yes {await last_code(person)}")
    done = await demo.call("delete_messages", chat=str(ALEX), message_ids=[own[0]], for_everyone=True)
    assert done["deleted"] == 1 and own[0] not in box.messages
    done = await demo.call("delete_messages", chat=str(ALEX), message_ids=[own[1]], for_everyone=False)
    assert done["deleted"] == 1


async def test_an_agent_cannot_write_the_answer_itself(demo: Demo, person: TelegramClient) -> None:
    """A send or edit whose text reads like an approval's answer is refused, so the agent cannot say
    yes for the person in Saved Messages; the approval stays pending."""
    await pending(demo, "send_message", chat=EMMA, text="needs a person")
    code = await last_code(person)
    for text in (f"yes {code}", f"Yes {code[:3]}-{code[3:]}"):
        with pytest.raises(ToolError, match=r"^NOT_ALLOWED: .*only ever written by the person"):
            await demo.call("send_message", chat="me", text=text)
    await pending(demo, "send_message", chat=EMMA, text="needs a person")
    assert sent_to(demo, emma(demo), "needs a person") == 0


async def legacy_call(demo: Demo, answer: Any, **args: Any) -> tuple[Any, list[str]]:
    """``send_message`` from a 2025-era client whose elicitation handler answers ``answer``."""
    asked: list[str] = []

    async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
        asked.append(message)
        return answer

    async with Client(demo.gateway.mcp, mode="legacy", elicitation_handler=handler) as client:
        return await client.call_tool("send_message", args, raise_on_error=False), asked


async def test_a_legacy_client_with_elicitation_asks_within_the_call(demo: Demo) -> None:
    """Form-mode elicitation: no, decline and cancel send nothing; yes sends once within the same call."""
    for answer in (False, ElicitResult(action="decline"), ElicitResult(action="cancel")):
        result, asked = await legacy_call(demo, answer, chat=EMMA, text="not this one")
        assert result.is_error and result.content[0].text.startswith("APPROVAL_REFUSED: ")
        assert len(asked) == 1
    assert sent_to(demo, emma(demo), "not this one") == 0
    result, asked = await legacy_call(demo, True, chat=EMMA, text="<b>asked inline</b>")
    assert not result.is_error and sent_to(demo, emma(demo), "<b>asked inline</b>") == 1
    assert len(asked) == 1 and "<b>asked inline</b>" in asked[0] and "first_contact" in asked[0]


def allow_raw_writes(demo: Demo, **rules: str) -> None:
    """The tenant's current policy (the default: first contacts ask) with ``rules`` added."""
    book = PolicyBook(demo.gateway.vault, "all")
    book.set(OWNER_TENANT_ID, book.get(OWNER_TENANT_ID).with_rules(rules))  # type: ignore[arg-type]


async def test_an_agent_can_neither_forward_nor_raw_write_the_answer(
    demo: Demo, person: TelegramClient
) -> None:
    """With raw writes allowed: a raw sendMessage or editMessage of "yes CODE" to Saved Messages is
    refused (its string params are screened) and sends nothing; "yes CODE" written by someone else
    and forwarded into Saved Messages (by the tool or a raw call) is not an answer. The approval stays
    pending until the person types it."""
    allow_raw_writes(demo, raw_write="allow")
    await pending(demo, "send_message", chat=EMMA, text="only the person says yes")
    code = await last_code(person)
    saved_before = len(demo.world.box(demo.me).history(user_peer(demo.me)))
    own = (await demo.call("send_message", chat="me", text="a note"))["id"]
    counts = dict(demo.sandbox.rpc_counts)
    for method, params in (
        ("messages.sendMessage", {"peer": "me", "message": f"yes {code}", "random_id": 7}),
        ("messages.editMessage", {"peer": "me", "id": own, "message": f"Yes {code}"}),
    ):
        with pytest.raises(ToolError, match=r"^NOT_ALLOWED: .*only ever written by the person"):
            await demo.call("invoke_mtproto", method=method, params=params)
    for method in ("messages.sendMessage", "messages.editMessage"):
        assert demo.sandbox.rpc_counts[method] == counts.get(method, 0), method
    post(demo.world, Changes(), sender_id=ALEX, peer=user_peer(demo.me), content=Content(text=f"yes {code}"))
    box = demo.world.box(demo.me)
    bait = box.history(user_peer(ALEX))[-1]  # Alex's "yes CODE", as this account sees it
    assert box.messages[bait].content.text == f"yes {code}"
    await demo.call("forward_messages", from_chat=str(ALEX), message_ids=[bait], to_chat="me")
    raw = {"from_peer": str(ALEX), "id": [bait], "random_id": [8], "to_peer": "me"}
    await demo.call("invoke_mtproto", method="messages.forwardMessages", params=raw)
    forwarded = [i for i in box.history(user_peer(demo.me)) if box.messages[i].content.fwd_from is not None]
    assert len(box.history(user_peer(demo.me))) == saved_before + 3 and len(forwarded) == 2
    again = await pending(demo, "send_message", chat=EMMA, text="only the person says yes")
    assert "still waiting" in again and sent_to(demo, emma(demo), "only the person says yes") == 0
    await person.send_message("me", f"yes {code}")
    await demo.call("send_message", chat=EMMA, text="only the person says yes")
    assert sent_to(demo, emma(demo), "only the person says yes") == 1


async def test_send_approve_asks_again_for_an_identical_send_and_an_old_answer_does_not_approve_it(
    demo: Demo, person: TelegramClient
) -> None:
    """send = approve (Alex: written to before, no first contact): approved by "yes CODE" the send goes
    out once; the identical send again is asked anew with a new code, the old answer (still in Saved
    Messages, and typed again) does not approve it; only the new code does."""
    allow_raw_writes(demo, send="approve")
    text = "approve every send"
    before = sent_to(demo, ALEX, text)
    await pending(demo, "send_message", chat=str(ALEX), text=text)
    first = await last_code(person)
    await person.send_message("me", f"yes {first}")
    await demo.call("send_message", chat=str(ALEX), text=text)
    assert sent_to(demo, ALEX, text) == before + 1
    await pending(demo, "send_message", chat=str(ALEX), text=text)
    second = await last_code(person)
    assert second != first
    await person.send_message("me", f"yes {first}")  # the old answer, typed again
    again = await pending(demo, "send_message", chat=str(ALEX), text=text)
    assert "still waiting" in again and sent_to(demo, ALEX, text) == before + 1
    await person.send_message("me", f"yes {second}")
    await demo.call("send_message", chat=str(ALEX), text=text)
    assert sent_to(demo, ALEX, text) == before + 2
    entries = newest(demo.gateway.journal.directory, Filter(kind="approval"), 100)  # type: ignore[union-attr]
    assert [e.outcome for e in entries] == ["asked", "approved", "asked", "approved"]
    assert {e.tool for e in entries} == {"send_message"} and {e.chat for e in entries} == {ALEX}
    assert {e.tenant for e in entries} == {OWNER_TENANT_ID}
    sends = newest(demo.gateway.journal.directory, Filter(kind="write", tool="send_message"), 100)  # type: ignore[union-attr]
    assert entries[-1].content is not None and entries[-1].content == sends[-1].content  # the same digest
    assert text.encode() not in b"".join(
        path.read_bytes() for path in journal_files(demo.gateway.journal.directory)
    )  # type: ignore[union-attr]


async def test_a_legacy_elicitation_nobody_answers_expires_and_nothing_is_sent(tmp_path: Path) -> None:
    """The form is asked within the call and nobody answers before the approval's expiry: the call
    answers APPROVAL_EXPIRED, nothing is sent, and the journal says asked then expired."""
    async for demo in serve_demo(tmp_path / "data", approvals=True, settings={"approval_ttl_seconds": 0.5}):
        answered = asyncio.Event()

        async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
            await answered.wait()  # noqa: B023 - one iteration; the person never answers
            return True

        async with Client(demo.gateway.mcp, mode="legacy", elicitation_handler=handler) as client:
            result = await client.call_tool(
                "send_message", {"chat": EMMA, "text": "unanswered"}, raise_on_error=False
            )
            answered.set()
        assert result.is_error and result.content[0].text.startswith("APPROVAL_EXPIRED: ")  # type: ignore[union-attr]
        assert sent_to(demo, emma(demo), "unanswered") == 0
        entries = newest(demo.gateway.journal.directory, Filter(kind="approval"), 10)  # type: ignore[union-attr]
        assert [e.outcome for e in entries] == ["asked", "expired"]


async def test_a_2026_client_with_no_page_to_open_is_asked_by_form_in_an_input_required_result(
    demo: Demo,
) -> None:
    """2026-07-28 over a transport with no HTTP page (here in memory, as over stdio): the call answers
    input-required with a form-mode yes/no request; the retry with approve=false is APPROVAL_REFUSED
    and sends nothing, with approve=true it sends once."""
    asked: list[Any] = []
    answers = iter([{"approve": False}, {"approve": True}])

    async def handler(message: str, response_type: Any, params: Any, context: Any) -> Any:
        asked.append(params)
        return ElicitResult(action="accept", content=next(answers))

    async with Client(demo.gateway.mcp, elicitation_handler=handler) as client:
        assert client.protocol_version == "2026-07-28"
        args = {"chat": EMMA, "text": "asked by form, 2026"}
        refused = await client.call_tool("send_message", args, raise_on_error=False)
        assert refused.is_error and refused.content[0].text.startswith("APPROVAL_REFUSED: ")  # type: ignore[union-attr]
        assert sent_to(demo, emma(demo), "asked by form, 2026") == 0
        done = await client.call_tool("send_message", args)
    assert not done.is_error and sent_to(demo, emma(demo), "asked by form, 2026") == 1
    assert len(asked) == 2 and all(isinstance(p, mcp_types.ElicitRequestFormParams) for p in asked)
    assert asked[0].requested_schema["properties"]["approve"]["type"] == "boolean"
    assert "asked by form, 2026" in asked[0].message


async def test_a_raw_write_set_to_approve_waits_for_the_person_then_reaches_telegram_once(
    demo: Demo, person: TelegramClient
) -> None:
    """raw_write = approve: invoke_mtproto messages.sendMessage to Alex answers APPROVAL_PENDING and
    the sandbox receives no sendMessage for it; after "yes CODE" the identical call is sent once."""
    allow_raw_writes(demo, raw_write="approve")
    params = {"peer": str(ALEX), "message": "raw, approved"}  # random_id: made by Telethon
    await pending(demo, "invoke_mtproto", method="messages.sendMessage", params=params)
    assert sent_to(demo, ALEX, "raw, approved") == 0
    request = (await person.get_messages("me", limit=1))[0].message
    assert "invoke_mtproto" in request and "verbs.raw_write" in request
    assert "method messages.sendMessage" in request and '"message":"raw, approved"' in request
    assert "file(s)" not in request
    code = await last_code(person)
    await person.send_message("me", f"yes {code}")
    # The approval names the method: the same params to another method are asked for anew.
    await pending(demo, "invoke_mtproto", method="messages.saveDraft", params=params)
    assert await last_code(person) != code and demo.sandbox.rpc_counts["messages.saveDraft"] == 0
    await demo.call("invoke_mtproto", method="messages.sendMessage", params=params)
    assert sent_to(demo, ALEX, "raw, approved") == 1
