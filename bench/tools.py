"""The tool surface's costs: tools/list bytes, result bytes per message, Telegram calls, latency vs raw.

One process, one event loop, every part real: the sandbox serving the demo world, an mcpgram HTTP
gateway (``serve_http`` on a free port, one tenant logged in by bearer token), a second gateway in
stdio mode reached through FastMCP's in-memory ``Client`` (the whole MCP protocol, no transport),
and a plain Telethon client logged in to the same account. Measured in one run:

- ``tools_list``: the ``tools/list`` answer as sent over HTTP (response body bytes, SSE framing
  included if the server streams, and the JSON-RPC message inside), per tool (compact JSON of
  each tool) and in total, against the issue's 14,000-byte budget;
- ``page``: a 50-message ``get_messages`` page over HTTP: response body bytes (SSE framing
  included if the server streams; mcpgram answers POSTs with JSON), the JSON-RPC message alone
  (what stdio sends, plus a newline) and the response
  headers, per message, against the 300-bytes-per-message target. The page is the newest 50
  messages of a chat extended with re-posts of the demo world's own messages (texts, media,
  entities, reactions, forwards, replies), since no demo chat has 50;
- ``calls``: Telegram RPCs per tool call (the sandbox's per-key ``rpc_counts`` around one warm
  call), and per raw Telethon equivalent, by method;
- ``latency``: each case timed interleaved (raw Telethon; the in-memory gateway through fastmcp's
  ``Client``; the HTTP gateway through fastmcp's ``Client`` (``http``) and through a minimal MCP
  client, ``bench/_mcp_http.py`` (``http_lean``)), p50/p90 and gateway/raw at p50, once with no
  injected latency (pure overhead) and once with the sandbox delaying every answer by
  ``--rtt-ms`` (a realistic round trip to Telegram).

The raw baseline for each case is what a Telethon user would write for the same result (named in
``raw`` per case), on a client whose entity cache is warm, as the gateway's is after its warm-up
call. Everything shares one event loop on one core: the MCP client's own CPU is in the gateway's
numbers, which is why ``http_lean`` is there: fastmcp's client spends more CPU per call than the
gateway does (bench/tenants.py), and a client in another process or language would not add it.
JSON on stdout, a table on stderr; nothing touches the user's data dir or ``.env``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import fastmcp
import httpx2 as httpx
import telethon
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from telethon import TelegramClient, functions, types
from telethon.sessions import MemorySession

import _common  # bench/_common.py
from _mcp_http import LeanSession  # bench/_mcp_http.py
from mcpgram.app import Gateway, build_gateway, serve_http
from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.demo import DemoWorld, build_demo_world
from mcpgram.sandbox.messaging import Changes, post
from mcpgram.sandbox.world import ReplyTo, user_peer
from mcpgram.settings import Settings
from mcpgram.testing import SANDBOX_API_HASH, SANDBOX_API_ID, login_tenant, sandbox_telegram_config

TARGET_LIST_BYTES, TARGET_BYTES_PER_MESSAGE, TARGET_RATIO = 14_000, 300, 1.15
DEMO_NOW = 1_750_000_000
PAGE = 50
EXTRA_MESSAGES = 60
MCP_PATH = "/v1/mcp"
Raw = Callable[[TelegramClient, int], Awaitable[Any]]


# -- the world -------------------------------------------------------------------------------------


def extend_chat(demo: DemoWorld) -> int:
    """Re-post the demo's own messages (newest last) into Dana's chat with Alex; returns Alex's id."""
    world, dana, alex = demo.world, demo.user_id, demo.users["alex"]
    boxes = [world.box(dana), *(channel.box for channel in world.channels.values())]
    originals = sorted(
        (m for box in boxes for m in box.messages.values() if m.content.action is None),
        key=lambda m: (m.date, m.id),
    )[-EXTRA_MESSAGES:]
    changes, posted = Changes(), []
    for index, original in enumerate(originals):
        content = dataclasses.replace(original.content, reactions=dict(original.content.reactions))
        sender, peer = (dana, alex) if index % 2 else (alex, dana)
        reply = ReplyTo(msg_id=posted[-2].id) if index % 5 == 4 else None  # own copy: same sender
        posted.append(
            post(world, changes, sender_id=sender, peer=user_peer(peer), content=content, reply_to=reply)
        )
    return alex


