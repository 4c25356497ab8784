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
LEAF_MODULES = ("mcpgram.errors", "mcpgram.configs", "mcpgram.settings", "mcpgram.log", "mcpgram.types")
# What leaves may import: errors (settings raises ConfigError), and settings builds the frozen
# configs of configs.py. errors.py itself imports nothing.
LEAF_MAY_IMPORT: dict[str, tuple[str, ...]] = {"mcpgram.settings": ("mcpgram.errors", "mcpgram.configs")}
LEAF_DEFAULT_MAY_IMPORT = ("mcpgram.errors",)
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
