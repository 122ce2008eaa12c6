"""`zoo eval NAME --write` runs the entry's gan evaluation and records exactly what it printed."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import torch

from zoo.cli import main
from zoo.errors import ConfigError, UnknownNameError
from zoo.loading import build_method, param_count, save_model
from zoo.registration import update_entry
from zoo.registry import entry

from zoo_plugins.dcgan.method import DCGAN
from zoo_plugins.wgan_gp.method import WGANGP

from test_metrics_gan import real_folder


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "registry.toml"
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    for name, method, config in (("classifier.tiny", "classifier", {"width": 4}), ("wgan_gp.tiny", "wgan_gp", {"nz": 8, "ngf": 4, "ndf": 4})):
        model = build_method(method, config)
        sha = save_model(model, tmp_path / "weights" / f"{name}.safetensors")
        update_entry(name, {"method": method, "config": model.config.model_dump(), "weights": f"weights/{name}.safetensors",
                            "sha256": sha, "data": "random", "params": param_count(model)}, path)
    folder = real_folder(tmp_path / "real")
    update_entry("wgan_gp.tiny", {"evaluation": {"gan": {"n": 24, "seed": 5, "data": str(folder), "split": "train",
                                                         "classifier": "classifier.tiny", "progress": False}}}, path)
    return path


def test_eval_write_records_what_it_printed(registry: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["eval", "wgan_gp.tiny", "--write"]) == 0
    printed = dict(re.findall(r"^  (\w+): (\S+)$", capsys.readouterr().out, re.M))
    recorded = tomllib.loads(registry.read_text())["models"]["wgan_gp.tiny"]["metrics"]
    assert printed["n"] == "24" and printed["seed"] == "5"
    assert set(printed) == set(recorded)
    for key, text in printed.items():
        assert float(text) == pytest.approx(float(recorded[key]), rel=1e-3, abs=1e-4), key
    assert entry("wgan_gp.tiny").metrics == recorded
    capsys.readouterr()
    assert main(["eval", "wgan_gp.tiny", "--write", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gan"]["n"] == 24, "stdout is the JSON alone, --write's note too goes to stderr"
    assert main(["info", "wgan_gp.tiny"]) == 0  # the figures with what they were measured against
    assert "\nevaluation gan: n=24, seed=5, data=" in capsys.readouterr().out


def test_evaluating_a_classifier_with_the_gan_evaluator_is_a_clear_error(registry: Path, capsys: pytest.CaptureFixture) -> None:
    update_entry("classifier.tiny", {"evaluation": {"gan": {"n": 8}}}, registry)
    assert main(["eval", "classifier.tiny"]) == 5
    assert "model 'classifier.tiny' cannot be evaluated by 'gan': it cannot sample (it can predict)" in capsys.readouterr().err


def test_eval_write_refuses_options_that_plain_eval_would_not_repeat(registry: Path, capsys: pytest.CaptureFixture) -> None:
    before = registry.read_text()
    assert main(["eval", "wgan_gp.tiny", "--write", "--set", "n=12"]) != 0
    err = capsys.readouterr().err
    assert "--write" in err and "evaluation" in err and "registry.toml" in err
    assert "a --set that changes the figures (n=12; it takes out_json, out_md, progress)" in err
    assert registry.read_text() == before, "nothing recorded"
    # an option that only says where results go or what is shown leaves the figures: --write takes it
    assert main(["eval", "wgan_gp.tiny", "--write", "--set", "progress=true"]) == 0
    assert "recorded in the registry entry 'wgan_gp.tiny'" in capsys.readouterr().out


def test_only_may_name_an_evaluator_outside_the_plan(registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture, no_default_plan: None) -> None:
    # one that does not apply says why, one that does not exist is named, and one that applies runs
    assert main(["eval", "wgan_gp.tiny", "--only", "accuracy"]) == 5
    assert "cannot be evaluated by 'accuracy': it cannot predict" in capsys.readouterr().err
    assert main(["eval", "wgan_gp.tiny", "--only", "acuracy"]) == 2
    err = capsys.readouterr().err
    assert "unknown evaluator 'acuracy'. Did you mean: accuracy" in err and "--only names it" in err
    model = build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4})
    sha = save_model(model, tmp_path / "weights" / "dcgan.noplan.safetensors")
    update_entry("dcgan.noplan", {"method": "dcgan", "config": model.config.model_dump(), "weights": "weights/dcgan.noplan.safetensors",
                                  "sha256": sha, "data": "random", "params": param_count(model)}, registry)
    folder = real_folder(tmp_path / "real3")
    assert main(["eval", "dcgan.noplan", "--only", "gan", "--set", "n=24", "--set", f"data={folder}", "--set", "split=train",
                 "--set", "classifier=classifier.tiny", "--set", "progress=false", "--set", "fid=false"]) == 0
    assert re.search(r"^  classifier_is: ", capsys.readouterr().out, re.M)


@pytest.fixture
def no_default_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """DCGAN stands for a method without a default evaluation plan (the shipped ones all have one)."""
    monkeypatch.setattr(DCGAN, "default_evaluation", {})


def test_both_gans_share_the_default_gan_plan_on_mnistm() -> None:
    assert DCGAN.default_evaluation == WGANGP.default_evaluation
    assert DCGAN.default_evaluation["gan"] == {"n": 10000, "seed": 0, "data": "mnistm", "classifier": "classifier.mnistm", "fid": True, "kid": True}


def test_a_model_without_any_evaluation_is_a_clear_error(registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture, no_default_plan: None) -> None:
    model = build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4})
    sha = save_model(model, tmp_path / "weights" / "dcgan.tiny.safetensors")
    update_entry("dcgan.tiny", {"method": "dcgan", "config": model.config.model_dump(), "weights": "weights/dcgan.tiny.safetensors",
                                "sha256": sha, "data": "random", "params": param_count(model)}, registry)
    assert main(["eval", "dcgan.tiny"]) == 2
    err = capsys.readouterr().err
    assert "names no evaluation" in err and 'evaluation.EVALUATOR] in registry.toml, or name an evaluator: zoo eval dcgan.tiny --only EVALUATOR' in err
    # and the contract, which says an entry's plan is one `zoo eval` can run, fails it rather than passing an empty plan
    from zoo.contract import test_entry_evaluation_plan_is_runnable as contract_plan_check
    with pytest.raises(AssertionError, match=r"dcgan\.tiny: no evaluation plan, so `zoo eval dcgan\.tiny` stops: .*method 'dcgan' no default_evaluation"):
        contract_plan_check("dcgan.tiny")


def test_a_weights_file_is_evaluated_before_it_is_registered(registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # a run's model.safetensors, mid-way: the method's default plan (gan), its options overridden by --set
    weights = tmp_path / "run" / "model.safetensors"
    save_model(build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4}), weights)
    folder = real_folder(tmp_path / "real2")
    opts = ["--set", "n=24", "--set", f"data={folder}", "--set", "split=train", "--set", "classifier=classifier.tiny", "--set", "progress=false"]
    for only in ([], ["--only", "gan"]):
        assert main(["eval", str(weights), *only, *opts, "--set", "fid=false"]) == 0
        printed = dict(re.findall(r"^  (\w+): (\S+)$", capsys.readouterr().out, re.M))
        assert printed["n"] == "24" and 1.0 <= float(printed["classifier_is"]) <= 10.0 and "fid" not in printed
    assert main(["eval", str(weights.parent), *opts, "--set", "fid=false"]) == 0  # the run folder names its model.safetensors
    assert "classifier_is:" in capsys.readouterr().out
    assert main(["eval", str(weights), *opts, "--set", "fid=false", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["gan"]["n"] == 24 and out.err.startswith("gan: n=24"), "stdout is the JSON alone"
    assert main(["sample", str(weights.parent), "-n", "2", "--out", str(tmp_path / "g.png")]) == 0 and (tmp_path / "g.png").is_file()
    (tmp_path / "unfinished").mkdir()
    assert main(["sample", str(tmp_path / "unfinished"), "-n", "2", "--out", str(tmp_path / "h.png")]) == 3
    assert "is a folder without model.safetensors; expected a finished training run" in capsys.readouterr().err


def test_weights_without_their_run_json_say_which_data_judges_them(registry: Path, tmp_path: Path) -> None:
    # a student's model.safetensors copied alone: the default plan's MNIST-M may not be what it trained on
    from zoo.metrics import plan_evaluation

    weights = tmp_path / "copied" / "model.safetensors"
    save_model(build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4}), weights)
    with pytest.warns(UserWarning, match=r"no run\.json beside the weights names a dataset they trained on, so 'gan' judges them against 'mnistm'"):
        plan, _ = plan_evaluation(str(weights))
    assert plan["gan"]["data"] == "mnistm"
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # naming the data is the answer: no warning then
        assert plan_evaluation(str(weights), overrides={"data": "mnist"})[0]["gan"]["data"] == "mnist"


def test_a_weights_file_of_a_method_without_a_plan_needs_only(registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture, no_default_plan: None) -> None:
    weights = tmp_path / "run" / "model.safetensors"
    save_model(build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4}), weights)
    assert main(["eval", str(weights), "--set", "n=24"]) == 2
    err = capsys.readouterr().err
    assert "no default plan" in err and "--only EVALUATOR" in err


def test_eval_write_refuses_a_weights_file(registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    weights = tmp_path / "run" / "model.safetensors"
    save_model(build_method("wgan_gp", {"nz": 8, "ngf": 4, "ndf": 4}), weights)
    before = registry.read_text()
    assert main(["eval", str(weights), "--write"]) == 2
    assert "zoo register RUN_FOLDER NAME" in capsys.readouterr().err
    assert registry.read_text() == before


def test_the_whole_plan_is_checked_before_any_evaluator_runs(registry: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.metrics

    monkeypatch.setattr(zoo.metrics, "load", lambda *a, **k: pytest.fail("the model was loaded before the plan was checked"))
    plan = tomllib.loads(registry.read_text())["models"]["wgan_gp.tiny"]["evaluation"]
    update_entry("wgan_gp.tiny", {"evaluation": {**plan, "accuracy": {"splt": "test"}}}, registry)
    assert main(["eval", "wgan_gp.tiny"]) == 2
    err = capsys.readouterr().err
    assert "invalid config for the accuracy evaluator: splt: Extra inputs" in err and "Valid keys: data, split" in err
    update_entry("wgan_gp.tiny", {"evaluation": {**plan, "acuracy": {}}}, registry)
    assert main(["eval", "wgan_gp.tiny"]) == 2
    assert "acuracy" in (err := capsys.readouterr().err) and "accuracy" in err and "install the plugin" in err


def test_an_evaluation_table_may_not_name_a_file_to_write(registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A registry file from elsewhere must not make `zoo eval NAME` write over a file it names: only the caller names outputs."""
    mine = tmp_path / "notes.txt"
    mine.write_text("mine")
    update_entry("wgan_gp.tiny", {"evaluation": {"ddpm_samplers": {"out_md": str(mine)}}}, registry)
    assert main(["eval", "wgan_gp.tiny"]) == 2
    err = capsys.readouterr().err
    assert "its evaluation table [models.\"wgan_gp.tiny\".evaluation.ddpm_samplers] sets out_md" in err and "--set out_md=..." in err, err
    assert mine.read_text() == "mine"


