"""Weights files: safetensors with zoo metadata, hashes, clear errors, atomic writes, the URL cache."""

from __future__ import annotations

import json
import os
import time
import re
import struct
from pathlib import Path

import pytest
import safetensors.torch
import torch

from zoo.errors import WeightsError
from zoo.files import atomic_write
from zoo.weights import load_tree, read_weights, resolve_weights, save_tree, save_weights, sha256_file


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "w.safetensors"
    save_weights(path, {"a.weight": torch.arange(6.0).view(2, 3), "a.n": torch.tensor(3)}, method="dcgan", config={"nz": 8})
    return path


def test_round_trip_carries_method_config_and_version(weights: Path) -> None:
    tensors, meta = read_weights(weights, sha256=sha256_file(weights))
    assert torch.equal(tensors["a.weight"], torch.arange(6.0).view(2, 3))
    assert meta.method == "dcgan" and meta.config == {"nz": 8} and meta.version


def test_float16_storage_casts_only_floating_tensors(tmp_path: Path) -> None:
    path = tmp_path / "h.safetensors"
    save_weights(path, {"w": torch.ones(2), "n": torch.tensor(1)}, method="m", config={}, dtype=torch.float16)
    tensors, _ = read_weights(path)
    assert tensors["w"].dtype == torch.float16 and tensors["n"].dtype == torch.int64


def test_missing_file_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"nope\.safetensors does not exist.*Put the file there"):
        read_weights(tmp_path / "nope.safetensors")


def test_wrong_hash_names_file_expected_and_found(weights: Path) -> None:
    with pytest.raises(WeightsError, match=rf"{weights.name}.*expected sha256 {'0' * 64}, found {sha256_file(weights)}"):
        read_weights(weights, sha256="0" * 64)


@pytest.mark.parametrize("keep", [4, 20, -3])
def test_truncated_file_is_reported_as_truncated(weights: Path, keep: int) -> None:
    data = weights.read_bytes()
    weights.write_bytes(data[:keep])
    with pytest.raises(WeightsError, match=rf"{weights.name}.*truncated"):
        read_weights(weights)


def test_tampered_header_fails_the_registry_hash(weights: Path) -> None:
    sha = sha256_file(weights)
    data = bytearray(weights.read_bytes())
    i = data.index(b'{\\"nz\\": 8}')
    data[i : i + 10] = b'{\\"nz\\": 9}'
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="does not match its registry entry"):
        read_weights(weights, sha256=sha)


def test_tampered_tensors_fail_the_digest_in_the_header(weights: Path) -> None:
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="tampered"):
        read_weights(weights)


def test_corrupt_header_json_is_a_clear_error(weights: Path) -> None:
    data = bytearray(weights.read_bytes())
    data[8] = ord("x")
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="corrupt header"):
        read_weights(weights)


