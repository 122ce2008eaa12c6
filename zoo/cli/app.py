"""The `zoo` console command: parse, run the sub-command, and turn every refusal, interruption and full disk into one line and an exit status."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import importlib
import os
import re
import shlex
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import Any

from ..errors import COMMAND_LINE, INVOCATION, ConfigError, OutputError, Stopped, ZooError
from ..progress import status
from .common import COMMANDS
from .parser import build_parser


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: str | None = None) -> None:
    """Show a warning as the command's own line (`zoo: warning: ...`), not Python's file, line and source echo."""
    status(f"zoo: warning: {message}")


_CONSOLE = contextvars.ContextVar("zoo_console", default=False)


def run() -> int:
    """The `zoo` console command (and `python -m zoo`): main() with warnings shown as one line each."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        token = _CONSOLE.set(True)
        try:
            return main()
        finally:
            _CONSOLE.reset(token)
            if _ctrl_c_is_pythons():
                # the command is done: a Ctrl-C now would land in the interpreter's exit (torch's atexit hooks print a
                # traceback, or `python -m` dies by SIGINT) and change nothing but the status; so would a SIGTERM
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _ctrl_c_is_pythons() -> bool:
    """Whether Ctrl-C is this process's to handle: in the main thread, with Python's own handler (not ignored, as in a
    shell's background job, nor a handler of the caller's)."""
    return threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler


@contextlib.contextmanager
def _ctrl_c_ends_the_command():
    """In the `zoo` command, a Ctrl-C while torch and the plugins load (seconds) ends it at once: one line, status 130.

    A KeyboardInterrupt raised in that import lands wherever torch happens to be, and torch swallows some (a traceback,
    then status 0) or leaves the `-m` runner to die by SIGINT; nothing is written yet, so there is nothing to tidy. Where
    Ctrl-C is not Python's to take (ignored in a background job, or a handler of the caller's), it is left alone.
    """
    if not _ctrl_c_is_pythons():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        os.write(2, b"\nzoo: interrupted\n")
        os._exit(130)

    signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def _sigterm_ends_the_command():
    """In the `zoo` command, SIGTERM (`kill`, a batch scheduler's time limit, a container's stop) ends a command as Ctrl-C
    does: what it was writing is removed (a temporary file or folder), the workers it started are stopped, status 143.

    (Left to its default, SIGTERM ends the process where it stands, and only a training run, which takes it itself, tidies up.)
    Where SIGTERM is not the default's (ignored, or a handler of the caller's), it is left alone.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise Stopped("stopped by SIGTERM", signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `zoo` command with `argv` (default: sys.argv[1:]); return the exit status (argparse's usage errors and
    ``--help`` raise SystemExit with theirs instead)."""
    from ..progress import forgiving_stderr

    token = COMMAND_LINE.set(True)  # errors name options (--steps 6), not Python arguments (steps=6)
    invocation = INVOCATION.set(None)
    stderr, sys.stderr = sys.stderr, forgiving_stderr()  # a note that cannot be shown stops no work, nor lands on stdout
    try:
        return _main(argv)
    finally:
        sys.stderr = stderr
        INVOCATION.reset(invocation)
        COMMAND_LINE.reset(token)


def _out_of_memory(e: BaseException) -> str | None:
    """Return what ran out when `e` is an allocation that failed (Python's, torch's CPU allocator's, CUDA's), else None."""
    text = str(e)
    if isinstance(e, MemoryError):
        return "Python could not allocate memory"
    # torch's CPU allocator: "can't allocate memory" (Linux), "not enough memory" (Windows)
    if (m := re.search(r"(?:can't allocate|not enough) memory: you tried to allocate (\d+) bytes", text)) is not None:
        size = int(m[1])
        return "torch tried to allocate " + (f"{size / 2**30:,.1f} GiB at once" if size >= 2**30 else f"{size / 2**20:,.0f} MiB" if size >= 2**20
                                             else f"{size:,} bytes")
    # torch.OutOfMemoryError (CUDA; named, so that the command line needs no torch) and the MPS backend's RuntimeError
    if type(e).__name__ == "OutOfMemoryError" or text.startswith("MPS backend out of memory"):
        return re.sub(r"\s*\(.*?\)", "", text.split(". ")[0]) + (". " + text.split(". ")[1] if ". " in text else "")
    return None


