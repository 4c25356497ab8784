"""/setup: the token and the configs holding it are offered on one page view only; every client
config parses, with the token and the URL where each client expects them.

Real path: httpx -> the HTTP app -> web/setup -> Telethon -> sandbox.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

import httpx2
import pytest

from mcpgram.web.setup import SetupStore
from mcpgram.web.setup.routes import DOWNLOAD_SECONDS
from tests.web.test_setup import CODE, CSRF_RE, DOWNLOAD_RE, PHONE, TOKEN_RE, post, sandbox, site  # noqa: F401

BASE = "http://127.0.0.1:8000"


def store_of(site: httpx2.AsyncClient) -> SetupStore:  # noqa: F811
    store: SetupStore = site.gateway.closers[0].__self__  # type: ignore[attr-defined]
    return store


async def token_page(site: httpx2.AsyncClient) -> tuple[str, dict[str, str]]:  # noqa: F811
    """Sign up; the token and the token page's config form fields (csrf, download nonce)."""
    await post(site, "phone", phone=PHONE)
    await post(site, "code", code=CODE)
    page = await site.get("/setup")
    token, csrf, nonce = (regex.search(page.text) for regex in (TOKEN_RE, CSRF_RE, DOWNLOAD_RE))
    assert token and csrf and nonce, page.text
    return token.group(1), {"csrf": csrf.group(1), "download": nonce.group(1)}


def server_entry(client: str, text: str) -> dict[str, Any]:
    """The mcpgram entry of a config, parsed as JSON (Claude Code's is a shell command)."""
    if client == "claude-code":
        words = shlex.split(text)
        assert words[:4] == ["claude", "mcp", "add-json", "mcpgram"] and len(words) == 5, words
        entry: dict[str, Any] = json.loads(words[4])
        return entry
    document = json.loads(text)
    key = "servers" if client == "vscode" else "mcpServers"
    assert list(document) == [key], document
    entry = document[key]["mcpgram"]
    return entry


CASES = [
    (client, variant)
    for client in ("claude-desktop", "claude-code", "cursor", "vscode", "generic")
    for variant in ("header", "url")
]


async def test_every_config_carries_the_token_where_its_client_expects_it(
    site: httpx2.AsyncClient,  # noqa: F811
) -> None:
    token, forms = await token_page(site)
    header_url, url_url = f"{BASE}/v1/mcp", f"{BASE}/v1/url_auth/{token}/mcp"
    for client, variant in CASES:  # several buttons of the one token page, as a person clicks them
        answer = await post(site, "config", client=client, variant=variant, **forms)
        assert answer.status_code == 200, (client, variant, answer.text)
        assert answer.headers["content-disposition"].startswith("attachment;")
        entry = server_entry(client, answer.text)
        url = header_url if variant == "header" else url_url
        if client == "claude-desktop":  # through the mcp-remote bridge
            assert entry["command"] == "npx" and entry["args"][:3] == ["-y", "mcp-remote", url]
            if variant == "header":
                assert entry["args"][3:] == ["--header", "Authorization:${MCPGRAM_AUTH_HEADER}"]
                assert entry["env"] == {"MCPGRAM_AUTH_HEADER": f"Bearer {token}"}
            else:
                assert entry["args"][3:] == [] and entry["env"] == {}
            continue
        assert entry["url"] == url, (client, entry)
        assert ("type" not in entry) if client == "cursor" else (entry["type"] == "http")
        if variant == "header":
            assert entry["headers"] == {"Authorization": f"Bearer {token}"}
        else:
            assert "headers" not in entry
        assert answer.text.count(token) == 1


async def test_a_later_post_cannot_get_the_token(site: httpx2.AsyncClient) -> None:  # noqa: F811
    token, forms = await token_page(site)
    assert (await post(site, "config", client="generic", variant="header", **forms)).status_code == 200
    # Without the page's nonce, or with a made-up one: no config even during the window.
    for nonce in ("", "x" * 32):
        refused = await post(
            site, "config", client="generic", variant="header", csrf=forms["csrf"], download=nonce
        )
        assert refused.status_code == 410 and token not in refused.text
    # Any later view of the page ends the window, and the flow forgets the token.
    again = await site.get("/setup")
    assert token not in again.text and "/setup/config" not in again.text
    for client, variant in CASES:
        late = await post(site, "config", client=client, variant=variant, **forms)
        assert late.status_code == 410 and token not in late.text
    flow = store_of(site).load_flow(site.cookies["mcpgram-setup"])
    assert flow is not None and "token" not in flow and "download" not in flow
    assert token not in json.dumps(flow)
    # The finished flow cannot be restarted into a second tenant either.
    await post(site, "restart", csrf=forms["csrf"])
    await post(site, "qr", csrf=forms["csrf"])
    assert len(site.gateway.vault.list_tenants()) == 1  # type: ignore[attr-defined]


async def test_the_download_window_closes_by_itself(site: httpx2.AsyncClient) -> None:  # noqa: F811
    token, forms = await token_page(site)
    store = store_of(site)
    start = store.clock()
    store.clock = lambda: start + DOWNLOAD_SECONDS - 5
    assert (await post(site, "config", client="vscode", variant="url", **forms)).status_code == 200
    store.clock = lambda: start + DOWNLOAD_SECONDS + 1
    late = await post(site, "config", client="vscode", variant="url", **forms)
    assert late.status_code == 410 and token not in late.text
    assert "not available any more" in late.text and late.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("client", ["nope", ""])
async def test_an_unknown_client_gets_no_config(site: httpx2.AsyncClient, client: str) -> None:  # noqa: F811
    token, forms = await token_page(site)
    answer = await post(site, "config", client=client, variant="header", **forms)
    assert answer.status_code == 400 and token not in answer.text
