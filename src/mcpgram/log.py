"""Logging for mcpgram: named loggers, the per-request tenant label, and a redacting safety net.

Code logs an event name plus fields (``log.info("login.code_sent", extra={"dc": 2})``); the tenant is
bound per request with :func:`bind_tenant` (a contextvar, as in structlog's ``contextvars.py``).
:class:`RedactingFilter` removes tokens, session strings, API hashes, login codes, passwords and
message text and masks phone numbers before anything is written: fields by their name first
(:func:`field_policy`), then, as a last resort, the rendered message by the shape of its text
(:func:`redact`), which leaves chat ids and timestamps alone. It is a safety net, not permission:
code must still not log secrets. :func:`tenant_label` is the one label of a tenant in every line.
Only ``cli.py`` calls :func:`configure_logging`; importing this module configures nothing and
reads no environment. Imports nothing from mcpgram (leaf module).
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
from typing import IO, Any, Literal

ROOT_LOGGER = "mcpgram"
REDACTED = "[redacted]"
# Extra fields that never reach the output, whatever their value (and any name ending in a suffix
# below); in a dict, their values become [redacted].
DROPPED_FIELDS = frozenset(
    {
        "text", "message_text", "caption", "password", "code", "phone_code", "login_code", "phone_code_hash",
        "token", "access_token", "api_hash", "session", "string_session", "auth_key", "secret",
        "server_secret", "operator_token", "authorization",
    }
)  # fmt: skip
_DROPPED_SUFFIXES = ("_token", "_password", "_secret", "_session", "_hash", "_auth_key", "_text")
_PHONE_FIELDS = frozenset({"phone", "phone_number"})
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
_TENANT_RE = re.compile(r"^(?:[A-Za-z0-9_-]{1,24}|h:[0-9a-f]{12})$")

tenant_context: contextvars.ContextVar[str | None] = contextvars.ContextVar("mcpgram_tenant", default=None)
"""The short label of the tenant the current request acts for, or ``None`` outside a request."""

# Free text (the rendered message, string fields, tracebacks) is the last resort: by then the
# structure is gone, so these patterns work on shapes. Values after these keys are replaced in
# ``key=value``, ``key: value``, ``"key": "value"`` and ``'key': 'value'`` forms, with or without a
# prefix (``bot_token=``, ``X-Authorization:``); an unquoted value runs over spaces until the next
# ``key=`` (or ``, key:``), so a multi-word password goes whole.
_HIDDEN_VALUE_KEYS = (
    "password|passwd|passphrase|token|access_token|api_hash|secret|server_secret|operator_token|"
    "session|string_session|auth_key|authorization|cookie|phone_code_hash|text|message_text|"
    "message|caption|sig|signature"
)
_KEY_PREFIX = r"(?<![\w-])(?:[A-Za-z0-9]+[_-])*"
_SEP = r"""(?P<sep>['"]?[ \t]*+[:=][ \t]*+)"""
_QUOTED = r"'(?:[^'\\\n]|\\.)*'" + r'|"(?:[^"\\\n]|\\.)*"'
# Possessive quantifiers and whole runs of blanks or brackets as single steps keep this linear.
_KEY_NAME = r"""['"]?[A-Za-z_][\w.-]*+['"]?[ \t]*+"""
_NEXT_KEY = rf"(?:[ \t]++|[,;&][ \t]*+){_KEY_NAME}=|[,;][ \t]*+{_KEY_NAME}:"
_VALUE_END = rf"""[)}}\]'"]*+(?:[ \t]*+(?:$|[\r\n])|{_NEXT_KEY})"""
_UNQUOTED = rf"""(?:\[redacted\]|\S)(?:(?!{_VALUE_END})(?:\[redacted\]|[ \t]++|[)}}\]'"]++|[^\r\n]))*"""
_SECRET_VALUE_RE = re.compile(
    rf"(?i){_KEY_PREFIX}(?P<key>{_HIDDEN_VALUE_KEYS}){_SEP}(?P<value>{_QUOTED}|{_UNQUOTED})"
)
# Login codes: only digit runs (``12345``, ``12 345``) are replaced, so ``code=FLOOD_WAIT`` and
# ``status_code=200`` stay readable.
_CODE_VALUE_RE = re.compile(
    rf"""(?i){_KEY_PREFIX}(?P<key>code){_SEP}(?P<q>['"]?)(?P<value>\d[\d \t-]{{3,10}}\d)(?P=q)(?![\w-])"""
)
# A value after a phone key is masked even without its "+".
_PHONE_VALUE_RE = re.compile(
    rf"""(?i){_KEY_PREFIX}(?P<key>phone|phone_number){_SEP}(?P<q>['"]?)(?P<value>\+?\d[\d ().-]{{3,22}}\d)"""
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"mcpg_[A-Za-z0-9_-]{20,}"), REDACTED),
    # OAuth codes, access and refresh tokens (web/oauth.py): mcpc_, mcpa_<tag>., mcpr_ + random.
    (re.compile(r"mcp[car]_[A-Za-z0-9_.-]{20,}"), REDACTED),
    (re.compile(r"(?i)(?<![\w-])Bearer\s+[^\s,;'\"]+"), "Bearer " + REDACTED),
    (re.compile(r"/url_auth/[^/\s?#'\"]+"), "/url_auth/" + REDACTED),
    # Telethon StringSession: "1" + url-safe base64 of the DC, address and 256-byte auth key.
    (re.compile(r"(?<![A-Za-z0-9_-])1[A-Za-z0-9_-]{100,}={0,2}"), REDACTED),
    # API hashes (32 hex) and longer hex: auth keys, secrets, digests.
    (re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{32,}(?![0-9A-Fa-f])"), REDACTED),
)
# In free text only a "+" number is taken for a phone: bare digit runs are chat ids, user ids,
# message ids and timestamps far more often, and they must survive intact.
_PHONE_RE = re.compile(r"(?<![\w+:.])(?<!:\d\d )\+\d[\d ().-]{5,22}\d(?![\w:])")


def get_logger(name: str) -> logging.Logger:
    """Return the logger ``name`` under ``mcpgram.*`` (``get_logger(__name__)`` in mcpgram modules)."""
    if name == ROOT_LOGGER or name.startswith(ROOT_LOGGER + "."):
        return logging.getLogger(name)
    return logging.getLogger(f"{ROOT_LOGGER}.{name}")


def tenant_label(tenant_id: str) -> str:
    """A short label for logs: the tenant id itself if short and plain, else a hash prefix.

    Anything long or odd (a token passed by mistake, say) is never written out as given. The one
    label of a tenant everywhere: access lines, audit lines and application lines; a label given
    again comes back unchanged.
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


def field_policy(name: str) -> Literal["drop", "phone", "keep"]:
    """What happens to a field (an ``extra=`` key, a dict key) by its name alone, before any rendering.

    ``"drop"``: its value never reaches the output (:data:`DROPPED_FIELDS` and names ending in
    ``_token``, ``_password``, ``_hash``...). ``"phone"``: masked with :func:`mask_phone`.
    ``"keep"``: the value is written, strings after the free-text scrub of :func:`redact`.
    """
    key = name.lower().replace("-", "_")
    if key in DROPPED_FIELDS or key.endswith(_DROPPED_SUFFIXES):
        return "drop"
    if key in _PHONE_FIELDS or key.endswith(("_phone", "_phone_number")):
        return "phone"
    return "keep"


def _mask_phone_match(match: re.Match[str]) -> str:
    digits = sum(char.isdigit() for char in match[0])
    return mask_phone(match[0]) if 7 <= digits <= 15 else match[0]


def _replace_value(match: re.Match[str], replacement: str) -> str:
    start, end = match.start("value") - match.start(), match.end("value") - match.start()
    return match[0][:start] + replacement + match[0][end:]


def _hide_secret_value(match: re.Match[str]) -> str:
    value = match["value"]
    if value == REDACTED:
        return match[0]
    quote = value[0] if value[0] in "'\"" and len(value) > 1 and value[-1] == value[0] else ""
    return _replace_value(match, quote + REDACTED + quote)


def redact(text: str) -> str:
    """Return ``text`` with tokens, session strings, hashes, secret values and login codes replaced,
    and phones masked; chat ids, message ids, dates and times are left as they are.

    The last resort, for text whose structure is gone (a rendered message, a traceback): fields
    are handled by name first (:func:`field_policy`).
    """
    # Shapes first, so that "Authorization: Bearer X" loses X and not just the word "Bearer";
    # the key=value pass then replaces the whole rest of the value ("Bearer [redacted]").
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    text = _SECRET_VALUE_RE.sub(_hide_secret_value, text)
    text = _CODE_VALUE_RE.sub(lambda match: _replace_value(match, REDACTED), text)
    text = _PHONE_VALUE_RE.sub(lambda match: _replace_value(match, mask_phone(match["value"])), text)
    return _PHONE_RE.sub(_mask_phone_match, text)


def _redact_value(name: str, value: Any) -> Any:
    """``value`` of the field ``name``, redacted by the field's name first, by its text last."""
    policy = field_policy(name)
    if policy == "drop":
        return REDACTED
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if policy == "phone" and isinstance(value, str | int):
        return mask_phone(str(value))
    if isinstance(value, int):
        return value  # ids are plain integers, and must stay readable
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(key): _redact_value(str(key), item) for key, item in value.items()}
    if isinstance(value, tuple):
        return tuple(_redact_value(name, item) for item in value)
    if isinstance(value, list | set | frozenset):
        return [_redact_value(name, item) for item in value]
    return redact(str(value))


def _redact_args(args: Any) -> Any:
    """Log-call arguments with their structure redacted (dicts by key); scalars are left to the
    free-text pass over the rendered message, which sees them next to their ``key=``."""
    if isinstance(args, dict):
        return {key: _redact_value(str(key), value) for key, value in args.items()}
    if isinstance(args, tuple):
        return tuple(
            _redact_value("", arg) if isinstance(arg, dict | list | tuple | set | frozenset) else arg
            for arg in args
        )
    return args


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` fields of ``record`` (everything that is not a standard LogRecord attribute)."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD_ATTRS and not key.startswith("_")
    }


class RedactingFilter(logging.Filter):
    """Scrub a record in place before any formatter sees it; never drops a record.

    Structure first: extra fields are dropped or masked by name (:func:`field_policy`) and dict
    arguments by key; then the message is rendered and, as a last resort, scrubbed as free text
    (:func:`redact`), as are string fields and the traceback. Stamps the tenant label.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.args = _redact_args(record.args)
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
            if field_policy(key) == "drop":
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
