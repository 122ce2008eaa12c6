"""The `zoo` command: thin wrappers that parse, call the library and print.

`app` runs a command line (`main`, and `run` for the console script), `parser` builds the parser, `reports` and
`actions` hold the sub-commands, and `common` what they share. A plugin's command takes its argument types
(`positive_int`, `int_at_least`, `int_list`) from here or from `zoo.interfaces`.
"""

from __future__ import annotations

from ..argtypes import int_at_least, int_list, positive_int
from . import actions, reports
from .app import main, run
from .common import COMMANDS, class_labels, label_list, sampler_knobs
from .parser import build_parser

#: Imported for what importing them does: each registers its sub-commands in COMMANDS (`@command`).
_COMMAND_MODULES = (actions, reports)

__all__ = ["main", "run", "build_parser", "COMMANDS", "int_at_least", "positive_int", "int_list", "sampler_knobs", "label_list", "class_labels"]
