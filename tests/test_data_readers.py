"""Real-format readers (MNIST IDX, SVHN .mat, USPS .bz2, the seed layout) on fixtures written by the tests."""

from __future__ import annotations

import bz2
import gzip
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zoo import data
from zoo.data.registry import detect_path_format, is_present
from zoo.errors import DataError

RNG = np.random.default_rng(0)


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    """Write `array` (uint8) as an IDX file, gzip-compressed if `compress`."""
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)


def mnist_folder(folder: Path, n_train: int = 12, n_test: int = 5, compress: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", RNG.integers(0, 256, (n, 28, 28)), compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, compress)
    return folder


def svhn_folder(folder: Path, n: int = 7) -> tuple[Path, np.ndarray, np.ndarray]:
    from scipy.io import savemat

    folder.mkdir(parents=True, exist_ok=True)
    x = RNG.integers(0, 256, (32, 32, 3, n)).astype(np.uint8)
    y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8)  # 1..10, 10 meaning 0
    for name in ("train_32x32.mat", "test_32x32.mat"):
        savemat(folder / name, {"X": x, "y": y})
    return folder, x, y


def usps_text(labels: list[int], values: np.ndarray) -> bytes:
    lines = [f"{lab} " + " ".join(f"{i + 1}:{v:.6f}" for i, v in enumerate(row)) for lab, row in zip(labels, values)]
    return ("\n".join(lines) + "\n").encode()


def usps_folder(folder: Path, n: int = 6) -> tuple[Path, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    values = RNG.uniform(-1, 1, (n, 256))
    for name in ("usps.bz2", "usps.t.bz2"):
        (folder / name).write_bytes(bz2.compress(usps_text([i % 10 + 1 for i in range(n)], values)))
    return folder, values


def seed_folder(folder: Path, size: int = 28, mode: str = "RGB", n: int = 6) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        rows = ["image_name,label"]
        for i in range(n):
            name = f"{split}_{i:05d}.png"
            shape = (size, size, 3) if mode == "RGB" else (size, size)
            Image.fromarray(RNG.integers(0, 256, shape).astype(np.uint8), mode).save(folder / "data" / name)
            rows.append(f"{name},{i % 10}")
        (folder / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return folder



def authors_mnistm_folder(folder: Path, n: int = 6) -> Path:
    """MNIST-M as its authors' mnist_m.tar.gz unpacks: mnist_m_<split>/NNNNNNNN.png and mnist_m_<split>_labels.txt."""
    for split in ("train", "test"):
        (folder / f"mnist_m_{split}").mkdir(parents=True, exist_ok=True)
        lines = []
        for i in range(n):
            name = f"{i:08d}.png"
            Image.fromarray(RNG.integers(0, 256, (28, 28, 3)).astype(np.uint8)).save(folder / f"mnist_m_{split}" / name)
            lines.append(f"{name} {(i * 7 + (split == 'test')) % 10}")
        (folder / f"mnist_m_{split}_labels.txt").write_text("\n".join(lines) + "\n")
    return folder

# ---- MNIST ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
def test_mnist_reads_plain_and_gzip_idx(tmp_path: Path, compress: bool) -> None:
    root = tmp_path / "data"
    mnist_folder(root / "mnist", compress=compress)
    train = data.load("mnist", "train", root=root)
    assert train.images.shape == (12, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.labels.tolist() == [i % 10 for i in range(12)] and len(data.load("mnist", "test", root=root)) == 5


def test_truncated_idx_names_the_file(tmp_path: Path) -> None:
    folder = mnist_folder(tmp_path / "mnist", compress=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="train-images-idx3-ubyte is truncated"):
        data.load(folder, "train")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda raw: gzip.compress(raw)[:-40], r"cannot read .*train-images-idx3-ubyte\.gz \(Compressed file ended"),  # cut-off stream
        (lambda raw: raw, r"cannot read .*train-images-idx3-ubyte\.gz \(Not a gzipped file"),  # plain bytes named .gz
        (lambda raw: gzip.compress(raw[:6]), r"train-images-idx3-ubyte\.gz is truncated: its header names 3 dimensions"),  # header cut short
        (lambda raw: gzip.compress(raw + bytes(10)), r"train-images-idx3-ubyte\.gz has trailing bytes"),
        # two bits flipped in the deflate stream (its first block's type becomes the reserved 3): zlib.error, not an OSError
        (lambda raw: (lambda z: z[:10] + bytes([z[10] | 0b110]) + z[11:])(gzip.compress(raw)),
         r"cannot read .*train-images-idx3-ubyte\.gz \(Error -3 while decompressing data: invalid block type"),
        # a header claiming 2**64 bytes (it wrapped to 0 in int64) or 2**40: refused before a byte of data is read
        (lambda raw: gzip.compress(b"\x00\x00\x08\x04" + struct.pack(">4I", *[65536] * 4)), r"says \(65536, 65536, 65536, 65536\), .* more than any MNIST file"),
        (lambda raw: gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">3I", 1 << 24, 256, 256) + bytes(1000)), r"more than any MNIST file holds"),
    ],
)
def test_damaged_gzip_idx_is_a_data_error(tmp_path: Path, damage, message: str) -> None:
    folder = mnist_folder(tmp_path / "mnist")
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(damage(gzip.decompress(path.read_bytes())))  # `damage` maps the IDX bytes to the file's new bytes
    with pytest.raises(DataError, match=message):
        data.load(folder, "train")


