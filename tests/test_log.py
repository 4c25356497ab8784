"""Logging: planted secrets never reach the output, event names and tenant labels do."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from mcpgram.log import (
    ADOPTED_LOGGERS,
    REDACTED,
    RedactingFilter,
    bind_tenant,
    configure_logging,
    current_tenant,
    get_logger,
    mask_phone,
    redact,
    tenant_label,
)

TOKEN = "mcpg_" + "Zk3p9QxW2vLr8TnB5mYc1HdJ6sFa0GuE4oKiRwXyVbN"
SESSION = "1" + "BQ3fN0xLk9_-aZ" * 25 + "=="
API_HASH = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
PHONE = "+15551234534"
CODE = "73914"
TEXT = "meet me at the old mill at midnight"
PASSWORD = "hunter2-correct-horse"
TOUCHED = ("", "mcpgram", "httpx", "httpx2", "telethon", *ADOPTED_LOGGERS)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put back the handlers, levels and propagation configure_logging changes."""
    saved = {
        name: (list(logger.handlers), logger.level, logger.propagate)
        for name in TOUCHED
        for logger in [logging.getLogger(name)]
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def _configured(*, as_json: bool) -> io.StringIO:
    stream = io.StringIO()
    configure_logging("DEBUG", json=as_json, stream=stream)
    return stream


def _log_planted_secrets(log: logging.Logger) -> None:
    log.info(
        "login.code_received token=%s session=%s code=%s",
        TOKEN,
        SESSION,
        CODE,
        extra={
            "text": TEXT,
            "message_text": TEXT,
            "password": PASSWORD,
            "code": CODE,
            "token": TOKEN,
            "api_hash": API_HASH,
            "session": SESSION,
            "phone": PHONE,
            "detail": f"Bearer {TOKEN} via /v1/url_auth/{TOKEN}/mcp from {PHONE}",
            "nested": {"password": PASSWORD, "items": [SESSION, API_HASH]},
        },
    )
    log.warning("telegram.rpc %s %s %s", API_HASH, PHONE, f"phone_code='{CODE}'")
    log.info(f"message.sent text='{TEXT}' to {PHONE}")
    log.info('telethon.request {"phone_code": "%s", "password": "%s"}', CODE, PASSWORD)
    log.debug("login.session_saved %s", SESSION)


@pytest.mark.parametrize("as_json", [False, True])
def test_planted_secrets_never_reach_the_output(as_json: bool) -> None:
    """Tokens, session strings, API hashes, phones, codes, passwords and text vanish; event names stay."""
    stream = _configured(as_json=as_json)
    _log_planted_secrets(get_logger("mcpgram.telegram.login"))
    output = stream.getvalue()
    for secret in (TOKEN, TOKEN[5:25], SESSION[:40], API_HASH, PHONE, "5551234534", CODE, TEXT, PASSWORD):
        assert secret not in output, secret
    for event in ("login.code_received", "telegram.rpc", "message.sent", "login.session_saved"):
        assert event in output
    assert "+*********34" in output
    assert REDACTED in output


def test_secrets_in_a_traceback_are_redacted() -> None:
    """An exception message carrying a token and a phone is redacted in the logged traceback."""
    stream = _configured(as_json=False)
    try:
        raise RuntimeError(f"refused {TOKEN} for {PHONE}")
    except RuntimeError:
        get_logger("mcpgram.app").exception("tool.failed")
    output = stream.getvalue()
    assert "RuntimeError: refused [redacted] for +*********34" in output
    assert TOKEN not in output


def test_secrets_from_other_libraries_are_redacted() -> None:
    """Records from non-mcpgram loggers pass through the same redaction on the way out."""
    stream = _configured(as_json=False)
    logging.getLogger("mcp.server.lowlevel").warning("auth header Bearer %s", TOKEN)
    assert TOKEN not in stream.getvalue()
    assert "Bearer [redacted]" in stream.getvalue()


def test_libraries_with_their_own_handlers_are_routed_through_redaction() -> None:
    """A library logger with its own handler and no propagation (FastMCP's way) is adopted by ours."""
    own_stream = io.StringIO()
    library = logging.getLogger("fastmcp")
    library.addHandler(logging.StreamHandler(own_stream))
    library.propagate = False
    stream = _configured(as_json=False)
    logging.getLogger("fastmcp.server.auth").warning("rejected token %s", TOKEN)
    assert own_stream.getvalue() == ""
    assert "fastmcp.server.auth" in stream.getvalue()
    assert TOKEN not in stream.getvalue()


def test_json_output_is_one_object_per_line_with_the_core_fields() -> None:
    """JSON mode writes one object per line with event, level, logger, tenant and extra fields."""
    stream = _configured(as_json=True)
    log = get_logger("mcpgram.tools")
    with bind_tenant("tnt_0123456789abcdef"):
        log.info("tool.called", extra={"tool": "find_chats", "chat_id": -1001234, "took": 0.5})
    log.warning("multi\nline")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "tool.called"
    assert (first["level"], first["logger"], first["tenant"]) == (
        "INFO",
        "mcpgram.tools",
        "tnt_0123456789abcdef",
    )
    assert (first["tool"], first["chat_id"], first["took"]) == ("find_chats", -1001234, 0.5)
    assert first["ts"].endswith("Z")
    assert (second["event"], second["tenant"]) == ("multi\nline", None)


def test_tenant_label_appears_when_bound_and_is_reset_after() -> None:
    """A bound tenant labels records inside the block only, nested binds restore the outer label."""
    stream = _configured(as_json=False)
    log = get_logger("mcpgram.tools")
    with bind_tenant("tnt_aaaa"):
        log.info("outer.start")
        with bind_tenant("tnt_bbbb"):
            log.info("inner")
            assert current_tenant() == "tnt_bbbb"
        log.info("outer.end")
    log.info("outside")
    lines = stream.getvalue().splitlines()
    assert ["[tnt_aaaa]" in lines[0], "[tnt_bbbb]" in lines[1], "[tnt_aaaa]" in lines[2]] == [True] * 3
    assert "[-]" in lines[3] and "tnt_" not in lines[3]
    assert current_tenant() is None


async def test_tenant_binding_is_per_task() -> None:
    """Concurrent tasks each see their own tenant, as requests served in parallel must."""

    async def serve(tenant: str) -> str | None:
        with bind_tenant(tenant):
            await asyncio.sleep(0.01)
            return current_tenant()

    assert list(await asyncio.gather(serve("tnt_one"), serve("tnt_two"))) == ["tnt_one", "tnt_two"]


@pytest.mark.parametrize(
    ("tenant_id", "plain"),
    [("tnt_0123456789abcdef", True), ("owner", True), (TOKEN, False), ("a b/c", False)],
)
def test_tenant_labels_are_short_and_never_echo_odd_ids(tenant_id: str, plain: bool) -> None:
    """Plain short tenant ids label themselves; anything else (a token by mistake) becomes a hash prefix."""
    label = tenant_label(tenant_id)
    assert (label == tenant_id) is plain
    if not plain:
        assert label.startswith("h:") and len(label) == 14 and tenant_id not in label


def test_noisy_library_loggers_are_quieted() -> None:
    """httpx, httpx2, uvicorn.access and telethon are set to WARNING, so request URLs are not logged."""
    stream = _configured(as_json=False)
    for name in ("httpx", "httpx2", "uvicorn.access", "telethon"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING
    logging.getLogger("httpx").info("HTTP Request: GET https://example.com/?token=%s", TOKEN)
    assert stream.getvalue() == ""


def test_configuring_twice_keeps_one_handler() -> None:
    """A second configure_logging call replaces mcpgram's handler instead of duplicating output."""
    configure_logging("INFO", json=False, stream=io.StringIO())
    stream = _configured(as_json=False)
    get_logger("mcpgram.x").info("once")
    assert stream.getvalue().count("once") == 1
    assert sum(handler.get_name() == "mcpgram" for handler in logging.getLogger().handlers) == 1


def test_bad_log_arguments_do_not_break_the_caller() -> None:
    """A format string that does not match its arguments is kept as-is instead of raising in the filter."""
    record = logging.LogRecord("mcpgram.x", logging.INFO, __file__, 1, "broken %s %s " + TOKEN, (1,), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "broken %s %s [redacted] [unformattable log arguments]"


def test_get_logger_places_names_under_mcpgram() -> None:
    """get_logger keeps mcpgram.* names and prefixes any other name with mcpgram."""
    assert get_logger("mcpgram.vault").name == "mcpgram.vault"
    assert get_logger("plugins.x").name == "mcpgram.plugins.x"


# (input, expected): what redaction leaves readable matters as much as what it removes.
REDACT_TABLE = [
    ("code=FLOOD_WAIT retry in 30 s", "code=FLOOD_WAIT retry in 30 s"),
    ("code=12345", "code=[redacted]"),
    ("login_code: 123456", "login_code: [redacted]"),
    ('{"phone_code": "12 345"}', '{"phone_code": "[redacted]"}'),
    ("chat_id=-1001234567890", "chat_id=-***********90"),
    ("call +44 20 7946 0958 now", "call +**********58 now"),
    ("took 0.123456789 s at 10.0.0.1", "took 0.123456789 s at 10.0.0.1"),
    ("msg 42 in chat 12345", "msg 42 in chat 12345"),
    ("Authorization: Bearer abc.def", "Authorization: [redacted] [redacted]"),
    (f"token={TOKEN}", "token=[redacted]"),
    ("GET /v1/url_auth/whatever/mcp", "GET /v1/url_auth/[redacted]/mcp"),
    (f"hash {API_HASH.upper()}", "hash [redacted]"),
    ("session.saved dc=2", "session.saved dc=2"),
]


@pytest.mark.parametrize(("text", "expected"), REDACT_TABLE)
def test_redact_removes_secrets_and_keeps_the_rest(text: str, expected: str) -> None:
    """redact() replaces secret-shaped substrings and leaves error codes, small numbers and IPs alone."""
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("+15551234534", "+*********34"), ("15551234534", "*********34"), ("+1 555 12", "+****12")],
)
def test_mask_phone_keeps_only_the_last_two_digits(phone: str, masked: str) -> None:
    """mask_phone keeps a leading plus and the last two digits."""
    assert mask_phone(phone) == masked


def test_uvicorn_colour_copies_of_messages_are_not_printed() -> None:
    """uvicorn passes each message again with ANSI colours as ``color_message``: one copy is enough."""
    stream = _configured(as_json=False)
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": "Started process [\x1b[36m%d\x1b[0m]"}
    )
    assert "Started server process [42]" in stream.getvalue()
    assert "color_message" not in stream.getvalue() and "\x1b" not in stream.getvalue()
