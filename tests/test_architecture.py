"""Import and size rules for the mcpgram package, checked statically with ``ast``."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import mcpgram

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "mcpgram"

# Only the Telegram adapter and the test sandbox speak MTProto through Telethon.
TELETHON_ALLOWED = ("mcpgram.telegram", "mcpgram.sandbox")
# Leaf modules that everything may import, so they must import nothing from mcpgram.
LEAF_MODULES = (
    "mcpgram.errors",
    "mcpgram.configs",
    "mcpgram.settings",
    "mcpgram.settings_groups",
    "mcpgram.log",
    "mcpgram.types",
)
# What leaves may import: errors (settings raises ConfigError), and settings builds the frozen
# configs of configs.py. errors.py itself imports nothing.
LEAF_MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "mcpgram.settings": ("mcpgram.errors", "mcpgram.configs", "mcpgram.settings_groups"),
    "mcpgram.settings_groups": ("mcpgram.configs",),
}
LEAF_DEFAULT_MAY_IMPORT = ("mcpgram.errors",)
# STYLE.md section 1, bottom up: cli -> app -> {tools, web} -> {telegram, fetch, signing, auth, vault}
# -> {errors, settings, log, types}. A module imports only from its own layer or the ones below; within
# a layer imports may go either way as long as they form no cycle (vault imports auth's token hashing).
# Placed here beyond STYLE.md's list: the package root (it holds ``__version__`` and imports nothing),
# ``configs`` (frozen config values, settings' leaf); ``datadir`` (data-directory files, built from
# settings and used by cli and app); ``mcpserver`` (the FastMCP subclass the tools register on);
# ``workers`` (starts N app processes: the composition root's peer), ``wiring`` (the features
# app.py wires, split from it) and ``testing`` (wires settings,
# vault and telegram to a sandbox for tests and the demo); ``policy`` (per-tenant policy: its model is
# plain data telegram/scope.py reads, its guard calls telegram, its book reads the vault; nothing in
# that layer imports the guard or the book back); ``audit`` (the audit journal: pure entries and the
# files in the data dir; tools, app and cli record and read through it); ``imaging`` (pure image
# re-encoding for download_media, Pillow's one home); ``approvals`` (pure binding and page text, the
# SQLite store; tools and web ask and answer through it). ``sandbox`` stands apart (see below).
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"mcpgram", "errors", "settings", "settings_groups", "configs", "log", "types"}),
    frozenset(
        {
            "telegram",
            "fetch",
            "signing",
            "auth",
            "vault",
            "datadir",
            "policy",
            "audit",
            "imaging",
            "limits",
            "approvals",
        }
    ),
    frozenset({"tools", "web", "mcpserver"}),
    frozenset({"app", "wiring", "workers", "testing"}),
    frozenset({"cli", "__main__"}),
)
# Only these start the sandbox (STYLE.md: "only testing.py and the CLI demo command start it").
SANDBOX_USERS = ("mcpgram.cli", "mcpgram.testing")
# The style target is ~400 non-blank lines per module; 450 leaves room before a split is forced.
MAX_NON_BLANK_LINES = 450
PUBLIC_API = ["__version__"]


@dataclass(frozen=True)
class Module:
    """One source file of the package, with the absolute names of everything it imports."""

    name: str
    path: Path
    tree: ast.Module

    @property
    def package(self) -> str:
        """Return the package that relative imports in this module are resolved against."""
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]

    def imports(self) -> list[tuple[int, str]]:
        """Return ``(line, absolute dotted name)`` for every import, with relative imports resolved."""
        found: list[tuple[int, str]] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                found += [(node.lineno, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = self.package.split(".")
                    assert node.level <= len(parts), f"{self.path}:{node.lineno}: import beyond top level"
                    base = ".".join([*parts[: len(parts) - node.level + 1], *filter(None, [node.module])])
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        return found


def within(name: str, prefix: str) -> bool:
    """Return whether dotted ``name`` is ``prefix`` itself or lies inside it."""
    return name == prefix or name.startswith(prefix + ".")


def modules() -> list[Module]:
    """Parse every module under src/mcpgram."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append(Module(name, path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))))
    return found