def test_an_evaluation_table_without_data_judges_against_the_entrys_own_data(registry: Path, tmp_path: Path) -> None:
    """A table that only lowers n must not quietly switch the real set to the evaluator's default (MNIST-M)."""
    from zoo.metrics import plan_evaluation

    folder = str(real_folder(tmp_path / "own"))
    update_entry("wgan_gp.tiny", {"data": folder, "evaluation": {"gan": {"n": 24, "split": "train", "classifier": "classifier.tiny"}}}, registry)
    assert plan_evaluation("wgan_gp.tiny")[0]["gan"]["data"] == folder
    update_entry("wgan_gp.tiny", {"evaluation": {"gan": {"n": 24, "data": "mnistm", "classifier": "classifier.tiny"}}}, registry)
    assert plan_evaluation("wgan_gp.tiny")[0]["gan"]["data"] == "mnistm", "what the table names, it keeps"
    assert plan_evaluation("wgan_gp.tiny", overrides={"data": "mnist"})[0]["gan"]["data"] == "mnist"


def test_check_plan_is_what_the_contract_runs_on_entries_and_defaults() -> None:
    from zoo.metrics import check_plan

    assert set(check_plan(DCGAN.default_evaluation, "dcgan")) >= {"gan", "accuracy"}
    with pytest.raises(ConfigError, match=r"the gan evaluator: nn: Extra inputs"):
        check_plan({"gan": {"nn": 5}}, "method 'x'")
    with pytest.raises(UnknownNameError, match="The evaluation plan of method 'x' names it"):
        check_plan({"gann": {}}, "method 'x'")


