"""Schema-driven fuzzing of every MCP tool the gateway registers.

The tools are discovered from ``tools/list`` and their arguments generated from each tool's own
``inputSchema`` (see ``fuzzing.py``), so a new tool is fuzzed without any code here. Every call must
either succeed with one JSON text block, or fail with a ``ToolError`` carrying one of our stable
``CODE: message`` texts (schema-invalid input too: ``INVALID_ARGUMENT``, see ``tools/arguments.py``). An
unmasked internal error (FastMCP's generic "Error calling tool"), a traceback, a path or a secret in
the message fails the test and prints the input; after each run the server must still serve.

One gateway serves the whole module: stdio mode, the owner logged into the sandbox's demo world,
reached through FastMCP's in-memory ``Client`` (the real MCP protocol, no subprocess). Hypothesis'
``@given`` runs synchronously, so the one event loop hosting the sandbox, the gateway and the client
runs in an anyio blocking portal thread, and each call goes through ``portal.call``.

Write tools are fuzzed like the others: the world belongs to this module, so messages sent, edited,
forwarded or deleted by the fuzz harm nothing else. Two things differ for them. Only read-only tools
(``readOnlyHint``) are harvested repeatedly and re-run by ``assert_still_serving``: re-running a
write would change the world each time, and a deleted message would turn a harvested read into
a different answer. And they get ``WRITE_EXAMPLES`` examples per test instead of ``READ_EXAMPLES``:
a write costs the sandbox more (updates pushed, copies stored), there are more write tools than
read tools, and most of their refusal paths are shared (chat resolution, message ids, text checks).
Measured with 13 tools on two cores (load below 1): the module takes 44 s with 40 write examples and
49 s with 75 (about 13 s per 100 write examples per test); the budget is 90 s, leaving room for a
busier machine.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastmcp import Client
from fastmcp.exceptions import ToolError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.types import TextContent, Tool

from mcpgram.app import build_gateway
from mcpgram.datadir import server_secret_bytes
from mcpgram.fetch.fetcher import Fetcher
from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.demo import build_demo_world
from mcpgram.settings import Settings
from mcpgram.testing import SANDBOX_API_HASH, login_tenant, sandbox_telegram_config
from mcpgram.tools.cursors import decode_cursor

from .conftest import allow_unasked, no_dns
from .fuzzing import (
    HOSTILE_POSITIONS,
    HOSTILE_STRINGS,
    CursorMint,
    Harvest,
    accepts,
    accepts_strings,
    cursor_like,
    harvest,
    is_read_only,
    mutated_args,
    properties,
    valid_args,
)

#: A fixed demo clock and server secret make every run see the same ids, dates and cursors.
DEMO_NOW = 1_750_000_000
SERVER_SECRET = "fuzz-server-secret-0123456789abcdef-0123"
CALL_TIMEOUT = 15.0

#: Examples per tool and test: read-only tools, and tools that write (see the module docstring).
READ_EXAMPLES, WRITE_EXAMPLES = 150, 75
FUZZ = settings(
    max_examples=READ_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
CODE_ERROR = re.compile(r"^[A-Z_]+: ")
#: The refusal ``tools/arguments.py`` builds from a schema's verdict (its hints say what is expected).
SCHEMA_REFUSAL = re.compile(r"^INVALID_ARGUMENT: .*\. hint: (expected |parameters: )")
LEAK_PATTERNS = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r'File "[^"]*", line \d+'),
    re.compile(r"site-packages"),
)


@dataclass
class Served:
    """The running gateway as the fuzz sees it."""

    portal: BlockingPortal
    client: Client[Any]
    tools: list[Tool]
    harvest: Harvest
    mint: CursorMint
    #: Strings that must never appear in an error message (unless the caller sent them).
    secrets: tuple[str, ...]

    def call(self, name: str, args: dict[str, Any]) -> Any:
        return self.portal.call(_call_tool, self.client, name, args)


def marked_id(peer: Any) -> int:
    """The chat id the tools use for a sandbox peer."""
    return {"user": peer.id, "chat": -peer.id, "channel": -(10**12 + peer.id)}[peer.kind]


async def _call_tool(client: Client[Any], name: str, args: dict[str, Any]) -> Any:
    with anyio.fail_after(CALL_TIMEOUT):
        return await client.call_tool(name, args)


@asynccontextmanager
async def _serve(data_dir: Path) -> AsyncIterator[dict[str, Any]]:
    demo = build_demo_world(now=DEMO_NOW)
    # Premium: transcribe_voice answers every time (a free account gets two trial transcriptions a
    # week, and the still-serving checks re-run a harvested call).
    demo.world.users[demo.user_id].premium = True
    async with SandboxServer(demo.world) as sandbox:
        # The fuzz calls and writes far faster than an agent: no call limit or write pacing.
        config = Settings.load(
            env_file=None, data_dir=data_dir, server_secret=SERVER_SECRET, call_rate=0, pacing=False
        )
        telegram = sandbox_telegram_config(sandbox)
        # URLs in file arguments are refused at the lookup: the fuzz never reaches the network.
        gateway = build_gateway(
            config, transport="stdio", telegram=telegram, fetcher=Fetcher(resolver=no_dns)
        )
        assert gateway.owner is not None
        await login_tenant(telegram, gateway.vault, gateway.owner, phone=demo.phone, code=demo.login_code)
        allow_unasked(gateway.vault, gateway.owner.tenant_id)
        async with gateway, Client(gateway.mcp) as client:

            async def payload_or_none(name: str, args: dict[str, Any]) -> Any:
                try:
                    result = await _call_tool(client, name, args)
                except ToolError as exc:
                    assert not str(exc).startswith("Error calling tool"), f"harvest: {name}({args!r})"
                    return None
                return json.loads(result.content[0].text)

            tools = sorted(await client.list_tools(), key=lambda t: t.name)
            # app.build_gateway's derivation, so the fuzz can sign cursors with hostile payloads;
            # test_tools_are_discovered_and_harvest_real_data proves it still matches.
            key = hmac.new(server_secret_bytes(config), b"mcpgram/cursor/v1", hashlib.sha256).digest()
            found = await harvest(
                tools,
                payload_or_none,
                seeds=demo.phones.values(),
                pairs=[(str(marked_id(peer)), msg_id) for peer, msg_id in demo.messages.values()],
            )
            # No tool answers a Telegram method name: one known raw read seeds invoke_mtproto.
            raw = {"method": "users.getFullUser", "params": {"id": "me"}}
            if await payload_or_none("invoke_mtproto", raw) is not None:
                found.working["invoke_mtproto"].append(raw)
            yield {
                "client": client,
                "tools": tools,
                "harvest": found,
                "mint": CursorMint(key, gateway.owner.tenant_id),
                "secrets": (
                    *(str(data_dir), str(data_dir.parent), SANDBOX_API_HASH, SERVER_SECRET, key.hex()),
                    *(demo.phone, sandbox.public_key_pem.splitlines()[1]),
                ),
            }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with start_blocking_portal(backend="asyncio") as portal:
        data_dir = tmp_path_factory.mktemp("fuzz") / "data"
        with portal.wrap_async_context_manager(_serve(data_dir)) as parts:
            yield Served(portal=portal, **parts)


# -- the oracle --------------------------------------------------------------------------------------


def check_call(served: Served, tool: Tool, args: dict[str, Any]) -> None:
    """Call ``tool`` with ``args`` and assert the answer is a JSON result or a clean refusal."""
    schema_valid = accepts(tool.input_schema, args)
    shown = f"{tool.name}({json.dumps(args, ensure_ascii=True, default=repr)[:1500]})"
    try:
        result = served.call(tool.name, args)
    except ToolError as exc:
        message = str(exc)
        where = f"{shown} -> {message[:1500]!r}"
        assert not message.startswith("Error calling tool"), f"unmasked internal error: {where}"
        assert CODE_ERROR.match(message), f"unexpected error text: {where}"
        assert "\n" not in message and "pydantic" not in message, f"not one line of ours: {where}"
        schema_refusal = SCHEMA_REFUSAL.match(message)
        assert not (schema_refusal and schema_valid), f"schema-valid input refused by the schema: {where}"
        sent = json.dumps(args, default=repr) + repr(args)
        for secret in served.secrets:
            assert secret not in message or secret in sent, f"error leaks {secret!r}: {where}"
        for pattern in LEAK_PATTERNS:
            assert not pattern.search(message) or pattern.search(sent), f"error leaks internals: {where}"
        return
    assert not result.is_error, shown
    assert result.content and isinstance(result.content[0], TextContent), shown
    # download_media follows its JSON with the media itself: one image, audio, resource or link block.
    assert len(result.content) == (2 if tool.name == "download_media" and len(result.content) > 1 else 1), (
        shown
    )
    assert isinstance(json.loads(result.content[0].text), dict), shown


def assert_still_serving(served: Served) -> None:
    """The server still lists its tools, and read-only calls that worked before still work."""
    listed = served.portal.call(served.client.list_tools)
    assert sorted(tool.name for tool in listed) == [tool.name for tool in served.tools]
    for tool in served.tools:
        if not is_read_only(tool):
            continue
        name = tool.name
        for args in served.harvest.working[name][:3]:
            result = served.call(name, args)
            assert not result.is_error and json.loads(result.content[0].text), name


def fuzz_each_tool(served: Served, strategy: Callable[[Tool], st.SearchStrategy[dict[str, Any]]]) -> None:
    for tool in served.tools:
        _fuzz_one(served, tool, strategy(tool))
        assert_still_serving(served)


def _fuzz_one(served: Served, tool: Tool, strategy: st.SearchStrategy[dict[str, Any]]) -> None:
    @settings(FUZZ, max_examples=READ_EXAMPLES if is_read_only(tool) else WRITE_EXAMPLES)
    @given(args=strategy)
    def check(args: dict[str, Any]) -> None:
        check_call(served, tool, args)

    check()


def _string_parameters(tool: Tool) -> list[str]:
    return [name for name, sub in properties(tool).items() if accepts_strings(sub)]


# -- tests -------------------------------------------------------------------------------------------


def test_tools_are_discovered_and_harvest_real_data(served: Served) -> None:
    """tools/list names every tool with an object schema; each tool had a call that worked."""
    names = [tool.name for tool in served.tools]
    assert {"find_chats", "get_messages"} <= set(names)
    assert all(tool.input_schema.get("type") == "object" for tool in served.tools)
    assert all(served.harvest.working[name] for name in names), served.harvest.working
    cursors = cursor_like(served.harvest)
    assert cursors, "no pagination cursor was harvested"
    # A cursor the server minted decodes under the fuzz's key, so its signed cursors are well signed.
    decode_cursor(served.mint.key, served.mint.tenant_id, cursors[0])


def test_schema_valid_arguments_succeed_or_fail_with_a_code(served: Served) -> None:
    """Arguments valid under a tool's inputSchema give a JSON result or a CODE: message refusal."""
    fuzz_each_tool(served, lambda tool: valid_args(tool, served.harvest))