def test_an_idx_header_claiming_too_much_is_refused_before_the_data_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1 MB .gz may inflate to gigabytes: only the header is read before its claim is refused."""
    from zoo.data.mnist import read_idx

    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">3I", 1 << 24, 256, 256) + bytes(1000)))
    reads, read = [], gzip.GzipFile.read
    monkeypatch.setattr(gzip.GzipFile, "read", lambda self, n=-1: reads.append(n) or read(self, n))
    with pytest.raises(DataError, match="more than any MNIST file holds"):
        read_idx(path)
    assert reads == [4, 12], "the magic number, then the three dimensions; no data"


def test_idx_images_of_another_size_are_not_mnist(tmp_path: Path) -> None:
    folder = mnist_folder(tmp_path / "mnist")
    write_idx(folder / "train-images-idx3-ubyte", RNG.integers(0, 256, (12, 32, 32)), compress=True)
    with pytest.raises(DataError, match=r"images \(12, 32, 32\).*expected \(N, 28, 28\)"):
        data.load(folder, "train")


# ---- SVHN -----------------------------------------------------------------------------------------

def test_svhn_mat_in_torchvision_format(tmp_path: Path) -> None:
    folder, x, y = svhn_folder(tmp_path / "svhn")
    s = data.load("svhn", "test", root=tmp_path)
    assert s.images.shape == (7, 3, 32, 32) and s.images.dtype == torch.uint8
    assert torch.equal(s.images[3], torch.from_numpy(x[:, :, :, 3]).permute(2, 0, 1))  # (H, W, C, N) -> (N, C, H, W)
    assert s.labels.tolist() == [1, 2, 3, 4, 5, 6, 7]  # 1..10 with 10 meaning digit 0
    y[0] = 10
    from scipy.io import savemat

    savemat(folder / "train_32x32.mat", {"X": x, "y": y})
    assert data.load(folder, "train").labels[0] == 0


def test_svhn_mat_without_y_names_the_file_and_format(tmp_path: Path) -> None:
    from scipy.io import savemat

    (tmp_path / "svhn").mkdir()
    savemat(tmp_path / "svhn" / "train_32x32.mat", {"X": np.zeros((32, 32, 3, 2), np.uint8)})
    with pytest.raises(DataError, match=r"train_32x32\.mat lacks the variable\(s\) y.*X \(32, 32, 3, N\)"):
        data.load("svhn", "train", root=tmp_path)


def test_svhn_file_that_is_not_a_mat_file(tmp_path: Path) -> None:
    (tmp_path / "svhn").mkdir()
    (tmp_path / "svhn" / "train_32x32.mat").write_bytes(b"not a matlab file at all" * 10)
    with pytest.raises(DataError, match=r"cannot read SVHN file .*train_32x32\.mat.*MATLAB v5"):
        data.load("svhn", "train", root=tmp_path)


def test_empty_svhn_file_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "svhn").mkdir()
    (tmp_path / "svhn" / "train_32x32.mat").write_bytes(b"")
    with pytest.raises(DataError, match=r"cannot read SVHN file .*train_32x32\.mat"):
        data.load("svhn", "train", root=tmp_path)


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        (np.full((32, 32, 3, 2), 0.5), np.array([[1], [2]], np.uint8), r"X holds float64 values; expected uint8"),  # would load as black
        (np.zeros((32, 32, 3, 2), np.uint8), np.array([[1.7], [2.0]]), r"y holds non-integer labels"),  # would truncate to 1
        # text, a cell array and a struct: np.round raised a TypeError on them
        (np.zeros((32, 32, 3, 1), np.uint8), np.array(["5"]), r"y holds text; expected the classes 1\.\.10 as numbers"),
        (np.zeros((32, 32, 3, 1), np.uint8), np.array([[np.array([5.0])]], dtype=object), r"y holds a cell array; expected the classes"),
        (np.zeros((32, 32, 3, 1), np.uint8), {"a": 5}, r"y holds a struct; expected the classes"),
    ],
)
def test_svhn_values_of_the_wrong_kind_are_not_cast(tmp_path: Path, x: np.ndarray, y: np.ndarray, message: str) -> None:
    from scipy.io import savemat

    (tmp_path / "svhn").mkdir()
    savemat(tmp_path / "svhn" / "train_32x32.mat", {"X": x, "y": y})
    with pytest.raises(DataError, match=message):
        data.load("svhn", "train", root=tmp_path)


@pytest.mark.parametrize(
    ("damage", "raised"),
    [
        (lambda b: b[:68], "IndexError"),  # cut inside the 128-byte header: scipy raised IndexError
        (lambda b: b[:4000] + bytes([b[4000] ^ 0x04]) + b[4001:], "error"),  # a bit flipped in the compressed X: zlib.error
    ],
)
def test_a_damaged_svhn_file_is_a_data_error_not_scipys_exception(tmp_path: Path, damage, raised: str) -> None:
    from scipy.io import savemat

    (tmp_path / "svhn").mkdir()
    path = tmp_path / "svhn" / "train_32x32.mat"
    x, y = RNG.integers(0, 256, (32, 32, 3, 3)).astype(np.uint8), np.array([[1], [10], [5]], np.uint8)
    savemat(path, {"X": x, "y": y}, do_compression=True)  # compressed, as SVHN's own files are
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=rf"cannot read SVHN file .*train_32x32\.mat \({raised}: .*download it again"):
        data.load("svhn", "train", root=tmp_path)


@pytest.mark.parametrize(("name", "folder_of", "test_file"), [("svhn", svhn_folder, "test_32x32.mat"), ("usps", usps_folder, "usps.t.bz2")])
def test_a_split_file_alone_is_not_reported_present(tmp_path: Path, name: str, folder_of, test_file: str) -> None:
    folder = folder_of(tmp_path / name)[0]
    info = data.datasets()[name]
    assert is_present(info, tmp_path)
    (folder / test_file).unlink()  # the test split is gone: `zoo datasets` must not call the set present
    assert not is_present(info, tmp_path)


# ---- USPS -----------------------------------------------------------------------------------------

def test_usps_bz2_in_torchvision_format(tmp_path: Path) -> None:
    folder, values = usps_folder(tmp_path / "usps")
    s = data.load("usps", "train", root=tmp_path)
    assert s.images.shape == (6, 1, 16, 16) and s.images.dtype == torch.uint8
    assert s.labels.tolist() == [0, 1, 2, 3, 4, 5]  # 1..10 -> 0..9
    want = ((values.astype(np.float32) + 1) / 2 * 255).astype(np.uint8).reshape(-1, 1, 16, 16)  # torchvision's mapping
    assert np.abs(s.images.numpy().astype(int) - want.astype(int)).max() <= 1


def test_usps_label_out_of_range_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "usps").mkdir()
    (tmp_path / "usps" / "usps.bz2").write_bytes(bz2.compress(usps_text([3, 11], np.zeros((2, 256)))))
    with pytest.raises(DataError, match=r"usps\.bz2, line 2: label 11 is out of range 1\.\.10"):
        data.load("usps", "train", root=tmp_path)


@pytest.mark.parametrize(
    ("line", "message"),
    [("inf 1:0.5", r"line 1: cannot parse 'inf 1:0\.5'"), ("3 1:nan 2:0.5", r"line 1: cannot parse '3 1:nan")],
)
def test_usps_values_that_are_not_finite(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "usps").mkdir()
    (tmp_path / "usps" / "usps.bz2").write_bytes(bz2.compress(f"{line}\n".encode()))
    with pytest.raises(DataError, match=message):
        data.load("usps", "train", root=tmp_path)


def test_usps_fields_may_be_separated_by_tabs(tmp_path: Path) -> None:
    (tmp_path / "usps").mkdir()
    (tmp_path / "usps" / "usps.bz2").write_bytes(bz2.compress(b"3\t1:1.0 256:-1.0\n"))
    s = data.load("usps", "train", root=tmp_path)
    assert s.labels.tolist() == [2] and s.images[0, 0, 0, 0] == 255 and s.images[0, 0, 15, 15] == 0


def test_a_usps_file_inflating_past_the_cap_is_refused_after_reading_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1.5 KB .bz2 inflated to 4 GiB in memory before its first line was looked at."""
    from zoo.data import usps

    monkeypatch.setattr(usps, "_MAX_USPS_BYTES", 10_000)  # the cap, 64 MiB, scaled down; reads are counted below
    reads, read = [], bz2.BZ2File.read
    monkeypatch.setattr(bz2.BZ2File, "read", lambda self, n=-1: reads.append(n) or read(self, n))
    (tmp_path / "usps").mkdir()
    (tmp_path / "usps" / "usps.bz2").write_bytes(bz2.compress(b"1 " + b"0" * 1_000_000))
    with pytest.raises(DataError, match=r"usps\.bz2 inflates to more than 0 MiB, more than any USPS file holds"):
        data.load("usps", "train", root=tmp_path)
    assert reads == [10_001]
    monkeypatch.setattr(usps, "_MAX_USPS_BYTES", len(usps_text([3], np.zeros((1, 256)))))  # exactly the cap is read
    (tmp_path / "usps" / "usps.bz2").write_bytes(bz2.compress(usps_text([3], np.zeros((1, 256)))))
    assert data.load("usps", "train", root=tmp_path).labels.tolist() == [2]


