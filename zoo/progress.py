"""What a long command shows while it works, on stderr (stdout stays for results, e.g. `zoo eval --json`).

On a terminal, a live tqdm bar; in a Jupyter notebook, a live one too (tqdm's widget where ipywidgets is installed).
Where stderr is a log or a pipe (CI, `2> log`, `2>&1 | tee`), in which a bar's carriage returns would pile up on one
line, the bar writes a plain line a minute instead, and its last state when it ends.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["progress_bar", "status", "forgiving_stderr"]

#: Seconds between lines of a bar written to a log (not a terminal).
LOG_INTERVAL_S = 60.0


class _Lines:
    """A stream for tqdm that turns its carriage-return redraws into whole lines, without the padding."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        for line in text.replace("\r", "\n").split("\n"):
            if line.strip():
                self.stream.write(line.rstrip() + "\n")

    def flush(self) -> None:
        self.stream.flush()


class _ForgivingStream:
    """A stderr whose failed writes are dropped: a note or a bar that cannot be shown (stderr closed, `2>/dev/full`, its
    reader gone) must not stop the work, nor land on stdout (``print(file=None)`` writes there)."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            if self.stream is not None:
                self.stream.write(text)
        except (OSError, ValueError):  # ValueError: a closed file
            pass
        return len(text)

    def flush(self) -> None:
        try:
            if self.stream is not None:
                self.stream.flush()
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        return _is_terminal(self.stream)

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, ...: the stream's own
        if self.stream is None:
            raise AttributeError(name)
        return getattr(self.stream, name)


def forgiving_stderr() -> Any:
    """Return sys.stderr made forgiving (see _ForgivingStream) for a zoo command to install, or sys.stderr itself in a
    notebook (whose stream tells the bar to draw a widget) or where it already is."""
    stream = sys.stderr
    if isinstance(stream, _ForgivingStream) or (stream is not None and _is_notebook(stream)):
        return stream
    return _ForgivingStream(stream)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced by a test's capture, or closed
        return False


def _is_notebook(stream: Any) -> bool:
    """Whether `stream` is a Jupyter kernel's output: no terminal (isatty is False), yet it redraws a bar in place."""
    return "ipykernel" in sys.modules and type(stream).__module__.startswith("ipykernel.")


class _Silent:
    """The bar where none is shown: tqdm(disable=True) would still make tqdm's multiprocessing lock, which fixes the
    process's start method for good (a host application's later ``set_start_method("spawn")`` would then fail)."""

    def update(self, n: float = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress_bar(total: int, desc: str, *, unit: str = "it", initial: int = 0, enabled: bool = True) -> "tqdm | _Silent":
    """Return a progress bar over `total` units on stderr: live on a terminal or in a notebook, a line a minute in a log; silent
    unless `enabled`."""
    stream = sys.stderr
    if not enabled or stream is None:
        return _Silent()
    # tqdm is imported here, not above: the zoo command imports this module before anything slow
    if _is_notebook(stream) and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as notebook_bar  # a widget; without ipywidgets, tqdm.auto would warn and fall back

        return notebook_bar(total=total, initial=initial, desc=desc, unit=unit, mininterval=0.1)
    from tqdm import tqdm

    live = _is_terminal(stream) or _is_notebook(stream)
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True,
                file=stream if live else _Lines(stream), mininterval=0.1 if live else LOG_INTERVAL_S,
                maxinterval=10.0 if live else LOG_INTERVAL_S)  # tqdm's monitor redraws after maxinterval (10 s) of quiet


def status(message: str) -> None:
    """Say on stderr what a long step is doing now (a line; nothing where stderr is gone)."""
    if sys.stderr is None:
        return
    try:
        print(message, file=sys.stderr, flush=True)
    except OSError:  # stderr closed or its reader gone: the work goes on
        pass
