"""send_message with files, through a real MCP client -> mcpgram -> Telethon -> sandbox.

URLs come from a local HTTPS server with a test CA and a scripted resolver (``tests/fetch``), so no
traffic leaves 127.0.0.1; what arrives is compared byte for byte with the sandbox's stored files.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastmcp.exceptions import ToolError
from telethon.tl import functions

from mcpgram.datadir import server_secret_bytes
from mcpgram.fetch.fetcher import FetchLimits
from mcpgram.log import QUIET_LOGGERS
from mcpgram.sandbox.world import Message
from mcpgram.tools.handles import encode_handle, handle_key

from ..fetch.conftest import LocalServer, TestCA, local_fetcher, response, server, test_ca
from .conftest import Demo, serve_demo

__all__ = ["server", "test_ca"]  # fixtures, used by name

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 4, 3) + b"\x08\x02\x00\x00\x00" + b"\x00" * 40
)
PDF = b"%PDF-1.7\n" + b"x" * 200
GIF = b"GIF89a" + struct.pack("<HH", 2, 2) + b"\x00" * 30


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def code_of(caught: pytest.ExceptionInfo[ToolError]) -> str:
    return str(caught.value).split(":", 1)[0]


def mine(served: Demo, msg_id: int) -> Message:
    return served.world.box(served.me).messages[msg_id]


def stored(served: Demo, msg_id: int) -> Any:
    message = mine(served, msg_id)
    return served.world.files[message.content.media_id or 0]


def message_count(served: Demo) -> int:
    return len(served.world.box(served.me).messages)


@pytest.fixture
async def fetch_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "fetched"
    directory.mkdir()
    return directory


@pytest.fixture
async def files_demo(
    tmp_path: Path, test_ca: TestCA, fetch_dir: Path, server: LocalServer
) -> AsyncIterator[Demo]:
    """stdio, one local root (``tmp_path/root``), URLs from the local HTTPS server, base64 cap 2 MB."""
    root = tmp_path / "root"
    root.mkdir()
    fetcher = local_fetcher(
        test_ca, fetch_dir, limits=FetchLimits(max_bytes=3_000_000, connect_timeout=2, read_timeout=2)
    )
    overrides = {"local_file_roots": str(root), "max_inline_bytes": 2_000_000}
    async for demo in serve_demo(tmp_path / "data", settings=overrides, fetcher=fetcher):
        yield demo


@pytest.fixture
async def http_demo(
    tmp_path: Path, test_ca: TestCA, fetch_dir: Path, server: LocalServer
) -> AsyncIterator[Demo]:
    """HTTP (no-auth, loopback), with a local root configured: paths must still be refused."""
    root = tmp_path / "root"
    root.mkdir()
    fetcher = local_fetcher(test_ca, fetch_dir)
    overrides = {"local_file_roots": str(root)}
    async for demo in serve_demo(tmp_path / "data", transport="http", settings=overrides, fetcher=fetcher):
        yield demo


def _layout(tmp_path: Path) -> dict[str, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"operator secret")
    (root / "ok.txt").write_bytes(b"fine")
    (root / "sub").mkdir()
    (root / "link_out").symlink_to(outside / "secret.txt")
    (root / "dir_out").symlink_to(outside)
    (root / "link_in").symlink_to(root / "ok.txt")
    (root / "null").symlink_to("/dev/null")
    (root / "empty.txt").touch()
    os.mkfifo(root / "fifo")
    evil = tmp_path / "root-evil"
    evil.mkdir()
    (evil / "f.txt").write_bytes(b"prefix trick")
    return {"root": root, "outside": outside, "evil": evil}


async def test_local_paths_follow_the_traversal_and_symlink_table(files_demo: Demo, tmp_path: Path) -> None:
    """Only regular files whose resolved path lies under a root are sent; each refusal has its code."""
    paths = _layout(tmp_path)
    root, outside = paths["root"], paths["outside"]
    table = [
        ("ok.txt", "FILE_INVALID"),  # relative
        (f"{root}/../outside/secret.txt", "FILE_INVALID"),  # '..'
        (f"{root}/sub/../ok.txt", "FILE_INVALID"),  # '..', even when it stays inside
        (str(outside / "secret.txt"), "FILE_OUTSIDE_ROOTS"),
        (str(root / "link_out"), "FILE_OUTSIDE_ROOTS"),  # a symlink out of the root
        (str(root / "dir_out" / "secret.txt"), "FILE_OUTSIDE_ROOTS"),  # through a symlinked directory
        (str(paths["evil"] / "f.txt"), "FILE_OUTSIDE_ROOTS"),  # a sibling sharing the root's prefix
        (str(root / "sub"), "FILE_INVALID"),  # a directory
        (str(root), "FILE_INVALID"),
        (str(root / "fifo"), "FILE_INVALID"),
        (str(root / "null"), "FILE_INVALID"),  # a symlink to a device
        (str(root / "empty.txt"), "FILE_INVALID"),
        (str(root / "missing.txt"), "FILE_NOT_FOUND"),
        ("/etc/hostname", "FILE_OUTSIDE_ROOTS"),
        ("/proc/self/environ", "FILE_INVALID"),
    ]
    before = message_count(files_demo)
    for path, code in table:
        with pytest.raises(ToolError) as caught:
            await files_demo.call("send_message", chat="me", text="x", files=[{"path": path}])
        assert code_of(caught) == code, (path, str(caught.value))
        assert "secret" not in str(caught.value)
    assert message_count(files_demo) == before
    for path in (root / "ok.txt", root / "link_in"):
        sent = await files_demo.call("send_message", chat="me", text="", files=[{"path": str(path)}])
        assert stored(files_demo, sent["id"]).data == b"fine"


async def test_without_roots_a_path_is_refused_with_how_to_set_one(tmp_path: Path) -> None:
    """No roots by default: NO_FILE_ROOTS, and the hint names the setting and MCP roots."""
    target = tmp_path / "a.txt"
    target.write_bytes(b"abc")
    async for demo in serve_demo(tmp_path / "data"):
        with pytest.raises(ToolError) as caught:
            await demo.call("send_message", chat="me", text="x", files=[{"path": str(target)}])
        assert code_of(caught) == "NO_FILE_ROOTS"
        assert "MCPGRAM_LOCAL_FILE_ROOTS" in str(caught.value) and "root" in str(caught.value)


async def test_roots_the_mcp_client_declares_admit_their_files(tmp_path: Path) -> None:
    """A client with the roots capability shares a folder: files under it are sent, others refused."""
    shared, other = tmp_path / "shared", tmp_path / "other"
    shared.mkdir()
    other.mkdir()
    (shared / "n.txt").write_bytes(b"from a client root")
    (other / "n.txt").write_bytes(b"no")
    async for demo in serve_demo(tmp_path / "data", roots=[shared.as_uri()]):
        sent = await demo.call("send_message", chat="me", text="", files=[{"path": str(shared / "n.txt")}])
        assert stored(demo, sent["id"]).data == b"from a client root"
        with pytest.raises(ToolError) as caught:
            await demo.call("send_message", chat="me", text="", files=[{"path": str(other / "n.txt")}])
        assert code_of(caught) == "FILE_OUTSIDE_ROOTS"


async def test_over_http_only_urls_bytes_and_handles_are_taken(
    http_demo: Demo, server: LocalServer, tmp_path: Path, fetch_dir: Path
) -> None:
    """Paths are NOT_ALLOWED over HTTP even under a configured root; URLs, base64 and handles work."""
    inside = tmp_path / "root" / "ok.txt"
    inside.write_bytes(b"operator data")
    before = message_count(http_demo)
    for path in (str(inside), "/etc/hostname", "relative.txt"):
        with pytest.raises(ToolError) as caught:
            await http_demo.call("send_message", chat="me", text="x", files=[{"path": path}])
        assert code_of(caught) == "NOT_ALLOWED" and str(tmp_path) not in str(caught.value)
    # A path among allowed files refuses the whole call before anything is fetched.
    with pytest.raises(ToolError):
        await http_demo.call(
            "send_message", chat="me", text="x", files=[{"url": server.url("/a.pdf")}, {"path": str(inside)}]
        )
    assert server.seen == [] and message_count(http_demo) == before
    server.routes["/a.pdf"] = response(200, PDF, [("Content-Type", "application/pdf")])
    by_url = await http_demo.call("send_message", chat="me", text="", files=[{"url": server.url("/a.pdf")}])
    by_bytes = await http_demo.call(
        "send_message", chat="me", text="", files=[{"base64": b64(PDF), "name": "b.pdf"}]
    )
    page = await http_demo.call("get_messages", chat="me", ids=[by_url["id"]])
    handle = page["messages"][0]["media"]["handle"]
    by_handle = await http_demo.call("send_message", chat="me", text="", files=[{"handle": handle}])
    for sent in (by_url, by_bytes, by_handle):
        assert stored(http_demo, sent["id"]).data == PDF
    assert not os.listdir(fetch_dir)


async def test_a_url_from_the_test_server_arrives_byte_identical(
    files_demo: Demo, server: LocalServer, fetch_dir: Path
) -> None:
    """An https URL is fetched (pinned, SNI kept), sent as a document named from the URL, and removed."""
    body = os.urandom(1_500_000)
    server.routes["/files/report.bin"] = response(200, body, [("Content-Type", "application/octet-stream")])
    sent = await files_demo.call(
        "send_message", chat="me", text="the report", files=[{"url": server.url("/files/report.bin?sig=x")}]
    )
    file = stored(files_demo, sent["id"])
    assert file.data == body and file.kind == "document"
    assert mine(files_demo, sent["id"]).content.text == "the report"
    assert any(getattr(a, "file_name", None) == "report.bin" for a in file.attributes)
    assert server.sni == ["files.example"] and not os.listdir(fetch_dir)


async def test_refused_urls_answer_their_fetch_codes(files_demo: Demo, server: LocalServer) -> None:
    """A blocked URL is BLOCKED_URL, a failing one FETCH_FAILED, an over-size body TOO_LARGE; none is sent."""
    server.routes["/big"] = response(200, b"x" * 3_000_001)
    before = message_count(files_demo)
    cases = [
        ("http://files.example/a.pdf", "BLOCKED_URL"),
        ("https://127.0.0.1/a.pdf", "BLOCKED_URL"),
        (server.url("/missing"), "FETCH_FAILED"),
        (server.url("/big"), "TOO_LARGE"),
    ]
    for url, code in cases:
        with pytest.raises(ToolError) as caught:
            await files_demo.call("send_message", chat="me", text="", files=[{"url": url}])
        assert code_of(caught) == code, (url, str(caught.value))
        assert "127.0.0.1" not in str(caught.value).split(":", 1)[1]
    assert message_count(files_demo) == before


async def test_base64_is_capped_per_call(files_demo: Demo) -> None:
    """Decoded base64 over max_inline_bytes, alone or summed over a call's files, is TOO_LARGE."""
    before = message_count(files_demo)
    for files in (
        [{"base64": b64(b"a" * 2_000_001), "name": "a.bin"}],
        [
            {"base64": b64(b"a" * 1_200_000), "name": "a.bin"},
            {"base64": b64(b"b" * 1_200_000), "name": "b.bin"},
        ],
    ):
        with pytest.raises(ToolError) as caught:
            await files_demo.call("send_message", chat="me", text="", files=files)
        assert code_of(caught) == "TOO_LARGE"
    with pytest.raises(ToolError) as caught:
        await files_demo.call(
            "send_message", chat="me", text="", files=[{"base64": "not base64!", "name": "a"}]
        )
    assert code_of(caught) == "INVALID_ARGUMENT"
    assert message_count(files_demo) == before
    sent = await files_demo.call(
        "send_message", chat="me", text="", files=[{"base64": "data:image/png;base64," + b64(PNG)}]
    )
    assert stored(files_demo, sent["id"]).data == PNG


