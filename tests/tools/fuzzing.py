"""Fuzzing machinery that knows JSON Schema and nothing about any particular tool.

``schema_values`` turns a tool's ``inputSchema`` into a Hypothesis strategy (leaves come from
hypothesis-jsonschema, often swapped for real values the server returned), ``harvest`` collects those
real values by calling every tool with what the others answered, and ``mutated_args`` breaks valid
arguments one key at a time. A new tool needs no code here.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator
from mcp.types import Tool

from mcpgram.tools.cursors import encode_cursor

#: What tools/cursors.py mints: base64url body, a dot, a 22-character MAC.
CURSOR_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$")
#: How many seeds one harvesting round tries per tool (keeps module setup around two seconds).
HARVEST_CALLS = 40
#: A write tool is harvested until this many calls worked, trying at most WRITE_ATTEMPTS argument sets.
WRITE_WORKING, WRITE_ATTEMPTS = 3, 80
#: How many values of a write tool's second required parameter are paired with each of its first.
WRITE_SECOND = 12

#: Hostile strings tried in every string argument of every tool (and mixed into the fuzz).
HOSTILE_STRINGS: tuple[str, ...] = (
    *("", " ", "\x00", "me\x00", "\x00" * 64, "\r\nX-Injected: 1", "a" * 513, "x" * 100_000),
    *("../../../../etc/passwd", "..\\..\\..\\windows\\win.ini", "/etc/shadow", "file:///etc/passwd"),
    *("%2e%2e%2f%2e%2e%2fetc%2fpasswd", "t.me/../../etc/passwd", "http://169.254.169.254/latest/meta-data/"),
    *("https://t.me/joinchat/AAAAAEkk2WdoDrB4", "https://t.me/+AAAAAEkk2WdoDrB4", "https://t.me/c/1/5"),
    *("tg://resolve?domain=durov", "@", "@@@@", "@" + "a" * 300, "@me", "+", "+0000000", "+999 661 0000"),
    *("0", "-0", "-1", "-100", "-1000000000000", "-1000000000001", "2147483648", "-2147483649"),
    *("1e9", " 42 "),
    *("9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616"),
    *("99999999999999999999", "-99999999999999999999"),
    "\u0661\u0662\u0663",  # Arabic-Indic digits: \d matches them and int() accepts them
    "\uff11\uff12\uff13",  # fullwidth digits
    *("saved\u200b", "\u202eme", "\U0001f600" * 50, "e\u0301" * 40),
    *("${jndi:ldap://x/a}", "{{7*7}}", "%s%n%x", "'; DROP TABLE tenants; --", "<script>alert(1)</script>"),
    # Cursor-shaped junk: no MAC, a zero MAC, padding only, a non-ASCII MAC.
    *("a.b", ".", "..", "." * 600, "e30.AAAAAAAAAAAAAAAAAAAAAA", "====." + "=" * 22, "e30." + "\u00e9" * 22),
    base64.urlsafe_b64encode(b'{"chat":"me","before":1}').decode().rstrip("=") + ".AAAAAAAAAAAAAAAAAAAAAA",
)
#: Page positions a well-signed cursor might carry (only the server's key can mint one).
HOSTILE_POSITIONS: tuple[Any, ...] = (
    *(0, -1, True, False, 1.5, "7", None, [], {}),
    *(2**31, 2**40, 2**63, -(2**63) - 1),
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
#: Integers at the edges of TL's ``int`` and ``long``, and past them.
EDGES = (
    *(0, -1, 2**31 - 1, 2**31, -(2**31) - 1, 2**53),
    *(2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30)),
)
NUMBERS = st.sampled_from(EDGES) | st.integers() | st.floats()
_MAC = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=22, max_size=22
)

Seed = str | int
#: Calls one tool; returns its JSON payload, or None when the tool refused.
Caller = Callable[[str, dict[str, Any]], Awaitable[Any]]


@dataclass
class Harvest:
    """Real values the tools returned, and argument sets that worked."""

    seeds: list[Seed] = field(default_factory=lambda: ["me"])
    working: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: (chat, message id) pairs known to belong together, for tools that take a chat and a message.
    pairs: list[tuple[str, int]] = field(default_factory=list)


# -- schema helpers ----------------------------------------------------------------------------------


def accepts(schema: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` is valid under ``schema`` (JSON Schema 2020-12, as MCP tools declare)."""
    return bool(_validator(json.dumps(schema, sort_keys=True)).is_valid(value))


