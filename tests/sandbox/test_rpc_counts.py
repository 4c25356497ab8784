"""The sandbox counts the RPCs it receives by TL method name, per server and per authorization key."""

from __future__ import annotations

import pytest
from telethon import errors, functions, types

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.router import method_name

from .conftest import ClientFactory


def test_method_names_are_tl_names() -> None:
    """A Telethon request is named as in the TL schema: namespace.lowerCamel, no Request suffix."""
    assert method_name(functions.messages.GetHistoryRequest(types.InputPeerSelf(), 0, 0, 0, 1, 0, 0, 0)) == (
        "messages.getHistory"
    )
    assert method_name(functions.help.GetNearestDcRequest()) == "help.getNearestDc"
    assert method_name(functions.PingRequest(ping_id=1)) == "ping"


async def test_each_rpc_is_counted_once_and_service_messages_are_not(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Calls count once each under their method name; pings and the invokeWith* wrappers do not count."""
    alice = await make_client(phone="9996620101", first_name="Alice")
    bob = await make_client(phone="9996620102", first_name="Bob")
    sandbox.rpc_counts.clear()
    await alice(functions.help.GetNearestDcRequest())
    await alice(functions.help.GetNearestDcRequest())
    await alice(functions.messages.GetHistoryRequest(types.InputPeerSelf(), 0, 0, 0, 5, 0, 0, 0))
    await bob(functions.help.GetNearestDcRequest())
    await alice(functions.PingRequest(ping_id=7))  # an MTProto service message, not an RPC
    assert sandbox.rpc_counts == {"help.getNearestDc": 3, "messages.getHistory": 1}
    (alice_auth,) = sandbox.authorizations_of(sandbox.world.user_by_phone("9996620101").id)  # type: ignore[union-attr]
    assert alice_auth.rpc_counts["help.getNearestDc"] == 2
    assert alice_auth.rpc_counts["messages.getHistory"] == 1
    assert "ping" not in alice_auth.rpc_counts


async def test_refused_calls_are_counted(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """A call its handler refuses (here: unauthorised) still reached Telegram and counts."""
    anonymous = await make_client()
    sandbox.rpc_counts.clear()
    with pytest.raises(errors.UnauthorizedError):
        await anonymous(functions.messages.GetHistoryRequest(types.InputPeerSelf(), 0, 0, 0, 5, 0, 0, 0))
    assert sandbox.rpc_counts["messages.getHistory"] == 1
