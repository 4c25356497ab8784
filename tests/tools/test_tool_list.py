"""What ``tools/list`` costs an agent and tells it: size, honest annotations, described parameters.

The tools are discovered from ``tools/list`` itself, so a new tool is held to the same rules without
a change here. Listing needs no Telegram login: a gateway pointed at an empty sandbox is enough.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fastmcp import Client
from mcp.types import Tool

from mcpgram.app import build_gateway
from mcpgram.sandbox import SandboxServer, World
from mcpgram.settings import Settings
from mcpgram.testing import sandbox_telegram_config

pytestmark = pytest.mark.asyncio(loop_scope="module")

#: The issue's budget for the whole default tool set.
MAX_LIST_BYTES = 14_000
#: Parameters whose name says all an agent needs (their bounds are in the schema).
SELF_EXPLANATORY = {"limit", "cursor"}
#: What each known tool does to the account. A tool not listed here is judged by its name: find_,
#: get_, search_ and list_ only read; delete_ and edit_ remove or replace; anything else writes.
KINDS = {
    "transcribe_voice": "read",  # asks Telegram to transcribe; changes nothing anyone else sees
    "send_to_phone": "write",  # its temporary contact is removed again, nothing existing is lost
    "download_media": "read",  # reads Telegram; save (stdio) only adds a new file, never overwrites one
}
READ_PREFIXES = ("find_", "get_", "search_", "list_")
DESTRUCTIVE_PREFIXES = ("delete_", "edit_")
#: Words that name our internals, the framework or the wire protocol: an agent can do nothing with them.
INTERNAL = re.compile(
    r"telethon|mtproto|sandbox|fastmcp|pydantic|vault|\bpool\b|tenant|\bctx\b|tools/|\.py\b|"
    r"\bTL\b|InputPeer|Request\b|functions\.|\btypes\.|Args:|Returns:|Raises:|TODO|XXX|issue \d",
    re.IGNORECASE,
)


def tool_json(tool: Tool) -> dict[str, Any]:
    """The tool as the server sends it in a tools/list result."""
    dumped: dict[str, Any] = tool.model_dump(by_alias=True, mode="json", exclude_none=True)
    return dumped


def compact_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def tools(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[list[Tool]]:
    data_dir: Path = tmp_path_factory.mktemp("list") / "data"
    async with SandboxServer(World()) as sandbox:
        settings = Settings.load(env_file=None, data_dir=data_dir)
        gateway = build_gateway(settings, transport="stdio", telegram=sandbox_telegram_config(sandbox))
        try:
            async with Client(gateway.mcp) as client:
                yield await client.list_tools()
        finally:
            gateway.store.close()


def kind(name: str) -> str:
    if name in KINDS:
        return KINDS[name]
    if name.startswith(READ_PREFIXES):
        return "read"
    return "destructive" if name.startswith(DESTRUCTIVE_PREFIXES) else "write"


def self_explanatory(name: str, schema: dict[str, Any]) -> bool:
    """limit and cursor, or a choice among plain words (``media``: photo, video, ...)."""
    words = [value for value in schema.get("enum", []) if value]
    return name in SELF_EXPLANATORY or (len(words) >= 2 and all(isinstance(w, str) for w in words))


async def test_the_whole_tool_list_fits_the_budget(tools: list[Tool]) -> None:
    """The tools/list result for every default tool is at most 14,000 bytes of compact JSON."""
    sizes = {tool.name: compact_size(tool_json(tool)) for tool in tools}
    total = compact_size({"tools": [tool_json(tool) for tool in tools]})
    assert {"find_chats", "get_messages"} <= set(sizes)
    assert total <= MAX_LIST_BYTES, f"{total} bytes: {sorted(sizes.items(), key=lambda kv: -kv[1])}"


async def test_annotations_match_what_each_tool_does(tools: list[Tool]) -> None:
    """Every tool is annotated; readers are read-only and idempotent, writers are not read-only,
    deleting or editing tools are destructive, and every tool reaches Telegram (open world)."""
    for tool in tools:
        hints = tool.annotations
        assert hints is not None, tool.name
        assert hints.open_world_hint is True, tool.name
        if kind(tool.name) == "read":
            assert hints.read_only_hint is True, tool.name
            assert hints.destructive_hint is False and hints.idempotent_hint is True, tool.name
        else:
            assert hints.read_only_hint is False, tool.name
            assert hints.destructive_hint is (kind(tool.name) == "destructive"), tool.name
            assert isinstance(hints.idempotent_hint, bool), tool.name


async def test_every_parameter_is_described(tools: list[Tool]) -> None:
    """Each parameter has a description, unless it says it all (limit, cursor, a choice of plain words)."""
    for tool in tools:
        for name, schema in tool.input_schema.get("properties", {}).items():
            if self_explanatory(name, schema):
                continue
            described = schema.get("description") or _ref_description(schema, tool.input_schema)
            assert described and len(described.strip()) >= 8, f"{tool.name}.{name} has no description"


def _ref_description(schema: dict[str, Any], root: dict[str, Any]) -> str:
    """The description of a ``$ref``'d definition (an enum, say), when the property has none itself."""
    ref = schema.get("$ref", "")
    if ref.startswith("#/$defs/"):
        return str(root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {}).get("description", ""))
    return ""


async def test_descriptions_say_what_the_tool_does_and_nothing_internal(tools: list[Tool]) -> None:
    """Each tool has a description whose first line says what it does; no text names our internals."""
    for tool in tools:
        assert tool.description and len(tool.description.splitlines()[0]) >= 12, tool.name
        texts = [tool.description]
        texts += [str(s.get("description", "")) for s in tool.input_schema.get("properties", {}).values()]
        for text in texts:
            found = INTERNAL.search(text)
            assert found is None, f"{tool.name}: {found.group(0)!r} in {text!r}"


async def test_tools_are_listed_lean(tools: list[Tool]) -> None:
    """No tool carries FastMCP's _meta tags or a generated title: bytes that tell an agent nothing."""
    for tool in tools:
        dumped = tool_json(tool)
        assert "_meta" not in dumped and "title" not in dumped, tool.name
        assert tool.input_schema.get("type") == "object", tool.name
