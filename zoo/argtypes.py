"""Argument types for `zoo` sub-commands, a plugin's `Command.add_arguments` included (`zoo.interfaces` offers them too).

Kept apart from `zoo.interfaces`, which imports torch: the command line parses with them before torch loads.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["int_at_least", "positive_int", "int_list", "user_path", "path_text", "user_path_arg"]


#: The default upper bound of a command-line count: past it torch's sizes overflow (and no machine has the memory).
MOST = 2**31 - 1


def int_at_least(low: int, most: int = MOST) -> Callable[[str], int]:
    """Return an argparse type for whole numbers from `low` to `most` (argparse turns its error into a usage message)."""
    expected = f"expected a whole number >= {low}" if most == MOST else f"expected a whole number from {low} to {most:,}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{expected}, got {value}")
        if value > most:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {most:,}, got {value:,}"
                                             + ("; no machine has the memory for that many" if most == MOST else ""))
        return value

    parse.__name__ = f"int >= {low}"
    return parse


#: A command-line count that must be at least 1.
positive_int = int_at_least(1)


def user_path(text: str | os.PathLike[str]) -> Path:
    """Return a path with a leading ~ as the home folder, also where no shell expanded it (quoted, a .env file, docker);
    where no home folder is known (a user id without one), or ~name names no user, the path as written."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        return Path(text)


def path_text(text: str) -> str:
    """An argparse type for a path argument that may not be empty (pathlib reads '' as '.', the working folder, where a
    run's files would land or a dataset be looked for without a word), with ~ as the home folder (user_path)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path; give a path (. names the working folder, where that is meant)")
    return os.fspath(user_path(text))  # ~ is the home folder, also where it came quoted


def user_path_arg(text: str) -> Path:
    """An argparse type for a file path argument: not empty, a leading ~ the home folder (user_path)."""
    return Path(path_text(text))


def int_list(text: str) -> list[int]:
    """Parse comma-separated integers, e.g. class labels ``0,1,2``."""
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, e.g. 0,1,2; got {text!r}") from None
