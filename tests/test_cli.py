"""The `zoo` command: help with examples, train -> register -> list/info/sample, clear errors."""

from __future__ import annotations

import argparse
import json
import os
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoo.cli import build_parser, main
from zoo.errors import ConfigError
from zoo.interfaces import parse_set


def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    subs = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"list", "info", "train", "sample", "eval", "datasets", "methods", "plugins"} <= set(subs.choices)
    for name, parser in subs.choices.items():
        assert "example:" in parser.format_help() and f"zoo {name}" in parser.format_help(), name


def test_set_values_parse_as_json_when_they_can() -> None:
    assert parse_set(["lr=2e-4", "soft_labels=true", "name=adam", "sizes=[1,2]"]) == {"lr": 2e-4, "soft_labels": True, "name": "adam", "sizes": [1, 2]}


def test_set_without_equals_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["train", "dcgan", "--data", str(tmp_path), "--set", "lr", "--out", str(tmp_path / "o")]) == 2
    assert "--set 'lr': expected key=value" in capsys.readouterr().err


def face_folder(root: Path, n: int = 12) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir()
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (72, 80, 3), dtype=np.uint8)).save(root / f"face_{i:03d}.png")
    return root


def train_tiny(data: Path | str, out: Path, *extra: str, steps: int = 1) -> int:
    """Run `zoo train` of a tiny DCGAN on `data` into `out` and return its exit status."""
    return main(["train", "dcgan", "--data", str(data), "--set", "nz=4", "--set", "ngf=2", "--set", "ndf=2", "--steps", str(steps),
                 "--batch-size", "4", "--device", "cpu", "--out", str(out), "--quiet", *extra])


def test_a_registered_run_that_ran_out_of_time_goes_on_with_the_same_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import zoo

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    faces = face_folder(tmp_path / "faces")
    command = ("--register", "dcgan.sit", "--max-minutes", "1e-9")  # each sitting: one step, then export and register
    assert train_tiny(faces, tmp_path / "run", *command, steps=3) == 0
    first = zoo.entry("dcgan.sit")
    assert "Run the same command again to go on from the checkpoint" in capsys.readouterr().err
    assert train_tiny(faces, tmp_path / "run", *command, steps=3) == 0, "its next sitting replaces the entry its last one registered"
    assert zoo.entry("dcgan.sit").training.steps == first.training.steps + 1
    assert train_tiny(faces, tmp_path / "other", "--register", "dcgan.sit") == 2, "another run under that name needs --replace"
    assert "give --replace to replace it" in capsys.readouterr().err and not (tmp_path / "other").exists()


def test_a_bad_train_option_points_to_the_flag_not_to_set(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["train", "dcgan", "--data", str(tmp_path), "--steps", "0", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "steps: Input should be greater than or equal to 1 (got 0)" in err and "`zoo train --help`" in err and "--set" not in err
    assert not (tmp_path / "o").exists()


def test_list_shows_measured_metrics_not_the_sample_count_and_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.loading import build_method, param_count, save_model
    from zoo.registration import update_entry

    reg = tmp_path / "registry.toml"
    monkeypatch.setenv("ZOO_REGISTRY", str(reg))
    model = build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4})
    sha = save_model(model, tmp_path / "g.safetensors")
    update_entry("dcgan.t", {"method": "dcgan", "config": model.config.model_dump(), "weights": "g.safetensors", "sha256": sha, "data": "x",
                             "params": param_count(model), "metrics": {"n": 10000, "seed": 0, "classifier_fd": 11.06, "classifier_is": 4.392, "fid": 319.3, "coverage_0": 0.1}}, reg)
    assert main(["list"]) == 0
    assert "classifier_fd=11.06, classifier_is=4.392, fid=319.3" in capsys.readouterr().out
    assert main(["list", "dcgan.t", "--json"]) == 0  # for scripts: the whole entry, all of it on stdout
    listed = json.loads(capsys.readouterr().out)
    assert list(listed) == ["dcgan.t"] and listed["dcgan.t"]["metrics"]["fid"] == 319.3 and listed["dcgan.t"]["sha256"] == sha
    assert listed["dcgan.t"]["registry"] == str(reg) and listed["dcgan.t"]["config"]["nz"] == 8


