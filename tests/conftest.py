"""Shared test set-up."""

import signal


def pytest_configure(config) -> None:
    # A shell's background job (as CI may run the suite) starts with Ctrl-C ignored, and children inherit that. The tests
    # that send a Ctrl-C need it as at a terminal: Python's own handler here, so that their subprocesses start with the default.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