def test_the_walk_finds_the_package() -> None:
    """The module walk sees the package root and the CLI, so the rules below are not vacuous."""
    names = {module.name for module in modules()}
    assert {"mcpgram", "mcpgram.cli", "mcpgram.__main__"} <= names


def test_relative_imports_resolve_to_absolute_names() -> None:
    """Relative imports are resolved against the importing module's package."""
    tree = ast.parse("from . import a\nfrom ..b import c\nimport d.e\n")
    module = Module("mcpgram.sandbox.x", PACKAGE / "sandbox" / "x.py", tree)
    assert module.imports() == [(1, "mcpgram.sandbox.a"), (2, "mcpgram.b.c"), (3, "d.e")]


def test_only_telegram_and_sandbox_import_telethon() -> None:
    """Only modules under mcpgram.telegram and mcpgram.sandbox import telethon."""
    offenders = [
        f"{module.path}:{line}: {name}"
        for module in modules()
        if not any(within(module.name, allowed) for allowed in TELETHON_ALLOWED)
        for line, name in module.imports()
        if within(name, "telethon")
    ]
    assert offenders == []


def test_sandbox_imports_no_other_mcpgram_module() -> None:
    """Nothing under mcpgram.sandbox imports a mcpgram module outside mcpgram.sandbox."""
    offenders = [
        f"{module.path}:{line}: {name}"
        for module in modules()
        if within(module.name, "mcpgram.sandbox")
        for line, name in module.imports()
        if within(name, "mcpgram") and not within(name, "mcpgram.sandbox")
    ]
    assert offenders == []


def test_leaf_modules_import_nothing_from_mcpgram() -> None:
    """mcpgram.errors, .settings, .log and .types (where they exist) import only errors from mcpgram."""
    offenders = [
        f"{module.path}:{line}: {name}"
        for module in modules()
        for leaf in LEAF_MODULES
        if within(module.name, leaf)
        for line, name in module.imports()
        if within(name, "mcpgram")
        and not within(name, leaf)
        and not any(within(name, ok) for ok in LEAF_MAY_IMPORT.get(leaf, LEAF_DEFAULT_MAY_IMPORT))
    ]
    assert offenders == []


def test_no_module_is_too_long() -> None:
    """No module under src/mcpgram has more than MAX_NON_BLANK_LINES non-blank lines."""
    too_long = {}
    for module in modules():
        count = sum(1 for line in module.path.read_text(encoding="utf-8").splitlines() if line.strip())
        if count > MAX_NON_BLANK_LINES:
            too_long[str(module.path)] = count
    assert too_long == {}


