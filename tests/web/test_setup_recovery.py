"""Entering /setup/manage by Telegram login when the token is lost (``web/setup/recovery.py``).

Real path: httpx -> the HTTP app -> web/setup -> Telethon -> sandbox, with MCP calls, a signed
attachment link and an OAuth refresh token of the tenant, all made before the re-key and tried after.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mcpgram.app import build_gateway, http_app
from mcpgram.errors import NotAuthenticated
from mcpgram.sandbox import SandboxServer, World
from mcpgram.testing import sandbox_telegram_config
from mcpgram.web.links import AttachmentLinks
from mcpgram.web.oauthclients import client_document
from mcpgram.web.setup import SetupService, SetupStore, recovery
from tests.e2e.conftest import settings_for
from tests.web.test_setup import CODE, CSRF_RE, DOWNLOAD_RE, PHONE, TOKEN_RE, accept_qr, post

OTHER_PHONE, NOBODY_PHONE = "9996610011", "9996610012"
BASE = "http://127.0.0.1:8000"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18"}
OAUTH_CLIENT, REDIRECT = "https://agent.example/client.json", "https://agent.example/cb"


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    world = World()
    world.add_user(first_name="Ada", phone=PHONE)
    world.add_user(first_name="Bo", phone=OTHER_PHONE)
    world.add_user(first_name="Nobody", phone=NOBODY_PHONE)
    async with SandboxServer(world) as server:
        yield server


@pytest.fixture
async def site(sandbox: SandboxServer, tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    settings = settings_for(sandbox, tmp_path / "data", signup="open", oauth=True, public_url=BASE)
    gateway = build_gateway(settings, transport="http", telegram=sandbox_telegram_config(sandbox))
    async with gateway:
        app = http_app(gateway)
        transport = httpx2.ASGITransport(app, raise_app_exceptions=False)
        async with httpx2.AsyncClient(transport=transport, base_url=BASE) as client:
            client.gateway = gateway  # type: ignore[attr-defined]
            client.app = app  # type: ignore[attr-defined]
            yield client


async def sign_up(site: httpx2.AsyncClient, phone: str = PHONE, *, fresh: bool = True) -> tuple[str, str]:
    """A new tenant through /setup as ``phone``: ``(token, tenant id)``; this browser is signed in."""
    if fresh:
        site.cookies.clear()
    await post(site, "phone", phone=phone)
    await post(site, "code", code=CODE)
    match = TOKEN_RE.search((await site.get("/setup")).text)
    assert match is not None
    return match.group(1), site.gateway.vault.authenticate(match.group(1)).tenant_id  # type: ignore[attr-defined]


async def start_recovery(site: httpx2.AsyncClient) -> httpx2.Response:
    """A browser with no session: the manage page's "I lost my token" button."""
    site.cookies.clear()
    page = await site.get("/setup/manage")
    assert "I lost my token" in page.text
    csrf = CSRF_RE.search(page.text)
    assert csrf is not None
    started = await site.post("/setup/manage/recover", data={"csrf": csrf.group(1)})
    assert started.status_code == 303 and started.headers["location"] == "/setup"
    return await site.get("/setup")


async def recover_by_phone(site: httpx2.AsyncClient, phone: str = PHONE) -> str:
    """Recovery up to the choice page; returns its text."""
    first = await start_recovery(site)
    assert "re-keys your access" in first.text and "Invitation code" not in first.text
    assert (await post(site, "phone", phone=phone)).status_code == 303
    assert (await post(site, "code", code=CODE)).status_code == 303
    return (await site.get("/setup")).text


async def mcp_call(site: httpx2.AsyncClient, token: str, tool: str, arguments: dict[str, Any]) -> Any:
    """initialize + tools/call over the streamable HTTP endpoint; the status code on a refusal."""
    auth = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    hello = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello}
    opened = await site.post("/v1/mcp", json=init, headers=auth)
    if opened.status_code != 200:
        return opened.status_code
    session = {**auth, "mcp-session-id": opened.headers["mcp-session-id"]}
    await site.post(
        "/v1/mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=session
    )
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    answer = await site.post("/v1/mcp", json=call, headers=session)
    if answer.headers["content-type"].startswith("application/json"):
        return answer.json()["result"]
    data = next(line[5:] for line in answer.text.splitlines() if line.startswith("data:"))
    return json.loads(data)["result"]


