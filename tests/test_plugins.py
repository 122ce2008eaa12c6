"""Plugin discovery: entry points, broken and blocked plugins, name clashes, third-party plugins end to end."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from PIL import Image

import zoo
from zoo import hookspecs
from zoo.errors import PluginError, UnknownNameError
from zoo.plugins import PluginManager, ZooPluginWarning, get_plugin_manager, reset_plugin_manager

EXAMPLE = Path(__file__).parent / "example_plugin"
TESTS = Path(__file__).parent


def make_dist(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str] | None = None) -> None:
    """Make `site` look like site-packages holding distribution `dist` (its dist-info and modules)."""
    info = site / f"{dist}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[zoo.plugins]\n{lines}\n")
    for name, source in (modules or {}).items():
        (site / f"{name}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary site-packages on sys.path; the global plugin manager is rebuilt afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith(("zoo_example", "broken_plugin", "clash_plugin", "wrong_extras", "shapes_plugin", "sampler_plugin"))]:
        del sys.modules[mod]
    reset_plugin_manager()


def install_example(site: Path) -> None:
    """Install the example plugin the way pip does: package files plus dist-info with its entry point."""
    shutil.copytree(EXAMPLE / "zoo_example", site / "zoo_example")
    make_dist(site, "zoo_example", {"gaussian": "zoo_example"})


def test_builtin_methods_are_found_through_entry_points() -> None:
    pm = get_plugin_manager()
    assert {"dcgan"} <= set(pm.methods())
    sources = {i.name: i.source for i in pm.infos}
    assert sources["dcgan"].startswith("zoo ")


def test_third_party_plugin_is_discovered_through_its_entry_point(site: Path) -> None:
    install_example(site)
    pm = PluginManager()
    assert "gaussian" in pm.methods()
    assert pm.method_plugins()["gaussian"] == "gaussian"
    assert any(i.name == "gaussian" and i.source == "zoo_example 0.1.0" for i in pm.infos)


def test_contract_suite_passes_on_the_third_party_plugin(site: Path) -> None:
    install_example(site)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "zoo.contract", "--zoo-methods", "gaussian", "--zoo-models", "none", "-q", "-p", "no:cacheprovider"],
        env=env, capture_output=True, text=True, cwd=site, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    counts = dict((word, int(n)) for n, word in re.findall(r"(\d+) (passed|skipped|failed)", run.stdout.splitlines()[-1]))
    # every method test and both plugin tests (its stripes dataset read) ran and passed; the skips are the model tests (--zoo-models none) and the two predict tests (the gaussian only samples)
    assert counts == {"passed": 14, "skipped": 5}, run.stdout[-2000:]


def test_contract_suite_fails_a_broken_plugin(site: Path) -> None:
    # A method whose sample ignores the seed must fail the contract: the suite can fail.
    make_dist(site, "clash_plugin", {"flaky": "clash_plugin"}, {"clash_plugin": '''
        import torch, zoo
        from zoo_example import Gaussian

        class Flaky(Gaussian):
            """Ignores its seed."""
            name = "flaky"
            def sample(self, n, labels=None, seed=None, **knobs):
                return super().sample(n, seed=None)

        @zoo.hookimpl
        def zoo_register_methods():
            return [Flaky]
    '''})
    install_example(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "zoo.contract", "--zoo-methods", "flaky", "--zoo-models", "none", "-q", "-p", "no:cacheprovider"],
        env=env, capture_output=True, text=True, cwd=site, timeout=300,
    )
    assert run.returncode != 0
    assert "test_sample_shape_range_and_determinism" in run.stdout


def test_contract_suite_catches_state_outside_the_weights_graphs_in_losses_and_identical_images(site: Path) -> None:
    # bugs students make that passed the contract before: each broken method must fail the one test that names its bug
    make_dist(site, "sloppy_plugin", {"sloppy": "sloppy_plugin"}, {"sloppy_plugin": '''
        import torch, zoo
        from zoo_example import Gaussian

        class Forgetful(Gaussian):
            """Keeps a trained offset in a plain attribute, which no weights file carries."""
            name = "forgetful"
            def train_step(self, batch, step):
                self.offset = getattr(self, "offset", 0.0) + 0.01
                return super().train_step(batch, step)
            def sample(self, n, labels=None, seed=None, **knobs):
                return (super().sample(n, labels, seed, **knobs) + getattr(self, "offset", 0.0)).clamp(0, 1)

        class Clingy(Gaussian):
            """Returns its loss with the graph attached."""
            name = "clingy"
            def train_step(self, batch, step):
                d = self.density
                nll = (d["log_std"] + 0.5 * ((batch.x - d["mean"]) / d["log_std"].exp()) ** 2).mean()
                self.optimize("density", nll)
                return {"loss_nll": nll}

        class Cloning(Gaussian):
            """Draws one noise image and repeats it."""
            name = "cloning"
            def sample(self, n, labels=None, seed=None, **knobs):
                x = super().sample(n, labels, seed, **knobs)
                return x[:1].expand_as(x).contiguous()

        @zoo.hookimpl
        def zoo_register_methods():
            return [Forgetful, Clingy, Cloning]
    '''})
    install_example(site)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "zoo.contract", "--zoo-methods", "forgetful,clingy,cloning", "--zoo-models", "none",
         "-q", "-rf", "-p", "no:cacheprovider", "-W", "ignore::UserWarning"],
        env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, cwd=site, timeout=300,
    )
    failed = set(re.findall(r"^FAILED \S*::(\w+\[\w+\])", run.stdout, re.M))
    assert failed == {"test_save_then_load_gives_identical_tensors[forgetful]",
                      "test_train_steps_give_finite_losses_and_every_optimizer_moves_its_parameters[clingy]",
                      "test_sample_shape_range_and_determinism[cloning]"}, run.stdout[-3000:]


WRONG = {"wrong_plugin": '''
    import pydantic, torch, zoo
    from torch import nn
    from zoo_example import Gaussian, GaussianConfig

    class BNOnly(Gaussian):
        """Runs a forward pass (BatchNorm statistics move) but never steps its optimizer."""
        name = "bnonly"
        def __init__(self, config=None, *, training=False):
            super().__init__(config, training=training)
            self.bn = nn.BatchNorm2d(self.config.channels)
        def train_step(self, batch, step):
            return {"loss": self.bn(batch.x).mean().detach()}

    class TwoOpt(Gaussian):
        """Has a second optimizer whose parameters never move (a generator that never steps)."""
        name = "twoopt"
        def __init__(self, config=None, *, training=False):
            super().__init__(config, training=training)
            self.extra = nn.Linear(2, 2)
        def configure_optimizers(self):
            return {"density": torch.optim.Adam(self.density.parameters(), lr=0.05), "extra": torch.optim.Adam(self.extra.parameters())}

    class Reseed(Gaussian):
        """Seeds torch's global generator instead of its own."""
        name = "reseed"
        def sample(self, n, labels=None, seed=None, **knobs):
            torch.manual_seed(seed)
            return super().sample(n, seed=None)

    class Loose(Gaussian):
        """Accepts any n and any option silently."""
        name = "loose"
        def sample(self, n, labels=None, seed=None, **knobs):
            return super().sample(max(n, 1), seed=seed)[:n]

    class Unsaved(Gaussian):
        """Predicts from a random projection it does not save."""
        name = "unsaved"
        capabilities = frozenset({"sample", "predict"})
        def __init__(self, config=None, *, training=False):
            super().__init__(config, training=training)
            self.proj = torch.randn(self.config.channels * self.config.image_size ** 2, 10)  # not a buffer: never saved
        def predict(self, images):
            if len(images) == 0:
                raise zoo.ConfigError("empty batch")
            return (images.flatten(1) @ self.proj).argmax(1)

    class OffByOne(Unsaved):
        """Returns labels 10..19, outside a 10-class model's 0..9."""
        name = "offbyone"
        def predict(self, images):
            return super().predict(images) + 10

    class Unadapted(Gaussian):
        """Predicts from images of its own size, channels and range only: skips zoo.data.adapt_images."""
        name = "unadapted"
        capabilities = frozenset({"sample", "predict"})
        def predict(self, images):
            if len(images) == 0:
                raise zoo.ConfigError("empty batch")
            return ((images - self.density["mean"]) / self.density["log_std"].exp()).flatten(1).mean(1).gt(0).long()

    class Stowaway(Gaussian):
        """Always builds a critic it trains but never declares training-only, so the critic ships."""
        name = "stowaway"
        def __init__(self, config=None, *, training=False):
            super().__init__(config, training=training)
            self.critic = nn.Linear(self.config.channels * self.config.image_size ** 2, 1)
        def configure_optimizers(self):
            return {"density": torch.optim.Adam(self.density.parameters(), lr=0.05), "critic": torch.optim.Adam(self.critic.parameters())}
        def train_step(self, batch, step):
            self.optimize("critic", self.critic(batch.x.flatten(1)).mean())
            return super().train_step(batch, step)

    class Misnamed(Gaussian):
        """Names an image method it does not have."""
        name = "misnamed"
        image_methods = ("encode",)

    class Glance(Gaussian):
        """Ships a layer whose tensors sample only looks at (device, shape), never computes with."""
        name = "glance"
        def __init__(self, config=None, *, training=False):
            super().__init__(config, training=training)
            self.aux = nn.Linear(2, 2)
        def sample(self, n, labels=None, seed=None, **knobs):
            assert self.aux.weight.device == self.aux.bias.device and self.aux.weight.T.shape == (2, 2)  # a view is a glance too
            return super().sample(n, labels=labels, seed=seed, **knobs)

    class Signed(Gaussian):
        """Returns images in [-1, 1], the range its network works in, not zoo's [0, 1]."""
        name = "signed"
        def sample(self, n, labels=None, seed=None, **knobs):
            return super().sample(n, labels=labels, seed=seed, **knobs) * 2 - 1

    class Typo(Gaussian):
        """Misspells a key of its test_config."""
        name = "typo"
        test_config = {"image_sise": 8}

    class Tied(Gaussian):
        """Ships, as `head`, the very layer it declares training-only as `critic`; sample never uses it."""
        name = "tied"
        training_modules = ("critic",)
        def __init__(self, config=None, *, training=False):
            super().__init__(config, training=training)
            self.critic = nn.Linear(2, 2)
            self.head = self.critic

    class Careless(Gaussian):
        """A class-conditional model that indexes with whatever labels it is given."""
        name = "careless"
        def __init__(self, config=None, *, training=False):
            super().__init__(config, training=training)
            self.shift = nn.Parameter(torch.zeros(10))
        def data_spec(self):
            return zoo.DataSpec(image_size=self.config.image_size, channels=self.config.channels, labels=True)
        def sample(self, n, labels=None, seed=None, **knobs):
            x = super().sample(n, seed=seed, **knobs)
            return x if labels is None else (x + self.shift[torch.as_tensor(labels)].view(-1, 1, 1, 1)).clamp(0, 1)

    class Knobless(Gaussian):
        """Ships a refiner that only sample(refine=True) uses, and does not say so (sample_variants)."""
        name = "knobless"
        def __init__(self, config=None, *, training=False):
            super().__init__(config, training=training)
            self.refiner = nn.Conv2d(self.config.channels, self.config.channels, 1)
        def sample(self, n, labels=None, seed=None, refine=False, **knobs):
            x = super().sample(n, labels=labels, seed=seed, **knobs)
            return torch.sigmoid(self.refiner(x)) if refine else x

    class Knob(Knobless):
        """The same, saying so: the contract samples with refine=True too, and the refiner counts as used."""
        name = "knob"
        sample_variants = ({"refine": True},)

    class Racy(Knob):
        """Refines with noise from torch's global RNG: right by default, wrong under its declared variant."""
        name = "racy"
        def sample(self, n, labels=None, seed=None, refine=False, **knobs):
            x = super().sample(n, labels=labels, seed=seed, refine=refine, **knobs)
            return (x + 0.01 * torch.rand_like(x)).clamp(0, 1) if refine else x

    class Required(Gaussian):
        """Has a hyper-parameter without a default: only its test_config builds it."""
        name = "required"
        Config = type("RequiredConfig", (GaussianConfig,), {"__annotations__": {"width": int}, "width": pydantic.Field(ge=1)})
        test_config = {"image_size": 8, "width": 4}

    class Defiant(Gaussian):
        """Has a default its own field refuses (pydantic does not check defaults)."""
        name = "defiant"
        Config = type("DefiantConfig", (GaussianConfig,), {"__annotations__": {"width": int}, "width": pydantic.Field(0, ge=1)})
        test_config = {"image_size": 8, "width": 4}

    class Derived(Gaussian):
        """Right: a default computed from another field (pydantic >= 2.10 passes the validated data to the factory)."""
        name = "derived"
        Config = type("DerivedConfig", (GaussianConfig,), {"__annotations__": {"width": int},
                                                            "width": pydantic.Field(default_factory=lambda data: data["image_size"] * 2, ge=1)})

    @zoo.hookimpl
    def zoo_register_methods():
        return [BNOnly, TwoOpt, Reseed, Loose, Unsaved, OffByOne, Unadapted, Stowaway, Misnamed, Glance, Signed, Typo, Tied, Careless, Knobless, Knob,
                Racy, Required, Defiant, Derived]
