"""The raw MTProto bridge end to end: invoke_mtproto over MCP and POST /v1/mtproto/{method} (and
/mtproto-api/{method}) over HTTP -> a running gateway -> Telethon -> sandbox.

The sandbox counts every RPC it receives by method name, so "never reached Telegram" is a counter
that stays at 0.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastmcp.exceptions import ToolError

from mcpgram.auth import new_token
from mcpgram.sandbox import SandboxServer

from ..cli.conftest import arun_cli, clean_env
from .conftest import People, Running, serving

pytestmark = pytest.mark.usefixtures(clean_env.__name__)

PATHS = ("/v1/mtproto", "/mtproto-api")
HISTORY = {"offset_id": 0, "add_offset": 0, "limit": 3, "max_id": 0, "min_id": 0, "hash": 0}


async def post(server: Running, path: str, method: str, body: Any, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        return await http.post(f"{path}/{method}", content=content, headers=headers)


async def tool(server: Running, token: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    async with server.client(token) as client:
        result = await client.call_tool("invoke_mtproto", {"method": method, "params": params})
        return json.loads(result.content[0].text)  # type: ignore[union-attr,no-any-return]


async def tool_refusal(server: Running, token: str, method: str, params: dict[str, Any]) -> str:
    with pytest.raises(ToolError) as caught:
        await tool(server, token, method, params)
    return str(caught.value)


async def policy_set(server: Running, token: str, *flags: str) -> None:
    tenant = server.gateway.vault.authenticate(token).tenant_id
    done = await arun_cli(
        "policy", "set", tenant, *flags, "--data-dir", str(server.gateway.settings.data_dir)
    )
    assert done.code == 0, done.err


@pytest.mark.parametrize("path", PATHS)
async def test_the_bridge_refuses_every_token_the_mcp_endpoint_refuses(
    server: Running, sandbox: SandboxServer, path: str
) -> None:
    """No token, a malformed one, a forged well-formed one, a revoked one and a rotated-away one:
    401 with mcpgram's body and challenge, as /v1/mcp answers, and nothing reaches Telegram."""
    vault = server.gateway.vault
    revoked_record, revoked = vault.create_tenant("revoked")
    vault.revoke(revoked_record.tenant_id)
    _, old = vault.create_tenant("rotated")
    vault.rotate(old)
    sandbox.rpc_counts.clear()
    missing = await post(server, path, "users.getFullUser", {"id": "me"}, None)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="mcpgram"'
    assert missing.json()["error"] == "NOT_AUTHENTICATED"
    for token in ("not-a-token", new_token(), revoked, old):
        refused = await post(server, path, "users.getFullUser", {"id": "me"}, token)
        assert refused.status_code == 401, token[:5]
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        assert refused.json()["error"] == "NOT_AUTHENTICATED" and token not in refused.text
    # The body is not even parsed for an unauthenticated caller: junk still gets 401, not 400.
    assert (await post(server, path, "no.suchMethod", b"{junk", new_token())).status_code == 401
    assert sum(sandbox.rpc_counts.values()) == 0


async def test_a_token_reaches_only_its_own_account(server: Running, people: People) -> None:
    """users.getFullUser "me" with Alice's token is Alice, with Carol's is Carol (tool and HTTP)."""
    alice = await post(server, "/v1/mtproto", "users.getFullUser", {"id": "me"}, server.alice)
    assert alice.status_code == 200, alice.text
    answer = alice.json()
    assert answer["method"] == "users.getFullUser" and answer["result"]["_"] == "users.userFull"
    assert [u["first_name"] for u in answer["result"]["users"]] == ["Alice"]
    carol = await tool(server, server.carol, "users.getFullUser", {"id": "me"})
    assert [u["first_name"] for u in carol["result"]["users"]] == ["Carol"]
    assert carol["result"]["full_user"]["id"] == people.carol


async def test_a_read_runs_through_the_tool_and_both_paths(server: Running, people: People) -> None:
    """messages.getHistory by @username: the same three newest messages every way; dates ISO."""
    params = {"peer": "@bob_e2e", **HISTORY}
    by_tool = await tool(server, server.alice, "messages.getHistory", params)
    texts = [m["message"] for m in by_tool["result"]["messages"]]
    assert texts == ["alice-bob 44", "alice-bob 43", "alice-bob 42"]
    assert by_tool["note"]  # third-party text is marked as data
    for path in PATHS:
        answer = (await post(server, path, "messages.GetHistory", params, server.alice)).json()
        assert [m["message"] for m in answer["result"]["messages"]] == texts
        assert answer["result"]["messages"][0]["date"].endswith("+00:00")


