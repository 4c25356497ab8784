"""``serve --workers 2``: the front routes each tenant to one worker process, and holds the edge's promises.

Real parts throughout: the front in this process, two spawned worker processes (whole gateways),
Telethon in them, the sandbox in this process. Alice and Carol are made to land on different
workers, so every assertion about isolation crosses a process boundary.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import pytest_asyncio
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport

from mcpgram.sandbox import SandboxServer, World
from mcpgram.testing import login_tenant, sandbox_telegram_config
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault
from mcpgram.web.edge import EdgeLimits
from mcpgram.web.front import FrontServer
from mcpgram.web.frontwire import worker_index
from mcpgram.web.relay import WorkerRelay
from mcpgram.web.upstream import WorkerLink
from mcpgram.workers import serve_workers

from ..web.conftest import INITIALIZE, MCP_ACCEPT
from .conftest import ALICE, CAROL, People, populate, self_signed, settings_env, settings_for
from .eras import ERAS, era_client, offering, tool_round

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

OPERATOR = "op-" + "x" * 40
UNKNOWN = "mcpg_" + "A" * 43  # well-formed, never issued
PROTOCOL = {**MCP_ACCEPT, "Content-Type": "application/json"}
INIT = INITIALIZE


@dataclass
class Deployment:
    base: str
    port: int
    alice: str
    carol: str
    people: People
    sockets: list[str]
    data_dir: Path
    settings: Any
    sandbox: SandboxServer


async def _login(sandbox: SandboxServer, settings: Any, vault: Vault, phone: str, token: str) -> None:
    keys = vault.unlock_with_token(token)
    await login_tenant(
        sandbox_telegram_config(sandbox, settings), vault, keys, phone=phone, code=phone[5] * 5
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def deployment(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    async with SandboxServer(World()) as sandbox:
        people = populate(sandbox.world)
        data = tmp_path_factory.mktemp("workers") / "data"
        settings = settings_for(
            sandbox,
            data,
            transport="http",
            port=0,
            workers=2,
            operator_token=OPERATOR,
            auth_failures_per_minute=1000,  # the lockout test runs its own front with a low limit
        )
        from mcpgram.workers import prepare_data_dir

        prepare_data_dir(settings)
        store = SQLiteVault(data / "vault.db")
        from mcpgram.datadir import server_secret_bytes

        vault = Vault(store, server_secret=server_secret_bytes(settings))
        _, alice = vault.create_tenant("alice")
        carol = alice
        while worker_index(carol, 2) == worker_index(alice, 2):
            _, carol = vault.create_tenant("carol")
        await _login(sandbox, settings, vault, ALICE, alice)
        await _login(sandbox, settings, vault, CAROL, carol)
        store.close()
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(serve_workers(settings, ready=bound.set_result))
        port = await asyncio.wait_for(bound, 90)
        sockets = [path for _, path in sorted(worker_processes().values())]
        yield Deployment(
            f"http://127.0.0.1:{port}", port, alice, carol, people, sockets, data, settings, sandbox
        )
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def mcp_client(base: str, token: str) -> Client[Any]:
    return Client(StreamableHttpTransport(f"{base}/v1/mcp", headers={"Authorization": f"Bearer {token}"}))


async def chat_ids(base: str, token: str) -> set[int]:
    async with mcp_client(base, token) as client:
        result = await client.call_tool("find_chats", {})
    return {chat["id"] for chat in json.loads(result.content[0].text)["chats"]}


async def test_each_tenant_sees_only_its_own_chats_across_workers(deployment: Deployment) -> None:
    people = deployment.people
    assert worker_index(deployment.alice, 2) != worker_index(deployment.carol, 2)
    alice, carol = await asyncio.gather(
        chat_ids(deployment.base, deployment.alice), chat_ids(deployment.base, deployment.carol)
    )
    assert alice == {people.bob}
    assert carol == {people.bob}
    async with mcp_client(deployment.base, deployment.carol) as client:
        refused = await client.call_tool("get_messages", {"chat": str(people.alice)}, raise_on_error=False)
    assert refused.is_error
    assert "CHAT_NOT_FOUND" in refused.content[0].text


async def test_a_session_follows_its_token_on_fresh_connections(deployment: Deployment) -> None:
    """Each request on its own connection still reaches the worker holding the MCP session."""
    headers = {**PROTOCOL, "Authorization": f"Bearer {deployment.alice}"}
    async with httpx.AsyncClient(base_url=deployment.base) as http:
        opened = await http.post("/v1/mcp", json=INIT, headers=headers)
    session = {**headers, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
    for attempt in range(6):
        async with httpx.AsyncClient(base_url=deployment.base) as http:
            listed = await http.post(
                "/v1/mcp", json={"jsonrpc": "2.0", "id": attempt + 2, "method": "tools/list"}, headers=session
            )
        assert listed.status_code == 200, listed.text
        assert listed.json()["result"]["tools"]


async def test_one_connection_carrying_two_tenants_is_routed_per_request(deployment: Deployment) -> None:
    """What a reverse proxy with pooled upstream connections does: tenants mixed on one connection."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=deployment.base, limits=limits) as http:
        sessions = {}
        for token in (deployment.alice, deployment.carol):
            headers = {**PROTOCOL, "Authorization": f"Bearer {token}"}
            opened = await http.post("/v1/mcp", json=INIT, headers=headers)
            assert opened.status_code == 200
            sessions[token] = {**headers, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
        for round_ in range(3):
            for token, headers in sessions.items():
                call = {"jsonrpc": "2.0", "id": 10 + round_, "method": "tools/call"}
                call["params"] = {"name": "find_chats", "arguments": {}}
                answer = await http.post("/v1/mcp", json=call, headers=headers)
                assert answer.status_code == 200, (token == deployment.alice, answer.text)


@pytest.mark.parametrize(
    ("headers", "path", "status", "code"),
    [
        pytest.param({}, "/v1/mcp", 401, None, id="no token"),
        pytest.param(
            {"Authorization": "Bearer ../../etc/passwd"}, "/v1/mcp", 401, None, id="traversal token"
        ),
        pytest.param({"Authorization": f"Bearer {UNKNOWN}"}, "/v1/mcp", 401, None, id="unknown token"),
        pytest.param({"Authorization": "Basic YWxpY2U6cHc="}, "/v1/mcp", 401, None, id="basic scheme"),
        pytest.param({}, "/v1/url_auth/mcpg_" + "B" * 43 + "/mcp", 401, None, id="url_auth unknown"),
        pytest.param({}, f"/v1/mcp?access_token={UNKNOWN}", 400, "TOKEN_IN_QUERY", id="token in query"),
        pytest.param({"Host": "evil.example"}, "/v1/mcp", 421, None, id="wrong host"),
        pytest.param({"Origin": "https://evil.example"}, "/v1/mcp", 403, None, id="wrong origin"),
        pytest.param(
            {"Authorization": "Bearer nope"}, "/health", 401, "NOT_AUTHENTICATED", id="bad operator"
        ),
    ],
)
async def test_hostile_requests_are_refused_through_the_front(
    deployment: Deployment, headers: dict[str, str], path: str, status: int, code: str | None
) -> None:
    async with httpx.AsyncClient(base_url=deployment.base) as http:
        if path == "/health":
            answer = await http.get(path, headers=headers)
        else:
            answer = await http.post(path, json=INIT, headers={**PROTOCOL, **headers})
    assert answer.status_code == status
    assert answer.headers["x-content-type-options"] == "nosniff"
    if code is not None:
        assert answer.json()["error"] == code


async def test_the_operator_sees_every_workers_pool_summed(deployment: Deployment) -> None:
    await asyncio.gather(
        chat_ids(deployment.base, deployment.alice), chat_ids(deployment.base, deployment.carol)
    )
    async with httpx.AsyncClient(base_url=deployment.base) as http:
        public = await http.get("/health")
        detailed = await http.get("/health", headers={"Authorization": f"Bearer {OPERATOR}"})
    assert public.json() == {"status": "ok"}
    assert detailed.status_code == 200
    body = detailed.json()
    assert body["workers"] == 2
    assert body["pool"]["active"] == 2  # one client per tenant, in two processes


async def test_an_attachment_link_is_served_by_its_tenants_worker(deployment: Deployment) -> None:
    """A link minted for Carol goes to Carol's worker: bytes arrive, and no second client is made."""
    from mcpgram.datadir import server_secret_bytes
    from mcpgram.sandbox.messaging import Changes, post
    from mcpgram.sandbox.world import Content, user_peer
    from mcpgram.signing import Keyring
    from mcpgram.web.links import AttachmentLinks

    world = deployment.sandbox.world
    data = os.urandom(300_000)
    stored = world.add_file("document", data, mime_type="application/zip")
    people = deployment.people
    sent = post(
        world,
        Changes(),
        sender_id=people.carol,
        peer=user_peer(people.bob),
        content=Content(media_id=stored.id),
    )
    secret = server_secret_bytes(deployment.settings)
    store = SQLiteVault(deployment.data_dir / "vault.db")
    try:
        vault = Vault(store, server_secret=secret)
        keyring = Keyring.from_secrets([], server_secret=secret)
        links = AttachmentLinks(keyring=keyring, vault=vault, ttl=60)
        keys = vault.unlock_with_token(deployment.carol)
        url = links.url(
            keys, deployment.carol, (people.bob, sent.id, stored.id), "full", origin=deployment.base
        )
    finally:
        store.close()
    await chat_ids(deployment.base, deployment.carol)  # Carol's client now lives in her worker
    operator = {"Authorization": f"Bearer {OPERATOR}"}
    async with httpx.AsyncClient(base_url=deployment.base) as http:
        created = (await http.get("/health", headers=operator)).json()["pool"]["created"]
        whole = await http.get(url)
        part = await http.get(url, headers={"Range": "bytes=-1000"})
        after = (await http.get("/health", headers=operator)).json()["pool"]["created"]
    assert whole.status_code == 200 and whole.content == data
    assert part.status_code == 206 and part.content == data[-1000:]
    assert after == created  # served by the worker that already held Carol's client


def _raw(port: int, data: bytes, *, read_until_close: bool = True, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close:
                break
        return b"".join(chunks)


def _status_line(response: bytes) -> bytes:
    return response.split(b"\r\n", 1)[0]


@pytest.mark.parametrize(
    ("case", "request_bytes", "status", "code"),
    [
        (
            "declared body over the limit",
            b"POST /v1/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999\r\n\r\n",
            413,
            b"BODY_TOO_LARGE",
        ),
        (
            "chunked body over the limit",
            b"POST /v1/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (b"100000\r\n" + b"a" * 0x100000 + b"\r\n") * 2,
            413,
            b"BODY_TOO_LARGE",
        ),
        (
            "oversized head",
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"p" * 70_000 + b"\r\n\r\n",
            431,
            b"HEADERS_TOO_LARGE",
        ),
        ("not HTTP", b"\x16\x03\x01\x02\x00garbage\r\n\r\n", 400, b"BAD_REQUEST"),
        (
            "protocol upgrade",
            b"GET /v1/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            400,
            b"UPGRADE_NOT_SUPPORTED",
        ),
    ],
)
async def test_the_front_refuses_what_it_must_not_forward(
    deployment: Deployment, case: str, request_bytes: bytes, status: int, code: bytes
) -> None:
    response = await asyncio.to_thread(_raw, deployment.port, request_bytes)
    assert _status_line(response).startswith(b"HTTP/1.1 %d" % status), (case, response[:200])
    assert code in response
    assert b"x-content-type-options: nosniff" in response.lower()


async def test_pipelined_requests_are_answered_in_order(deployment: Deployment) -> None:
    one = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    bad = b"POST /v1/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    response = await asyncio.to_thread(_raw, deployment.port, one + one + bad)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", response)
    assert statuses == [b"200", b"200", b"401"]


async def test_expect_continue_and_head_are_handled(deployment: Deployment) -> None:
    def expect_continue() -> tuple[bytes, bytes]:
        with socket.create_connection(("127.0.0.1", deployment.port), timeout=10) as sock:
            head = b"POST /v1/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
            sock.sendall(head + b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
            interim = sock.recv(1024)
            sock.sendall(b"{}")
            rest = b""
            while chunk := sock.recv(65536):
                rest += chunk
            return interim, rest

    interim, final = await asyncio.to_thread(expect_continue)
    assert interim.startswith(b"HTTP/1.1 100 Continue")
    assert _status_line(final) == b"HTTP/1.1 401 Unauthorized"
    head = await asyncio.to_thread(_raw, deployment.port, b"HEAD /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert _status_line(head) == b"HTTP/1.1 200 OK"
    assert head.endswith(b"\r\n\r\n")  # a head, no body


async def test_event_streams_flow_through_the_front(deployment: Deployment) -> None:
    headers = {**PROTOCOL, "Authorization": f"Bearer {deployment.carol}"}
    async with httpx.AsyncClient(base_url=deployment.base, timeout=10) as http:
        opened = await http.post("/v1/mcp", json=INIT, headers=headers)
        stream_headers = {**headers, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
        stream_headers["Accept"] = "text/event-stream"
        async with http.stream("GET", "/v1/mcp", headers=stream_headers) as stream:
            # The answer's head arrives while its body stays open: the front relays, not buffers.
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")


async def test_failed_authentications_lock_out_an_address_across_workers(deployment: Deployment) -> None:
    """Failures spread over both workers still add up: the front counts them, not each worker."""
    links = [WorkerLink(path) for path in deployment.sockets]
    server = FrontServer(
        WorkerRelay(links, max_body_bytes=1 << 20, auth_failures_per_minute=3), limits=EdgeLimits()
    )
    base = f"http://127.0.0.1:{await server.start()}"
    try:
        bad = [f"mcpg_{i:043d}" for i in range(40)]
        by_worker = {worker_index(token, 2) for token in bad[:3]}
        assert len(deployment.sockets) == 2
        async with httpx.AsyncClient(base_url=base) as http:
            statuses = []
            for token in bad[:3]:
                answer = await http.post(
                    "/v1/mcp", json=INIT, headers={**PROTOCOL, "Authorization": f"Bearer {token}"}
                )
                statuses.append(answer.status_code)
            locked = await http.post("/v1/mcp", json=INIT, headers=PROTOCOL)
        assert statuses == [401, 401, 401]
        assert len(by_worker) in (1, 2)
        assert locked.status_code == 429
        assert locked.json()["error"] == "TOO_MANY_FAILED_AUTHENTICATIONS"
        assert int(locked.headers["retry-after"]) >= 1
    finally:
        await server.stop()
        for link in links:
            link.close()


async def test_refused_attachment_links_lock_out_an_address_at_the_front(deployment: Deployment) -> None:
    """The workers' 404s for forged links add up at the front, as 401s do."""
    links = [WorkerLink(path) for path in deployment.sockets]
    server = FrontServer(
        WorkerRelay(links, max_body_bytes=1 << 20, auth_failures_per_minute=3), limits=EdgeLimits()
    )
    base = f"http://127.0.0.1:{await server.start()}"
    try:
        async with httpx.AsyncClient(base_url=base) as http:
            statuses = [(await http.get(f"/v1/attachments/forged{i}")).status_code for i in range(3)]
            locked = await http.get("/v1/attachments/forged")
        assert statuses == [404, 404, 404]
        assert locked.status_code == 429
    finally:
        await server.stop()
        for link in links:
            link.close()


async def test_the_front_terminates_tls_and_every_answer_carries_hsts(
    deployment: Deployment, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    settings = deployment.settings.model_copy(
        update={"tls_cert": cert, "tls_key": key, "data_dir": tmp_path / "data", "port": 0}
    )
    bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve_workers(settings, ready=bound.set_result))
    try:
        port = await asyncio.wait_for(bound, 90)
        context = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(verify=context, base_url=f"https://127.0.0.1:{port}") as http:
            relayed = await http.get("/health")  # a worker's answer
            refused = await http.post(  # the front's own
                "/v1/mcp", content=b"x" * 2_000_000, headers={"Content-Type": "application/json"}
            )
        assert relayed.status_code == 200
        assert refused.status_code == 413
        for answer in (relayed, refused):
            assert "max-age" in answer.headers["strict-transport-security"]
        plain = await asyncio.to_thread(
            _raw, port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", timeout=5
        )
        assert b"200 OK" not in plain  # no plain HTTP on a TLS port
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _serve_command(
    deployment: Deployment, data_dir: Path, program: tuple[str, ...] = ("-m", "mcpgram"), **env_extra: str
) -> tuple[asyncio.subprocess.Process, bytes]:
    """``mcpgram serve --workers 2`` in a subprocess, and its "serving" line once it listens."""
    env = settings_env(deployment.settings) | {"MCPGRAM_DATA_DIR": str(data_dir)} | env_extra
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *program, "serve", "--transport", "http", "--port", "0", "--workers", "2",
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None

    async def serving_line() -> bytes:
        # The server logs at INFO by default: the "serving" line comes after uvicorn's own lines.
        assert proc.stderr is not None
        seen = []
        while line := await proc.stderr.readline():
            if b"serving MCP at" in line:
                return line
            seen.append(line)
        # What the front and its workers said instead (a failed start explains itself here, in
        # full: an assertion's message would be cut short).
        said = b"".join(seen[-60:]).decode(errors="replace")
        pytest.fail(f"the front exited before its serving line; its and its workers' stderr:\n{said}", False)

    try:
        return proc, await asyncio.wait_for(serving_line(), 90)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise


async def _until_gone(pids: list[str], seconds: float, failure: str) -> None:
    for _ in range(int(seconds * 10)):
        if not [pid for pid in pids if os.path.exists(f"/proc/{pid}")]:  # noqa: ASYNC240
            return
        await asyncio.sleep(0.1)
    raise AssertionError(failure)


def _children(pid: int) -> list[str]:
    return _read(f"/proc/{pid}/task/{pid}/children").split()


def _read(path: str) -> str:
    with open(path) as file:
        return file.read()


async def test_the_serve_command_runs_workers_and_stops_them_on_sigterm(
    deployment: Deployment, tmp_path: Path
) -> None:
    """``mcpgram serve --workers 2`` as an operator runs it: a front without FastMCP, clean SIGTERM."""
    proc, line = await _serve_command(deployment, tmp_path / "data")
    try:
        found = re.search(rb"serving MCP at (http://[^/\s]+)/v1/mcp with 2 workers", line)
        assert found, line
        async with httpx.AsyncClient(base_url=found.group(1).decode()) as http:
            assert (await http.get("/health")).json() == {"status": "ok"}
        children = _children(proc.pid)
        assert len(children) >= 2
        maps = _read(f"/proc/{proc.pid}/maps")
        assert "pydantic_core" in maps  # settings
        # FastMCP stays in the workers. (uvicorn, the front's server too now, imports watchfiles,
        # once the sign of FastMCP here: the sign is now a front much smaller than any worker.)
        # The children: the two workers, and maybe multiprocessing's small resource tracker.
        front_kib, worker_kib = _rss_kib(proc.pid), sorted(_rss_kib(int(pid)) for pid in children)[-2]
        assert front_kib < worker_kib * 0.8, (front_kib, worker_kib)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
    # Workers are joined before the front exits; multiprocessing's helper follows within moments.
    await _until_gone(children, 5, "a worker process outlived the front")


def _rss_kib(pid: int) -> int:
    for line in _read(f"/proc/{pid}/status").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


async def test_workers_stop_when_the_front_is_killed(deployment: Deployment, tmp_path: Path) -> None:
    """No orphans: a front that dies without a word (SIGKILL) takes its workers with it."""
    proc, line = await _serve_command(deployment, tmp_path / "data")
    try:
        assert b"with 2 workers" in line, line
        children = _children(proc.pid)
    finally:
        proc.kill()
        await proc.wait()
    await _until_gone(children, 20, "workers outlived a killed front")


async def test_a_killed_worker_is_replaced_and_the_other_keeps_serving(deployment: Deployment) -> None:
    """Runs last in this module: it kills Alice's worker."""
    alice_worker = worker_index(deployment.alice, 2)
    victim = worker_processes()[alice_worker][0]
    os.kill(victim, signal.SIGKILL)
    assert await chat_ids(deployment.base, deployment.carol) == {deployment.people.bob}
    deadline = time.monotonic() + 60
    while True:
        try:
            assert await chat_ids(deployment.base, deployment.alice) == {deployment.people.bob}
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


#: ``mcpgram serve`` with worker 1 turned flaky once $MCPGRAM_TEST_FLAKY exists: each start adds a
#: byte to it; the first two starts die at once, later ones hang without ever listening.
FLAKY_SERVE = """
import os, sys, time
from mcpgram import workers
_real_worker_main = workers._worker_main

def flaky_worker_main(spec, ready):
    marker = os.environ["MCPGRAM_TEST_FLAKY"]
    if spec.index == 1 and os.path.exists(marker):
        with open(marker, "a") as file:
            file.write("x")
        if os.path.getsize(marker) <= 2:
            os._exit(3)
        time.sleep(3600)
    _real_worker_main(spec, ready)

workers._worker_main = flaky_worker_main

if __name__ == "__main__":
    from mcpgram.cli import main
    raise SystemExit(main(sys.argv[1:]))
"""


@pytest.mark.timeout(150)
async def test_a_crash_looping_worker_neither_holds_up_the_others_nor_shutdown(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Worker 1 dies at start twice, then hangs starting: worker 0 is still restarted, SIGTERM is quick."""
    script, marker = tmp_path / "flaky_serve.py", tmp_path / "flaky"
    script.write_text(FLAKY_SERVE)
    proc, line = await _serve_command(
        deployment, tmp_path / "data", (str(script),), MCPGRAM_TEST_FLAKY=str(marker)
    )
    try:
        assert b"with 2 workers" in line, line
        before = worker_processes(proc.pid)
        marker.touch()
        os.kill(before[1][0], signal.SIGKILL)
        for _ in range(600):  # died twice (backoff 1-2 s, then 4 s), now hanging in its third start
            if marker.stat().st_size >= 3:
                break
            await asyncio.sleep(0.1)
        assert marker.stat().st_size >= 3, "worker 1 was not restarted three times"
        os.kill(before[0][0], signal.SIGKILL)
        for _ in range(400):  # worker 0 comes back while worker 1 is still stuck starting
            now = worker_processes(proc.pid)
            if 0 in now and now[0][0] != before[0][0]:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("worker 0 was not restarted while worker 1 was crash-looping")
        async with httpx.AsyncClient(base_url=line.split(b" at ")[1].split(b"/v1/")[0].decode()) as http:
            assert (await http.post("/v1/mcp", json={})).status_code == 401  # worker 0 serves
        children = _children(proc.pid)
    finally:
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 60)
    assert time.monotonic() - started < 10
    assert code == 0
    await _until_gone(children, 5, "a worker process outlived the front")


def worker_processes(parent: int | None = None) -> dict[int, tuple[int, str]]:
    """Worker index -> (pid, socket path), for ``parent``'s children listening on a worker socket."""
    parent = os.getpid() if parent is None else parent
    listening: dict[str, str] = {}  # socket inode -> path
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and "/mcpgram-workers-" in fields[7]:
            listening[fields[6]] = fields[7]
    found: dict[int, tuple[int, str]] = {}
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        try:
            fds = list(Path(f"/proc/{child}/fd").iterdir())
        except OSError:  # a child that just exited
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            inode = target.removeprefix("socket:[").removesuffix("]")
            if inode in listening:
                path = listening[inode]
                found[int(Path(path).stem.removeprefix("w"))] = (int(child), path)
    return found


@pytest.mark.parametrize("era", ERAS)
async def test_each_era_is_served_through_the_front(era: str, deployment: Deployment) -> None:
    """Legacy sessions and 2026-07-28 requests both reach the tenant's worker, header and url_auth alike."""
    for transport in (
        StreamableHttpTransport(
            f"{deployment.base}/v1/mcp", headers={"Authorization": f"Bearer {deployment.carol}"}
        ),
        StreamableHttpTransport(f"{deployment.base}/v1/url_auth/{deployment.carol}/mcp"),
    ):
        with offering(era):
            async with era_client(transport, era) as client:
                found = await tool_round(client, era)
        assert [chat["id"] for chat in found["chats"]] == [deployment.people.bob]


# --- issue 10: Host/Origin strictness and a lockout that spares valid tenants, through the front ----

#: (headers, status, code); ``{port}`` stands for the front's port.
FRONT_HOST_TABLE = [
    ({"Origin": "http://127.0.0.1:{port}"}, 200, None),
    ({"Host": "localhost:{port}"}, 200, None),
    ({"Host": "a@127.0.0.1:{port}"}, 400, "BAD_HOST"),
    ({"Host": "127.0.0.1:abc"}, 400, "BAD_HOST"),
    ({"Host": "127.0.0.1:{port} x"}, 400, "BAD_HOST"),
    ({"Host": "evil.example"}, 421, "MISDIRECTED_REQUEST"),
    ({"Origin": "http://127.0.0.1:9999"}, 403, "FORBIDDEN_ORIGIN"),
    ({"Origin": "https://127.0.0.1:{port}"}, 403, "FORBIDDEN_ORIGIN"),
    ({"Origin": "null"}, 403, "FORBIDDEN_ORIGIN"),
]


@pytest.mark.parametrize(
    ("headers", "status", "code"), FRONT_HOST_TABLE, ids=[repr(r[0]) for r in FRONT_HOST_TABLE]
)
async def test_host_and_origin_are_strict_through_the_front(
    deployment: Deployment, headers: dict[str, str], status: int, code: str | None
) -> None:
    headers = {name: value.replace("{port}", str(deployment.port)) for name, value in headers.items()}
    auth_header = {"Authorization": f"Bearer {deployment.carol}"}
    async with httpx.AsyncClient(base_url=deployment.base) as http:
        answer = await http.post("/v1/mcp", json=INIT, headers={**PROTOCOL, **auth_header, **headers})
    assert answer.status_code == status, answer.text
    assert answer.headers["x-content-type-options"] == "nosniff"
    if code is not None:
        assert answer.json() == {"error": code, "message": answer.json()["message"]}


def _post(target: bytes, host_lines: bytes, token: str) -> bytes:
    body = json.dumps(INIT).encode()
    head = b"POST %s HTTP/1.1\r\n%sAuthorization: Bearer %s\r\n" % (target, host_lines, token.encode())
    head += b"Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
    return head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body


#: (case, target, Host lines, status, code); ``{port}`` stands for the front's port.
FRONT_RAW_TABLE = [
    ("duplicate Host", b"/v1/mcp", b"Host: 127.0.0.1:{port}\r\nHost: evil.example\r\n", 400, b"BAD_HOST"),
    ("no Host", b"/v1/mcp", b"", 400, b"BAD_HOST"),
    (
        "absolute-form, other host",
        b"http://other.example/v1/mcp",
        b"Host: 127.0.0.1:{port}\r\n",
        400,
        b"BAD_REQUEST_TARGET",
    ),
    (
        "absolute-form, userinfo",
        b"http://a@127.0.0.1:{port}/v1/mcp",
        b"Host: 127.0.0.1:{port}\r\n",
        400,
        b"BAD_REQUEST_TARGET",
    ),
    (
        "absolute-form, foreign Host",
        b"http://evil.example/v1/mcp",
        b"Host: evil.example\r\n",
        421,
        b"MISDIRECTED_REQUEST",
    ),
    ("absolute-form, own", b"http://127.0.0.1:{port}/v1/mcp", b"Host: 127.0.0.1:{port}\r\n", 200, b""),
    (
        "absolute-form url_auth, own",
        b"http://127.0.0.1:{port}/v1/url_auth/{token}/mcp",
        b"Host: 127.0.0.1:{port}\r\n",
        200,
        b"",
    ),
]


@pytest.mark.parametrize("row", FRONT_RAW_TABLE, ids=[row[0] for row in FRONT_RAW_TABLE])
async def test_raw_host_and_target_rules_through_the_front(
    deployment: Deployment, row: tuple[str, bytes, bytes, int, bytes]
) -> None:
    """Repeated or missing Host, and absolute-form targets, as raw bytes (httpx would normalise them)."""
    case, target, hosts, status, code = row
    port = str(deployment.port).encode()
    target = target.replace(b"{port}", port).replace(b"{token}", deployment.carol.encode())
    request = _post(target, hosts.replace(b"{port}", port), deployment.carol)
    response = await asyncio.to_thread(_raw, deployment.port, request)
    assert _status_line(response).startswith(b"HTTP/1.1 %d " % status), (case, response[:300])
    assert b"x-content-type-options: nosniff" in response.lower()
    assert code in response


async def test_a_locked_out_address_still_serves_valid_tenants_through_the_front(
    deployment: Deployment,
) -> None:
    """A guesser locks its address out; Alice and Carol behind the same address (on both workers) are
    still served, while missing, malformed and unknown tokens keep getting 429."""
    links = [WorkerLink(path) for path in deployment.sockets]
    server = FrontServer(
        WorkerRelay(links, max_body_bytes=1 << 20, auth_failures_per_minute=3), limits=EdgeLimits()
    )
    base = f"http://127.0.0.1:{await server.start()}"

    async def post(http: httpx.AsyncClient, token: str | None, path: str = "/v1/mcp") -> httpx.Response:
        headers = PROTOCOL if token is None else {**PROTOCOL, "Authorization": f"Bearer {token}"}
        return await http.post(path, json=INIT, headers=headers)

    try:
        async with httpx.AsyncClient(base_url=base) as http:
            failures = [(await post(http, f"mcpg_{i:043d}")).status_code for i in range(3)]
            refused = {
                "no token": await post(http, None),
                "malformed": await post(http, "../../etc/passwd"),
                "unknown": await post(http, UNKNOWN),
                "unknown url_auth": await post(http, None, f"/v1/url_auth/{UNKNOWN}/mcp"),
            }
            alice = await post(http, deployment.alice)
            carol = await post(http, None, f"/v1/url_auth/{deployment.carol}/mcp")
            still = await post(http, "mcpg_" + "C" * 43)
        assert failures == [401, 401, 401]
        for case, answer in refused.items():
            assert answer.status_code == 429, case
            assert answer.json()["error"] == "TOO_MANY_FAILED_AUTHENTICATIONS", case
            assert int(answer.headers["retry-after"]) >= 1, case
            assert answer.headers["x-content-type-options"] == "nosniff", case
        assert (alice.status_code, carol.status_code) == (200, 200), (alice.text, carol.text)
        assert still.status_code == 429
    finally:
        await server.stop()
        for link in links:
            link.close()


async def test_the_raw_bridge_is_served_through_the_front(deployment: Deployment) -> None:
    """POST /v1/mtproto/{method} goes to the tenant's worker by its token: each tenant's "me" is its
    own account (they sit on different workers); no token or an unknown one gets the worker's 401."""
    async with httpx.AsyncClient(base_url=deployment.base, timeout=30) as http:
        names = []
        for token in (deployment.alice, deployment.carol):
            answer = await http.post(
                "/v1/mtproto/users.getFullUser",
                json={"id": "me"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 200, answer.text
            names.append(answer.json()["result"]["users"][0]["first_name"])
        assert names == ["Alice", "Carol"]
        missing = await http.post("/mtproto-api/users.getFullUser", json={"id": "me"})
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="mcpgram"'
        unknown = await http.post(
            "/v1/mtproto/users.getFullUser", json={"id": "me"}, headers={"Authorization": f"Bearer {UNKNOWN}"}
        )
        assert unknown.status_code == 401 and unknown.json()["error"] == "NOT_AUTHENTICATED"


async def test_setup_signs_in_through_the_front_and_the_token_works(deployment: Deployment) -> None:
    """/setup's state lives in signin.db, so its steps work whichever worker serves them."""
    import re

    from mcpgram.web.setup import SetupStore

    store = SetupStore(deployment.data_dir / "signin.db")
    try:
        invite = store.create_invite(valid_seconds=600)
    finally:
        store.close()
    csrf_re = re.compile(r'name="csrf" value="([^"]+)"')
    async with httpx.AsyncClient(base_url=deployment.base) as web:

        async def post(action: str, **fields: str) -> None:
            page = await web.get("/setup")
            match = csrf_re.search(page.text)
            assert match is not None, page.text
            answer = await web.post(f"/setup/{action}", data={"csrf": match.group(1), **fields})
            assert answer.status_code == 303, answer.text

        await post("phone", phone=ALICE, invite=invite)
        await post("code", code=ALICE[5] * 5)
        done = await web.get("/setup")
    found = re.search(r'id="token" type="text" readonly value="(mcpg_[^"]+)"', done.text)
    assert found is not None, done.text
    async with mcp_client(deployment.base, found.group(1)) as client:
        assert "find_chats" in {tool.name for tool in await client.list_tools()}
        assert not (await client.call_tool("find_chats", {})).is_error
