"""Per-tenant policy through the real path: MCP client -> mcpgram -> Telethon -> sandbox.

The policy is changed between calls the way the operator does (``PolicyBook.set``, what ``mcpgram
policy set`` calls); every call reads it afresh. The matrix covers each verb a tool can reach, in
and out of scope, as allow, approve and deny, over tools, resources and prompts; lists are filtered
by the read scope; tools a policy leaves out are absent from ``tools/list`` and cannot be called.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fastmcp.exceptions import ToolError
from mcp import MCPError

from mcpgram.policy.book import PolicyBook
from mcpgram.policy.model import PROFILES, Policy, Rule, Scope, Verb
from mcpgram.sandbox.messaging import Changes, post
from mcpgram.sandbox.world import Content, user_peer
from mcpgram.tools.visibility import TOOL_VERBS, listed_tools
from mcpgram.vault.vault import OWNER_TENANT_ID

from .conftest import Demo, serve_demo

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: Alex (written to before, @alex_trails) is the chat inside the scopes; Maria (@masha_iv) is outside.
ALEX, MARIA = 100000002, 100000003
#: Emma (@emma_editor): a chat this account has never written in.
EMMA = "@emma_editor"
CHANGED_BY = "only the operator of this mcpgram server can change this tenant's policy (`mcpgram policy`)"
CLEAN = re.compile(r"^[\w .,;:'`()=*@/+-]+$")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    """One demo world for the module; calls that succeed may write to it, and none depends on that
    except the sends-to-known checks, which use a chat nothing here writes to."""
    async for served in serve_demo(tmp_path_factory.mktemp("policy") / "data"):
        yield served


def set_policy(demo: Demo, policy: Policy) -> None:
    PolicyBook(demo.gateway.vault, "all").set(OWNER_TENANT_ID, policy)


def scoped(rules: dict[Verb, Rule], *, sends: str = "anyone") -> Policy:
    """``all`` with ``rules``, reading and writing only Alex's chat (by username: resolved to his id)."""
    scope = Scope.parse(["@alex_trails"])
    return replace(PROFILES["all"].with_rules(rules), read=scope, write=scope, sends=sends)  # type: ignore[arg-type]


async def refusal(call: Awaitable[Any]) -> str:
    with pytest.raises((ToolError, MCPError)) as caught:
        await call
    return str(caught.value)


def assert_refused(message: str, rule: str) -> None:
    """NOT_ALLOWED, naming the rule and who can change it; one clean line, nothing internal."""
    assert message.startswith("NOT_ALLOWED: "), message
    assert f"rule {rule}" in message and CHANGED_BY in message, message
    assert (
        CLEAN.match(message)
        and "Traceback" not in message
        and "/" not in message.split("hint", maxsplit=1)[0]
    )


def own_message(demo: Demo, chat: int) -> int:
    box = demo.world.box(demo.me)
    return next(i for i in reversed(box.history(user_peer(chat))) if box.messages[i].out)


def their_message(demo: Demo, chat: int) -> int:
    box = demo.world.box(demo.me)
    return next(i for i in reversed(box.history(user_peer(chat))) if not box.messages[i].out)


#: A message to Alex sent by this module, per demo world (Telegram refuses edits of old messages).
FRESH: dict[int, int] = {}


async def fresh_message(demo: Demo) -> int:
    if id(demo) not in FRESH:
        set_aside = PolicyBook(demo.gateway.vault, "all").get(OWNER_TENANT_ID)
        set_policy(demo, PROFILES["all"])
        FRESH[id(demo)] = (await demo.call("send_message", chat=str(ALEX), text="to edit"))["id"]
        set_policy(demo, set_aside)
    return FRESH[id(demo)]


async def edit_fresh(demo: Demo, chat: int, ref: str) -> Any:
    """Edit Alex's fresh message; Maria's: an old one (refused by scope before its age matters)."""
    message_id = await fresh_message(demo) if chat == ALEX else own_message(demo, chat)
    return await demo.call("edit_message", chat=ref, message_id=message_id, text="edited")


