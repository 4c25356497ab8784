"""MCPGramServer keeps FastMCP's session state in a plain, bounded dict, and FastMCP still works on it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import fastmcp
from fastmcp import Client, Context, FastMCP

from mcpgram.mcpserver import MCPGramServer, SessionStateStore, overrides_state_store


async def test_store_gets_puts_deletes_and_expires() -> None:
    now = [100.0]
    store = SessionStateStore(size=2, clock=lambda: now[0])
    assert await store.get("a") is None
    await store.put("a", "one", ttl=10)
    await store.put("b", "two")
    assert (await store.get("a"), await store.get("b")) == ("one", "two")
    now[0] += 10
    assert await store.get("a") is None  # expired
    assert await store.get("b") == "two"  # no TTL
    await store.put("c", "three")
    await store.put("d", "four")
    assert await store.get("b") is None  # beyond size: the oldest written went
    assert await store.delete("d") is True and await store.delete("d") is False


async def test_fastmcp_session_state_goes_through_it() -> None:
    server = MCPGramServer("t")

    @server.tool
    async def remember(value: str, ctx: Context) -> str:
        await ctx.set_state("last", value)
        return str(await ctx.get_state("last"))

    async with Client(server) as client:
        result = await client.call_tool("remember", {"value": "x"})
        listed = await client.list_tools()  # reads the (empty) visibility rules from the store
    assert result.content[0].text == "x"  # type: ignore[union-attr]
    assert [tool.name for tool in listed] == ["remember"]
    assert [value.value for value, _ in server._lean_state._entries.values()] == ["x"]


def test_override_applies_to_the_installed_fastmcp() -> None:
    """Fails loudly on a FastMCP release the private override was not checked against.

    When it fails: check that FastMCP still reads ``_state_store`` (the test below) and only with
    get/put/delete and these keyword arguments, then add the release to CHECKED_FASTMCP.
    """
    assert overrides_state_store(), f"re-check MCPGramServer._state_store for fastmcp {fastmcp.__version__}"
    assert not overrides_state_store("5.0.0") and not overrides_state_store("4.3.0")
    assert overrides_state_store("4.2.3") and overrides_state_store("4.1.2")


def test_fastmcp_calls_only_what_the_store_implements() -> None:
    """Every use of ``_state_store`` in the installed FastMCP is a get, put or delete."""
    root = Path(fastmcp.__file__).parent
    calls: set[str] = set()
    for path in root.rglob("*.py"):
        calls.update(re.findall(r"_state_store\.(\w+)", path.read_text(encoding="utf-8")))
    assert calls, "FastMCP no longer reads _state_store: the override is dead code, remove it"
    assert calls <= {"get", "put", "delete"}, calls
    names = {name for name, _ in inspect.getmembers(FastMCP)}
    assert "_state_store" in names
