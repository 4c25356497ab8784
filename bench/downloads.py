"""Download throughput: a signed attachment link through the gateway vs raw Telethon, same sandbox, same run.

Processes:

- the sandbox (this script with ``--serve-sandbox``): one account with a document of ``--size``
  random bytes in its chat with a peer;
- the gateway (``mcpgram serve --transport http``, one process), logged in as that account;
- this script: the client of both ways, alternating them ``--runs`` times.

Raw: a Telethon client (its own session of the same account, in this process) runs
``download_media`` of the message into a sink that hashes and counts. Gateway: a plain HTTP/1.1
reader streams ``GET /v1/attachments/<capability>`` (minted with the gateway's own keys) into the
same kind of sink. Both must produce the file's SHA-256. Reported per way: MiB/s (best and median
of the runs) and CPU seconds per GiB (raw: this process; gateway: this process plus the gateway's),
the ratio gateway / raw (the issue's target: >= 0.8), and the gateway's RSS after a one-byte warm-up
request, after the downloads, and at its peak (target: growth < 30 MiB for a 200 MB file). Prints
JSON on stdout and a table on stderr. Must not touch the user's data dir or ``.env``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import telethon
from telethon import TelegramClient
from telethon.sessions import MemorySession

import _common  # bench/_common.py
import tenants  # bench/tenants.py: the sandbox/gateway process helpers
from mcpgram.datadir import server_secret_bytes
from mcpgram.signing import Keyring
from mcpgram.testing import SANDBOX_API_HASH, SANDBOX_API_ID
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault
from mcpgram.web.links import AttachmentLinks

MIB = 1024 * 1024
TARGET_RATIO, TARGET_RSS_GROWTH_MIB = 0.8, 30.0
QUICK = {"size": 20 * MIB, "runs": 2}
DEFAULTS = {"size": 200 * 1000 * 1000, "runs": 5}


def serve_sandbox(size: int) -> None:
    """The bench world: tenant 0 sent the peer one document of ``size`` random bytes."""
    from mcpgram.sandbox import SandboxServer, World  # noqa: PLC0415 - only this mode needs them
    from mcpgram.sandbox.messaging import Changes, post  # noqa: PLC0415 - only this mode needs them
    from mcpgram.sandbox.world import Content, user_peer  # noqa: PLC0415 - only this mode needs them

    world = World()
    peer = world.add_user(first_name="Bench", last_name="Peer", username="bench_peer")
    user = world.add_user(first_name="Tenant", last_name="0", phone=tenants.tenant_phone(0))
    data = os.urandom(size)
    stored = world.add_file("document", data, mime_type="application/octet-stream", name="bench.bin")
    sent = post(
        world, Changes(), sender_id=user.id, peer=user_peer(peer.id), content=Content(media_id=stored.id)
    )
    digest = hashlib.sha256(data).hexdigest()
    del data

    async def run() -> None:
        async with SandboxServer(world) as server:
            info = {
                "host": server.host,
                "port": server.port,
                "dc_id": server.dc_id,
                "pem": server.public_key_pem,
            }
            info |= {"peer_id": peer.id, "message": sent.id, "media": stored.id, "sha256": digest}
            print(json.dumps(info), flush=True)
            await tenants._until_signalled()

    asyncio.run(run())


class Sink:
    """A file-like that hashes and counts what is written, keeping nothing."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return len(data)


async def raw_download(client: TelegramClient, info: dict[str, Any]) -> tuple[float, Sink]:
    message = await client.get_messages(info["peer_id"], ids=info["message"])
    sink = Sink()
    started = time.perf_counter()
    await client.download_media(message, file=sink)
    return time.perf_counter() - started, sink


