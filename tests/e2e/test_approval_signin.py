"""Who may open the approval page: only a browser signed in as the approval's tenant.

MCP 2026-07-28 (elicitation, "Phishing"): the server verifies that the person opening a URL-mode
elicitation is the user of the MCP client. Real HTTP against a running gateway, approvals asked by
a real 2026-07-28 client (``test_approvals_http.ask``), sends counted in the sandbox. Holding the URL
(an agent with a fetch tool, another tenant who sent it to a victim) shows nothing and decides
nothing; the inline token sign-in accepts only the approval's own tenant, is CSRF-protected and
rate-limited per client address.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import mcp_types
import pytest

from mcpgram.app import build_gateway, http_app
from mcpgram.approvals import page
from mcpgram.approvals.core import id_hash
from mcpgram.sandbox import SandboxServer

from .conftest import People, Running, serving, settings_for
from .test_approvals_http import CSRF, ask, modern_client, origin_of, sent, sign_in

REFUSED = "That token cannot open this approval."
PREVIEWED = ("send_message", "first_contact", "Carol", "secret plan")
ARGS = {"chat": "@carol_e2e", "text": "secret plan"}


@pytest.fixture
async def server(
    sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any
) -> AsyncIterator[Running]:
    async with serving(
        sandbox, tmp_path / "data", vault_for, approvals=True, approval_wait_seconds=1
    ) as running:
        yield running


async def alice_asks(server: Running) -> str:
    """Alice's agent sends to Carol (a first contact): the approval page's URL."""
    async with modern_client(server, server.alice, "approve", []) as client:
        _, url = await ask(client, ARGS)
    return url


def status(server: Running, url: str) -> str:
    assert server.gateway.approver is not None
    row = server.gateway.approver.store.get(id_hash(url.rsplit("/", 1)[1]))
    assert row is not None
    return row.status


def session_of(browser: httpx.AsyncClient) -> str | None:
    return next((value for name, value in browser.cookies.items() if name.endswith("mcpgram-session")), None)


def shows_nothing(html: str) -> bool:
    """The closed page: the sign-in form, nothing of the action, no decision buttons."""
    return 'name="token"' in html and "decision" not in html and not any(word in html for word in PREVIEWED)


async def test_holding_the_url_shows_nothing_and_decides_nothing(
    server: Running, people: People, sandbox: SandboxServer
) -> None:
    """No session: GET shows the sign-in form only; a decision POST (with the form's token, with a
    token forged for a made-up session, with none) is 403; the approval stays pending; nothing sent."""
    url = await alice_asks(server)
    secret = server.gateway.approver.page_secret  # type: ignore[union-attr]
    async with httpx.AsyncClient() as agent:
        shown = await agent.get(url)
        assert shown.status_code == 200 and shows_nothing(shown.text)
        assert "waits for your approval" in shown.text
        form_token = CSRF.search(shown.text)
        assert form_token is not None
        forged = page.csrf_token(secret, url.rsplit("/", 1)[1], "made-up-session")
        for csrf in (form_token.group(1), forged, ""):
            answer = await agent.post(
                url, data={"decision": "approve", "csrf": csrf}, headers={"Origin": origin_of(url)}
            )
            assert answer.status_code == 403 and "Nothing was decided" in answer.text
            assert not any(word in answer.text for word in PREVIEWED)
    assert status(server, url) == "pending"
    assert sent(sandbox, people.alice, people.carol, "secret plan") == 0


async def test_signed_in_as_another_tenant_the_page_stays_closed(
    server: Running, people: People, sandbox: SandboxServer
) -> None:
    """Carol's browser (signed in through her own approval) opening Alice's approval: the sign-in form,
    a note that it is another account, no preview; deciding with a token made for Carol's session is
    403. Nothing decided, nothing sent."""
    alice_url = await alice_asks(server)
    async with modern_client(server, server.carol, "approve", []) as carol:
        _, carol_url = await ask(carol, {"chat": "@alice_e2e", "text": "hello Alice"})
    async with httpx.AsyncClient() as as_carol:
        assert 'value="approve"' in (await sign_in(as_carol, carol_url, server.carol)).text
        carol_session = session_of(as_carol)
        assert carol_session is not None
        shown = await as_carol.get(alice_url)
        assert shown.status_code == 200 and shows_nothing(shown.text) and "another account" in shown.text
        secret = server.gateway.approver.page_secret  # type: ignore[union-attr]
        csrf = page.csrf_token(secret, alice_url.rsplit("/", 1)[1], carol_session)
        answer = await as_carol.post(
            alice_url, data={"decision": "approve", "csrf": csrf}, headers={"Origin": origin_of(alice_url)}
        )
        assert answer.status_code == 403
    assert status(server, alice_url) == "pending"
    assert sent(sandbox, people.alice, people.carol, "secret plan") == 0


async def test_another_tenants_token_is_refused_like_any_wrong_token(server: Running) -> None:
    """Carol's valid token, a revoked token and a made-up one on Alice's page: the same 403 and the same
    words, naming nobody; the browser is not signed in."""
    url = await alice_asks(server)
    vault = server.gateway.vault
    revoked_tenant, revoked = vault.create_tenant("gone")
    vault.revoke(revoked_tenant.tenant_id)
    answers = []
    for token in (server.carol, revoked, "mcpg_" + "A" * 43, "not a token"):
        async with httpx.AsyncClient() as browser:
            answer = await sign_in(browser, url, token)
            assert answer.status_code == 403 and REFUSED in answer.text and shows_nothing(answer.text)
            assert session_of(browser) is None and shows_nothing((await browser.get(url)).text)
        answers.append(CSRF.sub("", answer.text))
    assert len(set(answers)) == 1  # nothing in the page tells these apart
    alice_id = vault.authenticate(server.alice).tenant_id
    carol_id = vault.authenticate(server.carol).tenant_id
    assert alice_id not in answers[0] and carol_id not in answers[0] and "alice" not in answers[0].lower()
    assert status(server, url) == "pending"


async def test_signed_in_with_the_right_token_the_person_approves_and_it_is_sent_once(
    server: Running, people: People, sandbox: SandboxServer
) -> None:
    """Sign in with Alice's token on the page (303 back to it, the /setup session cookie set), see the
    action, approve: the client's retry sends exactly once. The session also opens /setup/manage."""
    async with modern_client(server, server.alice, "approve", []) as client:
        first, url = await ask(client, ARGS)
        async with httpx.AsyncClient() as browser:
            shown = await browser.get(url)
            csrf = CSRF.search(shown.text)
            assert csrf is not None
            signed = await browser.post(
                f"{url}/signin",
                data={"csrf": csrf.group(1), "token": server.alice},
                headers={"Origin": origin_of(url)},
            )
            assert signed.status_code == 303 and signed.headers["location"] == url.removeprefix(server.base)
            assert session_of(browser) is not None
            opened = await browser.get(url)
            assert all(word in opened.text for word in PREVIEWED) and 'value="approve"' in opened.text
            token = CSRF.search(opened.text)
            assert token is not None
            done = await browser.post(
                url, data={"decision": "approve", "csrf": token.group(1)}, headers={"Origin": origin_of(url)}
            )
            assert done.status_code == 200 and "You approved it." in done.text
            manage = await browser.get(f"{server.base}/setup/manage")
            assert manage.status_code == 200 and 'name="token"' not in manage.text  # signed in there too
        result = await client.session.call_tool(
            "send_message",
            ARGS,
            allow_input_required=True,
            input_responses={"approval": mcp_types.ElicitResult(action="accept")},
            request_state=first.request_state,
        )
        assert not result.is_error  # type: ignore[union-attr]
    assert sent(sandbox, people.alice, people.carol, "secret plan") == 1


