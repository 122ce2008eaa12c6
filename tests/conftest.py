"""Shared test set-up."""

import signal
from collections.abc import Iterator

import pytest


def pytest_configure(config) -> None:
    # A shell's background job (as CI may run the suite) starts with Ctrl-C ignored, and children inherit that. The tests
    # that send a Ctrl-C need it as at a terminal: Python's own handler here, so that their subprocesses start with the default.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def _a_cache_of_the_tests_own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test reads or writes the user's cache (~/.cache/zoo or their ZOO_CACHE); one that looks into a cache sets its own."""
    patch = pytest.MonkeyPatch()
    patch.setenv("ZOO_CACHE", str(tmp_path_factory.mktemp("zoo-cache")))
    yield
    patch.undo()
