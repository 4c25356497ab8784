"""Signed attachment links end to end: HTTP client -> mcpgram's route -> Telethon -> sandbox.

A hostile table of links is refused, each without a single Telegram call (the sandbox counts RPCs);
a genuine one streams the exact bytes, whole or by range, after a restart too, and under a rotated
key ring; and the capability never reaches a log line.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastmcp.client.elicitation import ElicitResult
from mcp import MCPError
from telethon.tl import types

from mcpgram.app import Gateway, build_gateway, serve_http
from mcpgram.policy.book import PolicyBook
from mcpgram.policy.model import PROFILES, Policy, Scope
from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.messaging import Changes, post
from mcpgram.sandbox.world import Content, user_peer
from mcpgram.signing import mint, open_capability
from mcpgram.vault.vault import Vault
from mcpgram.web.links import AttachmentLinks

from .conftest import ALICE, CAROL, People, login_token, settings_for

pytestmark = [pytest.mark.e2e]

KEY_1 = "1:" + "k" * 40
KEY_2 = "2:" + "j" * 40
SIZE = 1_300_000  # more than one 1 MiB block of upload.getFile windows
DATA = os.urandom(SIZE)


@dataclass
class Setup:
    sandbox: SandboxServer
    people: People
    data_dir: Path
    vault: Vault
    alice: str
    carol: str
    ref: tuple[int, int, int]
    text_message: int


@pytest.fixture
async def setup(sandbox: SandboxServer, people: People, tmp_path: Path, vault_for: Any) -> Setup:
    settings = settings_for(sandbox, tmp_path / "data", transport="http", port=0)
    vault = vault_for(settings)
    alice = await login_token(sandbox, settings, vault, ALICE, "alice")
    carol = await login_token(sandbox, settings, vault, CAROL, "carol")
    world = sandbox.world
    name = types.DocumentAttributeFilename(file_name='отчёт "Q4".pdf')
    stored = world.add_file("document", DATA, mime_type="application/pdf", attributes=[name])
    sent = post(
        world,
        Changes(),
        sender_id=people.alice,
        peer=user_peer(people.bob),
        content=Content(media_id=stored.id, media_kind="document"),
    )
    text = post(
        world, Changes(), sender_id=people.alice, peer=user_peer(people.bob), content=Content(text="hi")
    )
    return Setup(
        sandbox, people, tmp_path / "data", vault, alice, carol, (people.bob, sent.id, stored.id), text.id
    )


@contextlib.asynccontextmanager
async def running(setup: Setup, **overrides: Any) -> AsyncIterator[tuple[str, Gateway]]:
    """A gateway on a free port over the setup's data dir (same server secret: a restart)."""
    settings = settings_for(setup.sandbox, setup.data_dir, transport="http", port=0, **overrides)
    gateway = build_gateway(settings, transport="http")
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_http(gateway, ready=bound.set_result))
    try:
        port = await asyncio.wait_for(bound, 10)
        yield f"http://127.0.0.1:{port}", gateway
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def links(gateway: Gateway, *, clock: Callable[[], float] | None = None) -> AttachmentLinks:
    extra = {"clock": clock} if clock is not None else {}
    return AttachmentLinks(keyring=gateway.attachments.keyring, vault=gateway.vault, ttl=900, **extra)


def link_for(
    gateway: Gateway,
    setup: Setup,
    base: str,
    token: str | None = None,
    *,
    approved: bool = False,
    **kwargs: Any,
) -> str:
    token = token or setup.alice
    keys = gateway.vault.unlock_with_token(token)
    return links(gateway, **kwargs).url(keys, token, setup.ref, "full", origin=base, approved=approved)


def mcp_client(base: str, token: str, **kwargs: Any) -> Any:
    from fastmcp import Client
    from fastmcp.client.transports import StreamableHttpTransport

    transport = StreamableHttpTransport(f"{base}/v1/mcp", headers={"Authorization": f"Bearer {token}"})
    return Client(transport, **kwargs)


def getfile_calls(sandbox: SandboxServer) -> int:
    return sandbox.rpc_counts["upload.getFile"]


def rpc_total(sandbox: SandboxServer) -> int:
    return sum(sandbox.rpc_counts.values())


async def test_a_link_streams_the_exact_file_with_safe_headers(setup: Setup) -> None:
    async with running(setup) as (base, gateway), httpx.AsyncClient() as http:
        url = link_for(gateway, setup, base)
        assert url.startswith(base + "/v1/attachments/")
        response = await http.get(url)
        head = await http.head(url)
    assert response.status_code == 200
    assert response.content == DATA
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"_____ _Q4_.pdf\"; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%20_Q4_.pdf"
    )
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["accept-ranges"] == "bytes"
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(SIZE)


