"""A model's ``data`` label: which dataset (a name or a path) each role trained on, written as one string.

``mnist``, ``/data/faces``, ``source=mnistm+target=digits``: `zoo train --data`, a registry entry's ``data`` and `zoo eval`
all speak it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ..argtypes import user_path
from ..errors import DataError, denied_as

__all__ = ["split_role", "parse_data_label", "format_data_label", "absolute_data"]


def split_role(item: str) -> tuple[str, str]:
    """Return (role, dataset) of one ``ROLE=NAME_OR_PATH`` item; an item without a role (or whose '=' lies in a path) is role 'train'."""
    role, sep, value = item.partition("=")
    return (role, value) if sep and "/" not in role else ("train", item)


def parse_data_label(label: str) -> dict[str, str]:
    """Return the roles of a `data` label: 'mnist' -> {'train': 'mnist'}, 'source=mnistm+target=/x' -> {'source': ..., 'target': ...}.

    A label that is an existing path as a whole is one path, whatever '=' or '+' it holds; a '+' starts the next
    role only where ``ROLE=`` follows it, so a role's path may hold '+' ('target=/data/my+digits').
    """
    try:
        exists = user_path(label).exists()
    except PermissionError:  # a bare name (a working folder one cannot search) is a dataset's; a path is refused
        if os.sep in label:
            with denied_as(DataError, f"data {label}"):
                raise
        exists = False
    if exists:
        return {"train": label}
    return dict(split_role(part) for part in re.split(r"\+(?=\w+=)", label))


def format_data_label(roles: Mapping[str, str]) -> str:
    """Return the `data` label of `roles` (the inverse of :func:`parse_data_label`)."""
    return "+".join(v if r == "train" else f"{r}={v}" for r, v in roles.items())


def absolute_data(data: str) -> str:
    """Return a `data` label ('mnist', 'runs/faces', 'source=mnistm+target=my/digits') with its paths made absolute.

    A relative path would name other files, or none, once `zoo eval` runs in another folder; dataset names stay.
    """
    from . import datasets

    known = datasets()

    def absolute(value: str) -> str:
        return value if value in known or not user_path(value).exists() else str(user_path(value).resolve())

    return format_data_label({r: absolute(v) for r, v in parse_data_label(data).items()})