@pytest.mark.parametrize(
    ("fields", "written"),
    [("0:0.5 2:0.5", "0"), ("1:0.5 257:0.5", "257"), ("1:0.5 1.5:-1", "1.5"), ("1e30:0.5", "1e30"), ("3:0.5 -2:0.5 0:1", "-2")],
)
def test_usps_feature_indices_that_are_not_whole_numbers_in_range_are_named_as_written(tmp_path: Path, fields: str, written: str) -> None:
    # index 0 was reported as 256 (the largest index), 1e30 as a large negative number, and 1.5 was read as feature 1
    (tmp_path / "usps").mkdir()
    (tmp_path / "usps" / "usps.bz2").write_bytes(bz2.compress(f"3 {fields}\n".encode()))
    with pytest.raises(DataError, match=rf"usps\.bz2, line 1: feature index {written} is not a whole number in 1\.\.256"):
        data.load("usps", "train", root=tmp_path)


def test_usps_file_that_is_not_bz2(tmp_path: Path) -> None:
    (tmp_path / "usps").mkdir()
    (tmp_path / "usps" / "usps.bz2").write_text("1 1:0.5\n")
    with pytest.raises(DataError, match=r"cannot read USPS file .*usps\.bz2.*bzip2-compressed libsvm"):
        data.load("usps", "train", root=tmp_path)


