"""The `ddpm_samplers` evaluator on a tiny DDPM, a tiny classifier and the built-in `digits` stand-in set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.interfaces import evaluator_options
from zoo.metrics import evaluators
from zoo_plugins.ddpm.evaluate import SamplerSweep, network_calls, parse_samplers


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("clf") / "clf.safetensors"
    zoo.save_model(zoo.build_method("classifier", {"width": 4}), path)
    return path


def test_the_evaluator_is_registered_and_the_default() -> None:
    assert isinstance(evaluators()["ddpm_samplers"], SamplerSweep)
    assert "ddpm_samplers" in zoo.get_plugin_manager().method("ddpm").default_evaluation


def test_sweep_writes_the_table_and_returns_the_headline(classifier_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    model = zoo.build_method("ddpm", {"n_feat": 8, "n_T": 6}).eval()  # few network calls: the sweep's bookkeeping is what is checked
    md, js = tmp_path / "eval.md", tmp_path / "eval.json"
    metrics = SamplerSweep().evaluate(
        model, classifier=str(classifier_file), data="digits", n_per_class=2, n_real=100,
        samplers="ddpm-6,ddim-5", guidance=[0.0, 2.0], out_md=str(md), out_json=str(js),
    )
    written = json.loads(js.read_text())
    rows = written["rows"]
    # from Python there is no command to record: the table names its `zoo eval` equivalent, and both say when
    assert written["command"] is None and written["date"] and written["torch"]
    assert f"Written by `zoo eval ddpm --set out_md={md}` on {written['date']}" in md.read_text()
    assert [(r["sampler"], r["steps"], r["guidance"], r["calls"]) for r in rows] == [
        ("ddpm", 6, 0.0, 6), ("ddpm", 6, 2.0, 12), ("ddim", 5, 0.0, 5), ("ddim", 5, 2.0, 10)]
    for r in rows:
        assert len(r["per_class_accuracy"]) == 10 and 0 <= r["accuracy"] <= 1
        assert r["accuracy"] == pytest.approx(sum(r["per_class_accuracy"]) / 10)
        assert r["frechet"] > 0 and r["images_per_s"] > 0
    table = md.read_text()
    assert "| ddim-5 | 2 | 10 |" in table and "100 images of digits test" in table
    assert set(metrics) >= {"accuracy_ddpm6", "accuracy_ddim5", "frechet_ddim5", "images_per_s_ddim5", "n_per_class", "seed"}
    assert metrics["accuracy_ddim5"] == rows[3]["accuracy"], "the headline is taken at the default w = 2"
    err = capsys.readouterr().err  # an hour on a CPU at the defaults: the sweep shows where it is
    assert "ddpm_samplers 4/4: ddim-5 w=2: 100%" in err and " 5/5 " in err and "ddpm_samplers 1/4: ddpm-6 w=0: 100%" in err and f"ddpm_samplers: wrote {md} and {js}" in err, err


def test_the_headline_names_the_guidance_it_was_taken_at_and_no_file_is_written_unasked(classifier_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    model = zoo.build_method("ddpm", {"n_feat": 8, "n_T": 20}).eval()
    metrics = SamplerSweep().evaluate(model, classifier=str(classifier_file), data="digits", n_per_class=2, n_real=100,
                                      samplers="ddim-2", guidance=0.5, progress=False)
    assert metrics["guidance"] == 0.5 and "accuracy_ddim2" in metrics, "w = 2 was not swept: the headline is at the w that was"
    assert list(tmp_path.iterdir()) == [], "an evaluation writes no table unless out_md/out_json name one"
    assert capsys.readouterr().err == "", "progress=false: no bar, and no file written to say so"


def test_sampler_names_and_call_counts() -> None:
    assert parse_samplers("ddpm-400, ddim-25", 400) == [("ddpm", 400), ("ddim", 25)]
    assert parse_samplers(["ddim-10"], 400) == [("ddim", 10)]
    for bad in ("euler-10", "ddim", "ddim-x", "", "ddim-0", "ddim-401", "ddpm-50"):
        with pytest.raises(ConfigError):
            parse_samplers(bad, 400)
    assert network_calls(25, 0.0) == 25 and network_calls(25, 0.5) == 50 and network_calls(25, 0.5, per_step=2) == 100  # a Heun step
    # a plan naming a sampler there is not fails with the options (the contract checks a registry entry's plan so), not
    # minutes later in the sweep; the steps are checked against the model's n_T when the sweep has it
    with pytest.raises(ConfigError, match=r"samplers: sampler 'euler-10': expected NAME-STEPS, one of ddim-STEPS, ddpm-N_T, dpmpp2m-STEPS "
                                          r"\(e\.g\. ddim-25\) \(got 'ddim-10,euler-10'\)\. Valid keys"):
        evaluator_options(SamplerSweep.Options, {"samplers": "ddim-10,euler-10"}, "ddpm_samplers")
    assert evaluator_options(SamplerSweep.Options, {"samplers": "ddim-999"}, "ddpm_samplers").samplers == "ddim-999"


def test_bad_options_are_clear_errors(classifier_file: Path, tmp_path: Path) -> None:
    model = zoo.build_method("ddpm", {"n_feat": 8, "n_T": 20}).eval()
    not_a_classifier = tmp_path / "ddpm.safetensors"
    zoo.save_model(model, not_a_classifier)
    with pytest.raises(ConfigError, match="n_per_class"):
        SamplerSweep().evaluate(model, classifier=str(classifier_file), data="digits", n_per_class=1)
    with pytest.raises(ConfigError, match="n_T = 20"):
        SamplerSweep().evaluate(model, classifier=str(classifier_file), data="digits", n_per_class=2, samplers="ddim-50", out_md="", out_json="")
    with pytest.raises(ConfigError, match="cannot judge|cannot predict"):
        SamplerSweep().evaluate(model, classifier=str(not_a_classifier), data="digits", n_per_class=2, samplers="ddim-2")
    with pytest.raises(ConfigError, match=r"typo: Extra inputs.*Valid keys: classifier, data"):
        SamplerSweep().evaluate(model, typo=1)
    with pytest.raises(ConfigError, match=r"guidance.*'abc'"):
        SamplerSweep().evaluate(model, guidance="abc")
    with pytest.raises(ConfigError, match=r"guidance: .*an empty list sweeps no guidance weight; give one or more, e\.g\. \[2\]"):
        SamplerSweep().evaluate(model, guidance=[])  # refused before the sweep, not an IndexError after it
    with pytest.raises(ConfigError, match=r"guidance: .*finite numbers"):
        SamplerSweep().evaluate(model, guidance=[1.0, float("nan")])
    three = zoo.build_method("ddpm", {"n_feat": 8, "n_T": 20, "n_classes": 3}).eval()  # trained on a folder of 3 classes
    with pytest.raises(ConfigError, match=r"tells 10 classes, and model .* generates 3: it cannot judge them.*n_classes=3"):
        SamplerSweep().evaluate(three, classifier=str(classifier_file), data="digits", n_per_class=2, samplers="ddim-2")
    gan = zoo.build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4})
    with pytest.raises(ConfigError, match="sweeps DDPM samplers.*method 'dcgan'"):
        SamplerSweep().evaluate(gan, classifier=str(classifier_file), data="digits")


def test_an_unwritable_table_is_refused_before_the_sweep(classifier_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.errors import OutputError

    model = zoo.build_method("ddpm", {"n_feat": 8, "n_T": 6}).eval()
    (tmp_path / "f").write_text("a file, not a folder")
    sampled = []
    monkeypatch.setattr(model, "sample", lambda *a, **k: sampled.append(1))
    for option in ("out_md", "out_json"):
        with pytest.raises(OutputError, match="not a folder"):  # the default sweep takes an hour on a CPU: it fails first
            SamplerSweep().evaluate(model, classifier=str(classifier_file), data="digits", n_per_class=2, samplers="ddim-2",
                                    progress=False, **{option: str(tmp_path / "f" / "table")})
    assert sampled == [] and sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_a_plugins_ddpm_variant_is_swept_by_its_own_n_t(classifier_file: Path) -> None:
    from zoo_plugins.ddpm.evaluate import default_samplers
    from zoo_plugins.ddpm.method import DDPM

    class Variant(DDPM):
        """A plugin's DDPM under another name (another schedule, v-prediction): it samples alike."""

        name = "ddpm_variant_test"

    assert default_samplers(400) == ["ddpm-400", "ddim-10", "ddim-25", "ddim-50"] and default_samplers(20) == ["ddpm-20", "ddim-10"]
    model = Variant({"n_feat": 8, "n_T": 20}).eval()  # the default sweep named ddpm-400, which no n_T = 20 model runs
    metrics = SamplerSweep().evaluate(model, classifier=str(classifier_file), data="digits", n_per_class=2, n_real=100, guidance=0.5, progress=False)
    assert {"accuracy_ddpm20", "accuracy_ddim10"} <= set(metrics) and "accuracy_ddim25" not in metrics


def test_the_real_statistics_are_computed_once_then_read_from_the_cache(classifier_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import zoo_plugins.ddpm.evaluate as sweep

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    clf = sweep._load_classifier(str(classifier_file), torch.device("cpu"))
    first = sweep._real_stats(clf, "digits", "test", 50, None, torch.device("cpu"))
    assert len(list((tmp_path / "cache" / "metrics").glob("classifier-*.safetensors"))) == 1
    monkeypatch.setattr(clf, "features", lambda images: pytest.fail("computed again: 11 s of every sweep on a CPU"))
    again = sweep._real_stats(clf, "digits", "test", 50, None, torch.device("cpu"))
    assert torch.equal(again.mu, first.mu) and torch.equal(again.sigma, first.sigma) and again.n == first.n == 50
    other = sweep._real_stats(sweep._load_classifier(str(classifier_file), torch.device("cpu")), "digits", "test", 40, None, torch.device("cpu"))
    assert other.n == 40, "another subset of the real images is another entry"
