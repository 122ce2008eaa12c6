"""The shipped contract suite, run over every built-in method and every registry entry."""

from zoo.contract import *  # noqa: F401,F403
