"""Progress bars: live on a terminal and in a notebook, a line a minute in a log; silent ones leave the process as they found it."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest


def test_a_silent_bar_leaves_the_multiprocessing_start_method_unset() -> None:
    # tqdm(disable=True) still made tqdm's multiprocessing lock, fixing the start method: a host application's later
    # set_start_method("spawn") then raised "context has already been set" after any zoo.evaluate(..., progress=False)
    code = (
        "import multiprocessing as mp, zoo\n"
        "from zoo.metrics.gan import generate\n"
        "from zoo.progress import progress_bar\n"
        "with progress_bar(3, 'x', enabled=False) as bar:\n"
        "    bar.update(1); bar.set_postfix(loss=1.0)\n"
        "generate(zoo.build_method('dcgan', {'nz': 4, 'ngf': 2, 'ndf': 2}).eval(), 4, seed=0, progress=False)\n"
        "assert mp.get_start_method(allow_none=True) is None, mp.get_start_method(allow_none=True)\n"
        "mp.set_start_method('spawn')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


class _KernelStream(io.StringIO):
    """What a Jupyter kernel puts in sys.stderr: no terminal, yet a bar's carriage returns redraw it in place."""


_KernelStream.__module__ = "ipykernel.iostream"


def test_a_notebook_gets_a_live_bar_without_tqdms_ipywidgets_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util
    import types
    import warnings

    import tqdm.notebook

    from zoo.progress import LOG_INTERVAL_S, progress_bar

    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setattr(sys, "stderr", _KernelStream())
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ipywidgets" else find_spec(name, *a))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm.auto warned 'IProgress not found' on a notebook without ipywidgets
        with progress_bar(10, "x") as bar:
            assert bar.mininterval == 0.1 and getattr(bar.fp, "_wrapped", bar.fp) is sys.stderr, "redrawn in place, not a line a minute (stderr is no tty)"
    made = {}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "ipywidgets" else find_spec(name, *a))
    monkeypatch.setattr(tqdm.notebook, "tqdm", lambda **kw: made.update(kw) or "widget")
    assert progress_bar(10, "x") == "widget" and made["mininterval"] == 0.1 and made["total"] == 10
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a log, as before
    with progress_bar(10, "x") as bar:
        assert bar.mininterval == LOG_INTERVAL_S
