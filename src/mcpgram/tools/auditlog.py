"""The tenant's own audit entries as a resource: ``mcpgram://audit{?limit}``.

The newest ``limit`` (1..100, default 20) journal entries of the *calling* tenant, oldest first:
``seq``, ``time``, ``kind``, ``tool``, ``chat``, ``outcome``, ``content`` (the keyed digest) and
``mac``. Another tenant's entries are never read out: the tenant id comes from the request's
credentials, not from the URI, and only lines carrying it are parsed. At most the newest
:data:`MAX_SCAN_BYTES` of the journal are searched, so a tenant with no recent writes cannot make
the server read the whole journal on every request. A tenant may keep an entry's ``seq`` and
``mac`` as a receipt: the entry cannot be changed or removed later without ``--verify`` or that mac
showing it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastmcp import FastMCP

from ..audit.reading import Filter, newest
from ..errors import MCPGramError
from .context import ToolContext, compact_json
from .resources import DEFAULT_LIMIT, JSON, parse_limit, refusal

#: How much of the journal, from its end, one read searches for the tenant's entries.
MAX_SCAN_BYTES = 8 * 1024 * 1024
_SHOWN = ("seq", "time", "kind", "tool", "chat", "outcome", "content", "mac")


def register(mcp: FastMCP[Any], ctx: ToolContext) -> None:
    @mcp.resource(
        "mcpgram://audit{?limit}",
        name="audit",
        mime_type=JSON,
        description="Your newest audit journal entries (limit 1-100, default 20): writes, approvals and"
        " raw calls, each with its time, tool, chat id, outcome and a keyed digest of the content.",
    )
    async def audit_resource(limit: str = str(DEFAULT_LIMIT)) -> str:
        count = parse_limit(limit)
        try:
            tenant = (await ctx.resolve_keys()).tenant_id
        except MCPGramError as exc:
            raise refusal(exc) from None
        journal = ctx.journal
        if journal is None:
            return compact_json({"journal": "off", "entries": []}, third_party=False)
        found = await asyncio.to_thread(
            newest, journal.directory, Filter(tenant=tenant), count, max_scan_bytes=MAX_SCAN_BYTES
        )
        entries = [{name: getattr(entry, name) for name in _SHOWN} for entry in found]
        return compact_json({"journal": "on", "entries": entries}, third_party=False)