async def refresh_token_for(site: httpx2.AsyncClient, token: str) -> tuple[Any, str]:
    """An OAuth consent of the tenant, exchanged for tokens: ``(client, refresh token)``."""
    gateway = site.gateway  # type: ignore[attr-defined]
    provider = gateway.oauth.provider
    keys = gateway.vault.unlock_with_token(token)
    provider.store.put_client(OAUTH_CLIENT, client_document(OAUTH_CLIENT, json.dumps(
        {"client_id": OAUTH_CLIENT, "client_name": "Agent", "redirect_uris": [REDIRECT]}).encode()),
        source="cimd", now=int(provider.now()))  # fmt: skip
    client = await provider.get_client(OAUTH_CLIENT)
    params = {"state": "s", "scopes": None, "code_challenge": "c" * 43, "redirect_uri": REDIRECT,
              "redirect_uri_provided_explicitly": True, "resource": provider.resource()}  # fmt: skip
    code = provider.issue_code(OAUTH_CLIENT, params, keys)
    issued = await provider.exchange_authorization_code(
        client, await provider.load_authorization_code(client, code)
    )
    assert await provider.load_refresh_token(client, issued.refresh_token) is not None
    return client, issued.refresh_token


def choices(text: str) -> list[str]:
    return re.findall(r'name="tenant" value="(tnt_[0-9a-f]+)"', text)


