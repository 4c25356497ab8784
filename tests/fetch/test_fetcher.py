"""The fetcher against a local HTTPS server: pinning, redirects, the byte cap, timeouts, cleanup.

No traffic leaves 127.0.0.1: names resolve through :class:`ScriptedDNS`, and 127.0.0.1 is admitted
only for the test's own host names, so every other loopback or private target is still refused.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from mcpgram.errors import BlockedURL, FetchFailed, InvalidArgument, MCPGramError, TooLarge
from mcpgram.fetch.fetcher import Fetcher, FetchLimits, public_only, resolve_host
from mcpgram.log import QUIET_LOGGERS

from .conftest import LocalServer, ScriptedDNS, TestCA, local_fetcher, response

BODY = b"%PDF-1.7 a small file\n"


def assert_clean(error: MCPGramError, directory: Path) -> None:
    """A refusal names no address or path, and leaves no temporary file behind."""
    text = f"{error.message} {error.hint or ''}"
    for leak in ("127.0.0.1", "10.0.0.1", "169.254", str(directory), "Traceback", "httpx"):
        assert leak not in text
    assert list(directory.iterdir()) == []


async def test_an_allowed_url_is_saved_through_the_pinned_address_with_host_and_sni_kept(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    server.routes["/doc.pdf"] = response(200, BODY, [("Content-Type", "Application/PDF; charset=binary")])
    dns = ScriptedDNS({"files.example": [["127.0.0.1"]]})
    fetched = await local_fetcher(test_ca, tmp_path, dns=dns).fetch(server.url("/doc.pdf?sig=abc"))
    assert fetched.path.read_bytes() == BODY
    assert (fetched.size, fetched.content_type) == (len(BODY), "application/pdf")
    assert fetched.final_url == server.url("/doc.pdf?sig=abc")
    assert fetched.path.parent == tmp_path and fetched.path.stat().st_mode & 0o077 == 0
    assert dns.calls == ["files.example"]
    assert server.sni == ["files.example"]
    [seen] = server.seen
    assert seen.path == "/doc.pdf?sig=abc"
    assert seen.headers["host"] == f"files.example:{server.port}"
    assert seen.headers["accept-encoding"] == "identity"
    fetched.remove()
    assert not fetched.path.exists()


async def test_a_certificate_for_another_name_fails_though_the_address_is_the_same(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    """TLS checks the URL's name (SNI and verification), not the pinned address."""
    dns = ScriptedDNS({"wrong.example": [["127.0.0.1"]]})
    fetcher = local_fetcher(test_ca, tmp_path, dns=dns, address_ok=lambda host, address: True)
    with pytest.raises(FetchFailed, match="certificate") as failed:
        await fetcher.fetch(server.url("/doc.pdf", host="wrong.example"))
    assert_clean(failed.value, tmp_path)
    assert server.seen == []


async def test_a_name_is_looked_up_once_so_a_rebinding_answer_is_never_dialed(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    server.routes["/doc.pdf"] = response(200, BODY)
    dns = ScriptedDNS({"files.example": [["127.0.0.1"], ["10.0.0.1"]]})
    fetched = await local_fetcher(test_ca, tmp_path, dns=dns).fetch(server.url("/doc.pdf"))
    assert fetched.path.read_bytes() == BODY
    assert dns.calls == ["files.example"]


async def test_a_redirect_is_looked_up_and_checked_again_so_rebinding_then_fails(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    server.routes["/start"] = response(302, headers=[("Location", "/doc.pdf")])
    server.routes["/doc.pdf"] = response(200, BODY)
    dns = ScriptedDNS({"files.example": [["127.0.0.1"], ["10.0.0.1"]]})
    with pytest.raises(BlockedURL, match="resolves to a non-public address") as refused:
        await local_fetcher(test_ca, tmp_path, dns=dns).fetch(server.url("/start"))
    assert_clean(refused.value, tmp_path)
    assert dns.calls == ["files.example", "files.example"]
    assert [seen.path for seen in server.seen] == ["/start"]


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        (["10.0.0.1"], "private"),
        (["169.254.169.254"], "cloud metadata"),
        (["100.64.0.1"], "CGNAT"),
        (["::1"], "IPv6 loopback"),
        (["::ffff:10.0.0.1"], "IPv4-mapped private"),
        (["64:ff9b::a9fe:a9fe"], "NAT64 metadata"),
        (["2002:a00:1::1"], "6to4 private"),
        (["fe80::1%eth0"], "scoped link-local"),
        (["8.8.8.8", "10.0.0.1"], "one public, one private"),
        (["not-an-address"], "garbage"),
    ],
)
async def test_names_resolving_to_non_public_addresses_are_refused_without_saying_which(
    test_ca: TestCA, tmp_path: Path, answers: list[str], why: str
) -> None:
    dns = ScriptedDNS({"evil.example": [answers]})
    fetcher = local_fetcher(test_ca, tmp_path, dns=dns, address_ok=public_only)
    with pytest.raises(BlockedURL, match="resolves to a non-public address") as refused:
        await fetcher.fetch("https://evil.example/x")
    assert_clean(refused.value, tmp_path)
    assert all(answer not in refused.value.message for answer in answers), why


