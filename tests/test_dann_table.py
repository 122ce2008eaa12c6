"""`zoo dann-table`: regimes get the right data, the table and figures are written, the report's numbers are marked as its own."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import torch

import zoo_plugins.dann.table as table_module
from zoo.cli import build_parser
from zoo.data import ImageSet
from zoo.errors import ConfigError, DataError, UnknownNameError
from zoo.metrics.adaptation import load_labelled
from zoo_plugins.dann.scenarios import SCENARIOS, Scenario, resolve_scenarios
from zoo_plugins.dann.table import build_table, regime_data, render_markdown, train_command


def toy_set(name: str, n: int, channels: int, size: int, seed: int) -> ImageSet:
    """Return a labelled random uint8 set."""
    g = torch.Generator().manual_seed(seed)
    return ImageSet(torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g), torch.arange(n) % 10, name, 10)


def test_regimes_train_on_the_right_sets_and_dann_gets_no_target_labels() -> None:
    source, target = toy_set("src", 20, 3, 28, 0), toy_set("tgt", 20, 1, 16, 1)
    data, regime = regime_data("dann", source, target)
    assert regime == "dann" and data["source"] is source and data["target"].labels is None
    assert torch.equal(data["target"].images, target.images)
    data, regime = regime_data("target_only", source, target)
    assert regime == "source_only" and data == {"source": target}, "the upper bound trains on the target's labelled train split"
    assert regime_data("source_only", source, target) == ({"source": source}, "source_only")
    with pytest.raises(ConfigError, match="unknown regime"):
        regime_data("oracle", source, target)


def test_train_command_is_a_valid_zoo_train_line_for_each_regime() -> None:
    recipe = {"steps": 1500, "batch_size": 64, "config": {"lr": 0.0005, "lr_schedule": "dann"}}
    scenario = SCENARIOS["mnistm-digits"]
    for regime, data in (("dann", ["source=mnistm", "target=digits"]), ("source_only", ["source=mnistm"]), ("target_only", ["source=digits"])):
        args = build_parser().parse_args(shlex.split(train_command(scenario, regime, 2, recipe))[1:])
        assert args.command == "train" and args.method == "dann" and args.data == data
        assert args.steps == 1500 and args.batch_size == 64 and args.seed == 2
        assert ("regime=source_only" in args.set) == (regime != "dann")
        assert {"lr=0.0005", "lr_schedule=dann"} <= set(args.set)
    assert build_parser().parse_args(shlex.split(train_command(scenario, "dann", 0, recipe, "cuda"))[1:]).device == "cuda"  # the table's device


def test_scenarios_resolve_by_name_and_auto_skips_absent_real_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    assert [s.name for s in resolve_scenarios("mnistm-digits, mnistm-syndigits", None)] == ["mnistm-digits", "mnistm-syndigits"]
    with pytest.raises(UnknownNameError, match="mnistm-digit"):
        resolve_scenarios("mnistm-digit", None)
    monkeypatch.setattr("zoo_plugins.dann.scenarios.available", lambda s, root: False)
    assert {s.name for s in resolve_scenarios("auto", None)} == {"mnistm-syndigits", "mnistm-digits"}
    assert SCENARIOS["mnistm-svhn"].report == {"source_only": 0.337, "dann": 0.496, "target_only": 0.915}
    assert SCENARIOS["mnistm-usps"].report == {"source_only": 0.760, "dann": 0.826, "target_only": 0.983}


def test_a_target_set_with_labels_outside_0_to_9_is_rejected_before_training(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = ImageSet(torch.zeros(3, 1, 16, 16, dtype=torch.uint8), torch.tensor([0, 5, 10]), "svhn-raw", None)
    monkeypatch.setattr("zoo.data.load", lambda name, split, root=None: bad)
    with pytest.raises(DataError, match=r"target set 'svhn' \(test split\) has labels 0\.\.10"):
        load_labelled("svhn", "test", None, "target")


def test_build_table_writes_mean_std_checks_report_columns_and_tsne(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(table_module.os, "getloadavg", raising=False)  # as on Windows, which has no load average
    sets = {("toy-src", "train"): toy_set("toy-src", 24, 3, 28, 0), ("toy-src", "test"): toy_set("toy-src", 20, 3, 28, 1),
            ("toy-tgt", "train"): toy_set("toy-tgt", 24, 1, 32, 2), ("toy-tgt", "test"): toy_set("toy-tgt", 20, 1, 32, 3),
            ("toy-tgt2", "train"): toy_set("toy-tgt2", 24, 3, 16, 4), ("toy-tgt2", "test"): toy_set("toy-tgt2", 20, 3, 16, 5)}
    monkeypatch.setattr(table_module, "load_labelled", lambda name, split, root, role: sets[name, split])
    scenario, sibling = Scenario("toy", "toy-src", "toy-tgt", "toy → toy", False), Scenario("toy2", "toy-src", "toy-tgt2", "toy → toy2", False)
    recipe = {"steps": 2, "batch_size": 8, "config": {}}
    threads, rng = torch.get_num_threads(), torch.get_rng_state()
    table = build_table([scenario, sibling], [0, 1], recipe, root=None, runs=tmp_path / "runs", figures=tmp_path / "figures", tsne_n=15, device="cpu",
                        threads=threads + 1, log=lambda _: None)
    # one worker runs in the caller's process: its thread count and global generator are the caller's again
    assert torch.get_num_threads() == threads and torch.equal(torch.get_rng_state(), rng)
    shared = [r for r in table["runs"] if r["reused"]]
    assert [(r["scenario"], r["regime"]) for r in shared] == [("toy2", "source_only")] * 2, "source only on toy-src is trained once, not per scenario"
    assert table["scenarios"]["toy2"]["regimes"]["source_only"]["source_accuracy"] == table["scenarios"]["toy"]["regimes"]["source_only"]["source_accuracy"]
    row = table["scenarios"]["toy"]
    for regime in ("source_only", "dann", "target_only"):
        accs = row["regimes"][regime]["target_accuracy"]
        assert len(accs) == 2 and row["regimes"][regime]["mean"] == pytest.approx(sum(accs) / 2)
        assert row["regimes"][regime]["std"] == pytest.approx(abs(accs[0] - accs[1]) / 2**0.5)
    assert row["checks"]["dann_minus_source_only"] == pytest.approx(row["regimes"]["dann"]["mean"] - row["regimes"]["source_only"]["mean"])
    assert row["target_test_n"] == 20 and len(table["runs"]) == 12 and table["load_average_1min_at_end"] is None
    for path in row["tsne"].values():
        assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(table)  # JSON-ready
    markdown = render_markdown(table, "zoo dann-table --steps 2")
    assert "toy → toy (ours)" in markdown
    assert "MNIST-M → SVHN (seed report's, not ours)" in markdown and "| Adaptation (DANN) |" in markdown
    for number in ("0.337", "0.496", "0.915", "0.760", "0.826", "0.983"):
        assert number in markdown
    # a second call reuses the finished runs instead of training again
    again = build_table([scenario], [0], recipe, root=None, runs=tmp_path / "runs", figures=tmp_path / "figures", tsne_n=15, device="cpu", log=lambda _: None)
    assert again["resumed_runs"] == 3
    assert again["scenarios"]["toy"]["regimes"]["dann"]["target_accuracy"][0] == row["regimes"]["dann"]["target_accuracy"][0]


def test_dann_table_set_is_checked_before_any_training(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from zoo.cli import main

    runs = tmp_path / "runs"
    assert main(["dann-table", "--set", "lr", "--runs", str(runs)]) == 2
    assert "--set 'lr': expected key=value" in capsys.readouterr().err
    assert main(["dann-table", "--set", "regime=dann", "--runs", str(runs)]) == 2
    assert "drop --set regime" in capsys.readouterr().err
    assert main(["dann-table", "--set", "bogus=1", "--runs", str(runs)]) == 2
    assert "invalid config for dann-table's DANN config: bogus" in capsys.readouterr().err
    (tmp_path / "a_file").write_text("x")
    assert main(["dann-table", "--runs", str(runs), "--out-json", str(tmp_path), "--out-md", str(tmp_path / "t.md")]) == 7
    assert f"cannot write {tmp_path}" in capsys.readouterr().err
    assert main(["dann-table", "--runs", str(runs), "--json", str(tmp_path / "t.json"), "--markdown", str(tmp_path / "t.md"),
                 "--figures", str(tmp_path / "a_file")]) == 7
    assert "cannot write" in capsys.readouterr().err
    for flag, value in (("--seeds", "0"), ("--steps", "0"), ("--tsne-n", "0"), ("--threads", "-1")):
        with pytest.raises(SystemExit):
            main(["dann-table", flag, value, "--runs", str(runs)])
        assert f"argument {flag}: expected a whole number >=" in capsys.readouterr().err
    assert not runs.exists()


def small_table() -> dict:
    """A finished one-scenario table, as build_table returns it."""
    table = {"scenarios": {}, "seed_report": {}, "wall_time_s": 60, "cpu_time_s": 60, "date": "d", "device": "cpu", "load_average_1min_at_end": 0,
             "resumed_runs": 0, "reused_runs": 0, "runs": [], "seeds": [0], "recipe": {"steps": 1, "batch_size": 1, "config": {}}, "selection": "last step"}
    table["scenarios"]["toy"] = {"title": "toy", "regimes": {r: {"mean": 0.5, "std": 0.0, "source_accuracy": [0.9]} for r in ("source_only", "dann", "target_only")},
                                 "checks": {"dann_minus_source_only": 0.0, "dann_beats_source_only_by_5_points": False, "dann_at_most_target_only": True},
                                 "target_test_n": 1, "tsne": {"domain": "/somewhere/fig/tsne_toy_domain.png"}}
    return table


def test_markdown_links_the_figures_from_where_it_is_written() -> None:
    table = small_table()
    assert "](fig/tsne_toy_domain.png)" in render_markdown(table, "zoo dann-table", figures="fig")
    assert "](figures/tsne_toy_domain.png)" in render_markdown(table, "zoo dann-table")
    assert "load average 0 when it ended" in render_markdown(table, "zoo dann-table")
    table["load_average_1min_at_end"] = None  # Windows
    assert "load average" not in render_markdown(table, "zoo dann-table") and "CPU-minutes over all threads)." in render_markdown(table, "zoo dann-table")


def test_the_table_is_written_in_utf8_and_links_figures_on_another_drive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.cli import main

    def relpath(path: str, start: str) -> str:  # what Windows' os.path.relpath does across drives
        raise ValueError("path is on mount 'D:', start on mount 'C:'")

    monkeypatch.setattr(table_module, "build_table", lambda *a, **k: small_table())
    monkeypatch.setattr(table_module.os.path, "relpath", relpath)
    out = tmp_path / "out"
    assert main(["dann-table", "--scenarios", "mnistm-digits", "--runs", str(tmp_path / "runs"), "--out-json", str(out / "t.json"),
                 "--out-md", str(out / "t.md"), "--figures", str(tmp_path / "figs")]) == 0
    markdown = (out / "t.md").read_bytes().decode("utf-8")  # ± and → are not in Windows' cp1252
    assert f"]({(tmp_path / 'figs').resolve().as_posix()}/tsne_toy_domain.png)" in markdown and "0.500 ± 0.000" in markdown
    assert json.loads((out / "t.json").read_text())["command"].startswith("zoo ")
    assert "0.500 ± 0.000" in capsys.readouterr().out


def test_the_table_prints_to_a_console_that_cannot_show_its_symbols(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_dann_table as T, zoo_plugins.dann.table as t; "
            "t.build_table = lambda *a, **k: T.small_table(); from zoo.cli import main; "
            f"sys.exit(main(['dann-table', '--scenarios', 'mnistm-digits', '--runs', {str(tmp_path / 'runs')!r}, '--json', {str(tmp_path / 't.json')!r}, "
            f"'--markdown', {str(tmp_path / 't.md')!r}, '--figures', {str(tmp_path / 'figs')!r}]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONUTF8"))}
    env.update(LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")  # stdout in ASCII, as a cp1252 console lacks ± and →
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, encoding="ascii", timeout=120)
    assert done.returncode == 0, done.stderr
    assert "0.500 \\xb1 0.000" in done.stdout and "± 0.000" in (tmp_path / "t.md").read_text(encoding="utf-8")


def fake_job(job: dict) -> list:
    """A stand-in for run_job in the worker processes: fails at once, or sleeps as a long training run would."""
    import time

    if job["fail"]:
        raise RuntimeError("this run failed")
    time.sleep(job["seconds"])
    return []


def test_a_failed_run_stops_the_other_workers_at_once() -> None:
    # the pool used to wait for every running run to end (minutes) before it reported a failure or a Ctrl-C
    import time

    lines: list[str] = []
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="this run failed"):
        table_module._run_all([{"fail": False, "seconds": 120}, {"fail": True}], workers=2, log=lines.append, run=fake_job)
    assert time.monotonic() - t0 < 60
    assert lines and lines[0].startswith("training 2 runs, 2 at a time")


def probe_job(job: dict) -> list:
    """A stand-in for run_job that reports whether its worker ignores Ctrl-C (target_accuracy 1.0 if it does)."""
    import signal
    import time

    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if "marker" in job:
        Path(job["marker"]).write_text(str(ignored))  # the test's signal to send its Ctrl-C: this worker is running
    time.sleep(job["seconds"])
    return [{"scenario": "probe", "regime": "dann", "seed": 0, "target_accuracy": float(ignored), "source_accuracy": 0.0, "train_time_s": 0.0}]


def signal_once_both_run(markers: list[Path], signum: int) -> None:
    """Send this process `signum` from another thread once both probe workers have written their markers (they run)."""
    import os
    import threading
    import time

    def send() -> None:
        deadline = time.monotonic() + 60
        while not all(m.exists() and m.read_text() for m in markers) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signum)

    threading.Thread(target=send, daemon=True).start()


def test_ctrl_c_is_the_parents_it_stops_the_pool_and_says_how_to_go_on(tmp_path: Path) -> None:
    import signal
    import time

    markers = [tmp_path / "started0", tmp_path / "started1"]
    signal_once_both_run(markers, signal.SIGINT)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt, match=r"unfinished ones keep their last checkpoint \(every 200 steps\); the same command goes on"):
        table_module._run_all([{"seconds": 120, "marker": str(m)} for m in markers], workers=2, log=lambda _: None, run=probe_job)
    assert time.monotonic() - t0 < 60
    assert [m.read_text() for m in markers] == ["True", "True"], "workers leave Ctrl-C to the parent (they ignore it)"


def test_sigterm_to_the_parent_stops_the_pool_as_ctrl_c_does_and_says_so_in_its_status(tmp_path: Path) -> None:
    """The `zoo` command takes SIGTERM as Ctrl-C (zoo.cli): the pool is stopped now, and the stop keeps its signal (status 143)."""
    import signal
    import time

    from zoo.cli.app import _sigterm_ends_the_command
    from zoo.errors import Stopped

    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        pytest.skip("the test runner handles SIGTERM itself")
    markers = [tmp_path / "started0", tmp_path / "started1"]
    signal_once_both_run(markers, signal.SIGTERM)
    t0 = time.monotonic()
    with _sigterm_ends_the_command(), pytest.raises(Stopped, match="the same command goes on from there") as stopped:
        table_module._run_all([{"seconds": 120, "marker": str(m)} for m in markers], workers=2, log=lambda _: None, run=probe_job)
    assert stopped.value.signum == signal.SIGTERM and time.monotonic() - t0 < 60
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "the command's handler is gone with the command"


ORPHAN_SCRIPT = """
import os, sys, time
from zoo_plugins.dann import table

def job(marker):
    open(marker, "w").write(str(os.getpid()))
    time.sleep(120)
    return []

if __name__ == "__main__":
    table.PARENT_CHECK_S = 0.2
    table._run_all([sys.argv[1]], workers=2, log=lambda _: None, run=job)
"""


def test_workers_whose_parent_is_killed_outright_end_rather_than_train_on_orphaned(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    script, marker = tmp_path / "parent.py", tmp_path / "worker.pid"
    script.write_text(ORPHAN_SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script), str(marker)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = int(marker.read_text())
    parent.kill()  # SIGKILL: nothing of the parent's runs, pool.terminate() included
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        if Path(f"/proc/{worker}/stat").is_file() and Path(f"/proc/{worker}/stat").read_text().split(") ")[-1].startswith("Z"):
            break  # a zombie: it has ended, only its exit status waits for a reaper
        time.sleep(0.1)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the worker trained on, orphaned, 30 s after its parent died")