async def gateway_download(url: str) -> tuple[float, Sink]:
    """GET ``url`` over one plain HTTP/1.1 connection, reading 1 MiB at a time.

    A plain reader, as a browser or curl reads, so the client's own share stays small (about
    1.4 CPU s/GiB here) and the figure is the gateway's.
    """
    parts = urlsplit(url)
    sink = Sink()
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=2 * MIB)
    try:
        request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head)[1])  # type: ignore[index]
        if status != 200:
            raise RuntimeError(f"the gateway answered {status}")
        while sink.size < length:
            chunk = await reader.read(MIB)
            if not chunk:
                break
            sink.write(chunk)
    finally:
        writer.close()
        await writer.wait_closed()
    return time.perf_counter() - started, sink


def mint_link(settings: Any, token: str, info: dict[str, Any], base: str) -> str:
    secret = server_secret_bytes(settings)
    store = SQLiteVault(settings.data_dir / "vault.db")
    try:
        vault = Vault(store, server_secret=secret)
        links = AttachmentLinks(keyring=Keyring.from_secrets([], server_secret=secret), vault=vault, ttl=3600)
        keys = vault.unlock_with_token(token)
        return links.url(keys, token, (info["peer_id"], info["message"], info["media"]), "full", origin=base)
    finally:
        store.close()


async def raw_client(info: dict[str, Any]) -> TelegramClient:
    """Tenant 0's account in a Telethon client of this process (a session of its own)."""
    telethon.crypto.rsa.add_key(info["pem"], old=False)
    client = TelegramClient(MemorySession(), SANDBOX_API_ID, SANDBOX_API_HASH, receive_updates=False)
    client.session.set_dc(info["dc_id"], info["host"], info["port"])
    await client.connect()
    phone = tenants.tenant_phone(0)
    sent = await client.send_code_request(phone)
    await client.sign_in(phone, tenants.TENANT_CODE, phone_code_hash=sent.phone_code_hash)
    await client.get_dialogs()
    return client


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    sandbox, info = await tenants.spawn_json(__file__, "--serve-sandbox", "--size", str(args.size))
    gateway = None
    client: TelegramClient | None = None
    try:
        settings = tenants.gateway_settings(work, info)
        token = (await tenants.log_in_tenants(settings, info, 1, 1))[0]
        env = tenants.gateway_env(settings, 1, 1)
        env["MCPGRAM_ATTACHMENT_MAX_BYTES"] = str(args.size + 1)
        gateway = await tenants.start_gateway(env, work)
        url = mint_link(settings, token, info, gateway.base)
        client = await raw_client(info)
        raw_s: list[float] = []
        gateway_s: list[float] = []
        raw_cpu: list[float] = []
        gateway_cpu: list[float] = []
        server_cpu: list[float] = []
        there = gateway.proc.pid

        def check(sink: Sink, way: str) -> None:
            if sink.size != args.size or sink.hash.hexdigest() != info["sha256"]:
                raise RuntimeError(f"the {way} download's bytes differ from the file")

        async with httpx.AsyncClient(timeout=600) as http:
            # Warm-up: the gateway's Telegram client connects and Telethon loads on the first request.
            (await http.get(url, headers={"Range": "bytes=0-0"})).raise_for_status()
            rss_before = tenants.vm_rss(gateway.proc.pid)
            for _ in range(args.runs):
                cpu = time.process_time()
                seconds, sink = await raw_download(client, info)
                raw_cpu.append(time.process_time() - cpu)
                check(sink, "raw")
                raw_s.append(seconds)
                cpu, served = time.process_time(), tenants.cpu_seconds(there)
                seconds, sink = await gateway_download(url)
                server_cpu.append(tenants.cpu_seconds(there) - served)
                gateway_cpu.append(time.process_time() - cpu + server_cpu[-1])
                check(sink, "gateway")
                gateway_s.append(seconds)
        rss_after = tenants.vm_rss(gateway.proc.pid)
        peak = _hwm(gateway.proc.pid)
    finally:
        if client is not None:
            await client.disconnect()
        if gateway is not None:
            await tenants.stop(gateway.proc)
        await tenants.stop(sandbox)
    mib = args.size / MIB
    return {
        "size_bytes": args.size,
        "runs": args.runs,
        "raw": _rates(mib, raw_s, raw_cpu),
        "gateway": _rates(mib, gateway_s, gateway_cpu),
        "gateway_process_cpu_s_per_gib": statistics.median(server_cpu) * 1024 / mib,
        "gateway_rss_mib": {"before": rss_before / MIB, "after": rss_after / MIB, "peak": peak / MIB},
    }