async def test_loopback_is_admitted_only_for_the_test_host_names(test_ca: TestCA, tmp_path: Path) -> None:
    """The test seam itself is narrow: another name on 127.0.0.1 is refused like in production."""
    dns = ScriptedDNS({"evil.example": [["127.0.0.1"]]})
    with pytest.raises(BlockedURL):
        await local_fetcher(test_ca, tmp_path, dns=dns).fetch("https://evil.example/x")


@pytest.mark.parametrize(
    "location",
    [
        "https://127.0.0.1:{port}/doc.pdf",
        "https://localhost:{port}/doc.pdf",
        "https://[::1]:{port}/doc.pdf",
        "https://evil.example:{port}/doc.pdf",
        "https://2130706433:{port}/doc.pdf",
        "http://files.example:{port}/doc.pdf",
        "file:///etc/passwd",
    ],
)
async def test_a_redirect_to_loopback_or_a_downgrade_is_refused_before_it_is_followed(
    server: LocalServer, test_ca: TestCA, tmp_path: Path, location: str
) -> None:
    server.routes["/start"] = response(302, headers=[("Location", location.format(port=server.port))])
    server.routes["/doc.pdf"] = response(200, BODY)
    dns = ScriptedDNS({"files.example": [["127.0.0.1"]], "evil.example": [["127.0.0.1"]]})
    with pytest.raises(
        BlockedURL, match=r"redirects where mcpgram may not go|resolves to a non-public"
    ) as refused:
        await local_fetcher(test_ca, tmp_path, dns=dns).fetch(server.url("/start"))
    assert_clean(refused.value, tmp_path)
    assert [seen.path for seen in server.seen] == ["/start"]