#: A media handle per (demo world, chat): Alex's chat holds a photo, Maria's a voice note.
HANDLES: dict[tuple[int, int], str] = {}


async def media_handle(demo: Demo, chat: int) -> str:
    """A media handle in ``chat``, got under ``all`` (get_messages mints it; the policy is restored)."""
    if (id(demo), chat) not in HANDLES:
        set_aside = PolicyBook(demo.gateway.vault, "all").get(OWNER_TENANT_ID)
        set_policy(demo, PROFILES["all"])
        try:
            listed = await demo.call("get_messages", chat=str(chat), limit=100)
        finally:
            set_policy(demo, set_aside)
        HANDLES[id(demo), chat] = next(m["media"]["handle"] for m in listed["messages"] if m.get("media"))
    return HANDLES[id(demo), chat]


async def download(demo: Demo, chat: int, ref: str) -> Any:
    return await demo.client.call_tool("download_media", {"handle": await media_handle(demo, chat)})


async def media_resource(demo: Demo, chat: int, ref: str) -> Any:
    return await demo.client.read_resource(f"mcpgram://media/{await media_handle(demo, chat)}")


HISTORY = {"offset_id": 0, "add_offset": 0, "limit": 1, "max_id": 0, "min_id": 0, "hash": 0}
RANDOM_IDS = iter(range(7_000_000, 8_000_000))


def raw(method: str, params: dict[str, Any]) -> Call:
    """An ``invoke_mtproto`` call of ``method`` naming the chat as its ``peer``."""

    def call(demo: Demo, chat: int, ref: str) -> Awaitable[Any]:
        extra = {"random_id": next(RANDOM_IDS)} if method == "messages.sendMessage" else {}
        return demo.call("invoke_mtproto", method=method, params={"peer": ref, **params, **extra})

    return call


# What each verb's tool call looks like against a chat (given as a marked id or a reference).
Call = Callable[[Demo, int, str], Awaitable[Any]]
CALLS: dict[str, tuple[Verb, Call]] = {
    "get_chat": ("read", lambda d, cid, ref: d.call("get_chat", chat=ref)),
    "get_messages": ("read", lambda d, cid, ref: d.call("get_messages", chat=ref, limit=1)),
    "chat_resource": ("read", lambda d, cid, ref: d.client.read_resource(f"telegram://chats/{ref}")),
    "messages_resource": (
        "read",
        lambda d, cid, ref: d.client.read_resource(f"telegram://chats/{ref}/messages?limit=1"),
    ),
    "summarize_prompt": (
        "read",
        lambda d, cid, ref: d.client.get_prompt("summarize_chat", {"chat": ref, "since": "2025-01-01"}),
    ),
    "send_message": ("send", lambda d, cid, ref: d.call("send_message", chat=ref, text="hi")),
    "edit_message": ("edit", edit_fresh),
    "pin_message": (
        "edit",
        lambda d, cid, ref: d.call("pin_message", chat=ref, message_id=own_message(d, cid), unpin=True),
    ),
    "delete_messages": (
        "delete",
        lambda d, cid, ref: d.call(
            "delete_messages", chat=ref, message_ids=[own_message(d, cid)], for_everyone=False
        ),
    ),
    "forward_messages": (
        "forward",
        lambda d, cid, ref: d.call(
            "forward_messages", from_chat=ref, message_ids=[their_message(d, cid)], to_chat=ref
        ),
    ),
    "react": ("react", lambda d, cid, ref: d.call("react", chat=ref, message_id=their_message(d, cid))),
    "mark_read": ("mark_read", lambda d, cid, ref: d.call("mark_read", chat=ref)),
    "download_media": ("download", download),
    "media_resource": ("download", media_resource),
    "send_files": (
        "upload",
        lambda d, cid, ref: d.call(
            "send_message", chat=ref, text="file", files=[{"base64": "bm90ZXM=", "name": "notes.txt"}]
        ),
    ),
    "raw_read": ("raw_read", raw("messages.getHistory", HISTORY)),
    "raw_write": ("raw_write", raw("messages.sendMessage", {"message": "raw hi"})),
}
#: The scope a verb's chat is checked against (forward: both; the same chat here).
SCOPE_RULE = {"read": "read", "mark_read": "read", "forward": "read", "download": "read", "raw_read": "read"}
#: Surfaces that are a tool's call under another verb (the tool stays listed while another verb allows it).
VIA_TOOL = {"send_files": "send_message", "raw_read": "invoke_mtproto", "raw_write": "invoke_mtproto"}