'''}


def run_contract(site: Path, methods: str) -> subprocess.CompletedProcess[str]:
    """Run the contract suite on `methods` in a fresh interpreter that sees the plugins installed in `site`."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "zoo.contract", "--zoo-methods", methods, "--zoo-models", "none", "-q", "-p", "no:cacheprovider"],
        env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, cwd=site, timeout=300,
    )


def test_contract_suite_catches_each_wrong_plugin(site: Path) -> None:
    install_example(site)
    make_dist(site, "wrong_dist", {"wrong": "wrong_plugin"}, WRONG)
    run = run_contract(site, "bnonly,twoopt,reseed,loose,unsaved,offbyone,unadapted,stowaway,misnamed,glance,signed,typo,tied,careless,knobless,knob,"
                             "racy,required,defiant,derived")
    failed = set(re.findall(r"FAILED \S*::(\w+)\[(\w+)\]", run.stdout))
    assert {
        ("test_train_steps_give_finite_losses_and_every_optimizer_moves_its_parameters", "bnonly"),
        ("test_train_steps_give_finite_losses_and_every_optimizer_moves_its_parameters", "twoopt"),
        ("test_sample_shape_range_and_determinism", "reseed"),
        ("test_sample_refuses_bad_requests", "loose"),
        ("test_predict_shape_and_determinism", "offbyone"),
        ("test_predict_takes_the_images_evaluators_pass", "unadapted"),
        ("test_save_then_load_gives_identical_tensors", "unsaved"),
        ("test_every_shipped_parameter_serves_inference", "stowaway"),
        ("test_every_shipped_parameter_serves_inference", "misnamed"),
        ("test_every_shipped_parameter_serves_inference", "glance"),
        ("test_sample_shape_range_and_determinism", "signed"),
        ("test_config_round_trip", "typo"),
        ("test_every_shipped_parameter_serves_inference", "tied"),
        ("test_sample_refuses_bad_requests", "careless"),
        ("test_every_shipped_parameter_serves_inference", "knobless"),
        ("test_sample_shape_range_and_determinism", "racy"),
        ("test_every_config_field_has_a_default", "required"),
        ("test_every_config_field_has_a_default", "defiant"),
    } <= failed, run.stdout[-3000:]
    assert ("test_predict_shape_and_determinism", "unadapted") not in failed, "it is right on images of its own kind"
    assert not {f for f in failed if f[1] == "knob"}, "a network a declared sampling option uses is used"
    assert not {f for f in failed if f[1] == "derived"}, "a default computed from another field is a default"
    assert "invalid config for Typo.test_config (method 'typo'): image_sise" in run.stdout
    assert "sample must return images in [0, 1], got min -" in run.stdout  # the values, not a bare AssertionError
    assert "RequiredConfig field(s) ['width'] have no default" in run.stdout
    assert "with {'refine': True}, the same seed must give the same images" in run.stdout
    assert "unadapted.predict failed on 10x10 images" in run.stdout and "zoo.data.adapt_images(images, size, channels)" in run.stdout
    assert "DefiantConfig defaults (method 'defiant'): width: Input should be greater than or equal to 1 (got 0)" in run.stdout


def test_contract_suite_stops_when_the_plugin_is_not_there(site: Path) -> None:
    make_dist(site, "broken_dist", {"broken": "broken_plugin"}, BROKEN)
    run = run_contract(site, "brokn")  # misspelled, and the plugin that holds it fails to import
    assert run.returncode != 0 and "passed" not in run.stdout
    assert "--zoo-methods 'brokn' matches no method" in run.stdout + run.stderr and "broken (failed" in run.stdout + run.stderr


BROKEN = {"broken_plugin": "raise ImportError('no module named tensorflow')\n"}


def test_a_plugin_that_fails_to_import_is_named_and_skipped(site: Path) -> None:
    make_dist(site, "broken_dist", {"broken": "broken_plugin"}, BROKEN)
    with pytest.warns(ZooPluginWarning, match=r"'broken'.*broken_plugin.*tensorflow.*ZOO_STRICT_PLUGINS"):
        pm = PluginManager()
    assert "dcgan" in pm.methods()
    assert any(i.name == "broken" and i.status.startswith("failed") for i in pm.infos)
    with pytest.raises(UnknownNameError, match=r"unknown method 'brokenmethod'.*did not load: broken \(failed: ImportError: no module named tensorflow\)"):
        pm.method("brokenmethod")  # the user who asks for the method learns why it is missing


def test_zoo_info_on_a_name_nobody_registers_names_the_plugins_that_failed(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.cli import main

    make_dist(site, "broken_dist", {"broken": "broken_plugin"}, BROKEN)
    reset_plugin_manager()
    with pytest.warns(ZooPluginWarning):
        assert main(["info", "brokenmethod"]) == 2
    err = capsys.readouterr().err
    assert "unknown model or method 'brokenmethod'" in err and "did not load: broken (failed: ImportError" in err


def test_strict_mode_makes_an_import_failure_an_error(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(site, "broken_dist", {"broken": "broken_plugin"}, BROKEN)
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"'broken'.*tensorflow"):
        PluginManager()


def test_strict_mode_failure_on_the_command_line_is_one_line(site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.cli import main

    make_dist(site, "broken_dist", {"broken": "broken_plugin"}, BROKEN)
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    reset_plugin_manager()
    assert main(["list"]) == 8
    err = capsys.readouterr().err
    assert err.startswith("zoo: error: ") and "'broken'" in err and "Traceback" not in err


HOOKLESS = {
    "broken_plugin_class": """
        import zoo
        class Tiny(zoo.Method):
            name = "tiny"
    """,
    "broken_plugin_typo": """
        import zoo
        @zoo.hookimpl
        def zoo_register_method():
            return []
    """,
    "broken_plugin_unbound": """
        import zoo
        class Hooks:
            @zoo.hookimpl
            def zoo_register_methods(self):
                return []
    """,
}

NEWER = {"clash_plugin_newer": """
    import zoo
    from zoo_example import Gaussian

    class Newer(Gaussian):
        name = "newer"

    class Renamed(Gaussian):
        name = "renamed"

    @zoo.hookimpl
    def zoo_register_methods():
        return [Newer]

    @zoo.hookimpl(specname="zoo_register_methods")
    def my_methods():
        return [Renamed]

    @zoo.hookimpl(optionalhook=True)
    def zoo_register_samplers():  # a hook of some later zoo
        return []

    @zoo.hookimpl
    def zoo_register_schedules():
        return []
"""}


def test_a_plugin_that_would_register_nothing_is_named_with_the_fix(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the two mistakes that used to show as "loaded" while no method appeared
    make_dist(site, "hookless_dist", {"byclass": "broken_plugin_class:Tiny", "bytypo": "broken_plugin_typo", "unbound": "broken_plugin_unbound:Hooks"}, HOOKLESS)
    with pytest.warns(ZooPluginWarning) as caught:
        pm = PluginManager()
    text = " ".join(str(w.message) for w in caught)
    assert "broken_plugin_class:Tiny has no function marked @zoo.hookimpl" in text and "name the module `broken_plugin_class`" in text
    assert "zoo_register_method (did you mean zoo_register_methods?)" in text
    assert "broken_plugin_unbound:Hooks is a class whose hooks (zoo_register_methods) need an instance" in text
    status = {i.name: i.status for i in pm.infos}
    assert all(status[n].startswith("failed") for n in ("byclass", "bytypo", "unbound"))
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"'byclass'.*registers nothing.*name the module"):
        PluginManager()


def test_a_plugin_for_a_newer_zoo_loads_with_its_known_hooks(site: Path) -> None:
    # hooks this zoo lacks are ignored (a warning unless optionalhook), and specname renames are honoured
    install_example(site)
    make_dist(site, "newer_dist", {"newer": "clash_plugin_newer"}, NEWER)
    with pytest.warns(ZooPluginWarning, match="zoo_register_schedules") as caught:
        pm = PluginManager()
    assert {"newer", "renamed"} <= set(pm.methods())
    assert not any("zoo_register_samplers" in str(w.message) for w in caught)


def test_one_module_under_two_entry_point_names_is_a_plugin_error(site: Path) -> None:
    install_example(site)
    make_dist(site, "twice_dist", {"gaussian_again": "zoo_example"})  # a second name for the example's module
    with pytest.raises(PluginError, match=r"'gaussian_again' .* is the module already registered as 'gaussian'.*ZOO_BLOCK_PLUGINS=gaussian_again"):
        PluginManager()


def test_blocked_plugins_are_not_imported(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(site, "broken_dist", {"broken": "broken_plugin"}, BROKEN)
    install_example(site)
    monkeypatch.setenv("ZOO_BLOCK_PLUGINS", "broken, gaussian")
    pm = PluginManager()
    assert "gaussian" not in pm.methods()
    assert {i.name for i in pm.infos if i.status == "blocked"} == {"broken", "gaussian"}
    with pytest.raises(UnknownNameError, match=r"unknown method 'gaussian'.*Blocked by ZOO_BLOCK_PLUGINS: (broken, gaussian|gaussian, broken)"):
        pm.method("gaussian")  # installed, but switched off: say so, not "install the plugin" alone


def test_two_plugins_claiming_one_method_name_is_an_error_naming_both(site: Path) -> None:
    install_example(site)
    make_dist(site, "clash_dist", {"clash": "clash_plugin"}, {"clash_plugin": '''
        import zoo
        from zoo_example import Gaussian

        class Other(Gaussian):
            """Claims the name of the example's method."""

        @zoo.hookimpl
        def zoo_register_methods():
            return [Other]
    '''})
    pm = PluginManager()
    with pytest.raises(PluginError, match=r"method 'gaussian'.*'clash'.*'gaussian'|method 'gaussian'.*'gaussian'.*'clash'"):
        pm.methods()


def test_a_registered_non_method_is_skipped_with_a_warning_or_refused_when_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    pm = PluginManager(load_entry_points=False)

    class NotAPlugin:
        @staticmethod
        @zoo.hookimpl
        def zoo_register_methods() -> list[type]:
            return [dict]

    pm.register(NotAPlugin(), name="bad")
    with pytest.warns(ZooPluginWarning, match="'bad'.*expected a zoo.Method subclass"):
        assert "dcgan" not in pm.methods() and "dict" not in pm.methods()
    assert [i.status for i in pm.infos if i.name == "bad"][0].startswith("failed: zoo_register_methods: ")
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="'bad'.*expected a zoo.Method subclass"):
        pm.methods()


def test_a_plugin_dataset_and_evaluator_work_end_to_end(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.cli import main

    install_example(site)
    reset_plugin_manager()
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    assert main(["datasets"]) == 0 and "built by its reader (no data files needed)" in capsys.readouterr().out
    assert main(["evaluators"]) == 0 and "brightness: " in capsys.readouterr().out
    assert main(["train", "gaussian", "--data", "stripes", "--set", "image_size=16", "--set", "channels=1", "--steps", "2",
                 "--batch-size", "8", "--device", "cpu", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--only", "brightness", "--set", "n=8", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)["brightness"]
    assert out["n"] == 8 and 0.0 <= out["brightness"] <= 1.0
    # its check_sample_options refuses a wrong --set before any timing or sampling
    assert main(["bench", str(tmp_path / "run"), "--set", "temperature=0.5", "--device", "cpu"]) == 2
    assert "takes no sampling options; got ['temperature']. Set them for the models that take them" in capsys.readouterr().err


WRONG_EXTRAS = {"wrong_extras": '''
    import os
    import pydantic
    import torch
    import zoo

    BUG = os.environ.get("EXTRAS_BUG", "")

    class Opts(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")
        n: int = 2

    class Bad:
        name = "bad_eval"
        Options = Opts
        def evaluate(self, model, **options):
            return {"nan": {"v": float("nan")}, "tensor": {"v": torch.tensor(1.0)}, "none": None, "nested": {"v": {"a": 1.0}}}[BUG]

    @zoo.hookimpl
    def zoo_register_evaluators():
        if BUG == "raise":
            raise RuntimeError("evaluator hook boom")
        return [Bad] if BUG == "class" else [Bad()]

    @zoo.hookimpl
    def zoo_register_datasets():
        info = zoo.data.DatasetInfo(name="mnist" if BUG == "clash" else "tupleset", description="", kind="stand-in", source="", license="",
                                    size="", resolution="", read=lambda split, folder: (torch.zeros(1, 1, 8, 8), None))
        return info if BUG == "single" else [info]
'''}


@pytest.mark.parametrize(("bug", "command", "message"), [
    ("nan", ["eval", "RUN", "--only", "bad_eval"], r"evaluator 'bad_eval' \(plugin 'wrong_extras'\) returned 'v': nan; evaluate\(model, \*\*options\) must return"),
    ("tensor", ["eval", "RUN", "--only", "bad_eval"], r"returned 'v': tensor\(1\.\) \(a Tensor\)"),
    ("none", ["eval", "RUN", "--only", "bad_eval"], r"returned a NoneType"),
    ("nested", ["eval", "RUN", "--only", "bad_eval"], r"returned 'v': \{'a': 1\.0\} \(a dict\)"),
    ("", ["train", "dcgan", "--data", "tupleset", "--steps", "1", "--out", "RUN2"], r"dataset 'tupleset' \(plugin 'wrong_extras'\): its reader returned a tuple"),
])
def test_what_a_plugin_evaluator_or_reader_returns_is_checked_and_names_the_plugin(
        site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], bug: str, command: list[str], message: str) -> None:
    from zoo.cli import main
    from zoo.loading import build_method, save_model

    make_dist(site, "wrong_extras_dist", {"wrong_extras": "wrong_extras"}, WRONG_EXTRAS)
    monkeypatch.setenv("EXTRAS_BUG", bug)
    reset_plugin_manager()
    run = tmp_path / "run"
    save_model(build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}), run / "model.safetensors")
    (run / "summary.json").write_text("{}")
    args = [str(run) if a == "RUN" else str(tmp_path / "run2") if a == "RUN2" else a for a in command]
    assert main(args) == 8, "a plugin that broke its contract"
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize(("bug", "gone", "message"), [
    ("raise", "bad_eval", r"'wrong_extras'.*its hook zoo_register_evaluators failed \(RuntimeError: evaluator hook boom\)"),
    ("class", "bad_eval", r"'wrong_extras' registered the class Bad as an evaluator; register an instance of it \(Bad\(\)\)"),
    ("single", "tupleset", r"'wrong_extras'.*zoo_register_datasets failed \(TypeError: it returned a DatasetInfo; expected a list of datasets\)"),
    ("clash", "tupleset", r"'wrong_extras'.*it registers the dataset 'mnist', which is zoo's own; rename it"),
])
def test_a_broken_hook_is_named_and_skipped_not_fatal_to_other_commands(
        site: Path, monkeypatch: pytest.MonkeyPatch, bug: str, gone: str, message: str) -> None:
    make_dist(site, "wrong_extras_dist", {"wrong_extras": "wrong_extras"}, WRONG_EXTRAS)
    monkeypatch.setenv("EXTRAS_BUG", bug)
    pm = PluginManager()
    with pytest.warns(ZooPluginWarning, match=message):
        found = {**pm.datasets(), **pm.evaluators()}
    assert {"mnist", "gan"} <= set(found) and gone not in found, "the rest of zoo works; the broken part is left out"
    assert found["mnist"].description.startswith("MNIST handwritten digits"), "zoo's own dataset is never replaced"
    assert [i.status for i in pm.infos if i.name == "wrong_extras"][0].startswith("failed: ")
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=message):
        pm.datasets(), pm.evaluators()


def test_zoo_plugins_shows_a_plugin_whose_hook_raises_as_failed_not_loaded(
        site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Loading only imports a plugin; `zoo plugins` calls every hook, so a hook that raises is shown failed there too."""
    from zoo.cli import main

    make_dist(site, "wrong_extras_dist", {"wrong_extras": "wrong_extras"}, WRONG_EXTRAS)
    monkeypatch.setenv("EXTRAS_BUG", "raise")
    reset_plugin_manager()
    with pytest.warns(ZooPluginWarning, match="zoo_register_evaluators failed"):
        assert main(["plugins"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("wrong_extras"))
    assert "failed: zoo_register_evaluators: RuntimeError: evaluator hook boom" in row, row


def test_a_plugin_dataset_laid_out_as_an_image_folder_does_not_take_every_folder(site: Path, tmp_path: Path) -> None:
    from zoo import data

    make_dist(site, "shapes_dist", {"shapes": "shapes_plugin"}, {"shapes_plugin": '''
        import zoo
        from zoo.data.folder import image_folder_layout, read_folder

        @zoo.hookimpl
        def zoo_register_datasets():
            return [zoo.data.DatasetInfo(name="shapes", description="", kind="real", source="", license="", size="", resolution="",
                                         folder="shapes", layout=image_folder_layout, read=lambda split, folder: read_folder(folder, 32))]
    '''})
    reset_plugin_manager()
    faces = tmp_path / "faces"
    faces.mkdir()
    for i in range(3):
        Image.new("RGB", (40, 40)).save(faces / f"{i}.png")
    assert data.detect_path_format(faces) == "folder" and data.load(faces).images.shape[-1] == 40, "a path is zoo's folder, not the plugin's set"


@pytest.mark.parametrize(("text", "message"), [
    ("CLASH", r"its registry file .*bad\.toml defines the model 'dcgan\.mnist64', which .*registry\.toml defines"),
    ('[models."plugin.half"]\nmethod = "dcgan"\n', r"registry entry 'plugin\.half' in .*bad\.toml is invalid: .*Field required"),
    ("[models\n", r"registry file .*bad\.toml is not valid TOML"),
])
def test_a_plugins_broken_registry_file_is_skipped_with_a_warning_not_fatal_to_every_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str) -> None:
    if text == "CLASH":  # a valid entry, named as one of zoo's own
        import tomllib

        import tomli_w
        from zoo.registry import SHIPPED

        text = tomli_w.dumps({"models": {"dcgan.mnist64": tomllib.loads(SHIPPED.read_text())["models"]["dcgan.mnist64"]}})
    (tmp_path / "bad.toml").write_text(text)

    class BadModels:
        @staticmethod
        @zoo.hookimpl
        def zoo_register_models() -> list[Path]:
            return [tmp_path / "bad.toml"]

    pm = PluginManager()
    pm.register(BadModels(), name="bad-models")
    reset_plugin_manager(pm)
    try:
        with pytest.warns(ZooPluginWarning, match=message):
            assert zoo.entry("dcgan.mnist64").method == "dcgan" and "classifier.mnistm" in zoo.list()
        with pytest.warns(ZooPluginWarning, match=message):  # `zoo plugins` shows it failed
            assert [i.status for i in pm.checked_infos() if i.name == "bad-models"][0].startswith("failed: zoo_register_models")
        monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
        with pytest.raises(PluginError, match=message):
            zoo.list()
        with pytest.raises(PluginError, match=message):  # `zoo plugins` too, as for its other hooks
            pm.checked_infos()
    finally:
        reset_plugin_manager()


def test_zoo_register_models_adds_registry_files(tmp_path: Path) -> None:
    from zoo.loading import build_method, save_model

    model = build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2})
    sha = save_model(model, tmp_path / "w" / "tiny.safetensors")
    (tmp_path / "extra.toml").write_text(textwrap.dedent(f'''
        [models."plugin.tiny"]
        method = "dcgan"
        config = {{ nz = 4, ngf = 2, ndf = 2 }}
        weights = "w/tiny.safetensors"
        sha256 = "{sha}"
        data = "none"
        params = {sum(p.numel() for p in model.parameters())}
    '''))

    class ExtraModels:
        @staticmethod
        @zoo.hookimpl
        def zoo_register_models() -> list[Path]:
            return [tmp_path / "extra.toml"]

    pm = PluginManager()
    pm.register(ExtraModels(), name="extra-models")
    reset_plugin_manager(pm)
    try:
        assert "plugin.tiny" in zoo.list("plugin.*")
        assert zoo.load("plugin.tiny").sample(2, seed=0).shape == (2, 3, 64, 64)
    finally:
        reset_plugin_manager()

    class OnePath:  # the path alone, not in a list: read as its characters it was a list of "files", silently
        @staticmethod
        @zoo.hookimpl
        def zoo_register_models() -> str:
            return str(tmp_path / "extra.toml")

    pm = PluginManager()
    pm.register(OnePath(), name="one-path")
    reset_plugin_manager(pm)
    try:
        with pytest.warns(ZooPluginWarning, match=r"one-path.*zoo_register_models.*returned a str; expected a list of registry file paths"):
            assert pm.registry_files() == []
    finally:
        reset_plugin_manager()


def test_a_registry_file_a_plugin_lists_but_lacks_is_named_where_its_models_are_missed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a plugin installed from a wheel built without its registry.toml: it loads, and its models vanished without a word
    from zoo.cli import main

    class Shipless:
        @staticmethod
        @zoo.hookimpl
        def zoo_register_models() -> list[Path]:
            return [tmp_path / "site" / "zoo_lsgan" / "registry.toml"]

    pm = PluginManager()
    pm.register(Shipless(), name="lsgan")
    reset_plugin_manager(pm)
    try:
        with pytest.raises(zoo.UnknownNameError, match=r"unknown model 'lsgan.tiny'.*Registry files that plugins list but that do not "
                                                       r"exist: .*zoo_lsgan.registry.toml \(plugin 'lsgan'\).*package data"):
            zoo.load("lsgan.tiny")
        assert main(["list"]) == 0
        err = capsys.readouterr().err
        assert "zoo list: warning: Registry files that plugins list but that do not exist" in err and "registry.toml (plugin 'lsgan')" in err
        assert [i.status for i in pm.infos if i.name == "lsgan"] == ["loaded"], "not a failure: a first `zoo register` creates the file"
    finally:
        reset_plugin_manager()


def test_zoo_register_datasets_evaluators_and_commands_reach_the_user() -> None:
    from zoo.interfaces import Command

    class Extras:
        @staticmethod
        @zoo.hookimpl
        def zoo_register_commands() -> list[Command]:
            return [Command("hello", "Say hello.", "zoo hello", lambda p: p.add_argument("--who", default="zoo"), lambda a: print(f"hello {a.who}") or 0)]

        @staticmethod
        @zoo.hookimpl
        def zoo_register_evaluators() -> list[object]:
            class Mean:
                name = "mean"

                def evaluate(self, model: zoo.Method, **options: object) -> dict[str, float]:
                    return {"mean": float(model.sample(2, seed=0).mean()), "n": 2.0, "seed": 0.0}

            return [Mean()]

    pm = PluginManager()
    pm.register(Extras(), name="extras")
    reset_plugin_manager(pm)
    try:
        assert "hello" in pm.commands() and "mean" in pm.evaluators()
        assert "mnist" in pm.datasets()  # zoo_register_datasets: the core's own catalogue
        from zoo.cli import main

        assert main(["hello", "--who", "you"]) == 0
        assert isinstance(pm.evaluators()["mean"], zoo.Evaluator)
        x = pm.evaluators()["mean"].evaluate(zoo.build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}).eval())
        assert 0 <= x["mean"] <= 1 and not torch.isnan(torch.tensor(x["mean"]))
    finally:
        reset_plugin_manager()


SAMPLER_PLUGIN = {"sampler_plugin": '''
    import pydantic
    import zoo
    from zoo_plugins.ddpm import DiffusionSampler, SamplerOptions

    class QuadOptions(SamplerOptions):
        power: float = pydantic.Field(2.0, gt=0)

    class Quad(DiffusionSampler):
        """DDIM on the times n_T (1 - i / steps) ** power: more of them near t = 0."""

        name = "quad"
        Options = QuadOptions

        def timesteps(self, schedule, steps, options):
            k = steps or 10
            return sorted({round(schedule.n_T * (1 - i / k) ** options.power) for i in range(k + 1)}, reverse=True)

        def step(self, schedule, x, t, t_prev, eps, noise, state, options):
            assert (t == schedule.n_T) == (not state), "state is fresh for each batch and kept across its steps"
            state[t] = True
            return schedule.ddim_step(x, eps(x, t), t, t_prev)

    @zoo.hookimpl
    def zoo_register_ddpm_samplers():
        return [Quad()]
'''}


def test_a_plugin_adds_a_ddpm_sampler_through_the_hook_the_ddpm_plugin_declares(site: Path, tmp_path: Path) -> None:
    from zoo.cli import main
    from zoo.errors import ConfigError
    from zoo_plugins.ddpm import all_samplers
    from zoo_plugins.ddpm.evaluate import parse_samplers

    # its entry-point name sorts before 'ddpm', whose zoo_add_hookspecs declares the hook it implements
    make_dist(site, "sampler_dist", {"aaa_quad": "sampler_plugin"}, SAMPLER_PLUGIN)
    pm = PluginManager()
    reset_plugin_manager(pm)
    assert [i.status for i in pm.infos if i.name == "aaa_quad"] == ["loaded"]
    assert set(all_samplers()) == {"ddpm", "ddim", "dpmpp2m", "quad"} and pm.plugin_of("DDPM sampler", "quad") == "aaa_quad"
    model = zoo.build_method("ddpm", {"n_feat": 8, "n_T": 20}).eval()
    assert {"sampler": "quad"} in model.sample_variants  # the contract suite samples with it: seeding, global RNG, labels
    # power 1 visits DDIM's times (20, 15, 10, 5, 0) with DDIM's rule: the very images, so the knob reached the sampler
    assert torch.equal(model.sample(2, seed=0, sampler="quad", steps=4, power=1.0), model.sample(2, seed=0, sampler="ddim", steps=4))
    assert not torch.equal(model.sample(2, seed=0, sampler="quad", steps=4), model.sample(2, seed=0, sampler="ddim", steps=4))
    assert torch.allclose(model.sample(3, seed=0, sampler="quad", steps=4)[:2], model.sample(2, seed=0, sampler="quad", steps=4), atol=1e-5)
    with pytest.raises(ConfigError, match=r"sampler quad takes no sampling option \['eta'\].* with sampler quad, power"):
        model.sample(2, sampler="quad", eta=0.5)
    for steps in (0, 21, 2.5):  # checked for every sampler, before a plugin's timesteps() sees them
        with pytest.raises(ConfigError, match=r"steps must be a whole number in 1\.\.20"):
            model.sample(1, sampler="quad", steps=steps)
    assert parse_samplers("quad-4, ddim-4", 20) == [("quad", 4), ("ddim", 4)]
    weights = tmp_path / "ddpm.safetensors"
    zoo.save_model(model, weights)
    grid = tmp_path / "grid.png"
    assert main(["ddpm-grid", str(weights), "--sampler", "quad", "--steps", "3", "--set", "power=1.5", "--per-class", "1",
                 "--out", str(grid), "--quiet"]) == 0 and grid.is_file()


def test_the_contract_samples_with_a_plugins_sampler_and_fails_one_drawing_from_torchs_generator(site: Path) -> None:
    make_dist(site, "sampler_dist", {"leaky": "sampler_plugin_leaky"}, {"sampler_plugin_leaky": '''
        import torch
        import zoo
        from zoo_plugins.ddpm.samplers import DDIM

        class Leaky(DDIM):
            name = "leaky"

            def step(self, schedule, x, t, t_prev, eps, noise, state, options):
                return schedule.ddim_step(x, eps(x, t), t, t_prev, 1.0, torch.randn_like(x) if t_prev else None)  # not noise()

        @zoo.hookimpl
        def zoo_register_ddpm_samplers():
            return [Leaky()]
    '''})
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "zoo.contract", "--zoo-methods", "ddpm", "--zoo-models", "none", "-q", "-p", "no:cacheprovider",
         "-k", "test_sample_shape"],
        env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, cwd=site, timeout=300,
    )
    assert "1 failed" in run.stdout and "with {'sampler': 'leaky'}, the same seed must give the same images" in run.stdout, run.stdout[-2000:]


def test_a_plugin_sampler_named_as_zoos_own_is_skipped_and_zoos_own_still_sample(site: Path) -> None:
    make_dist(site, "sampler_dist", {"ddim_again": "sampler_plugin_twin"}, {"sampler_plugin_twin": '''
        import zoo
        from zoo_plugins.ddpm.samplers import DDIM

        @zoo.hookimpl
        def zoo_register_ddpm_samplers():
            return [DDIM()]  # zoo's own rule under zoo's own name: "two plugins register 'ddim'" would stop every DDPM
    '''})
    reset_plugin_manager(PluginManager())
    model = zoo.build_method("ddpm", {"n_feat": 8, "n_T": 10}).eval()
    with pytest.warns(ZooPluginWarning, match=r"'ddim_again'.*registers the DDPM sampler 'ddim', which is zoo's own; rename it"):
        assert model.sample(1, seed=0, steps=2).shape == (1, 3, 28, 28)


def test_a_plugins_wrong_sampler_is_skipped_alone_shown_failed_and_wrong_times_name_the_plugin(site: Path) -> None:
    from zoo.errors import PluginError as Refused

    make_dist(site, "sampler_dist", {"mixed": "sampler_plugin_mixed"}, {"sampler_plugin_mixed": '''
        import zoo
        from zoo_plugins.ddpm import DiffusionSampler
        from zoo_plugins.ddpm.samplers import DDIM

        class Floaty(DDIM):
            name = "floaty"

            def timesteps(self, schedule, steps, options):
                return [float(t) for t in super().timesteps(schedule, steps, options)]  # 0.0 would index the schedule

        @zoo.hookimpl
        def zoo_register_ddpm_samplers():
            return [Floaty(), "not a sampler"]
    '''})
    pm = PluginManager()
    reset_plugin_manager(pm)
    with pytest.warns(ZooPluginWarning, match=r"'mixed'.*registered 'not a sampler' as a DDPM sampler.*; that item was skipped"):
        infos = pm.checked_infos()  # `zoo plugins` calls the plugin's hook too, not only zoo's own
    assert [i.status for i in infos if i.name == "mixed"][0].startswith("failed: zoo_register_ddpm_samplers")
    model = zoo.build_method("ddpm", {"n_feat": 8, "n_T": 10}).eval()
    with pytest.warns(ZooPluginWarning), pytest.raises(Refused, match=r"sampler 'floaty' \(Floaty, plugin 'mixed'\) gave the times \[10\.0, "):
        model.sample(1, sampler="floaty", steps=2)  # its good item is kept, and judged when used


EXTENDER = '''
    import sys
    import zoo

    class Specs:  # made afresh on every call: zoo must ask once
        @zoo.hookspec
        def zoo_register_widgets():
            """Widgets."""

    Specs.ZOO_COLLECT = @COLLECT@

    @zoo.hookimpl
    def zoo_add_hookspecs():
        return @RETURNS@
'''


@pytest.mark.parametrize(("collect", "returns", "problem"), [
    ("{}", "[type('Fresh', (Specs,), {})]", None),
    ("{'zoo_register_widget': ('widget', str, print)}", "[Specs]", r"ZOO_COLLECT entry for 'zoo_register_widget' is not \(kind, key, check\)"),
    ("{'zoo_register_widgets': ('widget', str)}", "[Specs]", r"ZOO_COLLECT entry for 'zoo_register_widgets' is not"),
    ("{'zoo_register_ddpm_samplers': ('sampler', str, print)}", "[Specs]", r"ZOO_COLLECT entry for 'zoo_register_ddpm_samplers'"),
    ("{}", "[Specs, 42]", r"declares hooks zoo cannot add and was skipped: its zoo_add_hookspecs returned 42: it declares no hook\. Return"),
])
def test_a_plugins_own_hooks_are_declared_whole_and_once_or_not_at_all(site: Path, collect: str, returns: str, problem: str | None) -> None:
    make_dist(site, "ext_dist", {"ext": "sampler_plugin_ext"}, {"sampler_plugin_ext": EXTENDER.replace("@COLLECT@", collect).replace("@RETURNS@", returns)})
    if problem is None:  # asked once: a second call's fresh class would clash with the first's hook
        pm = PluginManager()
        assert pm.has_hook("zoo_register_widgets") and [i.status for i in pm.infos if i.name == "ext"] == ["loaded"]
        return
    with pytest.warns(ZooPluginWarning, match=problem):
        pm = PluginManager()
    assert not pm.has_hook("zoo_register_widgets"), "a plugin refused here declares none of its hooks"
    assert "check_sampler" in repr(pm._declared["zoo_register_ddpm_samplers"]), "nor changes how another plugin's hook is checked"


def test_a_sampler_without_a_step_and_an_item_a_declared_key_fails_on_are_skipped_alone(site: Path) -> None:
    make_dist(site, "sampler_dist", {"nostep": "sampler_plugin_nostep"}, {"sampler_plugin_nostep": '''
        import zoo
        from zoo_plugins.ddpm import DiffusionSampler

        class NoStep(DiffusionSampler):
            name = "nostep"

        @zoo.hookimpl
        def zoo_register_ddpm_samplers():
            return [NoStep()]
    '''})
    pm = PluginManager()
    with pytest.warns(ZooPluginWarning) as caught:
        assert "nostep" not in pm.collect("zoo_register_ddpm_samplers")
    message = str(caught[0].message)
    assert "registered the DDPM sampler 'nostep' (NoStep) without a step()" in message and ".)" not in message

    class Specs:
        @staticmethod
        @zoo.hookspec
        def zoo_register_widgets() -> list:
            """Widgets."""

    Specs.ZOO_COLLECT = {"zoo_register_widgets": ("widget", str.upper, lambda item, plugin: None)}  # the key fails on a non-string

    class Extender:
        @staticmethod
        @zoo.hookimpl
        def zoo_add_hookspecs() -> list:
            return [Specs]

    class Widgets:
        @staticmethod
        @zoo.hookimpl
        def zoo_register_widgets() -> list:
            return ["ok", 5]

    pm = PluginManager(load_entry_points=False)
    pm.register(Extender(), name="ext")
    pm.register(Widgets(), name="widgets")
    with pytest.warns(ZooPluginWarning, match=r"'widgets'.*zoo_register_widgets failed \(TypeError: .*\); that item was skipped"):
        assert pm.collect("zoo_register_widgets") == {"OK": "ok"}


def test_a_failing_zoo_add_hookspecs_is_named_with_its_error() -> None:
    class Raises:
        @staticmethod
        @zoo.hookimpl
        def zoo_add_hookspecs() -> list:
            raise RuntimeError("boom")

    with pytest.raises(PluginError, match=r"^plugin 'raises' \(registered in code\): its zoo_add_hookspecs failed \(RuntimeError: boom\)$"):
        PluginManager(load_entry_points=False).register(Raises(), name="raises")


def test_a_plugin_refused_for_its_hookspecs_and_fixed_declares_them_when_registered_again() -> None:
    class Specs:
        @staticmethod
        @zoo.hookspec
        def zoo_register_widgets() -> list:
            """Widgets."""

    Specs.ZOO_COLLECT = {"zoo_register_widget": ("widget", str, print)}  # a typo: refused

    class Extender:
        @staticmethod
        @zoo.hookimpl
        def zoo_add_hookspecs() -> list:
            return [Specs]

    pm, plugin = PluginManager(load_entry_points=False), Extender()
    with pytest.raises(PluginError, match="ZOO_COLLECT entry for 'zoo_register_widget'"):
        pm.register(plugin, name="ext")
    Specs.ZOO_COLLECT = {"zoo_register_widgets": ("widget", str, lambda item, plugin: None)}
    pm.register(plugin, name="ext")  # asked again: the refusal added nothing and marked nothing
    assert pm.has_hook("zoo_register_widgets")


def test_a_sampler_plugin_is_inactive_not_broken_while_the_ddpm_plugin_is_blocked(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(site, "sampler_dist", {"aaa_quad": "sampler_plugin"}, SAMPLER_PLUGIN)
    monkeypatch.setenv("ZOO_BLOCK_PLUGINS", "ddpm")
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")  # not an error either: blocking what it extends is the user's choice
    pm = PluginManager()
    assert [i.status for i in pm.infos if i.name == "aaa_quad"] == [
        "inactive: it implements only zoo_register_ddpm_samplers, which no loaded plugin declares (blocked: ddpm)"]
    assert "Inactive, as what they extend did not load: aaa_quad" in pm.failures()
    # a misspelt hook is still the author's error to hear of, whatever else is blocked
    make_dist(site, "typo_dist", {"typo": "sampler_plugin_typo"}, {"sampler_plugin_typo": '''
        import zoo

        @zoo.hookimpl
        def zoo_register_method():
            return []
    '''})
    with pytest.raises(PluginError, match=r"'typo' .* registers nothing: .*zoo_register_method \(did you mean zoo_register_methods\?\)"):
        PluginManager()


def test_an_unknown_sampler_names_the_plugins_that_did_not_load(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.errors import ConfigError

    make_dist(site, "sampler_dist", {"aaa_quad": "sampler_plugin"}, SAMPLER_PLUGIN)
    monkeypatch.setenv("ZOO_BLOCK_PLUGINS", "aaa_quad")
    reset_plugin_manager(PluginManager())
    with pytest.raises(ConfigError, match=r"unknown sampler 'quad'.*Blocked by ZOO_BLOCK_PLUGINS: aaa_quad"):
        zoo.build_method("ddpm", {"n_feat": 8, "n_T": 10}).sample(1, sampler="quad")


def test_a_plugin_whose_hookspecs_clash_is_skipped_naming_the_hook(site: Path) -> None:
    make_dist(site, "sampler_dist", {"clashing_specs": "sampler_plugin_specs"}, {"sampler_plugin_specs": '''
        import sys
        import zoo

        @zoo.hookspec
        def zoo_register_ddpm_samplers():
            """The DDPM plugin's hook, declared a second time."""

        @zoo.hookimpl
        def zoo_add_hookspecs():
            return [sys.modules[__name__]]
    '''})
    with pytest.warns(ZooPluginWarning, match=r"'clashing_specs' .* declares hooks zoo cannot add and was skipped: .*the hook zoo_register_ddpm_samplers is declared already"):
        pm = PluginManager()
    assert [i.status for i in pm.infos if i.name == "clashing_specs"][0].startswith("failed")
    assert "ddim" in pm.collect("zoo_register_ddpm_samplers", "DDPM sampler", lambda s: s.name, lambda *_: None)
    with pytest.raises(PluginError, match="no loaded plugin declares the hook 'zoo_register_nothing'"):
        pm.collect("zoo_register_nothing", "thing", str, lambda *_: None)


def test_every_hook_is_documented_and_exercised_by_a_test() -> None:
    hooks = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("zoo_")]
    assert hooks
    test_sources = "\n".join(p.read_text() for p in TESTS.glob("test_*.py") if p.name != Path(__file__).name)
    test_sources += Path(__file__).read_text().split("def test_every_hook_is_documented")[0]
    for name in hooks:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"hook {name} has no docstring"
        assert name in test_sources, f"no test exercises the hook {name}"


def test_the_contract_fails_a_plugin_whose_dataset_or_evaluator_hook_is_broken(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(site, "wrong_extras_dist", {"wrong_extras": "wrong_extras"}, WRONG_EXTRAS)
    monkeypatch.setenv("EXTRAS_BUG", "raise")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "zoo.contract", "--zoo-methods", "none", "--zoo-models", "none", "-q", "-p", "no:cacheprovider"],
        env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, cwd=site, timeout=300,
    )
    assert "FAILED" in run.stdout and "test_every_plugin_loads_and_its_hooks_register_what_they_should" in run.stdout, run.stdout[-2000:]
    assert "wrong_extras (wrong_extras_dist 0.1.0): failed: zoo_register_evaluators: RuntimeError: evaluator hook boom" in run.stdout


def test_a_plugin_called_before_the_core_still_cannot_replace_a_core_dataset() -> None:
    pm = PluginManager(load_entry_points=False)

    class Late:
        @staticmethod
        @zoo.hookimpl(trylast=True)  # first in pluggy's list of implementations (it calls them last to first)
        def zoo_register_datasets() -> list:
            return [zoo.data.DatasetInfo(name="mnist", description="not MNIST", kind="stand-in", source="", license="", size="",
                                         resolution="", read=lambda split, folder: None)]

    pm.register(Late(), name="late")
    with pytest.warns(ZooPluginWarning, match=r"'late'.*registers the dataset 'mnist', which is zoo's own"):
        assert pm.datasets()["mnist"].description.startswith("MNIST handwritten digits")
    assert pm.plugin_of("dataset", "mnist") == "zoo.data"


def test_dann_table_workers_end_at_once_when_their_parent_stops_them() -> None:
    code = ("import os, signal; from zoo_plugins.dann.table import _worker_init; _worker_init(os.getppid()); "
            "from zoo.training import StopAfterStep\n"
            "with StopAfterStep(): print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, signal.getsignal(signal.SIGINT) is signal.SIG_IGN)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["True", "True"], run.stdout + run.stderr  # pool.terminate()'s SIGTERM kills, Ctrl-C is the parent's