# -- the MCP side ----------------------------------------------------------------------------------


def jsonrpc_message(body: str) -> str:
    """The JSON-RPC message in a response body: the SSE ``data:`` line, or the body itself."""
    data = [line[5:].strip() for line in body.splitlines() if line.startswith("data:")]
    return data[-1] if data else body


def header_bytes(response: httpx.Response) -> int:
    """Status line and headers as sent (HTTP/1.1), CRLFs included."""
    status = len(f"HTTP/1.1 {response.status_code} {response.reason_phrase}\r\n")
    return status + sum(len(k) + len(v) + 4 for k, v in response.headers.raw) + 2


@dataclasses.dataclass
class Parts:
    demo: DemoWorld
    sandbox: SandboxServer
    http: Client[Any]
    memory: Client[Any]
    raw: TelegramClient
    #: A minimal MCP client on the HTTP gateway (bench/_mcp_http.py): bytes on the wire, and the
    #: HTTP latency without fastmcp's client-side cost (which runs in this same process).
    wire: LeanSession
    #: The authorization keys whose RPCs are counted: the HTTP gateway's, the in-memory one's, raw's.
    auth: dict[str, Any]


def auth_of(sandbox: SandboxServer, user_id: int, before: set[int]) -> Any:
    (record,) = [a for a in sandbox.authorizations_of(user_id) if a.key_id not in before]
    return record


def key_ids(sandbox: SandboxServer, user_id: int) -> set[int]:
    return {a.key_id for a in sandbox.authorizations_of(user_id)}


async def raw_client(sandbox: SandboxServer, demo: DemoWorld) -> TelegramClient:
    telethon.crypto.rsa.add_key(sandbox.public_key_pem, old=False)
    session = MemorySession()
    session.set_dc(sandbox.dc_id, sandbox.host, sandbox.port)
    # As the gateway's clients: no update handling, nothing in the background.
    client = TelegramClient(session, SANDBOX_API_ID, SANDBOX_API_HASH, receive_updates=False)
    await client.connect()
    sent = await client.send_code_request(demo.phone)
    await client.sign_in(demo.phone, demo.login_code, phone_code_hash=sent.phone_code_hash)
    await client.get_dialogs(limit=100)  # a warm entity cache, as the gateway's after its warm-up
    return client


# -- the cases -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Case:
    name: str
    tool: str
    #: Tool arguments for iteration i.
    args: Callable[[int], dict[str, Any]]
    #: What a Telethon user writes for the same result.
    raw_text: str
    raw: Raw
    read: bool = True
    #: Each call takes the next index, so a write never hits the same message twice (deletes).
    tool_index: int = 0
    raw_index: int = 0

    def next_args(self) -> dict[str, Any]:
        self.tool_index += 1
        return self.args(self.tool_index - 1)

    def call_raw(self, client: TelegramClient) -> Awaitable[Any]:
        self.raw_index += 1
        return self.raw(client, self.raw_index - 1)


def marked_channel(peer_id: int) -> int:
    return -(10**12 + peer_id)