def test_a_plain_safetensors_file_is_not_a_zoo_file(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    safetensors.torch.save_file({"x": torch.zeros(1)}, path)
    with pytest.raises(WeightsError, match="not a zoo weights file.*zoo.method"):
        read_weights(path)


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_tree_round_trip_keeps_types_and_int_keys(tmp_path: Path) -> None:
    tree = {"step": 3, "opt": {"state": {0: {"exp_avg": torch.ones(2), "step": torch.tensor(5.0)}}, "param_groups": [{"betas": (0.5, 0.9), "lr": 2e-4, "params": [0]}]}, "none": None}
    save_tree(tmp_path / "c.safetensors", tree)
    back = load_tree(tmp_path / "c.safetensors")
    assert back["step"] == 3 and back["none"] is None
    assert torch.equal(back["opt"]["state"][0]["exp_avg"], torch.ones(2))
    assert back["opt"]["param_groups"][0]["betas"] == (0.5, 0.9)


def test_url_weights_are_cached_by_content(tmp_path: Path, weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    sha = sha256_file(weights)
    local = resolve_weights(weights.as_uri(), sha, tmp_path)
    assert local.parent.parent == tmp_path / "cache" and local.name.startswith(sha)
    assert sha256_file(local) == sha
    weights.unlink()  # a second resolve must not fetch again
    assert resolve_weights(weights.as_uri(), sha, tmp_path) == local


def test_a_download_is_bounded_and_leaves_nothing_behind(tmp_path: Path, weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.weights

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    with pytest.raises(WeightsError, match=r"file:///dev/zero: /dev/zero is not a regular file"):
        resolve_weights("file:///dev/zero", "0" * 64, tmp_path)  # an endless stream: refused before a byte is written
    sha = sha256_file(weights)
    old = tmp_path / "cache" / sha[:2] / f".{sha}-{weights.name}.x1y2x1y2.tmp"  # a download killed outright an hour ago
    old.parent.mkdir(parents=True)
    old.write_bytes(b"part")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    monkeypatch.setattr(zoo.weights, "MAX_DOWNLOAD_BYTES", weights.stat().st_size - 1)
    with pytest.raises(WeightsError, match=r"send more than .* GiB, far more than a model here; stopped, nothing was cached"):
        resolve_weights(weights.as_uri(), sha, tmp_path)
    assert not any(p.is_file() for p in (tmp_path / "cache").rglob("*")), "no file, not even a temporary one, is left"


def test_offline_missing_url_says_where_to_put_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(WeightsError, match=r"ZOO_OFFLINE.*put it at .*cache"):
        resolve_weights("https://example.org/w.safetensors", "a" * 64, tmp_path)


def test_header_is_plain_json_with_zoo_metadata(weights: Path) -> None:
    data = weights.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    meta = json.loads(data[8 : 8 + n])["__metadata__"]
    assert {"zoo.method", "zoo.config", "zoo.version", "zoo.tensors_sha256"} <= set(meta)


def test_the_same_content_gives_the_same_bytes(tmp_path: Path) -> None:
    tensors = {"b": torch.ones(3), "a": torch.zeros(2, dtype=torch.int64)}
    shas = {save_weights(tmp_path / f"{i}.safetensors", tensors, method="m", config={"x": 1}) for i in range(5)}
    assert len(shas) == 1
    assert safetensors.torch.load_file(tmp_path / "0.safetensors")["b"].sum() == 3


def test_atomic_write_gives_ordinary_permissions(tmp_path: Path) -> None:
    with atomic_write(tmp_path / "f.bin") as f:
        f.write(b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o666 & ~umask


def test_atomic_write_keeps_a_replaced_files_mode_and_refuses_a_read_only_one(tmp_path: Path) -> None:
    from zoo.errors import OutputError

    private = tmp_path / "registry.toml"
    private.write_text("a")
    private.chmod(0o600)
    with atomic_write(private, "w") as f:
        f.write("b")
    assert private.read_text() == "b" and private.stat().st_mode & 0o777 == 0o600, "a private file stays private"
    private.chmod(0o400)
    with pytest.raises(OutputError, match=r"registry\.toml \(it is read-only; if it should change, make it writable \(chmod u\+w\)"):
        with atomic_write(private, "w") as f:
            f.write("c")
    assert private.read_text() == "b" and [p.name for p in tmp_path.iterdir()] == ["registry.toml"]


def test_check_writable_leaves_no_folder_it_made(tmp_path: Path) -> None:
    from zoo.files import check_writable

    check_writable(tmp_path / "a" / "b" / "w.safetensors")
    assert not (tmp_path / "a").exists(), "a refused job must leave nothing; atomic_write makes the folders when it writes"


def test_a_changed_config_in_the_header_is_caught_by_its_digest(weights: Path) -> None:
    _rewrite_header(weights, lambda h: {**h, "__metadata__": {**h["__metadata__"], "zoo.config": '{"nz": 9}'}})
    with pytest.raises(WeightsError, match=r"was tampered with: its header's metadata \(method, config\)"):
        read_weights(weights)


def test_a_damaged_checkpoint_or_a_weights_file_is_named_with_what_to_do(tmp_path: Path, weights: Path) -> None:
    path = tmp_path / "checkpoint.safetensors"
    save_tree(path, {"step": 3, "model": {"w": torch.arange(4.0)}})
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x10  # one bit of a tensor: the values still parse
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"checkpoint .* is damaged: .* Start afresh\."):
        load_tree(path, "Start afresh.")
    with pytest.raises(WeightsError, match=r"is not a zoo checkpoint \(.*a weights file, perhaps\)\. Give a run folder\."):
        load_tree(weights, "Give a run folder.")
    path.write_bytes(bytes(data[:40]))
    with pytest.raises(WeightsError, match=r"checkpoint .* is truncated or not safetensors: .* Start afresh\."):
        load_tree(path, "Start afresh.")


def test_a_folder_or_an_unknown_scheme_as_weights_is_named(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"is a folder; expected a \.safetensors file"):
        read_weights(tmp_path)
    with pytest.raises(WeightsError, match=r"ftp://example\.com/w\.safetensors: zoo fetches http://, https:// and file:// addresses only"):
        resolve_weights("ftp://example.com/w.safetensors", "0" * 64, tmp_path)


def _rewrite_header(path: Path, edit) -> None:
    """Replace the JSON header of the safetensors file at `path` with `edit(header)` (tensor bytes kept)."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    text = json.dumps(edit(json.loads(data[8 : 8 + n]))).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n :])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda h: list(h), r"malformed safetensors header \(the header is a JSON list"),
        (lambda h: {**h, "a.n": {"dtype": "I64", "shape": []}}, r"malformed safetensors header \('data_offsets'\)"),
        (lambda h: {**h, "__metadata__": 5}, r"malformed safetensors header \(its __metadata__ is a JSON int, not an object\)"),
        (lambda h: {**h, "a.n": {**h["a.n"], "data_offsets": [0, 1e400]}}, r"malformed safetensors header \(cannot convert float infinity"),
    ],
)
def test_malformed_header_is_a_weights_error(weights: Path, edit, message: str) -> None:
    _rewrite_header(weights, edit)
    with pytest.raises(WeightsError, match=message):
        read_weights(weights)


def test_config_that_is_not_a_json_object_is_refused(weights: Path) -> None:
    _rewrite_header(weights, lambda h: {**h, "__metadata__": {**h["__metadata__"], "zoo.config": "[1, 2]"}})
    with pytest.raises(WeightsError, match=r"zoo\.config is '\[1, 2\]'; expected a JSON object"):
        read_weights(weights)


def test_a_file_without_its_tensor_digest_is_checked_or_refused(weights: Path) -> None:
    old = ("zoo.tensors_sha256", "zoo.metadata_sha256")  # as a file of an older zoo: neither digest
    _rewrite_header(weights, lambda h: {**h, "__metadata__": {k: v for k, v in h["__metadata__"].items() if k not in old}})
    with pytest.raises(WeightsError, match=r"carries no zoo\.tensors_sha256 and no sha256 was given"):
        read_weights(weights)  # by path alone nothing could vouch for its tensors
    tensors, _ = read_weights(weights, sha256=sha256_file(weights))  # a registry's sha256 covers the whole file
    assert torch.equal(tensors["a.n"], torch.tensor(3))


@pytest.mark.parametrize("where", ["folder", "through_a_file"])
def test_unwritable_targets_are_output_errors_and_leave_nothing(tmp_path: Path, where: str) -> None:
    from zoo.errors import OutputError
    from zoo.files import check_writable

    (tmp_path / "a_file").write_text("x")
    target = tmp_path if where == "folder" else tmp_path / "a_file" / "out.png"
    with pytest.raises(OutputError, match=rf"cannot write {target} .*a folder you can write to"):
        check_writable(target)
    with pytest.raises(OutputError, match=rf"cannot write {target}"):
        with atomic_write(target) as f:
            f.write(b"never")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"] and (tmp_path / "a_file").read_text() == "x"


def test_a_device_or_pipe_is_never_replaced_by_a_file(tmp_path: Path) -> None:
    # `zoo sample ... --out /dev/null` once replaced the device with a PNG (as root); a named pipe stands in for it here
    import os

    from zoo.errors import OutputError
    from zoo.files import check_writable

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for attempt in (lambda: check_writable(fifo), lambda: atomic_write(fifo).__enter__()):
        with pytest.raises(OutputError, match="not a regular file"):
            attempt()
    assert fifo.is_fifo() and sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_download_that_does_not_match_its_sha256_is_not_cached(tmp_path: Path, weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    sha, good = sha256_file(weights), weights.read_bytes()
    weights.write_bytes(good[:-3])  # the server sends a damaged file once
    with pytest.raises(WeightsError, match=rf"have sha256 [0-9a-f]{{64}}, not the {sha}.*Nothing was cached"):
        resolve_weights(weights.as_uri(), sha, tmp_path)
    assert not any(p.is_file() for p in (tmp_path / "cache").rglob("*")), "no file, not even a temporary one, is left"
    weights.write_bytes(good)  # fixed: the next load fetches it
    local = resolve_weights(weights.as_uri(), sha, tmp_path)
    assert sha256_file(local) == sha
    local.write_bytes(good[:-3])  # damaged on disk later: fetched again
    assert sha256_file(resolve_weights(weights.as_uri(), sha, tmp_path)) == sha
    local.write_bytes(good[:-3])
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(WeightsError, match=r"in the cache is damaged"):
        resolve_weights("https://example.org/" + local.name.split("-", 1)[1], sha, tmp_path)


def test_a_new_file_follows_the_umask_set_after_import(tmp_path: Path) -> None:
    old = os.umask(0o077)  # a script that makes its outputs private once its imports are done
    try:
        with atomic_write(tmp_path / "private.bin") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "private.bin").stat().st_mode & 0o777 == 0o600


def test_metadata_other_tools_add_is_no_tampering(weights: Path) -> None:
    _rewrite_header(weights, lambda h: {**h, "__metadata__": {**h["__metadata__"], "format": "pt"}})  # as Hugging Face tools write
    _, meta = read_weights(weights)
    assert meta.config == {"nz": 8}


def test_writing_to_a_symbolic_link_replaces_its_target_not_the_link(tmp_path: Path) -> None:
    target = tmp_path / "target.png"
    target.write_bytes(b"old")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    with atomic_write(link) as f:
        f.write(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"


def test_torch_save_files_and_checkpoints_given_as_weights_say_what_they_are(tmp_path: Path) -> None:
    torch.save({"w": torch.zeros(2)}, tmp_path / "model.pt")
    with pytest.raises(WeightsError, match=r"model\.pt is a torch\.save or pickle file: zoo loads safetensors files only and never unpickles"):
        read_weights(tmp_path / "model.pt")
    save_tree(tmp_path / "checkpoint.safetensors", {"step": 1, "w": torch.zeros(2)})
    with pytest.raises(WeightsError, match=r"is a `zoo train` checkpoint \(the whole training state\), not a weights file\. Give the run folder"):
        read_weights(tmp_path / "checkpoint.safetensors")


def test_output_paths_that_cannot_be_files_are_named_for_what_they_are(tmp_path: Path) -> None:
    from zoo.errors import OutputError
    from zoo.files import check_writable

    (tmp_path / "a.png").write_bytes(b"x")
    with pytest.raises(OutputError, match=r"a\.png is a file, not a folder"):
        check_writable(tmp_path / "a.png" / "x.png")
    with pytest.raises(OutputError, match=r"no output file was given \(an empty path, or"):
        check_writable("")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="only root can make a file another user's")
def test_root_rewriting_a_users_file_leaves_it_theirs(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.png"
    theirs.write_bytes(b"old")
    os.chown(theirs, 4321, 4321)
    with atomic_write(theirs) as f:
        f.write(b"new")
    assert theirs.read_bytes() == b"new" and (theirs.stat().st_uid, theirs.stat().st_gid) == (4321, 4321)


def test_a_rename_the_os_refuses_is_a_zoo_error_and_leaves_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo import files as w
    from zoo.errors import OutputError

    def refused(src: str, dst: object) -> None:  # as another user's file in a sticky folder (/tmp) refuses a non-root user
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(w.os, "replace", refused)
    with pytest.raises(OutputError, match=r"theirs\.png \(Operation not permitted\): the new file could not replace it"):
        with atomic_write(tmp_path / "theirs.png") as f:
            f.write(b"new")
    assert list(tmp_path.iterdir()) == []


def test_another_users_file_in_a_sticky_folder_is_refused_before_the_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import stat as st

    from zoo import files as w
    from zoo.errors import OutputError
    from zoo.files import check_writable

    (tmp_path / "theirs.png").write_bytes(b"old")
    os.chown(tmp_path / "theirs.png", 4321, 4321) if os.geteuid() == 0 else None
    tmp_path.chmod(tmp_path.stat().st_mode | st.S_ISVTX)
    monkeypatch.setattr(w, "_euid", lambda: 1234)  # a user who owns neither the file nor the folder
    with pytest.raises(OutputError, match=r"it belongs to another user \(uid \d+\) in a folder where only a file's owner may replace it"):
        check_writable(tmp_path / "theirs.png")


def test_weights_from_a_newer_zoo_name_the_file_and_the_versions(tmp_path: Path) -> None:
    # a config field this zoo does not know (a newer zoo added it): not "--set key=value", which cannot apply to a file
    import zoo
    from zoo.loading import build_method, load_file
    from zoo.weights import save_weights

    model = build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2})
    path = tmp_path / "newer.safetensors"
    save_weights(path, model.inference_state_dict(), method="dcgan", config={**model.config.model_dump(), "from_the_future": True})
    with pytest.raises(zoo.ConfigError, match=rf"weights file {re.escape(str(path))}: from_the_future.*written by zoo {re.escape(zoo.__version__)}.*upgrade zoo"):
        load_file(path)


def test_a_header_nested_thousands_deep_is_a_weights_error_not_a_recursion_error(tmp_path: Path) -> None:
    text = b"[" * 100_000 + b"]" * 100_000
    path = tmp_path / "deep.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text)
    with pytest.raises(WeightsError, match=r"deep\.safetensors has a corrupt header \(RecursionError\)"):
        read_weights(path)


def test_a_text_write_keeps_the_files_line_ending(tmp_path: Path) -> None:
    """A registry kept in git with CRLF stays CRLF when zoo rewrites it; a new file is LF on every system."""
    crlf, new = tmp_path / "crlf.toml", tmp_path / "new.toml"
    crlf.write_bytes(b"a = 1\r\nb = 2\r\n")
    for path in (crlf, new):
        with atomic_write(path, "w") as f:
            f.write("a = 1\nb = 3\n")
    assert crlf.read_bytes() == b"a = 1\r\nb = 3\r\n" and new.read_bytes() == b"a = 1\nb = 3\n"


def test_a_cache_folder_that_cannot_be_written_uses_a_local_file_where_it_lies(tmp_path: Path, weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another user's cache (a shared ZOO_CACHE): a file:// source is checked and used in place; a download says where to cache."""
    import zoo.weights

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(zoo.files.os, "access", lambda *a, **k: False)
    sha = sha256_file(weights)
    with pytest.warns(UserWarning, match=r"cannot write weights .* going on without caching it.*Set ZOO_CACHE"):
        assert resolve_weights(weights.as_uri(), sha, tmp_path) == weights
    with pytest.raises(WeightsError, match=r"the cache folder .* is not writable.*Set ZOO_CACHE to a folder you can write to"):
        resolve_weights("https://example.org/w.safetensors", "a" * 64, tmp_path)


def test_a_checkpoint_whose_metadata_is_not_an_object_is_a_weights_error(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.safetensors"
    save_tree(path, {"step": 3, "w": torch.ones(2)})
    _rewrite_header(path, lambda h: {**h, "__metadata__": 5})
    with pytest.raises(WeightsError, match=r"checkpoint\.safetensors has a malformed safetensors header \(its __metadata__ is a JSON int"):
        load_tree(path)


def test_a_damaged_key_name_does_not_switch_a_checkpoints_digest_off(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.safetensors"
    save_tree(path, {"model": {"w": torch.ones(3)}, "step": 5})
    data = bytearray(path.read_bytes())
    (n,) = struct.unpack("<Q", data[:8])
    key = data.index(b"zoo.tree_sha256")
    data[key + 8] ^= 0x01  # zoo.tree_sha256 -> zoo.tree^sha256: the digest would look absent, as in an older checkpoint
    data[8 + n + 3] ^= 0x40  # and the top byte of w[0]: float32 1.0 -> inf
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"is damaged: its header holds 'zoo\.tree\^sha256', not among the keys zoo writes .* Start afresh\."):
        load_tree(path, "Start afresh.")


def test_a_checkpoint_from_before_the_digest_loads_and_its_damaged_structure_is_a_weights_error(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.safetensors"
    save_tree(path, {"model": {"w": torch.ones(3)}, "step": 5})
    _rewrite_header(path, lambda h: {**h, "__metadata__": {"zoo.tree": h["__metadata__"]["zoo.tree"]}})  # as save_tree wrote it then
    assert load_tree(path)["step"] == 5
    _rewrite_header(path, lambda h: {**h, "__metadata__": {"zoo.tree": h["__metadata__"]["zoo.tree"].replace("/model/w", "/model/v")}})
    with pytest.raises(WeightsError, match=r"is damaged: its structure does not match its tensors \(KeyError: '/model/v'\)\. Start afresh\."):
        load_tree(path, "Start afresh.")


def test_a_run_record_nested_thousands_deep_is_a_config_error(tmp_path: Path) -> None:
    from zoo.errors import ConfigError
    from zoo.files import read_record

    (tmp_path / "run.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match=r"run\.json is damaged \(JSON nested too deeply\); expected the JSON object `zoo train` writes\."):
        read_record(tmp_path / "run.json", "Restore it.")
