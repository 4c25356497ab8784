"""Every method mcpgram's raw-bridge denylist names has a sandbox handler, so a test can show a refused
call never arrives and a lifted one acts as Telegram would (the list is read here, in the test: the
sandbox imports nothing from the rest of mcpgram)."""

from __future__ import annotations

from mcpgram.policy.rawmethods import DENIED, denied_reason
from mcpgram.sandbox.rpc import build_router
from mcpgram.telegram.rawtl import _registry

#: Denylisted methods deliberately without a sandbox handler, each with its reason: none today.
LEFT_OUT: dict[str, str] = {}


def test_every_denylisted_method_has_a_sandbox_handler() -> None:
    """Each method of the denylist, the whole payments namespace included, is routed to a handler,
    so a test can show a refused call never arrives and a lifted one acts as Telegram would."""
    names = sorted(name for name in _registry()[0] if denied_reason(name) is not None)
    assert set(DENIED) <= set(names) and len([n for n in names if n.startswith("payments.")]) > 20
    routes = build_router().routes
    missing = [n for n in names if _registry()[0][n].CONSTRUCTOR_ID not in routes and n not in LEFT_OUT]
    assert missing == []
    assert not set(LEFT_OUT) - set(names)  # nothing stale in the list of exceptions