def build_cases(demo: DemoWorld, alex: int, targets: dict[str, list[int]]) -> list[Case]:
    """``targets``: Dana's messages in Saved Messages for the write cases, one per iteration: ``tool``
    and ``raw`` for edits, reactions, pins and forwards; ``tool_del`` and ``raw_del`` to delete."""
    mine, theirs = targets["tool"], targets["raw"]
    doomed, raw_doomed = targets["tool_del"], targets["raw_del"]
    news = marked_channel(demo.chats["news"].id)
    forum = marked_channel(demo.chats["forum"].id)

    def sample_reaction(i: int) -> str:
        return "👍" if i % 2 else "❤"

    return [
        Case(
            "find_chats (recent)",
            "find_chats",
            lambda i: {},
            "get_dialogs(limit=20)",
            lambda c, i: c.get_dialogs(limit=20),
        ),
        Case(
            "find_chats (query)",
            "find_chats",
            lambda i: {"query": "Alex"},
            "contacts.SearchRequest(q, limit=20)",
            lambda c, i: c(functions.contacts.SearchRequest(q="Alex", limit=20)),
        ),
        Case(
            "get_chat (user)",
            "get_chat",
            lambda i: {"chat": str(alex)},
            "users.GetFullUserRequest",
            lambda c, i: _full_user(c, alex),
        ),
        Case(
            "get_chat (channel)",
            "get_chat",
            lambda i: {"chat": str(news)},
            "channels.GetFullChannelRequest + channels.GetMessagesRequest(pinned)",
            lambda c, i: _full_channel_pinned(c, news),
        ),
        Case(
            "get_chat (forum)",
            "get_chat",
            lambda i: {"chat": str(forum)},
            "GetFullChannel + GetMessages(pinned) + messages.GetForumTopicsRequest(limit=11)",
            lambda c, i: _forum(c, forum),
        ),
        Case(
            f"get_messages (limit {PAGE})",
            "get_messages",
            lambda i: {"chat": str(alex), "limit": PAGE},
            f"get_messages(entity, limit={PAGE})",
            lambda c, i: c.get_messages(alex, limit=PAGE),
        ),
        Case(
            "get_messages (search)",
            "get_messages",
            lambda i: {"chat": str(news), "search": "the"},
            "messages.SearchRequest(peer, q, limit=21)",
            lambda c, i: _search_chat(c, news, "the"),
        ),
        Case(
            "search_messages",
            "search_messages",
            lambda i: {"query": "the"},
            "messages.SearchGlobalRequest(q, limit=20)",
            lambda c, i: _search_global(c, "the"),
        ),
        Case(
            "send_message",
            "send_message",
            lambda i: {"chat": "me", "text": f"bench {i}"},
            "send_message('me', text)",
            lambda c, i: c.send_message("me", f"bench raw {i}"),
            read=False,
        ),
        Case(
            "edit_message",
            "edit_message",
            lambda i: {"chat": "me", "message_id": mine[i % len(mine)], "text": f"edited {i}"},
            "edit_message('me', id, text)",
            lambda c, i: c.edit_message("me", theirs[i % len(theirs)], f"raw edited {i}"),
            read=False,
        ),
        Case(
            "mark_read",
            "mark_read",
            lambda i: {"chat": str(alex)},
            "send_read_acknowledge(entity)",
            lambda c, i: c.send_read_acknowledge(alex),
            read=False,
        ),
        Case(
            "react",
            "react",
            lambda i: {"chat": "me", "message_id": mine[i % len(mine)], "emoji": sample_reaction(i)},
            "messages.SendReactionRequest(peer, id, [ReactionEmoji])",
            lambda c, i: _react(c, theirs[i % len(theirs)], sample_reaction(i)),
            read=False,
        ),
        Case(
            "pin_message",
            "pin_message",
            lambda i: {"chat": "me", "message_id": mine[i % len(mine)], "notify": False},
            "messages.UpdatePinnedMessageRequest(peer, id, silent=True)",
            lambda c, i: c(
                functions.messages.UpdatePinnedMessageRequest(
                    peer=types.InputPeerSelf(), id=theirs[i % len(theirs)], silent=True
                )
            ),
            read=False,
        ),
        Case(
            "forward_messages",
            "forward_messages",
            lambda i: {"from_chat": "me", "message_ids": [mine[i % len(mine)]], "to_chat": "me"},
            "forward_messages('me', [id], 'me')",
            lambda c, i: c.forward_messages("me", [theirs[i % len(theirs)]], "me"),
            read=False,
        ),
        Case(
            "delete_messages",
            "delete_messages",
            lambda i: {"chat": "me", "message_ids": [doomed[i]], "for_everyone": True},
            "delete_messages('me', [id], revoke=True)",
            lambda c, i: c.delete_messages("me", [raw_doomed[i]], revoke=True),
            read=False,
        ),
    ]


async def _full_user(client: TelegramClient, user_id: int) -> Any:
    return await client(functions.users.GetFullUserRequest(await client.get_input_entity(user_id)))


async def _full_channel_pinned(client: TelegramClient, chat_id: int) -> Any:
    """What get_chat shows of a channel: its full profile, and its pinned message when it has one."""
    channel = await client.get_input_entity(chat_id)
    full = await client(functions.channels.GetFullChannelRequest(channel))
    pinned = full.full_chat.pinned_msg_id
    if pinned:
        await client(functions.channels.GetMessagesRequest(channel, [types.InputMessageID(pinned)]))
    return full