@pytest.mark.parametrize("count", [2, 10])
async def test_albums_of_photos_share_one_group_with_the_caption_first(files_demo: Demo, count: int) -> None:
    """2 and 10 files make one album (one grouped_id), in order, the text as the first item's caption."""
    images = [PNG + bytes([index]) for index in range(count)]
    files = [{"base64": b64(data), "name": f"p{index}.png"} for index, data in enumerate(images)]
    sent = await files_demo.call("send_message", chat="me", text="holiday", files=files)
    assert len(sent["ids"]) == count and sent["id"] == sent["ids"][0]
    messages = [mine(files_demo, msg_id) for msg_id in sent["ids"]]
    assert len({m.content.grouped_id for m in messages}) == 1 and messages[0].content.grouped_id
    assert [m.content.text for m in messages] == ["holiday"] + [""] * (count - 1)
    assert [stored(files_demo, msg_id).data for msg_id in sent["ids"]] == images
    assert {stored(files_demo, msg_id).kind for msg_id in sent["ids"]} == {"photo"}


async def test_eleven_files_and_mixed_albums_are_refused(files_demo: Demo) -> None:
    """At most 10 files; photos mixed with other files are refused before anything is uploaded."""
    before = message_count(files_demo)
    eleven = [{"base64": b64(PNG), "name": "p.png"}] * 11
    with pytest.raises(ToolError) as caught:
        await files_demo.call("send_message", chat="me", text="", files=eleven)
    assert code_of(caught) == "INVALID_ARGUMENT"
    mixed = [{"base64": b64(PNG), "name": "p.png"}, {"base64": b64(PDF), "name": "d.pdf"}]
    with pytest.raises(ToolError) as caught:
        await files_demo.call("send_message", chat="me", text="", files=mixed)
    assert code_of(caught) == "ALBUM_MIXED"
    assert message_count(files_demo) == before
    assert not files_demo.world.uploads, "refused before any upload"