async def test_recovery_rekeys_the_tenant_and_kills_everything_made_with_the_old_token(
    site: httpx2.AsyncClient, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with site.app.router.lifespan_context(site.app):  # type: ignore[attr-defined]  # MCP sessions
        await recover_and_check(site, sandbox, caplog)


async def recover_and_check(
    site: httpx2.AsyncClient, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = site.gateway  # type: ignore[attr-defined]
    vault = gateway.vault
    old_token, tenant_id = await sign_up(site)
    assert (await mcp_call(site, old_token, "find_chats", {}))["isError"] is False  # pool client cached
    assert "Policy tightened" in (await post(site, "manage/tighten", deny="download")).text
    gateway.journal.record(tenant_id, "send_message", -100123456, "ok", b"text", kind="write")
    links = AttachmentLinks(gateway.attachments.keyring, vault, 600, BASE)
    link = links.url(vault.unlock_with_token(old_token), old_token, (1, 2, 3), "full")
    assert (await site.get(link)).status_code == 403  # the link is live; the policy refuses downloads
    client, refresh = await refresh_token_for(site, old_token)
    before = vault.get_tenant(tenant_id)

    page = await recover_by_phone(site)
    assert choices(page) == [tenant_id] and "re-keyed" in page
    assert (await post(site, "rekey", tenant=tenant_id)).status_code == 303
    done = await site.get("/setup")
    match = TOKEN_RE.search(done.text)
    assert (
        match is not None
        and "old token no longer works" in done.text
        and "Settings &gt; Devices" in done.text
    )
    new_token = match.group(1)
    nonce, form_csrf = DOWNLOAD_RE.search(done.text), CSRF_RE.search(done.text)  # from that page only
    assert nonce is not None and form_csrf is not None
    config = await post(
        site, "config", client="cursor", variant="header", download=nonce.group(1), csrf=form_csrf.group(1)
    )
    assert f"Bearer {new_token}" in config.text
    assert new_token not in (await site.get("/setup")).text  # shown once

    after = vault.get_tenant(tenant_id)
    assert after.status == "active" and after.created == before.created
    assert after.key_version == before.key_version + 1
    with pytest.raises(NotAuthenticated):
        vault.authenticate(old_token)
    assert await mcp_call(site, old_token, "find_chats", {}) == 401
    assert (await mcp_call(site, new_token, "find_chats", {}))["isError"] is False  # the new session works
    assert (await site.get(link)).status_code == 404  # the old generation's link is dead
    assert await gateway.oauth.provider.load_refresh_token(client, refresh) is None
    assert [r.tenant_id for r in vault.list_tenants()] == [tenant_id]  # the temporary tenant is gone
    manage = (await site.get("/setup/manage")).text  # this browser is signed in with the new token
    assert f"Tenant <code>{tenant_id}</code>" in manage
    assert "<tr><td>download</td><td>deny</td></tr>" in manage  # the policy stayed
    assert "-100123456" in manage  # and the journal
    ada = next(u for u in sandbox.world.users.values() if u.phone == PHONE)
    assert len([a for a in sandbox.auth_keys.values() if getattr(a, "user_id", None) == ada.id]) == 2
    logs = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    for secret in (old_token, new_token, PHONE, f"'{CODE}'"):
        assert secret not in logs


async def test_an_account_without_a_tenant_is_refused_and_logged_out(
    site: httpx2.AsyncClient, sandbox: SandboxServer
) -> None:
    page = await recover_by_phone(site, NOBODY_PHONE)
    assert "No mcpgram access on this server belongs to that Telegram account" in page
    assert 'id="signup-instead"' in page
    assert site.gateway.vault.list_tenants() == []  # type: ignore[attr-defined]
    nobody = next(u for u in sandbox.world.users.values() if u.phone == NOBODY_PHONE)
    assert [a for a in sandbox.auth_keys.values() if getattr(a, "user_id", None) == nobody.id] == []


async def test_a_revoked_tenant_is_not_recoverable(site: httpx2.AsyncClient) -> None:
    await sign_up(site)
    assert (await post(site, "manage/logout")).status_code == 303
    page = await recover_by_phone(site)
    assert "No mcpgram access" in page and not choices(page)


async def test_two_tenants_of_one_account_are_offered_and_the_chosen_one_is_rekeyed(
    site: httpx2.AsyncClient,
) -> None:
    vault = site.gateway.vault  # type: ignore[attr-defined]
    first_token, first = await sign_up(site)
    second_token, second = await sign_up(site)
    page = await recover_by_phone(site)
    assert sorted(choices(page)) == sorted([first, second]) and "created 20" in page
    csrf = CSRF_RE.search(page)
    assert csrf is not None
    form = {"csrf": csrf.group(1), "tenant": second}
    assert (await site.post("/setup/rekey", data=form)).status_code == 303
    assert TOKEN_RE.search((await site.get("/setup")).text)
    assert (await site.post("/setup/rekey", data=form)).status_code == 400  # sent twice: no second re-key
    assert vault.authenticate(first_token).tenant_id == first  # the other one is untouched
    with pytest.raises(NotAuthenticated):
        vault.authenticate(second_token)


async def test_another_accounts_tenant_cannot_be_picked_by_tampering(
    site: httpx2.AsyncClient, sandbox: SandboxServer
) -> None:
    vault = site.gateway.vault  # type: ignore[attr-defined]
    ada_token, ada_tenant = await sign_up(site)
    _, bo_tenant = await sign_up(site, OTHER_PHONE)
    page = await recover_by_phone(site, OTHER_PHONE)
    assert choices(page) == [bo_tenant] and ada_tenant not in page
    refused = await post(site, "rekey", tenant=ada_tenant)
    assert refused.status_code == 400
    assert vault.authenticate(ada_token).tenant_id == ada_tenant  # nothing changed
    assert len(vault.list_tenants()) == 3  # two tenants and the temporary one, still at the choice
    cancel = await post(site, "restart")
    assert cancel.status_code == 303 and len(vault.list_tenants()) == 2  # cancelling drops it
    bo = next(u for u in sandbox.world.users.values() if u.phone == OTHER_PHONE)
    assert len([a for a in sandbox.auth_keys.values() if getattr(a, "user_id", None) == bo.id]) == 1
    assert (await post(site, "rekey", tenant=bo_tenant)).status_code == 400  # no longer at the choice


async def test_recovery_forms_need_the_csrf_token(site: httpx2.AsyncClient) -> None:
    await sign_up(site)
    site.cookies.clear()
    await site.get("/setup/manage")
    assert (await site.post("/setup/manage/recover", data={})).status_code == 403
    assert (await site.post("/setup/manage/recover", data={"csrf": "forged"})).status_code == 403
    await recover_by_phone(site)
    assert (await site.post("/setup/rekey", data={"csrf": "forged", "tenant": "tnt_x"})).status_code == 403
    assert (await site.post("/setup/rekey", data={"tenant": "tnt_x"})).status_code == 403


async def test_recoveries_are_rate_limited_like_sign_ups(site: httpx2.AsyncClient) -> None:
    await sign_up(site)
    await start_recovery(site)
    await post(site, "phone", phone=PHONE)
    codes = [(await post(site, "code", code="99999")).status_code for _ in range(6)]
    assert codes == [303] * 4 + [429] * 2  # the sign-up's code counted: one budget per phone number
    assert (await post(site, "code", code=CODE)).status_code == 429
    statuses = []
    for _ in range(10):
        await start_recovery(site)
        statuses.append((await post(site, "qr")).status_code)
    assert statuses == [303] * 9 + [429]  # ten recoveries per address and window, the first included


async def test_recovery_by_qr(site: httpx2.AsyncClient, sandbox: SandboxServer) -> None:
    _, tenant_id = await sign_up(site)
    await start_recovery(site)
    await post(site, "qr")
    page = (await site.get("/setup")).text
    url = re.search(r'id="qr-link" href="([^"]+)"', page)
    assert url is not None
    await accept_qr(sandbox, url.group(1).replace("&amp;", "&"), PHONE)
    await post(site, "qrpoll")
    assert choices((await site.get("/setup")).text) == [tenant_id]


async def test_the_token_page_names_the_oauth_client_it_continues_to(site: httpx2.AsyncClient) -> None:
    """Not recovery, but the same token page: "Continue" names the registered client (escaped)."""
    provider = site.gateway.oauth.provider  # type: ignore[attr-defined]
    document = {"client_id": OAUTH_CLIENT, "client_name": "<b>Agent</b> Smith", "redirect_uris": [REDIRECT]}
    metadata = client_document(OAUTH_CLIENT, json.dumps(document).encode())
    provider.store.put_client(OAUTH_CLIENT, metadata, source="cimd", now=int(provider.now()))
    provider.store.put_request("req-1", OAUTH_CLIENT, {}, int(provider.now()) + 600)
    await site.get("/setup?next=%2Foauth%2Fconsent%3Frequest%3Dreq-1")
    await sign_up(site, fresh=False)
    done = (await site.get("/setup")).text
    assert "Continue to authorize &lt;b&gt;Agent&lt;/b&gt; Smith" in done and "<b>Agent" not in done
    site.cookies.clear()
    await site.get("/setup?next=%2Foauth%2Fconsent%3Frequest%3Dunknown")
    await sign_up(site, OTHER_PHONE, fresh=False)
    assert "Continue to the app's authorization" in (await site.get("/setup")).text


async def test_starting_over_ends_the_previous_recovery_of_the_browser(
    site: httpx2.AsyncClient, sandbox: SandboxServer
) -> None:
    vault = site.gateway.vault  # type: ignore[attr-defined]
    _, tenant_id = await sign_up(site)
    await recover_by_phone(site)  # left at the choice: logged in, with its temporary tenant
    assert len(vault.list_tenants()) == 2
    page = await site.get("/setup/manage")
    csrf = CSRF_RE.search(page.text)
    assert csrf is not None
    assert (await site.post("/setup/manage/recover", data={"csrf": csrf.group(1)})).status_code == 303
    assert [r.tenant_id for r in vault.list_tenants()] == [tenant_id]
    ada = next(u for u in sandbox.world.users.values() if u.phone == PHONE)
    assert len([a for a in sandbox.auth_keys.values() if getattr(a, "user_id", None) == ada.id]) == 1
    assert "re-keys your access" in (await site.get("/setup")).text


async def test_a_choice_sent_twice_at_once_rekeys_once(site: httpx2.AsyncClient, tmp_path: Path) -> None:
    """Two tabs posting the same choice: the second one finds the temporary tenant used up."""
    vault = site.gateway.vault  # type: ignore[attr-defined]
    _, tenant_id = await sign_up(site)
    await recover_by_phone(site)
    store = SetupStore(tmp_path / "data" / "signin.db")
    try:
        stale = store.load_flow(site.cookies["mcpgram-setup"])  # the second tab's copy, read before
        assert stale is not None and stale["state"]["kind"] == "choose"
        assert (await post(site, "rekey", tenant=tenant_id)).status_code == 303
        version = vault.get_tenant(tenant_id).key_version
        assert recovery.rekey(SetupService(vault, None, store), stale, tenant_id) is False  # type: ignore[arg-type]
        assert vault.get_tenant(tenant_id).key_version == version
    finally:
        store.close()
