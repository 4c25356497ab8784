"""MCPGramServer keeps FastMCP's session state in a plain, bounded dict, and FastMCP still works on it."""

from __future__ import annotations

from fastmcp import Client, Context

from mcpgram.mcpserver import MCPGramServer, SessionStateStore


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