async def test_magic_bytes_decide_photo_or_document_and_contradictions_are_refused(files_demo: Demo) -> None:
    """Content decides: a PNG named .bin is a photo, a GIF a document; a name that lies is MIME_MISMATCH."""
    cases = [
        ({"base64": b64(PNG), "name": "upload.bin"}, "photo"),
        ({"base64": b64(PNG), "name": "noext"}, "photo"),
        ({"base64": b64(GIF), "name": "a.gif"}, "document"),
        ({"base64": b64(PDF), "name": "doc"}, "document"),
    ]
    for file, kind in cases:
        sent = await files_demo.call("send_message", chat="me", text="", files=[file])
        assert stored(files_demo, sent["id"]).kind == kind, file["name"]
    before = message_count(files_demo)
    for file in (
        {"base64": b64(PDF), "name": "photo.png"},
        {"base64": b64(PNG), "name": "report.pdf"},
        {"base64": "data:image/jpeg;base64," + b64(PNG), "name": "x"},
    ):
        with pytest.raises(ToolError) as caught:
            await files_demo.call("send_message", chat="me", text="", files=[file])
        assert code_of(caught) == "MIME_MISMATCH"
    assert message_count(files_demo) == before


async def test_a_handle_resends_without_upload_and_another_tenants_is_refused(files_demo: Demo) -> None:
    """get_messages gives a handle; re-sent, it shares the stored file; forged or foreign ones are refused."""
    first = await files_demo.call(
        "send_message", chat="me", text="", files=[{"base64": b64(PDF), "name": "a.pdf"}]
    )
    page = await files_demo.call("get_messages", chat="me", ids=[first["id"]])
    media = page["messages"][0]["media"]
    assert set(media) == {"kind", "name", "size", "handle"} and len(media["handle"]) == 44
    files_before = len(files_demo.world.files)
    again = await files_demo.call(
        "send_message", chat="me", text="again", files=[{"handle": media["handle"]}]
    )
    assert mine(files_demo, again["id"]).content.media_id == mine(files_demo, first["id"]).content.media_id
    assert len(files_demo.world.files) == files_before
    secret = server_secret_bytes(files_demo.gateway.settings)
    key = handle_key(hmac.new(secret, b"mcpgram/cursor/v1", hashlib.sha256).digest())
    ref = (files_demo.me, first["id"], mine(files_demo, first["id"]).content.media_id or 0)
    foreign = encode_handle(key, "another-tenant", ref)
    tampered = media["handle"][:-2] + ("AA" if media["handle"][-2:] != "AA" else "BB")
    before = message_count(files_demo)
    for handle in (foreign, tampered, "x" * 44):
        with pytest.raises(ToolError) as caught:
            await files_demo.call("send_message", chat="me", text="", files=[{"handle": handle}])
        assert code_of(caught) == "MEDIA_HANDLE_INVALID"
    assert message_count(files_demo) == before


