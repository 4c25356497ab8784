"""Logging for mcpgram: named loggers, the per-request tenant label, and a redacting safety net.

Code logs an event name plus fields (``log.info("login.code_sent", extra={"dc": 2})``); the tenant is
bound per request with :func:`bind_tenant` (a contextvar, as in structlog's ``contextvars.py``).
:class:`RedactingFilter` masks phone numbers and replaces tokens, session strings, API hashes, login
codes and message text before anything is written. It is a safety net, not permission: code must
still not log secrets. Only ``cli.py`` calls :func:`configure_logging`; importing this module
configures nothing and reads no environment. Imports nothing from mcpgram (leaf module).
"""

from __future__ import annotations

import contextvars
import datetime
import hashlib
import json as jsonlib
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

ROOT_LOGGER = "mcpgram"
REDACTED = "[redacted]"
# Extra fields that never reach the output, whatever their value.
DROPPED_FIELDS = frozenset(
    {
        "text", "message_text", "caption", "password", "code", "phone_code", "login_code", "phone_code_hash",
        "token", "access_token", "api_hash", "session", "string_session", "auth_key", "secret",
        "server_secret", "operator_token", "authorization",
    }
)  # fmt: skip
# These log every request URL (query strings, /url_auth/<token>/ paths) at INFO.
QUIET_LOGGERS = ("httpx", "httpx2", "uvicorn.access")
# Libraries that install their own handlers and stop propagation (FastMCP does so on import, uvicorn
# in run()), which would bypass redaction. configure_logging strips those handlers and lets them
# propagate to ours.
ADOPTED_LOGGERS = ("fastmcp", "uvicorn", "uvicorn.error", "uvicorn.access")
_HANDLER_NAME = "mcpgram"
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "tenant",
    # uvicorn's copy of its message with ANSI colours: the message itself is already there.
    "color_message",
}
_TENANT_RE = re.compile(r"^[A-Za-z0-9_-]{1,24}$")

tenant_context: contextvars.ContextVar[str | None] = contextvars.ContextVar("mcpgram_tenant", default=None)
"""The short label of the tenant the current request acts for, or ``None`` outside a request."""

# Values of these keys are replaced in ``key=value``, ``key: value`` and ``"key": "value"`` forms.
_HIDDEN_VALUE_KEYS = (
    "password|passwd|token|access_token|api_hash|secret|server_secret|operator_token|session|"
    "string_session|auth_key|authorization|phone_code_hash|text|message_text|message|caption|sig|signature"
)
# Login codes: only digit runs are replaced, so ``code=FLOOD_WAIT`` stays readable.
_CODE_KEYS = "code|phone_code|login_code"
_KEY_VALUE_RE = re.compile(
    rf"""(?i)(?<![\w])(?P<key>{_HIDDEN_VALUE_KEYS}|(?P<codekey>{_CODE_KEYS}))(?P<sep>['"]?\s*[:=]\s*)"""
    r"""(?P<value>\[redacted\]|'[^']*'|"[^"]*"|[^\s,;&'")}\]]+)"""
)
_LOGIN_CODE_RE = re.compile(r"""^['"]?\d[\d -]{3,10}\d['"]?$""")
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"mcpg_[A-Za-z0-9_-]{20,}"), REDACTED),
    (re.compile(r"(?i)\bBearer\s+[^\s,;'\"]+"), "Bearer " + REDACTED),
    (re.compile(r"/url_auth/[^/\s?#'\"]+"), "/url_auth/" + REDACTED),
    # Telethon StringSession: "1" + url-safe base64 of the DC, address and 256-byte auth key.
    (re.compile(r"(?<![A-Za-z0-9_-])1[A-Za-z0-9_-]{100,}={0,2}"), REDACTED),
    # API hashes (32 hex) and longer hex: auth keys, secrets, digests.
    (re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{32,}(?![0-9A-Fa-f])"), REDACTED),
)
# A "+" number may carry separators; a bare digit run must stand alone (not part of a word or decimal).
_PHONE_RE = re.compile(r"(?<![\w+])\+\d[\d ().-]{5,22}\d(?![\w])|(?<![\w.+])\d{7,15}(?!\w|\.\d)")


def get_logger(name: str) -> logging.Logger:
    """Return the logger ``name`` under ``mcpgram.*`` (``get_logger(__name__)`` in mcpgram modules)."""
    if name == ROOT_LOGGER or name.startswith(ROOT_LOGGER + "."):
        return logging.getLogger(name)
    return logging.getLogger(f"{ROOT_LOGGER}.{name}")


def tenant_label(tenant_id: str) -> str:
    """A short label for logs: the tenant id itself if short and plain, else a hash prefix.

    Anything long or odd (a token passed by mistake, say) is never written out as given.
    """
    if _TENANT_RE.match(tenant_id):
        return tenant_id
    return "h:" + hashlib.sha256(tenant_id.encode()).hexdigest()[:12]


def current_tenant() -> str | None:
    """The label bound by :func:`bind_tenant` in this context, or ``None``."""
    return tenant_context.get()