def test_mutated_arguments_are_refused_cleanly(served: Served) -> None:
    """Wrong types, extra or missing keys and hostile values never cause an internal error."""
    fuzz_each_tool(
        served,
        lambda tool: mutated_args(tool, served.harvest, served.mint, valid_args(tool, served.harvest)),
    )


def test_hostile_values_in_a_working_call_are_refused_cleanly(served: Served) -> None:
    """One hostile value in a call that otherwise works (a real chat, say) is answered cleanly."""
    fuzz_each_tool(
        served,
        lambda tool: mutated_args(
            tool, served.harvest, served.mint, st.sampled_from(served.harvest.working[tool.name]), keys=False
        ),
    )


@pytest.mark.parametrize("hostile", HOSTILE_STRINGS, ids=lambda s: repr(s)[:30])
def test_hostile_strings_in_every_string_argument_are_refused_cleanly(served: Served, hostile: str) -> None:
    """Each hostile string, in each string argument of each tool, gets a result or a clean refusal."""
    for tool in served.tools:
        base = served.harvest.working[tool.name][0]
        for name in _string_parameters(tool):
            check_call(served, tool, {**base, name: hostile})


@pytest.mark.parametrize("position", HOSTILE_POSITIONS, ids=repr)
def test_well_signed_cursors_with_hostile_positions_are_refused_cleanly(
    served: Served, position: Any
) -> None:
    """A cursor signed with the server's key but carrying a hostile page position is answered cleanly."""
    for tool in served.tools:
        base = served.harvest.working[tool.name][0]
        for name in _string_parameters(tool):
            for chat in [value for value in base.values() if isinstance(value, str)]:
                check_call(served, tool, {**base, name: served.mint({"chat": chat, "before": position})})


def test_the_server_still_serves_after_the_fuzz(served: Served) -> None:
    """After every hostile call above, the same gateway still lists its tools and answers real calls."""
    assert_still_serving(served)
