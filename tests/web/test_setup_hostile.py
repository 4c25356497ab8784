"""/setup hostile table, second part: cookies under TLS, CSRF with a Lax session cookie, per-IP limits
behind a trusted proxy, the per-IP code and password limits, and markup shown back escaped.

Real path: httpx -> the HTTP app (over real TLS for the cookie test) -> web/setup -> Telethon -> sandbox.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote

import httpx2
import pytest

from mcpgram.app import build_gateway, http_app
from mcpgram.sandbox import SandboxServer, World
from mcpgram.sandbox.srp import make_password_record
from mcpgram.testing import sandbox_telegram_config
from mcpgram.web.oauth import CONSENT_PATH
from tests.e2e.conftest import self_signed, settings_for
from tests.web.conftest import serving
from tests.web.test_setup import CODE, CSRF_RE, TOKEN_RE, csrf, post

# The sandbox's login code is a phone's sixth digit five times: CODE ("11111") for all of these.
PHONES = [f"99966130{i:02d}" for i in range(5)]
PW_PHONES = [f"99966131{i:02d}" for i in range(5)]
PASSWORD = "correct horse"
EVIL = '"><script>alert(1)</script>'


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    world = World()
    for i, phone in enumerate(PHONES):
        world.add_user(first_name=f"Code{i}", last_name=EVIL, phone=phone)
    for i, phone in enumerate(PW_PHONES):
        world.add_user(first_name=f"Pw{i}", phone=phone, password=make_password_record(PASSWORD, EVIL))
    async with SandboxServer(world) as server:
        yield server


@pytest.fixture
async def site(
    sandbox: SandboxServer, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[httpx2.AsyncClient]:
    overrides = getattr(request, "param", {})
    settings = settings_for(sandbox, tmp_path / "data", signup="open", **overrides)
    gateway = build_gateway(settings, transport="http", telegram=sandbox_telegram_config(sandbox))
    async with gateway:
        transport = httpx2.ASGITransport(http_app(gateway), raise_app_exceptions=False)
        async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            client.gateway = gateway  # type: ignore[attr-defined]
            yield client


def set_cookies(response: httpx2.Response) -> dict[str, dict[str, str]]:
    """Each Set-Cookie of ``response``: name -> its attributes (lower-case keys, "" for flags)."""
    found: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        attributes = {"value": rest.split(";")[0]}
        for part in rest.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            attributes[key.lower()] = value
        found[name] = attributes
        assert SimpleCookie(header)  # well-formed
    return found


def assert_host_cookie(attributes: dict[str, str], samesite: str) -> None:
    assert "secure" in attributes and "httponly" in attributes, attributes
    assert attributes["path"] == "/" and "domain" not in attributes, attributes
    assert attributes["samesite"].lower() == samesite, attributes


async def test_cookies_under_tls_are_host_prefixed_and_secure(sandbox: SandboxServer, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    settings = settings_for(
        sandbox, tmp_path / "data", transport="http", port=0, tls_cert=cert, tls_key=key, signup="open"
    )
    gateway = build_gateway(settings, transport="http")
    context = ssl.create_default_context(cafile=str(cert))
    async with (
        serving(gateway) as port,
        httpx2.AsyncClient(verify=context, base_url=f"https://127.0.0.1:{port}") as http,
    ):
        first = await http.get("/setup")
        cookies = set_cookies(first)
        assert list(cookies) == ["__Host-mcpgram-setup"]
        assert_host_cookie(cookies["__Host-mcpgram-setup"], "strict")
        await post(http, "phone", phone=PHONES[0])
        await post(http, "code", code=CODE)
        done = await http.get("/setup")
        assert TOKEN_RE.search(done.text)
        cookies = set_cookies(done)
        assert set(cookies) == {"__Host-mcpgram-setup", "__Host-mcpgram-session"}
        assert_host_cookie(cookies["__Host-mcpgram-setup"], "strict")
        # Lax: sent on the top-level GET another site's OAuth client starts; never on its POSTs.
        assert_host_cookie(cookies["__Host-mcpgram-session"], "lax")
        assert len(cookies["__Host-mcpgram-session"]["value"]) >= 43  # 256 random bits
        assert "Rotate the token" in (await http.get("/setup/manage")).text
        out = await post(http, "manage/signout")
        ended = set_cookies(out)["__Host-mcpgram-session"]
        assert_host_cookie(ended, "lax")  # a browser ignores a __Host- deletion without these
        assert ended["max-age"] == "0" and ended["value"] in ("", '""')


async def test_a_signed_in_browser_still_needs_csrf_for_every_change(site: httpx2.AsyncClient) -> None:
    """The session cookie is Lax; a cross-site page could send a signed-in browser to a GET, and
    changes are POSTs that each need the flow's CSRF token: none changes anything without it."""
    await post(site, "phone", phone=PHONES[0])
    await post(site, "code", code=CODE)
    token = TOKEN_RE.search((await site.get("/setup")).text).group(1)  # type: ignore[union-attr]
    vault = site.gateway.vault  # type: ignore[attr-defined]
    tenant = vault.authenticate(token).tenant_id
    real = await csrf(site)
    session = {name: value for name, value in site.cookies.items() if name == "mcpgram-session"}
    assert session
    # The real token with its first character changed (its last is "A" one time in 16: a forgery
    # ending in "A" was once the real token, and CI failed on it).
    forged = ("B" if real[0] != "B" else "C") + real[1:]
    actions = ["rotate", "logout", "signout", "relogin", "tighten", "signin"]
    for action in actions:
        for form in ({}, {"csrf": ""}, {"csrf": "x" * 43}, {"csrf": forged}):
            answer = await site.post(
                f"/setup/manage/{action}", data={**form, "token": token, "profile": "readonly"}
            )
            assert answer.status_code == 403, (action, form, answer.text)
        # Only the Lax session cookie, as on a cross-site request: no flow, so no valid CSRF.
        kept = dict(site.cookies.items())
        site.cookies.clear()
        site.cookies.update(session)
        answer = await site.post(f"/setup/manage/{action}", data={"csrf": real})
        assert answer.status_code == 403, (action, answer.text)
        site.cookies.clear()
        site.cookies.update(kept)
    for action in ("phone", "code", "password", "restart", "qr", "qrpoll", "config"):
        assert (await site.post(f"/setup/{action}", data={"csrf": "x" * 43})).status_code == 403
    assert vault.authenticate(token).tenant_id == tenant and vault.get_tenant(tenant).status == "active"
    assert "Rotate the token" in (await site.get("/setup/manage")).text  # still signed in


