"""The registry: list, load with verified weights, clear errors for unknown names and bad entries."""

from __future__ import annotations

import contextlib
import os
import shutil
import textwrap
from pathlib import Path

import pytest
import torch

import zoo
from zoo.errors import CapabilityError, ConfigError, OutputError, UnknownNameError, WeightsError
from zoo.loading import build_method, load_any, param_count, save_model
from zoo.registration import update_entry
from zoo.registry import entry

TINY = {"nz": 4, "ngf": 2, "ndf": 2}


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry file with one tiny DCGAN entry, installed as $ZOO_REGISTRY."""
    torch.manual_seed(0)
    model = build_method("dcgan", TINY)
    sha = save_model(model, tmp_path / "weights" / "tiny.safetensors")
    path = tmp_path / "registry.toml"
    path.write_text(textwrap.dedent(f'''
        [models."dcgan.tiny"]
        method = "dcgan"
        config = {{ nz = 4, ngf = 2, ndf = 2 }}
        weights = "weights/tiny.safetensors"
        sha256 = "{sha}"
        data = "mnist"
        params = {param_count(model)}
        metrics = {{ note = "fixture" }}
    '''))
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    return path


def test_list_filters_with_fnmatch(registry: Path) -> None:
    assert "dcgan.tiny" in zoo.list() and "dcgan.mnist64" in zoo.list(), "beside $ZOO_REGISTRY's file, zoo's shipped models"
    assert zoo.list("dcgan.t*") == ["dcgan.tiny"] and zoo.list("nosuch*") == []


def test_load_verifies_and_returns_an_eval_model(registry: Path) -> None:
    model = zoo.load("dcgan.tiny")
    assert not model.training and model.zoo_name == "dcgan.tiny"
    assert model.sample(2, seed=0).shape == (2, 3, 64, 64)
    assert param_count(model) == entry("dcgan.tiny").params


def test_unknown_model_suggests_the_closest_names(registry: Path) -> None:
    with pytest.raises(UnknownNameError, match=r"unknown model 'dcgan.tny'.*Did you mean: dcgan.tiny"):
        zoo.load("dcgan.tny")


def test_a_name_unlike_every_known_one_lists_them_instead_of_a_poor_guess() -> None:
    from zoo.errors import closest

    assert closest("classifier.mnistm", ["tinyvae.mnist"]) == []
    assert "Known models: tinyvae.mnist." in str(UnknownNameError("model", "classifier.mnistm", ["tinyvae.mnist"]))


def test_unknown_method_suggests_the_closest_names() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown method 'dcgn'.*dcgan"):
        build_method("dcgn")


def test_wrong_hash_on_load_names_the_file(registry: Path) -> None:
    text = registry.read_text()
    sha = entry("dcgan.tiny").sha256
    registry.write_text(text.replace(sha, "f" * 64))
    with pytest.raises(WeightsError, match=rf"tiny.safetensors.*expected sha256 {'f' * 64}, found {sha}"):
        zoo.load("dcgan.tiny")


def test_missing_weights_file_says_where_to_put_it(registry: Path) -> None:
    (registry.parent / "weights" / "tiny.safetensors").unlink()
    with pytest.raises(WeightsError, match=r"weights/tiny.safetensors does not exist. Put the file there"):
        zoo.load("dcgan.tiny")


def test_entry_config_that_disagrees_with_the_file_is_an_error(registry: Path) -> None:
    registry.write_text(registry.read_text().replace("nz = 4,", "nz = 5,"))
    with pytest.raises(WeightsError, match=r"made for method 'dcgan' with config .*'nz': 4.*entry 'dcgan.tiny'"):
        zoo.load("dcgan.tiny")


def test_entry_config_with_an_unknown_key_is_a_config_error(registry: Path) -> None:
    registry.write_text(registry.read_text().replace("nz = 4,", "nz = 4, bogus = 1,"))
    with pytest.raises(ConfigError, match=r"model 'dcgan.tiny'.*bogus.*Valid keys: nz"):
        zoo.load("dcgan.tiny")


def test_an_entry_field_this_zoo_does_not_know_says_a_newer_zoo_may_have_written_it(registry: Path) -> None:
    registry.write_text(registry.read_text().replace('method = "dcgan"', 'method = "dcgan"\nlicense = "CC-BY"', 1))
    with pytest.raises(ConfigError, match=r"license: Extra inputs are not permitted.* If a newer zoo wrote license \(zoo [0-9.]+ here\), upgrade zoo"):
        zoo.load("dcgan.tiny")


def test_config_with_a_wrong_type_names_the_key_and_value() -> None:
    with pytest.raises(ConfigError, match=r"nz: .*integer.*got 'many'"):
        build_method("dcgan", {"nz": "many"})


def test_malformed_entry_is_rejected_with_its_name(registry: Path) -> None:
    registry.write_text(registry.read_text().replace('data = "mnist"', 'data = "mnist"\ncolour = "red"'))
    with pytest.raises(ConfigError, match=r"registry entry 'dcgan.tiny'.*colour"):
        zoo.list()


def test_asking_for_a_missing_capability_names_the_model(registry: Path) -> None:
    with pytest.raises(CapabilityError, match=r"model 'dcgan.tiny' \(method 'dcgan'\) cannot predict: it can sample"):
        zoo.load("dcgan.tiny").predict(torch.zeros(1, 3, 64, 64))


def test_update_entry_validates_before_writing(registry: Path) -> None:
    before = registry.read_text()
    with pytest.raises(Exception, match="sha256"):
        update_entry("dcgan.tiny", {"sha256": "not-a-hash"}, registry)
    assert registry.read_text() == before
    update_entry("dcgan.tiny", {"metrics": {"fid": 12.5}}, registry)
    assert entry("dcgan.tiny").metrics == {"fid": 12.5}


def test_entry_with_a_none_config_value_is_written_without_it_and_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # DANN's backbone_weights defaults to None; TOML has no null, so the entry leaves it out (= its default)
    path = tmp_path / "registry.toml"
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    model = build_method("dann", {})
    assert model.config.backbone_weights is None
    sha = save_model(model, tmp_path / "weights" / "d.safetensors")
    update_entry("dann.none", {"method": "dann", "config": model.config.model_dump(), "weights": "weights/d.safetensors",
                               "sha256": sha, "data": "source=a+target=b", "params": param_count(model)}, path)
    assert "backbone_weights" not in path.read_text()
    assert zoo.load("dann.none").config == model.config


def test_load_file_needs_no_registry_entry(tmp_path: Path) -> None:
    model = build_method("dcgan", TINY)
    save_model(model, tmp_path / "m.safetensors")
    loaded = zoo.load_file(tmp_path / "m.safetensors")
    assert torch.equal(loaded.sample(1, seed=1), model.eval().sample(1, seed=1))


def test_unconditional_sampler_rejects_labels_and_unknown_knobs(registry: Path) -> None:
    model = zoo.load("dcgan.tiny")
    with pytest.raises(ConfigError, match="unconditional"):
        model.sample(2, labels=[0, 1])
    with pytest.raises(ConfigError, match="steps"):
        model.sample(2, steps=3)


def test_load_any_takes_a_registry_name_or_a_weights_file(registry: Path) -> None:
    by_name, by_file = load_any("dcgan.tiny"), load_any(registry.parent / "weights" / "tiny.safetensors")
    assert torch.equal(by_name.sample(2, seed=0), by_file.sample(2, seed=0))
    with pytest.raises(UnknownNameError):
        load_any("dcgan.tinny")


def fake_run(folder: Path, seed: int) -> Path:
    """A finished run folder as `zoo train` leaves it (run.json, summary.json, model.safetensors), for a tiny DCGAN."""
    import json

    torch.manual_seed(seed)
    model = build_method("dcgan", TINY)
    folder.mkdir(parents=True)
    sha = save_model(model, folder / "model.safetensors")
    (folder / "run.json").write_text(json.dumps({"method": "dcgan", "config": model.config.model_dump(), "command": f"zoo train dcgan # {seed}"}))
    (folder / "summary.json").write_text(json.dumps({"sha256": sha, "wall_time_s": 1.0, "steps": 2, "device": "cpu"}))
    return folder


def test_register_refuses_weights_that_diverged(registry: Path, tmp_path: Path) -> None:
    import json

    from zoo.registration import register_run

    run = fake_run(tmp_path / "run", 1)
    model = zoo.load_file(run / "model.safetensors")
    with torch.no_grad():
        next(iter(model.parameters())).fill_(float("nan"))
    sha = save_model(model, run / "model.safetensors")  # as a zoo that did not stop diverged runs exported them
    (run / "summary.json").write_text(json.dumps({**json.loads((run / "summary.json").read_text()), "sha256": sha}))
    with pytest.raises(WeightsError, match=r"holds NaN or infinite values \(.*\): the run diverged"):
        register_run(run, "dcgan.nan", data="faces", path=registry)
    assert "dcgan.nan" not in zoo.list() and not (tmp_path / "weights" / "dcgan.nan.safetensors").exists()


@pytest.mark.parametrize("name", ["../../escape", "", "sub/dir", ".hidden", "a b"])
def test_register_refuses_names_that_are_not_file_names(registry: Path, tmp_path: Path, name: str) -> None:
    from zoo.registration import register_run

    run = fake_run(tmp_path / "run", 1)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ConfigError, match=rf"model name {name!r} is not valid"):
        register_run(run, name, data="mnist", path=registry)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written anywhere


def test_registering_a_name_again_drops_the_old_weights_metrics(registry: Path, tmp_path: Path) -> None:
    from zoo.registration import register_run

    update_entry("dcgan.tiny", {"evaluation": {"gan": {"n": 100}}, "description": "old weights"}, registry)
    with pytest.raises(ConfigError, match=r"model 'dcgan.tiny' is registered already in .*\(method 'dcgan', data 'mnist', with metrics\): "
                                          r"registering would replace its entry and its weights\. Choose another name, or give replace=True"):
        register_run(fake_run(tmp_path / "run", 1), "dcgan.tiny", data="faces", path=registry)  # a slip, refused
    assert zoo.entry("dcgan.tiny").description == "old weights"
    e = register_run(tmp_path / "run", "dcgan.tiny", data="faces", path=registry, replace=True)
    assert e.metrics == {} and e.description == ""  # they described the old weights
    assert e.evaluation == {"gan": {"n": 100}} and e.data == "faces" and e.training.command == "zoo train dcgan # 1"
    assert zoo.load("dcgan.tiny").sample(1, seed=0).shape == (1, 3, 64, 64)  # the new file under the old name


def test_register_checks_the_registry_before_copying_weights(registry: Path, tmp_path: Path) -> None:
    from zoo.registration import register_run

    registry.write_text(registry.read_text() + "\nthis is = not [toml\n")
    with pytest.raises(ConfigError, match=r"registry\.toml is not valid TOML"):
        register_run(fake_run(tmp_path / "run", 1), "dcgan.new", data="faces", path=registry)
    assert not (tmp_path / "weights" / "dcgan.new.safetensors").exists()


def test_a_shared_checkout_that_cannot_be_written_points_to_a_registry_of_ones_own(monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.registration as registry_module
    from zoo.registration import check_registration
    from zoo.registry import SHIPPED

    monkeypatch.delenv("ZOO_REGISTRY", raising=False)
    monkeypatch.setattr(registry_module.os, "access", lambda path, mode: False)  # a course's install, read-only to students
    with pytest.raises(ConfigError, match=r"zoo's own registry, in a checkout you cannot write .*ZOO_REGISTRY=~/zoo-models/registry\.toml"):
        check_registration("dcgan.mine", SHIPPED)


def test_the_registry_file_is_utf8_whatever_the_locale(registry: Path) -> None:
    import subprocess
    import sys

    code = ("import zoo; from zoo.registry import entry; from zoo.registration import update_entry; "
            "update_entry('dcgan.tiny', {'description': 'trained on donn\\u00e9es \\u2192 64x64'}); print(ascii(entry('dcgan.tiny').description))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "PYTHONUTF8"))}
    env.update(LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")  # an ASCII locale: Windows' cp1252 cannot hold the arrow either
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ascii("trained on donn\u00e9es \u2192 64x64")
    assert "trained on donn\u00e9es \u2192 64x64".encode("utf-8") in registry.read_bytes()


def test_a_registry_file_that_is_not_utf8_is_named(registry: Path) -> None:
    registry.write_bytes(registry.read_bytes().replace(b'note = "fixture"', 'note = "donn\u00e9es"'.encode("cp1252")))  # saved by a Windows editor
    with pytest.raises(ConfigError, match=r"registry\.toml is not UTF-8 \(byte 0xe9 at offset \d+\), as TOML files must be"):
        zoo.list()


def test_names_that_differ_only_in_case_are_refused(registry: Path, tmp_path: Path) -> None:
    from zoo.registration import register_run

    before = registry.read_bytes()
    for write in (lambda: register_run(fake_run(tmp_path / "run", 1), "dcgan.Tiny", data="mnist", path=registry),
                  lambda: update_entry("DCGAN.tiny", {"description": "x", "method": "dcgan"}, registry)):
        with pytest.raises(ConfigError, match=r"has entry 'dcgan.tiny', which differs from '(dcgan.Tiny|DCGAN.tiny)' only in case"):
            write()
    assert registry.read_bytes() == before and sorted(p.name for p in (tmp_path / "weights").iterdir()) == ["tiny.safetensors"]


def test_a_failed_registry_write_leaves_the_old_entry_and_its_weights(registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.registration as registry_module
    from zoo.registration import register_run

    register_run(fake_run(tmp_path / "run", 1), "dcgan.new", data="mnist", path=registry)
    before = {p.name: p.read_bytes() for p in [registry, *(tmp_path / "weights").iterdir()]}
    real = registry_module.atomic_write

    def full_disk(path, mode="wb"):  # the registry's write fails, as on a full disk
        if Path(path) == registry:
            raise OSError(28, "No space left on device")
        return real(path, mode)

    monkeypatch.setattr(registry_module, "atomic_write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        register_run(fake_run(tmp_path / "run2", 2), "dcgan.new", data="mnist", path=registry, replace=True)
    assert {p.name: p.read_bytes() for p in [registry, *(tmp_path / "weights").iterdir()]} == before  # no stray or replaced weights
    monkeypatch.setattr(registry_module, "atomic_write", real)
    assert zoo.load("dcgan.new").sample(1, seed=0).shape == (1, 3, 64, 64)


def test_a_ctrl_c_while_registering_waits_for_the_entry_and_its_weights(registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    import zoo.registration as registry_module
    from zoo.registration import register_run

    register_run(fake_run(tmp_path / "run", 1), "dcgan.new", data="mnist", path=registry)
    real = registry_module.atomic_write

    @contextlib.contextmanager
    def interrupted_after_the_registry(path, mode="wb"):
        with real(path, mode) as f:
            yield f
        if Path(path) == registry:  # renamed: the weights are still beside their name
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(registry_module, "atomic_write", interrupted_after_the_registry)
    with pytest.raises(KeyboardInterrupt):
        register_run(fake_run(tmp_path / "run2", 2), "dcgan.new", data="mnist", path=registry, replace=True)
    monkeypatch.setattr(registry_module, "atomic_write", real)
    assert entry("dcgan.new").training.command == "zoo train dcgan # 2"
    assert zoo.load("dcgan.new").sample(1, seed=0).shape == (1, 3, 64, 64)  # the entry's weights, not the old ones
    assert not [p.name for p in tmp_path.rglob("*.tmp")]


def test_registering_through_a_linked_registry_writes_beside_the_file_it_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.registration import register_run

    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "registry.toml").symlink_to(tmp_path / "real" / "registry.toml")
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "links" / "registry.toml"))
    register_run(fake_run(tmp_path / "run", 1), "dcgan.linked", data="mnist")
    assert (tmp_path / "real" / "weights" / "dcgan.linked.safetensors").is_file() and not (tmp_path / "links" / "weights").exists()
    assert (tmp_path / "links" / "registry.toml").is_symlink()
    update_entry("dcgan.linked", {"description": "through the link"})
    assert zoo.load("dcgan.linked").sample(1, seed=0).shape == (1, 3, 64, 64) and entry("dcgan.linked").description == "through the link"


def test_registering_removes_what_a_killed_registration_left(registry: Path, tmp_path: Path) -> None:
    from zoo.registration import register_run

    left = [tmp_path / "weights" / ".dcgan.new.safetensors.abc123xy.tmp", tmp_path / ".registry.toml.def456xy.tmp"]
    other = tmp_path / "weights" / ".dcgan.other.safetensors.abc123xy.tmp"  # another name's: not this registration's to judge
    for p in [*left, other]:
        p.write_bytes(b"half")
    register_run(fake_run(tmp_path / "run", 1), "dcgan.new", data="mnist", path=registry)
    assert not any(p.exists() for p in left) and other.exists()


@pytest.mark.parametrize(("file", "text"), [("run.json", "{not json"), ("summary.json", '{"steps": 2}')])
def test_register_names_a_damaged_run_file(registry: Path, tmp_path: Path, file: str, text: str) -> None:
    from zoo.registration import register_run

    run = fake_run(tmp_path / "run", 1)
    (run / file).write_text(text)
    with pytest.raises(WeightsError, match=r"run\.json or summary\.json is damaged"):
        register_run(run, "dcgan.new", data="faces", path=registry)


@pytest.mark.parametrize(
    ("file", "edit", "message"),
    [
        ("run.json", lambda r: b'{"method": "dcgan\xff"}', r"UnicodeDecodeError"),
        ("run.json", lambda r: b"[" * 100_000 + b"]" * 100_000, r"RecursionError"),
        ("summary.json", lambda s: {**s, "sha256": 5}, r"summary\.json's sha256 is 5, not a hex digest"),
        ("run.json", lambda r: {**r, "classes": ["a", "b"]}, r"run\.json's classes is \['a', 'b'\], not an object"),
        ("run.json", lambda r: {**r, "data_sources": [1]}, r"run\.json's data_sources is \[1\], not an object"),
        ("run.json", lambda r: {**r, "data": 5}, r"run\.json's data is 5, not an object"),
    ],
)
def test_register_names_a_run_file_of_the_wrong_bytes_or_types(registry: Path, tmp_path: Path, file: str, edit, message: str) -> None:
    """Not UTF-8, nested too deep, or a field of another type than `zoo train` writes: a ConfigError, not a raw Python error."""
    import json

    from zoo.registration import register_run

    run = fake_run(tmp_path / "run", 1)
    changed = edit(json.loads((run / file).read_text()))
    (run / file).write_bytes(changed if isinstance(changed, bytes) else json.dumps(changed).encode())
    with pytest.raises(WeightsError, match=r"run\.json or summary\.json is damaged \(.*" + message):
        register_run(run, "dcgan.new", data="faces", path=registry)


@pytest.mark.parametrize(("text", "message"), [("models = 3\n", r"models should be a table"), ('[models]\n"x.y" = 3\n', r"'x\.y' should be a table")])
def test_registry_whose_models_are_not_tables(registry: Path, text: str, message: str) -> None:
    registry.write_text(text)
    with pytest.raises(ConfigError, match=message):
        zoo.list()


def test_missing_field_is_named_without_dumping_the_entry(registry: Path) -> None:
    registry.write_text(registry.read_text().replace('data = "mnist"\n', ""))
    with pytest.raises(ConfigError, match=r"data: Field required\. Fix the entry") as info:
        zoo.list()
    assert "base_dir" not in str(info.value)


@pytest.mark.parametrize(("device", "message"), [("bogus", r"device 'bogus' is not a device torch knows"), ("cuda:7", r"device 'cuda:7' was asked for")])
def test_load_on_a_device_that_is_not_there(registry: Path, device: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        zoo.load("dcgan.tiny", device=device)


def test_gan_sample_takes_whole_numbers_only(registry: Path) -> None:
    import numpy as np

    g = zoo.load("dcgan.tiny")
    assert g.sample(np.int64(2), seed=np.int64(1)).shape == (2, 3, 64, 64)
    for kwargs, message in (({"n": 2.0}, r"sample\(n\) must be a whole number >= 1, got 2\.0"), ({"n": 1, "seed": 1.5}, r"seed must be a whole number in .*, got 1\.5")):
        with pytest.raises(ConfigError, match=message):
            g.sample(**kwargs)


def test_data_labels_parse_one_way_and_paths_may_hold_equals_signs(tmp_path: Path) -> None:
    from zoo.data.labels import absolute_data, format_data_label, parse_data_label

    odd = tmp_path / "lr=0.1+x" / "faces"
    odd.mkdir(parents=True)
    assert parse_data_label(str(odd)) == {"train": str(odd)}, "an existing path is one path, '=' and '+' in it or not"
    assert parse_data_label("source=mnistm+target=/x/y") == {"source": "mnistm", "target": "/x/y"}
    assert parse_data_label("runs/a=b") == {"train": "runs/a=b"}, "a role has no slash"
    assert format_data_label(parse_data_label("source=mnistm+target=digits")) == "source=mnistm+target=digits"
    assert absolute_data(str(odd.relative_to(tmp_path))) == str(odd.relative_to(tmp_path))  # relative to the cwd, not tmp_path: left as given


def test_registry_updates_wait_for_each_other(tmp_path: Path) -> None:
    import threading
    import time

    from zoo.registration import update_entry
    from zoo.files import folder_lock

    path = tmp_path / "registry.toml"
    entry = {"method": "dcgan", "weights": "w.safetensors", "sha256": "0" * 64, "data": "mnist", "params": 1}
    update_entry("a.one", entry, path)
    with folder_lock(tmp_path):  # another `zoo eval --write` reading, merging and writing the file
        t = threading.Thread(target=update_entry, args=("a.one", {"metrics": {"x": 1.0}}, path))
        t.start()
        time.sleep(0.3)
        assert t.is_alive() and "x = 1.0" not in path.read_text(), "it waits rather than merge into a file being rewritten"
    t.join(timeout=10)
    assert not t.is_alive() and "x = 1.0" in path.read_text()


def test_a_scratch_registry_still_finds_zoos_shipped_models_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.registry import SHIPPED, entries, entry

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "mine.toml"))
    assert entries()["classifier.mnistm"].source == SHIPPED, "zoo list shows the shipped models beside the scratch file's"
    assert entry("classifier.mnistm").source == SHIPPED, "what the gan evaluator loads by name is still there"
    with pytest.raises(zoo.UnknownNameError, match=r"Did you mean: classifier.mnistm"):
        entry("classifier.mnistmm")  # what loads beside the scratch registry is what is suggested


def test_what_loads_beside_a_scratch_registry_also_shows_and_evaluates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.cli import main
    from zoo.metrics import plan_evaluation

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "mine.toml"))
    assert main(["info", "dcgan.mnist64"]) == 0, "zoo sample dcgan.mnist64 works here, so zoo info does too"
    assert "weights: weights/dcgan.mnist64.safetensors (sha256 " in capsys.readouterr().out
    plan, _ = plan_evaluation("dann.mnistm-digits")  # the entry's data names what is scored
    assert plan["adaptation"]["source"] == "mnistm" and plan["adaptation"]["target"] == "digits"


def test_one_registry_file_named_twice_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.plugins import PluginManager, reset_plugin_manager
    from zoo.registration import update_entry

    path = tmp_path / "registry.toml"
    update_entry("a.one", {"method": "dcgan", "weights": "w.safetensors", "sha256": "0" * 64, "data": "mnist", "params": 1}, path)
    monkeypatch.setenv("ZOO_REGISTRY", str(path))

    class Plugin:  # a plugin's zoo_register_models hook naming the same file
        @staticmethod
        @zoo.hookimpl
        def zoo_register_models() -> list[Path]:
            return [tmp_path / "." / "registry.toml"]

    pm = PluginManager()
    pm.register(Plugin, name="same_file")
    reset_plugin_manager(pm)
    try:
        assert zoo.list("a.*") == ["a.one"], "not 'defined twice ... Rename one'"
    finally:
        reset_plugin_manager()


def _tiny_run(tmp_path: Path) -> Path:
    """Train a 1-step tiny DCGAN run folder under tmp_path and return it."""
    from zoo.data import ImageSet

    images = ImageSet(torch.randint(0, 256, (8, 1, 20, 20), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)), None, "random")
    zoo.train("dcgan", images, tmp_path / "run", config={"nz": 4, "ngf": 2, "ndf": 2}, steps=1, batch_size=4, device="cpu", progress=False)
    return tmp_path / "run"


def test_a_run_folders_weights_are_checked_against_its_summary(tmp_path: Path) -> None:
    run = _tiny_run(tmp_path)
    model = zoo.load_file(run / "model.safetensors")
    save_model(model, tmp_path / "other.safetensors", dtype=torch.float16)  # a valid file of the same model, not the one the run wrote
    (run / "model.safetensors").write_bytes((tmp_path / "other.safetensors").read_bytes())
    with pytest.raises(WeightsError, match=r"model\.safetensors does not match the sha256 in .*summary\.json: .*restore it, or re-export it"):
        load_any(str(run))
    zoo.load_file(tmp_path / "other.safetensors")  # a loose file has no summary to answer to: its own digests vouch for it


def test_register_refuses_a_run_whose_record_disagrees_with_its_weights_and_a_run_in_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from zoo.errors import OutputError
    from zoo.files import folder_lock

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "reg" / "registry.toml"))
    run = _tiny_run(tmp_path)
    with folder_lock(run):  # as a `zoo train` resuming into it holds it
        with pytest.raises(OutputError, match=r"run .* is training now .*register it once that run has ended"):
            zoo.register(run, "dcgan.busy")
    with folder_lock(run, shared=True):  # as another registration of the same run holds it: both go ahead
        zoo.register(run, "dcgan.twice")
    shutil.rmtree(tmp_path / "reg")
    record = json.loads((run / "run.json").read_text())
    record["config"]["nz"] = 64
    (run / "run.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError, match=r"run\.json and its model\.safetensors disagree on the config \(nz\): they are not from the same run"):
        zoo.register(run, "dcgan.mixed")
    assert not (tmp_path / "reg").exists(), "a refused registration leaves no registry or weights folder"


def test_a_data_label_splits_at_roles_not_at_every_plus(tmp_path: Path) -> None:
    from zoo.data.labels import format_data_label, parse_data_label

    roles = {"source": "mnistm", "target": str(tmp_path / "my+digits")}  # '+' is fine in a folder name
    assert parse_data_label(format_data_label(roles)) == roles
    assert parse_data_label("source=mnistm+target=digits") == {"source": "mnistm", "target": "digits"}
    assert parse_data_label("/data/a+b") == {"train": "/data/a+b"}, "a path that does not exist here is still one path"


def test_unknown_name_lists_say_the_plural_right() -> None:
    assert "Known classes: cat, dog." in str(zoo.UnknownNameError("class", "zzzzzz", ["cat", "dog"]))
    assert "Known models or methods: a.b, dcgan." in str(zoo.UnknownNameError("model or method", "zzzzzz", ["dcgan", "a.b"]))


def test_weights_trained_elsewhere_come_in_through_save_model_and_register(registry: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from safetensors.torch import load_file as plain_load, save_file

    from zoo.cli import main

    torch.manual_seed(3)
    theirs = build_method("dcgan", TINY).generator  # a plain PyTorch training script's generator, saved without zoo
    save_file(theirs.state_dict(), tmp_path / "plain.safetensors")
    model = build_method("dcgan", TINY)
    model.generator.load_state_dict(plain_load(tmp_path / "plain.safetensors"))
    save_model(model, tmp_path / "mine.safetensors")
    with pytest.raises(ConfigError, match=r"does not record what it was trained on: name it with"):
        zoo.register(tmp_path / "mine.safetensors", "dcgan.mine", registry=registry)
    assert main(["register", str(tmp_path / "mine.safetensors"), "dcgan.mine", "--data", "mnist", "--registry", str(registry)]) == 0
    assert "(no training record)" in capsys.readouterr().out
    e = entry("dcgan.mine")
    assert (e.method, e.data, e.training) == ("dcgan", "mnist", None)
    assert build_method("dcgan", e.config).config == model.config
    z = torch.randn(2, TINY["nz"], 1, 1)
    with torch.no_grad():
        assert torch.equal(zoo.load("dcgan.mine").generator(z), theirs.eval()(z))
    assert "generator.main.0.weight" in zoo.load("dcgan.mine").inference_state_dict()  # the way back: a plain state, keyed by network
    with pytest.raises(ConfigError, match=r"names the role\(s\) source, target, and method 'dcgan' trains on train"):
        zoo.register(tmp_path / "mine.safetensors", "dcgan.roles", data="source=mnist+target=digits", registry=registry)
    (registry.parent / "weights").mkdir(exist_ok=True)
    inside = registry.parent / "weights" / "dcgan.inside.safetensors"
    inside.write_bytes((tmp_path / "mine.safetensors").read_bytes())  # put where the entry's weights would go
    with pytest.raises(ConfigError, match=r"is where entry 'dcgan.inside' keeps its weights already.*Move it out"):
        zoo.register(inside, "dcgan.inside", data="mnist", registry=registry)
    assert inside.is_file(), "the only copy stays"
    zoo.register(tmp_path / "mine.safetensors", "dcgan.again", data="mnsit", registry=registry)  # a typo in its data
    again = registry.parent / "weights" / "dcgan.again.safetensors"
    assert zoo.register(again, "dcgan.again", data="mnist", registry=registry, replace=True).data == "mnist", "an entry's own weights register again"
    src = build_method("dann", {"regime": "source_only"})
    save_model(src, tmp_path / "src.safetensors")  # a source-only model is judged on a target all the same
    assert zoo.register(tmp_path / "src.safetensors", "dann.src", data="source=mnistm+target=digits", registry=registry).data == "source=mnistm+target=digits"


def test_a_state_that_would_not_load_back_is_refused_before_it_is_written(tmp_path: Path) -> None:
    model = build_method("dcgan", TINY)
    state = model.inference_state_dict()
    bare = {k.removeprefix("generator."): v for k, v in state.items()}
    with pytest.raises(WeightsError, match=r"does not fit method 'dcgan'.*put 'generator\.' before every key"):
        save_model(model, tmp_path / "bare.safetensors", state=bare)
    wrapped = {f"module.{k}": v for k, v in bare.items()}  # a DataParallel generator's
    with pytest.raises(WeightsError, match=r"remove 'module\.' from every key and put 'generator\.' before every key"):
        save_model(model, tmp_path / "wrapped.safetensors", state=wrapped)
    assert list(tmp_path.iterdir()) == []
    floats_only = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}  # torch loads these too
    save_model(model, tmp_path / "floats.safetensors", state=floats_only)
    assert zoo.load_file(tmp_path / "floats.safetensors").sample(1, seed=0).shape == (1, 3, 64, 64)


def test_weights_of_another_config_are_refused_with_both_shapes(tmp_path: Path) -> None:
    other = build_method("dcgan", {**TINY, "nz": 6}).inference_state_dict()  # trained with another latent size
    with pytest.raises(WeightsError, match=r"wrong shape: generator\.main\.0\.weight \(6, 16, 4, 4\), expected \(4, 16, 4, 4\)"):
        save_model(build_method("dcgan", TINY), tmp_path / "nz6.safetensors", state=other)


def test_a_plugins_registry_installed_by_pip_is_not_written(registry: Path, tmp_path: Path) -> None:
    from zoo.registration import check_registration

    site = tmp_path / "site"
    (site / "zoo_fake").mkdir(parents=True)
    installed = site / "zoo_fake" / "registry.toml"
    installed.write_text(registry.read_text())
    (site / "zoo_fake-0.1.0.dist-info").mkdir()
    (site / "zoo_fake-0.1.0.dist-info" / "RECORD").write_text("zoo_fake/__init__.py,,\nzoo_fake/registry.toml,sha256=x,12\n")
    before = installed.read_text()
    with pytest.raises(ConfigError, match=r"belongs to the installed package zoo_fake-0.1.0.dist-info: pip replaces it"):
        update_entry("dcgan.tiny", {"description": "recorded into a wheel"}, installed)  # what zoo eval --write does
    with pytest.raises(ConfigError, match=r"installed package zoo_fake-0.1.0.dist-info"):
        check_registration("dcgan.new", installed)  # what zoo register --registry does first
    assert installed.read_text() == before
    checkout = tmp_path / "checkout" / "zoo_fake" / "registry.toml"  # the plugin's own checkout (pip install -e .) stays writable
    checkout.parent.mkdir(parents=True)
    checkout.write_text(before)
    update_entry("dcgan.tiny", {"description": "recorded in the checkout"}, checkout)
    assert "recorded in the checkout" in checkout.read_text()


def test_a_strangers_files_around_a_registration_cannot_hang_it_redirect_it_or_exhaust_memory(registry: Path, tmp_path: Path) -> None:
    import os
    import signal

    from zoo.registration import _write_registration, check_registration
    from zoo.registry import installed_package
    from zoo.weights import save_weights

    # a pipe, /dev/zero or a link loop where a RECORD is read (a folder anyone may write, /tmp, above the registry)
    above = tmp_path / "above"
    (above / "evil.dist-info").mkdir(parents=True)
    os.mkfifo(above / "evil.dist-info" / "RECORD")
    (above / "zero.dist-info").mkdir()
    (above / "zero.dist-info" / "RECORD").symlink_to("/dev/zero")
    (above / "u").mkdir()
    def hung(*_: object) -> None:
        raise TimeoutError("reading a RECORD hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)  # a hang fails the test instead of the suite
    try:
        assert installed_package(above / "u" / "registry.toml") is None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    # a weights/ folder that is a link would choose where the file lands
    (tmp_path / "elsewhere").mkdir()
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "weights").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError, match=r"weights is a symbolic link .*wherever it points"):
        check_registration("dcgan.x", linked / "registry.toml")
    # the bytes copied are the bytes checked: a file swapped after its check is not registered under the old sha256
    model = build_method("dcgan", TINY)
    save_model(model, tmp_path / "a.safetensors")
    with pytest.raises(WeightsError, match="changed while it was registered"):
        _write_registration("dcgan.swap", registry, tmp_path / "a.safetensors", Path("weights/dcgan.swap.safetensors"),
                            {"method": "dcgan", "config": TINY, "weights": "weights/dcgan.swap.safetensors", "sha256": "0" * 64,
                             "data": "mnist", "params": param_count(model)})
    assert not (registry.parent / "weights" / "dcgan.swap.safetensors").exists() and "dcgan.swap" not in registry.read_text()
    # a 300-byte file whose header claims a network larger than memory
    save_weights(tmp_path / "bomb.safetensors", {}, method="classifier", config={"width": 1_000_000})
    with pytest.raises(WeightsError, match=r"needs more memory than there is"):
        zoo.load_file(tmp_path / "bomb.safetensors")
    # a run folder whose run.json is a pipe
    run = fake_run(tmp_path / "piped", 1)
    (run / "run.json").unlink()
    os.mkfifo(run / "run.json")
    with pytest.raises(ConfigError, match=r"run.json is no regular file"):
        zoo.register(run, "dcgan.piped", registry=registry)


def test_registering_a_shipped_models_name_beside_it_is_refused(registry: Path, tmp_path: Path) -> None:
    from zoo.registration import register_run, unlisted_note
    from zoo.registry import SHIPPED

    assert unlisted_note(SHIPPED, "x.y") is None and unlisted_note(tmp_path / "elsewhere.toml", "x.y"), "zoo list shows the shipped file's"

    with pytest.raises(ConfigError, match=rf"model 'dcgan.mnist64' is defined in {SHIPPED}, not in {registry}"):
        register_run(fake_run(tmp_path / "run", 1), "dcgan.mnist64", data="mnist", path=registry)  # it hid the demo model
    assert zoo.entry("dcgan.mnist64").source == SHIPPED and not (tmp_path / "weights" / "dcgan.mnist64.safetensors").exists()