def test_train_register_list_info_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    registry = tmp_path / "registry.toml"
    monkeypatch.setenv("ZOO_REGISTRY", str(registry))
    faces = face_folder(tmp_path / "faces")
    args = ["train", "dcgan", "--data", str(faces), "--set", "nz=4", "--set", "ngf=2", "--set", "ndf=2", "--steps", "2",
            "--batch-size", "4", "--device", "cpu", "--out", str(tmp_path / "run"), "--register", "dcgan.faces", "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["steps"] == 2 and "registered 'dcgan.faces'" in printed.err, "stdout is the summary alone (`| jq`)"
    e = tomllib.loads(registry.read_text())["models"]["dcgan.faces"]
    assert e["training"]["command"].startswith("zoo train dcgan --data") and e["training"]["steps"] == 2
    assert (tmp_path / e["weights"]).is_file()

    capsys.readouterr()
    assert main(["list"]) == 0 and "dcgan.faces" in capsys.readouterr().out
    assert main(["info", "dcgan.faces"]) == 0
    out = capsys.readouterr().out
    assert "generator (shipped" in out and "discriminator (training only" in out and "Generator(" in out
    assert main(["sample", "dcgan.faces", "-n", "4", "--seed", "1", "--out", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "g.png").size == (4 * 66 + 2, 66 + 2)


def test_unknown_model_exits_2_with_suggestions(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "none.toml"))
    assert main(["sample", "dcgan.mnist6", "--out", str(tmp_path / "x.png")]) == 2
    assert "unknown model 'dcgan.mnist6'" in capsys.readouterr().err


def test_the_exit_status_tells_a_bad_model_from_a_wrong_command_or_missing_data(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A script grading many models tells them apart by the exit status alone; zoo --help lists the statuses."""
    from zoo.errors import EXIT_CODES
    from zoo.loading import build_method, save_model

    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "no-data"))
    good = tmp_path / "g.safetensors"
    save_model(build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}), good)
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-100])
    (tmp_path / "empty").mkdir()
    out = str(tmp_path / "x.png")
    for code, argv in [
        (2, ["sample", "dcgan.nothing", "--out", out]),                                   # a name nothing registered
        (2, ["sample", str(good), "--set", "nonsense=1", "--out", out]),                  # an option the model does not take
        (2, ["register", str(tmp_path / "nope"), "dcgan.x", "--data", "mnist"]),         # a mistyped path, as zoo sample calls it
        (3, ["sample", str(cut), "--out", out]),                                          # a damaged weights file
        (3, ["eval", str(tmp_path / "empty"), "--only", "gan"]),                          # a folder with no model in it
        (4, ["eval", str(good), "--only", "gan", "--set", "n=4", "--set", "fid=false", "--set", "data=mnist"]),  # no data at ZOO_DATA
        (5, ["sample", "classifier.mnistm", "--out", out]),                               # a classifier cannot sample
    ]:
        assert main(argv) == code, (argv, capsys.readouterr().err)
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    assert all(f"  {code:<3}  {what}" in shown for code, what in EXIT_CODES.items())


def test_datasets_says_when_its_data_root_is_no_folder_here(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # ../shared/data, run from another folder than the checkout's: every set read as absent, no word why
    assert main(["datasets", "--data-dir", "../shared/data"]) == 0
    assert capsys.readouterr().out.startswith(f"data root: ../shared/data (no such folder here, from {tmp_path}: give its path")
    assert main(["datasets", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith(f"data root: {tmp_path}\n")
    (tmp_path / "afile").write_text("")
    assert main(["datasets", "--data-dir", "afile"]) == 0
    assert capsys.readouterr().out.startswith("data root: afile (a file, not a folder: the data root is the folder that holds")


def test_missing_data_dir_explains_how_to_name_it(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZOO_DATA", raising=False)
    assert main(["train", "dcgan", "--data", "mnist", "--out", str(tmp_path / "o")]) == 4
    err = capsys.readouterr().err
    assert "dataset 'mnist' needs its files" in err and "--data-dir" in err and "ZOO_DATA" in err


def test_errors_name_the_commands_options_and_python_gets_its_own_words_back(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["train", "dann", "--data", "surely-not-a-dataset", "--out", str(tmp_path / "o")]) == 2
    assert "Give --data source=NAME --data target=NAME." in capsys.readouterr().err  # refused before the data is read
    faces = face_folder(tmp_path / "faces")
    tiny = ["--set", "nz=4", "--set", "ngf=2", "--set", "ndf=2", "--batch-size", "4", "--device", "cpu", "--quiet"]
    assert main(["train", "dcgan", "--data", str(faces), *tiny, "--steps", "2", "--lr-decay-start", "2", "--out", str(tmp_path / "o")]) == 2
    assert "--lr-decay-start 2 must be below --steps 2" in capsys.readouterr().err
    assert main(["train", "dcgan", "--data", str(faces), *tiny, "--steps", "1", "--out", str(tmp_path / "r")]) == 0
    assert main(["train", "dcgan", "--data", str(faces), *tiny[:2], *tiny[4:], "--set", "ngf=3", "--set", "ndf=2", "--steps", "2",
                 "--out", str(tmp_path / "r")]) == 2  # ngf changed on the resume
    err = capsys.readouterr().err
    assert "another run (config: ngf 2 there, 3 now). Resume with the run's settings (--set ngf=2)" in err, err
    import zoo

    with pytest.raises(zoo.ConfigError, match=r"lr_decay_start=2 must be below steps=2"):  # main() handed the words back
        zoo.train("dcgan", str(faces), tmp_path / "o", config={"nz": 4, "ngf": 2, "ndf": 2}, steps=2, batch_size=4, device="cpu", lr_decay_start=2)


def test_data_path_that_does_not_exist_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["train", "dcgan", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 4
    assert f"data path {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err


def test_register_a_run_trained_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    faces = face_folder(tmp_path / "faces")
    assert train_tiny(faces, tmp_path / "run") == 0
    monkeypatch.chdir(tmp_path / "faces")  # the printed path must lead to the file from here, not from the registry's folder
    assert main(["register", str(tmp_path / "run"), "dcgan.elsewhere", "--data", "faces"]) == 0
    printed = capsys.readouterr().out
    assert f"registered 'dcgan.elsewhere': {tmp_path / 'weights' / 'dcgan.elsewhere.safetensors'} (sha256" in printed, printed
    import zoo

    assert zoo.load("dcgan.elsewhere").sample(1, seed=0).shape == (1, 3, 64, 64)
    assert zoo.entry("dcgan.elsewhere").training.command.startswith("zoo train dcgan")
    assert "earlier_sittings" not in (tmp_path / "registry.toml").read_text(), "only a resumed run carries the field"


def test_files_a_run_or_registration_writes_are_never_written_through_a_symbolic_link(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A run folder unpacked from someone's archive, or a shared registry's weights folder, may hold links to files elsewhere."""
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    faces = face_folder(tmp_path / "faces")
    assert train_tiny(faces, tmp_path / "run") == 0
    mine = tmp_path / "mine.txt"
    mine.write_text("mine")
    (tmp_path / "run" / "summary.json").unlink()
    (tmp_path / "run" / "summary.json").symlink_to(mine)
    assert train_tiny(faces, tmp_path / "run", steps=2) == 7  # going on would rewrite summary.json
    assert "summary.json is a symbolic link" in capsys.readouterr().err and mine.read_text() == "mine"
    (tmp_path / "run" / "summary.json").unlink()
    assert train_tiny(faces, tmp_path / "run2") == 0
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "dcgan.linked.safetensors").symlink_to(mine)
    assert main(["register", str(tmp_path / "run2"), "dcgan.linked", "--data", "faces"]) == 7
    assert "dcgan.linked.safetensors is a symbolic link" in capsys.readouterr().err and mine.read_text() == "mine"
    (tmp_path / "run2" / "checkpoint.slim.safetensors").symlink_to(mine)  # slim_checkpoint writes beside the run's files too
    from zoo.errors import OutputError
    from zoo.training import slim_checkpoint

    with pytest.raises(OutputError, match=r"checkpoint\.slim\.safetensors is a symbolic link"):
        slim_checkpoint(tmp_path / "run2")
    assert mine.read_text() == "mine"


def test_registering_never_writes_over_weights_another_entry_uses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An entry renamed by hand keeps its weights' file name; two users' registry files may share one folder."""
    import zoo

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    faces = face_folder(tmp_path / "faces")
    assert train_tiny(faces, tmp_path / "a") == 0 and train_tiny(faces, tmp_path / "b", steps=2) == 0
    assert main(["register", str(tmp_path / "a"), "dcgan.y", "--data", "faces"]) == 0
    assert main(["register", str(tmp_path / "b"), "dcgan.y", "--data", "faces"]) == 2
    err = capsys.readouterr().err
    assert "model 'dcgan.y' is registered already in" in err and "Choose another name, or give --replace to replace it." in err
    assert main(["register", str(tmp_path / "b"), "dcgan.y", "--data", "faces", "--replace"]) == 0, "its own entry's weights: replaced"
    registry = tmp_path / "registry.toml"
    registry.write_text(registry.read_text().replace('[models."dcgan.y"', '[models."dcgan.z"'))  # renamed by hand
    kept = (tmp_path / "weights" / "dcgan.y.safetensors").read_bytes()
    assert main(["register", str(tmp_path / "a"), "dcgan.y", "--data", "faces"]) == 7
    assert "has no entry 'dcgan.y' that owns it: another entry may use it" in capsys.readouterr().err
    assert (tmp_path / "weights" / "dcgan.y.safetensors").read_bytes() == kept and zoo.load("dcgan.z") is not None
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "bob.toml"))  # another user's file in the same folder
    assert main(["register", str(tmp_path / "a"), "dcgan.y", "--data", "faces"]) == 7
    assert (tmp_path / "weights" / "dcgan.y.safetensors").read_bytes() == kept


def test_a_plugin_registers_into_its_own_file_and_metrics_land_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.metrics import record_metrics
    from zoo.plugins import get_plugin_manager
    from zoo.registry import entry

    main_file, own = tmp_path / "registry.toml", tmp_path / "myplugin" / "registry.toml"
    monkeypatch.setenv("ZOO_REGISTRY", str(main_file))
    monkeypatch.setattr(get_plugin_manager(), "plugin_registry_files", lambda: [("myplugin", own)])  # what the plugin's zoo_register_models returns
    faces = face_folder(tmp_path / "faces")
    assert train_tiny(faces, tmp_path / "run") == 0
    assert main(["register", str(tmp_path / "run"), "dcgan.mine", "--data", "faces", "--registry", str(own)]) == 0
    assert (own.parent / "weights" / "dcgan.mine.safetensors").is_file() and not main_file.exists()
    assert entry("dcgan.mine").source == own
    # the same name in the main file would make every lookup fail: refused, naming the file that has it
    assert main(["register", str(tmp_path / "run"), "dcgan.mine", "--data", "faces"]) == 2
    assert f"defined in {own}" in capsys.readouterr().err and not main_file.exists()
    record_metrics("dcgan.mine", {"gan": {"n": 3, "classifier_is": 1.5}})  # what zoo eval --write does
    assert tomllib.loads(own.read_text())["models"]["dcgan.mine"]["metrics"] == {"n": 3, "classifier_is": 1.5} and not main_file.exists()
    (own.parent / "weights" / "dcgan.mine.safetensors").unlink()
    assert main(["sample", "dcgan.mine", "-n", "1", "--out", str(tmp_path / "s.png")]) == 3
    assert "does not exist. Put the file there" in capsys.readouterr().err, "in the plugin's checkout its author can"
    (tmp_path / "myplugin-0.1.dist-info").mkdir()  # installed from a wheel built without weights/*.safetensors as package data
    (tmp_path / "myplugin-0.1.dist-info" / "RECORD").write_text("myplugin/registry.toml,,\n")
    assert main(["sample", "dcgan.mine", "-n", "1", "--out", str(tmp_path / "s.png")]) == 3
    assert "plugin 'myplugin' ships the registry file" in capsys.readouterr().err


def test_train_checks_the_registry_file_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.loading import build_method, param_count, save_model
    from zoo.registration import update_entry

    main_file = tmp_path / "registry.toml"
    monkeypatch.setenv("ZOO_REGISTRY", str(main_file))
    model = build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2})
    sha = save_model(model, tmp_path / "weights" / "t.main.safetensors")
    update_entry("t.main", {"method": "dcgan", "config": model.config.model_dump(), "weights": "weights/t.main.safetensors", "sha256": sha,
                            "data": "x", "params": param_count(model)}, main_file)
    (tmp_path / "bad.toml").write_text("models = [")
    (tmp_path / "adir").mkdir()
    train = ["train", "dcgan", "--data", str(face_folder(tmp_path / "faces")), "--set", "nz=4", "--set", "ngf=2", "--set", "ndf=2",
             "--steps", "1", "--batch-size", "4", "--device", "cpu", "--out", str(tmp_path / "run"), "--quiet"]
    for register, registry, message, code in ((["--register", "t.main"], tmp_path / "other.toml", f"defined in {main_file}", 2),
                                              (["--register", "t.new"], tmp_path / "bad.toml", "not valid TOML", 2),
                                              (["--register", "t.new"], tmp_path / "adir", "is a folder", 7),
                                              ([], tmp_path / "other.toml", "give --register NAME too", 2)):
        assert main([*train, *register, "--registry", str(registry)]) == code
        assert message in capsys.readouterr().err
        assert not (tmp_path / "run").exists(), "refused before training"
    assert main([*train, "--register", "t.new", "--registry", str(tmp_path / "other.toml")]) == 0
    assert "note: zoo does not read" in capsys.readouterr().err  # neither the main file nor a plugin's: say so
    assert (tmp_path / "weights" / "t.new.safetensors").is_file() and "t.new" in (tmp_path / "other.toml").read_text()


def test_a_branched_run_registers_with_the_run_it_came_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    faces = face_folder(tmp_path / "faces")
    tiny = ["--set", "nz=4", "--set", "ngf=2", "--set", "ndf=2", "--batch-size", "4", "--device", "cpu", "--quiet"]
    assert main(["train", "dcgan", "--data", str(faces), *tiny, "--steps", "2", "--out", str(tmp_path / "a")]) == 0
    assert main(["train", "dcgan", "--data", str(faces), *tiny, "--steps", "3", "--out", str(tmp_path / "a")]) == 0  # a second sitting
    assert main(["train", "dcgan", "--data", str(faces), *tiny, "--set", "one_sided=true", "--steps", "2",
                 "--init-from", str(tmp_path / "a"), "--out", str(tmp_path / "b")]) == 0
    assert main(["register", str(tmp_path / "b"), "dcgan.branched", "--data", "faces"]) == 0
    import zoo

    t = zoo.entry("dcgan.branched").training
    assert t.steps == 2 and "--init-from" in t.command
    assert t.init_from is not None and t.init_from.steps == 3 and "--steps 3" in t.init_from.command and t.init_from.init_from is None
    assert t.init_from.checkpoint_sha256 == zoo.weights.sha256_file(tmp_path / "a" / "checkpoint.safetensors")
    assert t.init_from.software == t.software and t.software.startswith("zoo "), "the source run's versions travel with its record"
    assert [(x.steps, "--steps 2" in x.command) for x in t.init_from.earlier_sittings] == [(2, True)], "the source's sittings too"
    capsys.readouterr()
    assert main(["info", "dcgan.branched"]) == 0
    out = capsys.readouterr().out
    assert "branched from: zoo train dcgan" in out and "\n    resumed a sitting that reached step 2: zoo train dcgan" in out, out


def test_a_resumed_run_registers_every_sitting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    faces = face_folder(tmp_path / "faces")
    tiny = ["--set", "nz=4", "--set", "ngf=2", "--set", "ndf=2", "--batch-size", "4", "--device", "cpu", "--quiet", "--out", str(tmp_path / "a")]
    for steps in ("2", "3", "5"):
        assert main(["train", "dcgan", "--data", str(faces), *tiny, "--steps", steps]) == 0
    assert main(["register", str(tmp_path / "a"), "dcgan.sittings", "--data", "faces"]) == 0
    import zoo

    t = zoo.entry("dcgan.sittings").training
    assert t.steps == 5 and "--steps 5" in t.command
    assert [(s.steps, "--steps " + str(s.steps) in s.command) for s in t.earlier_sittings] == [(2, True), (3, True)]
    capsys.readouterr()
    assert main(["info", "dcgan.sittings"]) == 0
    assert "resumed a sitting that reached step 3: zoo train dcgan" in capsys.readouterr().out


def test_register_an_unfinished_run_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run").mkdir()
    assert main(["register", str(tmp_path / "run"), "x.y", "--data", "faces"]) == 3
    assert "is not a finished training run: run.json is missing" in capsys.readouterr().err


@pytest.fixture
def tiny_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A registry with one tiny DCGAN, `dcgan.tiny`, as $ZOO_REGISTRY."""
    from zoo.loading import build_method, param_count, save_model
    from zoo.registration import update_entry

    reg = tmp_path / "registry.toml"
    monkeypatch.setenv("ZOO_REGISTRY", str(reg))
    model = build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2})
    sha = save_model(model, tmp_path / "tiny.safetensors")
    update_entry("dcgan.tiny", {"method": "dcgan", "config": model.config.model_dump(), "weights": "tiny.safetensors", "sha256": sha,
                                "data": "x", "params": param_count(model)}, reg)
    return "dcgan.tiny"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nrow", "0"], "argument --nrow: expected a whole number >= 1, got 0"),
        (["-n", "-2"], "argument -n: expected a whole number >= 1, got -2"),
        (["--labels", "1,,2"], "argument --labels: expected comma-separated labels, e.g. 0,1,2 or cat,dog; got '1,,2'"),
    ],
)
def test_sample_flags_out_of_range_are_usage_errors(tiny_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sample", tiny_model, *args, "--out", str(tmp_path / "g.png")])
    assert info.value.code == 2 and message in capsys.readouterr().err and not (tmp_path / "g.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "seed=5"], "--set seed: these are not sampler options; use --seed instead"),
        (["--device", "bogus"], "device 'bogus' is not a device torch knows"),
        (["--out", "{tmp}/registry.toml/g.png"], "cannot write {tmp}/registry.toml/g.png"),
        (["--out", "{tmp}"], "cannot write {tmp} "),
        (["--set", "steps=3"], "model 'dcgan.tiny' takes no sampling options; got ['steps']"),
    ],
)
def test_sample_bad_values_are_errors_not_tracebacks(tiny_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    args = [a.format(tmp=tmp_path) for a in args]
    out = [] if "--out" in args else ["--out", str(tmp_path / "g.png")]
    assert main(["sample", tiny_model, "-n", "2", *args, *out]) == (7 if message.startswith("cannot write") else 2)
    err = capsys.readouterr().err
    assert f"zoo sample: error: {message.format(tmp=tmp_path)}" in err
    assert "sampling 2 images" not in err  # refused before the sampling, not after saying it has begun


def test_a_sampling_stopped_by_sigterm_or_killed_outright_leaves_no_half_written_folder_for_long(tmp_path: Path) -> None:
    """SIGTERM (kill, a scheduler's limit) ends `zoo sample --out-dir` as Ctrl-C does: its temporary folder removed, status 143.
    What SIGKILL leaves (nothing of the process runs), the next sampling into that folder's parent removes once an hour old."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "fake"
    cmd = [sys.executable, "-m", "zoo", "sample", "dcgan.mnist64", "-n", "3000", "--out-dir", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(any(d.iterdir()) for d in tmp_path.glob(".fake.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)  # the images are being written
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "zoo sample: interrupted: stopped by SIGTERM" in err, err
    assert list(tmp_path.iterdir()) == [], "neither the folder nor its temporary one"

    left = tmp_path / ".fake.k1ll3d_x.tmp"  # as a SIGKILL leaves it (tempfile's 8 random characters)
    (left / "7").mkdir(parents=True)
    (left / "000000.png").write_bytes(b"half")
    (left / "7" / "000001.png").write_bytes(b"half")
    young = tmp_path / ".fake.l1v3xxxx.tmp"  # another process's, filling now
    young.mkdir()
    mine, notes = tmp_path / ".fake.backup.tmp", tmp_path / ".fake.n0tes123.tmp"  # a user's own: not zoo's shape, or not images alone
    for folder in (mine, notes):
        folder.mkdir()
        (folder / "000000.png").write_bytes(b"kept")
    (notes / "notes.txt").write_text("mine")
    hour_ago = time.time() - 2 * 3600
    for folder in (left, mine, notes):
        os.utime(folder, (hour_ago, hour_ago))
    from zoo.viz import save_image_folder
    import torch

    save_image_folder(torch.zeros(2, 3, 8, 8), out)
    assert not left.exists() and young.is_dir() and len(list(out.iterdir())) == 2
    assert (mine / "000000.png").is_file() and (notes / "notes.txt").is_file(), "a user's folders are not zoo's to remove"


def test_sample_writes_a_folder_of_the_images_zoo_eval_scores(tiny_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    import zoo
    from zoo.metrics.gan import generate

    out = tmp_path / "fake"
    assert main(["sample", tiny_model, "-n", "7", "--seed", "3", "--out-dir", str(out)]) == 0
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"{i:06d}.png" for i in range(7)] and f"wrote {out} (7 PNG files, seed 3" in capsys.readouterr().out
    read = torch.stack([torch.from_numpy(np.array(Image.open(f))).permute(2, 0, 1) for f in files])
    assert torch.equal(read, generate(zoo.load(tiny_model), 7, seed=3)), "byte for byte what the gan evaluator generates for seed 3"
    assert list(tmp_path.glob(".fake.*")) == [], "no temporary folder left"
    assert main(["sample", tiny_model, "-n", "2", "--out-dir", str(out)]) == 7  # a set never mixes with another
    assert f"folder {out} is not empty" in capsys.readouterr().err and len(list(out.iterdir())) == 7
    assert main(["sample", tiny_model, "-n", "2", "--out-dir", str(tmp_path / "g"), "--out", str(tmp_path / "g.png")]) == 2
    assert "give one of them" in capsys.readouterr().err and not (tmp_path / "g").exists()


def test_sample_writes_a_conditional_models_images_in_a_folder_per_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import zoo
    from zoo.data import load

    weights = tmp_path / "ddpm.safetensors"
    zoo.save_model(zoo.build_method("ddpm", {"n_feat": 8, "n_T": 20}), weights)
    out = tmp_path / "digits"
    assert main(["sample", str(weights), "-n", "4", "--labels", "3,3,7,0", "--set", "steps=2", "--out-dir", str(out)]) == 0
    assert sorted(str(f.relative_to(out)) for f in out.rglob("*.png")) == ["0/000003.png", "3/000000.png", "3/000001.png", "7/000002.png"]
    assert load(out, "train").num_classes == 3, "the class-folder layout zoo reads as a labelled set"
    assert main(["sample", str(weights), "-n", "1", "--set", "steps=2", "--out-dir", "."]) == 7  # no folder of its own to make
    assert "'.' names no new folder" in capsys.readouterr().err


def test_an_image_folder_reads_back_with_the_labels_it_was_written_with(tmp_path: Path) -> None:
    import torch

    from zoo.data.folder import list_images
    from zoo.viz import save_image_folder

    images = torch.randint(0, 256, (12, 1, 16, 16), dtype=torch.uint8)
    labels = list(range(12))  # '10' sorted before '2' once, and every class from 2 on read back as another
    files, read, classes = list_images(save_image_folder(images, tmp_path / "twelve", labels, classes=12))
    assert classes == [f"{k:02d}" for k in range(12)] and read == labels
    assert torch.equal(torch.from_numpy(np.array(Image.open(files[11]))), images[11, 0])
    files, read, classes = list_images(save_image_folder(images[:3], tmp_path / "named", [2, 0, 1], classes=["cat", "dog", "emu"]))
    assert classes == ["cat", "dog", "emu"] and read == [0, 1, 2] and files[0].relative_to(tmp_path).as_posix() == "named/cat/000001.png"
    # names a folder cannot hold, or that a listing would reorder, give way to the label numbers
    for names in (["T-shirt/top", "Trouser", "Pullover"], ["Trouser", "Pullover", "Dress"]):
        out = tmp_path / names[0].replace("/", "_")
        files, read, classes = list_images(save_image_folder(images[:3], out, torch.tensor([1, 0, 2]), classes=names))
        assert classes == ["0", "1", "2"] and read == [0, 1, 2] and files[0].name == "000001.png"
    with pytest.raises(ConfigError, match=r"labels 0..3 lie outside the classes: give labels 0..2 \(the 3 classes\)"):
        save_image_folder(images[:2], tmp_path / "past", [0, 3], classes=["a", "b", "c"])
    assert not (tmp_path / "past").exists()


def test_bench_checks_its_output_and_counts_before_it_runs(tiny_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "--model", tiny_model, "--repeats", "0"])
    assert "argument --repeats: expected a whole number >= 1, got 0" in capsys.readouterr().err
    assert main(["bench", "--model", tiny_model, "--out", str(tmp_path)]) == 7
    err = capsys.readouterr().err
    assert f"cannot write {tmp_path}" in err


def test_progress_in_a_log_is_lines_not_carriage_returns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    faces = face_folder(tmp_path / "faces")
    assert main(["train", "dcgan", "--data", str(faces), "--set", "nz=4", "--set", "ngf=2", "--set", "ndf=2", "--steps", "3",
                 "--batch-size", "4", "--device", "cpu", "--log-every", "1", "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err  # not a terminal here, as in CI or `2> log`
    assert "\r" not in err and "dcgan: 100%" in err and "3/3" in err, err
    assert len([line for line in err.splitlines() if line.startswith("dcgan: ")]) == 2, "the start and the end, not a line per logged step"
    assert main(["sample", str(tmp_path / "run"), "-n", "2", "--out", str(tmp_path / "s.png")]) == 0
    assert f"sampling 2 images from {tmp_path / 'run'} (dcgan, on cpu)..." in capsys.readouterr().err


def test_the_command_shows_a_warning_as_one_line_of_its_own(tmp_path: Path) -> None:
    import subprocess
    import sys

    faces = face_folder(tmp_path / "faces")
    assert train_tiny(faces, tmp_path / "run") == 0
    proc = subprocess.run([sys.executable, "-m", "zoo", "eval", str(tmp_path / "run"), "--only", "gan", "--set", "n=20", "--set", f"data={faces}",
                           "--set", "split=train", "--set", "progress=false", "--set", "fid=false"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "ZOO_CACHE": str(tmp_path / "cache")})  # the user's own cache (~/.cache/zoo) stays untouched
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if "biased" in line]
    # both sides are too few for 128 features: the 11 real images and the 20 generated ones
    assert len(warning) == 2 and warning[0].startswith(f"zoo: warning: classifier features of {faces} train"), proc.stderr
    assert warning[1].startswith("zoo: warning: classifier features of the generated images: 20 samples"), proc.stderr
    assert "frechet.py" not in proc.stderr and "gan.py" not in proc.stderr, "no file, line or source echo: the message is the user's"


def test_bench_prints_each_result_as_it_is_done(tiny_model: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import zoo.bench

    def second_fails(*args, **kwargs):
        raise KeyboardInterrupt  # a Ctrl-C during the second subject

    monkeypatch.setattr(zoo.bench, "bench_inference", second_fails)
    assert main(["bench", "--train", "dcgan", "--set", "dcgan:nz=4", "--set", "dcgan:ngf=2", "--set", "dcgan:ndf=2", "--batch-size", "2",
                 "--steps", "1", "--warmup", "1", "--model", tiny_model]) == 130
    assert "train_step dcgan" in capsys.readouterr().out, "the first subject's result is shown, not lost with the second"


def test_list_with_a_registry_file_that_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "nowhere.toml"))
    assert main(["list"]) == 0
    out = capsys.readouterr()
    assert f"zoo list: note: {tmp_path / 'nowhere.toml'} does not exist yet (zoo register creates it; check $ZOO_REGISTRY)" in out.err
    assert "dcgan.mnist64" in out.out, "zoo's shipped models are listed beside a registry file of one's own"
    assert main(["list", "nosuch*"]) == 0 and "no model matches 'nosuch*'" in capsys.readouterr().err
    if Path("/dev/null").exists():
        monkeypatch.setenv("ZOO_REGISTRY", "/dev/null")
        assert main(["list"]) == 0
        assert "zoo list: note: /dev/null is no regular file (a device or pipe); $ZOO_REGISTRY names a registry file" in capsys.readouterr().err


def test_train_checks_the_register_name_before_training(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "dcgan", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), "--register", "../x"]) == 2
    assert "model name '../x' is not valid" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_methods_lists_a_method_without_a_docstring(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from zoo_plugins.dcgan.method import DCGAN

    monkeypatch.setattr(DCGAN, "__doc__", None)  # as docs/plugins.md's example method is written
    assert main(["methods"]) == 0
    assert any(line.startswith("dcgan") and line.rstrip().endswith("-") for line in capsys.readouterr().out.splitlines())


def test_info_counts_parameters_kept_on_the_method_itself(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from zoo_plugins.dcgan.method import DCGAN

    init = DCGAN.__init__

    def with_own_parameter(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        self.offset = torch.nn.Parameter(torch.zeros(5))  # shipped: it is in inference_state_dict

    monkeypatch.setattr(DCGAN, "__init__", with_own_parameter)
    assert main(["info", "dcgan"]) == 0
    assert "parameters: 3,576,709 shipped" in capsys.readouterr().out


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    # `zoo methods | head -1`: the pipe closes before zoo writes; no traceback on the terminal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "zoo", "methods"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_ctrl_c_in_zoo_train_is_one_line_saying_how_to_go_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import signal

    from zoo_plugins.dcgan.method import DCGAN

    step_of = DCGAN.train_step
    monkeypatch.setattr(DCGAN, "train_step", lambda self, batch, step: (step == 2 and os.kill(os.getpid(), signal.SIGINT), step_of(self, batch, step))[1])
    args = ["train", "dcgan", "--data", str(face_folder(tmp_path / "faces")), "--set", "nz=4", "--set", "ngf=2", "--set", "ndf=2",
            "--steps", "5", "--batch-size", "4", "--device", "cpu", "--out", str(tmp_path / "run"), "--quiet"]
    assert main([*args, "--register", "t.stopped", "--registry", str(tmp_path / "r.toml")]) == 130
    err = capsys.readouterr().err
    assert "zoo train: interrupted: stopped at step 2 of 5" in err and "Run the same command again" in err and "Traceback" not in err
    assert not (tmp_path / "r.toml").exists(), "an interrupted run is not registered"


def test_sigterm_in_zoo_train_saves_the_checkpoint_and_exits_143(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import signal

    from zoo_plugins.dcgan.method import DCGAN

    step_of = DCGAN.train_step
    monkeypatch.setattr(DCGAN, "train_step", lambda self, batch, step: (step == 2 and os.kill(os.getpid(), signal.SIGTERM), step_of(self, batch, step))[1])
    args = ["train", "dcgan", "--data", str(face_folder(tmp_path / "faces")), "--set", "nz=4", "--set", "ngf=2", "--set", "ndf=2",
            "--steps", "5", "--batch-size", "4", "--device", "cpu", "--out", str(tmp_path / "run"), "--quiet"]
    assert main(args) == 128 + signal.SIGTERM
    err = capsys.readouterr().err
    assert "zoo: SIGTERM: stopping after this step" in err and "zoo train: interrupted: stopped at step 2 of 5" in err, err
    assert (tmp_path / "run" / "checkpoint.safetensors").is_file() and not (tmp_path / "run" / "model.safetensors").exists()


def test_a_file_size_limit_is_one_line_as_a_full_disk(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); from zoo.cli import main; "
            f"sys.exit(main(['sample', 'dcgan.mnist64', '-n', '64', '--out', {str(tmp_path / 'big.png')!r}]))")  # `ulimit -f` on a cluster
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 7 and "zoo sample: error: cannot write the output: File too large" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_on_stdout_is_one_line() -> None:
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "zoo", "methods"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert proc.returncode == 7 and "zoo methods: error: cannot write the output: No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def test_register_records_data_paths_absolute_and_names_as_they_are(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    monkeypatch.chdir(tmp_path)
    face_folder(tmp_path / "faces")
    assert train_tiny("faces", Path("run"), "--register", "dcgan.rel") == 0
    import zoo
    from zoo.data.labels import absolute_data

    assert zoo.entry("dcgan.rel").data == str(tmp_path / "faces"), "a path that works from any folder zoo eval runs in"
    assert absolute_data("source=mnistm+target=faces") == f"source=mnistm+target={tmp_path / 'faces'}"
    assert absolute_data("mnist") == "mnist"


def test_a_data_role_given_twice_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "dann", "--data", "source=mnistm", "--data", "target=svhn", "--data", "target=usps", "--out", str(tmp_path / "o")]) == 2
    assert "--data names role 'target' twice (svhn and usps); give each role once." in capsys.readouterr().err


def test_register_labels_the_data_from_the_runs_record_and_refuses_another_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    faces = face_folder(tmp_path / "faces")
    assert train_tiny(faces, tmp_path / "run") == 0
    assert main(["register", str(tmp_path / "run"), "dcgan.own"]) == 0  # no --data: the run's own record
    import zoo

    assert zoo.entry("dcgan.own").data == str(faces)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    run["data"], run["data_sources"] = {"train": "mnist"}, {"train": "mnist"}  # as a run trained on MNIST records it
    (tmp_path / "run" / "run.json").write_text(json.dumps(run))
    assert main(["register", str(tmp_path / "run"), "dcgan.wrong", "--data", "mnistm"]) == 2
    assert "trained on {'train': 'mnist'}, and --data says 'mnistm'" in capsys.readouterr().err
    assert main(["register", str(tmp_path / "run"), "dcgan.roles", "--data", "source=mnist+target=digits"]) == 2
    assert main(["register", str(tmp_path / "run"), "dcgan.right", "--data", "mnist"]) == 0


def test_zoo_list_says_how_many_samples_each_figure_is_from() -> None:
    from zoo.cli.common import headline

    assert headline({"classifier_fd": 56.4, "classifier_is": 2.5, "n": 200, "seed": 0}) == "classifier_fd=56.4, classifier_is=2.5 (n=200)"
    assert headline({"accuracy": 0.98, "accuracy_n": 10000}) == "accuracy=0.98 (accuracy_n=10,000)"
    # a hand-edited count that is no whole number is shown as it stands: one odd entry must not stop `zoo list` for all
    assert headline({"fid": 3.5, "fid_n": float("nan"), "n": "10k", "n_real": 1e4}) == "fid=3.5 (fid_n=nan, n=10k, n_real=10,000)"


def test_a_model_trained_on_class_folders_keeps_their_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    for c in ("dog", "cat"):
        (tmp_path / "pets" / c).mkdir(parents=True)
        for i in range(10):
            Image.new("RGB", (32, 32), (40 * i, 0, 0)).save(tmp_path / "pets" / c / f"{i}.png")
    assert main(["train", "classifier", "--data", str(tmp_path / "pets"), "--set", "width=4", "--set", "n_classes=2", "--steps", "1",
                 "--batch-size", "4", "--device", "cpu", "--out", str(tmp_path / "run"), "--quiet", "--register", "pets.clf"]) == 0
    import zoo

    assert zoo.entry("pets.clf").classes == ["cat", "dog"], "label k means classes[k]: the subfolders' sorted names"
    capsys.readouterr()
    assert main(["info", "pets.clf"]) == 0 and "classes: 0=cat, 1=dog" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "run")]) == 0, "the run folder, before or without registering it, says as much"
    shown = capsys.readouterr().out
    assert "classes: 0=cat, 1=dog" in shown and f"data: {tmp_path / 'pets'}" in shown
    assert f"\nevaluation accuracy (the method default): data={tmp_path / 'pets'}" in shown, "what `zoo eval RUN` would run"

    # a conditional model samples the classes by name, as zoo info shows them (a run folder and its registered name alike)
    assert main(["train", "ddpm", "--data", str(tmp_path / "pets"), "--set", "n_feat=8", "--set", "n_T=10", "--set", "n_classes=2", "--steps", "1",
                 "--batch-size", "4", "--device", "cpu", "--out", str(tmp_path / "ddpm"), "--quiet", "--register", "pets.ddpm"]) == 0
    from zoo.cli import class_labels

    for model in ("pets.ddpm", str(tmp_path / "ddpm")):
        assert class_labels(["dog", 0, "cat"], model) == [1, 0, 0]
        assert zoo.class_names(model) == ["cat", "dog"], "Python reads the names as zoo info shows them"
    with pytest.raises(zoo.ConfigError, match=r"Class names map to their numbers with zoo.class_names"):
        zoo.load("pets.ddpm").sample(1, labels=["dog"], steps=2)
    with pytest.raises(zoo.ConfigError, match=r"is a weights file or run folder, which has no registry entry: zoo.load\("):
        zoo.entry(str(tmp_path / "ddpm"))
    assert main(["sample", "pets.ddpm", "-n", "2", "--labels", "dog,cat", "--set", "steps=2", "--out", str(tmp_path / "g.png")]) == 0
    capsys.readouterr()
    assert main(["sample", "pets.ddpm", "-n", "1", "--labels", "cow", "--out", str(tmp_path / "h.png")]) == 2
    assert "unknown class 'cow'" in capsys.readouterr().err and not (tmp_path / "h.png").exists()
    assert main(["sample", "dcgan.mnist64", "-n", "1", "--labels", "seven", "--out", str(tmp_path / "h.png")]) == 2
    assert "records no class names" in capsys.readouterr().err
    run_json = tmp_path / "ddpm" / "run.json"  # class folders named by numbers: a number is a label, never a name
    run_json.write_text(json.dumps({**json.loads(run_json.read_text()), "classes": {"train": ["1", "10"]}}))
    with pytest.raises(zoo.ConfigError, match=r"unknown class 'c1': .* 0=1, 1=10\. Numbers are labels, not class names") as caught:
        class_labels(["c1"], str(tmp_path / "ddpm"))
    assert "Did you mean" not in str(caught.value), "'1' would be label 1, class '10'"
    run_json.write_text(json.dumps({**json.loads(run_json.read_text()), "data_sources": {"train": 5}, "classes": {"train": [1, 2]}}))
    assert main(["info", str(tmp_path / "ddpm")]) == 0, "a damaged run.json: zoo info still shows the weights"
    capsys.readouterr()
    import zoo.metrics

    def no_plan(name: str, **kw: object) -> None:
        raise zoo.ConfigError("its registry entry has no evaluation table")

    monkeypatch.setattr(zoo.metrics, "plan_evaluation", no_plan)
    assert main(["info", "pets.clf"]) == 0, "a model zoo eval cannot judge as it is: zoo info says why, and shows the rest"
    assert "\nevaluation: none that `zoo eval pets.clf` runs as it is: its registry entry has no evaluation table\n" in capsys.readouterr().out


def test_older_runs_and_free_text_labels_do_not_send_zoo_eval_to_a_dataset_that_is_not_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.metrics import plan_evaluation

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    faces = face_folder(tmp_path / "myfaces")
    assert train_tiny(faces, tmp_path / "run") == 0
    assert plan_evaluation(str(tmp_path / "run"))[0]["gan"]["data"] == str(faces), "a run folder is judged against what its run.json records"
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    del run["data_sources"]  # as a zoo of 2026-11-29 wrote it: only the set's name, 'myfaces'
    (tmp_path / "run" / "run.json").write_text(json.dumps(run))
    assert main(["register", str(tmp_path / "run"), "dcgan.old"]) == 2
    assert "does not record where its data came from (a run of an older zoo); name it: --data" in capsys.readouterr().err
    assert main(["register", str(tmp_path / "run"), "dcgan.free", "--data", "my faces"]) == 0  # free text, as the entry should say
    assert plan_evaluation("dcgan.free")[0]["gan"]["data"] == "mnistm", "free text names no dataset: the default plan stays"
    (tmp_path / "dcgan.free").mkdir()
    (tmp_path / "dcgan.free" / "run.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert main(["sample", "dcgan.free", "-n", "1", "--out", str(tmp_path / "g.png")]) == 0, "a registered name wins over a folder of that name"


def test_the_command_answers_version_without_torch_and_ctrl_c_while_torch_loads_is_one_line() -> None:
    import signal
    import subprocess
    import sys
    import time

    code = "import sys, zoo, zoo.cli; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    t0 = time.monotonic()
    assert subprocess.run([sys.executable, "-m", "zoo", "--version"], capture_output=True, text=True).stdout.startswith("zoo ")
    startup = time.monotonic() - t0  # the interpreter's own start, before zoo can take a Ctrl-C: longer on a loaded machine
    t0 = time.monotonic()
    q = subprocess.Popen([sys.executable, "-m", "zoo", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    q.stdout.read(1)  # the first byte of the listing: torch and the plugins have loaded (2 s on the build machine)
    loading = time.monotonic() - t0 - 2 * startup
    assert q.communicate(timeout=60) and q.returncode == 0
    for share in (0.2, 0.45, 0.7):  # inside that import (a Ctrl-C once aborted it in torch's C++: "terminate called ...")
        delay = 2 * startup + share * loading  # not later: once the command's work is done, a Ctrl-C is ignored (test below)
        p = subprocess.Popen([sys.executable, "-m", "zoo", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 130 and err.strip() in ("zoo: interrupted", "zoo list: interrupted"), (delay, p.returncode, err[-500:])


def test_the_commands_ctrl_c_while_loading_raises_nothing_and_after_its_work_is_ignored() -> None:
    """While torch loads, a KeyboardInterrupt raised in its C++ aborted the process (pybind11 "terminate called", -6) or
    was swallowed: the command's handler writes one line and exits 130 instead, raising nothing; once the command is
    done, a Ctrl-C (or a SIGTERM) would only land in the interpreter's exit (torch's atexit hooks) and is ignored."""
    import subprocess
    import sys

    code = ("import os, signal, sys, time, zoo.cli.app as c\n"
            "c._CONSOLE.set(True)\n"
            "if sys.argv[1] == 'loading':\n"
            "    with c._ctrl_c_ends_the_command():\n"
            "        try:\n"
            "            os.kill(os.getpid(), signal.SIGINT); time.sleep(5)\n"
            "        except KeyboardInterrupt:\n"
            "            print('raised')\n"
            "    print('went on')\n"
            "else:\n"
            "    c.main = lambda: 0\n"
            "    status = c.run(); os.kill(os.getpid(), signal.SIGINT); os.kill(os.getpid(), signal.SIGTERM); time.sleep(0.2); sys.exit(status)\n")
    p = subprocess.run([sys.executable, "-c", code, "loading"], capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout, p.stderr.strip()) == (130, "", "zoo: interrupted"), (p.returncode, p.stdout, p.stderr[-500:])
    p = subprocess.run([sys.executable, "-c", code, "done"], capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stderr) == (0, ""), (p.returncode, p.stderr[-500:])


def test_ctrl_c_inside_code_run_from_a_string_still_exits_130(tmp_path: Path) -> None:
    """CI once saw `python -m zoo list` print its one line and then die by SIGINT (-2, not 130): the Ctrl-C had landed
    in code run from a string (a dataclass being built while torch loads), which sets a flag CPython's `-m` runner
    obeys at exit. A stand-in numpy whose import is interrupted that way makes the case certain."""
    import subprocess
    import sys

    (tmp_path / "numpy.py").write_text("exec('raise KeyboardInterrupt')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path(__file__).parents[1])])}
    p = subprocess.run([sys.executable, "-m", "zoo", "list"], capture_output=True, text=True, env=env, timeout=120)
    assert (p.returncode, p.stderr.strip()) == (130, "zoo: interrupted"), (p.returncode, p.stderr[-500:])

def test_zoo_evaluators_lists_each_evaluator_with_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluators"]) == 0
    out = capsys.readouterr().out
    assert "\ngan: " in out and "  classifier = 'classifier.mnistm'  # registered classifier, or a .safetensors file" in out
    assert "accuracy: " in out and "data_root" not in out, "what zoo eval's own flags give is not an option to set"


def test_zoo_info_of_a_method_says_what_each_option_allows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "wgan_gp"]) == 0
    out = capsys.readouterr().out
    assert "  --set n_critic=...  (int >= 1; default 5)  critic updates per generator update\n" in out
    assert "  --set beta1=...  (float >= 0, < 1; default 0.0)\n" in out and "  --set channels=...  (one of 1, 3; default 3)\n" in out


def test_bad_inputs_of_the_day_are_clear_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    faces = face_folder(tmp_path / "faces")
    assert train_tiny(faces, tmp_path / "inf", "--set", "lr=Infinity") == 2  # refused before it crashed mid-step
    assert "lr: Input should be a finite number" in capsys.readouterr().err and not (tmp_path / "inf").exists()
    assert train_tiny(faces, tmp_path / "run") == 0
    assert main(["register", str(tmp_path / "run"), "dcgan"]) == 2
    assert "model name 'dcgan' is the name of a method" in capsys.readouterr().err
    assert main(["register", str(tmp_path / "run"), "dcgan.x", "--data", " "]) == 2
    assert "--data is empty" in capsys.readouterr().err
    (tmp_path / "notrun").mkdir()
    assert main(["eval", str(tmp_path / "notrun")]) == 3
    assert "is a folder without model.safetensors; expected a finished training run" in capsys.readouterr().err
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "model.safetensors").symlink_to("/home/student/runs/dcgan/model.safetensors")  # copied as a link
    assert main(["eval", str(tmp_path / "linked")]) == 3
    assert "is a link to /home/student/runs/dcgan/model.safetensors, which is not here: copy the file itself" in capsys.readouterr().err
    (tmp_path / "notrun" / "checkpoint.safetensors").write_bytes(b"")  # killed before its first export
    assert main(["eval", str(tmp_path / "notrun")]) == 3
    assert "its training stopped before its first export. Run its `zoo train` command again" in capsys.readouterr().err
    moved = tmp_path / "moved"
    faces.rename(moved)  # the entry's data path is gone
    assert main(["register", str(tmp_path / "run"), "dcgan.moved", "--data", str(moved)]) == 0
    moved.rename(faces)
    assert main(["eval", "dcgan.moved", "--set", "n=24"]) == 4
    assert f"entry 'dcgan.moved' trained on {moved}, which does not exist here" in capsys.readouterr().err
    run_json = tmp_path / "run" / "run.json"
    record = json.loads(run_json.read_text())
    run_json.write_text(json.dumps({**record, "data_sources": {"train": str(moved)}}))  # a student's run, graded on another machine
    assert main(["eval", str(tmp_path / "run"), "--only", "gan", "--set", "n=24", "--set", "fid=false"]) == 4
    assert f"run {tmp_path / 'run'} (its run.json) trained on {moved}, which does not exist here" in capsys.readouterr().err
    run_json.write_text(run_json.read_text().replace('"method": "dcgan",', '"method": "dcgan"'))  # edited by hand, broken
    assert main(["eval", str(tmp_path / "run"), "--only", "gan", "--set", "n=24", "--set", "fid=false"]) == 2
    assert f"{run_json} is damaged" in capsys.readouterr().err, "judged against the plan's data instead, without a word, once"


def test_metrics_measured_on_weights_that_were_replaced_meanwhile_are_not_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo
    from zoo.metrics import record_metrics

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    faces = face_folder(tmp_path / "faces")
    assert train_tiny(faces, tmp_path / "a", "--register", "dcgan.r") == 0
    evaluated = zoo.entry("dcgan.r").sha256
    assert train_tiny(faces, tmp_path / "b", "--seed", "1", "--register", "dcgan.r", "--replace") == 0  # a zoo register while the eval ran
    with pytest.raises(zoo.ConfigError, match=r"changed while it was being evaluated \(sha256"):
        record_metrics("dcgan.r", {"gan": {"n": 24, "classifier_is": 2.0}}, evaluated_sha256=evaluated)
    assert zoo.entry("dcgan.r").metrics == {}


def test_zoo_info_reads_a_weights_file_or_run_folder_and_names_a_path_that_is_neither(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train_tiny(face_folder(tmp_path / "faces"), tmp_path / "run") == 0
    capsys.readouterr()
    for arg in (str(tmp_path / "run"), str(tmp_path / "run" / "model.safetensors")):
        assert main(["info", arg]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"{arg}: method 'dcgan', capabilities: sample") and '"nz": 4' in out and "\ngenerator (shipped, " in out
        assert f"weights: {tmp_path / 'run' / 'model.safetensors'} (sha256 " in out
    for arg, message in (("w/model.pt", "is a .pt file: zoo loads safetensors files only and never unpickles"),
                         (str(tmp_path / "nope"), "does not exist (a path, by its form, not a model name)")):
        assert main(["info", arg]) == 2 and message in capsys.readouterr().err
        assert main(["sample", arg, "-n", "1", "--out", str(tmp_path / "x.png")]) == 2 and message in capsys.readouterr().err


def test_cli_spelling_help_and_output_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sample", "dcgan.mnist64", "--n", "4", "--out", str(tmp_path / "x.png")])  # was taken as --nrow 4
    assert "unrecognized arguments: --n 4" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # as wrapped at any terminal width
    assert "(0: only at the end) (default: 500)" in out and "every draw of the run (default: 0)" in out
    assert main(["sample", "dcgan.mnist64", "-n", "2", "--out", str(tmp_path / "g.gif")]) == 7
    assert "zoo writes .png, .jpg, .jpeg, .webp files, and '.gif' names none of them" in capsys.readouterr().err
    assert main(["sample", "dcgan.mnist64", "-n", "2", "--out", str(tmp_path / "g.jpg")]) == 0
    assert (tmp_path / "g.jpg").read_bytes()[:3] == b"\xff\xd8\xff", "a .jpg is a JPEG, not a PNG under another name"
    assert main(["sample", "dcgan.mnist64", "-n", "2", "--labels", "1,2", "--out", str(tmp_path / "g.png")]) == 2
    assert "leave --labels out" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dcgan").mkdir()  # a folder named like a method, as in a plugin's source tree
    assert main(["info", "dcgan"]) == 0 and capsys.readouterr().out.startswith("dcgan: method 'dcgan'")


def test_zoo_train_refuses_a_folder_of_the_users_own_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "loss.png").write_text("my precious")
    assert train_tiny(face_folder(tmp_path / "faces"), mine) == 7
    assert "holds files of its own (loss.png) and no run of `zoo train`" in capsys.readouterr().err
    assert (mine / "loss.png").read_text() == "my precious"


def test_eval_names_zoo_data_not_a_flag_it_was_not_given(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "nowhere"))
    assert main(["eval", "classifier.mnistm", "--set", "n=10"]) == 4
    err = capsys.readouterr().err
    assert f"(ZOO_DATA={tmp_path / 'nowhere'}) does not exist" in err and "(zoo eval: --set data=PATH)" in err


def test_a_closed_stdout_is_no_traceback(tmp_path: Path) -> None:
    import shlex
    import subprocess
    import sys

    run = subprocess.run(f"{shlex.quote(sys.executable)} -m zoo sample dcgan.mnist64 -n 2 --out {shlex.quote(str(tmp_path / 'c.png'))} >&-", shell=True, capture_output=True, text=True)
    assert run.returncode == 0 and "Traceback" not in run.stderr and (tmp_path / "c.png").is_file(), run.stderr[-1000:]
    listed = subprocess.run(f"{shlex.quote(sys.executable)} -m zoo list >&-", shell=True, capture_output=True, text=True)
    assert listed.returncode == 7, "zoo list's answer is what it prints: lost, it is no success"
    as_json = subprocess.run(f"{shlex.quote(sys.executable)} -m zoo eval dcgan.mnist64 --json >&-", shell=True, capture_output=True, text=True)
    assert as_json.returncode == 7 and "stdout is closed, and zoo eval writes its answer there" in as_json.stderr, "--json: the same"
    assert listed.stderr.strip() == "zoo list: error: stdout is closed, and zoo list writes its answer there. Give it somewhere to go (`> file`, a pipe)."


def test_a_folder_with_only_hidden_files_trains_and_help_shows_lists_as_typed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / ".DS_Store").write_bytes(b"")  # what Finder leaves, or a committed .gitkeep: the folder is still empty to its user
    assert train_tiny(face_folder(tmp_path / "faces"), run) == 0
    with pytest.raises(SystemExit):
        main(["ddpm-frames", "--help"])
    assert "(default: the seed's 400,399,320,240,160,80,0;" in " ".join(capsys.readouterr().out.split())


def test_the_readmes_zoo_help_is_what_zoo_help_prints(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """README shows `zoo --help` with real output; a command added, moved or renamed must show there too."""
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps to the terminal's width
    with pytest.raises(SystemExit):
        main(["--help"])
    printed = capsys.readouterr().out
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    shown = readme.split("$ zoo --help\n", 1)[1].split("```", 1)[0]
    assert shown.strip() == printed.strip()


def test_the_readmes_zoo_list_is_what_zoo_list_prints(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """README shows the shipped models as `zoo list` prints them: a model shipped or a figure re-recorded must show there too."""
    root = Path(__file__).parents[1]
    monkeypatch.setenv("ZOO_REGISTRY", str(root / "registry.toml"))
    assert main(["list"]) == 0
    printed = capsys.readouterr().out
    shown = (root / "README.md").read_text().split("$ zoo list\n", 1)[1].split("```", 1)[0]
    assert shown.strip() == printed.strip()


def test_an_image_folder_leaves_the_callers_images_alone_and_takes_no_names_a_folder_cannot_hold(tmp_path: Path) -> None:
    import torch

    from zoo.data.folder import list_images
    from zoo.viz import save_image_folder

    images = torch.rand(2, 1, 16, 16)
    before = images.clone()
    save_image_folder(images, tmp_path / "floats")
    assert torch.equal(images, before), "the caller's tensor was scaled to 0..255 in place"
    for names in (["a" * 300, "b" * 300], ["a\0", "b"]):  # a stranger's run.json names the classes
        out = tmp_path / f"n{len(names[0])}"
        assert list_images(save_image_folder(images, out, [0, 1], classes=names))[2] == ["0", "1"]


def test_a_folder_tree_deeper_than_pythons_stack_is_walked(tmp_path: Path) -> None:
    import inspect
    import sys

    from zoo.data import load

    for c in ("cat", "dog"):
        (tmp_path / "deep" / c).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (16, 16)).save(tmp_path / "deep" / c / f"{i}.png")
    nested = tmp_path / "deep" / "cat"
    for _ in range(300):
        nested = nested / "d"
    nested.mkdir(parents=True)
    # a stack only 150 frames above this one: 300 levels exhaust it as 1,100 exhausted the default one (a RecursionError once);
    # a tree that deep here would outgrow pytest's own clean-up, which recurses
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 150)
    try:
        assert load(tmp_path / "deep", "all").classes == ("cat", "dog")
    finally:
        sys.setrecursionlimit(limit)


def test_the_commands_defaults_are_the_python_apis() -> None:
    # `zoo train` and `zoo bench` pass every option explicitly, so a default changed on one side alone would make the
    # command and zoo.train() / zoo.bench quietly train or time something else
    import inspect

    from zoo.bench import bench_inference, bench_train_step
    from zoo.cli import build_parser
    from zoo.training import TrainConfig

    subs = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    train = {a.dest: a.default for a in subs["train"]._actions if a.dest in TrainConfig.model_fields}
    assert len(train) >= 15 and train == {k: TrainConfig.model_fields[k].default for k in train}
    bench = {a.dest: a.default for a in subs["bench"]._actions}
    for fn in (bench_train_step, bench_inference):
        own = {k: p.default for k, p in inspect.signature(fn).parameters.items() if k in bench}
        assert own and own == {k: bench[k] for k in own}, fn.__name__


def test_counts_past_what_torch_can_size_are_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for argv, message in ((["sample", "dcgan.mnist64", "-n", str(10**20)], "argument -n: expected a whole number from 1 to 2,147,483,647, "
                                                                            "got 100,000,000,000,000,000,000; no machine has the memory"),
                          (["ddpm-grid", "ddpm.mnistm", "--per-class", "1001"], "argument --per-class: expected a whole number from 1 to 1,000, got 1,001")):
        with pytest.raises(SystemExit) as info:
            main([*argv, "--out", str(tmp_path / "g.png")])
        assert info.value.code == 2 and message in capsys.readouterr().err
    assert train_tiny(face_folder(tmp_path / "faces"), tmp_path / "run", "--set", f"ngf={10**20}") == 2
    assert "ngf: expected a whole number of at most 2,147,483,647 in size" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_method_config_past_int32_is_refused_for_every_plugin() -> None:
    import zoo

    for method, key in (("dcgan", "nz"), ("wgan_gp", "ndf"), ("ddpm", "n_T"), ("ddpm", "n_feat")):
        with pytest.raises(ConfigError, match=rf"{key}: expected a whole number of at most 2,147,483,647"):
            zoo.build_method(method, {key: 2**31})


def test_running_out_of_memory_is_one_line_that_says_what_to_ask_less_of(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.cli

    errors = [RuntimeError("[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                           "800000000000 bytes. Error code 12 (Cannot allocate memory)"), MemoryError()]
    try:
        import torch

        errors.append(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 139 GiB"))
    except AttributeError:  # an older torch names it torch.cuda.OutOfMemoryError
        pass
    shown = []
    for error in errors:
        def fail(args: object, error: BaseException = error) -> int:
            raise error

        monkeypatch.setitem(zoo.cli.COMMANDS, "list", fail)
        assert main(["list"]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.startswith("zoo list: error: out of memory: ") and "Ask for less at once" in err
        shown.append(err)
    assert "torch tried to allocate 745.1 GiB at once" in shown[0] and "Python could not allocate memory" in shown[1]
    assert len(shown) < 3 or "CUDA out of memory. Tried to allocate 20.00 GiB." in shown[2]

    def other(args: object) -> int:
        raise RuntimeError("a bug, not memory")

    monkeypatch.setitem(zoo.cli.COMMANDS, "list", other)
    with pytest.raises(RuntimeError, match="a bug"):  # not every RuntimeError is memory: a bug keeps its traceback
        main(["list"])


def test_an_empty_argument_names_no_model_and_no_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # '' must not be read as this folder
    assert main(["info", ""]) == 2 and "the model or method name is empty. Known models or methods: classifier," in capsys.readouterr().err
    assert main(["sample", "", "-n", "1", "--out", "g.png"]) == 2 and "the model name is empty." in capsys.readouterr().err
    assert main(["register", "", "x.y", "--registry", str(tmp_path / "r.toml")]) == 2
    assert "the run to register is an empty path" in capsys.readouterr().err
    assert train_tiny("", tmp_path / "run") == 2 and "the dataset name is empty. Known datasets:" in capsys.readouterr().err
    assert main([]) == 2 and "usage: zoo" in capsys.readouterr().out, "no command: the help, and a usage status"


def test_a_stderr_that_is_closed_or_full_stops_no_work_and_leaks_nothing_onto_stdout(tmp_path: Path) -> None:
    import shlex
    import subprocess
    import sys

    env = {**os.environ, "ZOO_REGISTRY": str(tmp_path / "none.toml")}  # a missing file: zoo list notes it on stderr
    zoo_list = f"{shlex.quote(sys.executable)} -m zoo list --json 'dcgan*'"
    closed = subprocess.run(f"{zoo_list} 2>&-", shell=True, capture_output=True, text=True, env=env)
    assert closed.returncode == 0 and closed.stdout.startswith("{") and "dcgan.mnist64" in json.loads(closed.stdout), closed.stdout[:300]
    refused = subprocess.run(f"{shlex.quote(sys.executable)} -m zoo info nosuch 2>&-", shell=True, capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and refused.stdout == "", "the error has nowhere to go; it does not go to stdout"
    if Path("/dev/full").exists():
        full = subprocess.run(f"{zoo_list} 2>/dev/full", shell=True, capture_output=True, text=True, env=env)
        assert full.returncode == 0 and "dcgan.mnist64" in json.loads(full.stdout), "a note that cannot be written is dropped"


def test_a_run_folder_under_a_dangling_link_or_where_no_folder_can_be_made_is_an_output_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    faces = face_folder(tmp_path / "faces")
    (tmp_path / "dang").symlink_to(tmp_path / "gone")
    assert train_tiny(faces, tmp_path / "dang" / "run") == 7
    err = capsys.readouterr().err
    assert f"--out {tmp_path / 'dang' / 'run'}: {tmp_path / 'dang'} is a symbolic link to {tmp_path / 'gone'}, which does not exist" in err

    def cannot(self: Path, *args: object, **kwargs: object) -> None:
        raise OSError(1, "Operation not permitted")  # what /sys answers, after os.access said yes

    monkeypatch.setattr(Path, "mkdir", cannot)
    assert train_tiny(faces, tmp_path / "sysfs" / "run") == 7
    assert f"cannot make the run folder --out {tmp_path / 'sysfs' / 'run'} (Operation not permitted)" in capsys.readouterr().err


def test_a_tilde_in_zoo_registry_zoo_cache_and_registry_means_home_where_no_shell_expanded_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.cli import build_parser
    from zoo.registry import registry_path
    from zoo.weights import cache_dir

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_REGISTRY", "~/zoo/registry.toml")
    monkeypatch.setenv("ZOO_CACHE", "~/cache")
    assert registry_path() == tmp_path / "zoo" / "registry.toml" and cache_dir() == tmp_path / "cache"
    assert build_parser().parse_args(["register", "run", "a.b", "--registry", "~/r.toml"]).registry == tmp_path / "r.toml"


def test_a_run_in_a_folder_whose_name_is_not_utf8_registers_with_the_bytes_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "r.toml"))
    folder = tmp_path / os.fsdecode(b"caf\xe9")  # a Latin-1 name on a UTF-8 system: Python holds the byte as a lone surrogate
    assert train_tiny(face_folder(tmp_path / "faces"), folder / "run") == 0
    assert main(["register", str(folder / "run"), "dcgan.latin"]) == 0, capsys.readouterr().err
    assert "caf\\\\udce9" in (tmp_path / "r.toml").read_text(encoding="utf-8"), "TOML's escape of the text caf\\udce9"
    assert main(["sample", "dcgan.latin", "-n", "1", "--out", str(tmp_path / "g.png")]) == 0


def test_an_empty_path_option_is_refused_not_read_as_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for argv in (["train", "dcgan", "--data", "mnist", "--out", ""], ["train", "dcgan", "--data", "mnist", "--out", "r", "--init-from", ""],
                 ["datasets", "--data-dir", ""], ["register", "r", "a.b", "--registry", ""], ["dann-table", "--data-dir", ""]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2 and "an empty path; give a path (. names the working folder" in capsys.readouterr().err, argv
    assert not any(tmp_path.iterdir()), "nothing was written into the working folder"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert main(["sample", "dcgan.mnist64", "-n", "1", "--out", "~/g.png"]) == 0  # quoted: no shell expanded it
    assert (tmp_path / "home" / "g.png").is_file() and not (tmp_path / "~").exists()


def test_a_tilde_that_names_no_home_is_kept_as_written() -> None:
    from zoo.argtypes import user_path

    assert user_path("~no_such_user_zoo/r.toml") == Path("~no_such_user_zoo/r.toml")  # expanduser raises RuntimeError there


def test_out_of_memory_messages_of_other_backends_are_one_line_too() -> None:
    from zoo.cli.app import _out_of_memory

    assert _out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1.00 GB, other allocations: 2.00 GB). Tried to allocate "
                                       "256.00 MB on private pool. Use PYTORCH_MPS_HIGH_WATERMARK_RATIO=0.0")) == \
        "MPS backend out of memory. Tried to allocate 256.00 MB on private pool"
    assert _out_of_memory(RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 8388608 bytes.")) == "torch tried to allocate 8 MiB"
    assert _out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1000 bytes.")) == "torch tried to allocate 1,000 bytes"
    assert _out_of_memory(RuntimeError("shape mismatch")) is None


def test_a_run_on_data_at_a_path_that_is_not_utf8_registers_with_a_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "r.toml"))
    faces = face_folder(tmp_path / os.fsdecode(b"caf\xe9"))
    assert train_tiny(faces, tmp_path / "run") == 0
    assert main(["register", str(tmp_path / "run"), "dcgan.cafe"]) == 2
    assert "would name its data" in (err := capsys.readouterr().err) and "caf\\udce9, a path that is not UTF-8 text" in err
    assert "Label the data with a dataset name (`zoo register RUN NAME --data LABEL`), or rename the folder to UTF-8" in err
    assert not (tmp_path / "r.toml").exists()
    shutil.copytree(faces, tmp_path / "faces")  # the same images at a UTF-8 path
    assert main(["register", str(tmp_path / "run"), "dcgan.cafe", "--data", str(tmp_path / "faces")]) == 0, capsys.readouterr().err


def test_a_run_folder_name_too_long_for_the_file_system_is_an_output_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train_tiny(face_folder(tmp_path / "faces"), tmp_path / ("x" * 300) / "run") == 7
    assert "a name in it is longer than this file system takes (File name too long). Give a shorter path." in capsys.readouterr().err


def test_a_loop_of_links_above_the_run_folder_is_named_as_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    assert train_tiny(face_folder(tmp_path / "faces"), tmp_path / "a" / "run") == 7
    assert "a link itself that leads to no folder (a dangling link or a loop of links)" in capsys.readouterr().err