#: The commands whose whole product is what they print (others write files, and say so in passing).
_REPORTS = frozenset({"list", "info", "methods", "evaluators", "plugins", "datasets"})


def _main(argv: Sequence[str] | None) -> int:
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:  # needs neither torch nor the plugins
        from .. import __version__

        print(f"zoo {__version__}")
        return 0
    if hasattr(sys.stdout, "reconfigure"):  # a console or file in an encoding without ± or → (Windows' cp1252): \u00b1, not a crash
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        with _ctrl_c_ends_the_command() if _CONSOLE.get() else contextlib.nullcontext():
            importlib.import_module("numpy")  # before torch: torch's C code imports numpy and would swallow a Ctrl-C that lands there
            parser = build_parser()  # loads torch and the plugins: a broken one is an error here under ZOO_STRICT_PLUGINS=1
    except ZooError as e:
        print(f"zoo: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:  # Ctrl-C while torch loads: one line, as later
        status("\nzoo: interrupted")
        return 130
    args = parser.parse_args(argv)
    if not args.command:  # the help, and the status of a command line that names no command (`zoo --help` is 0)
        parser.print_help()
        return ConfigError.exit_code
    if sys.stdout is None and (args.command in _REPORTS or getattr(args, "json", False)):  # started with stdout closed (`zoo list >&-`): the answer would be lost
        print(f"zoo {args.command}: error: stdout is closed, and zoo {args.command} writes its answer there. "
              "Give it somewhere to go (`> file`, a pipe).", file=sys.stderr)
        return OutputError.exit_code
    from ..parallel import launch_prefix, lost_peer, rank  # torch has loaded with the plugins by now

    args.argv = launch_prefix() + shlex.join(["zoo", *(sys.argv[1:] if argv is None else argv)])  # what a run records
    INVOCATION.set(args.argv)  # for results written deeper down (an evaluator's JSON); main() puts it back
    try:
        with _sigterm_ends_the_command() if _CONSOLE.get() else contextlib.nullcontext():
            code = COMMANDS[args.command](args)
        if sys.stdout is not None:  # None when started with stdout closed (`zoo list >&-`)
            sys.stdout.flush()  # inside the try: a closed pipe shows here, not in the interpreter's exit
        return code
    except ZooError as e:
        print(f"zoo {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:  # Ctrl-C: one line, not a traceback (zoo train says where its checkpoint is)
        if rank():  # torchrun's other processes: process 0 says it for all
            return 128 + getattr(e, "signum", 2)
        status(f"\nzoo {args.command}: interrupted" + (f": {e}" if str(e) else ""))
        return 128 + getattr(e, "signum", 2)  # 130 for Ctrl-C; 143 for a training run stopped by SIGTERM
    except BrokenPipeError:  # the reader went away (`zoo info ddpm | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the interpreter's final flush does not fail again
        return 1
    except (MemoryError, RuntimeError) as e:
        if lost_peer(e):  # a torchrun run's other process ended (its own message says why); torchrun ends this one too
            print(f"zoo {args.command}: error: process {rank()} of this torchrun run: another process ended ({str(e).splitlines()[0].split('. ')[0][:200]}); "
                  "its own message says why.", file=sys.stderr)
            return 1
        if (what := _out_of_memory(e)) is None:
            raise
        print(f"zoo {args.command}: error: out of memory: {what}. Ask for less at once (fewer images with -n, a smaller "
              "--batch-size or model), or use a machine with more memory.", file=sys.stderr)
        return ConfigError.exit_code
    except PermissionError as e:  # a place no check above named: still one line, with the path refused
        print(f"zoo {args.command}: error: permission denied: {e.filename or e}. Give your user access to it, or use another path.", file=sys.stderr)
        return 1
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO):
            raise
        status(f"zoo {args.command}: error: cannot write the output: {e.strerror} ({e.errno}). Free some space or write elsewhere.")
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OutputError.exit_code