@functools.lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def with_defs(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``schema`` carrying the root's ``$defs`` so local ``$ref``s still resolve on their own."""
    return {**schema, **{key: root[key] for key in ("$defs", "definitions") if key in root}}


def properties(tool: Tool) -> dict[str, dict[str, Any]]:
    """Each parameter's schema, ready to validate on its own."""
    schema = tool.input_schema
    return {name: with_defs(sub, schema) for name, sub in schema.get("properties", {}).items()}


def is_read_only(tool: Tool) -> bool:
    """Whether the tool says it only reads (readOnlyHint): only those are re-run freely."""
    return bool(tool.annotations and tool.annotations.read_only_hint)


def accepts_strings(schema: dict[str, Any]) -> bool:
    return any(accepts(schema, probe) for probe in ("x", "1", "me"))


# hypothesis-jsonschema 0.23.1 (the latest) builds objects through a Hypothesis internal
# (``many.more``) that current Hypothesis removed, so objects are assembled here and only their
# leaves go to ``from_schema``. Keywords this does not handle fall back to ``from_schema``.
_PLAIN_OBJECT = {"type", "properties", "required", "additionalProperties", "title", "description", "default"}
_ANNOTATIONS = {"title", "description", "default"}
_PLAIN_ARRAY = {"type", "items", "minItems", "maxItems", *_ANNOTATIONS}
#: Longest list drawn for an array of objects (the schema's own maxItems is checked by mutations).
_ARRAY_DRAWN = 3


def schema_values(schema: dict[str, Any], root: dict[str, Any], seeds: list[Seed]) -> st.SearchStrategy[Any]:
    """Values valid under ``schema``; leaves are often one of the ``seeds`` that fit them."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and set(schema) - {"$ref"} <= _ANNOTATIONS:
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return schema_values(target, root, seeds)
    for key in ("anyOf", "oneOf"):
        if key in schema and set(schema) - {key} <= _ANNOTATIONS:
            return st.one_of([schema_values(option, root, seeds) for option in schema[key]])
    if schema.get("type") == "object" and set(schema) <= _PLAIN_OBJECT:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {n: schema_values(s, root, seeds) for n, s in props.items() if n in required},
            optional={n: schema_values(s, root, seeds) for n, s in props.items() if n not in required},
        )
    items = schema.get("items")
    plain_array = schema.get("type") == "array" and set(schema) <= _PLAIN_ARRAY
    if plain_array and isinstance(items, dict) and (items.get("type") == "object" or "$ref" in items):
        low = schema.get("minItems", 0)
        high = max(low, min(schema.get("maxItems", _ARRAY_DRAWN), _ARRAY_DRAWN))
        return st.lists(schema_values(items, root, seeds), min_size=low, max_size=high)
    leaf = with_defs(schema, root)
    generated = from_schema(leaf)
    fitting = [seed for seed in seeds if accepts(leaf, seed)]
    return st.one_of(st.sampled_from(fitting), generated) if fitting else generated


def recombined(tool: Tool, harvest: Harvest) -> st.SearchStrategy[dict[str, Any]]:
    """A call that worked, with some parameters dropped or drawn anew."""
    schema = tool.input_schema
    fresh = {
        name: schema_values(sub, schema, harvest.seeds) for name, sub in schema.get("properties", {}).items()
    }
    required = set(schema.get("required", []))

    @st.composite
    def draw_call(draw: st.DrawFn) -> dict[str, Any]:
        args = dict(draw(st.sampled_from(harvest.working[tool.name])))
        for name, strategy in fresh.items():
            change = draw(st.sampled_from(["keep", "keep", "drop", "new"]))
            if change == "drop" and name not in required:
                args.pop(name, None)
            elif change == "new":
                args[name] = draw(strategy)
        return args

    return draw_call()


def valid_args(tool: Tool, harvest: Harvest) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments valid under the tool's inputSchema, often made of real data the tools returned."""
    schema = tool.input_schema
    fresh = schema_values(schema, schema, harvest.seeds)
    strategy = st.one_of(fresh, recombined(tool, harvest)) if harvest.working.get(tool.name) else fresh
    return strategy.filter(lambda args: accepts(schema, args))


# -- breaking things ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CursorMint:
    """What it takes to sign a cursor as the server does: only the fuzz of signed payloads needs it."""

    key: bytes
    tenant_id: str

    def __call__(self, payload: dict[str, Any]) -> str:
        return encode_cursor(self.key, self.tenant_id, payload)


def cursor_like(harvest: Harvest) -> list[str]:
    return [s for s in harvest.seeds if isinstance(s, str) and CURSOR_SHAPE.match(s)]


@st.composite
def hostile_string(draw: st.DrawFn, harvest: Harvest, mint: CursorMint, args: dict[str, Any]) -> str:
    """A string meant to break parsing: junk, mutated real values, forged or well-signed hostile cursors."""
    strings = [s for s in harvest.seeds if isinstance(s, str)]
    in_call = [v for v in args.values() if isinstance(v, str)] or strings
    # Ids (sent as strings) and well-signed cursors come up most: only signed cursors get past the
    # MAC to the code that reads them.
    kinds = [*("table", "junk", "edge", "numeric", "mutated"), *("forged", "signed") * 2, "signed_any"]
    kind = draw(st.sampled_from(kinds))
    if kind == "table":
        return draw(st.sampled_from(HOSTILE_STRINGS))
    if kind in ("edge", "numeric"):  # ids travel as strings
        return str(draw(st.sampled_from(EDGES) if kind == "edge" else st.integers()))
    if kind == "junk":
        return draw(st.text(max_size=600))
    if kind == "mutated":
        seed = draw(st.sampled_from(strings))
        at = draw(st.integers(0, len(seed)))
        return seed[:at] + draw(st.text(max_size=8)) + seed[at + draw(st.integers(0, 3)) :]
    if kind == "forged":
        cursors = cursor_like(harvest)
        source = draw(st.sampled_from(["real", "json", "text"] if cursors else ["json", "text"]))
        if source == "real":
            body = draw(st.sampled_from(cursors)).split(".")[0]
        elif source == "json":
            payload = draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3))
            body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
        else:
            body = draw(st.text(max_size=40))
        return f"{body}.{draw(_MAC | st.text(max_size=30))}"
    # The tools must not trust what they signed beyond its shape.
    if kind == "signed":
        position = draw(st.sampled_from((*HOSTILE_POSITIONS, *EDGES)) | JSON_VALUES)
        return mint({"chat": draw(st.sampled_from(in_call)), "before": position})
    return mint(draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3)))


