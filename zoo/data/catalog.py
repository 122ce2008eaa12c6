"""The datasets the core knows, registered through the same hook plugins use.

Real sets are read from DATA/<folder>/ (DATA is --data-dir or $ZOO_DATA); ``mnistm`` is built from
MNIST when no real copy is there; ``digits`` and ``syndigits`` are offline stand-ins for USPS and
SVHN made from what zoo's packages carry (docs/data.md says how, and how they differ).
"""

from __future__ import annotations

from ..hookspecs import hookimpl
from ._types import DatasetInfo
from .digits import read_digits
from .folder import image_folder_layout, read_folder
from .mnist import mnist_layout, read_mnist
from .mnistm import mnistm_layout, read_mnistm
from .svhn import read_svhn, svhn_layout
from .syndigits import read_syndigits
from .usps import read_usps, usps_layout

_SEED = "the seed layout (data/*.png, train.csv, val.csv)"

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
    layout=mnist_layout,
)

MNISTM = DatasetInfo(
    name="mnistm",
    description="MNIST-M (Ganin & Lempitsky 2015): MNIST digits blended with crops of colour photographs, |crop - digit|",
    kind="built",
    source=f"real MNIST-M in DATA/mnistm/ (mnist_m_train/ and mnist_m_train_labels.txt as its authors distribute it, or {_SEED}) if there, else built from DATA/mnist/ and the photos in zoo's packages (cached)",
    license="MNIST's CC BY-SA 3.0; photos public domain, CC0, CC BY 2.0 (docs/data.md)",
    size="60,000 + 10,000",
    resolution="28x28 RGB",
    read=read_mnistm,
    folder="mnistm",
    built_from="mnist",
    layout=mnistm_layout,
)

SVHN = DatasetInfo(
    name="svhn",
    description="SVHN cropped digits (Netzer et al. 2011), house numbers from Google Street View",
    kind="real",
    source=f"DATA/svhn/: train_32x32.mat, test_32x32.mat (torchvision's files) or {_SEED}",
    license="non-commercial use only (SVHN terms)",
    size="73,257 + 26,032",
    resolution="32x32 RGB",
    read=read_svhn,
    folder="svhn",
    layout=svhn_layout,
)

USPS = DatasetInfo(
    name="usps",
    description="USPS handwritten zip-code digits (Hull 1994)",
    kind="real",
    source=f"DATA/usps/: usps.bz2, usps.t.bz2 (torchvision's libsvm files) or {_SEED}",
    license="no license stated by its distributors",
    size="7,291 + 2,007",
    resolution="16x16 gray",
    read=read_usps,
    folder="usps",
    layout=usps_layout,
)

DIGITS = DatasetInfo(
    name="digits",
    description="STAND-IN for usps: real handwriting, the UCI digits in scikit-learn (load_digits), 8x8 scaled to 28x28",
    kind="stand-in",
    source="scikit-learn's load_digits (inside the package); fixed stratified split, every 5th image of a class is test",
    license="CC BY 4.0 (UCI Machine Learning Repository)",
    size="1,442 + 355",
    resolution="28x28 gray (from 8x8)",
    read=read_digits,
)

SYNDIGITS = DatasetInfo(
    name="syndigits",
    description="STAND-IN for svhn: printed digits with neighbours on photo crops, Syn Numbers recipe (Ganin et al. 2016)",
    kind="stand-in",
    source="built from matplotlib's fonts and the photos in zoo's packages (seed 0, cached)",
    license="generated (MIT); fonts DejaVu/Bitstream Vera, STIX OFL 1.1, BaKoMa; photos as in docs/data.md",
    size="50,000 + 10,000",
    resolution="32x32 RGB",
    read=read_syndigits,
)

FOLDER = DatasetInfo(
    name="folder",
    description="any folder of images (flat or one subfolder per class), center-cropped to a square of 64x64 (images that all share a smaller side keep it); e.g. a face set",
    kind="real",
    source="image files in the folder given as --data PATH (or DATA/faces/)",
    license="that of your images",
    size="about one image in ten is test, by a hash of its path ('all': every image)",
    resolution="64x64 RGB (or the smaller side all its images share)",
    splits=("train", "test", "all"),
    read=read_folder,
    folder="faces",
    required=("*",),
    num_classes=None,
    layout=image_folder_layout,
)


@hookimpl
def zoo_register_datasets() -> list[DatasetInfo]:
    """Register the core's datasets."""
    return [MNIST, MNISTM, SVHN, USPS, DIGITS, SYNDIGITS, FOLDER]