@pytest.mark.parametrize("surface", sorted(CALLS))
async def test_a_verb_allowed_in_scope_works(demo: Demo, surface: str) -> None:
    """allow + a chat inside the scope: the call goes through (by username, id or t.me link)."""
    verb, call = CALLS[surface]
    set_policy(demo, scoped({verb: "allow"}))
    for ref in (str(ALEX), "@alex_trails", "https://t.me/alex_trails"):
        if "resource" in surface and ref.startswith("https"):
            continue  # a resource's {chat} is one URI segment
        await call(demo, ALEX, ref)


@pytest.mark.parametrize("surface", sorted(CALLS))
async def test_a_verb_allowed_out_of_scope_is_refused_by_resolved_id(demo: Demo, surface: str) -> None:
    """allow + a chat outside the scope, whether named by id, username or t.me link: NOT_ALLOWED, by
    the read or write scope, and the world is unchanged."""
    verb, call = CALLS[surface]
    set_policy(demo, scoped({verb: "allow"}))
    before = demo.demo.digest()
    for ref in (str(MARIA), "@masha_iv", "https://t.me/masha_iv"):
        if "resource" in surface and ref.startswith("https"):
            continue
        assert_refused(await refusal(call(demo, MARIA, ref)), SCOPE_RULE.get(verb, "write"))
    assert demo.demo.digest() == before


def digest_but_saved_messages(demo: Demo) -> str:
    """The world's digest without this account's Saved Messages (where approvals are asked)."""
    box = demo.world.box(demo.me)
    saved = {i: m for i, m in box.messages.items() if m.peer == user_peer(demo.me)}
    for i in saved:
        del box.messages[i]
    try:
        return demo.demo.digest()
    finally:
        box.messages.update(saved)


@pytest.mark.parametrize("surface", sorted(CALLS))
async def test_a_verb_set_to_approve_asks_a_person_and_does_nothing_meanwhile(
    demo: Demo, surface: str
) -> None:
    """approve: listed, and answered APPROVAL_PENDING (this client declares no elicitation, so the
    person is asked in Saved Messages); nothing happens anywhere else until they answer."""
    verb, call = CALLS[surface]
    await fresh_message(demo)
    set_policy(demo, scoped({verb: "approve"}))
    before = digest_but_saved_messages(demo)
    message = await refusal(call(demo, ALEX, str(ALEX)))
    assert "APPROVAL_PENDING: " in message and "nothing was sent" in message, message
    assert digest_but_saved_messages(demo) == before


@pytest.mark.parametrize("surface", sorted(CALLS))
async def test_a_verb_set_to_approve_out_of_scope_is_refused_by_the_scope_not_asked(
    demo: Demo, surface: str
) -> None:
    """approve + a chat outside the scope: NOT_ALLOWED by the read or write scope; nobody is asked
    (Saved Messages unchanged too) and nothing happens."""
    verb, call = CALLS[surface]
    await fresh_message(demo)
    await media_handle(demo, MARIA)
    set_policy(demo, scoped({verb: "approve"}))
    before = demo.demo.digest()
    assert_refused(await refusal(call(demo, MARIA, str(MARIA))), SCOPE_RULE.get(verb, "write"))
    assert demo.demo.digest() == before