async def test_raw_writes_are_denied_by_default_and_allowed_by_the_operator(
    server: Running, sandbox: SandboxServer, people: People
) -> None:
    """The default profile reads but does not write: sendMessage is NOT_ALLOWED (verbs.raw_write)
    and never sent; once the operator allows raw_write it is sent."""
    sandbox.rpc_counts.clear()
    params = {"peer": "@bob_e2e", "message": "raw hello", "random_id": 42}
    assert "verbs.raw_write" in await tool_refusal(server, server.alice, "messages.sendMessage", params)
    refused = await post(server, "/v1/mtproto", "messages.sendMessage", params, server.alice)
    assert refused.status_code == 403 and refused.json()["error"] == "NOT_ALLOWED"
    assert sandbox.rpc_counts["messages.sendMessage"] == 0
    await policy_set(server, server.alice, "--verb", "raw_write=allow")
    sent = await post(server, "/v1/mtproto", "messages.sendMessage", params, server.alice)
    assert sent.status_code == 200, sent.text
    assert sandbox.rpc_counts["messages.sendMessage"] == 1


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("account.deleteAccount", {"reason": "agent says so"}),
        ("auth.resetAuthorizations", {}),
        ("messages.deleteChat", {"chat_id": 1}),
        ("auth.exportAuthorization", {"dc_id": 2}),
    ],
)
async def test_denylisted_methods_never_reach_telegram(
    server: Running, sandbox: SandboxServer, method: str, params: dict[str, Any]
) -> None:
    """With raw_write allowed, a denylisted method is NOT_ALLOWED (raw.denylist) through the tool and
    both paths, and the sandbox never receives it."""
    await policy_set(server, server.alice, "--verb", "raw_write=allow")
    sandbox.rpc_counts.clear()
    assert "raw.denylist" in await tool_refusal(server, server.alice, method, params)
    for path in PATHS:
        refused = await post(server, path, method, params, server.alice)
        assert refused.status_code == 403
        assert refused.json()["error"] == "NOT_ALLOWED" and "denylist" in refused.json()["message"]
    assert sandbox.rpc_counts[method] == 0


def every_denied_method() -> list[str]:
    """Every method of the denylist, the whole payments namespace included, as the schema names them."""
    from mcpgram.policy.rawmethods import DENIED, denied_reason
    from mcpgram.telegram.rawtl import _registry

    names = sorted(name for name in _registry()[0] if denied_reason(name) is not None)
    assert set(DENIED) <= set(names) and any(name.startswith("payments.") for name in names)
    return names


@pytest.fixture
async def unlimited(
    sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any
) -> AsyncIterator[Running]:
    """:func:`server` without the call limit (the bridge counts each call against it)."""
    async with serving(sandbox, tmp_path / "data", vault_for, call_rate=0) as running:
        yield running


async def test_no_denylisted_method_reaches_telegram_whatever_its_params(
    unlimited: Running, sandbox: SandboxServer
) -> None:
    """Every denylisted method (payments.* too), even with raw_write allowed and no parameters, is
    refused by its name over the bridge, and the sandbox receives none of them: `rpc_received` counts
    every RPC that arrives, so this holds for methods the sandbox does not implement as well."""
    await policy_set(unlimited, unlimited.alice, "--verb", "raw_write=allow")
    sandbox.rpc_received.clear()
    names = every_denied_method()
    for name in names:
        refused = await post(unlimited, "/v1/mtproto", name, {}, unlimited.alice)
        assert refused.status_code == 403 and "raw.denylist" in refused.json()["message"], (
            name,
            refused.text,
        )
    assert "raw.denylist" in await tool_refusal(unlimited, unlimited.alice, names[0], {})
    assert not any(sandbox.rpc_received[name] for name in names)
    # The counter is live, for methods the sandbox does not implement too: this one arrives once.
    assert sandbox.rpc_received["langpack.getLanguages"] == 0
    await post(unlimited, "/v1/mtproto", "langpack.getLanguages", {"lang_pack": "tdesktop"}, unlimited.alice)
    assert sandbox.rpc_received["langpack.getLanguages"] == 1


