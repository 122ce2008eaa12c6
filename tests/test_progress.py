"""Progress bars: silent ones leave the process as they found it."""

from __future__ import annotations

import subprocess
import sys


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
