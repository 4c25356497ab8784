"""/setup keeps ``next`` (where an OAuth authorization continues) and refuses open redirects."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import httpx2
import pytest

from mcpgram.web.oauth import CONSENT_PATH
from mcpgram.web.setup.nextpath import safe_next
from tests.web.test_setup import sandbox, sign_up, site  # noqa: F401 (fixtures)

CONTINUE_RE = re.compile(r'id="continue" href="([^"]*)"')
GOOD = [
    f"{CONSENT_PATH}?request=abc_DEF-123",
    "/authorize?client_id=https%3A%2F%2Fa.example%2Fc.json&state=x",
]
HOSTILE = [
    "https://evil.example/authorize",
    "//evil.example/authorize",
    "/\\evil.example/authorize",
    "\\\\evil.example",
    "javascript:alert(1)",
    "http:/authorize",
    "/%2F%2Fevil.example",
    "/%2e%2e/authorize",
    "/authorize/../setup",
    "/oauth/consent/../../x",
    "/Authorize",
    "/authorize\r\nLocation: https://evil.example",
    "/authorize\t",
    "/authorize#frag",
    " /authorize",
    "/setup/manage",
    "/authorizé",
    "",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("value", GOOD)
def test_same_origin_oauth_paths_are_kept(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_open_redirects_are_refused(value: str) -> None:
    assert safe_next(value) is None


async def test_sign_in_offers_to_continue_to_consent(site: httpx2.AsyncClient) -> None:  # noqa: F811
    target = f"{CONSENT_PATH}?request=req-1"
    first = await site.get(f"/setup?next={quote(target, safe='')}")
    assert first.status_code == 200 and CONTINUE_RE.search(first.text) is None
    token = await sign_up(site)  # the token page is still shown, once
    done = await site.get("/setup")
    assert token not in done.text
    found = CONTINUE_RE.search(done.text)
    assert found is not None and html.unescape(found.group(1)) == target


@pytest.mark.parametrize("value", HOSTILE[:6])
async def test_hostile_next_offers_no_continue(site: httpx2.AsyncClient, value: str) -> None:  # noqa: F811
    await site.get(f"/setup?next={quote(value, safe='')}")
    token = await sign_up(site)
    assert token.startswith("mcpg_")
    done = await site.get("/setup")
    assert CONTINUE_RE.search(done.text) is None and "evil" not in done.text
