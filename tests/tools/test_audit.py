"""Every tool call leaves one audit line: tenant, tool, outcome code, duration; never arguments or text."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult

from mcpgram.log import tenant_context
from mcpgram.tools.audit import AuditMiddleware

from .conftest import Demo


def _audit(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "tool.call"]


async def test_each_call_is_audited_with_its_outcome_and_no_content(
    served: Demo, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="mcpgram.tools.audit")
    tenants: list[str | None] = []
    original = logging.Logger.handle

    def spy(self: logging.Logger, record: logging.LogRecord) -> None:
        if record.getMessage() == "tool.call":
            tenants.append(tenant_context.get())
        original(self, record)

    monkeypatch.setattr(logging.Logger, "handle", spy)
    page = await served.call("get_messages", chat="me", limit=3)
    with pytest.raises(ToolError):
        await served.call("get_messages", chat="Some Fuzzy Name", limit=3)
    with pytest.raises(ToolError):
        await served.call("get_messages", chat="me", limit=100_000)
    records = _audit(caplog)
    assert [(r.tool, r.outcome) for r in records] == [  # type: ignore[attr-defined]
        ("get_messages", "ok"),
        ("get_messages", "CHAT_NOT_FOUND"),
        ("get_messages", "INVALID_ARGUMENT"),
    ]
    assert all(isinstance(r.ms, float) for r in records)  # type: ignore[attr-defined]
    assert tenants == [served.gateway.owner.tenant_id] * 3  # type: ignore[union-attr]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in records)
    assert "Some Fuzzy Name" not in logged
    for message in page.get("messages", []):
        if message.get("text"):
            assert message["text"] not in logged


async def test_no_tenant_lookup_when_the_audit_line_would_be_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """At the default level (WARNING) a call pays for no tenant lookup; at INFO it is logged as before."""
    looked_up: list[int] = []

    def tenant_of() -> str:
        looked_up.append(1)
        return "tnt_0123456789abcdef"

    audit = AuditMiddleware(tenant_of)
    context: Any = SimpleNamespace(message=SimpleNamespace(name="find_chats"))
    result = ToolResult(content=[])

    async def call_next(_: object) -> ToolResult:
        return result

    caplog.set_level(logging.WARNING, logger="mcpgram.tools.audit")
    assert await audit.on_call_tool(context, call_next) is result
    assert looked_up == [] and _audit(caplog) == []
    caplog.set_level(logging.INFO, logger="mcpgram.tools.audit")
    assert await audit.on_call_tool(context, call_next) is result
    assert looked_up == [1]
    assert [(r.tool, r.outcome) for r in _audit(caplog)] == [("find_chats", "ok")]  # type: ignore[attr-defined]
