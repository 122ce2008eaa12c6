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

__all__ = ["selected_methods", "selected_models"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("zoo", "zoo plugin contract")
    group.addoption("--zoo-methods", default="*", help="comma-separated fnmatch patterns of the methods to check (default: all)")
    group.addoption("--zoo-models", default="*", help="comma-separated fnmatch patterns of the registry entries to check (default: all)")


def _match(names: list[str], patterns: str) -> list[str]:
    pats = [p.strip() for p in patterns.split(",") if p.strip()]
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in pats)]


def selected_methods(config: pytest.Config) -> list[str]:
    """Return the method names the contract suite checks in this session."""
    import zoo

    return _match(zoo.methods(), config.getoption("--zoo-methods"))


def selected_models(config: pytest.Config) -> list[str]:
    """Return the registry entries the contract suite checks in this session."""
    import zoo

    return _match(zoo.list(), config.getoption("--zoo-models"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "zoo_method" in metafunc.fixturenames:
        names: list[Any] = selected_methods(metafunc.config)
        metafunc.parametrize("zoo_method", names or [pytest.param(None, marks=pytest.mark.skip(reason="no method selected"))], ids=names or None)
    if "zoo_model" in metafunc.fixturenames:
        names = selected_models(metafunc.config)
        metafunc.parametrize("zoo_model", names or [pytest.param(None, marks=pytest.mark.skip(reason="no registry entry selected"))], ids=names or None)
