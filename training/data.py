"""Digit data sets: the embedded sample, and folders of MNIST's own IDX files."""

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "assets" / "mnist-sample"
IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801
VAL_PER_CLASS = 50  # digits of each class held out for validation from a single set


class DataError(ValueError):
    """A data file or folder that cannot be used, with the reason in plain words."""


@dataclass
class DigitSet:
    """Digits as a tensor of images (N, 28, 28) uint8 and labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor
    name: str

    def __post_init__(self):
        if len(self.images) != len(self.labels):
            raise DataError(f"{self.name}: {len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index, name: str | None = None) -> "DigitSet":
        index = torch.as_tensor(index, dtype=torch.long)
        return DigitSet(self.images[index], self.labels[index], name or self.name)

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=10).tolist()


@dataclass
class TrainValSplit:
    train: DigitSet
    val: DigitSet
    description: str  # says where the validation digits come from


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzipped or not) of unsigned bytes: images (N, R, C) or labels (N,)."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 8:
        raise DataError(f"{path.name} is too short to be an IDX file.")
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08 or ndim not in (1, 3):
        raise DataError(
            f"{path.name} has magic number 0x{raw[:4].hex()}, not an MNIST IDX file "
            "(expected 0x00000801 for labels or 0x00000803 for images)."
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path.name} is cut short inside its header.")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(
            f"{path.name} should hold {expected:,} bytes of data after its header "
            f"but holds {len(raw) - header:,}: the file is cut short or damaged."
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(0)
            if head == b"\x1f\x8b":
                return gzip.open(f).read()
            return f.read()
    except FileNotFoundError:
        raise DataError(f"No file at {path}.") from None
    except (OSError, EOFError) as error:
        raise DataError(f"{path.name} could not be read: {error}.") from None


def load_idx_pair(images_path: str | Path, labels_path: str | Path, name: str) -> DigitSet:
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"{Path(images_path).name} holds images of {images.shape[1:]}, not 28x28.")
    if labels.ndim != 1:
        raise DataError(f"{Path(labels_path).name} is not a labels file.")
    if len(images) != len(labels):
        raise DataError(
            f"{Path(images_path).name} has {len(images):,} images but "
            f"{Path(labels_path).name} has {len(labels):,} labels."
        )
    if len(labels) and labels.max() > 9:
        raise DataError(f"{Path(labels_path).name} holds a label {labels.max()}, outside 0-9.")
    return DigitSet(
        torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)), name
    )


def find_idx_pairs(folder: str | Path) -> dict[str, tuple[Path, Path]]:
    """Pair '<prefix>-images-idx3-ubyte[.gz]' with '<prefix>-labels-idx1-ubyte[.gz]'."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder.")
    pairs = {}
    for images in sorted(folder.iterdir()):
        stem = images.name.removesuffix(".gz")
        for marker in ("-images-idx3-ubyte", "-images.idx3-ubyte"):
            if stem.endswith(marker):
                prefix = stem[: -len(marker)]
                labels_name = marker.replace("images", "labels").replace("idx3", "idx1")
                for suffix in (".gz", ""):
                    labels = folder / f"{prefix}{labels_name}{suffix}"
                    if labels.is_file():
                        pairs[prefix] = (images, labels)
                        break
    if not pairs:
        raise DataError(
            f"No IDX digits in {folder}: expected pairs of files named like "
            "'train-images-idx3-ubyte.gz' and 'train-labels-idx1-ubyte.gz'."
        )
    return pairs


def load_idx_folder(folder: str | Path) -> DigitSet:
    """All digits of a folder of IDX pairs, as one set (for evaluation)."""
    pairs = find_idx_pairs(folder)
    sets = [load_idx_pair(i, lab, prefix) for prefix, (i, lab) in pairs.items()]
    return DigitSet(
        torch.cat([s.images for s in sets]),
        torch.cat([s.labels for s in sets]),
        name=Path(folder).name,
    )


def split_by_class(digits: DigitSet, val_per_class: int = VAL_PER_CLASS) -> TrainValSplit:
    """Hold out the last `val_per_class` digits of each class: deterministic, balanced."""
    val_index = []
    for digit in range(10):
        (index,) = torch.nonzero(digits.labels == digit, as_tuple=True)
        keep = min(val_per_class, len(index) // 10)
        val_index.append(index[len(index) - keep :])
    val_index = torch.cat(val_index).sort().values
    is_val = torch.zeros(len(digits), dtype=torch.bool)
    is_val[val_index] = True
    return TrainValSplit(
        train=digits.subset(torch.nonzero(~is_val).flatten(), f"{digits.name} (training part)"),
        val=digits.subset(val_index, f"{digits.name} (validation part)"),
        description=f"{len(val_index):,} digits held out of {digits.name}",
    )


def load_sample(folder: str | Path = SAMPLE_DIR) -> DigitSet:
    folder = Path(folder)
    return load_idx_pair(
        folder / "sample-images-idx3-ubyte.gz",
        folder / "sample-labels-idx1-ubyte.gz",
        name="embedded MNIST sample",
    )


def load_training_data(source: str | Path = "sample") -> TrainValSplit:
    """'sample' for the embedded digits, or a folder of IDX files.

    A folder holding both a 'train' and a 't10k' (test) pair trains on the first and validates
    on the second, as MNIST intends; any other folder is split like the sample.
    """
    if str(source) == "sample":
        return split_by_class(load_sample())
    pairs = find_idx_pairs(source)
    if "train" in pairs and "t10k" in pairs:
        train = load_idx_pair(*pairs["train"], name="MNIST training set")
        test = load_idx_pair(*pairs["t10k"], name="MNIST test set")
        train.name += f" ({len(train):,})"
        test.name += f" ({len(test):,})"
        return TrainValSplit(train, test, f"{len(test):,} digits of the official MNIST test set")
    return split_by_class(load_idx_folder(source))
