"""Policies of HTTP tenants, end to end: the operator's CLI, a tenant's own tightening, other tenants.

Real MCP clients over HTTP with bearer tokens -> a running gateway -> Telethon -> sandbox; the
policy commands run as ``mcpgram policy ...`` (in-process) against the same data dir while the
server runs, and the next request sees the change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastmcp.exceptions import ToolError

from mcpgram.tools.visibility import TOOL_VERBS

from ..cli.conftest import arun_cli, clean_env
from .conftest import People, Running

# The CLI configures logging; clean_env restores it after each test (and keeps outside settings out).
pytestmark = pytest.mark.usefixtures(clean_env.__name__)

READER_TOOLS = {
    "find_chats",
    "get_chat",
    "get_messages",
    "search_messages",
    "transcribe_voice",
    "download_media",
}


async def tools(server: Running, token: str) -> set[str]:
    async with server.client(token) as client:
        return {tool.name for tool in await client.list_tools()}


async def call(server: Running, token: str, tool: str, **args: Any) -> str:
    async with server.client(token) as client:
        result = await client.call_tool(tool, args)
        return result.content[0].text  # type: ignore[union-attr,no-any-return]


async def refusal(server: Running, token: str, tool: str, **args: Any) -> str:
    with pytest.raises(ToolError) as caught:
        await call(server, token, tool, **args)
    return str(caught.value)


def data_dir(server: Running) -> str:
    return str(server.gateway.settings.data_dir)


def tenant_of(server: Running, token: str) -> str:
    return server.gateway.vault.authenticate(token).tenant_id


async def test_the_operator_sets_one_tenants_profile_and_the_others_are_unaffected(
    server: Running, people: People
) -> None:
    """`policy set --profile reader` on Alice: her next tools/list is the reader's, a send is an
    unknown tool; Carol (default: all) still sees and uses every tool."""
    assert await tools(server, server.alice) == set(TOOL_VERBS)
    alice = tenant_of(server, server.alice)
    done = await arun_cli("policy", "set", alice, "--profile", "reader", "--data-dir", data_dir(server))
    assert done.code == 0, done.err
    assert "reader" in done.out and "send_message" not in done.out.split("tools")[-1]
    assert await tools(server, server.alice) == READER_TOOLS
    message = await refusal(server, server.alice, "send_message", chat=str(people.bob), text="hi")
    assert message == "Unknown tool: 'send_message'"
    assert await tools(server, server.carol) == set(TOOL_VERBS)
    await call(server, server.carol, "send_message", chat=str(people.bob), text="still allowed")
    shown = await arun_cli("policy", "show", alice, "--json", "--data-dir", data_dir(server))
    assert shown.code == 0 and '"source": "own"' in shown.out and '"profile": "reader"' in shown.out


async def test_a_tenant_tightens_its_own_policy_and_cannot_loosen_it(server: Running, people: People) -> None:
    """`policy tighten --token-stdin`: Carol denies send for herself (Alice unaffected); asking for
    send again, or a wider write scope, is refused whole and changes nothing."""
    directory = data_dir(server)
    tightened = await arun_cli(
        "policy", "tighten", "--token-stdin", "--verb", "send=deny", "--write", "@bob_e2e",
        "--data-dir", directory, stdin=server.carol + "\n",
    )  # fmt: skip
    assert tightened.code == 0, tightened.err
    assert "send_message" not in await tools(server, server.carol)
    assert "send_message" in await tools(server, server.alice)
    message = await refusal(server, server.carol, "react", chat="me", message_id=1)
    assert message.startswith("NOT_ALLOWED: that chat is outside this tenant's write scope (rule write)")
    for loosen in (["--verb", "send=allow"], ["--write", "*"], ["--profile", "all"]):
        refused = await arun_cli(
            "policy", "tighten", "--token-stdin", *loosen, "--data-dir", directory, stdin=server.carol + "\n"
        )
        assert refused.code == 1 and "may only tighten" in refused.err and "mcpgram policy" in refused.err
    assert "send_message" not in await tools(server, server.carol)
    carol = tenant_of(server, server.carol)
    shown = await arun_cli("policy", "show", carol, "--data-dir", directory)
    assert "tightened by the tenant" in shown.out and "@bob_e2e" in shown.out


async def test_tighten_needs_the_tenants_own_valid_token(server: Running, tmp_path: Path) -> None:
    """Without --token-stdin, or with a token that is not a live tenant's, nothing changes."""
    directory = data_dir(server)
    bare = await arun_cli("policy", "tighten", "--verb", "send=deny", "--data-dir", directory)
    assert bare.code == 2 and "--token-stdin" in bare.err
    forged = "mcpg_" + "A" * 43
    wrong = await arun_cli(
        "policy", "tighten", "--token-stdin", "--verb", "read=deny", "--data-dir", directory, stdin=forged
    )
    assert wrong.code == 1 and "invalid bearer token" in wrong.err
    assert await tools(server, server.alice) == set(TOOL_VERBS)


async def test_nothing_an_agent_sends_can_change_a_policy(server: Running) -> None:
    """No tool, resource or prompt touches policies: the surface has none, and guessing one answers
    unknown tool; a reader stays a reader whatever its agent calls."""
    alice = tenant_of(server, server.alice)
    assert (
        await arun_cli("policy", "set", alice, "--profile", "reader", "--data-dir", data_dir(server))
    ).code == 0
    async with server.client(server.alice) as client:
        names = {t.name for t in await client.list_tools()}
        names |= {str(t.uri_template) for t in await client.list_resource_templates()}
        names |= {p.name for p in await client.list_prompts()}
    assert not [name for name in names if "polic" in name.lower() or "profile" in name.lower()]
    for guess in ("set_policy", "policy", "tighten_policy"):
        message = await refusal(server, server.alice, guess, profile="all")
        assert message == f"Unknown tool: {guess!r}"
    assert await tools(server, server.alice) == READER_TOOLS