def test_public_api_is_sorted_and_pinned() -> None:
    """mcpgram.__all__ is sorted and equals the pinned public API."""
    assert mcpgram.__all__ == sorted(mcpgram.__all__)
    assert mcpgram.__all__ == PUBLIC_API


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(module: Module) -> list[tuple[int, str]]:
    """The imports that run when ``module`` is imported: module level, outside ``if TYPE_CHECKING``."""
    found: list[tuple[int, str]] = []
    pending: list[ast.stmt] = list(module.tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found += Module(module.name, module.path, ast.Module(body=[node], type_ignores=[])).imports()
        elif isinstance(node, ast.If):
            pending += node.orelse if _is_type_checking(node.test) else [*node.body, *node.orelse]
        elif isinstance(node, ast.Try):
            pending += [
                *node.body,
                *node.orelse,
                *node.finalbody,
                *(s for h in node.handlers for s in h.body),
            ]
        elif isinstance(node, ast.With):
            pending += node.body
    return sorted(found)


def import_graph(imports: str = "runtime") -> dict[str, set[str]]:
    """mcpgram module -> the mcpgram modules it imports (``from pkg import name`` resolves to the module)."""
    found = modules()
    names = {module.name for module in found}

    def target(name: str) -> str | None:
        while name and name not in names:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module in found:
        pairs = runtime_imports(module) if imports == "runtime" else module.imports()
        edges = {target(name) for _, name in pairs if within(name, "mcpgram")}
        graph[module.name] = {edge for edge in edges if edge is not None and edge != module.name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle in ``graph`` as ``[a, b, ..., a]``, or ``[]`` when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for edge in sorted(graph.get(node, ())):
            if state.get(edge) == 1:
                return [*path[path.index(edge) :], edge]
            if edge not in state and (cycle := visit(edge)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_find_cycle_reports_a_cycle_and_accepts_a_tree() -> None:
    """The cycle finder is not vacuous: it names a cycle's members in order, and passes a tree."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_runtime_imports_skip_type_checking_and_functions() -> None:
    """Imports under ``if TYPE_CHECKING:`` and inside functions do not run at import time."""
    source = "import a\nif TYPE_CHECKING:\n    import b\nelse:\n    import c\ndef f():\n    import d\n"
    module = Module("mcpgram.x", PACKAGE / "x.py", ast.parse(source))
    assert [name for _, name in runtime_imports(module)] == ["a", "c"]


def test_no_import_cycles_among_mcpgram_modules() -> None:
    """Module-level imports between mcpgram modules form no cycle (function-level imports aside)."""
    assert find_cycle(import_graph()) == []


def unit(name: str) -> str:
    """The top-level part of mcpgram that dotted ``name`` belongs to (``mcpgram.tools.x`` -> ``tools``)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def rank(part: str) -> int:
    """The layer index of a top-level part of mcpgram (``__version__`` is the package root's)."""
    part = "mcpgram" if part == "__version__" else part
    return next(i for i, layer in enumerate(LAYERS) if part in layer)


def test_every_part_of_the_package_has_a_layer() -> None:
    """A new top-level module or package must be placed in LAYERS (sandbox has its own rules)."""
    parts = {unit(module.name) for module in modules()} - {"sandbox"}
    placed = set().union(*LAYERS)
    assert parts - placed == set()


def test_imports_flow_down_the_layers() -> None:
    """No module imports from a layer above its own, not even lazily or for type checking only."""
    offenders = [
        f"{module.path}:{line}: {name}"
        for module in modules()
        if unit(module.name) != "sandbox"
        for line, name in module.imports()
        if within(name, "mcpgram") and unit(name) != "sandbox" and rank(unit(name)) > rank(unit(module.name))
    ]
    assert offenders == []


def test_only_the_cli_and_testing_import_the_sandbox() -> None:
    """The sandbox is started by the CLI's demo and sandbox commands and by testing.py, nothing else."""
    offenders = [
        f"{module.path}:{line}: {name}"
        for module in modules()
        if not within(module.name, "mcpgram.sandbox")
        and not any(within(module.name, u) for u in SANDBOX_USERS)
        for line, name in module.imports()
        if within(name, "mcpgram.sandbox")
    ]
    assert offenders == []


def test_the_layer_rule_catches_an_upward_import() -> None:
    """The layer ranks order tools above telegram and below app, so the rules above can fail."""
    assert rank("telegram") < rank("tools") < rank("app") < rank("cli")
    assert rank(unit("mcpgram.errors")) == 0


# What may import sandbox/server.py: the package and its CLI start it; a connection belongs to its
# server (type only). RPC handlers, the router, messaging, scheduled and faults reach the server
# through ``sandbox.handle.ServerHandle``, so the server can import them without a cycle.
SANDBOX_SERVER_IMPORTERS = ("mcpgram.sandbox", "mcpgram.sandbox.cli", "mcpgram.sandbox.mtproto")


def test_sandbox_handlers_reach_the_server_through_its_handle() -> None:
    """No sandbox module beyond SANDBOX_SERVER_IMPORTERS imports sandbox.server, even for types."""
    offenders = [
        f"{module.path}:{line}: {name}"
        for module in modules()
        if within(module.name, "mcpgram.sandbox") and module.name not in SANDBOX_SERVER_IMPORTERS
        for line, name in module.imports()
        if within(name, "mcpgram.sandbox.server") and module.name != "mcpgram.sandbox.server"
    ]
    assert offenders == []