RANGES = {
    "bytes=0-0": (0, 1),
    "bytes=100-4195": (100, 4196),
    "bytes=1048570-1048600": (1048570, 1048601),  # across the first 1 MiB block
    "bytes=1000000-": (1000000, SIZE),
    "bytes=-1": (SIZE - 1, SIZE),
    "bytes=-70000": (SIZE - 70000, SIZE),
    f"bytes=5-{SIZE * 2}": (5, SIZE),
}


async def test_ranges_return_exactly_those_bytes(setup: Setup) -> None:
    async with running(setup) as (base, gateway), httpx.AsyncClient() as http:
        url = link_for(gateway, setup, base)
        for header, (start, end) in RANGES.items():
            response = await http.get(url, headers={"Range": header})
            assert response.status_code == 206, header
            assert response.content == DATA[start:end], header
            assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{SIZE}", header
            assert response.headers["content-length"] == str(end - start), header
        several = await http.get(url, headers={"Range": "bytes=0-1,5-6"})
        past = await http.get(url, headers={"Range": f"bytes={SIZE}-"})
        head = await http.head(url, headers={"Range": "bytes=10-19"})
    assert several.status_code == 200 and several.content == DATA
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{SIZE}"
    assert past.json()["error"] == "RANGE_NOT_SATISFIABLE"
    assert head.status_code == 206 and head.headers["content-length"] == "10" and head.content == b""


