"""The docs cover every setting, tool, parameter and error code, and name none that does not exist."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from mcpgram.settings import ENV_PREFIX, Settings

CONFIGURATION = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
SOURCE = Path(__file__).resolve().parent.parent / "src" / "mcpgram"


@pytest.fixture(scope="module")
def configuration_rows() -> dict[str, str]:
    """The settings table rows of docs/configuration.md, keyed by the setting in their first column."""
    rows = {}
    for line in CONFIGURATION.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([a-z_]+)` \|", line)
        if match:
            rows[match[1]] = line
    return rows


@pytest.mark.parametrize("setting", sorted(Settings.model_fields))
def test_every_setting_is_documented(configuration_rows: dict[str, str], setting: str) -> None:
    """Each Settings field has a row in docs/configuration.md giving its environment variable."""
    assert setting in configuration_rows, f"{setting} is missing from {CONFIGURATION.name}"
    assert f"`{ENV_PREFIX}{setting.upper()}`" in configuration_rows[setting]


def _documented_default(row: str) -> str:
    return [cell.strip() for cell in row.split("|")][4]


def _bounds(setting: str) -> dict[str, float]:
    bounds: dict[str, float] = {}
    for item in Settings.model_fields[setting].metadata:
        for name in ("ge", "gt", "le"):
            if getattr(item, name, None) is not None:
                bounds[name] = getattr(item, name)
    return bounds


@pytest.mark.parametrize("setting", sorted(Settings.model_fields))
def test_documented_defaults_and_bounds_are_the_codes(
    configuration_rows: dict[str, str], setting: str
) -> None:
    """The default and the bounds docs/configuration.md gives are the Settings field's own."""
    rows = configuration_rows
    field = Settings.model_fields[setting]
    documented = _documented_default(rows[setting])
    default = field.get_default(call_default_factory=False)
    if isinstance(default, bool):
        assert documented == f"`{str(default).lower()}`"
    elif isinstance(default, (int, float, str)):
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        assert documented == f"`{shown}`"
    elif default in (None, ()):
        assert documented in {"none", "generated", "Telegram's production DCs"}, documented
    kind = [cell.strip() for cell in rows[setting].split("|")][3]
    bounds = _bounds(setting)
    if "ge" in bounds and "le" in bounds:
        assert f"{bounds['ge']:g}\N{EN DASH}{bounds['le']:g}" in kind, kind
    elif "ge" in bounds:
        assert f"≥ {bounds['ge']:g}" in kind, kind
    elif "gt" in bounds:
        assert f"> {bounds['gt']:g}" in kind, kind


def test_the_http_configs_defaults_are_the_settings() -> None:
    """HttpConfig (what the server is handed) defaults to what Settings does, so neither drifts."""
    from mcpgram.configs import HttpConfig

    for item in dataclasses.fields(HttpConfig):
        if item.name in Settings.model_fields and item.default is not dataclasses.MISSING:
            expected = Settings.model_fields[item.name].get_default(call_default_factory=False)
            assert item.default == expected, item.name


def test_documented_variables_all_exist() -> None:
    """Every MCPGRAM_ variable the documentation mentions is a real setting."""
    mentioned = set(re.findall(rf"{ENV_PREFIX}([A-Z_]+)", CONFIGURATION.read_text(encoding="utf-8")))
    assert {name.lower() for name in mentioned} - set(Settings.model_fields) == set()


# -- docs/tools.md -----------------------------------------------------------------------------------

TOOLS_DOC = CONFIGURATION.parent / "tools.md"
#: Codes no tool answers with (settings, vault internals, the files feature's tickets and fetches).
_NOT_TOOL_CODES = {
    "INTERNAL", "TENANT", "VAULT", "DECRYPT_FAILED", "CONFIG",
    "FETCH",  # the base class of BLOCKED_URL and FETCH_FAILED: never raised itself
    # Signed attachment links: refused by the HTTP route (docs/security.md), never by a tool.
    "TICKET", "TICKET_INVALID", "TICKET_EXPIRED",
}  # fmt: skip


@pytest.fixture(scope="module")
def surface(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Tool names with their parameters, resource templates and prompts, as a client lists them."""
    from fastmcp import Client

    from mcpgram.app import build_gateway

    data_dir = tmp_path_factory.mktemp("docs") / "data"
    settings = Settings.load(env_file=None, data_dir=data_dir, api_id=1, api_hash="ab" * 16)
    gateway = build_gateway(settings, transport="stdio")

    async def listed() -> dict[str, Any]:
        async with Client(gateway.mcp) as client:
            tools = {t.name: sorted(t.input_schema["properties"]) for t in await client.list_tools()}
            templates = [t.uri_template for t in await client.list_resource_templates()]
            prompts = {p.name: [a.name for a in p.arguments or []] for p in await client.list_prompts()}
        return {"tools": tools, "templates": templates, "prompts": prompts}

    try:
        return asyncio.run(listed())
    finally:
        gateway.store.close()


def test_every_tool_and_parameter_is_in_the_tools_doc(surface: dict[str, Any]) -> None:
    text = TOOLS_DOC.read_text(encoding="utf-8")
    for tool, parameters in surface["tools"].items():
        assert f"| `{tool}` |" in text, f"{tool} has no row in {TOOLS_DOC.name}"
        for name in parameters:
            assert f"`{name}`" in text, f"{tool}({name}) is not described in {TOOLS_DOC.name}"
    for template in surface["templates"]:
        assert f"`{template}`" in text
    for prompt, arguments in surface["prompts"].items():
        assert f"`{prompt}`" in text and all(f"`{a}`" in text for a in arguments)


def test_every_error_code_a_tool_can_answer_is_in_the_tools_doc() -> None:
    from mcpgram import errors

    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.MCPGramError)
    }
    text = TOOLS_DOC.read_text(encoding="utf-8")
    missing = sorted(code for code in codes - _NOT_TOOL_CODES if f"`{code}`" not in text)
    assert missing == []


def test_documented_error_codes_exist_in_the_code() -> None:
    """Every code in the errors table is a string the source really raises with."""
    text = TOOLS_DOC.read_text(encoding="utf-8")
    table = text.split("## Errors", 1)[1].split("## ", 1)[0]
    documented = set(re.findall(r"^\| ((?:`[A-Z_]+`(?:, )?)+) \|", table, flags=re.M))
    codes = {code for cell in documented for code in re.findall(r"`([A-Z_]+)`", cell)}
    source = "\n".join(p.read_text(encoding="utf-8") for p in SOURCE.rglob("*.py"))
    assert codes and {code for code in codes if f'"{code}"' not in source} == set()


# -- paths the docs name -------------------------------------------------------------------------------

ROOT = SOURCE.parent.parent
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md", ROOT / "bench" / "README.md"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_every_file_the_docs_name_exists(doc: Path) -> None:
    """A test file, script or module a doc names exists (from the root, the doc's folder, src/ or
    src/mcpgram);
    rows about work still open (their text says "Open:") may name what is to come."""
    missing = []
    for line in doc.read_text(encoding="utf-8").splitlines():
        if "Open:" in line:
            continue
        for name in re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py)(?:::\w+)?`", line):
            if not any((base / name).exists() for base in (ROOT, doc.parent, SOURCE.parent, SOURCE)):
                missing.append(name)
    assert missing == []