def test_write_replaces_the_metrics_of_an_earlier_plan(registry: Path) -> None:
    from zoo.metrics import record_metrics

    update_entry("wgan_gp.tiny", {"metrics": {"n": 10000, "seed": 0, "fid": 319.3, "fid_n": 10000}}, registry)
    record_metrics("wgan_gp.tiny", {"gan": {"n": 24, "seed": 5, "classifier_is": 1.5}})
    assert entry("wgan_gp.tiny").metrics == {"n": 24, "seed": 5, "classifier_is": 1.5}  # no FID of another n and seed beside them


def test_two_evaluators_that_disagree_on_a_key_are_not_recorded(registry: Path) -> None:
    from zoo.metrics import record_metrics

    before = registry.read_text()
    record_metrics("wgan_gp.tiny", {"gan": {"seed": 5, "a": 1.0}, "other": {"seed": 5, "b": 2.0}})  # agreeing keys are fine
    with pytest.raises(ConfigError, match=r"evaluators 'gan' and 'other' both report 'seed' \(5 and 0\)"):
        record_metrics("wgan_gp.tiny", {"gan": {"seed": 5}, "other": {"seed": 0}})
    assert entry("wgan_gp.tiny").metrics == {"seed": 5, "a": 1.0, "b": 2.0} and registry.read_text() != before


