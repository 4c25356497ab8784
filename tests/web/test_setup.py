"""/setup over HTTP against the sandbox: the phone and 2FA flows, and a hostile table.

Real path: httpx -> the HTTP app -> web/setup -> Telethon -> sandbox; the tenant's session ends up
in the vault under the new token's keys.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from mcpgram.app import build_gateway, http_app
from mcpgram.errors import NotAuthenticated
from mcpgram.sandbox import SandboxServer, World
from mcpgram.sandbox.phone import Endpoint, accept, login_token
from mcpgram.sandbox.srp import make_password_record
from mcpgram.testing import sandbox_telegram_config
from mcpgram.web.setup import SetupStore
from tests.e2e.conftest import settings_for

PHONE, CODE = "9996610001", "11111"
PW_PHONE, PASSWORD, HINT = "9996610002", "lighthouse-keeper", "<b>where</b>"
EVIL_PHONE, EVIL_NAME = "9996610004", "<script>alert(2)</script>"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
DOWNLOAD_RE = re.compile(r'name="download" value="([^"]+)"')
TOKEN_RE = re.compile(r'id="token" type="text" readonly value="(mcpg_[^"]+)"')


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    world = World()
    world.add_user(first_name="Ada", phone=PHONE)
    world.add_user(first_name="Sam", phone=PW_PHONE, password=make_password_record(PASSWORD, HINT))
    world.add_user(first_name=EVIL_NAME, phone=EVIL_PHONE)
    async with SandboxServer(world) as server:
        yield server


@pytest.fixture
async def site(
    sandbox: SandboxServer, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[httpx2.AsyncClient]:
    signup = getattr(request, "param", "open")
    settings = settings_for(sandbox, tmp_path / "data", signup=signup)
    gateway = build_gateway(settings, transport="http", telegram=sandbox_telegram_config(sandbox))
    async with gateway:
        app = http_app(gateway)
        transport = httpx2.ASGITransport(app, raise_app_exceptions=False)
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            client.gateway = gateway  # type: ignore[attr-defined]
            yield client


async def csrf(client: httpx2.AsyncClient) -> str:
    page = await client.get("/setup")
    assert page.status_code == 200, page.text
    match = CSRF_RE.search(page.text)
    if match is None:  # a finished flow's page has no form left; the manage page has
        page = await client.get("/setup/manage")
        match = CSRF_RE.search(page.text)
    assert match is not None, page.text
    return match.group(1)


async def post(http: httpx2.AsyncClient, action: str, /, **fields: str) -> httpx2.Response:
    if "csrf" not in fields:  # (setdefault would fetch a page, and a page view can change the flow)
        fields["csrf"] = await csrf(http)
    return await http.post(f"/setup/{action}", data=fields)


async def test_phone_flow_creates_a_logged_in_tenant_and_shows_the_token_once(
    site: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = await site.get("/setup")
    assert "default-src 'none'" in first.headers["content-security-policy"]
    assert "script-src 'self'" in first.headers["content-security-policy"]
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert (await post(site, "phone", phone="+" + PHONE)).status_code == 303
    code_page = await site.get("/setup")
    assert "Enter the login code" in code_page.text and PHONE not in code_page.text
    assert (await post(site, "code", code=CODE)).status_code == 303
    done = await site.get("/setup")
    match = TOKEN_RE.search(done.text)
    assert match is not None, done.text
    token = match.group(1)
    # The token page's own forms (another GET of /setup would end the download window).
    forms = {"csrf": CSRF_RE.search(done.text).group(1), "download": DOWNLOAD_RE.search(done.text).group(1)}  # type: ignore[union-attr]
    config = await post(site, "config", client="cursor", variant="header", **forms)
    assert config.status_code == 200 and f"Bearer {token}" in config.text
    assert "attachment" in config.headers["content-disposition"]
    url_config = await post(site, "config", client="claude-code", variant="url", **forms)
    assert f"/v1/url_auth/{token}/mcp" in url_config.text
    assert (await site.get("/setup/config")).status_code in (404, 405)
    again = await site.get("/setup")
    assert token not in again.text and "not shown again" in again.text
    vault = site.gateway.vault  # type: ignore[attr-defined]
    record = vault.authenticate(token)
    assert record.status == "active"
    logs = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert token not in logs and PHONE not in logs and f"'{CODE}'" not in logs


async def test_two_step_flow_shows_the_hint_escaped(
    site: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await post(site, "phone", phone=PW_PHONE)
    await post(site, "code", code=CODE)
    page = await site.get("/setup")
    assert "Two-step verification" in page.text
    assert "&lt;b&gt;where&lt;/b&gt;" in page.text and "<b>where" not in page.text
    await post(site, "password", password="wrong")
    assert "That password is not right" in (await site.get("/setup")).text
    await post(site, "password", password=PASSWORD)
    assert TOKEN_RE.search((await site.get("/setup")).text)
    logs = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert PASSWORD not in logs


async def test_missing_and_forged_csrf_are_refused(site: httpx2.AsyncClient) -> None:
    await csrf(site)
    assert (await site.post("/setup/phone", data={"phone": PHONE})).status_code == 403
    forged = await site.post("/setup/phone", data={"phone": PHONE, "csrf": "x" * 43})
    assert forged.status_code == 403 and "Traceback" not in forged.text
    # No cookie at all (a cross-site form): refused even with a real token from another flow.
    token = await csrf(site)
    site.cookies.clear()
    assert (await site.post("/setup/phone", data={"phone": PHONE, "csrf": token})).status_code == 403


async def test_replayed_and_expired_flow_ids_are_refused(site: httpx2.AsyncClient) -> None:
    token = await csrf(site)
    cookie = dict(site.cookies)
    store: SetupStore = site.gateway.closers[0].__self__  # type: ignore[attr-defined]
    store.clock = lambda: 10**12  # far past every timeout
    assert (await site.post("/setup/phone", data={"phone": PHONE, "csrf": token})).status_code == 403
    site.cookies.clear()
    site.cookies.update(cookie)
    assert (await site.post("/setup/phone", data={"phone": PHONE, "csrf": token})).status_code == 403


async def test_brute_forced_codes_are_rate_limited(site: httpx2.AsyncClient) -> None:
    await post(site, "phone", phone=PHONE)
    answers = [await post(site, "code", code="99999") for _ in range(7)]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [303] * 5 and statuses[5] == 429, statuses
    assert int(answers[5].headers["retry-after"]) > 0
    # Even the right code waits now.
    assert (await post(site, "code", code=CODE)).status_code == 429


async def test_brute_forced_passwords_are_rate_limited(site: httpx2.AsyncClient) -> None:
    await post(site, "phone", phone=PW_PHONE)
    await post(site, "code", code=CODE)
    statuses = [(await post(site, "password", password=f"guess{i}")).status_code for i in range(6)]
    assert statuses[-1] == 429 and 303 in statuses


# Markup where values are shown back (account name, 2FA hint, next): test_setup_hostile.py;
# a client's name on the consent page: tests/e2e/test_oauth.py::test_consent_page.


@pytest.mark.parametrize("site", ["closed"], indirect=True)
async def test_closed_signup_creates_no_tenant(site: httpx2.AsyncClient) -> None:
    page = await site.get("/setup")
    assert "Sign-up is closed" in page.text and "<form" not in page.text
    store: SetupStore = site.gateway.closers[0].__self__  # type: ignore[attr-defined]
    flow = store.load_flow(site.cookies["mcpgram-setup"])
    assert flow is not None
    await site.post("/setup/phone", data={"phone": PHONE, "csrf": flow["csrf"]})
    assert "Sign-up is closed" in (await site.get("/setup")).text
    assert site.gateway.vault.list_tenants() == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("site", ["invite"], indirect=True)
async def test_invites_are_single_use(site: httpx2.AsyncClient) -> None:
    store: SetupStore = site.gateway.closers[0].__self__  # type: ignore[attr-defined]
    await post(site, "phone", phone=PHONE, invite="made-up")
    assert "invitation code is not valid" in (await site.get("/setup")).text
    code = store.create_invite(valid_seconds=60)
    assert len(code) >= 22
    await post(site, "phone", phone=PHONE, invite=code)
    assert "Enter the login code" in (await site.get("/setup")).text
    site.cookies.clear()
    await post(site, "phone", phone=PHONE, invite=code)
    assert "invitation code is not valid" in (await site.get("/setup")).text
    assert len(site.gateway.vault.list_tenants()) == 1  # type: ignore[attr-defined]


QR_LINK_RE = re.compile(r'id="qr-link" href="(tg://login\?token=[^"]+)"')


async def accept_qr(sandbox: SandboxServer, url: str, phone: str, password: str | None = None) -> None:
    """Play the phone: the same code path as ``mcpgram sandbox accept-qr``."""
    endpoint = Endpoint(sandbox.dc_id, sandbox.host, sandbox.port)
    status = await accept(
        endpoint,
        sandbox.public_key_pem,
        login_token(url),
        phone=phone,
        code=CODE,
        password=password,
        out=io.StringIO(),
    )
    assert status == 0


async def test_qr_flow_moves_on_when_the_phone_accepts(
    site: httpx2.AsyncClient, sandbox: SandboxServer
) -> None:
    assert (await post(site, "qr")).status_code == 303
    page = await site.get("/setup")
    assert "<svg" in page.text and 'data-poll="3000"' in page.text
    match = QR_LINK_RE.search(page.text)
    assert match is not None, page.text
    url = match.group(1).replace("&amp;", "&")
    await post(site, "qrpoll")
    assert QR_LINK_RE.search((await site.get("/setup")).text).group(1) == match.group(1)  # type: ignore[union-attr]
    await accept_qr(sandbox, url, PHONE)
    await post(site, "qrpoll")
    done = await site.get("/setup")
    token = TOKEN_RE.search(done.text)
    assert token is not None, done.text
    assert site.gateway.vault.authenticate(token.group(1)).status == "active"  # type: ignore[attr-defined]


async def test_qr_flow_asks_for_the_password_of_a_two_step_account(
    site: httpx2.AsyncClient, sandbox: SandboxServer
) -> None:
    await post(site, "qr")
    url = QR_LINK_RE.search((await site.get("/setup")).text).group(1)  # type: ignore[union-attr]
    await accept_qr(sandbox, url, PW_PHONE, PASSWORD)
    await post(site, "qrpoll")
    assert "Two-step verification" in (await site.get("/setup")).text
    await post(site, "password", password=PASSWORD)
    assert TOKEN_RE.search((await site.get("/setup")).text)


async def sign_up(site: httpx2.AsyncClient) -> str:
    """Finish the phone flow; returns the token (this client is then signed in)."""
    await post(site, "phone", phone=PHONE)
    await post(site, "code", code=CODE)
    match = TOKEN_RE.search((await site.get("/setup")).text)
    assert match is not None
    return match.group(1)


async def test_manage_rotates_the_token_once_shown(site: httpx2.AsyncClient) -> None:
    token = await sign_up(site)
    page = await site.get("/setup/manage")
    assert "Rotate the token" in page.text and "default policy" in page.text
    answer = await post(site, "manage/rotate")
    new = re.search(r'id="new-token" type="text" readonly value="(mcpg_[^"]+)"', answer.text)
    assert new is not None and new.group(1) != token
    vault = site.gateway.vault  # type: ignore[attr-defined]
    with pytest.raises(NotAuthenticated):
        vault.authenticate(token)
    assert vault.authenticate(new.group(1)).status == "active"
    assert new.group(1) not in (await site.get("/setup/manage")).text


async def test_manage_needs_a_valid_token_to_sign_in(site: httpx2.AsyncClient) -> None:
    token = await sign_up(site)
    site.cookies.clear()
    assert "Sign in with your bearer token" in (await site.get("/setup/manage")).text
    assert (await post(site, "manage/rotate")).status_code == 403
    wrong = await post(site, "manage/signin", token="mcpg_" + "A" * 43)
    assert "not valid" in wrong.text
    assert (await post(site, "manage/signin", token=token)).status_code == 303
    assert "Rotate the token" in (await site.get("/setup/manage")).text


async def test_log_out_everywhere_revokes_and_logs_telegram_out(
    site: httpx2.AsyncClient, sandbox: SandboxServer
) -> None:
    token = await sign_up(site)
    vault = site.gateway.vault  # type: ignore[attr-defined]
    tenant_id = vault.authenticate(token).tenant_id
    user = next(u for u in sandbox.world.users.values() if u.phone == PHONE)
    before = [a for a in sandbox.auth_keys.values() if getattr(a, "user_id", None) == user.id]
    assert before
    assert (await post(site, "manage/logout")).status_code == 303
    assert vault.get_tenant(tenant_id).status == "revoked"
    with pytest.raises(NotAuthenticated):
        vault.authenticate(token)
    after = [a for a in sandbox.auth_keys.values() if getattr(a, "user_id", None) == user.id]
    assert after == []
    assert "Sign in with your bearer token" in (await site.get("/setup/manage")).text


async def test_an_account_name_with_markup_is_escaped(site: httpx2.AsyncClient) -> None:
    await post(site, "phone", phone=EVIL_PHONE)
    await post(site, "code", code=CODE)
    page = await site.get("/setup")
    assert TOKEN_RE.search(page.text) and "<script>alert(2)" not in page.text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page.text


async def test_one_address_creates_only_so_many_tenants(site: httpx2.AsyncClient) -> None:
    await post(site, "phone", phone="12")  # not a number: refused before any tenant exists
    assert "not a valid phone number" in (await site.get("/setup")).text
    assert site.gateway.vault.list_tenants() == []  # type: ignore[attr-defined]
    statuses = []
    for _ in range(11):
        site.cookies.clear()
        statuses.append((await post(site, "qr")).status_code)
    assert statuses == [303] * 10 + [429]
    assert len(site.gateway.vault.list_tenants()) == 10  # type: ignore[attr-defined]


async def test_relogin_after_telegram_revoked_takes_the_same_account_only(
    site: httpx2.AsyncClient, sandbox: SandboxServer
) -> None:
    token = await sign_up(site)
    vault = site.gateway.vault  # type: ignore[attr-defined]
    tenant_id = vault.authenticate(token).tenant_id
    user = next(u for u in sandbox.world.users.values() if u.phone == PHONE)
    assert sandbox.revoke(user.id) >= 1
    vault.set_status(tenant_id, "login_required")  # what the pool does on Telegram's 401
    page = await site.get("/setup/manage")
    assert "Log in to Telegram again" in page.text
    assert (await post(site, "manage/relogin")).status_code == 303
    await post(site, "phone", phone=EVIL_PHONE)
    await post(site, "code", code=CODE)
    refused = await site.get("/setup")
    assert "different Telegram account" in refused.text
    assert vault.get_tenant(tenant_id).status == "login_required"
    await post(site, "phone", phone=PHONE)
    await post(site, "code", code=CODE)
    done = await site.get("/setup")
    assert "Signed in" in done.text and token not in done.text
    assert vault.get_tenant(tenant_id).status == "active"
    assert vault.authenticate(token).tenant_id == tenant_id
