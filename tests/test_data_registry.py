"""The dataset catalogue (`zoo datasets`), presence on this machine, the face folder, and the tensor loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import zoo
from zoo import data
from zoo.data import DatasetInfo, ImageSet, TensorLoader
from zoo.data.folder import is_test_file
from zoo.data.registry import is_present, presence
from zoo.errors import DataError

EXPECTED = {"mnist", "mnistm", "digits", "syndigits", "svhn", "usps", "folder"}


def test_catalogue_lists_every_dataset_with_its_facts() -> None:
    known = data.datasets()
    assert EXPECTED <= set(known)
    for name in EXPECTED:
        info = known[name]
        assert info.source and info.license and info.size and info.resolution and info.kind in ("real", "built", "stand-in")
    assert "STAND-IN for usps" in known["digits"].description and "STAND-IN for svhn" in known["syndigits"].description


def test_presence_follows_the_files(tmp_path: Path) -> None:
    known = data.datasets()
    assert is_present(known["digits"], None) and is_present(known["syndigits"], None)  # carried by packages
    for name in ("mnist", "mnistm", "svhn", "usps", "folder"):
        assert not is_present(known[name], tmp_path), name
    (tmp_path / "faces" / "people").mkdir(parents=True)
    Image.new("RGB", (80, 60)).save(tmp_path / "faces" / "people" / "a.png")
    assert presence(known["folder"], tmp_path).startswith("an image folder with one subfolder per class")
    (tmp_path / "svhn").mkdir()
    for split_file in ("train_32x32.mat", "test_32x32.mat"):  # presence looks at the files, not their contents
        (tmp_path / "svhn" / split_file).write_bytes(b"")
    assert "SVHN .mat files" in presence(known["svhn"], tmp_path)


def test_zoo_datasets_command_lists_names_and_presence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.cli import main

    assert main(["datasets", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    blocks = [b.strip().splitlines() for b in out.split("\n\n")[1:]]
    rows = {b[0].split()[0]: b[1].split("present:")[1].strip() for b in blocks}
    assert EXPECTED <= set(rows)
    assert rows["digits"] != "no" and rows["syndigits"] != "no" and rows["svhn"] == "no" and rows["mnistm"] == "no"


def test_a_plugin_dataset_with_only_required_globs_still_works(tmp_path: Path) -> None:
    info = DatasetInfo("x", "d", "real", "s", "l", "1", "1x1", read=lambda split, folder: None, folder="x", required=("*.bin",))  # type: ignore[arg-type, return-value]
    (tmp_path / "x").mkdir()
    assert not is_present(info, tmp_path)
    (tmp_path / "x" / "a.bin").write_bytes(b"")
    assert presence(info, tmp_path) == f"files matching *.bin in {tmp_path / 'x'}"


# ---- the face folder ------------------------------------------------------------------------------

def test_face_folder_is_center_cropped_to_64(tmp_path: Path) -> None:
    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(20):
        a = np.zeros((90, 120, 3), np.uint8)
        a[:, 15:105] = 200  # the centre square is bright, the sides that a centre crop removes are black
        Image.fromarray(a).save(folder / f"{i:03d}.jpg", quality=95)
    train, test = data.load(folder, "train"), data.load(folder, "test")
    held = sum(is_test_file(f"{i:03d}.jpg") for i in range(20))
    assert train.images.shape == (20 - held, 3, 64, 64) and test.images.shape == (held, 3, 64, 64) and train.labels is None
    assert train.images.float().mean() > 190


def test_image_folder_layout_gives_class_labels(tmp_path: Path) -> None:
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(10):
            Image.new("L", (32, 32), 100).save(tmp_path / c / f"{i}.png")
    s = data.load(tmp_path, "train")
    a, b = (sum(not is_test_file(f"{c}/{i}.png") for i in range(10)) for c in "ab")  # each class's own: a/1.png is test, b has none
    assert s.labels.tolist() == [0] * a + [1] * b and (a, b) == (9, 10) and s.num_classes == 2 and s.images.shape[1:] == (3, 32, 32), "all 32x32: kept so"


@pytest.mark.parametrize(("sizes", "side"), [([(28, 28)], 28), ([(32, 40), (40, 32)], 32), ([(28, 28), (32, 32)], 64), ([(100, 100)], 64),
                                             ([(64, 80)], 64)])
def test_a_folder_keeps_the_side_its_images_share_up_to_64(tmp_path: Path, sizes: list[tuple[int, int]], side: int) -> None:
    g = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(g.integers(0, 256, (*sizes[i % len(sizes)][::-1], 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    s = data.load(tmp_path, "train")
    assert s.images.shape[1:] == (3, side, side), "digits at 28x28 stay sharp; mixed or larger sides meet at 64x64"
    if sizes == [(28, 28)]:  # untouched: the pixels of the files themselves
        assert torch.equal(s.images[0], torch.from_numpy(np.array(Image.open(tmp_path / "0.png"))).permute(2, 0, 1))


def test_class_labels_and_file_order_do_not_follow_the_platforms_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.data.folder import list_images

    for c in ("bird", "Cat"):
        (tmp_path / c).mkdir()
        for name in ("b.png", "A.png"):
            Image.new("L", (32, 32), 100).save(tmp_path / c / name)
    # Windows compares paths ignoring case, Linux and macOS do not: the labels (and the train/test split) must not change
    monkeypatch.setattr(type(tmp_path), "__lt__", lambda a, b: str(a).casefold() < str(b).casefold())
    files, labels, classes = list_images(tmp_path)
    assert classes == ["Cat", "bird"] and labels == [0, 0, 1, 1]  # as torchvision's ImageFolder: names sorted as strings
    assert [f.name for f in files] == ["A.png", "b.png", "A.png", "b.png"]


def test_class_folder_without_images_is_an_error(tmp_path: Path) -> None:
    for c in ("a", "b", "c"):
        (tmp_path / c).mkdir()
    for c in ("a", "c"):
        for i in range(10):
            Image.new("L", (32, 32), 100).save(tmp_path / c / f"{i}.png")
    (tmp_path / "b" / "notes.txt").write_text("no images here")  # class b would take label 1 and shift c to 2
    with pytest.raises(DataError, match=r"class folder\(s\) b in .* hold no images"):
        data.load(tmp_path, "train")


def test_sixteen_bit_gray_is_scaled_not_clipped(tmp_path: Path) -> None:
    for i in range(10):
        Image.fromarray(np.full((32, 32), 30000, np.uint16)).save(tmp_path / f"{i}.png")  # PIL mode I;16
    assert Image.open(tmp_path / "0.png").mode == "I;16"
    s = data.load(tmp_path, "train")
    assert s.images.unique().tolist() == [117]  # 30000 / 257, where PIL's convert("L") gives 255


def test_float_image_is_refused_with_its_mode(tmp_path: Path) -> None:
    for i in range(10):
        Image.fromarray(np.full((32, 32), 0.5, np.float32)).save(tmp_path / f"{i}.tif")
    with pytest.raises(DataError, match=r"0\.tif holds floating-point pixels \(PIL mode F\).*8 or 16 bits"):
        data.load(tmp_path, "train")


def test_face_folder_unreadable_image_is_named(tmp_path: Path) -> None:
    for i in range(3):
        Image.new("RGB", (64, 64)).save(tmp_path / f"{i}.png")
    (tmp_path / "1.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"cannot read image .*1\.png"):
        data.load(tmp_path, "all")


# ---- the loader -----------------------------------------------------------------------------------

def test_tensor_loader_batches_adapt_and_resume() -> None:
    images = torch.arange(40 * 28 * 28, dtype=torch.int64).remainder(256).to(torch.uint8).view(40, 1, 28, 28)
    s = ImageSet(images, torch.arange(40) % 10, "t", 10)
    loader = TensorLoader(s, 8, size=32, channels=3, seed=1)
    batches = [next(loader) for _ in range(7)]  # crosses an epoch boundary
    assert batches[0].x.shape == (8, 3, 32, 32) and batches[0].x.dtype == torch.float32
    assert 0 <= float(batches[0].x.min()) and float(batches[0].x.max()) <= 1
    seen = torch.cat([b.y for b in batches[:5]])
    assert sorted(seen.tolist()) == sorted(s.labels.tolist())  # one epoch: every image once
    state = loader.state_dict()
    after = next(loader)
    again = TensorLoader(s, 8, size=32, channels=3, seed=0)
    again.load_state_dict(state)
    assert torch.equal(next(again).x, after.x)


def test_a_folder_skips_hidden_files_turns_exif_photos_upright_and_refuses_a_mixed_layout(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(10):
        Image.new("RGB", (32, 32), (90, 90, 90)).save(folder / f"{i}.png")
    (folder / "._0.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble, not an image")  # what macOS leaves on other disks
    assert len(data.load(folder, "all")) == 10
    # a photo stored 80 wide x 40 high, left half white, with EXIF orientation 6 (rotate 90 degrees clockwise to view)
    a = np.zeros((40, 80, 3), np.uint8)
    a[:, :40] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = tmp_path / "upright"
    upright.mkdir()
    for i in range(10):
        Image.fromarray(a).save(upright / f"{i}.jpg", exif=exif, quality=95)
    im = data.load(upright, "all").images[0].float()  # 40 wide x 80 high, cropped to its centre square
    assert im.shape == (3, 40, 40) and im[:, :12].mean() > 200 and im[:, -12:].mean() < 50, "viewers show the white half on top"
    (folder / "more").mkdir()
    Image.new("RGB", (32, 32)).save(folder / "more" / "x.png")
    with pytest.raises(DataError, match=r"holds 10 images and subfolder\(s\) with images \(more\).*not both"):
        data.load(folder, "train")


def test_images_below_the_level_read_are_refused_not_left_out(tmp_path: Path) -> None:
    for c in ("cat", "dog"):
        (tmp_path / "pets" / c).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (32, 32), 100).save(tmp_path / "pets" / c / f"{i}.png")
    (tmp_path / "pets" / "cat" / "more").mkdir()
    Image.new("L", (32, 32)).save(tmp_path / "pets" / "cat" / "more" / "x.png")  # torchvision's ImageFolder reads it; zoo left it out
    with pytest.raises(DataError, match=r"holds images below the level zoo reads \(e.g. cat/more/x.png\)"):
        data.load(tmp_path / "pets", "train")
    (tmp_path / "flat" / "sub" / "deeper").mkdir(parents=True)
    for i in range(5):
        Image.new("L", (32, 32)).save(tmp_path / "flat" / f"{i}.png")
    Image.new("L", (32, 32)).save(tmp_path / "flat" / "sub" / "deeper" / "y.png")
    with pytest.raises(DataError, match=r"e.g. sub/deeper/y.png"):
        data.load(tmp_path / "flat", "train")
    # what is not the user's images: a file server's thumbnails, a link back up (which looped forever)
    pets = tmp_path / "pets"
    (pets / "cat" / "more" / "x.png").unlink()
    (pets / "cat" / "more").rmdir()
    for where in (pets / "@eaDir" / "a.png", pets / "cat" / "@eaDir" / "0.png"):
        where.mkdir(parents=True)
        Image.new("L", (32, 32)).save(where / "SYNOPHOTO_THUMB_S.jpg")
    (pets / "dog" / "empty").mkdir()
    (pets / "dog" / "empty" / "up").symlink_to("..")
    (pets / "dog" / "empty" / "up2").symlink_to(".")
    assert data.load(pets, "all").classes == ("cat", "dog")


def test_a_held_out_folder_is_read_whole_as_split_all(tmp_path: Path) -> None:
    for i in range(22):
        Image.new("L", (32, 32), 10 * i).save(tmp_path / f"{i:02d}.png")
    train, test, whole = (data.load(tmp_path, split) for split in ("train", "test", "all"))
    assert (len(train), len(test), len(whole)) == (20, 2, 22) and whole.images[:, 0, 0, 0].tolist() == [10 * i for i in range(22)]
    assert test.images[:, 0, 0, 0].tolist() == [200, 210], "20.png and 21.png: the files whose paths hash into the test split"
    from zoo.data.cache import splits_digest
    from zoo.data.registry import content_digest

    assert content_digest(tmp_path) == splits_digest({"train": train, "test": test}), "the digest is of the files, not of 'all' again"
    with pytest.raises(DataError, match=r"dataset 'mnist' has no split 'all'"):
        data.load("mnist", "all", root=tmp_path)  # the named sets keep their own splits


def test_a_folders_test_split_stays_put_when_files_are_added_or_removed(tmp_path: Path) -> None:
    import hashlib
    import unicodedata

    for i in range(40):
        Image.new("L", (16, 16), i).save(tmp_path / f"{i:02d}.png")

    def split_of() -> tuple[list[int], list[int]]:
        return tuple(sorted(data.load(tmp_path, s).images[:, 0, 0, 0].tolist()) for s in ("train", "test"))  # pixel = file number

    train, test = split_of()
    for i in range(40, 80):  # more files, some sorting before the old ones
        Image.new("L", (16, 16), i).save(tmp_path / f"a{i:02d}.png")
    (tmp_path / "00.png").unlink()
    train2, test2 = split_of()
    assert set(test) - {0} <= set(test2) and set(train) - {0} <= set(train2), "no old image changed sides"
    assert test2 == sorted(i for i in range(1, 80) if is_test_file(f"{i:02d}.png" if i < 40 else f"a{i:02d}.png"))
    share = sum(map(is_test_file, (f"img_{i:05d}.jpg" for i in range(10_000)))) / 10_000
    assert 0.09 < share < 0.11, share
    # one name, spelled as macOS writes it (NFD) and as Linux does (NFC): the same side, wherever the folder was copied
    def hashed_as_written(name: str) -> bool:
        return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % 10 == 0

    name = next(n for n in (f"caf\u00e9{i}.png" for i in range(100)) if hashed_as_written(n) != hashed_as_written(unicodedata.normalize("NFD", n)))
    assert is_test_file(unicodedata.normalize("NFD", name)) == is_test_file(name)


def test_a_folder_without_a_test_image_says_so_and_what_to_do(tmp_path: Path) -> None:
    for i in range(12):  # 00.png ... 11.png: none hashes into the test split
        Image.new("L", (16, 16), i).save(tmp_path / f"{i:02d}.png")
    assert len(data.load(tmp_path, "train")) == 12
    with pytest.raises(DataError, match=r"has 12 images and none in its 'test' split .*a hash of its path.*split 'all'"):
        data.load(tmp_path, "test")


def test_an_image_set_is_a_torch_dataset_for_a_loop_of_ones_own(tmp_path: Path) -> None:
    from torch.utils.data import DataLoader

    from zoo.data import ImageSet

    labelled = ImageSet(torch.arange(6 * 4, dtype=torch.uint8).view(6, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2]), "toy", 3)
    images, labels = next(iter(DataLoader(labelled, batch_size=4)))
    assert images.dtype == torch.uint8 and images.shape == (4, 1, 2, 2) and labels.tolist() == [0, 1, 2, 0]
    assert torch.equal(images, labelled.images[:4])
    flat = ImageSet(labelled.images, None, "flat")
    assert flat[5][1] == -1 and torch.equal(flat[5][0], labelled.images[5])
    for several in (slice(1, 3), [0, 1], np.array([0, 1]), torch.tensor([0, 1])):
        with pytest.raises(TypeError, match="one image at a time"):
            labelled[several]
    assert labelled[np.int64(2)][1] == 2 and labelled[torch.tensor(1)][1] == 1


def test_a_wrong_data_root_is_named_as_the_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZOO_DATA", raising=False)
    with pytest.raises(DataError, match=r"The data root .*nowhere \(data_root='.*nowhere'.*\) does not exist"):
        data.load("mnist", "train", root=tmp_path / "nowhere")
    (tmp_path / "afile").write_text("x")
    monkeypatch.setenv("ZOO_DATA", str(tmp_path / "afile"))
    with pytest.raises(DataError, match=r"\(ZOO_DATA=.*afile\) is a file, not a folder"):
        data.load("mnist", "train")
    from test_data_readers import mnist_folder

    folder = mnist_folder(tmp_path / "mine")  # the dataset's own folder given as the root
    with pytest.raises(DataError, match=r"itself holds mnist's files: the data root is the folder above it"):
        data.load("mnist", "train", root=folder)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mnist").symlink_to(folder)
    assert len(data.load("mnist", "train", root="~")) == 12, "~ is the home folder, as in a shell"
    with pytest.raises(zoo.UnknownNameError, match=r"Dataset 'folder' reads DATA/faces/"):
        data.load("faces", "train")


def test_an_image_set_shows_as_a_line_not_its_pixels() -> None:
    images = torch.zeros(3, 3, 8, 8, dtype=torch.uint8)
    assert repr(ImageSet(images, None, "faces")) == "ImageSet('faces': 3 images of 3x8x8 uint8, no labels)"
    pets = ImageSet(images, torch.tensor([0, 1, 0]), "pets", 2, ("cat", "dog"))
    assert repr(pets) == "ImageSet('pets': 3 images of 3x8x8 uint8, 2 classes (cat, dog))" and str(pets) == repr(pets)
    many = ImageSet(images, torch.tensor([0, 1, 6]), "x", 7, tuple("abcdefg"))
    assert repr(many).endswith("7 classes (a, b, c, d, e, ...))")