async def test_a_forward_to_a_chat_outside_the_write_scope_is_refused(demo: Demo) -> None:
    """Read scope Alex and Maria, write scope Alex: forwarding Alex's message to Maria is refused by
    the write scope; Maria's chat is unchanged. Into Alex's chat it goes."""
    both = Scope.parse(["@alex_trails", "@masha_iv"])
    set_policy(demo, replace(scoped({"forward": "allow"}), read=both))
    box = demo.world.box(demo.me)
    before = box.history(user_peer(MARIA))
    message = their_message(demo, ALEX)
    forward = demo.call("forward_messages", from_chat=str(ALEX), message_ids=[message], to_chat="@masha_iv")
    assert_refused(await refusal(forward), "write")
    assert box.history(user_peer(MARIA)) == before
    from_maria = demo.call(
        "forward_messages", from_chat=str(MARIA), message_ids=[their_message(demo, MARIA)], to_chat=str(ALEX)
    )
    assert (await from_maria)["ids"]


@pytest.mark.parametrize("surface", sorted(CALLS))
async def test_a_denied_verb_hides_its_tools_and_they_cannot_be_called(demo: Demo, surface: str) -> None:
    """deny: the tool (or, for read, every resource and prompt) is not listed, and a call answers
    exactly as for something that does not exist."""
    verb, call = CALLS[surface]
    set_policy(demo, scoped({verb: "deny"}))
    message = await refusal(call(demo, ALEX, str(ALEX)))
    listed = {tool.name for tool in await demo.client.list_tools()}
    if surface == "media_resource":  # download denied: the media template goes as the tool does
        templates = {str(t.uri_template) for t in await demo.client.list_resource_templates()}
        assert "download_media" not in listed and not [t for t in templates if "media" in t]
        assert templates  # the other resources stay (reading is allowed)
        uri = "mcpgram://nothing/here"
        absent = await refusal(demo.client.read_resource(uri))
        assert message == absent.replace(uri, message.split("'")[1])
    elif surface in VIA_TOOL:
        tool = VIA_TOOL[surface]
        if tool in listed:  # listed for another verb: refused by rule
            assert_refused(message, f"verbs.{verb} = deny")
        else:  # raw_read denied and raw_write denied (as in 'all'): invoke_mtproto is not listed
            absent = await refusal(demo.call("no_such_tool"))
            assert message == absent.replace("no_such_tool", tool)
    elif surface in TOOL_VERBS:
        assert surface not in listed
        absent = await refusal(demo.call("no_such_tool"))
        assert message == absent.replace("no_such_tool", surface)
    else:
        assert verb == "read" and not listed & {"get_chat", "get_messages", "find_chats"}
        assert not await demo.client.list_resource_templates() and not await demo.client.list_prompts()
        if "resource" in surface:
            uri = "telegram://nothing/here"
            absent = await refusal(demo.client.read_resource(uri))
            assert message == absent.replace(uri, message.split("'")[1])
        else:
            absent = await refusal(demo.client.get_prompt("no_such_prompt", {}))
            assert message == absent.replace("no_such_prompt", "summarize_chat")


async def test_sends_to_known_chats_only(demo: Demo) -> None:
    """sends: known: a chat this account has written in takes a send; a chat it never has is refused
    (rule sends), for send_message and forward_messages; send_to_phone is not even listed."""
    everywhere = replace(PROFILES["all"], sends="known")
    set_policy(demo, everywhere)
    before = demo.world.box(demo.me).history(user_peer(demo.demo.users["emma"]))
    await demo.call("send_message", chat=str(ALEX), text="hello again")
    assert_refused(await refusal(demo.call("send_message", chat=EMMA, text="hi")), "sends = known")
    forward = demo.call(
        "forward_messages", from_chat=str(ALEX), message_ids=[own_message(demo, ALEX)], to_chat=EMMA
    )
    assert_refused(await refusal(forward), "sends = known")
    assert demo.world.box(demo.me).history(user_peer(demo.demo.users["emma"])) == before
    assert "send_to_phone" not in {tool.name for tool in await demo.client.list_tools()}
    set_policy(demo, PROFILES["all"])
    assert "send_to_phone" in {tool.name for tool in await demo.client.list_tools()}


