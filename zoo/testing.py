"""zoo's pytest plugin (loaded through the ``pytest11`` entry point): options and parametrization
for the contract suite in :mod:`zoo.contract`.

A plugin author checks their plugin with one command::

    pytest --pyargs zoo.contract --zoo-methods mymethod

``--zoo-methods`` and ``--zoo-models`` take comma-separated fnmatch patterns (default: all).
"""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

# pytest rewrites asserts (to show the values that failed) only in test files and modules named here
pytest.register_assert_rewrite("zoo.contract")

__all__ = ["selected_methods", "selected_models"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("zoo", "zoo plugin contract")
    group.addoption("--zoo-methods", default="*", help="comma-separated fnmatch patterns of the methods to check (default: all)")
    group.addoption("--zoo-models", default="*", help="comma-separated fnmatch patterns of the registry entries to check (default: all)")


def _match(names: list[str], patterns: str) -> list[str]:
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in pats)]


def _selected(option: str, kind: str, names: list[str], config: pytest.Config) -> list[str]:
    """Return `names` matching the option's patterns; an explicit pattern that matches nothing stops the run."""
    patterns = config.getoption(option)
    found = _match(names, patterns)
    if not found and patterns.strip() not in ("*", "none"):  # `none` is how a run skips that half on purpose
        from zoo.plugins import get_plugin_manager

        failed = [f"{i.name} ({i.status})" for i in get_plugin_manager().infos if i.status.startswith("failed")]
        raise pytest.UsageError(
            f"{option} {patterns!r} matches no {kind}; known: {', '.join(names) or 'none'}."
            + (f" Plugins that failed to load: {'; '.join(failed)}." if failed else " Is the plugin installed (`zoo plugins`)?")
            + (get_plugin_manager().missing_registry_files() if kind == "registry entry" else "")
        )
    return found


def selected_methods(config: pytest.Config) -> list[str]:
    """Return the method names the contract suite checks in this session."""
    import zoo

    return _selected("--zoo-methods", "method", zoo.methods(), config)


def selected_models(config: pytest.Config) -> list[str]:
    """Return the registry entries the contract suite checks in this session."""
    import zoo

    return _selected("--zoo-models", "registry entry", zoo.list(), config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "zoo_method" in metafunc.fixturenames:
        names: list[Any] = selected_methods(metafunc.config)
        metafunc.parametrize("zoo_method", names or [pytest.param(None, marks=pytest.mark.skip(reason="no method selected"))], ids=names or None)
    if "zoo_model" in metafunc.fixturenames:
        names = selected_models(metafunc.config)
        metafunc.parametrize("zoo_model", names or [pytest.param(None, marks=pytest.mark.skip(reason="no registry entry selected"))], ids=names or None)