@contextmanager
def bind_tenant(tenant_id: str | None) -> Iterator[str | None]:
    """Label every log record in this context (and tasks started from it) with the tenant.

    Example::

        with bind_tenant(record.tenant_id):
            log.info("tool.called", extra={"tool": "find_chats"})
    """
    label = tenant_label(tenant_id) if tenant_id is not None else None
    token = tenant_context.set(label)
    try:
        yield label
    finally:
        tenant_context.reset(token)


def mask_phone(phone: str) -> str:
    """Keep a leading ``+`` and the last two digits: ``+15551234534`` → ``+*********34``."""
    digits = re.sub(r"\D", "", phone)
    keep = digits[-2:] if len(digits) > 4 else ""
    return ("+" if phone.lstrip().startswith("+") else "") + "*" * (len(digits) - len(keep)) + keep


def _mask_phone_match(match: re.Match[str]) -> str:
    digits = sum(char.isdigit() for char in match[0])
    return mask_phone(match[0]) if 7 <= digits <= 15 else match[0]


def _redact_key_value(match: re.Match[str]) -> str:
    value = match["value"]
    if value == REDACTED or (match["codekey"] and not _LOGIN_CODE_RE.match(value)):
        return match[0]
    quote = value[0] if value[0] in "'\"" and len(value) > 1 and value[-1] == value[0] else ""
    return f"{match['key']}{match['sep']}{quote}{REDACTED}{quote}"


def redact(text: str) -> str:
    """Return ``text`` with tokens, session strings, hashes and login codes replaced, phones masked."""
    # Shapes first, so that "Authorization: Bearer X" loses X and not just the word "Bearer";
    # the key=value pass then leaves values that are already [redacted] alone.
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    text = _KEY_VALUE_RE.sub(_redact_key_value, text)
    return _PHONE_RE.sub(_mask_phone_match, text)


def _redact_value(name: str, value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        # Ids are plain integers too; only fields that say they hold a phone are masked.
        return mask_phone(str(value)) if "phone" in name.lower() else value
    if isinstance(value, dict):
        return {
            str(key): _redact_value(str(key), item)
            for key, item in value.items()
            if str(key).lower() not in DROPPED_FIELDS
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(name, item) for item in value]
    return redact(str(value))


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of ``record`` (everything that is not a standard LogRecord attribute)."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD_ATTRS and not key.startswith("_")
    }


class RedactingFilter(logging.Filter):
    """Scrub a record in place before any formatter sees it; never drops a record.

    Formats the message with its args and redacts it, redacts the traceback, drops extra fields
    named in :data:`DROPPED_FIELDS`, redacts the rest, and stamps the bound tenant label.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break the caller's log call
            message = f"{record.msg} [unformattable log arguments]"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in extra_fields(record).items():
            if key.lower() in DROPPED_FIELDS:
                delattr(record, key)
            else:
                setattr(record, key, _redact_value(key, value))
        explicit = getattr(record, "tenant", None)
        record.tenant = tenant_label(str(explicit)) if explicit is not None else tenant_context.get()
        return True


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JSONFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``event``, ``tenant``, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
            "tenant": getattr(record, "tenant", None),
        }
        for key, value in extra_fields(record).items():
            payload.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = record.exc_text
        return jsonlib.dumps(payload, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``<ts> <LEVEL> <logger> [<tenant>] <event> key=value ...``, then any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        tenant = getattr(record, "tenant", None) or "-"
        fields = "".join(f" {key}={value!r}" for key, value in extra_fields(record).items())
        line = (
            f"{_timestamp(record)} {record.levelname} {record.name} [{tenant}] {record.getMessage()}{fields}"
        )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


def configure_logging(
    level: int | str = logging.INFO,
    *,
    json: bool = False,
    stream: IO[str] | None = None,
    telethon_level: int | str = logging.WARNING,
) -> logging.Handler:
    """Install mcpgram's redacting handler on the root logger; only the CLI calls this.

    Calling it again replaces the previous handler. Logs go to ``stream`` (default ``sys.stderr``:
    with the stdio transport, stdout carries the MCP protocol). Loggers in :data:`ADOPTED_LOGGERS`
    lose their own handlers and propagate here, so call this after ``fastmcp`` is imported, and run
    uvicorn with ``log_config=None`` so it does not install its handlers again.

    Args:
        level: level for the root and ``mcpgram`` loggers, e.g. ``"INFO"``.
        json: write one JSON object per line instead of text.
        stream: where to write; ``sys.stderr`` if ``None``.
        telethon_level: level for the ``telethon`` logger (its DEBUG output shows request contents).

    Returns:
        The installed handler.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JSONFormatter() if json else TextFormatter())
    # On the handler, not a logger: handler filters also see records propagated from other libraries.
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in [existing for existing in root.handlers if existing.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    level = level.upper() if isinstance(level, str) else level
    root.setLevel(level)
    logging.getLogger(ROOT_LOGGER).setLevel(level)
    for name in ADOPTED_LOGGERS:
        adopted = logging.getLogger(name)
        for own in list(adopted.handlers):
            adopted.removeHandler(own)
        adopted.propagate = True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("telethon").setLevel(telethon_level)
    return handler