@st.composite
def mutated_args(
    draw: st.DrawFn,
    tool: Tool,
    harvest: Harvest,
    mint: CursorMint,
    base: st.SearchStrategy[dict[str, Any]],
    *,
    keys: bool = True,
) -> dict[str, Any]:
    """``base`` arguments with one mutation: a hostile value, or (``keys``) also a wrong type, an extra
    or a missing key."""
    schema = tool.input_schema
    args = dict(draw(base))
    props = properties(tool)
    names = sorted(props)
    required = sorted(set(schema.get("required", [])) & set(args))
    kinds = ["hostile"] if names else []
    if keys:
        kinds += ["hostile", "wrong_type", "extra"] + (["drop_required"] if required else [])
    kind = draw(st.sampled_from(kinds or ["extra"]))
    if kind == "extra":
        args[draw(st.text(max_size=20).filter(lambda k: k not in names))] = draw(JSON_VALUES)
    elif kind == "drop_required":
        del args[draw(st.sampled_from(required))]
    else:
        name = draw(st.sampled_from(names))
        if kind == "wrong_type":
            args[name] = draw(JSON_VALUES)
        elif accepts_strings(props[name]):
            args[name] = draw(hostile_string(harvest, mint, args))
        else:
            args[name] = draw(NUMBERS)
        if draw(st.booleans()):
            # Alone with the required parameters, so another one's refusal cannot mask this one.
            optional = set(names) - set(schema.get("required", [])) - {name}
            args = {key: value for key, value in args.items() if key not in optional}
    return args


# -- harvesting real values --------------------------------------------------------------------------


def _scalars(value: Any) -> Iterator[Seed]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, list):
        for item in value:
            yield from _scalars(item)
    elif isinstance(value, str | int) and not isinstance(value, bool):
        yield value


def _add_seeds(seeds: list[Seed], payload: Any) -> None:
    for value in _scalars(payload):
        for seed in (value, str(value)) if isinstance(value, int) else (value,):
            if len(str(seed)) <= 300 and seed not in seeds:
                seeds.append(seed)


def _bounds(sub: dict[str, Any]) -> list[Any]:
    values = [sub[key] for key in ("maximum", "minimum", "default") if key in sub]
    return [v for v in values if accepts(sub, v)][:2]


def _harvest_args(tool: Tool, seeds: list[Seed]) -> Iterator[dict[str, Any]]:
    """Required parameters from the seeds (numbers first: ids are what tools take), optional ones at
    their bounds (the most data, and the smallest pages)."""
    props = properties(tool)
    required = [n for n in props if n in tool.input_schema.get("required", [])]
    variants: list[dict[str, Any]] = [{}]
    for name in props:
        values = _bounds(props[name]) if name not in required else []
        if values:
            variants = [{**v, name: value} for v in variants for value in values]
    candidates = {name: [s for s in seeds if accepts(props[name], s)] for name in required}
    if not all(candidates.values()):
        return
    for values in candidates.values():
        values.sort(key=lambda s: not str(s).lstrip("-").isdigit())
    if not required:
        yield from variants
        return
    first, *rest = required
    for seed in candidates[first][:HARVEST_CALLS]:
        base = {first: seed, **{name: candidates[name][0] for name in rest}}
        for variant in variants:
            yield {**base, **variant}


