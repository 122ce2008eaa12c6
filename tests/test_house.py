"""The house rules of docs/architecture.md that code can check: arrows point one way, modules stay small and say what they hold."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = sorted((ROOT / "zoo").rglob("*.py"))
PLUGINS = sorted((ROOT / "plugins").rglob("*.py"))
#: "Files stay under ~400 lines": past this a file is holding two things (docs/architecture.md); split it rather than raise this.
MAX_LINES = 520


def _imports(path: Path) -> list[str]:
    """Return the absolute names of the modules `path` imports (relative imports resolved from its package)."""
    package = [p for p in path.relative_to(ROOT).with_suffix("").parts]
    package = package[:-1] if package[-1] != "__init__" else package[:-1]
    if package and package[0] == "plugins":
        package[0] = "zoo_plugins"  # plugins/ installs as zoo_plugins
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            found.append(".".join([*base, *([node.module] if node.module else [])]))
    return found


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", CORE, ids=_name)
def test_the_core_imports_no_plugin_and_nothing_in_it_imports_the_command_line(path: Path) -> None:
    """The core finds built-in plugins as it finds anyone's, through entry points; `cli` sits on top (`python -m zoo` runs it)."""
    imported = _imports(path)
    assert not [m for m in imported if m.split(".")[0] in ("zoo_plugins", "plugins")], f"{_name(path)} imports a plugin"
    if "cli" not in path.relative_to(ROOT / "zoo").parts and path.name != "__main__.py":
        assert not [m for m in imported if m == "zoo.cli" or m.startswith("zoo.cli.")], f"{_name(path)} imports zoo.cli"


@pytest.mark.parametrize("path", PLUGINS, ids=_name)
def test_a_plugin_imports_no_other_plugin(path: Path) -> None:
    """What two plugins share goes down into zoo/: one plugin blocked or broken must leave the others whole."""
    parts = path.relative_to(ROOT / "plugins").parts
    if len(parts) == 1:
        return  # plugins/__init__.py
    own = f"zoo_plugins.{parts[0]}"
    others = [m for m in _imports(path) if m.startswith("zoo_plugins.") and not (m == own or m.startswith(own + "."))]
    assert not others, f"{_name(path)} imports {others}: move what it needs from there into zoo/"


@pytest.mark.parametrize("path", CORE + PLUGINS, ids=_name)
def test_every_module_says_what_it_holds_and_stays_small(path: Path) -> None:
    text = path.read_text()
    assert ast.get_docstring(ast.parse(text)) or path.name == "__init__.py" and not text.strip(), f"{_name(path)} has no docstring"
    lines = len(text.splitlines())
    assert lines <= MAX_LINES, f"{_name(path)} has {lines} lines (at most {MAX_LINES}): it holds two things; split it, as zoo/training/ was"


@pytest.mark.parametrize("module", ["zoo", "zoo.cli", "zoo.training", "zoo.registry", "zoo.loading", "zoo.registration", "zoo.files",
                                    "zoo.weights", "zoo.interfaces", "zoo.data", "zoo.data.labels", "zoo.metrics"])
def test_every_name_a_module_exports_is_there(module: str) -> None:
    """A name moved to another module and left in `__all__` would break `from zoo.X import *` and the docs that name it."""
    m = importlib.import_module(module)
    missing = [n for n in getattr(m, "__all__", []) if not hasattr(m, n)]
    assert not missing, f"{module}.__all__ names {missing}, which {module} does not have"
