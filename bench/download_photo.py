"""What an agent receives for a typical photo through ``download_media``, and how long, per size choice.

One process, every part real: the sandbox serving the demo world, a stdio gateway reached through
FastMCP's in-memory ``Client`` (the whole MCP protocol, no transport). A photo-like 2560x1920 JPEG
(smooth gradients plus sensor-like noise, about 550 KB at quality 87) is sent to Saved
Messages with ``send_message``; then, per size choice (``full``, ``medium``, ``thumb``), ``--calls``
``download_media`` calls after one warm-up, interleaved round-robin so load drifts hit all alike:

- ``result_bytes``: the tool result's content blocks as JSON (the JSON text block plus the image
  block with its base64): what lands in the agent's context;
- ``image_bytes`` / ``width`` / ``height``: the JPEG returned; ``source_bytes``: what Telegram served;
- ``p50_ms`` / ``p90_ms``: the call, end to end (Telegram download + decode + re-encode);
- ``render_p50_ms``: ``imaging.render`` alone on the same source, in-process (the CPU share).

The sandbox keeps the sizes it knows for a photo (one, ``x``, before the sandbox photo-sizes work);
with one size every choice downloads the same source, and the table says so. JSON on stdout, a
table on stderr.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from fastmcp import Client
from PIL import Image, ImageFilter

from _common import environment, run
from mcpgram import imaging
from mcpgram.app import build_gateway
from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.demo import build_demo_world
from mcpgram.settings import Settings
from mcpgram.testing import login_tenant, sandbox_telegram_config

SIZES = ("full", "medium", "thumb")


def typical_photo(width: int = 2560, height: int = 1920) -> bytes:
    """A deterministic photo-like JPEG: a blurred colour field with fine noise, quality 87."""
    base = Image.linear_gradient("L").resize((width, height))
    colour = Image.merge(
        "RGB",
        (base, base.rotate(90).resize((width, height)), base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    )
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    photo = Image.blend(colour, noise, 0.18).filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=87)
    return out.getvalue()


def block_bytes(result: Any) -> int:
    return sum(len(block.model_dump_json(by_alias=True, exclude_none=True)) for block in result.content)


async def measure(work: Path, calls: int) -> dict[str, Any]:
    demo = build_demo_world()
    photo = typical_photo()
    async with SandboxServer(demo.world) as sandbox:
        settings = Settings.load(env_file=None, data_dir=work / "data")
        telegram = sandbox_telegram_config(sandbox, timeout=60.0)
        gateway = build_gateway(settings, transport="stdio", telegram=telegram)
        assert gateway.owner is not None
        await login_tenant(telegram, gateway.vault, gateway.owner, phone=demo.phone, code=demo.login_code)
        async with gateway, Client(gateway.mcp) as client:
            files = [{"base64": base64.b64encode(photo).decode(), "name": "photo.jpg"}]
            sent = json.loads(
                (await client.call_tool("send_message", {"chat": "me", "text": "", "files": files}))
                .content[0]
                .text
            )
            page = await client.call_tool("get_messages", {"chat": "me", "ids": [sent["id"]]})
            handle = json.loads(page.content[0].text)["messages"][0]["media"]["handle"]
            times: dict[str, list[float]] = {size: [] for size in SIZES}
            shape: dict[str, dict[str, Any]] = {}
            for round_ in range(calls + 1):
                for size in SIZES:
                    started = time.perf_counter()
                    result = await client.call_tool("download_media", {"handle": handle, "size": size})
                    elapsed = (time.perf_counter() - started) * 1000
                    if round_ == 0:  # warm-up
                        meta = json.loads(result.content[0].text)
                        shape[size] = {
                            "result_bytes": block_bytes(result),
                            "image_bytes": meta["bytes"],
                            "width": meta["width"],
                            "height": meta["height"],
                            "source_bytes": meta["original_bytes"],
                        }
                        continue
                    times[size].append(elapsed)
    budget = imaging.ImageBudget()
    render_ms = []
    for _ in range(calls):
        started = time.perf_counter()
        imaging.render(photo, budget)
        render_ms.append((time.perf_counter() - started) * 1000)
    per_size = {
        size: {
            **shape[size],
            "p50_ms": round(statistics.median(times[size]), 1),
            "p90_ms": round(sorted(times[size])[int(0.9 * (len(times[size]) - 1))], 1),
        }
        for size in SIZES
    }
    return {
        "photo": {"bytes": len(photo), "width": 2560, "height": 1920},
        "sizes": per_size,
        "render_p50_ms_full_source": round(statistics.median(render_ms), 1),
        "distinct_sources": len({shape[size]["source_bytes"] for size in SIZES}),
    }


def report(result: dict[str, Any]) -> None:
    photo = result["photo"]
    print(f"photo sent: {photo['width']}x{photo['height']}, {photo['bytes']} bytes", file=sys.stderr)
    print("size    source B   image B  px          result B   p50 ms  p90 ms", file=sys.stderr)
    for size, row in result["sizes"].items():
        pixels = f"{row['width']}x{row['height']}"
        sizes = f"{row['source_bytes']:>9} {row['image_bytes']:>9}  {pixels:<11} {row['result_bytes']:>9}"
        print(f"{size:<7} {sizes} {row['p50_ms']:>7} {row['p90_ms']:>7}", file=sys.stderr)
    print(
        f"imaging.render alone on the full source: p50 {result['render_p50_ms_full_source']} ms",
        file=sys.stderr,
    )
    if result["distinct_sources"] == 1:
        print("(the sandbox served one size for every choice)", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calls", type=int, default=10, help="timed calls per size choice (after one warm-up)"
    )
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    args = parser.parse_args()

    async def measured(work: Path) -> dict[str, Any]:
        return await measure(work, args.calls)

    def build(found: dict[str, Any]) -> dict[str, Any]:
        return {**found, "calls": args.calls, "environment": environment()}

    return run("download_photo", measured, build, report, args.output)


if __name__ == "__main__":
    raise SystemExit(main())