def _fitting(schema: dict[str, Any], seeds: list[Seed]) -> list[Any]:
    """Seeds valid for ``schema``, then one-element lists of int seeds (message ids), then False, True."""
    values: list[Any] = [s for s in seeds if accepts(schema, s)]
    values += [[s] for s in seeds if isinstance(s, int) and accepts(schema, [s])]
    return values + [flag for flag in (False, True) if accepts(schema, flag)]


def _pair_args(tool: Tool, found: Harvest) -> Iterator[dict[str, Any]]:
    """For a tool whose first two required parameters take a chat and a message id (or a list of
    them): the known pairs, the other required parameters from the seeds."""
    props = properties(tool)
    required = [n for n in props if n in tool.input_schema.get("required", [])]
    if len(required) < 2:
        return
    first, second, *rest = required
    others = {name: _fitting(props[name], found.seeds) for name in rest}
    if not all(others.values()):
        return
    for chat, message_id in found.pairs:
        if not accepts(props[first], chat):
            continue
        ids = [value for value in (message_id, [message_id]) if accepts(props[second], value)]
        if ids:
            yield {first: chat, second: ids[0], **{name: values[0] for name, values in others.items()}}


def _write_args(tool: Tool, seeds: list[Seed]) -> Iterator[dict[str, Any]]:
    """Required parameters only (optional ones keep their harmless defaults), ``me`` (Saved Messages)
    first and then numbers, pairing each value of the first with a few of the second (chat + message)."""
    props = properties(tool)
    required = [n for n in props if n in tool.input_schema.get("required", [])]
    candidates = {name: _fitting(props[name], seeds) for name in required}
    if not all(candidates.values()):
        return
    for values in candidates.values():
        values.sort(key=lambda s: (s != "me", not str(s).lstrip("-").isdigit()))
    if not required:
        yield {}
        return
    first, *rest = required
    seconds = candidates[rest[0]][:WRITE_SECOND] if rest else [None]
    for one in candidates[first][:HARVEST_CALLS]:
        for two in seconds:
            args = {first: one, **{name: candidates[name][0] for name in rest}}
            if rest:
                args[rest[0]] = two
            yield args


async def harvest(
    tools: list[Tool],
    call: Caller,
    *,
    rounds: int = 2,
    seeds: Iterable[Seed] = (),
    pairs: Iterable[tuple[str, int]] = (),
) -> Harvest:
    """Call every tool with what the tools answered so far (plus ``seeds`` and ``pairs`` the caller
    knows from the world: phone numbers, labelled messages).

    Read-only tools (readOnlyHint) are called ``rounds`` times over, their pagination followed
    generically: a result key that ends with a parameter's name (``next_cursor`` -> ``cursor``)
    continues the same call. Write tools come after, once, each until WRITE_WORKING calls worked:
    they change the world, so they are harvested only for a base to fuzz from, never re-run.
    """
    found = Harvest(working={tool.name: [] for tool in tools}, pairs=list(pairs))
    found.seeds += [seed for seed in seeds if seed not in found.seeds]
    tried: set[str] = set()

    async def attempt(tool: Tool, args: dict[str, Any]) -> Any:
        key = tool.name + json.dumps(args, sort_keys=True)
        if key in tried:
            return None
        tried.add(key)
        payload = await call(tool.name, args)
        if payload is not None:
            found.working[tool.name].append(args)
            _add_seeds(found.seeds, payload)
        return payload

    readers = [tool for tool in tools if is_read_only(tool)]
    for _ in range(rounds):
        for tool in readers:
            names = list(properties(tool))
            paired = list(_pair_args(tool, found))[:HARVEST_CALLS]
            for args in [*paired, *_harvest_args(tool, found.seeds)]:
                payload = await attempt(tool, args)
                for result_key, value in payload.items() if isinstance(payload, dict) else ():
                    for name in names:
                        if result_key != name and result_key.endswith(name) and not args.get(name):
                            await attempt(tool, {**args, name: value})
    # Additive writes first, then those that replace or remove (their targets come from the others).
    writers = [tool for tool in tools if not is_read_only(tool)]
    writers.sort(key=lambda tool: bool(tool.annotations and tool.annotations.destructive_hint))
    for tool in writers:
        candidates = itertools.chain(_pair_args(tool, found), _write_args(tool, found.seeds))
        for attempts, args in enumerate(candidates):
            if attempts >= WRITE_ATTEMPTS or len(found.working[tool.name]) >= WRITE_WORKING:
                break
            await attempt(tool, args)
    return found
