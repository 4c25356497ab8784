"""JSON <-> TL for the raw MTProto bridge, through Telethon's own generated registry (pure, no I/O).

A method is named as in Telegram's schema (``messages.getHistory``; ``messages.GetHistory`` and
``GetHistoryRequest`` spellings are accepted too); its parameters are a JSON object. Inside:

- a TL object is ``{"_": "typeName", ...fields}`` (``inputPeerSelf``, ``messages.messages``; the
  Telethon class spelling ``InputPeerSelf`` is accepted), checked against the type the field takes;
  only constructors, never a method, so no method can hide inside another one's parameters;
- vectors are JSON arrays; optional (flag) fields may be left out; flag booleans are ``true``;
- ``bytes`` are base64 (standard alphabet); dates are ISO 8601 (``2026-12-07T10:00:00Z``; no zone
  means UTC) or unix seconds;
- a field taking an ``InputPeer``, ``InputUser`` or ``InputChannel`` also takes the chat references
  every tool takes (a chat id, ``me``, ``@username``, a t.me link, ``+phone``): they become
  :class:`PeerRef` placeholders that ``rawcall.py`` resolves with the tenant's client, the strict way
  tools do. Every chat a call names (references and explicit peer objects) is collected for the
  policy's scope check before anything is sent.

Every refusal is ``INVALID_ARGUMENT`` naming the field (``params.reply_to.reply_to_msg_id``). Inputs
are capped in size (:data:`MAX_PARAMS_BYTES`), depth (:data:`MAX_DEPTH`) and values
(:data:`MAX_VALUES`). Results go back to JSON in ``rawresult.py``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
import json
import types as pytypes
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ForwardRef, Union, get_args, get_origin

from telethon import utils
from telethon.tl import types
from telethon.tl.alltlobjects import LAYER, tlobjects
from telethon.tl.tlobject import TLObject

from ..errors import ChatNotFound, InvalidArgument
from .refs import parse_chat_ref

__all__ = [
    "LAYER",
    "MAX_DEPTH",
    "MAX_PARAMS_BYTES",
    "MAX_VALUES",
    "PeerRef",
    "RawCall",
    "method_names",
    "parse_call",
    "tl_name_of",
    "to_tl",
    "type_names",
]

MAX_PARAMS_BYTES = 256 * 1024
MAX_DEPTH = 12
MAX_VALUES = 10_000
_LONG = 2**63
#: Peer fields that take a chat reference, and what the reference becomes.
PEER_KINDS = ("InputPeer", "InputUser", "InputChannel")


@dataclass(frozen=True)
class _Kind:
    """What a field takes: a scalar (``int``, ``str``, ``bytes``, ``bool``, ``float``, ``date``), a
    vector of ``inner``, or a TL object of an abstract type (``abstract``) or of these ``classes``."""

    scalar: str | None = None
    inner: _Kind | None = None
    abstract: str | None = None
    classes: frozenset[type] = frozenset()


@dataclass(frozen=True)
class _Param:
    name: str
    kind: _Kind
    optional: bool


@dataclass(frozen=True)
class PeerRef:
    """A chat reference standing where an ``InputPeer``/``InputUser``/``InputChannel`` goes."""

    kind: str
    ref: str | int
    path: str


@dataclass
class RawCall:
    """A parsed call: its canonical method name, the request (with :class:`PeerRef` placeholders) and
    the chats it names (references as given, explicit peers as marked ids, ``me``)."""

    method: str
    request: Any
    chats: tuple[str | int, ...]
    refs: list[PeerRef] = field(default_factory=list)


_GENERATED = ("telethon.tl.types", "telethon.tl.functions")


def _generated(cls: type) -> type:
    """The generated class behind ``cls`` (Telethon patches a few, e.g. ``Message``, with subclasses)."""
    return next((base for base in cls.__mro__ if base.__module__.startswith(_GENERATED)), cls)


def _tl_name(cls: type) -> str:
    generated = _generated(cls)
    root = (
        "telethon.tl.functions"
        if generated.__module__.startswith("telethon.tl.functions")
        else "telethon.tl.types"
    )
    namespace = generated.__module__[len(root) :].lstrip(".")
    name = generated.__name__.removesuffix("Request") if root.endswith("functions") else generated.__name__
    name = name[:1].lower() + name[1:]
    return f"{namespace}.{name}" if namespace else name


@functools.cache
def _registry() -> tuple[dict[str, type], dict[str, type], dict[type, str]]:
    functions_by_name: dict[str, type] = {}
    types_by_name: dict[str, type] = {}
    names: dict[type, str] = {}
    for cls in tlobjects.values():
        name = _tl_name(cls)
        names[cls] = name
        is_function = _generated(cls).__module__.startswith("telethon.tl.functions")
        (functions_by_name if is_function else types_by_name)[name] = cls
    return functions_by_name, types_by_name, names


@functools.cache
def _namespaces() -> frozenset[str]:
    return frozenset(name.rpartition(".")[0] for name in _registry()[1] if "." in name)


@functools.cache
def _abstract_ids(abstract: str) -> frozenset[int]:
    """The ``SUBCLASS_OF_ID`` values (crc32 of the TL type name) an abstract type hint can mean."""
    return frozenset(
        {zlib.crc32(abstract.encode())} | {zlib.crc32(f"{ns}.{abstract}".encode()) for ns in _namespaces()}
    )


def constructors_of(abstract: str) -> list[str]:
    """The constructors (TL names) of abstract type ``abstract`` as field hints name it (``InputPeer``)."""
    ids = _abstract_ids(abstract)
    return [name for name, cls in _registry()[1].items() if cls.SUBCLASS_OF_ID in ids]  # type: ignore[attr-defined]


def _kind(hint: Any) -> _Kind:
    origin = get_origin(hint)
    if origin in (Union, pytypes.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return _kind(args[0])
        return _Kind(classes=frozenset(a for a in args if isinstance(a, type)))
    if origin is list:
        return _Kind(inner=_kind(get_args(hint)[0]))
    scalars = {int: "int", str: "str", bytes: "bytes", bool: "bool", float: "float", datetime: "date"}
    if isinstance(hint, type) and hint in scalars:
        return _Kind(scalar=scalars[hint])
    if isinstance(hint, ForwardRef):
        hint = hint.__forward_arg__
    if isinstance(hint, str) and hint.startswith("Type"):
        return _Kind(abstract=hint[len("Type") :])
    if isinstance(hint, type) and issubclass(hint, TLObject):
        return _Kind(classes=frozenset({hint}))
    return _Kind(abstract="?")  # nothing accepts it: refused when given


def fields_of(cls: type) -> tuple[_Param, ...]:
    """The fields of a TL class, in schema order, with what each takes."""
    return _fields(cls)


@functools.cache
def _fields(cls: Any) -> tuple[_Param, ...]:
    found = []
    generated: Any = _generated(cls)  # its generated signature carries the TL types as hints
    init = generated.__init__
    for name, p in inspect.signature(init).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        # Optional: a flag field (default None), or one whose type admits None (a date sent as 0).
        takes_none = type(None) in get_args(p.annotation)
        found.append(
            _Param(name, _kind(p.annotation), takes_none or p.default is not inspect.Parameter.empty)
        )
    return tuple(found)


def tl_name_of(cls: type) -> str:
    """The TL name of a Telethon class (``messages.messages``), or its class name if not in the schema."""
    return _registry()[2].get(cls, cls.__name__)


def method_names() -> list[str]:
    """Every method of the installed schema, TL spelling (``messages.getHistory``)."""
    return sorted(_registry()[0])


def type_names() -> list[str]:
    """Every constructor of the installed schema, TL spelling (``inputPeerSelf``)."""
    return sorted(_registry()[1])


def _canonical(name: str, *, strip_request: bool = False) -> str:
    namespace, _, short = name.rpartition(".")
    if strip_request:
        short = short.removesuffix("Request")
    short = short[:1].lower() + short[1:]
    return f"{namespace}.{short}" if namespace else short


def canonical_method(name: str) -> str:
    """The schema's name of a TL method (``messages.GetHistory`` -> ``messages.getHistory``);
    INVALID_ARGUMENT if the schema has none."""
    return _registry()[2][method_class(name)]


def method_class(name: str) -> type:
    """The Telethon request class of a TL method name; INVALID_ARGUMENT if the schema has none."""
    functions_by_name = _registry()[0]
    name = name.strip()
    # Telethon's class spelling ends in Request (GetHistoryRequest); a few TL names do too
    # (bots.sendCustomRequest), so the schema's own name wins.
    cls = functions_by_name.get(_canonical(name)) or functions_by_name.get(
        _canonical(name, strip_request=True)
    )
    cls = cls if len(name) <= 100 else None
    if cls is None:
        raise InvalidArgument(
            f"no such method in Telegram's schema (layer {LAYER})",
            hint="name it as the schema does, e.g. messages.getHistory (https://core.telegram.org/methods)",
        )
    return cls


class _Parser:
    def __init__(self) -> None:
        self.values = 0
        self.chats: list[str | int] = []
        self.refs: list[PeerRef] = []

    def fail(self, path: str, message: str) -> InvalidArgument:
        return InvalidArgument(f"{path}: {message}", hint="see the method's parameters at core.telegram.org")

    def fields(self, cls: type, data: dict[str, Any], path: str, depth: int) -> dict[str, Any]:
        params = fields_of(cls)
        known = {p.name for p in params}
        for key in data:
            if key != "_" and key not in known:
                listed = ", ".join(p.name for p in params) or "none"
                raise self.fail(f"{path}.{key}", f"no such field of {_registry()[2][cls]} (fields: {listed})")
        kwargs: dict[str, Any] = {}
        for p in params:
            value = data.get(p.name)
            if value is None:
                if not p.optional:
                    raise self.fail(f"{path}.{p.name}", "required")
                kwargs[p.name] = None
                continue
            kwargs[p.name] = self.value(p.kind, value, f"{path}.{p.name}", depth + 1)
        return kwargs

    def value(self, kind: _Kind, value: Any, path: str, depth: int) -> Any:
        self.values += 1
        if self.values > MAX_VALUES or depth > MAX_DEPTH:
            raise self.fail(
                path, f"too deep or too many values (at most {MAX_DEPTH} levels, {MAX_VALUES} values)"
            )
        if kind.inner is not None:
            if not isinstance(value, list):
                raise self.fail(path, "expected an array")
            return [self.value(kind.inner, item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
        if kind.scalar == "bool":
            if not isinstance(value, bool):
                raise self.fail(path, "expected true or false")
            return value
        if kind.scalar == "int":
            if isinstance(value, bool) or not isinstance(value, int) or not -_LONG <= value < _LONG:
                raise self.fail(path, "expected an integer (64-bit at most)")
            return value
        if kind.scalar == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(path, "expected a number")
            return float(value)
        if kind.scalar == "str":
            if not isinstance(value, str):
                raise self.fail(path, "expected a string")
            return value
        if kind.scalar == "bytes":
            return self.bytes_value(value, path)
        if kind.scalar == "date":
            return self.date_value(value, path)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and kind.abstract in PEER_KINDS:
            return self.peer_ref(kind.abstract, value, path)
        if not isinstance(value, dict):
            raise self.fail(path, 'expected a TL object {"_": "typeName", ...}')
        return self.tl_object(kind, value, path, depth)

    def bytes_value(self, value: Any, path: str) -> bytes:
        if not isinstance(value, str):
            raise self.fail(path, "expected base64 text")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise self.fail(path, "expected base64 text") from None

    def date_value(self, value: Any, path: str) -> datetime:
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
            return datetime.fromtimestamp(value, tz=UTC)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None:
                parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
                if 0 <= parsed.timestamp() < 2**31:
                    return parsed
        raise self.fail(path, "expected a date: ISO 8601 or unix seconds")

    def peer_ref(self, kind: str, value: str | int, path: str) -> PeerRef:
        try:
            chat = parse_chat_ref(value)
        except ChatNotFound:
            raise self.fail(
                path, "not a chat reference: a chat id, 'me', @username, a t.me link or +phone"
            ) from None
        ref = PeerRef(kind, chat, path)
        self.chats.append(chat)
        self.refs.append(ref)
        return ref

    def tl_object(self, kind: _Kind, value: dict[str, Any], path: str, depth: int) -> Any:
        name = value.get("_")
        cls = _registry()[1].get(_canonical(name)) if isinstance(name, str) and len(name) <= 100 else None
        if cls is None:
            raise self.fail(f"{path}._", "no such type in Telegram's schema")
        expected = _abstract_ids(kind.abstract) if kind.abstract else frozenset()
        if not (cls.SUBCLASS_OF_ID in expected or any(issubclass(cls, c) for c in kind.classes)):  # type: ignore[attr-defined]
            raise self.fail(f"{path}._", f"{_registry()[2][cls]} is not a type this field takes")
        obj = cls(**self.fields(cls, value, path, depth))
        self.note_peer(obj)
        return obj

    def note_peer(self, obj: Any) -> None:
        """Record the chat an explicit peer object names, for the scope check."""
        if isinstance(obj, (types.InputPeerSelf, types.InputUserSelf)):
            self.chats.append("me")
        elif isinstance(
            obj,
            (
                types.InputPeerUser,
                types.InputPeerChat,
                types.InputPeerChannel,
                types.InputUser,
                types.InputChannel,
            ),
        ):
            self.chats.append(utils.get_peer_id(obj))


def parse_call(method: str, params: Any) -> RawCall:
    """Parse a call from JSON (already decoded); INVALID_ARGUMENT naming the field on any mistake."""
    cls = method_class(method)
    name = _registry()[2][cls]
    if not isinstance(params, dict):
        raise InvalidArgument("params: expected a JSON object of the method's parameters")
    size = len(json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_PARAMS_BYTES:
        raise InvalidArgument(f"params: {size} bytes, more than the {MAX_PARAMS_BYTES} a raw call takes")
    given = params.get("_")
    if given is not None and (not isinstance(given, str) or _canonical(given) != name):
        raise InvalidArgument("params._: names another method than the one called")
    parser = _Parser()
    request = cls(**parser.fields(cls, params, "params", 0))
    return RawCall(name, request, tuple(dict.fromkeys(parser.chats)), parser.refs)


def to_tl(type_or_method: str, data: dict[str, Any]) -> Any:
    """A TL object (or request) from JSON without peer references (tests and round trips)."""
    parser = _Parser()
    functions_by_name, types_by_name, _ = _registry()
    cls = functions_by_name.get(type_or_method) or types_by_name.get(_canonical(type_or_method))
    if cls is None:
        raise InvalidArgument(f"{type_or_method}: no such type or method")
    return cls(**parser.fields(cls, data, "params", 0))
