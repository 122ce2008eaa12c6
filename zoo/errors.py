"""The errors zoo raises: each names the thing, what was expected, what was found and what to do."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = [
    "EXIT_CODES",
    "ZooError",
    "UnknownNameError",
    "ConfigError",
    "WeightsError",
    "DataError",
    "OutputError",
    "TrainingError",
    "CapabilityError",
    "PluginError",
    "Stopped",
    "closest",
    "denied_as",
    "unknown_options",
    "option",
    "set_option",
]


#: The exit status of a zoo command, by what stopped it (``zoo --help`` lists them), so that a script running zoo over many
#: models tells a bad model from a wrong command line or a machine that lacks the data: the error classes below carry theirs.
EXIT_CODES = {
    0: "success",
    1: "the work ran, and some of it failed (zoo bench: a subject that failed), or the system refused a file zoo names",
    2: "usage: a wrong command line, option, config or name",
    3: "weights: missing, damaged, tampered with, or not fitting the method (not a usable model)",
    4: "data: a dataset missing or not in the layout expected",
    5: "capability: the model cannot do what was asked (e.g. sample from a classifier)",
    6: "training diverged (its losses or weights turned NaN or infinite)",
    7: "output: a file zoo was asked to write where it cannot, or the disk is full",
    8: "a plugin that cannot load or broke its contract (what it returned), or an optional extra that is missing",
    130: "interrupted (Ctrl-C); 143: stopped by SIGTERM",
}


class ZooError(Exception):
    """Base class of every error zoo raises on purpose."""

    #: What a zoo command exits with when this error stops it (EXIT_CODES).
    exit_code = 2


def _plural(word: str) -> str:
    return word + ("es" if word.endswith(("s", "sh", "ch", "x")) else "s")


class UnknownNameError(ZooError, KeyError):
    """A model, method, dataset or evaluator name that nothing registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str], hint: str = "") -> None:
        known = sorted(known)
        near = closest(name, known)
        msg = f"unknown {kind} {name!r}." if name else f"the {kind} name is empty."
        if near:
            msg += f" Did you mean: {', '.join(near)}?"
        elif known:
            msg += f" Known {' or '.join(_plural(k) for k in kind.split(' or '))}: {', '.join(known)}."
        else:
            msg += f" No {kind} is registered."
        if hint:
            msg += f" {hint}"
        super().__init__(msg)
        self.name = name

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ConfigError(ZooError, ValueError):
    """A configuration that does not validate."""


class WeightsError(ZooError):
    """A weights file that is missing, truncated, tampered with or does not match its entry."""

    exit_code = 3


class DataError(ZooError):
    """A data directory or file that is missing or not in the expected layout."""

    exit_code = 4


class OutputError(ZooError):
    """A file zoo was asked to write where it cannot (a folder, a read-only place, a path through a file)."""

    exit_code = 7


class TrainingError(ZooError):
    """A training run that cannot go on: its losses or weights turned NaN or infinite (it diverged)."""

    exit_code = 6


class CapabilityError(ZooError, AttributeError):
    """A model asked for something it cannot do (e.g. `sample` on a classifier)."""

    exit_code = 5


class Stopped(KeyboardInterrupt):
    """A command stopped by a signal (`signum`): Ctrl-C, or SIGTERM taken as one; a training run stopped between steps also
    says at which `step` (its checkpoint saved). The command line exits 128 + signum: 130, 143."""

    def __init__(self, message: str, signum: int, step: int | None = None) -> None:
        super().__init__(message)
        self.signum, self.step = signum, step


class PluginError(ZooError):
    """A plugin that cannot be loaded, or two plugins that claim the same name."""

    exit_code = 8


@contextmanager
def denied_as(error: type[ZooError], what: str) -> Iterator[None]:
    """Turn a PermissionError inside the block into `error`, naming `what` was being read or written and the path refused."""
    try:
        yield
    except PermissionError as e:
        where = f" ({e.filename})" if e.filename is not None and os.fspath(e.filename) not in what else ""
        raise error(f"{what}: permission denied{where}. Give your user access to it (ls -l shows who may; chmod or sudo changes it), "
                    "or use another path.") from None


def unknown_options(message: str, unknown: Iterable[str]) -> ConfigError:
    """Return a ConfigError for options a call does not take, with them as its `unknown` (a runner adds how to aim options)."""
    error = ConfigError(message)
    error.unknown = sorted(unknown)  # type: ignore[attr-defined]
    return error


def closest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Return up to `n` known names that look like `name`, best first."""
    known = list(known)
    if not name:  # every name starts with ''
        return []
    hits = difflib.get_close_matches(name, known, n=n)  # difflib's cutoff 0.6: 'classifier.mnistm' is not 'tinyvae.mnist' (0.53)
    # prefix matches catch "dcgan" -> "dcgan.mnist64", which difflib scores low
    for k in known:
        if len(hits) >= n:
            break
        if k not in hits and (k.startswith(name) or name.startswith(k.split(".")[0])):
            hits.append(k)
    return hits


#: True while the `zoo` command runs (zoo.cli.main sets it): messages then name its options
#: (``--steps 6``) rather than the Python API's arguments (``steps=6``).
COMMAND_LINE: ContextVar[bool] = ContextVar("zoo_command_line", default=False)
#: The `zoo ...` command being run, as a shell would retype it (set with COMMAND_LINE): results record it.
INVOCATION: ContextVar[str | None] = ContextVar("zoo_invocation", default=None)

#: Settings whose command-line option is not their Python name with dashes.
_FLAGS = {"data_root": "--data-dir", "config": "--set"}
#: Settings that one Python function names otherwise.
_PYTHON_NOTES = {"data_root": " (root= in zoo.data.load)"}


def set_option(key: str, value: str) -> str:
    """Name an option of a method or evaluator as the user gives it: ``--set key=value`` to `zoo`, ``key='value'`` in Python."""
    return f"--set {key}={value}" if COMMAND_LINE.get() else f"{key}={value!r}"


def option(name: str, *value: object) -> str:
    """Name setting `name` (and its `value`) as the user gives it: ``--lr-decay-start 5`` to `zoo`, ``lr_decay_start=5`` in Python."""
    if COMMAND_LINE.get():
        flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
        return " ".join([flag, *map(str, value)])
    note = _PYTHON_NOTES.get(name, "")
    if not value:
        return name + note
    v = value[0]
    return f"{name}={os.fspath(v) if isinstance(v, os.PathLike) else v!r}{note}"