@pytest.mark.parametrize("site", [{"trusted_proxies": "127.0.0.1"}], indirect=True)
async def test_per_ip_limits_use_the_forwarded_client_behind_a_trusted_proxy(
    site: httpx2.AsyncClient,
) -> None:
    async def qr_from(client_ip: str) -> int:
        site.cookies.clear()
        page = await site.get("/setup", headers={"X-Forwarded-For": client_ip})
        token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
        answer = await site.post("/setup/qr", data={"csrf": token}, headers={"X-Forwarded-For": client_ip})
        return answer.status_code

    assert [await qr_from("203.0.113.7") for _ in range(11)] == [303] * 10 + [429]
    assert await qr_from("198.51.100.9") == 303  # another visitor behind the same proxy: own bucket
    assert await qr_from("203.0.113.7") == 429
    # A client's own X-Forwarded-For entries left of the proxy's are not believed.
    assert await qr_from("198.51.100.1, 203.0.113.7") == 429

    async def signin_from(client_ip: str) -> int:
        site.cookies.clear()
        page = await site.get("/setup/manage", headers={"X-Forwarded-For": client_ip})
        token = CSRF_RE.search(page.text).group(1)  # type: ignore[union-attr]
        data = {"csrf": token, "token": "mcpg_" + "A" * 43}
        return (
            await site.post("/setup/manage/signin", data=data, headers={"X-Forwarded-For": client_ip})
        ).status_code

    assert [await signin_from("203.0.113.20") for _ in range(21)] == [200] * 20 + [429]
    assert await signin_from("203.0.113.21") == 200