async def test_progress_is_reported_to_a_client_that_sent_a_token(files_demo: Demo) -> None:
    """An upload over 1 MB sends progress notifications up to the total; under 1 MB none."""
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    body = os.urandom(1_300_000)
    await files_demo.client.call_tool(
        "send_message",
        {"chat": "me", "text": "", "files": [{"base64": b64(body), "name": "big.bin"}]},
        progress_handler=on_progress,
    )
    assert seen and seen[-1] == (len(body), len(body))
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    seen.clear()
    await files_demo.client.call_tool(
        "send_message",
        {"chat": "me", "text": "", "files": [{"base64": b64(b"small"), "name": "s.bin"}]},
        progress_handler=on_progress,
    )
    assert seen == []


async def test_fetched_files_are_removed_when_telegram_refuses_the_send(
    files_demo: Demo, server: LocalServer, fetch_dir: Path
) -> None:
    """A send Telegram refuses (a long FLOOD_WAIT) still leaves no temporary file behind."""
    server.routes["/a.pdf"] = response(200, PDF, [("Content-Type", "application/pdf")])
    files_demo.sandbox.faults.flood_wait(functions.messages.SendMediaRequest, 60)
    before = message_count(files_demo)
    with pytest.raises(ToolError) as caught:
        await files_demo.call("send_message", chat="me", text="", files=[{"url": server.url("/a.pdf")}])
    assert code_of(caught) == "RATE_LIMITED" and len(server.seen) == 1
    assert not os.listdir(fetch_dir) and message_count(files_demo) == before


async def test_logs_carry_no_url_path_query_file_name_or_local_path(
    files_demo: Demo, server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Sends by URL (with a token in the query), by path and by bytes log no path, query or name."""
    for name in QUIET_LOGGERS:  # as configure_logging leaves them: httpx2 logs whole URLs at INFO
        caplog.set_level(logging.WARNING, logger=name)
    caplog.set_level(logging.DEBUG)  # last: set_level also sets the capturing handler's level
    server.routes["/private-dir/q3-plan.pdf"] = response(200, PDF)
    local = tmp_path / "root" / "salary-review.txt"
    local.write_bytes(b"numbers")
    files = [
        {"url": server.url("/private-dir/q3-plan.pdf?token=SECRET-TOKEN-123")},
        {"path": str(local)},
        {"base64": b64(b"abc"), "name": "merger-memo.txt"},
    ]
    for file in files:
        await files_demo.call("send_message", chat="me", text="", files=[file])
    text = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    for leak in ("SECRET-TOKEN-123", "private-dir", "q3-plan", "salary-review", "merger-memo", str(tmp_path)):
        assert leak not in text, leak
