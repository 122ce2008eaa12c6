"""The datasets the core knows, registered through the same hook plugins use."""

from __future__ import annotations

from ..hookspecs import hookimpl
from ._types import DatasetInfo
from .folder import read_folder
from .mnist import read_mnist

MNIST = DatasetInfo(
    name="mnist",
    description="MNIST handwritten digits (LeCun, Cortes, Burges), original IDX files",
    kind="real",
    source="IDX files (.gz or plain) in DATA/mnist/",
    license="CC BY-SA 3.0",
    size="60,000 + 10,000",
    resolution="28x28 gray",
    read=read_mnist,
    folder="mnist",
    required=("train-images-idx3-ubyte*", "train-labels-idx1-ubyte*"),
)

FOLDER = DatasetInfo(
    name="folder",
    description="any folder of images (flat or one subfolder per class), center-cropped to 64x64; e.g. a face set",
    kind="real",
    source="image files in the folder given as --data PATH (or DATA/faces/)",
    license="that of your images",
    size="every 10th image is test",
    resolution="64x64 RGB",
    read=read_folder,
    folder="faces",
    required=("*",),
    num_classes=None,
)


@hookimpl
def zoo_register_datasets() -> list[DatasetInfo]:
    """Register the core's datasets."""
    return [MNIST, FOLDER]