async def test_a_lifted_method_reaches_telegram_for_that_tenant_only(
    server: Running, sandbox: SandboxServer, people: People
) -> None:
    """The operator lifts account.deleteAccount for Carol: her call deletes her sandbox account;
    Alice (not lifted) is still refused, and a tenant cannot lift it for itself."""
    await policy_set(server, server.alice, "--verb", "raw_write=allow")
    await policy_set(server, server.carol, "--verb", "raw_write=allow", "--lift", "account.deleteAccount")
    sandbox.rpc_counts.clear()
    refused = await post(server, "/v1/mtproto", "account.deleteAccount", {"reason": "x"}, server.alice)
    assert refused.status_code == 403
    assert sandbox.rpc_counts["account.deleteAccount"] == 0
    done = await post(server, "/v1/mtproto", "account.deleteAccount", {"reason": "x"}, server.carol)
    assert done.status_code == 200, done.text
    assert done.json()["result"] is True
    assert sandbox.rpc_counts["account.deleteAccount"] == 1
    assert sandbox.world.users[people.carol].deleted and not sandbox.world.users[people.alice].deleted
    tightened = await arun_cli(
        "policy", "tighten", "--token-stdin", "--verb", "raw_write=allow",
        "--data-dir", str(server.gateway.settings.data_dir), stdin=server.alice + "\n",
    )  # fmt: skip
    assert tightened.code == 0  # no loosening: raw_write was already allowed
    lifting = await arun_cli("policy", "set", "tnt_0000000000000000", "--lift", "messages.getHistory")
    assert lifting.code != 0


async def test_telegrams_error_code_and_name_are_kept(server: Running) -> None:
    """A lifted account.resetAuthorization with an unknown hash: Telegram's 400 HASH_INVALID."""
    await policy_set(
        server, server.alice, "--verb", "raw_write=allow", "--lift", "account.resetAuthorization"
    )
    refused = await post(server, "/v1/mtproto", "account.resetAuthorization", {"hash": 12345}, server.alice)
    assert refused.status_code == 400
    body = refused.json()
    assert body["error"] == "TELEGRAM_ERROR" and body["telegram"] == {"code": 400, "error": "HASH_INVALID"}
    message = await tool_refusal(server, server.alice, "account.resetAuthorization", {"hash": 12345})
    assert "HASH_INVALID (400)" in message


async def test_the_read_scope_applies_to_peers_in_the_params(
    server: Running, sandbox: SandboxServer, people: People
) -> None:
    """Read scope @bob_e2e: getHistory of Bob's chat runs; Saved Messages ("me", by reference or as
    inputPeerSelf) is outside; getDialogs names no chat and cannot be checked: refused."""
    await policy_set(server, server.alice, "--read", "@bob_e2e")
    inside = await tool(server, server.alice, "messages.getHistory", {"peer": "@bob_e2e", **HISTORY})
    assert len(inside["result"]["messages"]) == 3
    sandbox.rpc_counts.clear()
    for peer in ("me", {"_": "inputPeerSelf"}):
        message = await tool_refusal(server, server.alice, "messages.getHistory", {"peer": peer, **HISTORY})
        assert "NOT_ALLOWED" in message and "read scope" in message
    dialogs = {
        "offset_date": None,
        "offset_id": 0,
        "offset_peer": {"_": "inputPeerEmpty"},
        "limit": 5,
        "hash": 0,
    }
    refused = await post(server, "/v1/mtproto", "messages.getDialogs", dialogs, server.alice)
    assert refused.status_code == 403 and "rule read" in refused.json()["message"]
    assert sandbox.rpc_counts["messages.getHistory"] == 0 and sandbox.rpc_counts["messages.getDialogs"] == 0


async def test_bad_bodies_are_refused_before_telegram(server: Running, sandbox: SandboxServer) -> None:
    """Over the size cap: 413; not JSON, nested too deep, an unknown field: 400 naming it."""
    sandbox.rpc_counts.clear()
    big = {"peer": "me", "message": "x" * 300_000, "random_id": 1}
    assert (await post(server, "/v1/mtproto", "messages.sendMessage", big, server.alice)).status_code == 413
    junk = await post(server, "/v1/mtproto", "users.getFullUser", b"{not json", server.alice)
    assert junk.status_code == 400 and junk.json()["error"] == "INVALID_ARGUMENT"
    deep = b'{"id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert (await post(server, "/v1/mtproto", "users.getFullUser", deep, server.alice)).status_code in (
        400,
        413,
    )
    nested: dict[str, Any] = {"_": "inputUserSelf"}
    for _ in range(20):
        nested = {"_": "textBold", "text": nested}
    too_deep = await post(server, "/v1/mtproto", "users.getFullUser", {"id": nested}, server.alice)
    assert too_deep.status_code == 400
    unknown = await post(server, "/v1/mtproto", "users.getFullUser", {"id": "me", "idd": 1}, server.alice)
    assert unknown.status_code == 400 and "params.idd" in unknown.json()["message"]
    no_method = await post(server, "/v1/mtproto", "users.getFullUserz", {}, server.alice)
    assert no_method.status_code == 400 and "no such method" in no_method.json()["message"]
    assert sum(sandbox.rpc_counts.values()) == 0