async def test_a_session_ends_for_the_page_when_its_token_is_rotated_or_revoked(server: Running) -> None:
    """Signed in with a token that is rotated since (``mcpgram token rotate``, not the manage page):
    the page is closed again; so it is once the tenant is revoked."""
    url = await alice_asks(server)
    vault = server.gateway.vault
    async with httpx.AsyncClient() as browser:
        assert 'value="approve"' in (await sign_in(browser, url, server.alice)).text
        new_token = vault.rotate(server.alice)
        assert shows_nothing((await browser.get(url)).text)
        assert 'value="approve"' in (await sign_in(browser, url, new_token)).text
        vault.revoke(vault.authenticate(new_token).tenant_id)
        assert shows_nothing((await browser.get(url)).text)
    assert status(server, url) == "pending"


async def test_a_csrf_token_of_another_session_is_refused(
    server: Running, people: People, sandbox: SandboxServer
) -> None:
    """Alice signed in on two browsers: the decision token of one does not work in the other (bound to
    the session, not only to the approval); each works in its own."""
    url = await alice_asks(server)
    async with httpx.AsyncClient() as first, httpx.AsyncClient() as second:
        token_first = CSRF.search((await sign_in(first, url, server.alice)).text)
        token_second = CSRF.search((await sign_in(second, url, server.alice)).text)
        assert token_first is not None and token_second is not None
        assert token_first.group(1) != token_second.group(1)
        crossed = await second.post(
            url,
            data={"decision": "approve", "csrf": token_first.group(1)},
            headers={"Origin": origin_of(url)},
        )
        assert crossed.status_code == 403 and status(server, url) == "pending"
        own = await second.post(
            url,
            data={"decision": "refuse", "csrf": token_second.group(1)},
            headers={"Origin": origin_of(url)},
        )
        assert own.status_code == 200 and status(server, url) == "refused"
    assert sent(sandbox, people.alice, people.carol, "secret plan") == 0


