"""How a run stops: after the step under way, on Ctrl-C or SIGTERM, with a checkpoint of it."""

from __future__ import annotations

import signal
import threading
from typing import Any

from ..progress import status


def quietly(action: Any) -> None:
    """Run `action` (a write to stderr: a progress bar's last line), ignoring a stderr that is gone."""
    try:
        action()
    except OSError:
        pass


class StopAfterStep:
    """Turn the first Ctrl-C (or SIGTERM) into a request the training loop honours after its current step; a second one stops at once.

    A step cut in half (a GAN's discriminator updated, its generator not) could not be checkpointed
    and resumed exactly; between steps it can. SIGTERM, what `kill`, a batch scheduler's time limit or a
    container's stop send first, is taken as a Ctrl-C: the run saves its checkpoint and stops. Only the main
    thread can take signals: elsewhere this does nothing.
    """

    #: The signals a run turns into a stop after the step. A pool worker whose parent stops it (zoo dann-table:
    #: `pool.terminate()` sends SIGTERM) sets this to () in its initializer, so that it ends at once.
    SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, *, under_torchrun: bool = False, speaks: bool = True) -> None:
        #: Under torchrun the first signal comes twice, from its sender and forwarded by torchrun's agent: the second is
        #: then the same stop, not "stop at once" (torchrun itself kills what has not ended after its grace period).
        self.under_torchrun = under_torchrun
        #: Whether this process says so on stderr (one of a torchrun run's processes speaks for all).
        self.speaks = speaks

    def __enter__(self) -> StopAfterStep:
        self.requested = False
        self.signum: int | None = None
        main = threading.current_thread() is threading.main_thread()
        self._previous = {s: signal.getsignal(s) if main else signal.SIG_IGN for s in self.SIGNALS}
        # SIG_IGN: whoever started us (a shell's `cmd &`, a process pool) chose to ignore the signal; so do we
        self._active = [s for s, h in self._previous.items() if h is not signal.SIG_IGN]
        for s in self._active:
            signal.signal(s, self._request)
        return self

    def _request(self, signum: int, frame: object) -> None:
        first = not self.requested
        self.requested, self.signum = True, self.signum or signum
        if not self.under_torchrun:
            self._restore_all()  # the second signal acts as it would without us
        what = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        if first and self.speaks:  # stderr may be a `| tee` that the same Ctrl-C ended: the stop matters, not the message
            later = ("torchrun ends the processes that have not stopped within its grace period" if self.under_torchrun
                     else f"{what} again stops at once, losing the steps since the last one")
            status(f"\nzoo: {what}: stopping after this step to save a checkpoint ({later})")

    def _restore_all(self) -> None:
        for s in self._active:
            previous = self._previous[s]  # None: a handler not set from Python
            signal.signal(s, previous if previous is not None else (signal.default_int_handler if s == signal.SIGINT else signal.SIG_DFL))

    def __exit__(self, *exc: object) -> None:
        self._restore_all()