async def test_the_tool_is_listed_only_where_raw_verbs_can_pass(server: Running) -> None:
    """The default profile lists invoke_mtproto; reader does not, and calling it there is unknown."""
    async with server.client(server.alice) as client:
        assert "invoke_mtproto" in {t.name for t in await client.list_tools()}
    await policy_set(server, server.alice, "--profile", "reader")
    async with server.client(server.alice) as client:
        assert "invoke_mtproto" not in {t.name for t in await client.list_tools()}
    message = await tool_refusal(server, server.alice, "users.getFullUser", {"id": "me"})
    assert message == "Unknown tool: 'invoke_mtproto'"
    refused = await post(server, "/v1/mtproto", "users.getFullUser", {"id": "me"}, server.alice)
    assert refused.status_code == 403 and "verbs.raw_read" in refused.json()["message"]


async def test_a_raw_verb_set_to_approve_waits_for_the_person(
    server: Running, sandbox: SandboxServer
) -> None:
    """raw_read=approve keeps the tool listed, but a call (tool or bridge) waits for the person's
    approval (asked in Saved Messages: these clients declare no elicitation), and nothing is read."""
    await policy_set(server, server.alice, "--verb", "raw_read=approve")
    sandbox.rpc_counts.clear()
    message = await tool_refusal(server, server.alice, "users.getFullUser", {"id": "me"})
    assert message.startswith("APPROVAL_PENDING") and "verbs.raw_read" in message
    pending = await post(server, "/v1/mtproto", "users.getFullUser", {"id": "me"}, server.alice)
    assert pending.status_code == 403 and pending.json()["error"] == "APPROVAL_PENDING", pending.text
    assert sandbox.rpc_counts["users.getFullUser"] == 0


async def test_a_lifted_channel_deletion_deletes_only_what_telegram_allows(
    server: Running, sandbox: SandboxServer, people: People
) -> None:
    """The operator lifts channels.deleteChannel for Carol: her call deletes her own channel in the
    sandbox; for Alice (not lifted) it stays refused and never arrives, her channel intact. Lifted,
    the call still meets Telegram's own rule: Carol cannot delete Alice's channel (CHAT_ADMIN_REQUIRED)."""
    world = sandbox.world
    carols = world.add_channel(
        title="Carol's club", creator_id=people.carol, broadcast=False, username="carol_club_e2e"
    )
    alices = world.add_channel(
        title="Alice's club", creator_id=people.alice, broadcast=False, username="alice_club_e2e"
    )
    await policy_set(server, server.alice, "--verb", "raw_write=allow")
    await policy_set(server, server.carol, "--verb", "raw_write=allow", "--lift", "channels.deleteChannel")
    sandbox.rpc_received.clear()
    own = {"channel": "@alice_club_e2e"}
    refused = await post(server, "/v1/mtproto", "channels.deleteChannel", own, server.alice)
    assert refused.status_code == 403 and "raw.denylist" in refused.json()["message"]
    assert "raw.denylist" in await tool_refusal(server, server.alice, "channels.deleteChannel", own)
    assert sandbox.rpc_received["channels.deleteChannel"] == 0 and alices.id in world.channels
    done = await post(
        server, "/v1/mtproto", "channels.deleteChannel", {"channel": "@carol_club_e2e"}, server.carol
    )
    assert done.status_code == 200, done.text
    result = done.json()["result"]
    assert result["_"] == "updates" and [c["_"] for c in result["chats"]] == ["channelForbidden"]
    assert sandbox.rpc_received["channels.deleteChannel"] == 1
    assert carols.id not in world.channels and alices.id in world.channels
    theirs = await post(server, "/v1/mtproto", "channels.deleteChannel", own, server.carol)
    assert theirs.status_code == 400, theirs.text
    assert theirs.json()["telegram"] == {"code": 400, "error": "CHAT_ADMIN_REQUIRED"}
    assert sandbox.rpc_received["channels.deleteChannel"] == 2 and alices.id in world.channels