# ---- the seed layout ------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "size", "mode", "channels"), [("mnistm", 28, "RGB", 3), ("svhn", 32, "RGB", 3), ("usps", 28, "L", 1)])
def test_seed_layout_for_each_domain(tmp_path: Path, name: str, size: int, mode: str, channels: int) -> None:
    seed_folder(tmp_path / name, size, mode)
    train, test = data.load(name, "train", root=tmp_path), data.load(name, "test", root=tmp_path)
    assert train.images.shape == (6, channels, size, size) and len(test) == 6
    assert train.labels.tolist() == [0, 1, 2, 3, 4, 5] and train.name == name
    stored = np.asarray(Image.open(tmp_path / name / "data" / "val_00002.png"))
    got = test.images[2].permute(1, 2, 0).numpy()
    assert np.array_equal(got.squeeze(-1) if channels == 1 else got, stored)  # "test" reads val.csv


def test_seed_layout_with_sixteen_bit_usps_digits(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path / "digits16", 16, "L")  # a folder name that does not say the domain
    for p in (folder / "data").glob("*.png"):
        ink = np.zeros((16, 16), np.uint16)
        ink[4:12, 7:9] = 40000
        Image.fromarray(ink).save(p)  # PIL mode I;16: detected as USPS, and scaled, not clipped, to 8 bits
    s = data.load(folder, "train")
    assert s.name == "usps" and s.images.unique().tolist() == [0, 156]  # 40000 / 257


def test_csv_without_expected_columns(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path / "svhn", 32)
    (folder / "train.csv").write_text("file,digit\na.png,1\n")
    with pytest.raises(DataError, match=r"train\.csv lacks the column\(s\) image_name, label.*data/\*\.png with"):
        data.load("svhn", "train", root=tmp_path)


