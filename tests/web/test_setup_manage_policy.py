"""/setup/manage: the tenant's recent audit entries (its own only, never content) and tightening its
own policy through the policy book (loosening refused), with CSRF like every form."""

from __future__ import annotations

import re

import httpx2
import pytest

from tests.web.test_setup import csrf, post, sandbox, sign_up, site  # noqa: F401 (fixtures)

OTHER_TENANT = "tnt_someoneelse0000000000"


def rules(text: str) -> dict[str, str]:
    return dict(re.findall(r"<tr><td>([a-z_]+)</td><td>(allow|approve|deny)</td></tr>", text))


async def test_manage_lists_this_tenants_audit_entries_only(site: httpx2.AsyncClient) -> None:  # noqa: F811
    await sign_up(site)
    tenant = re.search(r"Tenant <code>(tnt_[^<]+)</code>", (await site.get("/setup/manage")).text)
    assert tenant is not None
    journal = site.gateway.journal  # type: ignore[attr-defined]
    assert journal is not None
    journal.record(tenant.group(1), "send_message", -100123456, "ok", b"hello secret", kind="write")
    journal.record(tenant.group(1), "messages.deleteHistory", None, "NOT_ALLOWED", b"raw bytes")
    journal.record(OTHER_TENANT, "forward_messages", -100999888, "ok", b"their text", kind="write")
    page = (await site.get("/setup/manage")).text
    assert "send_message" in page and "-100123456" in page and "NOT_ALLOWED" in page
    assert "messages.deleteHistory" in page
    assert page.index("messages.deleteHistory") < page.index("send_message")  # newest first
    assert "forward_messages" not in page and "-100999888" not in page and OTHER_TENANT not in page
    assert "secret" not in page and "raw bytes" not in page
    assert not re.search(r"[0-9a-f]{40,}", page)  # no content digest either


async def test_manage_tightens_and_refuses_loosening(site: httpx2.AsyncClient) -> None:  # noqa: F811
    await sign_up(site)
    before = rules((await site.get("/setup/manage")).text)
    assert before["send"] in ("allow", "approve")
    answer = await post(site, "manage/tighten", deny="send")
    assert answer.status_code == 200 and "Policy tightened" in answer.text
    assert rules(answer.text)["send"] == "deny"
    # Going back to a profile that allows send is loosening: refused, nothing changed.
    refused = await post(site, "manage/tighten", profile="all")
    assert "Not changed" in refused.text and "verbs.send" in refused.text
    assert rules((await site.get("/setup/manage")).text)["send"] == "deny"
    reader = await post(site, "manage/tighten", profile="reader")
    assert "Policy tightened" in reader.text
    after = rules(reader.text)
    assert after["send"] == "deny" and after["read"] == "allow" and "<strong>reader</strong>" in reader.text
    # The gateway applies it: the policy book now holds the tenant's tightened policy.
    vault = site.gateway.vault  # type: ignore[attr-defined]
    tenant = re.search(r"Tenant <code>(tnt_[^<]+)</code>", reader.text)
    assert tenant is not None and vault.load_policy(tenant.group(1)) is not None


@pytest.mark.parametrize(
    "fields",
    [{"profile": "root"}, {"deny": "launch_missiles"}, {}, {"profile": "<script>"}],
    ids=["profile", "verb", "nothing", "markup"],
)
async def test_manage_tighten_refuses_unknown_choices(
    site: httpx2.AsyncClient,  # noqa: F811
    fields: dict[str, str],
) -> None:
    await sign_up(site)
    assert (await post(site, "manage/tighten", **fields)).status_code == 400


async def test_manage_tighten_needs_csrf_and_a_sign_in(site: httpx2.AsyncClient) -> None:  # noqa: F811
    await sign_up(site)
    await csrf(site)
    assert (await site.post("/setup/manage/tighten", data={"deny": "send"})).status_code == 403
    forged = await site.post("/setup/manage/tighten", data={"deny": "send", "csrf": "x" * 43})
    assert forged.status_code == 403
    await post(site, "manage/signout")
    assert (await post(site, "manage/tighten", deny="send")).status_code == 403