async def test_a_sign_in_posted_without_this_browsers_form_signs_nobody_in(server: Running) -> None:
    """Login CSRF: the right token posted without the nonce cookie, with another browser's form token,
    or from another origin, is refused and sets no session."""
    url = await alice_asks(server)
    async with httpx.AsyncClient() as other:
        other_token = CSRF.search((await other.get(url)).text)
        assert other_token is not None
    async with httpx.AsyncClient() as browser:
        bare = await browser.post(f"{url}/signin", data={"csrf": other_token.group(1), "token": server.alice})
        assert bare.status_code == 403 and session_of(browser) is None
        await browser.get(url)  # now with a nonce of its own: the other browser's token still fails
        mixed = await browser.post(
            f"{url}/signin", data={"csrf": other_token.group(1), "token": server.alice}
        )
        assert mixed.status_code == 403 and session_of(browser) is None
        own = CSRF.search((await browser.get(url)).text)
        assert own is not None
        cross = await browser.post(
            f"{url}/signin",
            data={"csrf": own.group(1), "token": server.alice},
            headers={"Origin": "https://evil.example"},
        )
        assert cross.status_code == 403 and session_of(browser) is None
    assert status(server, url) == "pending"


async def test_the_inline_sign_in_is_rate_limited_per_address(server: Running) -> None:
    """20 sign-in attempts per address per 15 minutes (the counter /setup/manage's sign-in uses): the
    21st answers 429 with Retry-After, even with the right token; X-Forwarded-For from a client that
    is not a trusted proxy changes nothing."""
    url = await alice_asks(server)
    async with httpx.AsyncClient() as browser:
        csrf = CSRF.search((await browser.get(url)).text)
        assert csrf is not None
        for attempt in range(20):
            wrong = await browser.post(
                f"{url}/signin",
                data={"csrf": csrf.group(1), "token": f"mcpg_{attempt:043d}"},
                headers={"X-Forwarded-For": f"203.0.113.{attempt}"},
            )
            assert wrong.status_code == 403, attempt
        limited = await browser.post(
            f"{url}/signin",
            data={"csrf": csrf.group(1), "token": server.alice},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert session_of(browser) is None and shows_nothing((await browser.get(url)).text)


async def test_behind_a_trusted_proxy_the_limit_counts_the_forwarded_client(
    sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any
) -> None:
    """With the peer a trusted proxy, each forwarded client has its own count: one locked out, another
    still signs in."""
    async with serving(
        sandbox, tmp_path / "data", vault_for, approvals=True, trusted_proxies="127.0.0.1"
    ) as running:
        url = await alice_asks(running)
        async with httpx.AsyncClient() as browser:
            csrf = CSRF.search((await browser.get(url)).text)
            assert csrf is not None
            form = {"csrf": csrf.group(1), "token": "mcpg_" + "B" * 43}
            for _ in range(20):
                answer = await browser.post(
                    f"{url}/signin", data=form, headers={"X-Forwarded-For": "203.0.113.9"}
                )
                assert answer.status_code == 403
            locked = await browser.post(
                f"{url}/signin", data=form, headers={"X-Forwarded-For": "203.0.113.9"}
            )
            assert locked.status_code == 429
            other = await browser.post(
                f"{url}/signin",
                data={**form, "token": running.alice},
                headers={"X-Forwarded-For": "203.0.113.10"},
            )
            assert other.status_code == 303


async def test_without_tokens_no_page_is_offered_or_served(sandbox: SandboxServer, tmp_path: Path) -> None:
    """stdio and --no-auth have no token to sign in with (the owner has none): the approver offers no
    page (a form or Saved Messages instead) and no /approve route is served; HTTP with tokens has both."""
    plain = build_gateway(settings_for(sandbox, tmp_path / "tokens", transport="http"), transport="http")
    no_auth = build_gateway(
        settings_for(sandbox, tmp_path / "owner", transport="http", no_auth=True), transport="http"
    )
    stdio = build_gateway(
        settings_for(sandbox, tmp_path / "stdio", public_url="https://mcp.example"), transport="stdio"
    )
    try:
        assert plain.approver is not None and plain.approver.offers_page
        for gateway in (no_auth, stdio):
            assert gateway.approver is not None and not gateway.approver.offers_page
        paths = {getattr(route, "path", "") for route in http_app(no_auth).routes}
        assert not any(path.startswith("/approve") for path in paths)
        paths = {getattr(route, "path", "") for route in http_app(plain).routes}
        assert f"{page.PAGE_PREFIX}/{{tag}}/{{approval_id}}/signin" in paths
    finally:
        for gateway in (plain, no_auth, stdio):
            await gateway.aclose()