def test_csv_label_out_of_range(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path / "mnistm")
    (folder / "val.csv").write_text("image_name,label\nval_00000.png,3\nval_00001.png,12\n")
    with pytest.raises(DataError, match=r"val\.csv, line 3: label 12 is out of range 0\.\.9 \(image val_00001\.png\)"):
        data.load("mnistm", "test", root=tmp_path)


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path / "usps", 28, "L")
    (folder / "data" / "train_00004.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"cannot read image .*train_00004\.png"):
        data.load("usps", "train", root=tmp_path)


def test_listed_image_that_is_missing(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path / "svhn", 32)
    (folder / "data" / "train_00001.png").unlink()
    with pytest.raises(DataError, match=r"train_00001\.png is listed in the label file but does not exist.*val\.csv"):
        data.load("svhn", "train", root=tmp_path)


def test_wrong_layout_names_folder_and_expected_files(tmp_path: Path) -> None:
    (tmp_path / "svhn").mkdir()
    (tmp_path / "svhn" / "readme.txt").write_text("nothing here")
    with pytest.raises(DataError, match=r"SVHN folder .*svhn holds neither train_32x32\.mat.*seed layout"):
        data.load("svhn", "train", root=tmp_path)


def test_missing_root_names_where_files_go(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"dataset 'usps' needs its files in .*nowhere/usps \(DATA/usps/: usps\.bz2, usps\.t\.bz2"):
        data.load("usps", "train", root=tmp_path / "nowhere")



# ---- MNIST-M as its authors distribute it ----------------------------------------------------------

def test_mnistm_in_its_authors_layout_reads_with_its_labels_instead_of_being_built(tmp_path: Path) -> None:
    folder = authors_mnistm_folder(tmp_path / "mnistm")
    mnist_folder(tmp_path / "mnist")  # present too: the real MNIST-M must win over a build from it
    train, test = data.load("mnistm", "train", root=tmp_path), data.load("mnistm", "test", root=tmp_path)
    assert train.images.shape == (6, 3, 28, 28) and train.labels.tolist() == [0, 7, 4, 1, 8, 5] and test.labels.tolist() == [1, 8, 5, 2, 9, 6]
    stored = np.asarray(Image.open(folder / "mnist_m_test" / "00000003.png"))
    assert np.array_equal(test.images[3].permute(1, 2, 0).numpy(), stored)
    assert is_present(data.datasets()["mnistm"], tmp_path) and is_present(data.datasets()["mnistm"], str(tmp_path)), "a str root too"


def test_mnistm_unpacked_from_its_authors_tarball_into_data_mnistm_is_read_not_built(tmp_path: Path) -> None:
    authors_mnistm_folder(tmp_path / "mnistm" / "mnist_m")  # tar xzf mnist_m.tar.gz in DATA/mnistm/: its top folder is mnist_m/
    mnist_folder(tmp_path / "mnist")  # a build from it was used instead, without a word
    test = data.load("mnistm", "test", root=tmp_path)
    assert test.images.shape == (6, 3, 28, 28) and test.labels.tolist() == [1, 8, 5, 2, 9, 6]


def test_the_authors_tarball_unpacked_into_the_data_root_itself_is_not_taken_for_the_root_being_wrong(tmp_path: Path) -> None:
    from zoo.data.registry import _root_problem

    authors_mnistm_folder(tmp_path / "mnist_m")  # DATA/mnist_m/: the data root is right; the folder is misnamed
    assert _root_problem(tmp_path, tmp_path, data.datasets()["mnistm"]) == ""


def test_the_seed_layout_beside_a_nested_authors_folder_keeps_its_own_test_split(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path / "mnistm")  # val.csv labels 0..5; the nested authors' test split's are 1, 8, 5, 2, 9, 6
    authors_mnistm_folder(folder / "mnist_m")
    assert data.load("mnistm", "test", root=tmp_path).labels.tolist() == [0, 1, 2, 3, 4, 5]


def test_mnistm_in_its_authors_layout_is_recognised_as_a_path_not_read_as_a_two_class_folder(tmp_path: Path) -> None:
    folder = authors_mnistm_folder(tmp_path / "mnist_m")
    assert detect_path_format(folder) == "mnistm"
    s = data.load(folder, "test")
    assert s.name == "mnistm" and s.num_classes == 10 and s.labels.tolist() == [1, 8, 5, 2, 9, 6]


def test_mnistm_authors_label_file_with_a_bad_line_is_named(tmp_path: Path) -> None:
    folder = authors_mnistm_folder(tmp_path / "mnistm")
    (folder / "mnist_m_train_labels.txt").write_text("00000000.png 5\n00000001.png ten\n")
    with pytest.raises(DataError, match=r"mnist_m_train_labels\.txt, line 2: expected 'NAME\.png LABEL' with a label 0\.\.9, found '00000001\.png ten'"):
        data.load("mnistm", "train", root=tmp_path)
    (folder / "mnist_m_test_labels.txt").unlink()
    with pytest.raises(DataError, match=r"mnist_m_test_labels\.txt does not exist.*mnist_m_train/\*\.png and mnist_m_test/\*\.png"):
        data.load("mnistm", "test", root=tmp_path)


def test_mnistm_authors_label_file_saved_with_a_byte_order_mark_and_crlf_reads(tmp_path: Path) -> None:
    folder = authors_mnistm_folder(tmp_path / "mnistm")
    text = (folder / "mnist_m_test_labels.txt").read_text()
    (folder / "mnist_m_test_labels.txt").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", " \r\n").encode())  # Notepad's "UTF-8 with BOM"
    assert data.load("mnistm", "test", root=tmp_path).labels.tolist() == [1, 8, 5, 2, 9, 6]


def test_a_folder_of_pickles_is_refused_with_why(tmp_path: Path) -> None:
    (tmp_path / "mnistm_pkl").mkdir()
    (tmp_path / "mnistm_pkl" / "mnistm_data.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(DataError, match=r"It holds mnistm_data\.pkl: pickled files, which zoo never loads"):
        detect_path_format(tmp_path / "mnistm_pkl")

# ---- path detection -------------------------------------------------------------------------------

def test_detect_path_format(tmp_path: Path) -> None:
    assert detect_path_format(mnist_folder(tmp_path / "a")) == "mnist"
    assert detect_path_format(svhn_folder(tmp_path / "b")[0]) == "svhn"
    assert detect_path_format(usps_folder(tmp_path / "c")[0]) == "usps"
    assert detect_path_format(seed_folder(tmp_path / "mnistm")) == "mnistm"
    assert detect_path_format(seed_folder(tmp_path / "x" / "svhn", 32)) == "svhn"
    assert detect_path_format(seed_folder(tmp_path / "digits_a", 28, "L")) == "usps"  # unnamed: told by its images
    assert detect_path_format(seed_folder(tmp_path / "digits_b", 32)) == "svhn"
    faces = tmp_path / "faces"
    faces.mkdir()
    Image.new("RGB", (40, 30)).save(faces / "a.jpg")
    assert detect_path_format(faces) == "folder"
    assert detect_path_format(str(faces)) == "folder"  # a string works as everywhere else in the data API
    with pytest.raises(DataError, match="is a file; pass the folder"):
        detect_path_format(faces / "a.jpg")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"cannot tell what dataset .*empty holds.*train_32x32\.mat"):
        detect_path_format(tmp_path / "empty")


def test_load_by_path_uses_the_detected_reader(tmp_path: Path) -> None:
    s = data.load(usps_folder(tmp_path / "somewhere")[0], "test")
    assert s.name == "usps" and s.images.shape[1:] == (1, 16, 16)


# ---- what students' own copies get wrong ------------------------------------------------------------

def test_an_mnist_label_out_of_range_names_the_file_and_index(tmp_path: Path) -> None:
    folder = mnist_folder(tmp_path / "mnist")
    write_idx(folder / "train-labels-idx1-ubyte", np.array([1, 2, 200] + [0] * 9), True)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte\.gz: label 200 at index 2 \(and 0 more\) outside 0\.\.9"):
        data.load("mnist", "train", root=tmp_path)


def test_a_gzip_idx_file_without_gz_in_its_name_says_so(tmp_path: Path) -> None:
    folder = mnist_folder(tmp_path / "mnist")
    for p in folder.glob("*.gz"):
        p.rename(p.with_suffix(""))  # gzip bytes, plain names
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte is gzip-compressed but not named \.gz\. Rename it"):
        data.load("mnist", "test", root=tmp_path)


def test_svhn_label_zero_is_not_svhns(tmp_path: Path) -> None:
    from scipy.io import savemat

    (tmp_path / "svhn").mkdir()
    savemat(tmp_path / "svhn" / "train_32x32.mat", {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [10]], np.uint8)})
    with pytest.raises(DataError, match=r"labels span 0\.\.10; expected 1\.\.10"):
        data.load("svhn", "train", root=tmp_path)


