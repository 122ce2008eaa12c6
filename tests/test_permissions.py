"""Files and folders the system will not let zoo read or write: one line naming the path, and the exit status of what it is.

The tests run as root in CI, whom chmod does not stop, so `deny` makes the OS calls refuse a path as it would refuse
another user: the calls pathlib, open and gzip make (stat, lstat, scandir, open, access) raise EACCES under it.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
from pathlib import Path

import pytest
import torch

from tests.test_cli import face_folder, train_tiny
from tests.test_data_readers import mnist_folder
from zoo.cli import main


def deny(monkeypatch: pytest.MonkeyPatch, path: Path, *, folder: bool) -> None:
    """Refuse `path` as chmod 000 would to another user: a folder's entries cannot be listed or reached, a file cannot be opened."""
    path = Path(os.path.abspath(path))

    def under(p: object) -> bool:  # what a refused folder hides (a refused file hides nothing: it can still be stat'ed)
        return folder and not isinstance(p, int) and path in Path(os.path.abspath(os.fsdecode(p))).parents  # type: ignore[arg-type]

    def at(p: object) -> bool:
        return not isinstance(p, int) and Path(os.path.abspath(os.fsdecode(p))) == path  # type: ignore[arg-type]

    def wrap(module: object, name: str, refused: object) -> None:
        real = getattr(module, name)

        def guarded(p: object, *args: object, **kwargs: object) -> object:
            if refused(p):  # type: ignore[operator]
                raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(p))  # type: ignore[arg-type]
            return real(p, *args, **kwargs)

        monkeypatch.setattr(module, name, guarded)

    for name in ("stat", "lstat"):
        wrap(os, name, under)
    for module, name in ((os, "scandir"), (os, "listdir"), (os, "open"), (io, "open"), (builtins, "open")):
        wrap(module, name, lambda p: at(p) or under(p))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if at(p) or under(p) else real_access(p, mode, **kw))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_an_unreadable_weights_file_is_a_weights_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"not read")
    deny(monkeypatch, weights, folder=False)
    code, err = run(capsys, "info", str(weights))
    assert code == 3 and f"weights file {weights}: permission denied" in err and "Give your user access" in err


def test_an_unreadable_registry_file_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    registry = tmp_path / "registry.toml"
    registry.write_text("[models]\n")
    monkeypatch.setenv("ZOO_REGISTRY", str(registry))
    deny(monkeypatch, registry, folder=False)
    code, err = run(capsys, "list")
    assert code == 2 and f"registry file {registry}: permission denied" in err


def test_a_run_folder_in_a_refused_folder_is_an_output_error_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    faces = face_folder(tmp_path / "faces")
    deny(monkeypatch, tmp_path / "locked", folder=True)
    assert train_tiny(faces, tmp_path / "locked" / "run") == 7
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"run folder --out {tmp_path / 'locked' / 'run'}: permission denied" in err


def test_an_output_image_in_a_refused_folder_is_an_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    deny(monkeypatch, tmp_path / "locked", folder=True)
    out = tmp_path / "locked" / "new" / "grid.png"
    code, err = run(capsys, "sample", "dcgan.mnist64", "-n", "2", "--device", "cpu", "--out", str(out))
    assert code == 7 and f"cannot write {out}: permission denied" in err


def test_unreadable_data_is_a_data_error_naming_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    faces = face_folder(tmp_path / "faces")
    with monkeypatch.context() as m:
        deny(m, faces, folder=True)
        assert train_tiny(faces, tmp_path / "run") == 4
        err = capsys.readouterr().err
        assert "Traceback" not in err and f"data path {faces}: permission denied" in err, err
    mnist = mnist_folder(tmp_path / "data" / "mnist")
    deny(monkeypatch, mnist / "train-images-idx3-ubyte.gz", folder=False)
    assert train_tiny("mnist", tmp_path / "run", "--data-dir", str(tmp_path / "data")) == 4
    err = capsys.readouterr().err
    assert "Traceback" not in err and "permission denied (" in err and "train-images-idx3-ubyte.gz" in err
    assert "copy the file again" not in err, "a refused file is not a damaged one"


def test_zoo_datasets_lists_every_set_when_one_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    mnist = mnist_folder(tmp_path / "data" / "mnist")
    deny(monkeypatch, mnist, folder=True)
    code = main(["datasets", "--data-dir", str(tmp_path / "data")])
    out = capsys.readouterr().out
    assert code == 0 and "present: no (dataset 'mnist' in" in out and "permission denied" in out
    assert "\nsvhn (" in out, "the sets after it are listed too"


def test_a_permission_error_no_check_names_is_still_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import zoo.cli

    def refuse(args: object) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", "/somewhere/file")

    monkeypatch.setitem(zoo.cli.COMMANDS, "list", refuse)
    code, err = run(capsys, "list")
    assert code == 1 and err.strip() == "zoo list: error: permission denied: /somewhere/file. Give your user access to it, or use another path."


def test_a_refused_folder_above_the_file_is_named_with_the_same_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    deny(monkeypatch, locked, folder=True)  # pathlib's is_file()/is_dir() raise there before any file is opened
    code, err = run(capsys, "info", str(locked / "run"))
    assert code == 3 and f"model {locked / 'run'}: permission denied" in err
    monkeypatch.setenv("ZOO_REGISTRY", str(locked / "registry.toml"))
    code, err = run(capsys, "list")
    assert code == 2 and f"registry file {locked / 'registry.toml'}: permission denied" in err
    monkeypatch.delenv("ZOO_REGISTRY")
    code, err = run(capsys, "register", str(locked / "run"), "a.b", "--registry", str(tmp_path / "r.toml"))
    assert code == 3 and f"run {locked / 'run'}: permission denied" in err
    assert train_tiny(locked / "faces", tmp_path / "run") == 4
    assert f"data {locked / 'faces'}: permission denied" in capsys.readouterr().err


def test_registered_names_are_used_from_a_working_folder_one_cannot_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.data.labels import parse_data_label

    monkeypatch.chdir(tmp_path)
    deny(monkeypatch, tmp_path, folder=True)  # the relative name 'dcgan.mnist64' stats as a path in it, and is refused
    code, err = run(capsys, "sample", "dcgan.mnist64", "-n", "1", "--out", str(tmp_path.parent / f"{tmp_path.name}-g.png"))
    assert code == 0, err
    assert parse_data_label("mnist") == {"train": "mnist"}


def test_the_trainer_api_names_a_refused_run_folder_before_it_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.data import ImageSet
    from zoo.errors import OutputError
    from zoo.training import TrainConfig, Trainer

    deny(monkeypatch, tmp_path / "locked", folder=True)
    images = ImageSet(torch.zeros(8, 1, 8, 8, dtype=torch.uint8), None, "zeros")
    with pytest.raises(OutputError, match=r"run folder .*locked.*: permission denied"):
        Trainer("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}, {"train": images}, tmp_path / "locked" / "run", TrainConfig(steps=1, device="cpu"))