def _raw(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _flip(text: str, index: int) -> str:
    raw = bytearray(_raw(text))
    raw[index] ^= 0x80
    return _b64(bytes(raw))


def _capability(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def test_hostile_links_are_refused_without_touching_telegram(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(setup) as (base, gateway), httpx.AsyncClient() as http:
        keyring = gateway.attachments.keyring
        good = _capability(link_for(gateway, setup, base))
        cap = open_capability(keyring, good, now=0)
        carol_keys = gateway.vault.unlock_with_token(setup.carol)
        expired = _capability(link_for(gateway, setup, base, clock=lambda: 1_000_000))
        hostile = {
            "tampered ciphertext": (_flip(good, 40), 404),
            "tampered route": (_flip(good, 4), 404),
            "truncated": (good[:-3], 404),
            "truncated to the header": (good[:14], 404),
            "wrong key id": (_b64(_raw(good)[:1] + b"\x09" + _raw(good)[2:]), 404),
            "expired": (expired, 410),
            # Sealed with the server's own key (an insider's forgery): Carol's id, Alice's data key.
            "another tenant's id": (mint(keyring, replace(cap, tenant_id=carol_keys.tenant_id)), 404),
            "an unknown tenant": (mint(keyring, replace(cap, tenant_id="tnt_00000000deadbeef")), 404),
            "an older token generation": (mint(keyring, replace(cap, key_version=cap.key_version - 1)), 404),
            "garbage": ("not-a-capability", 404),
            "a bearer token": (setup.alice, 404),
            "empty": ("", 404),
            "a longer path": (good + "/x", 404),
            "oversized": ("A" * 4000, 404),
        }
        before = rpc_total(setup.sandbox)
        for name, (text, status) in hostile.items():
            response = await http.get(f"{base}/v1/attachments/{text}")
            assert response.status_code == status, name
            body = response.json()
            assert set(body) == {"error", "message"}, name
            assert body["error"] in {"ATTACHMENT_NOT_FOUND", "ATTACHMENT_EXPIRED"}, name
            assert response.headers["cache-control"] == "no-store"
        assert rpc_total(setup.sandbox) == before, "a refused link reached Telegram"
        post_ = await http.post(f"{base}/v1/attachments/{good}")
        assert post_.status_code == 405
    # The server's own lines (the test's HTTP client logs its URLs; the server must not).
    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__}"
        for record in caplog.records
        if not record.name.startswith("http")
    )
    assert good not in logged and good[10:60] not in logged
    assert "/v1/attachments/[redacted]" in logged


async def test_another_message_is_refused_before_any_file_read(setup: Setup) -> None:
    """A link whose message holds other media (or none) never downloads a byte."""
    async with running(setup) as (base, gateway), httpx.AsyncClient() as http:
        keyring = gateway.attachments.keyring
        cap = open_capability(keyring, _capability(link_for(gateway, setup, base)), now=0)
        other = mint(keyring, replace(cap, message=setup.text_message))
        missing = mint(keyring, replace(cap, message=cap.message + 1000))
        before = getfile_calls(setup.sandbox)
        assert (await http.get(f"{base}/v1/attachments/{other}")).status_code == 404
        assert (await http.get(f"{base}/v1/attachments/{missing}")).status_code == 404
        assert getfile_calls(setup.sandbox) == before


async def test_rotating_or_revoking_the_token_ends_its_links(setup: Setup) -> None:
    async with running(setup) as (base, gateway), httpx.AsyncClient() as http:
        url = link_for(gateway, setup, base)
        assert (await http.head(url)).status_code == 200
        new_token = gateway.vault.rotate(setup.alice)
        before = rpc_total(setup.sandbox)
        assert (await http.get(url)).status_code == 404
        assert rpc_total(setup.sandbox) == before
        fresh = link_for(gateway, setup, base, token=new_token)
        assert (await http.head(fresh)).status_code == 200
        carol_url = link_for(gateway, setup, base, token=setup.carol)
        gateway.vault.revoke(gateway.vault.authenticate(setup.carol).tenant_id)
        before = rpc_total(setup.sandbox)
        assert (await http.get(carol_url)).status_code == 404
        assert rpc_total(setup.sandbox) == before


def set_policy(gateway: Gateway, token: str, policy: Policy) -> None:
    """What ``mcpgram policy set`` stores for the token's tenant (read again at every download)."""
    PolicyBook(gateway.vault, "all").set(gateway.vault.authenticate(token).tenant_id, policy)


async def test_a_policy_without_download_refuses_before_telegram(setup: Setup) -> None:
    """A valid policy denying only download: reading still works (through MCP), the link is refused
    (403 NOT_ALLOWED) before any Telegram call."""
    async with running(setup) as (base, gateway), httpx.AsyncClient() as http:
        url = link_for(gateway, setup, base)
        set_policy(gateway, setup.alice, PROFILES["all"].with_rules({"download": "deny"}))
        tenant = gateway.vault.authenticate(setup.alice).tenant_id
        stored = PolicyBook(gateway.vault, "all").get(tenant)
        assert stored.rule("read") == "allow" and stored.rule("download") == "deny"
        async with mcp_client(base, setup.alice) as client:
            listed = await client.call_tool("get_messages", {"chat": setup.people.bob, "limit": 1})
        assert json.loads(listed.content[0].text)["messages"]  # type: ignore[union-attr]
        before = rpc_total(setup.sandbox)
        response = await http.get(url)
        assert rpc_total(setup.sandbox) == before
    assert response.status_code == 403
    assert response.json()["error"] == "NOT_ALLOWED"


async def test_a_link_to_a_chat_outside_the_read_scope_is_refused(setup: Setup) -> None:
    """Bob's chat left out of the read scope after the link was made: 403 NOT_ALLOWED, no file read."""
    async with running(setup) as (base, gateway), httpx.AsyncClient() as http:
        url = link_for(gateway, setup, base)
        assert (await http.head(url)).status_code == 200
        set_policy(gateway, setup.alice, replace(PROFILES["all"], read=Scope.parse(["@carol_e2e"])))
        before = getfile_calls(setup.sandbox)
        response = await http.get(url)
        assert getfile_calls(setup.sandbox) == before
    assert response.status_code == 403
    assert response.json()["error"] == "NOT_ALLOWED"


@pytest.mark.parametrize("verb", ["download", "read"])
async def test_under_approve_only_a_link_of_an_approved_download_is_served(setup: Setup, verb: str) -> None:
    """download (or read) = approve: a link made before (no person approved it) is refused with
    APPROVAL_REQUIRED before Telegram, saying to ask again; a link minted by an approved download
    serves its file; deny refuses even that one."""
    async with running(setup) as (base, gateway), httpx.AsyncClient() as http:
        plain = link_for(gateway, setup, base)
        approved = link_for(gateway, setup, base, approved=True)
        assert (await http.head(plain)).status_code == 200
        set_policy(gateway, setup.alice, PROFILES["all"].with_rules({verb: "approve"}))  # type: ignore[dict-item]
        before = rpc_total(setup.sandbox)
        refused = await http.get(plain)
        assert rpc_total(setup.sandbox) == before
        served = await http.get(approved, headers={"Range": "bytes=0-99"})
        set_policy(gateway, setup.alice, PROFILES["all"].with_rules({verb: "deny"}))  # type: ignore[dict-item]
        denied = await http.get(approved)
    assert refused.status_code == 403 and refused.json()["error"] == "APPROVAL_REQUIRED"
    assert "download_media" in refused.json()["message"]
    assert served.status_code == 206 and served.content == DATA[:100]
    assert denied.status_code == 403 and denied.json()["error"] == "NOT_ALLOWED"


async def test_a_link_works_after_a_restart_and_under_a_rotated_key_ring(setup: Setup) -> None:
    async with running(setup, attachment_keys=KEY_1) as (base, gateway):
        url = link_for(gateway, setup, base)
        default_url = None
    path = url.removeprefix(base)
    async with (
        running(setup, attachment_keys=f"{KEY_2},{KEY_1}") as (base, gateway),
        httpx.AsyncClient() as http,
    ):
        response = await http.get(base + path, headers={"Range": "bytes=0-99"})
        assert response.status_code == 206 and response.content == DATA[:100]
        assert _raw(_capability(link_for(gateway, setup, base)))[1] == 2  # new links: the new key
    async with running(setup, attachment_keys=KEY_2) as (base, gateway), httpx.AsyncClient() as http:
        assert (await http.get(base + path)).status_code == 404  # key 1 retired
    assert default_url is None


async def test_a_file_over_the_cap_is_refused(setup: Setup) -> None:
    async with running(setup, attachment_max_bytes=SIZE - 1) as (base, gateway), httpx.AsyncClient() as http:
        before = getfile_calls(setup.sandbox)
        response = await http.get(link_for(gateway, setup, base))
    assert response.status_code == 403
    assert response.json()["error"] == "ATTACHMENT_TOO_LARGE"
    assert getfile_calls(setup.sandbox) == before


async def test_download_media_over_http_links_a_working_signed_url(setup: Setup) -> None:
    """A file too big to embed comes back from the tool as a signed link that serves its bytes."""
    from fastmcp import Client
    from fastmcp.client.transports import StreamableHttpTransport

    async with running(setup) as (base, _), httpx.AsyncClient() as http:
        transport = StreamableHttpTransport(
            f"{base}/v1/mcp", headers={"Authorization": f"Bearer {setup.alice}"}
        )
        async with Client(transport) as client:
            listed = await client.call_tool("get_messages", {"chat": setup.people.bob, "limit": 5})
            messages = json.loads(listed.content[0].text)["messages"]
            handle = next(m["media"]["handle"] for m in messages if m["id"] == setup.ref[1])
            result = await client.call_tool("download_media", {"handle": handle})
        links = [block for block in result.content if block.type == "resource_link"]
        assert len(links) == 1
        url = str(links[0].uri)
        assert url.startswith(f"{base}/v1/attachments/")
        response = await http.get(url)
    assert response.status_code == 200 and response.content == DATA


async def test_refused_links_count_toward_the_address_lockout(setup: Setup) -> None:
    async with running(setup, auth_failures_per_minute=3) as (base, gateway), httpx.AsyncClient() as http:
        good = link_for(gateway, setup, base)
        answers = [(await http.get(f"{base}/v1/attachments/forged{i}")).status_code for i in range(4)]
        locked = await http.get(good)
    assert answers == [404, 404, 404, 429]
    assert locked.status_code == 429  # a locked address gets nothing, links included


async def test_a_client_that_leaves_stops_the_telegram_reads(setup: Setup) -> None:
    """Once the client is gone, no more windows are read from Telegram for nobody."""
    world = setup.sandbox.world
    big = world.add_file("document", os.urandom(24 * 1024 * 1024), mime_type="application/zip")
    sent = post(
        world,
        Changes(),
        sender_id=setup.people.alice,
        peer=user_peer(setup.people.bob),
        content=Content(media_id=big.id),
    )
    async with running(setup) as (base, gateway):
        keys = gateway.vault.unlock_with_token(setup.alice)
        url = links(gateway).url(keys, setup.alice, (setup.people.bob, sent.id, big.id), "full", origin=base)
        before = getfile_calls(setup.sandbox)
        port = int(base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        path = url.removeprefix(base)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        await reader.readuntil(b"\r\n\r\n")
        await reader.read(1024)
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(1.0)
        read = getfile_calls(setup.sandbox) - before
        await asyncio.sleep(0.5)
        assert getfile_calls(setup.sandbox) - before == read  # stopped, not still going
    assert read < 48  # 24 MiB is 48 windows of 512 KiB: far from all of them were read


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_a_100_mb_file_uploaded_by_telethon_comes_back_through_a_link_byte_identical(
    setup: Setup, tmp_path: Path
) -> None:
    """Issue 11: 100 MB sent to the sandbox by a real Telethon upload (saveBigFilePart) and read back
    through the gateway's signed link, streamed: the same bytes (sha256), and a range at its end."""
    import hashlib

    from ..sandbox.conftest import login, new_client

    data = os.urandom(100 * 1024 * 1024)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    uploader = new_client(setup.sandbox)
    try:
        await login(uploader, setup.sandbox, ALICE)
        sent = await uploader.send_file("bob_e2e", source, force_document=True)
    finally:
        await uploader.disconnect()  # type: ignore[func-returns-value]
    media = sent.media.document
    ref = (setup.people.bob, sent.id, media.id)
    async with running(setup) as (base, gateway), httpx.AsyncClient(timeout=120) as http:
        keys = gateway.vault.unlock_with_token(setup.alice)
        url = links(gateway).url(keys, setup.alice, ref, "full", origin=base)
        digest, total = hashlib.sha256(), 0
        async with http.stream("GET", url) as response:
            assert response.status_code == 200
            assert response.headers["content-length"] == str(len(data))
            async for chunk in response.aiter_bytes():
                digest.update(chunk)
                total += len(chunk)
        tail = await http.get(url, headers={"Range": "bytes=-70000"})
    assert total == len(data) and digest.digest() == hashlib.sha256(data).digest()
    assert tail.status_code == 206 and tail.content == data[-70000:]


async def test_download_media_under_approve_asks_the_person_and_its_link_is_served(setup: Setup) -> None:
    """download = approve, a 2026-07-28 client over HTTP: download_media asks (the page), and once
    approved its link serves the file (minting it was the approved act); each call asks anew, and
    a refused one gets no link."""
    from .test_approvals_http import press

    decisions = ["approve", "refuse"]
    urls: list[str] = []

    async def person(message: str, response_type: Any, params: Any, context: Any) -> Any:
        urls.append(params.url)
        assert (await press(params.url, decisions[len(urls) - 1], setup.alice)).status_code == 200
        return ElicitResult(action="accept")

    async with running(setup) as (base, gateway), httpx.AsyncClient() as http:
        set_policy(gateway, setup.alice, PROFILES["all"].with_rules({"download": "approve"}))
        async with mcp_client(base, setup.alice, elicitation_handler=person) as client:
            listed = await client.call_tool("get_messages", {"chat": setup.people.bob, "limit": 5})
            messages = json.loads(listed.content[0].text)["messages"]
            handle = next(m["media"]["handle"] for m in messages if m["id"] == setup.ref[1])
            result = await client.call_tool("download_media", {"handle": handle})
            refused = await client.call_tool("download_media", {"handle": handle}, raise_on_error=False)
        (link,) = [block for block in result.content if block.type == "resource_link"]
        response = await http.get(str(link.uri))
    assert len(urls) == 2 and all(url.startswith(f"{base}/approve/") for url in urls)
    assert response.status_code == 200 and response.content == DATA
    assert refused.is_error and refused.content[0].text.startswith("APPROVAL_REFUSED: ")
    assert not [block for block in refused.content if block.type == "resource_link"]


async def test_the_media_resource_under_approve_asks_the_person_on_the_page(setup: Setup) -> None:
    """download = approve, a 2026-07-28 client over HTTP reading mcpgram://media: the read answers
    input-required with the approval page (not an opaque error); approved there, the retried read
    returns the file's bytes; refused, the read is an APPROVAL_REFUSED error. A chat resource under
    read = approve asks the same way."""
    from .test_approvals_http import press

    decisions = ["approve", "refuse", "approve"]
    urls: list[str] = []

    async def person(message: str, response_type: Any, params: Any, context: Any) -> Any:
        urls.append(params.url)
        assert (await press(params.url, decisions[len(urls) - 1], setup.alice)).status_code == 200
        return ElicitResult(action="accept")

    async with (
        running(setup, download_resource_max_bytes=2 * SIZE) as (base, gateway),
        mcp_client(base, setup.alice, elicitation_handler=person) as client,
    ):
        listed = await client.call_tool("get_messages", {"chat": setup.people.bob, "limit": 5})
        messages = json.loads(listed.content[0].text)["messages"]
        handle = next(m["media"]["handle"] for m in messages if m["id"] == setup.ref[1])
        set_policy(gateway, setup.alice, PROFILES["all"].with_rules({"download": "approve"}))
        contents = await client.read_resource(f"mcpgram://media/{handle}")
        with pytest.raises(MCPError, match="APPROVAL_REFUSED"):
            await client.read_resource(f"mcpgram://media/{handle}")
        set_policy(gateway, setup.alice, PROFILES["all"].with_rules({"read": "approve"}))
        chat = await client.read_resource(f"telegram://chats/{setup.people.bob}")  # the same for reads
    assert json.loads(chat[0].text)["id"] == setup.people.bob  # type: ignore[union-attr]
    assert len(urls) == 3 and urls[0].startswith(f"{base}/approve/")
    assert base64.b64decode(contents[0].blob) == DATA  # type: ignore[union-attr]
