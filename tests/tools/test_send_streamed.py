"""send_message with one URL file the server sizes (Content-Length >= 1 MiB): uploaded while it arrives.

The real path: MCP client -> mcpgram -> Fetcher (local HTTPS server, ``tests/fetch``) and Telethon
-> sandbox. The server's routes here write the body in steps, so a test can see parts reach the
sandbox before the body is complete (the overlap), and can cut or misstate the body mid-way.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from fastmcp.exceptions import ToolError

from mcpgram.audit.entry import Entry
from mcpgram.audit.reading import Filter, newest
from mcpgram.fetch.fetcher import FetchLimits
from mcpgram.sandbox.world import World

from ..fetch.conftest import LocalServer, TestCA, local_fetcher, server, test_ca
from .conftest import Demo, serve_demo
from .test_send_files import PDF, code_of, message_count, stored

__all__ = ["server", "test_ca"]  # fixtures, used by name

MB = 1024 * 1024
Route = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def fetch_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "fetched"
    directory.mkdir()
    return directory


@pytest.fixture
async def demo(tmp_path: Path, test_ca: TestCA, fetch_dir: Path, server: LocalServer) -> AsyncIterator[Demo]:
    fetcher = local_fetcher(
        test_ca, fetch_dir, limits=FetchLimits(max_bytes=20 * MB, connect_timeout=5, read_timeout=10)
    )
    async for served in serve_demo(tmp_path / "data", fetcher=fetcher):
        yield served


def pending_bytes(world: World) -> int:
    return sum(upload.size for upload in world.uploads.values())


async def until(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - polls the sandbox's state, which has no event
            await asyncio.sleep(0.01)
    return True


def stepped(
    body: bytes, declared: int, *, cut: int, then: Callable[[], Awaitable[bool]] | None, rest: bool = True
) -> Route:
    """Headers with ``declared`` as Content-Length, ``body[:cut]``, then (once ``then()`` has
    returned) the rest of the body if ``rest``, else the connection closes."""

    async def route(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\r\n"
        )
        writer.write(head.encode() + body[:cut])
        await writer.drain()
        if then is not None:
            await then()
        if rest:
            writer.write(body[cut:])
            await writer.drain()

    return route


async def test_a_big_file_goes_up_while_it_downloads_and_arrives_byte_identical(
    demo: Demo, server: LocalServer, fetch_dir: Path
) -> None:
    """12 MB (a big file, saveBigFilePart): parts reach Telegram before the body has all arrived."""
    body = os.urandom(12 * MB)
    overlapped: list[bool] = []

    async def parts_arrive() -> bool:
        overlapped.append(await until(lambda: pending_bytes(demo.world) >= 2 * MB))
        return True

    server.routes["/big.bin"] = stepped(body, len(body), cut=6 * MB, then=parts_arrive)
    sent = await demo.call("send_message", chat="me", text="big", files=[{"url": server.url("/big.bin")}])
    assert overlapped == [True]
    file = stored(demo, sent["id"])
    assert file.data == body and file.kind == "document"
    assert not os.listdir(fetch_dir) and not demo.world.uploads


async def test_a_small_streamed_file_with_its_md5_arrives_byte_identical(
    demo: Demo, server: LocalServer, fetch_dir: Path
) -> None:
    """2 MB (saveFilePart with an MD5): the bytes as served, the name from the URL."""
    body = os.urandom(2 * MB + 17)
    server.routes["/files/two.bin"] = stepped(body, len(body), cut=MB, then=None)
    sent = await demo.call("send_message", chat="me", text="", files=[{"url": server.url("/files/two.bin")}])
    file = stored(demo, sent["id"])
    assert file.data == body
    assert any(getattr(a, "file_name", None) == "two.bin" for a in file.attributes)
    assert not os.listdir(fetch_dir)


@pytest.mark.parametrize("rest", [True, False], ids=["declared-longer", "dropped-mid-way"])
async def test_a_body_short_of_its_content_length_sends_nothing(
    demo: Demo, server: LocalServer, fetch_dir: Path, rest: bool
) -> None:
    """A server declaring more than it sends, or dropping the connection after parts went up to
    Telegram: FETCH_FAILED, no message, no temporary file."""
    body = os.urandom(4 * MB)

    async def parts_arrive() -> bool:
        return await until(lambda: pending_bytes(demo.world) >= MB)

    declared = len(body) + MB if rest else len(body)
    server.routes["/cut.bin"] = stepped(body, declared, cut=2 * MB, then=parts_arrive, rest=rest)
    before = message_count(demo)
    with pytest.raises(ToolError) as caught:
        await demo.call("send_message", chat="me", text="", files=[{"url": server.url("/cut.bin")}])
    assert code_of(caught) == "FETCH_FAILED"
    assert message_count(demo) == before
    assert pending_bytes(demo.world) >= MB  # parts went up, and nothing refers to them
    await until(lambda: not os.listdir(fetch_dir), 5)


async def test_a_content_length_shorter_than_the_body_sends_only_the_declared_bytes(
    demo: Demo, server: LocalServer, fetch_dir: Path
) -> None:
    """As a plain fetch: HTTP ends the body at Content-Length, so the extra bytes are never read."""
    body = os.urandom(3 * MB)
    server.routes["/lie.bin"] = stepped(body, 2 * MB, cut=MB, then=None)
    sent = await demo.call("send_message", chat="me", text="", files=[{"url": server.url("/lie.bin")}])
    assert stored(demo, sent["id"]).data == body[: 2 * MB]
    assert not os.listdir(fetch_dir)


async def test_magic_bytes_are_checked_before_any_part_goes_up(
    demo: Demo, server: LocalServer, fetch_dir: Path
) -> None:
    """A PDF named .png is MIME_MISMATCH from its first bytes: no part reaches Telegram."""
    body = PDF + os.urandom(2 * MB)
    server.routes["/photo.png"] = stepped(body, len(body), cut=MB, then=None)
    before = message_count(demo)
    with pytest.raises(ToolError) as caught:
        await demo.call("send_message", chat="me", text="", files=[{"url": server.url("/photo.png")}])
    assert code_of(caught) == "MIME_MISMATCH"
    assert message_count(demo) == before and not demo.world.uploads
    await until(lambda: not os.listdir(fetch_dir), 5)


async def test_progress_is_reported_for_a_streamed_upload(demo: Demo, server: LocalServer) -> None:
    """Progress notifications rise to the declared total."""
    body = os.urandom(3 * MB)
    server.routes["/p.bin"] = stepped(body, len(body), cut=MB, then=None)
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    await demo.client.call_tool(
        "send_message", {"chat": "me", "text": "", "files": [{"url": server.url("/p.bin")}]},
        progress_handler=on_progress,
    )  # fmt: skip
    assert seen and seen[-1] == (len(body), len(body))
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)


def journal_entries(demo: Demo) -> list[Entry]:
    assert demo.gateway.journal is not None
    return newest(demo.gateway.journal.directory, Filter(), 1000)


async def test_the_journal_digests_the_whole_streamed_file_or_nothing(
    demo: Demo, server: LocalServer
) -> None:
    """The entry's content digest covers the text and every byte once sent; a cut body leaves none."""
    assert demo.gateway.journal is not None
    body = os.urandom(2 * MB)
    server.routes["/j.bin"] = stepped(body, len(body), cut=MB, then=None)
    await demo.call("send_message", chat="me", text="journaled", files=[{"url": server.url("/j.bin")}])
    entry = journal_entries(demo)[-1]
    assert entry.outcome == "ok" and entry.content == demo.gateway.journal.digest(["journaled", body])
    server.routes["/cut.bin"] = stepped(body, len(body) + 1, cut=MB, then=None)
    with pytest.raises(ToolError):
        await demo.call("send_message", chat="me", text="cut", files=[{"url": server.url("/cut.bin")}])
    entry = journal_entries(demo)[-1]
    assert entry.outcome == "FETCH_FAILED" and entry.content is None