@pytest.mark.parametrize(("text", "message"), [("3 1:200 2:0.5", r"line 1: pixel value 200 outside \[-1, 1\]"), ("2.7 1:0.5", r"line 1: cannot parse '2\.7")])
def test_usps_pixels_outside_their_range_and_fractional_labels_are_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "usps").mkdir()
    (tmp_path / "usps" / "usps.bz2").write_bytes(bz2.compress(f"{text}\n".encode()))
    with pytest.raises(DataError, match=message):  # they used to load as a white image and as class 1
        data.load("usps", "train", root=tmp_path)


def test_a_csv_saved_by_excel_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path / "mnistm")
    text = (folder / "train.csv").read_text()
    (folder / "train.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert len(data.load("mnistm", "train", root=tmp_path)) == 6


def test_a_seed_layout_without_its_label_file_names_the_file(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path / "mnistm")
    (folder / "train.csv").unlink()
    with pytest.raises(DataError, match=r"label file .*mnistm/train\.csv does not exist"):
        data.load("mnistm", "train", root=tmp_path)


def test_seed_layout_images_of_mixed_sizes_name_both(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path / "mnistm")
    Image.new("RGB", (32, 30)).save(folder / "data" / "train_00003.png")
    with pytest.raises(DataError, match=r"train_00003\.png is 32x30, expected 28x28: every image of mnistm must have one size, as train_00000\.png"):
        data.load("mnistm", "train", root=tmp_path)


def test_a_large_image_among_small_ones_is_refused_before_it_is_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.data import folder as folder_module

    folder = seed_folder(tmp_path / "mnistm")
    Image.new("RGB", (4096, 4096)).save(folder / "data" / "train_00003.png")  # 48 MiB decoded; listed 100 times, 4.8 GiB
    (folder / "train.csv").write_text("image_name,label\ntrain_00000.png,0\n" + "train_00003.png,3\n" * 100)
    decoded = []
    monkeypatch.setattr(folder_module.ImageOps, "exif_transpose", lambda im: decoded.append(im.size) or im)
    with pytest.raises(DataError, match=r"train_00003\.png is 4096x4096, expected 28x28"):
        data.load("mnistm", "train", root=tmp_path)
    assert decoded == [(28, 28)], "only the first image was decoded"


@pytest.mark.parametrize("name", ["../outside.png", "/etc/outside.png"])
def test_a_label_file_naming_a_file_outside_its_folder_is_refused(tmp_path: Path, name: str) -> None:
    folder = seed_folder(tmp_path / "svhn", 32)
    (folder / "val.csv").write_text(f"image_name,label\nval_00000.png,0\n{name},1\n")
    with pytest.raises(DataError, match=r"the label file of svhn lists '.*outside\.png', a path outside .*svhn/data"):
        data.load("svhn", "test", root=tmp_path)


@pytest.mark.parametrize(("mode", "kind"), [("I", "32-bit integer"), ("F", "floating-point")])
def test_thirty_two_bit_images_are_refused_not_clipped(tmp_path: Path, mode: str, kind: str) -> None:
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (20, 20)).save(folder / f"{i}.png")
    Image.fromarray(np.full((20, 20), 70000, np.int32 if mode == "I" else np.float32), mode).save(folder / "3.tiff")
    with pytest.raises(DataError, match=rf"3\.tiff holds {kind} pixels \(PIL mode {mode}\), whose range zoo cannot infer"):
        data.load(folder, "train")