async def test_redirects_are_followed_up_to_three_hops_and_no_further(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    for hop in range(1, 5):
        server.routes[f"/r{hop}"] = response(307, headers=[("Location", f"/r{hop + 1}")])
    server.routes["/r5"] = response(200, BODY)
    server.routes["/other"] = response(301, headers=[("Location", server.url("/r3", host="other.example"))])
    fetcher = local_fetcher(test_ca, tmp_path)
    fetched = await fetcher.fetch(server.url("/other"))  # other -> r3 -> r4 -> r5: three redirects
    assert fetched.path.read_bytes() == BODY
    assert fetched.final_url == server.url("/r5", host="other.example")
    assert server.sni[-1] == "other.example"
    fetched.remove()
    with pytest.raises(FetchFailed, match="redirects more than 3 times") as failed:
        await fetcher.fetch(server.url("/r1"))  # four redirects
    assert_clean(failed.value, tmp_path)


async def test_a_redirect_without_a_location_fails(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    server.routes["/start"] = response(302)
    with pytest.raises(FetchFailed, match="without saying where"):
        await local_fetcher(test_ca, tmp_path).fetch(server.url("/start"))


async def test_an_error_status_fails_with_its_code(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    with pytest.raises(FetchFailed, match="HTTP 404") as failed:
        await local_fetcher(test_ca, tmp_path).fetch(server.url("/missing"))
    assert_clean(failed.value, tmp_path)


LIMIT = 10_000


async def _endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Chunked encoding, no Content-Length, and no end."""
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while True:
        writer.write(b"1000\r\n" + b"x" * 0x1000 + b"\r\n")
        await writer.drain()


async def _close_delimited(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"x" * (LIMIT * 3))
    await writer.drain()


@pytest.mark.parametrize(
    ("route", "why"),
    [
        (response(200, b"x" * (LIMIT + 1)), "a true Content-Length over the cap"),
        (response(200, b"", [("Content-Length", str(10**12))], length=False), "a huge Content-Length"),
        (_endless, "no Content-Length, chunked and endless"),
        (_close_delimited, "no Content-Length, read until close"),
    ],
)
async def test_a_body_over_the_cap_is_refused_and_nothing_stays_on_disk(
    server: LocalServer, test_ca: TestCA, tmp_path: Path, route: object, why: str
) -> None:
    server.routes["/big"] = route  # type: ignore[assignment]
    with pytest.raises(TooLarge, match=r"over the 0\.01 MB limit") as refused:
        await local_fetcher(test_ca, tmp_path).fetch(server.url("/big"))
    assert_clean(refused.value, tmp_path)


async def test_a_lying_content_length_cannot_push_more_than_it_declared(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    """A small Content-Length followed by a big body yields the declared bytes, never past the cap."""
    server.routes["/lie"] = response(
        200, b"y" * 100 + b"x" * (LIMIT * 3), [("Content-Length", "100")], length=False
    )
    fetched = await local_fetcher(test_ca, tmp_path).fetch(server.url("/lie"))
    assert fetched.path.read_bytes() == b"y" * 100


async def test_a_content_length_promising_more_than_is_sent_fails(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    server.routes["/short"] = response(200, b"x" * 100, [("Content-Length", "5000")], length=False)
    with pytest.raises(FetchFailed) as failed:
        await local_fetcher(test_ca, tmp_path).fetch(server.url("/short"))
    assert_clean(failed.value, tmp_path)


async def test_a_body_exactly_at_the_cap_is_saved(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    server.routes["/edge"] = response(200, b"x" * LIMIT, length=False, headers=[("Connection", "close")])
    fetched = await local_fetcher(test_ca, tmp_path).fetch(server.url("/edge"))
    assert fetched.size == LIMIT == fetched.path.stat().st_size


async def test_a_compressed_body_is_refused(server: LocalServer, test_ca: TestCA, tmp_path: Path) -> None:
    """The cap counts bytes on disk: a gzip body could inflate past it, so it is not accepted."""
    server.routes["/gz"] = response(200, b"\x1f\x8b" + b"\0" * 20, [("Content-Encoding", "gzip")])
    with pytest.raises(FetchFailed, match="compressed") as failed:
        await local_fetcher(test_ca, tmp_path).fetch(server.url("/gz"))
    assert_clean(failed.value, tmp_path)


async def test_oversized_response_headers_fail(server: LocalServer, test_ca: TestCA, tmp_path: Path) -> None:
    server.routes["/headers"] = response(200, BODY, [(f"X-Pad-{i}", "p" * 1000) for i in range(200)])
    with pytest.raises(FetchFailed, match="not valid HTTP") as failed:
        await local_fetcher(test_ca, tmp_path).fetch(server.url("/headers"))
    assert_clean(failed.value, tmp_path)


async def _trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
    while True:
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.1)


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1)  # until the client gives up


async def test_a_slow_trickle_is_cut_by_the_total_timeout(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    """One byte every 0.1 s never trips the 1 s read timeout; the 1.5 s total ends it."""
    server.routes["/slow"] = _trickle
    limits = FetchLimits(max_bytes=LIMIT, connect_timeout=1, read_timeout=1, total_timeout=1.5)
    started = asyncio.get_running_loop().time()
    with pytest.raises(FetchFailed, match=r"took longer than 1\.5 s") as failed:
        await local_fetcher(test_ca, tmp_path, limits=limits).fetch(server.url("/slow"))
    assert 1.4 < asyncio.get_running_loop().time() - started < 5
    assert_clean(failed.value, tmp_path)


async def test_a_silent_server_is_cut_by_the_read_timeout(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    server.routes["/silent"] = _silent
    limits = FetchLimits(max_bytes=LIMIT, connect_timeout=1, read_timeout=0.3, total_timeout=5)
    with pytest.raises(FetchFailed, match=r"sent nothing for 0\.3 s") as failed:
        await local_fetcher(test_ca, tmp_path, limits=limits).fetch(server.url("/silent"))
    assert_clean(failed.value, tmp_path)


async def test_the_next_checked_address_is_tried_when_one_refuses_the_connection(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    server.routes["/doc.pdf"] = response(200, BODY)
    dns = ScriptedDNS({"files.example": [["127.0.0.2", "127.0.0.1"]]})
    fetcher = local_fetcher(
        test_ca,
        tmp_path,
        dns=dns,
        address_ok=lambda host, address: str(address) in ("127.0.0.1", "127.0.0.2"),
    )
    fetched = await fetcher.fetch(server.url("/doc.pdf"))
    assert fetched.path.read_bytes() == BODY


async def test_an_unreachable_or_unknown_host_fails_cleanly(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    closed = server.url("/x").replace(str(server.port), "1")
    with pytest.raises(FetchFailed, match="could not connect") as failed:
        await local_fetcher(test_ca, tmp_path).fetch(closed)
    assert_clean(failed.value, tmp_path)
    with pytest.raises(FetchFailed, match="does not resolve"):
        await local_fetcher(test_ca, tmp_path).fetch("https://unknown.example/x")


async def test_plain_http_is_fetched_only_when_allowed(
    plain_server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    plain_server.routes["/doc.pdf"] = response(200, BODY)
    with pytest.raises(BlockedURL, match="only https"):
        await local_fetcher(test_ca, tmp_path).fetch(plain_server.url("/doc.pdf"))
    fetched = await local_fetcher(test_ca, tmp_path, allow_http=True).fetch(plain_server.url("/doc.pdf"))
    assert fetched.path.read_bytes() == BODY
    assert plain_server.seen[0].headers["host"] == f"files.example:{plain_server.port}"


async def test_fetch_all_refuses_more_urls_than_the_limit_before_fetching_any(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    limits = FetchLimits(max_bytes=LIMIT, max_files_per_call=2)
    with pytest.raises(InvalidArgument, match="at most 2 URLs") as refused:
        await local_fetcher(test_ca, tmp_path, limits=limits).fetch_all([server.url("/doc.pdf")] * 3)
    assert refused.value.code == "TOO_MANY_FILES"
    assert server.seen == []


async def test_fetch_all_removes_what_it_fetched_when_a_later_url_fails(
    server: LocalServer, test_ca: TestCA, tmp_path: Path
) -> None:
    server.routes["/doc.pdf"] = response(200, BODY)
    fetcher = local_fetcher(test_ca, tmp_path)
    both = await fetcher.fetch_all([server.url("/doc.pdf"), server.url("/doc.pdf", host="other.example")])
    assert [item.path.read_bytes() for item in both] == [BODY, BODY]
    for item in both:
        item.remove()
    with pytest.raises(FetchFailed, match="HTTP 404"):
        await fetcher.fetch_all([server.url("/doc.pdf"), server.url("/missing")])
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 (a test's own temporary directory)


async def test_logs_name_the_origin_only_never_the_path_query_or_address(
    server: LocalServer, test_ca: TestCA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server.routes["/doc.pdf"] = response(200, BODY)
    for name in QUIET_LOGGERS:  # as configure_logging leaves them: httpx2 logs whole URLs at INFO
        caplog.set_level(logging.WARNING, logger=name)
    caplog.set_level(logging.DEBUG)  # last: set_level also sets the capturing handler's level
    fetcher = local_fetcher(test_ca, tmp_path)
    (await fetcher.fetch(server.url("/doc.pdf?token=PLANTED-SECRET"))).remove()
    with pytest.raises(FetchFailed):
        await fetcher.fetch(server.url("/missing?token=PLANTED-SECRET"))
    fetch_records = [r for r in caplog.records if r.name.startswith("mcpgram.fetch")]
    assert [r.msg for r in fetch_records] == ["fetch.done", "fetch.refused"]
    assert all(r.origin == f"https://files.example:{server.port}" for r in fetch_records)  # type: ignore[attr-defined]
    everything = caplog.text + repr([vars(r) for r in caplog.records])
    assert "PLANTED-SECRET" not in everything


async def test_the_default_resolver_answers_from_the_system_and_fails_as_oserror() -> None:
    assert "127.0.0.1" in await resolve_host("localhost", 443)
    with pytest.raises(OSError, match="lookup failed"):
        await resolve_host("name.invalid", 443)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        FetchLimits(max_bytes=0)
    with pytest.raises(ValueError, match="max_files_per_call"):
        FetchLimits(max_files_per_call=0)
    assert Fetcher().limits == FetchLimits()
