"""Arguments the schema refuses, answered like every other refusal: ``INVALID_ARGUMENT: ... hint: ...``.

FastMCP validates a call's arguments with pydantic before the tool runs, and its error text is
pydantic's: several lines, the offending input echoed back, and a documentation URL. An agent needs
one line saying which argument is wrong and what is allowed. :func:`invalid_arguments` builds that
line from pydantic's structured errors (their type and location, never their input) and from the
tool's own JSON schema (the allowed range), so the answer can never echo what the caller sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidArgument

__all__ = ["describe", "invalid_arguments"]

#: An unknown argument's name is repeated only if it looks like a parameter name.
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
#: At most this many wrong arguments are named in one answer (it stays one line).
MAX_NAMED = 3

_REASONS = {
    "missing": "is required",
    "missing_argument": "is required",
    "unexpected_keyword_argument": "is not a parameter of this tool",
    "extra_forbidden": "is not a parameter of this tool",
    "less_than_equal": "is too large",
    "less_than": "is too large",
    "greater_than_equal": "is too small",
    "greater_than": "is too small",
    "string_too_long": "is too long",
    "string_too_short": "is too short",
    "too_long": "is too long",
    "too_short": "is too short",
    "literal_error": "is not one of the allowed values",
    "enum": "is not one of the allowed values",
}


def _bounds(schema: Mapping[str, Any], low_key: str, high_key: str) -> tuple[Any, Any]:
    return schema.get(low_key), schema.get(high_key)


def _range(noun: str, low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{noun} from {low} to {high}"
    if high is not None:
        return f"{noun} up to {high}"
    if low is not None:
        return f"{noun} of at least {low}"
    return noun


def _text(schema: Mapping[str, Any]) -> str:
    low, high = _bounds(schema, "minLength", "maxLength")
    if high is not None:
        size = f"{low or 0} to {high}" if low else f"at most {high}"
        return f"a string of {size} characters"
    return "a string"


def describe(schema: Mapping[str, Any]) -> str:
    """What a JSON schema (one tool parameter's) allows, in a few words: "an integer from 1 to 100"."""
    if "enum" in schema:
        return "one of: " + ", ".join(repr(v) if v == "" else str(v) for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list) and set(kind) == {"integer", "string"}:
        # A chat reference: its description says which strings it takes.
        return f"an integer id or a string ({schema.get('description') or 'a reference'})"
    if kind == "integer":
        return _range("an integer", *_bounds(schema, "minimum", "maximum"))
    if kind == "number":
        return _range("a number", *_bounds(schema, "minimum", "maximum"))
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        return _text(schema)
    if kind == "array":
        items = schema.get("items") or {}
        low, high = _bounds(schema, "minItems", "maxItems")
        count = f"{low} to {high}" if low and high else (f"at most {high}" if high else "any number of")
        return f"a list of {count} items, each {describe(items)}"
    return "a value of the documented type"


def _field(error: Mapping[str, Any]) -> str:
    loc: Sequence[Any] = error.get("loc") or ()
    return str(loc[0]) if loc else ""


def invalid_arguments(errors: Sequence[Mapping[str, Any]], schema: Mapping[str, Any]) -> InvalidArgument:
    """The refusal for pydantic ``errors`` (``ValidationError.errors()``) against a tool's input ``schema``.

    Names up to :data:`MAX_NAMED` wrong arguments and, for each, what its schema allows. Only the
    error *type* and the argument *name* are read: never the input, which may hold anything.
    """
    properties: Mapping[str, Any] = schema.get("properties") or {}
    reasons: dict[str, str] = {}
    for error in errors:
        name = _field(error)
        if name not in properties:
            # Only an unknown argument is located outside the schema; its name is the caller's text.
            name = name if _NAME.match(name) else "an unknown argument"
            reasons.setdefault(name, _REASONS["unexpected_keyword_argument"])
            continue
        reasons.setdefault(name, _REASONS.get(str(error.get("type")), "is not valid"))
    if not reasons:
        return InvalidArgument(
            "the arguments do not match the tool's schema",
            hint="parameters: " + ", ".join(properties) if properties else None,
        )
    named = list(reasons.items())[:MAX_NAMED]
    message = "; ".join(f"{name} {reason}" for name, reason in named)
    expected = [f"{name}: {describe(properties[name])}" for name, _ in named if name in properties]
    hint = "expected " + "; ".join(expected) if expected else "parameters: " + ", ".join(properties)
    return InvalidArgument(message, hint=hint)