async def _forum(client: TelegramClient, chat_id: int) -> Any:
    peer = await client.get_input_entity(chat_id)
    await _full_channel_pinned(client, chat_id)
    return await client(
        functions.messages.GetForumTopicsRequest(
            peer, offset_date=None, offset_id=0, offset_topic=0, limit=11
        )
    )


async def _search_chat(client: TelegramClient, chat_id: int, query: str) -> Any:
    return await client(
        functions.messages.SearchRequest(
            peer=await client.get_input_entity(chat_id), q=query, filter=types.InputMessagesFilterEmpty(),
            min_date=None, max_date=None, offset_id=0, add_offset=0, limit=21, max_id=0, min_id=0, hash=0,
        )
    )  # fmt: skip


async def _search_global(client: TelegramClient, query: str) -> Any:
    return await client(
        functions.messages.SearchGlobalRequest(
            q=query, filter=types.InputMessagesFilterEmpty(), min_date=None, max_date=None,
            offset_rate=0, offset_peer=types.InputPeerEmpty(), offset_id=0, limit=20,
        )
    )  # fmt: skip


async def _react(client: TelegramClient, message_id: int, emoji: str) -> Any:
    return await client(
        functions.messages.SendReactionRequest(
            peer=types.InputPeerSelf(), msg_id=message_id, reaction=[types.ReactionEmoji(emoticon=emoji)]
        )
    )


# -- measuring -------------------------------------------------------------------------------------


async def tool_call(client: Client[Any], tool: str, args: dict[str, Any]) -> None:
    result = await client.call_tool(tool, args, raise_on_error=False)
    if result.is_error:
        text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
        raise RuntimeError(f"{tool} failed: {text[:200]}")


async def count_calls(parts: Parts, case: Case) -> dict[str, Any]:
    """RPCs of one warm tool call (in-memory gateway's key) and of one raw call (raw's key)."""
    gateway, raw = parts.auth["memory"], parts.auth["raw"]
    gateway.rpc_counts.clear()
    await tool_call(parts.memory, case.tool, case.next_args())
    tool_counts = Counter(gateway.rpc_counts)
    raw.rpc_counts.clear()
    await case.call_raw(parts.raw)
    raw_counts = Counter(raw.rpc_counts)
    return {
        "tool": sum(tool_counts.values()),
        "tool_methods": dict(tool_counts),
        "raw": sum(raw_counts.values()),
        "raw_methods": dict(raw_counts),
    }


def quantiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=10, method="inclusive") if len(samples) > 1 else samples * 9
    return {"n": len(samples), "p50_ms": statistics.median(samples), "p90_ms": cuts[8]}


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await call()
    return (time.perf_counter() - start) * 1000


async def latency(parts: Parts, case: Case, runs: int) -> dict[str, Any]:
    """Interleaved raw / in-memory / HTTP calls; p50, p90 and the ratios at p50."""
    samples: dict[str, list[float]] = {"raw": [], "memory": [], "http": [], "http_lean": []}
    for _ in range(runs):
        samples["raw"].append(await timed(lambda: case.call_raw(parts.raw)))
        samples["memory"].append(await timed(lambda: tool_call(parts.memory, case.tool, case.next_args())))
        samples["http"].append(await timed(lambda: tool_call(parts.http, case.tool, case.next_args())))
        samples["http_lean"].append(await timed(lambda: parts.wire.call_tool(case.tool, case.next_args())))
    out: dict[str, Any] = {mode: quantiles(values) for mode, values in samples.items()}
    raw_p50 = out["raw"]["p50_ms"]
    out["ratio_memory_p50"] = out["memory"]["p50_ms"] / raw_p50
    out["ratio_http_p50"] = out["http"]["p50_ms"] / raw_p50
    out["ratio_http_lean_p50"] = out["http_lean"]["p50_ms"] / raw_p50
    return out


