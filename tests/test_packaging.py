"""zoo installed from its wheel, away from a checkout: the shipped models come with it, and its registry is not written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build zoo's wheel from this checkout and unpack it into a site folder (what `pip install zoo-*.whl` lays out)."""
    src, dist, site = (tmp_path_factory.mktemp(name) for name in ("src", "dist", "site"))
    # from a copy of what a clone holds: setuptools writes build/ and *.egg-info beside the sources
    for name in ("pyproject.toml", "README.md", "LICENSE", "registry.toml"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("zoo", "plugins", "weights"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(src)],
                           capture_output=True, text=True, timeout=300, cwd=dist)
    if build.returncode != 0 and "No module named" in build.stderr:  # pip or setuptools missing from this interpreter
        pytest.skip(f"cannot build a wheel here: {build.stderr.strip()[-200:]}")
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = dist.glob("zoo-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(site)
    shipped = {n.removeprefix("zoo/_shipped/") for n in names if n.startswith("zoo/_shipped/")}
    assert shipped == {"registry.toml", *(f"weights/{p.name}" for p in (ROOT / "weights").glob("*.safetensors"))}, "registry.toml and every shipped weights file, nothing else"
    assert not any(n.startswith(("tests/", "docs/", "benchmarks/", "runs/", "zoo/_shipped/tests", "zoo/_shipped/docs")) for n in names), sorted(names)
    # pyproject.toml lists the packages by hand: a new one left out of the list would be missing from every install
    packages = {f"zoo/{p.parent.relative_to(ROOT / 'zoo').as_posix()}/__init__.py".replace("/./", "/") for p in (ROOT / "zoo").rglob("__init__.py")}
    packages |= {f"zoo_plugins/{p.parent.relative_to(ROOT / 'plugins').as_posix()}/__init__.py".replace("/./", "/") for p in (ROOT / "plugins").rglob("__init__.py")}
    assert packages <= names, f"packages missing from the wheel (add them to pyproject.toml's packages): {sorted(packages - names)}"
    return site


def _python(site: Path, code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("ZOO_REGISTRY", "PYTHONPATH")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**clean, "PYTHONPATH": str(site), **env})


def test_an_installed_zoo_loads_and_samples_its_shipped_models(installed: Path, tmp_path: Path) -> None:
    code = ("import zoo, zoo.registry as r; m = zoo.load('dcgan.mnist64'); "
            "print(r.INSTALLED, r.SHIPPED.parent.parent.name, tuple(m.sample(n=2, seed=0).shape), sorted(zoo.list()))")
    run = _python(installed, code, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split(" ", 3)[:3] == ["True", "zoo", "(2,"], run.stdout  # read from the package, not a checkout
    assert "'classifier.mnistm'" in run.stdout and "'ddpm.mnistm'" in run.stdout


def test_an_installed_zoo_refuses_to_write_its_own_registry_and_takes_a_users(installed: Path, tmp_path: Path) -> None:
    code = ("import zoo, zoo.registry as r, zoo.registration as w\n"
            "try:\n    w.check_registration('dcgan.mine')\nexcept zoo.ConfigError as e:\n    print('refused:', e)\n"
            "try:\n    w.update_entry('dcgan.mnist64', {'metrics': {'only_written_here': 1.0}}, r.SHIPPED)\nexcept zoo.ConfigError as e:\n    print('refused:', e)\n")
    run = _python(installed, code, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("refused:") == 2 and "registry of the installed zoo package" in run.stdout and "ZOO_REGISTRY" in run.stdout, run.stdout
    assert "only_written_here" not in (installed / "zoo" / "_shipped" / "registry.toml").read_text()
    assert not (installed / "registry.toml").exists() and not (installed / "weights").exists()

    # zoo eval --write says so before the evaluation (dcgan.mnist64's plan is 10,000 images and FID), not after it
    env = {k: v for k, v in os.environ.items() if k not in ("ZOO_REGISTRY", "PYTHONPATH")}
    run = subprocess.run([sys.executable, "-m", "zoo", "eval", "dcgan.mnist64", "--write"], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path, env={**env, "PYTHONPATH": str(installed), "ZOO_DATA": str(tmp_path / "no-data")})
    assert run.returncode == 2 and "registry of the installed zoo package" in run.stderr and "gan:" not in run.stdout, (run.stdout, run.stderr)

    mine = tmp_path / "mine" / "registry.toml"  # the user's own file: writable, and the shipped models still found by name
    code = "import zoo.registry as r, zoo.registration as w; print(w.check_registration('dcgan.mine')); print(r.entry('classifier.mnistm').source)"
    run = _python(installed, code, tmp_path, ZOO_REGISTRY=str(mine))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines() == [str(mine), str(installed / "zoo" / "_shipped" / "registry.toml")]


def test_a_checkout_reads_and_writes_its_top_level_registry() -> None:
    from zoo.registry import INSTALLED, SHIPPED

    assert (SHIPPED, INSTALLED) == (ROOT / "registry.toml", False)


def test_the_version_is_one_in_pyproject_and_the_package() -> None:
    import tomllib

    import zoo

    # written in both places: a release bumps the two together (results, weights and run records carry zoo.__version__)
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == zoo.__version__
