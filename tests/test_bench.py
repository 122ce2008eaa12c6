"""The benchmark runner measures real work and says on what."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from zoo.bench import bench_inference, bench_train_step
from zoo.cli import main
from zoo.loading import build_method, param_count, save_model


def test_train_step_throughput_is_positive_and_labelled() -> None:
    r = bench_train_step("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}, device="cpu", batch_size=2, steps=1, warmup=1)
    assert r["steps_per_s"] > 0 and r["images_per_s"] == pytest.approx(2 / r["seconds"], rel=0.01)  # both rounded
    assert r["method"] == "dcgan" and "cores" in r["device"] and r["torch"]
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    bench_train_step("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}, device="cpu", batch_size=2, steps=1, warmup=1)
    assert torch.equal(torch.rand(3), expected), "benchmarking seeds torch for itself; the caller's generator stays where it was"


def test_channels_last_trains_in_nhwc_and_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from zoo_plugins.dcgan.method import DCGAN
    seen = []
    step = DCGAN.train_step
    monkeypatch.setattr(DCGAN, "train_step", lambda self, batch, i: seen.append(
        (batch.x.is_contiguous(memory_format=torch.channels_last), self.discriminator.main[0].weight.is_contiguous(memory_format=torch.channels_last)))
        or step(self, batch, i))
    r = bench_train_step("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}, device="cpu", batch_size=2, steps=1, warmup=1, channels_last=True)
    assert r["channels_last"] is True and seen and all(x and w for x, w in seen), "the batch and the model are NHWC"
    seen.clear()
    assert bench_train_step("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}, device="cpu", batch_size=2, steps=1, warmup=1)["channels_last"] is False
    assert seen and not any(x for x, _ in seen)
    assert main(["bench", "--train", "dcgan", "--set", "nz=4", "--set", "ngf=2", "--set", "ndf=2", "--batch-size", "2", "--steps", "1",
                 "--device", "cpu", "--channels-last"]) == 0
    assert "(channels-last)" in capsys.readouterr().out


def test_cli_bench_writes_json_for_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2})
    sha = save_model(model, tmp_path / "w.safetensors")
    (tmp_path / "registry.toml").write_text(
        f'[models."dcgan.t"]\nmethod = "dcgan"\nconfig = {{ nz = 4, ngf = 2, ndf = 2 }}\nweights = "w.safetensors"\n'
        f'sha256 = "{sha}"\ndata = "none"\nparams = {param_count(model)}\n'
    )
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    assert main(["bench", "--model", "dcgan.t*", "-n", "3", "--device", "cpu", "--out", str(tmp_path / "r.json")]) == 0
    (r,) = json.loads((tmp_path / "r.json").read_text())
    assert r["what"] == "sample" and r["n"] == 3 and r["images_per_s"] > 0
    assert bench_inference("dcgan.t", n=2, device="cpu")["model"] == "dcgan.t"
    assert main(["bench", "dcgan.t*", "-n", "3", "--device", "cpu", "--out", str(tmp_path / "p.json")]) == 0  # the pattern alone, as --model
    assert [r["model"] for r in json.loads((tmp_path / "p.json").read_text())] == ["dcgan.t"]
    assert main(["bench", "dcgan.mnist64", "-n", "2", "--device", "cpu", "--out", str(tmp_path / "s.json")]) == 0  # shipped, as zoo sample finds it
    assert json.loads((tmp_path / "s.json").read_text())[0]["model"] == "dcgan.mnist64"
    # a weights file, as `zoo sample` and `zoo eval` take it, before it is registered
    assert main(["bench", "--model", str(tmp_path / "w.safetensors"), "-n", "2", "--device", "cpu", "--out", str(tmp_path / "f.json")]) == 0
    assert json.loads((tmp_path / "f.json").read_text())[0]["model"] == str(tmp_path / "w.safetensors")


def test_a_sampling_benchmark_records_the_options_the_sampler_ran_with() -> None:
    from zoo.bench import sample_options

    model = build_method("ddpm", {"n_feat": 8, "n_T": 20}).eval()
    used = sample_options(model, {"steps": 5})
    assert used["steps"] == 5 and used["sampler"] == "ddim" and used["guidance"] == 2.0, "the defaults it ran with, not only what was set"


def test_cli_bench_without_work_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench"]) == 2
    assert "needs --train METHOD or models to time (zoo bench PATTERN, or --model PATTERN" in capsys.readouterr().err
    assert main(["bench", "--model", "nothing.like.this"]) == 2
    assert "'nothing.like.this' matches no registered model (zoo list) and is no .safetensors file or run folder" in capsys.readouterr().err


def test_train_step_labels_follow_the_method_classes() -> None:
    r = bench_train_step("ddpm", {"n_classes": 3, "n_feat": 8, "n_T": 10}, device="cpu", batch_size=2, steps=1, warmup=1)
    assert r["steps_per_s"] > 0  # labels drawn from 0..2: one_hot with 3 classes would fail on a label of 9


def test_a_wgan_gp_benchmark_times_whole_critic_cycles_and_repeats() -> None:
    r = bench_train_step("wgan_gp", {"nz": 4, "ngf": 2, "ndf": 2}, device="cpu", batch_size=2, steps=2, warmup=1, repeats=3)
    # 2 steps would time two critic updates and no generator update: rounded up to one cycle of n_critic = 5
    assert r["cycle"] == 5 and r["steps"] == 5 and r["warmup"] == 5 and r["repeats"] == 3 and len(r["seconds_each"]) == 3
    assert r["seconds"] == sorted(r["seconds_each"])[1] and isinstance(r["threads"], int) and r["date"]


def test_images_per_step_count_every_role() -> None:
    r = bench_train_step("dann", {}, device="cpu", batch_size=4, steps=1, warmup=1)
    assert r["images_per_step"] == 8, "a DANN step reads a source and a target batch"
    assert r["images_per_s"] == pytest.approx(8 / r["seconds"], rel=0.01)


def test_cli_bench_checks_every_subject_first_and_sets_options_per_subject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import zoo.bench

    monkeypatch.setattr(zoo.bench, "bench_train_step", lambda *a, **k: pytest.fail("timed before every subject was checked"))
    assert main(["bench", "--train", "dcgan", "--model", "dcgan.typo*", "--device", "cpu"]) == 2
    assert "--model 'dcgan.typo*' matches no registered model" in capsys.readouterr().err
    assert main(["bench", "--train", "dcgan", "--set", "dcgan:nzz=4", "--device", "cpu"]) == 2
    assert "invalid config for method 'dcgan': nzz" in capsys.readouterr().err
    assert main(["bench", "--train", "dcgan", "--set", "ddpm:n_feat=8", "--device", "cpu"]) == 2
    assert "names 'ddpm', which is not a subject of this run (dcgan)" in capsys.readouterr().err
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    model = build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2})
    sha = save_model(model, tmp_path / "w.safetensors")
    (tmp_path / "registry.toml").write_text(
        f'[models."dcgan.t"]\nmethod = "dcgan"\nconfig = {{ nz = 4, ngf = 2, ndf = 2 }}\nweights = "w.safetensors"\n'
        f'sha256 = "{sha}"\ndata = "none"\nparams = {param_count(model)}\n'
    )
    assert main(["bench", "--train", "dcgan", "--model", "dcgan.t", "--set", "dcgan.t:steps=5", "--device", "cpu"]) == 2
    assert "model 'dcgan.t' takes no sampling options; got ['steps']. Set them for the models that take them" in capsys.readouterr().err
    monkeypatch.undo()
    assert main(["bench", "--train", "dcgan", "--train", "ddpm", "--set", "dcgan:nz=4", "--set", "dcgan:ngf=2", "--set", "dcgan:ndf=2",
                 "--set", "ddpm:n_feat=8", "--set", "ddpm:n_T=10", "--batch-size", "2", "--steps", "1", "--device", "cpu",
                 "--out", str(tmp_path / "b.json")]) == 0
    dcgan, ddpm = json.loads((tmp_path / "b.json").read_text())
    assert dcgan["config"]["ngf"] == 2 and ddpm["config"]["n_feat"] == 8 and dcgan["command"].startswith("zoo bench --train dcgan --train ddpm")


def test_results_record_the_command_as_typed_with_every_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    # a script's results name `python SCRIPT ARGS` in full (a 0.2 s smoke run must not read as the 3 s benchmark)
    from zoo import cli
    from zoo.bench import command_line, provenance

    monkeypatch.setattr("sys.argv", ["benchmarks/data_throughput.py", "--seconds", "0.2", "--out", "a b.json"])
    made = provenance()
    assert made["command"] == "python benchmarks/data_throughput.py --seconds 0.2 --out 'a b.json'"
    assert made["date"] and made["torch"] and "load_average" in made
    # under the zoo command, what an evaluator deep down records is that command, and it is gone afterwards
    seen = []
    monkeypatch.setitem(cli.COMMANDS, "list", lambda args: seen.append(command_line()) or 0)
    assert cli.main(["list", "dcgan.*"]) == 0
    assert seen == ["zoo list 'dcgan.*'"]
    assert command_line().startswith("python benchmarks/data_throughput.py")


def test_a_ddpm_samplers_own_knob_reaches_it_and_a_wrong_one_is_its_error(tmp_path: Path) -> None:
    from zoo.bench import check_options
    from zoo.errors import ConfigError

    path = tmp_path / "ddpm.safetensors"
    save_model(build_method("ddpm", {"n_feat": 8, "n_T": 10}), path)
    model = build_method("ddpm", {"n_feat": 8, "n_T": 10})
    check_options(model, {"steps": 2, "eta": 0.5}, "ddpm")  # eta is DDIM's knob, not a keyword of sample(): still taken
    with pytest.raises(ConfigError, match=r"sampler ddpm takes no sampling option \['eta'\].*--set ddpm:KEY=VALUE"):
        check_options(model, {"sampler": "ddpm", "eta": 0.5}, "ddpm")  # before any timing
    r = bench_inference(str(path), n=2, device="cpu", knobs={"steps": 2, "eta": 0.5})
    assert r["sample_options"]["eta"] == 0.5 and r["images_per_s"] > 0
    assert bench_inference(str(path), n=2, device="cpu", knobs={"steps": 2})["sample_options"]["eta"] == 0.0  # DDIM's default, stated
    with pytest.raises(ConfigError, match=r"sampler ddim takes no sampling option \['etaa'\]"):
        bench_inference(str(path), n=2, device="cpu", knobs={"etaa": 0.5})


def test_a_bad_device_is_one_error_before_any_subject(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--train", "dcgan", "--train", "wgan_gp", "--device", "bogus", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "zoo bench: error: device 'bogus' is not a device torch knows" in err and "FAILED" not in err


def test_a_plugin_sample_taking_its_own_knobs_is_left_to_judge_them(tmp_path: Path) -> None:
    from zoo.bench import check_options
    from zoo.interfaces import Method
    from zoo_plugins.dcgan.method import DCGAN

    class Tempered(DCGAN):  # a plugin's sample(..., **knobs) that takes a temperature, as docs/plugins.md allows
        check_sample_options = Method.check_sample_options  # the default a plugin's method inherits (the GANs refuse all)

        def sample(self, n, labels=None, seed=None, **knobs):
            return super().sample(n, labels, seed)

    check_options(Tempered({"nz": 4, "ngf": 2, "ndf": 2}), {"temperature": 0.5}, "tempered")  # its sample() judges them


def test_a_failing_subject_is_reported_and_the_others_are_still_timed_and_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import zoo.bench

    real = zoo.bench.bench_train_step

    def flaky(method: str, *args: object, **kwargs: object) -> dict:
        if method == "dcgan":
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(method, *args, **kwargs)

    monkeypatch.setattr(zoo.bench, "bench_train_step", flaky)
    out = tmp_path / "b.json"
    assert main(["bench", "--train", "dcgan", "--train", "ddpm", "--set", "ddpm:n_feat=8", "--set", "ddpm:n_T=10", "--batch-size", "2",
                 "--steps", "1", "--device", "cpu", "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "FAILED     dcgan" in captured.out and "RuntimeError: CUDA out of memory (simulated)" in captured.out
    assert "1 of 2 subjects failed: dcgan" in captured.err
    dcgan, ddpm = json.loads(out.read_text())
    assert dcgan["error"] == "RuntimeError: CUDA out of memory (simulated)" and dcgan["method"] == "dcgan"
    assert ddpm["steps_per_s"] > 0 and "error" not in ddpm


def test_times_keep_their_significant_digits_and_records_say_what_a_paper_states(tmp_path: Path) -> None:
    from zoo.bench import _timings
    from zoo.weights import sha256_file

    timing, median = _timings([8.2e-05, 9.1e-05, 8.0e-05])  # a small model on a GPU: was 0.0001 s, or 0 and a ZeroDivisionError
    assert timing == {"seconds": 8.2e-05, "seconds_each": [8.2e-05, 9.1e-05, 8.0e-05]} and median == 8.2e-05
    r = bench_train_step("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}, device="cpu", batch_size=2, steps=1, warmup=1)
    assert r["seed"] == 0 and r["plugin"].startswith("zoo ") and r["cpu"]
    path = tmp_path / "dcgan.safetensors"
    save_model(build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}), path)
    r = bench_inference(str(path), n=2, device="cpu")
    assert r["method"] == "dcgan" and r["weights_sha256"] == sha256_file(path) and r["plugin"].startswith("zoo ")