async def list_bytes(parts: Parts) -> dict[str, Any]:
    response = await parts.wire.post("tools/list", {})
    message = jsonrpc_message(response.text)
    tools = json.loads(message)["result"]["tools"]
    per_tool = {
        t["name"]: len(json.dumps(t, ensure_ascii=False, separators=(",", ":")).encode()) for t in tools
    }
    result_bytes = len(json.dumps({"tools": tools}, ensure_ascii=False, separators=(",", ":")).encode())
    return {
        "tools": len(tools),
        "http_body_bytes": len(response.content),
        "jsonrpc_bytes": len(message.encode()),
        "result_bytes": result_bytes,
        "per_tool_bytes": dict(sorted(per_tool.items(), key=lambda kv: -kv[1])),
        "target_bytes": TARGET_LIST_BYTES,
        "met": result_bytes <= TARGET_LIST_BYTES,
    }


async def page_bytes(parts: Parts, chat: int) -> dict[str, Any]:
    response = await parts.wire.post(
        "tools/call", {"name": "get_messages", "arguments": {"chat": str(chat), "limit": PAGE}}
    )
    message = jsonrpc_message(response.text)
    decoded = json.loads(message)["result"]
    payload = json.loads(decoded["content"][0]["text"])
    count = len(payload["messages"])
    body, headers = len(response.content), header_bytes(response)
    return {
        "messages": count,
        "http_body_bytes": body,
        "jsonrpc_bytes": len(message.encode()),
        "result_text_bytes": len(decoded["content"][0]["text"].encode()),
        "http_header_bytes": headers,
        "content_type": response.headers.get("content-type", ""),
        "has_structured_content": "structuredContent" in decoded,
        "per_message_http_body": body / count,
        "per_message_jsonrpc": len(message.encode()) / count,
        "per_message_with_headers": (body + headers) / count,
        "target_per_message": TARGET_BYTES_PER_MESSAGE,
        "met": body / count < TARGET_BYTES_PER_MESSAGE,
    }


# -- the run ---------------------------------------------------------------------------------------


async def start(work: Path, stack: list[Callable[[], Awaitable[Any]]]) -> tuple[Parts, int]:
    demo = build_demo_world(now=DEMO_NOW)
    alex = extend_chat(demo)
    sandbox = SandboxServer(demo.world)
    await sandbox.start()
    stack.append(sandbox.stop)
    telegram = sandbox_telegram_config(sandbox, timeout=30.0)
    user = demo.user_id

    # The HTTP gateway: one tenant, by bearer token.
    # The per-tenant rate limit still runs on every request; its refusals are not what is measured.
    http_settings = Settings.load(
        env_file=None,
        data_dir=work / "http",
        transport="http",
        port=0,
        requests_per_minute=1_000_000,
        # Writes are timed back to back here: no pacing (a paced write would time its wait, not the
        # gateway); the limits' own CPU cost is bench/limits.py's.
        call_rate=0,
        pacing=False,
    )
    http_gateway = build_gateway(http_settings, transport="http", telegram=telegram)
    before = key_ids(sandbox, user)
    _, token = http_gateway.vault.create_tenant("bench")
    keys = http_gateway.vault.unlock_with_token(token)
    await login_tenant(telegram, http_gateway.vault, keys, phone=demo.phone, code=demo.login_code)
    http_auth = auth_of(sandbox, user, before)
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(serve_http(http_gateway, ready=bound.set_result))

    async def stop_http() -> None:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)

    stack.append(stop_http)
    base = f"http://127.0.0.1:{await asyncio.wait_for(bound, 30)}"
    http = Client(StreamableHttpTransport(f"{base}{MCP_PATH}", headers={"Authorization": f"Bearer {token}"}))
    await http.__aenter__()
    stack.append(lambda: http.__aexit__(None, None, None))
    wire_http = httpx.AsyncClient(timeout=30)
    stack.append(wire_http.aclose)
    wire = LeanSession(wire_http, f"{base}{MCP_PATH}", token)
    await wire.__aenter__()
    stack.append(lambda: wire.__aexit__(None, None, None))

    # The in-memory gateway: stdio mode, the owner.
    memory_gateway: Gateway = build_gateway(
        Settings.load(env_file=None, data_dir=work / "stdio", call_rate=0, pacing=False),
        transport="stdio",
        telegram=telegram,
    )
    assert memory_gateway.owner is not None
    before = key_ids(sandbox, user)
    await login_tenant(
        telegram, memory_gateway.vault, memory_gateway.owner, phone=demo.phone, code=demo.login_code
    )
    memory_auth = auth_of(sandbox, user, before)
    await memory_gateway.__aenter__()
    stack.append(memory_gateway.aclose)
    memory = Client(memory_gateway.mcp)
    await memory.__aenter__()
    stack.append(lambda: memory.__aexit__(None, None, None))

    before = key_ids(sandbox, user)
    raw = await raw_client(sandbox, demo)
    stack.append(raw.disconnect)
    raw_auth = auth_of(sandbox, user, before)
    auth = {"http": http_auth, "memory": memory_auth, "raw": raw_auth}
    return Parts(demo, sandbox, http, memory, raw, wire, auth), alex