def test_listed_images_turned_by_their_exif_orientation_are_compared_upright(tmp_path: Path) -> None:
    folder = seed_folder(tmp_path / "mnistm")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 30x20, shown turned a quarter: 20x30
    for name in ("train_00000.png", "train_00001.png"):
        Image.new("RGB", (30, 20)).save(folder / "data" / name, exif=exif)
    (folder / "train.csv").write_text("image_name,label\ntrain_00000.png,0\ntrain_00001.png,1\n")
    assert data.load("mnistm", "train", root=tmp_path).images.shape == (2, 3, 30, 20)


def test_an_image_pil_calls_a_decompression_bomb_is_a_data_error_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_folder(tmp_path / "mnistm")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 28x28 is then more than twice the limit, as a 196-megapixel PNG is
    with pytest.raises(DataError, match=r"cannot read image .*train_00000\.png \(Image size \(784 pixels\) exceeds limit"):
        data.load("mnistm", "train", root=tmp_path)


# ---- damaged and unusual image files --------------------------------------------------------------

def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def interlaced_png(gray: np.ndarray) -> bytes:
    """A gray PNG stored Adam7-interlaced (Pillow writes none): seven passes of sub-images, rows filtered with 'none'."""
    h, w = gray.shape
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b"".join(b"\x00" + row.tobytes() for x0, y0, dx, dy in passes for row in gray[y0::dy, x0::dx] if row.size)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 1)  # 8 bits, gray, interlace method 1 (Adam7)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b"")


def tiled_tiff(gray: np.ndarray, side: int = 16) -> bytes:
    """A gray TIFF stored in side x side tiles (Pillow writes strips only), the tiles at the right and bottom edges padded."""
    h, w = gray.shape
    ny, nx = -(-h // side), -(-w // side)
    padded = np.zeros((ny * side, nx * side), np.uint8)
    padded[:h, :w] = gray
    tiles = [padded[ty * side:(ty + 1) * side, tx * side:(tx + 1) * side].tobytes() for ty in range(ny) for tx in range(nx)]
    n, first = len(tiles), 8 + 2 + 12 * 10 + 4  # the header, then one IFD of 10 entries; then the tile offsets and byte counts
    data_at = first + 8 * n
    entries = [(256, 3, 1, w), (257, 3, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1), (277, 3, 1, 1),
               (322, 3, 1, side), (323, 3, 1, side), (324, 4, n, first), (325, 4, n, first + 4 * n)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHI" + ("HH" if t == 3 else "I"), tag, t, c, v, *([0] if t == 3 else []))
                                                     for tag, t, c, v in entries) + struct.pack("<I", 0)
    offsets = struct.pack(f"<{n}I", *(data_at + i * side * side for i in range(n))) + struct.pack(f"<{n}I", *[side * side] * n)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + offsets + b"".join(tiles)


def tiff_with_height(path: Path, height: int | None = None, rows_per_strip: int | None = None) -> None:
    """Save a 20x24 RGB TIFF of value 200, then overwrite its height tag (ImageLength) or RowsPerStrip, as damage would."""
    Image.fromarray(np.full((24, 20, 3), 200, np.uint8)).save(path)
    b = bytearray(path.read_bytes())
    at = struct.unpack("<I", b[4:8])[0]
    for i in range(struct.unpack("<H", b[at:at + 2])[0]):
        e = at + 2 + 12 * i
        tag, kind = struct.unpack("<HH", b[e:e + 4])
        value = height if tag == 257 else rows_per_strip if tag == 278 else None
        if value is not None:
            b[e + 8:e + 12] = struct.pack("<I", value) if kind == 4 else struct.pack("<HH", value, 0)
    path.write_bytes(bytes(b))


def _damaged_png(path: Path) -> None:
    Image.fromarray(RNG.integers(0, 256, (32, 32, 3)).astype(np.uint8)).save(path)
    b = bytearray(path.read_bytes())
    b[33:37] = struct.pack(">I", struct.unpack(">I", b[33:37])[0] - 100)  # the IDAT chunk's length, 100 short: "broken PNG file"
    path.write_bytes(bytes(b))


def _damaged_bmp(path: Path) -> None:
    buf = io.BytesIO()
    Image.new("P", (32, 32)).save(buf, "BMP")
    b = bytearray(buf.getvalue())
    b[46:50] = struct.pack("<I", 0x7FFF)  # biClrUsed, the palette's colour count: "invalid palette size"
    path.write_bytes(bytes(b))


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("3.png", _damaged_png, r"cannot read image .*3\.png \(broken PNG file"),  # SyntaxError
        ("3.bmp", _damaged_bmp, r"cannot read image .*3\.bmp \(invalid palette size"),  # ValueError, from Image.open in common_side too
        # its height tag damaged to 3,000,000: the one strip it holds was read and the rest left black, without a word
        ("3.tif", lambda p: tiff_with_height(p, height=3_000_000), r"image .*3\.tif is damaged: its header says 20x3000000 pixels"),
        # RowsPerStrip 0: PIL's strip had no rows, and loading it raised ValueError("tile cannot extend outside image")
        ("3.tif", lambda p: tiff_with_height(p, rows_per_strip=0), r"image .*3\.tif is damaged: its header says 20x24 pixels"),
    ],
)
def test_a_damaged_image_in_a_folder_is_a_data_error_naming_it(tmp_path: Path, name: str, damage, message: str) -> None:
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(RNG.integers(0, 256, (32, 32, 3)).astype(np.uint8)).save(folder / f"{i}.png")
    damage(folder / name)
    with pytest.raises(DataError, match=message):
        data.load(folder, "train")