def test_a_model_judged_by_its_methods_default_plan_is_judged_against_its_own_data(registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from zoo.metrics import plan_evaluation

    folder = str(real_folder(tmp_path / "mine"))
    model = build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4})
    sha = save_model(model, tmp_path / "weights" / "dcgan.own.safetensors")
    update_entry("dcgan.own", {"method": "dcgan", "config": model.config.model_dump(), "weights": "weights/dcgan.own.safetensors",
                               "sha256": sha, "data": folder, "params": param_count(model)}, registry)  # no evaluation table
    chosen, _ = plan_evaluation("dcgan.own")
    assert chosen["gan"]["data"] == folder, "the default plan names mnistm; the model trained on its own folder"
    assert plan_evaluation("dcgan.own", overrides={"data": "mnist"})[0]["gan"]["data"] == "mnist", "--set data= still wins"
    assert main(["eval", "dcgan.own", "--set", "n=24", "--set", "fid=false", "--set", "split=train", "--set", "classifier=classifier.tiny",
                 "--set", "progress=false"]) == 0
    out = capsys.readouterr().out
    assert f"gan: n=24, seed=0, data={folder}, classifier=classifier.tiny, fid=False, kid=True, split=train, progress=False\n" in out, "it says what it judges against"
    assert "classifier_is:" in out


def test_a_run_json_of_an_older_zoo_is_judged_by_its_names_only_where_they_are_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import warnings

    from zoo.metrics import plan_evaluation
    from zoo.loading import build_method, save_model

    run = tmp_path / "run"
    run.mkdir()
    save_model(build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}), run / "model.safetensors")
    (run / "summary.json").write_text(json.dumps({"sha256": __import__("zoo").weights.sha256_file(run / "model.safetensors")}))
    (run / "run.json").write_text(json.dumps({"method": "dcgan", "data": {"train": "mnist"}}))  # an older zoo kept names only
    assert plan_evaluation(str(run), only=["gan"])[0]["gan"]["data"] == "mnist"
    (run / "run.json").write_text(json.dumps({"method": "dcgan", "data": {"train": "faces"}}))  # a folder's name: no place
    (tmp_path / "faces").mkdir()  # an unrelated folder of that name where zoo eval runs
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        plan = plan_evaluation(str(run), only=["gan"])[0]
    assert plan["gan"]["data"] == "mnistm" and any("no run.json beside the weights names a dataset they trained on" in str(w.message) for w in seen)
