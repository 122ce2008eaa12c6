"""The seed's domain-adaptation scenarios, their offline stand-ins, and the report's published numbers.

Example::

    >>> from zoo_plugins.dann.scenarios import SCENARIOS, load_scenario_split
    >>> SCENARIOS["mnistm-digits"].target
    'digits'
    >>> source_test, target_test = load_scenario_split(SCENARIOS["mnistm-digits"], "test", root=None)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from zoo import data
from zoo.data import ImageSet
from zoo.errors import DataError, UnknownNameError
from zoo.metrics.adaptation import load_labelled

__all__ = ["REGIMES", "Scenario", "SCENARIOS", "resolve_scenarios", "available", "load_scenario_split"]

#: The table's rows: regime -> (what the row is called in the seed's table, how it is trained).
REGIMES: dict[str, str] = {
    "source_only": "Trained on source",
    "dann": "Adaptation (DANN)",
    "target_only": "Trained on target",
}


@dataclass(frozen=True)
class Scenario:
    """One adaptation task: a labelled source set and a target set (labels used only to score, and by the upper bound)."""

    name: str
    source: str
    target: str
    title: str
    #: True for the seed's own (real) target sets; False for the offline stand-ins.
    real: bool
    #: The seed report's accuracies by regime (real scenarios only): the report's numbers, not ours.
    report: dict[str, float] | None = None
    #: The real scenario an offline one stands in for.
    stands_in_for: str = ""


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("mnistm-svhn", "mnistm", "svhn", "MNIST-M → SVHN", True, {"source_only": 0.337, "dann": 0.496, "target_only": 0.915}),
        Scenario("mnistm-usps", "mnistm", "usps", "MNIST-M → USPS", True, {"source_only": 0.760, "dann": 0.826, "target_only": 0.983}),
        Scenario("mnistm-syndigits", "mnistm", "syndigits", "MNIST-M → syndigits", False, stands_in_for="mnistm-svhn"),
        Scenario("mnistm-digits", "mnistm", "digits", "MNIST-M → digits", False, stands_in_for="mnistm-usps"),
    )
}


def available(scenario: Scenario, root: str | os.PathLike[str] | None) -> bool:
    """Return whether both of `scenario`'s datasets can be read on this machine."""
    from zoo.data.registry import data_root, is_present

    known = data.datasets()
    return all(name in known and is_present(known[name], data_root(root)) for name in (scenario.source, scenario.target))


def resolve_scenarios(names: str, root: str | os.PathLike[str] | None) -> list[Scenario]:
    """Return the scenarios named in the comma-separated `names` ('auto': the offline ones plus the real ones present here)."""
    if names.strip() == "auto":
        return [s for s in SCENARIOS.values() if not s.real or available(s, root)]
    out = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in SCENARIOS:
            raise UnknownNameError("scenario", name, SCENARIOS, hint="Pass --scenarios as a comma-separated list of these, or 'auto'.")
        out.append(SCENARIOS[name])
    if not out:
        raise DataError(f"no scenario named in {names!r}; known: {', '.join(SCENARIOS)}.")
    return out


def load_scenario_split(scenario: Scenario, split: str, root: str | os.PathLike[str] | None) -> tuple[ImageSet, ImageSet]:
    """Return (source, target) split `split` of `scenario`, labels checked."""
    return load_labelled(scenario.source, split, root, "source"), load_labelled(scenario.target, split, root, "target")
