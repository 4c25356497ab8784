"""Logging: planted secrets never reach the output, event names and tenant labels do."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

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


def test_oauth_codes_and_tokens_are_redacted_in_free_text() -> None:
    """OAuth secrets (``web/oauth.py``'s mcpc_/mcpa_/mcpr_ shapes) never reach the output as given."""
    stream = _configured(as_json=False)
    body = "Zk3p9QxW2vLr8TnB5mYc1HdJ6sFa0GuE4oKiRwXyVbN"
    secrets = ("mcpc_" + body, "mcpa_0123456789abcdef." + body, "mcpr_" + body)
    logging.getLogger("fastmcp.server.auth").warning("grant %s %s %s", *secrets)
    output = stream.getvalue()
    assert "grant" in output and not any(secret[5:25] in output for secret in secrets)


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


# (input, expected; None: unchanged): what redaction leaves readable matters as much as what it removes.
REDACT_TABLE: list[tuple[str, str | None]] = [
    ("code=FLOOD_WAIT retry in 30 s", "code=FLOOD_WAIT retry in 30 s"),
    ("code=12345", "code=[redacted]"),
    ("login_code: 123456", "login_code: [redacted]"),
    ('{"phone_code": "12 345"}', '{"phone_code": "[redacted]"}'),
    ("chat_id=-1001234567890", "chat_id=-1001234567890"),
    ("phone=15551234534 ok", "phone=*********34 ok"),
    ("call +44 20 7946 0958 now", "call +**********58 now"),
    ("took 0.123456789 s at 10.0.0.1", "took 0.123456789 s at 10.0.0.1"),
    ("msg 42 in chat 12345", "msg 42 in chat 12345"),
    ("Authorization: Bearer abc.def", "Authorization: [redacted]"),
    ("password=correct horse battery staple dc=2", "password=[redacted] dc=2"),
    ("code: 12 345 sent", "code: [redacted] sent"),
    ("status_code=200 error_code=400", "status_code=200 error_code=400"),
    ("?token=abc&next=1", "?token=[redacted]&next=1"),
    ("Keys(bot_token=abc def, chat=5)", "Keys(bot_token=[redacted], chat=5)"),
    ('{"text": "say \\"hi\\" twice"}', '{"text": "[redacted]"}'),
    ("at 2026-12-07T05:49:24.123+00:00 or 2026-12-07 05:49:24 +0100", None),
    ("chat -1001600000001 user 100000002 epoch 1765086564", None),
    (f"token={TOKEN}", "token=[redacted]"),
    ("GET /v1/url_auth/whatever/mcp", "GET /v1/url_auth/[redacted]/mcp"),
    (f"hash {API_HASH.upper()}", "hash [redacted]"),
    ("session.saved dc=2", "session.saved dc=2"),
]


@pytest.mark.parametrize(("text", "expected"), REDACT_TABLE)
def test_redact_removes_secrets_and_keeps_the_rest(text: str, expected: str | None) -> None:
    """redact() replaces secret-shaped substrings and leaves error codes, ids, dates and IPs alone."""
    assert redact(text) == (text if expected is None else expected)


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


# Every form a secret can take on its way to a log line; each case also carries a chat id, a user
# id and a timestamp, which must come out intact.
WORDS = "plover xyzzy frobnitz quux"  # a multi-word password or message text
OPAQUE = "s3cr3t-opaque-bearer"  # a bearer token without mcpgram's prefix
CHAT, USER, WHEN = -1001600000001, 100000002, "2026-12-07T05:49:24.123+00:00"
IDS = f"chat_id={CHAT} user_id={USER} ts={WHEN}"
SECRETS = (TOKEN, TOKEN[5:25], OPAQUE, SESSION[:40], API_HASH, PHONE, "5551234534", CODE, *WORDS.split())
FIELDS = {"password": WORDS, "phone_code": CODE, "api_hash": API_HASH, "chat_id": CHAT, "date": WHEN}


def _raise_and_log(log: logging.Logger) -> None:
    try:
        raise ValueError(f"login refused password={WORDS} token={TOKEN} session={SESSION} {IDS}")
    except ValueError:
        log.exception("login.failed")


PLANTED: dict[str, Any] = {
    "quoted": lambda log: log.info("login password='%s' code=\"%s\" %s", WORDS, CODE, IDS),
    "unquoted": lambda log: log.info(
        "login token=%s session=%s api_hash=%s %s", OPAQUE, SESSION, API_HASH, IDS
    ),
    "multi-word password=": lambda log: log.info(f"login password={WORDS} chat_id={CHAT} at {WHEN}"),
    "multi-word code:": lambda log: log.info(f"login code: {CODE[:2]} {CODE[2:]} for {IDS}"),
    "multi-word text": lambda log: log.info(f"message.sent text: {WORDS}, chat_id={CHAT} at {WHEN}"),
    "JSON": lambda log: log.info("telethon.request %s", json.dumps(FIELDS)),
    "dict argument": lambda log: log.info("telethon.request %r", {**FIELDS, "user": USER}),
    "dict repr": lambda log: log.info("telethon.request " + repr({**FIELDS, "user": USER})),
    "exception message": _raise_and_log,
    "url_auth URL": lambda log: log.warning(f"GET https://gw.example/v1/url_auth/{OPAQUE}/mcp?x=1 {IDS}"),
    "url_auth token URL": lambda log: log.warning(f"GET /v1/url_auth/{TOKEN}/mcp {IDS}"),
    "Authorization header": lambda log: log.info(f"headers Authorization: Bearer {OPAQUE} {IDS}"),
    "Authorization dict": lambda log: log.info("headers %s %s", {"authorization": f"Bearer {OPAQUE}"}, IDS),
    "Basic auth": lambda log: log.info(f"Authorization: Basic {OPAQUE} " + IDS.replace(" ", ", ")),
    "phone in text": lambda log: log.info(f"login.code_sent to {PHONE} for {IDS}"),
    "extra fields": lambda log: log.info(
        "login.step",
        extra={
            "password": WORDS,
            "bot_token": OPAQUE,
            "message_text": WORDS,
            "phone": PHONE,
            "headers": {"Authorization": f"Bearer {OPAQUE}"},
            "chat_id": CHAT,
            "user_id": USER,
            "date": WHEN,
            "note": f"password: {WORDS}",
        },
    ),
}


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("form", list(PLANTED))
def test_secrets_in_every_form_reach_no_handler(form: str, as_json: bool) -> None:
    """Each planted form loses every secret on the way out; chat ids, user ids and dates survive."""
    stream = _configured(as_json=as_json)
    PLANTED[form](get_logger("mcpgram.telegram.login"))
    output = stream.getvalue()
    if as_json:
        output = json.dumps([json.loads(line) for line in output.splitlines()], ensure_ascii=False)
    assert REDACTED in output or "****" in output
    assert [secret for secret in SECRETS if secret in output] == []
    assert str(CHAT) in output and WHEN in output
    if form not in ("JSON", "multi-word text", "multi-word password="):
        assert str(USER) in output


@pytest.mark.parametrize(
    "hostile",
    [
        "password=a" + " " * 50_000 + "b",
        "token=a" + ")" * 50_000 + "b",
        "secret=a" + ", " * 50_000,
        "x_" * 50_000,
    ],
)
def test_redaction_stays_fast_on_hostile_text(hostile: str) -> None:
    """Long runs of blanks or brackets after a key take milliseconds, not the hours backtracking would."""
    started = time.perf_counter()
    redact(hostile)
    assert time.perf_counter() - started < 2.0