async def test_a_first_contact_with_a_streamed_file_is_approved_on_its_whole_bytes(
    tmp_path: Path, test_ca: TestCA, fetch_dir: Path, server: LocalServer
) -> None:
    """An approval binds the content, so asking for one waits for a streamed file to arrive whole:
    the retried call (a new fetch, arriving at its own pace) matches the approval and is sent once.
    Bound to a partly arrived file, the retry would ask again and again."""
    from .test_approvals import CODE, emma, person_client

    body = os.urandom(3 * MB + 5)

    async def pause() -> bool:
        await asyncio.sleep(0.3)  # the approval is asked while only the first MB has arrived
        return True

    server.routes["/first.bin"] = stepped(body, len(body), cut=MB, then=pause)
    fetcher = local_fetcher(test_ca, fetch_dir, limits=FetchLimits(max_bytes=20 * MB))
    async for demo in serve_demo(tmp_path / "data", fetcher=fetcher, approvals=True):
        args = {"chat": "@emma_editor", "text": "", "files": [{"url": server.url("/first.bin")}]}
        with pytest.raises(ToolError, match="APPROVAL_PENDING"):
            await demo.call("send_message", **args)
        async with person_client(demo) as person:
            request = (await person.get_messages("me", limit=1))[0].message or ""
            match = CODE.search(request)
            assert match is not None
            await person.send_message("me", f"yes {match.group(1)}")
        sent = await demo.call("send_message", **args)
        file = stored(demo, sent["id"])
        assert file.data == body and sent["chat"] == emma(demo)
        assert not os.listdir(fetch_dir)
