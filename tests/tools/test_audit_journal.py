"""The audit journal through the real path: MCP client -> mcpgram -> Telethon -> sandbox.

Every write tool leaves one entry with the right tenant, tool, chat id, outcome and content digest;
refusals are entries too; reads are not; the journal's bytes never hold a message's text, a phone
number or a chat reference as the agent wrote it; the tenant's resource shows its own entries only.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fastmcp.exceptions import ToolError

from mcpgram.audit.entry import Entry
from mcpgram.audit.journal import AuditJournal
from mcpgram.audit.reading import Filter, journal_files, newest, verify
from mcpgram.policy.book import PolicyBook
from mcpgram.policy.model import PROFILES, Scope
from mcpgram.vault.vault import OWNER_TENANT_ID

from .action_support import ref
from .conftest import Demo, serve_demo
from .test_send_files import PNG

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALEX, MARIA = 100000002, 100000003
#: Unique texts: none may appear anywhere in the journal's bytes.
MARKERS = [f"audit-marker-{n}-Zq7" for n in range(6)]
OTHER_TENANT = "tnt_" + "e" * 16


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    async for served in serve_demo(tmp_path_factory.mktemp("audit") / "data"):
        yield served


def journal(demo: Demo) -> AuditJournal:
    assert demo.gateway.journal is not None
    return demo.gateway.journal


def entries(demo: Demo) -> list[Entry]:
    return newest(journal(demo).directory, Filter(), 100_000)


async def call_logged(demo: Demo, tool: str, **args: Any) -> tuple[dict[str, Any], Entry]:
    """Call a tool that must succeed; its result and the one entry it added."""
    before = len(entries(demo))
    result = await demo.call(tool, **args)
    after = entries(demo)
    assert len(after) == before + 1, [e.tool for e in after[before:]]
    return result, after[-1]


def assert_entry(entry: Entry, tool: str, chat: int | None, outcome: str = "ok") -> None:
    assert (entry.tenant, entry.kind, entry.tool, entry.chat, entry.outcome) == (
        OWNER_TENANT_ID,
        "write",
        tool,
        chat,
        outcome,
    )
    assert entry.time.endswith("Z") and len(entry.time) == len("2026-12-07T10:12:51.123Z")


async def test_each_write_tool_leaves_one_entry_with_its_fields(demo: Demo) -> None:
    book = journal(demo)
    me = demo.me
    sent, entry = await call_logged(demo, "send_message", chat=str(ALEX), text=MARKERS[0])
    assert_entry(entry, "send_message", ALEX)
    assert entry.content == book.digest([MARKERS[0]])

    _, entry = await call_logged(
        demo, "send_message", chat="me", text=MARKERS[1], files=[{"base64": base64.b64encode(PNG).decode()}]
    )
    assert_entry(entry, "send_message", me)
    assert entry.content == book.digest([MARKERS[1], PNG])

    _, entry = await call_logged(demo, "edit_message", chat=str(ALEX), message_id=sent["id"], text=MARKERS[2])
    assert_entry(entry, "edit_message", ALEX)
    assert entry.content == book.digest([MARKERS[2]])

    _, entry = await call_logged(
        demo, "forward_messages", from_chat=str(ALEX), message_ids=[sent["id"]], to_chat="me"
    )
    assert_entry(entry, "forward_messages", me)
    assert entry.content is None

    chat, plan = ref(demo, "alex_plan")
    _, entry = await call_logged(demo, "react", chat=chat, message_id=plan, emoji="👍")
    assert_entry(entry, "react", ALEX)
    assert entry.content == book.digest(["👍"])

    _, entry = await call_logged(demo, "mark_read", chat="@alex_trails")
    assert_entry(entry, "mark_read", ALEX)  # a username is recorded as the id it resolved to

    _, entry = await call_logged(demo, "pin_message", chat=str(ALEX), message_id=sent["id"])
    assert_entry(entry, "pin_message", ALEX)

    _, entry = await call_logged(
        demo, "delete_messages", chat=str(ALEX), message_ids=[sent["id"]], for_everyone=True
    )
    assert_entry(entry, "delete_messages", ALEX)

    igor = demo.demo.users["igor"]
    _, entry = await call_logged(demo, "send_to_phone", phone="+" + demo.demo.phones["igor"], text=MARKERS[3])
    assert_entry(entry, "send_to_phone", igor)
    assert entry.content == book.digest([MARKERS[3]])

    # A failed write is recorded with its code; the reference it could not resolve is not.
    before = len(entries(demo))
    with pytest.raises(ToolError, match=r"^CHAT_NOT_FOUND"):
        await demo.call("send_message", chat="@nobody_here_zz", text=MARKERS[4])
    assert_entry(entries(demo)[before], "send_message", None, "CHAT_NOT_FOUND")

    # Reads leave nothing.
    before = len(entries(demo))
    await demo.call("get_messages", chat=str(ALEX), limit=3)
    await demo.call("find_chats", query="alex")
    assert len(entries(demo)) == before

    verdict = verify(book.directory, book.keys)
    assert verdict.problem is None and verdict.entries == len(entries(demo))


async def test_refusals_of_writes_are_recorded(demo: Demo) -> None:
    """NOT_ALLOWED by a write scope (in ctx.run) and by a denied upload (before any file is read)."""
    books = PolicyBook(demo.gateway.vault, "all")
    alex_only = Scope.parse([str(ALEX)])
    books.set(OWNER_TENANT_ID, replace(PROFILES["all"], write=alex_only))
    try:
        before = len(entries(demo))
        with pytest.raises(ToolError, match=r"^NOT_ALLOWED"):
            await demo.call("send_message", chat=str(MARIA), text=MARKERS[5])
        books.set(OWNER_TENANT_ID, PROFILES["all"].with_rules({"upload": "deny"}))
        with pytest.raises(ToolError, match=r"^NOT_ALLOWED"):
            await demo.call(
                "send_message", chat="me", text="x", files=[{"base64": base64.b64encode(PNG).decode()}]
            )
    finally:
        books.set(OWNER_TENANT_ID, PROFILES["all"])
    scope, upload = entries(demo)[before:]
    assert_entry(scope, "send_message", MARIA, "NOT_ALLOWED")
    assert scope.content == journal(demo).digest([MARKERS[5]])
    assert_entry(upload, "send_message", None, "NOT_ALLOWED")
    assert upload.content == journal(demo).digest(["x"])  # the caption: no file was read yet


async def test_the_journal_holds_no_text_phone_or_reference(demo: Demo) -> None:
    """The raw bytes of every journal file: no marker text, no phone number, no username; mode 0600."""
    raw = b"".join(path.read_bytes() for path in journal_files(journal(demo).directory))
    assert raw.count(b"\n") >= 12
    for marker in MARKERS:
        assert marker.encode() not in raw
    assert demo.demo.phones["igor"].encode() not in raw
    assert b"alex_trails" not in raw and b"nobody_here" not in raw and "👍".encode() not in raw
    for path in journal_files(journal(demo).directory):
        assert path.stat().st_mode & 0o777 == 0o600


async def test_the_resource_shows_the_tenants_own_entries_only(demo: Demo) -> None:
    book = journal(demo)
    foreign = [book.record(OTHER_TENANT, "send_message", 5, "ok", b"theirs", kind="write") for _ in range(3)]
    await demo.call("mark_read", chat=str(ALEX))
    contents = await demo.client.read_resource("mcpgram://audit?limit=100")
    payload = json.loads(contents[0].text)  # type: ignore[union-attr]
    assert payload["journal"] == "on" and "note" not in payload
    shown = payload["entries"]
    own = [e for e in entries(demo) if e.tenant == OWNER_TENANT_ID]
    assert [e["seq"] for e in shown] == [e.seq for e in own][-100:]
    assert not {h.seq for h in foreign if h is not None} & {e["seq"] for e in shown}
    assert shown[-1]["tool"] == "mark_read" and set(shown[-1]) == {
        "seq", "time", "kind", "tool", "chat", "outcome", "content", "mac"
    }  # fmt: skip
    newest_two = json.loads((await demo.client.read_resource("mcpgram://audit?limit=2"))[0].text)  # type: ignore[union-attr]
    assert newest_two["entries"] == shown[-2:]
    default = json.loads((await demo.client.read_resource("mcpgram://audit"))[0].text)  # type: ignore[union-attr]
    assert default["entries"] == shown[-20:]


async def test_with_the_journal_off_nothing_is_written(tmp_path: Path) -> None:
    async for served in serve_demo(tmp_path / "data", settings={"audit_journal": False}):
        assert served.gateway.journal is None
        await served.call("mark_read", chat=str(ALEX))
        payload = json.loads((await served.client.read_resource("mcpgram://audit"))[0].text)  # type: ignore[union-attr]
        assert payload == {"journal": "off", "entries": []}
    assert not (tmp_path / "data" / "audit").exists()
