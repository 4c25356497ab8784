"""Approvals over HTTP: the 2026-07-28 input-required result with the approval page, and the page itself.

Real clients against a running gateway: a fastmcp Client (2026-07-28, URL-mode elicitation) whose
handler plays the person in a browser, opening the page it is given, signing in there with the
tenant's token and pressing a button (plain HTTP requests with the page's own CSRF tokens, cookies
and Origin); a 2025-era client answering a form. Who may open the page: ``test_approval_signin.py``.
Sends are counted in the sandbox's history of the target chat.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import mcp_types
import pytest
from fastmcp import Client
from fastmcp.client.elicitation import ElicitResult
from fastmcp.client.transports import StreamableHttpTransport
from mcp import MCPError

from mcpgram.approvals import page
from mcpgram.approvals.core import id_hash
from mcpgram.audit.reading import Filter, journal_files, newest
from mcpgram.policy.book import PolicyBook
from mcpgram.policy.model import PROFILES
from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.world import user_peer

from .conftest import People, Running, serving
from .eras import MODERN, offering

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
async def server(
    sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any
) -> AsyncIterator[Running]:
    """Alice and Carol with the default policy (a first contact asks); the page answers within 5 s."""
    async with serving(
        sandbox,
        tmp_path / "data",
        vault_for,
        approvals=True,
        approval_wait_seconds=5,
        approval_ttl_seconds=60,
    ) as running:
        yield running


def sent(sandbox: SandboxServer, sender: int, to: int, text: str) -> int:
    box = sandbox.world.box(sender)
    return sum(1 for i in box.history(user_peer(to)) if box.messages[i].content.text == text)


def origin_of(url: str) -> str:
    return "{0.scheme}://{0.netloc}".format(urlsplit(url))


async def sign_in(browser: httpx.AsyncClient, url: str, token: str) -> httpx.Response:
    """Open the approval page and sign in with ``token`` on its form; the page after the redirect."""
    shown = await browser.get(url)
    assert shown.status_code == 200, shown.text
    csrf = CSRF.search(shown.text)
    assert csrf is not None and 'name="token"' in shown.text
    form = {"csrf": csrf.group(1), "token": token}
    return await browser.post(
        f"{url}/signin", data=form, headers={"Origin": origin_of(url)}, follow_redirects=True
    )


async def press(url: str, decision: str, token: str, *, csrf: str | None = None) -> httpx.Response:
    """A person opening the page, signing in with ``token`` and pressing Approve or Refuse
    (``csrf``: override the page's)."""
    async with httpx.AsyncClient() as browser:
        shown = await sign_in(browser, url, token)
        assert shown.status_code == 200, shown.text
        found = CSRF.search(shown.text)
        assert found is not None and 'value="approve"' in shown.text
        form = {"decision": decision, "csrf": found.group(1) if csrf is None else csrf}
        return await browser.post(url, data=form, headers={"Origin": origin_of(url)})


def modern_client(server: Running, token: str, decision: str, urls: list[str]) -> Client[Any]:
    async def person(message: str, response_type: Any, params: Any, context: Any) -> Any:
        assert isinstance(params, mcp_types.ElicitRequestURLParams)
        urls.append(params.url)
        answer = await press(params.url, decision, token)
        assert answer.status_code == 200
        return ElicitResult(action="accept")

    transport = StreamableHttpTransport(f"{server.base}/v1/mcp", headers={"Authorization": f"Bearer {token}"})
    return Client(transport, elicitation_handler=person)


async def test_approved_on_the_page_the_call_is_sent_exactly_once(
    server: Running, people: People, sandbox: SandboxServer
) -> None:
    """2026-07-28: the call returns input-required with the page's URL; approved there, the client's
    retry sends the message once."""
    urls: list[str] = []
    async with modern_client(server, server.alice, "approve", urls) as client:
        assert client.protocol_version == MODERN
        result = await client.call_tool("send_message", {"chat": "@carol_e2e", "text": "hi Carol"})
    assert '"id"' in result.content[0].text  # type: ignore[union-attr]
    assert len(urls) == 1 and urls[0].startswith(f"{server.base}/approve/")
    assert sent(sandbox, people.alice, people.carol, "hi Carol") == 1


async def test_refused_on_the_page_nothing_is_sent(
    server: Running, people: People, sandbox: SandboxServer
) -> None:
    """Refuse on the page: the retry answers APPROVAL_REFUSED and Carol's chat holds nothing."""
    urls: list[str] = []
    async with modern_client(server, server.alice, "refuse", urls) as client:
        result = await client.call_tool(
            "send_message", {"chat": "@carol_e2e", "text": "no"}, raise_on_error=False
        )
    assert result.is_error and result.content[0].text.startswith("APPROVAL_REFUSED: ")  # type: ignore[union-attr]
    assert sent(sandbox, people.alice, people.carol, "no") == 0


ACCEPTED: mcp_types.InputResponses = {"approval": mcp_types.ElicitResult(action="accept")}


async def ask(client: Client[Any], args: dict[str, Any]) -> tuple[mcp_types.InputRequiredResult, str]:
    """One call driven by hand: its input-required result and the page URL in it."""
    first = await client.session.call_tool("send_message", args, allow_input_required=True)
    assert isinstance(first, mcp_types.InputRequiredResult), first
    assert first.input_requests is not None
    params = first.input_requests["approval"].params
    assert isinstance(params, mcp_types.ElicitRequestURLParams)
    return first, params.url


async def retry(client: Client[Any], args: dict[str, Any], state: str | None) -> Any:
    return await client.session.call_tool(
        "send_message", args, allow_input_required=True, input_responses=ACCEPTED, request_state=state
    )


def text_of(result: Any) -> str:
    assert isinstance(result, mcp_types.CallToolResult), result
    block = result.content[0]
    assert isinstance(block, mcp_types.TextContent)
    return block.text


async def test_a_used_approval_is_not_replayed_and_a_changed_text_asks_again(
    server: Running, people: People, sandbox: SandboxServer
) -> None:
    """The retry with the approval sends once; the same state again is APPROVAL_REFUSED (used). A
    different text cannot ride on an approved state (refused before the tool runs: the state is bound
    to the call's arguments) and, called afresh, gets its own approval request; nothing is sent for it."""
    alice = server.gateway.vault.authenticate(server.alice).tenant_id
    # send = approve: every send asks, so a replay after the first send still needs the approval.
    PolicyBook(server.gateway.vault, "all").set(alice, PROFILES["all"].with_rules({"send": "approve"}))
    args = {"chat": "@carol_e2e", "text": "once only"}
    changed = {**args, "text": "once only, changed"}
    async with modern_client(server, server.alice, "approve", []) as client:
        first, url = await ask(client, args)
        assert (await press(url, "approve", server.alice)).status_code == 200
        with pytest.raises(MCPError, match="Invalid or expired requestState"):
            await retry(client, changed, first.request_state)
        again, other_url = await ask(client, changed)
        assert other_url != url and again.request_state != first.request_state
        assert '"id"' in text_of(await retry(client, args, first.request_state))
        replayed = await retry(client, args, first.request_state)
        assert replayed.is_error and text_of(replayed).startswith("APPROVAL_REFUSED: that approval was used")
        async with httpx.AsyncClient() as browser:
            shown = await sign_in(browser, url, server.alice)
            assert "This approval is used" in shown.text and "<form" not in shown.text
            session = next(value for name, value in browser.cookies.items() if name.endswith("-session"))
            token = page.csrf_token(server.gateway.approver.page_secret, url.rsplit("/", 1)[1], session)  # type: ignore[union-attr]
            again = await browser.post(url, data={"decision": "approve", "csrf": token})
            assert again.status_code == 409  # decided already: nothing more to decide
    assert sent(sandbox, people.alice, people.carol, "once only") == 1
    assert sent(sandbox, people.alice, people.carol, "once only, changed") == 0


async def test_an_expired_approval_sends_nothing(
    server: Running, people: People, sandbox: SandboxServer
) -> None:
    """Expired before anyone answered: the page can no longer decide and the retry is APPROVAL_EXPIRED."""
    args = {"chat": "@carol_e2e", "text": "expiring"}
    async with modern_client(server, server.alice, "approve", []) as client:
        first, url = await ask(client, args)
        approver = server.gateway.approver
        assert approver is not None
        approver.store.expire_now(id_hash(url.rsplit("/", 1)[1]))
        async with httpx.AsyncClient() as browser:
            shown = await sign_in(browser, url, server.alice)
        assert "This approval is expired" in shown.text and "<form" not in shown.text
        expired = await retry(client, args, first.request_state)
        assert expired.is_error and text_of(expired).startswith("APPROVAL_EXPIRED: ")
    assert sent(sandbox, people.alice, people.carol, "expiring") == 0


async def test_the_page_refuses_forged_csrf_other_origins_and_other_tenants(
    server: Running, people: People, sandbox: SandboxServer
) -> None:
    """Signed in as Alice, a POST without or with a forged CSRF token: 403; with the token of Carol's
    page (valid, for another approval and session): 403; from another origin: 403; Carol's approval
    id under Alice's tenant tag, or an unknown id: 404. Nothing was decided, nothing sent."""
    async with modern_client(server, server.alice, "approve", []) as alice:
        _, alice_url = await ask(alice, {"chat": "@carol_e2e", "text": "page test"})
    async with modern_client(server, server.carol, "approve", []) as carol:
        _, carol_url = await ask(carol, {"chat": "@alice_e2e", "text": "page test"})
    assert (await press(alice_url, "approve", server.alice, csrf="")).status_code == 403
    assert (await press(alice_url, "approve", server.alice, csrf="A" * 43)).status_code == 403
    async with httpx.AsyncClient() as as_carol:
        carol_token = CSRF.search((await sign_in(as_carol, carol_url, server.carol)).text)
        assert carol_token is not None  # valid, but for Carol's approval: it must not open Alice's
    assert (await press(alice_url, "approve", server.alice, csrf=carol_token.group(1))).status_code == 403
    async with httpx.AsyncClient() as browser:
        assert "Approve" in (await sign_in(browser, alice_url, server.alice)).text
        cross = await browser.post(
            alice_url, data={"decision": "approve"}, headers={"Origin": "https://evil.example"}
        )
        assert cross.status_code == 403
        alice_tag = alice_url.rsplit("/", 2)[1]
        carol_id = carol_url.rsplit("/", 1)[1]
        for url in (
            f"{server.base}/approve/{alice_tag}/{carol_id}",
            f"{server.base}/approve/{alice_tag}/{'x' * 22}",
        ):
            assert (await browser.get(url)).status_code == 404
            assert (await browser.post(url, data={"decision": "approve"})).status_code == 404
            assert (await browser.post(f"{url}/signin", data={"token": server.alice})).status_code == 404
        shown = await browser.get(alice_url)
    assert 'value="approve"' in shown.text  # still pending: nothing was decided
    assert sent(sandbox, people.alice, people.carol, "page test") == 0


async def test_the_page_escapes_the_message_and_sends_strict_headers(server: Running, people: People) -> None:
    """A script in the message is shown as text; the page is HTML with a CSP allowing nothing to load
    or run, not framable, not cached, not sniffed."""
    hostile = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    async with modern_client(server, server.alice, "approve", []) as client:
        _, url = await ask(client, {"chat": "@carol_e2e", "text": hostile})
    async with httpx.AsyncClient() as browser:
        page = await sign_in(browser, url, server.alice)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text and "<img" not in page.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page.text
    assert "Carol" in page.text and "send_message" in page.text and "first_contact" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "form-action 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "same-origin"  # no-referrer: browsers post Origin: null
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"].startswith("no-store")


async def test_a_2025_client_over_http_is_asked_in_saved_messages(
    server: Running, people: People, sandbox: SandboxServer
) -> None:
    """2025-11-25 over HTTP: calls are answered as one JSON body, with no stream to elicit on, so the
    person is asked in Saved Messages even though the client declares elicitation; nothing is sent."""
    asked: list[str] = []

    async def person(message: str, response_type: Any, params: Any, context: Any) -> Any:
        asked.append(message)
        return True

    headers = {"Authorization": f"Bearer {server.alice}"}
    transport = StreamableHttpTransport(f"{server.base}/v1/mcp", headers=headers)
    with offering("2025-11-25"):
        async with Client(transport, mode="legacy", elicitation_handler=person) as client:
            assert client.protocol_version == "2025-11-25"
            result = await client.call_tool(
                "send_message", {"chat": "@carol_e2e", "text": "by saved"}, raise_on_error=False
            )
    assert result.is_error and result.content[0].text.startswith("APPROVAL_PENDING: ")  # type: ignore[union-attr]
    assert "Saved Messages" in result.content[0].text and not asked  # type: ignore[union-attr]
    assert sent(sandbox, people.alice, people.carol, "by saved") == 0
    box = sandbox.world.box(people.alice)
    assert any(
        "by saved" in (m.content.text or "")
        for m in box.messages.values()
        if m.peer == user_peer(people.alice)
    )


async def test_the_journal_records_each_approval_decision_made_on_the_page(
    server: Running, people: People, sandbox: SandboxServer
) -> None:
    """Approved, refused and expired on the page: Alice's kind=approval entries are asked/approved,
    asked/refused, asked/expired, each naming the tool and Carol's chat, with the approved send's
    content digest equal to its write entry's, and no message text in the journal."""
    journal = server.gateway.journal
    assert journal is not None and server.gateway.approver is not None
    alice = server.gateway.vault.authenticate(server.alice).tenant_id
    async with modern_client(server, server.alice, "approve", []) as client:
        await client.call_tool("send_message", {"chat": "@carol_e2e", "text": "journal yes"})
    PolicyBook(server.gateway.vault, "all").set(alice, PROFILES["all"].with_rules({"send": "approve"}))
    async with modern_client(server, server.alice, "refuse", []) as client:
        await client.call_tool(
            "send_message", {"chat": "@carol_e2e", "text": "journal no"}, raise_on_error=False
        )
        args = {"chat": "@carol_e2e", "text": "journal late"}
        first, url = await ask(client, args)
        server.gateway.approver.store.expire_now(id_hash(url.rsplit("/", 1)[1]))
        assert text_of(await retry(client, args, first.request_state)).startswith("APPROVAL_EXPIRED: ")
    entries = newest(journal.directory, Filter(tenant=alice, kind="approval"), 100)
    outcomes = [e.outcome for e in entries]
    assert outcomes == ["asked", "approved", "asked", "refused", "asked", "expired"]
    assert {e.tool for e in entries} == {"send_message"} and {e.chat for e in entries} == {people.carol}
    (write,) = newest(journal.directory, Filter(tenant=alice, kind="write", outcome="ok"), 100)
    assert entries[1].content == write.content and write.content is not None
    assert len({e.content for e in entries}) == 3  # one digest per action
    stored = b"".join(path.read_bytes() for path in journal_files(journal.directory))
    assert b"journal yes" not in stored and b"journal no" not in stored and b"journal late" not in stored
    assert sent(sandbox, people.alice, people.carol, "journal yes") == 1