async def test_upload_is_its_own_verb(demo: Demo, tmp_path: Path) -> None:
    """Files are a send and an upload: upload deny refuses them before anything is fetched or read (a
    URL would otherwise be refused by the test fetcher, which resolves nothing), text alone still goes."""
    path = tmp_path / "notes.txt"
    path.write_text("notes")
    set_policy(demo, PROFILES["all"].with_rules({"upload": "deny"}))
    for item in (
        {"base64": "bm90ZXM=", "name": "notes.txt"},
        {"url": "https://files.example/notes.txt"},
        {"path": str(path)},
    ):
        message = await refusal(demo.call("send_message", chat="me", text="file", files=[item]))
        assert_refused(message, "verbs.upload = deny")
    await demo.call("send_message", chat="me", text="no file")


async def test_lists_and_search_hold_only_chats_in_the_read_scope(demo: Demo) -> None:
    """find_chats (dialogs, name search) and search_messages drop chats outside the read scope;
    a folder in the scope admits its chats."""
    set_policy(demo, PROFILES["all"])
    everything = {chat["id"] for chat in (await demo.call("find_chats", limit=100))["chats"]}
    assert {ALEX, MARIA} <= everything
    set_policy(demo, replace(PROFILES["all"], read=Scope.parse(["@alex_trails", "folder:Work"])))
    work = {demo.demo.users[k] for k in ("sam", "dmitry", "priya")} | {
        int(f"-100{demo.demo.chats['work'].id}")
    }
    listed = {chat["id"] for chat in (await demo.call("find_chats", limit=100))["chats"]}
    assert listed == (everything & (work | {ALEX}))
    assert MARIA not in {c["id"] for c in (await demo.call("find_chats", query="Мария"))["chats"]}
    set_policy(demo, PROFILES["all"])
    hits = await demo.call("search_messages", query="the")
    assert {m["chat"] for m in hits["messages"]} - {ALEX}, "the search must find chats beyond Alex's"
    set_policy(demo, replace(PROFILES["all"], read=Scope.parse([str(ALEX)])))
    hits = await demo.call("search_messages", query="the")
    assert {m["chat"] for m in hits["messages"]} <= {ALEX} and set(hits.get("chats", {})) <= {str(ALEX)}


@pytest.mark.parametrize("name", sorted(PROFILES))
async def test_tools_list_is_the_profiles(demo: Demo, name: str) -> None:
    """Each profile lists exactly its tools; reader lists no writing tool at all."""
    set_policy(demo, PROFILES[name])
    listed = [tool.name for tool in await demo.client.list_tools()]
    assert sorted(listed) == sorted(listed_tools(PROFILES[name]))
    if name == "reader":
        assert set(listed) == {
            "find_chats",
            "get_chat",
            "get_messages",
            "search_messages",
            "transcribe_voice",
            "download_media",
        }
    if name == "all":
        assert set(listed) == set(TOOL_VERBS)


async def test_every_registered_tool_has_verbs(demo: Demo) -> None:
    """Every tool the server registers is in TOOL_VERBS (a new tool must say what it does)."""
    set_policy(demo, PROFILES["all"])
    assert {tool.name for tool in await demo.client.list_tools()} == set(TOOL_VERBS)
    registered = {tool.name for tool in await demo.gateway.mcp.list_tools(run_middleware=False)}
    assert registered == set(TOOL_VERBS)


async def test_an_unreadable_stored_policy_refuses_everything(demo: Demo) -> None:
    """A stored policy that cannot be parsed fails closed: no tools are listed."""
    demo.gateway.vault.store_policy(OWNER_TENANT_ID, json.dumps({"v": 99}))
    assert await demo.client.list_tools() == []
    set_policy(demo, PROFILES["all"])
    assert len(await demo.client.list_tools()) == len(TOOL_VERBS)