async def test_forwarded_for_is_ignored_without_a_trusted_proxy(site: httpx2.AsyncClient) -> None:
    statuses = []
    for i in range(11):  # a different made-up address each time: all one client
        site.cookies.clear()
        spoof = {"X-Forwarded-For": f"203.0.113.{i}"}
        token = CSRF_RE.search((await site.get("/setup", headers=spoof)).text).group(1)  # type: ignore[union-attr]
        statuses.append((await site.post("/setup/qr", data={"csrf": token}, headers=spoof)).status_code)
    assert statuses == [303] * 10 + [429]


async def test_code_attempts_are_limited_per_ip_across_phones(site: httpx2.AsyncClient) -> None:
    """5 a phone, 20 an address: four phones' worth of wrong codes, then even a fifth phone waits."""
    statuses = []
    for phone in PHONES:
        site.cookies.clear()
        await post(site, "phone", phone=phone)
        for _ in range(5):  # the per-phone limit: five
            answer = await post(site, "code", code="99999")
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                break
    assert statuses == [303] * 20 + [429], statuses
    assert int(answer.headers["retry-after"]) > 0
    assert (await post(site, "code", code=CODE)).status_code == 429  # the right code waits too


async def test_password_attempts_are_limited_per_ip_across_phones(site: httpx2.AsyncClient) -> None:
    statuses = []
    for phone in PW_PHONES:
        site.cookies.clear()
        await post(site, "phone", phone=phone)
        await post(site, "code", code=CODE)
        page = await site.get("/setup")
        assert "Two-step verification" in page.text
        for _ in range(5):
            answer = await post(site, "password", password="wrong guess")
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                break
    assert statuses == [303] * 20 + [429], statuses
    retry = int(answer.headers["retry-after"])
    assert 0 < retry <= 15 * 60 + 1
    assert "Too many attempts" in answer.text and answer.headers["content-type"].startswith("text/html")
    assert (await post(site, "password", password=PASSWORD)).status_code == 429


# -- markup shown back -------------------------------------------------------------------------------


ESCAPED = "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"


def assert_escaped(text: str) -> None:
    assert "<script>alert(1)" not in text
    assert ESCAPED in text or ESCAPED.replace("&#34;", "&quot;") in text, text


async def test_the_account_name_is_shown_escaped(site: httpx2.AsyncClient) -> None:
    await post(site, "phone", phone=PHONES[1])
    await post(site, "code", code=CODE)
    assert_escaped((await site.get("/setup")).text)  # "Code1 <last name>"


async def test_the_password_hint_is_shown_escaped(site: httpx2.AsyncClient) -> None:
    await post(site, "phone", phone=PW_PHONES[1])
    await post(site, "code", code=CODE)
    assert_escaped((await site.get("/setup")).text)


async def test_a_next_with_markup_is_shown_escaped(site: httpx2.AsyncClient) -> None:
    """``next`` passes the open-redirect check with quotes and angle brackets in its query; every
    place it is shown back (the continue link, the token sign-in's hidden field) escapes it."""
    hostile = quote(f"{CONSENT_PATH}?request={EVIL.replace(' ', '')}", safe="")
    signin = await site.get(f"/setup/manage?next={hostile}")
    assert 'name="next"' in signin.text
    assert_escaped(signin.text)
    offer = await site.get(f"/setup?next={hostile}")
    assert "<script>alert" not in offer.text and "%3Cscript%3E" in offer.text  # in a query: URL-encoded
    await post(site, "phone", phone=PHONES[2])
    await post(site, "code", code=CODE)
    done = await site.get("/setup")
    assert 'id="continue"' in done.text
    assert_escaped(done.text)