async def saved_messages(parts: Parts, count: int) -> dict[str, list[int]]:
    """Fresh messages in Saved Messages for the write cases (see :func:`build_cases`)."""
    out: dict[str, list[int]] = {}
    for name in ("tool", "raw", "tool_del", "raw_del"):
        out[name] = [(await parts.raw.send_message("me", f"{name} {n}")).id for n in range(count)]
    return out


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    stack: list[Callable[[], Awaitable[Any]]] = []
    try:
        parts, alex = await start(work, stack)
        listed = await list_bytes(parts)
        page = await page_bytes(parts, alex)
        # Each latency round calls the tool three times (in memory, HTTP, HTTP lean), raw once.
        total_runs = 3 * (args.runs + args.rtt_runs) + 8
        cases = build_cases(parts.demo, alex, await saved_messages(parts, total_runs))
        available = {tool.name for tool in await parts.memory.list_tools()}
        results: dict[str, Any] = {}
        for case in cases:
            if case.tool not in available:
                results[case.name] = {"skipped": f"{case.tool} is not a tool"}
                continue
            try:
                # Warm-up: entity caches on both sides, the HTTP session's first call.
                await tool_call(parts.memory, case.tool, case.next_args())
                await tool_call(parts.http, case.tool, case.next_args())
                await case.call_raw(parts.raw)
                entry: dict[str, Any] = {"tool": case.tool, "raw": case.raw_text, "read_only": case.read}
                entry["calls"] = await count_calls(parts, case)
                entry["latency"] = await latency(parts, case, args.runs)
                parts.sandbox.faults.latency(args.rtt_ms / 1000)
                try:
                    entry["latency_rtt"] = await latency(parts, case, args.rtt_runs)
                finally:
                    parts.sandbox.faults.latency(0)
                results[case.name] = entry
            except Exception as exc:
                results[case.name] = {"tool": case.tool, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        return {"tools_list": listed, "page": page, "cases": results}
    finally:
        for close in reversed(stack):
            with contextlib.suppress(Exception):  # teardown of a finished benchmark
                await close()


def build_result(args: argparse.Namespace, measured: dict[str, Any]) -> dict[str, Any]:
    cases = {k: v for k, v in measured["cases"].items() if "latency" in v}
    ratios = [v["latency"]["ratio_memory_p50"] for v in cases.values()]
    rtt_ratios = [v["latency_rtt"]["ratio_memory_p50"] for v in cases.values()]
    http_rtt = [v["latency_rtt"]["ratio_http_p50"] for v in cases.values()]
    lean_rtt = [v["latency_rtt"]["ratio_http_lean_p50"] for v in cases.values()]
    one_call = {k: v["calls"]["tool"] for k, v in cases.items()}
    return {
        "benchmark": "tools",
        "quick": args.quick,
        "environment": _common.environment(telethon=telethon.__version__, fastmcp=fastmcp.__version__),
        "config": {
            "runs": args.runs,
            "rtt_runs": args.rtt_runs,
            "injected_rtt_ms": args.rtt_ms,
            "page": PAGE,
        },
        **measured,
        "summary": {
            "tools_list_bytes": measured["tools_list"]["result_bytes"],
            "page_bytes_per_message": measured["page"]["per_message_http_body"],
            "telegram_calls_per_tool_call": one_call,
            "ratio_memory_p50_median": statistics.median(ratios) if ratios else None,
            "ratio_memory_p50_median_rtt": statistics.median(rtt_ratios) if rtt_ratios else None,
            "ratio_http_p50_median_rtt": statistics.median(http_rtt) if http_rtt else None,
            "ratio_http_lean_p50_median_rtt": statistics.median(lean_rtt) if lean_rtt else None,
        },
        "targets": {
            "tools_list_met": measured["tools_list"]["met"],
            "page_met": measured["page"]["met"],
            "one_call_met": sorted(k for k, n in one_call.items() if n == 1),
            "latency_rtt_met": sorted(
                k for k, v in cases.items() if v["latency_rtt"]["ratio_memory_p50"] <= TARGET_RATIO
            ),
            "latency_rtt_missed": sorted(
                k for k, v in cases.items() if v["latency_rtt"]["ratio_memory_p50"] > TARGET_RATIO
            ),
        },
    }


def report(result: dict[str, Any]) -> None:
    listed, page = result["tools_list"], result["page"]
    rtt = result["config"]["injected_rtt_ms"]
    list_met = "met" if listed["met"] else "MISSED"
    page_met = "met" if page["met"] else "MISSED"
    lines = [
        f"tools/list: {listed['result_bytes']} B result ({listed['tools']} tools;"
        f" HTTP body {listed['http_body_bytes']} B) target <= {TARGET_LIST_BYTES}: {list_met}",
        "  " + ", ".join(f"{name} {size}" for name, size in listed["per_tool_bytes"].items()),
        f"get_messages {page['messages']} msgs: HTTP body {page['http_body_bytes']} B"
        f" = {page['per_message_http_body']:.0f} B/msg (JSON-RPC {page['per_message_jsonrpc']:.0f},"
        f" +headers {page['per_message_with_headers']:.0f}) target < {TARGET_BYTES_PER_MESSAGE}: {page_met}",
        "",
        f"{'case':<26}{'rpc':>4}{'raw':>4}  {'raw p50':>8}{'mem p50':>8}{'http p50':>9}"
        f"{'mem/raw':>8}{'http/raw':>9}"
        f"  | {rtt:.0f} ms RTT: {'raw':>6}{'mem':>7}{'http':>7}{'lean':>7}{'mem/raw':>8}{'http/raw':>9}"
        f"{'lean/raw':>9}",
    ]
    for name, case in result["cases"].items():
        if "latency" not in case:
            lines.append(f"{name:<26}{case.get('error') or case.get('skipped')}")
            continue
        a, b, calls = case["latency"], case["latency_rtt"], case["calls"]
        lines.append(
            f"{name:<26}{calls['tool']:>4}{calls['raw']:>4}"
            f"  {a['raw']['p50_ms']:>8.2f}{a['memory']['p50_ms']:>8.2f}"
            f"{a['http']['p50_ms']:>9.2f}{a['ratio_memory_p50']:>8.2f}{a['ratio_http_p50']:>9.2f}"
            f"  | {'':>10}{b['raw']['p50_ms']:>6.1f}{b['memory']['p50_ms']:>7.1f}{b['http']['p50_ms']:>7.1f}"
            f"{b['http_lean']['p50_ms']:>7.1f}{b['ratio_memory_p50']:>8.2f}{b['ratio_http_p50']:>9.2f}"
            f"{b['ratio_http_lean_p50']:>9.2f}"
        )
    lines.append(f"load average (1 min): {result['environment']['load_average'][0]}")
    print("\n".join(lines), file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="timed calls per mode and case, no latency (40)")
    parser.add_argument(
        "--rtt-runs", type=int, default=15, help="timed calls per mode and case with RTT (15)"
    )
    parser.add_argument(
        "--rtt-ms", type=float, default=30.0, help="injected delay per Telegram answer (30 ms)"
    )
    parser.add_argument("--quick", action="store_true", help="3 and 2 runs: a smoke test, not a measurement")
    parser.add_argument(
        "--output", type=Path, help="also write the JSON here (e.g. bench/results/tools.json)"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.rtt_runs = 3, 2
    # Telethon warns about answers it cannot map to a sent message (forwards to Saved Messages).
    logging.getLogger("telethon").setLevel(logging.ERROR)
    return _common.run(
        "tools",
        lambda work: measure(args, work),
        lambda measured: build_result(args, measured),
        report,
        args.output,
    )


if __name__ == "__main__":
    raise SystemExit(main())