async def test_a_folder_in_a_scope_admits_its_chats_one_by_one(demo: Demo) -> None:
    """read: folder:Work admits Sam (in the folder) by id and by username, and refuses Maria (not)."""
    set_policy(demo, replace(PROFILES["all"], read=Scope.parse(["folder:Work"])))
    sam = demo.demo.users["sam"]
    assert (await demo.call("get_chat", chat=str(sam), topics=0))["id"] == sam
    await demo.call("get_messages", chat="@sam_builds", limit=1)
    assert_refused(await refusal(demo.call("get_chat", chat=str(MARIA))), "read")
    set_policy(demo, replace(PROFILES["all"], read=Scope.parse(["folder:No Such Folder"])))
    assert_refused(await refusal(demo.call("get_chat", chat=str(sam))), "read")


async def test_the_default_policy_adds_one_search_per_chat_and_unasked_first_contacts_none(
    demo: Demo,
) -> None:
    """With scopes of '*' nothing is resolved beyond what the tool does, except whether a send is a
    first contact (first_contact = approve, the default): one messages.search (from_id = self,
    limit 1) the first time a chat is checked, the same search sends: known makes; then the chat is
    remembered as written in (policy/written.py) and later sends search nothing. first_contact =
    allow makes none."""

    async def made(call: Awaitable[Any]) -> Counter[str]:
        before = Counter(demo.sandbox.rpc_counts)
        await call
        return Counter(demo.sandbox.rpc_counts) - before

    # A chat this account wrote in that no call has checked yet (this module's gateway remembers).
    chat = demo.world.add_user(first_name="Written", last_name="Before").id
    post(demo.world, Changes(), sender_id=demo.me, peer=user_peer(chat), content=Content(text="hi"))
    unasked = PROFILES["all"].with_situations({"first_contact": "allow"})
    set_policy(demo, unasked)
    await demo.call("send_message", chat=str(chat), text="warm")  # the entity cache, warmed
    plain = await made(demo.call("send_message", chat=str(chat), text="plain"))
    set_policy(demo, replace(unasked, sends="known"))
    known = await made(demo.call("send_message", chat=str(chat), text="known"))
    assert known - plain == Counter({"messages.search": 1}) and plain - known == Counter()
    set_policy(demo, PROFILES["all"])
    default = await made(demo.call("send_message", chat=str(chat), text="default"))
    assert default == plain  # remembered: no search, under first_contact = approve
    set_policy(demo, replace(unasked, sends="known"))
    assert await made(demo.call("send_message", chat=str(chat), text="known again")) == plain


async def test_a_tool_call_reads_the_stored_policy_only_after_a_change(
    demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The policy middleware's policy serves the guard too (``visibility.call_policy``), and the book
    keeps it while no policy changes (``vault/marker.py``): no store read per call; the call after
    a change reads it once, so the change applies at once."""
    set_policy(demo, PROFILES["all"])
    for tool in ("get_messages", "send_message"):  # the client lists tools once when it meets one
        await demo.call(
            tool, chat=str(ALEX), **({"limit": 1} if tool == "get_messages" else {"text": "warm"})
        )
    store = demo.gateway.store
    reads: list[str] = []
    load = store.load_policy

    def counted(tenant_id: str) -> str | None:
        reads.append(tenant_id)
        return load(tenant_id)

    monkeypatch.setattr(store, "load_policy", counted)
    await demo.call("get_messages", chat=str(ALEX), limit=1)
    await demo.call("send_message", chat=str(ALEX), text="kept")
    assert reads == []
    set_policy(demo, scoped({}))  # the next call sees the change
    assert_refused(await refusal(demo.call("send_message", chat=str(MARIA), text="no")), "write")
    assert reads == [OWNER_TENANT_ID]
    set_policy(demo, PROFILES["all"])