def _saved(im: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


GRAY = RNG.integers(0, 256, (37, 29)).astype(np.uint8)  # sides that are not multiples of 8 or 16: edge tiles, partial passes
COLOUR = RNG.integers(0, 256, (37, 29, 3)).astype(np.uint8)
WIDE = RNG.integers(0, 65536, (37, 29)).astype(np.uint16)


@pytest.mark.parametrize(
    ("name", "encode", "mode", "want"),
    [
        ("interlaced.png", lambda: interlaced_png(GRAY), "L", GRAY),
        ("palette.png", lambda: _saved(Image.fromarray(COLOUR).quantize(16), "PNG"), "RGB", None),
        ("sixteen.png", lambda: _saved(Image.fromarray(WIDE), "PNG"), "L", np.round(WIDE / 257).astype(np.uint8)),
        ("progressive.jpg", lambda: _saved(Image.fromarray(COLOUR), "JPEG", progressive=True), "RGB", None),
        ("palette.bmp", lambda: _saved(Image.fromarray(COLOUR).quantize(16), "BMP"), "RGB", None),
        ("strips.tif", lambda: _saved(Image.fromarray(COLOUR), "TIFF", tiffinfo={278: 5}), "RGB", COLOUR),  # 8 strips, the last of 2 rows
        ("tiles.tif", lambda: tiled_tiff(GRAY), "L", GRAY),  # 2x3 tiles of 16x16, clipped at the edges
        ("palette.tif", lambda: _saved(Image.fromarray(COLOUR).quantize(16), "TIFF", tiffinfo={278: 7}), "RGB", None),
        ("sixteen.tif", lambda: _saved(Image.fromarray(WIDE), "TIFF", tiffinfo={278: 10}), "L", np.round(WIDE / 257).astype(np.uint8)),
        ("palette.gif", lambda: _saved(Image.fromarray(COLOUR).quantize(16), "GIF"), "RGB", None),
    ],
)
def test_valid_images_stored_in_parts_are_not_taken_for_damaged_ones(tmp_path: Path, name: str, encode, mode: str, want) -> None:
    from zoo.data.folder import read_image

    path = tmp_path / name
    path.write_bytes(encode())
    with Image.open(path) as im:  # what PIL itself reads, the reference where the exact pixels are not known beforehand
        parts = len(im.tile)  # before loading, which empties it
        expected = np.asarray(im.convert(mode)) if want is None else want
    assert parts == {"strips.tif": 8, "tiles.tif": 6, "palette.tif": 6, "sixteen.tif": 4}.get(name, 1)  # the files hold the parts meant
    got = read_image(path, None, mode)
    assert np.array_equal(got.reshape(expected.shape), expected)


def test_tiles_are_read_as_pillow_10_stores_them_too() -> None:
    # Pillow before 11 keeps an image's tiles as plain tuples (codec, extents, offset, args), without the .extents name:
    # reading that name failed every folder of images on a Pillow that pyproject allows
    from zoo.data.folder import _tiles_cover

    with Image.open(io.BytesIO(_saved(Image.fromarray(COLOUR), "TIFF", tiffinfo={278: 5}))) as im:
        im.tile = [tuple(t) for t in im.tile]
        assert _tiles_cover(im)
        im.tile = im.tile[:-1]  # the last strip gone: the rest of the image would read as black
        assert not _tiles_cover(im)
