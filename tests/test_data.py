import gzip
import struct

import numpy as np
import pytest
import torch

from training.data import (
    DataError,
    load_idx_folder,
    load_sample,
    load_training_data,
    read_idx,
    split_by_class,
)


def write_idx(path, array, magic=None, gz=True):
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else 0x800 | array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def write_pair(folder, prefix, images, labels, gz=True):
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz=gz)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz=gz)


def test_the_embedded_sample_is_500_real_digits_of_each_class():
    sample = load_sample()
    assert sample.images.shape == (5000, 28, 28)
    assert sample.images.dtype == torch.uint8
    assert sample.class_counts() == [500] * 10
    # Real handwriting: about a fifth of MNIST's pixels are ink, with grey anti-aliased edges.
    ink = (sample.images > 0).float().mean().item()
    assert 0.15 < ink < 0.25
    assert 0 < (sample.images == 128).sum() < (sample.images == 255).sum()


def test_the_split_is_deterministic_balanced_and_disjoint():
    first, second = load_training_data("sample"), load_training_data("sample")
    assert len(first.train) == 4500 and len(first.val) == 500
    assert first.val.class_counts() == [50] * 10
    assert torch.equal(first.val.images, second.val.images)
    train_rows = {bytes(x.numpy()) for x in first.train.images}
    assert not any(bytes(x.numpy()) in train_rows for x in first.val.images)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_read_back_exactly(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    write_pair(tmp_path, "train", images, [0, 1, 2, 3, 4, 5, 9], gz=gz)
    digits = load_idx_folder(tmp_path)
    assert np.array_equal(digits.images.numpy(), images)
    assert digits.labels.tolist() == [0, 1, 2, 3, 4, 5, 9]


def test_a_folder_with_train_and_test_files_validates_on_the_test_files(tmp_path):
    rng = np.random.default_rng(0)
    write_pair(tmp_path, "train", rng.integers(0, 256, (30, 28, 28)), np.arange(30) % 10)
    write_pair(tmp_path, "t10k", rng.integers(0, 256, (10, 28, 28)), np.arange(10))
    data = load_training_data(tmp_path)
    assert (len(data.train), len(data.val)) == (30, 10)
    assert "test set" in data.description


def test_split_of_a_small_set_still_keeps_training_digits():
    sample = load_sample().subset(torch.arange(0, 5000, 50))  # 10 digits per class
    split = split_by_class(sample)
    assert (len(split.train), len(split.val)) == (90, 10)


def test_wrong_magic_number(tmp_path):
    write_idx(tmp_path / "x-images-idx3-ubyte", np.zeros((2, 28, 28)), magic=0x0D03, gz=False)
    with pytest.raises(DataError, match="magic number"):
        read_idx(tmp_path / "x-images-idx3-ubyte")


def test_a_file_cut_short(tmp_path):
    path = tmp_path / "x-images-idx3-ubyte"
    write_idx(path, np.zeros((4, 28, 28)), gz=False)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="cut short"):
        read_idx(path)


def test_image_and_label_counts_that_differ(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((5, 28, 28)))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4))
    with pytest.raises(DataError, match="5 images but .* 4 labels"):
        load_idx_folder(tmp_path)


def test_images_that_are_not_28_by_28(tmp_path):
    write_pair(tmp_path, "train", np.zeros((3, 32, 32)), [1, 2, 3])
    with pytest.raises(DataError, match="not 28x28"):
        load_idx_folder(tmp_path)


def test_a_label_outside_0_to_9(tmp_path):
    write_pair(tmp_path, "train", np.zeros((2, 28, 28)), [3, 12])
    with pytest.raises(DataError, match="outside 0-9"):
        load_idx_folder(tmp_path)


def test_a_folder_without_idx_files_says_what_it_expected(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_training_data(tmp_path)


def test_a_file_cut_short_inside_its_header(tmp_path):
    path = tmp_path / "x-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(DataError, match="too short to be an IDX file"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">2I", 5, 28))  # no column count
    with pytest.raises(DataError, match="cut short inside its header"):
        read_idx(path)


def test_a_damaged_gzip_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(path, np.ones((4, 28, 28)))
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz could not be read"):
        read_idx(path)


def test_a_labels_file_that_holds_images(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28)))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros((2, 28, 28)))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz is not a labels file"):
        load_idx_folder(tmp_path)