def _rates(mib: float, seconds: list[float], cpu: list[float]) -> dict[str, Any]:
    rates = [mib / s for s in seconds]
    return {
        "seconds": seconds,
        "mib_per_s_best": max(rates),
        "mib_per_s_median": statistics.median(rates),
        # CPU seconds per GiB: this process's (raw: Telethon) or this process's plus the gateway
        # process's (gateway); the sandbox's share is the same both ways and left out. A busy
        # machine distorts this far less than the speed.
        "cpu_s_per_gib": statistics.median(cpu) * 1024 / mib,
    }


def _hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def build_result(args: argparse.Namespace, measured: dict[str, Any]) -> dict[str, Any]:
    ratio = measured["gateway"]["mib_per_s_median"] / measured["raw"]["mib_per_s_median"]
    ratio_best = measured["gateway"]["mib_per_s_best"] / measured["raw"]["mib_per_s_best"]
    rss = measured["gateway_rss_mib"]
    growth = rss["after"] - rss["before"]
    return {
        "benchmark": "downloads",
        "quick": args.quick,
        **measured,
        "ratio_gateway_to_raw": ratio,
        # On a busy machine one slow run skews a median; the best runs compare the two ways unhurried.
        "ratio_gateway_to_raw_best": ratio_best,
        "gateway_rss_growth_mib": growth,
        "targets": {
            "ratio_ge_0_8": ratio >= TARGET_RATIO,
            "rss_growth_lt_30_mib": growth < TARGET_RSS_GROWTH_MIB,
        },
        "environment": _common.environment(telethon=telethon.__version__),
    }


def report(result: dict[str, Any]) -> None:
    out = sys.stderr
    size = result["size_bytes"] / MIB
    print(f"\ndownload of {size:.1f} MiB, {result['runs']} runs each (median / best MiB/s)", file=out)
    for way in ("raw", "gateway"):
        r = result[way]
        speed = f"{r['mib_per_s_median']:8.1f} / {r['mib_per_s_best']:8.1f}"
        print(f"  {way:8} {speed}   CPU {r['cpu_s_per_gib']:.1f} s/GiB", file=out)
    rss = result["gateway_rss_mib"]
    print(
        f"  of which the gateway process: CPU {result['gateway_process_cpu_s_per_gib']:.1f} s/GiB", file=out
    )
    print(
        f"  ratio gateway/raw {result['ratio_gateway_to_raw']:.2f} median,"
        f" {result['ratio_gateway_to_raw_best']:.2f} best (target >= {TARGET_RATIO})",
        file=out,
    )
    print(
        f"  gateway RSS {rss['before']:.1f} -> {rss['after']:.1f} MiB (peak {rss['peak']:.1f});"
        f" growth {result['gateway_rss_growth_mib']:.1f} MiB (target < {TARGET_RSS_GROWTH_MIB:g})",
        file=out,
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, help="file size in bytes (default 200 MB, quick 20 MiB)")
    parser.add_argument("--runs", type=int, help="downloads per way (default 5, quick 2)")
    parser.add_argument("--quick", action="store_true", help="a smoke run, not a measurement")
    parser.add_argument("--output", type=Path, help="also write the JSON here (e.g. bench/results/...)")
    parser.add_argument("--serve-sandbox", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main() -> int:
    args = parse_args()
    if args.serve_sandbox:
        serve_sandbox(args.size)
        return 0
    return _common.run(
        "downloads",
        lambda work: measure(args, work),
        lambda measured: build_result(args, measured),
        report,
        args.output,
    )


if __name__ == "__main__":
    sys.exit(main())
