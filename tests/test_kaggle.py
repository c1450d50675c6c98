"""Kaggle's Digit Recognizer files: read exactly in every wrapping, refused clearly when bad."""

import gzip
import io
import zipfile

import numpy as np
import pytest
import torch

from training import kaggle
from training.data import DataError, load_sample
from training.kaggle import (
    TEST_COLUMNS,
    TRAIN_COLUMNS,
    format_submission,
    load_kaggle_test,
    load_kaggle_train,
    load_kaggle_training_data,
    write_submission,
)


@pytest.fixture(scope="module")
def digits():
    """Six real digits of the sample, of six classes."""
    sample = load_sample()
    return sample.subset([0, 600, 1200, 2500, 3700, 4999])


def table(digits, columns=TRAIN_COLUMNS) -> list[list[str]]:
    """The header and rows of a CSV as lists of cells, for a test to spoil one."""
    rows = [list(columns)]
    for label, image in zip(
        digits.labels.tolist(), digits.images.reshape(len(digits), -1), strict=True
    ):
        rows.append(
            ([str(label)] if columns[0] == "label" else []) + [str(v) for v in image.tolist()]
        )
    return rows


def text(rows, separator=",", newline="\n") -> bytes:
    return newline.join(separator.join(row) for row in rows).encode() + newline.encode()


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def test_train_csv_reads_back_exactly_from_a_path(tmp_path, digits):
    path = tmp_path / "train.csv"
    path.write_bytes(text(table(digits)))
    loaded = load_kaggle_train(path)
    assert loaded.images.shape == (6, 28, 28) and loaded.images.dtype == torch.uint8
    assert torch.equal(loaded.images, digits.images)
    assert loaded.labels.dtype == torch.int64
    assert loaded.labels.tolist() == digits.labels.tolist() == [0, 1, 2, 5, 7, 9]
    assert loaded.name == "Kaggle train.csv (6)"


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda b: b, id="bytes"),
        pytest.param(lambda b: io.BytesIO(b), id="file-like"),
        pytest.param(lambda b: b"\xef\xbb\xbf" + b, id="utf-8 BOM"),
        pytest.param(lambda b: b.replace(b"\n", b"\r\n"), id="windows line endings"),
        pytest.param(lambda b: b.rstrip(b"\n"), id="no final newline"),
        pytest.param(lambda b: b + b"\n\n", id="trailing blank lines"),
        pytest.param(lambda b: zipped({"train.csv": b}), id="zip"),
        pytest.param(lambda b: zipped({"data/mine.csv": b}), id="zip of a renamed csv"),
        pytest.param(
            lambda b: zipped({"sample_submission.csv": b"x", "test.csv": b"y", "train.csv": b}),
            id="kaggle's own zip",
        ),
        pytest.param(gzip.compress, id="gzip"),
    ],
)
def test_every_wrapping_reads_the_same_digits(digits, wrap):
    loaded = load_kaggle_train(wrap(text(table(digits))))
    assert torch.equal(loaded.images, digits.images)
    assert loaded.labels.tolist() == digits.labels.tolist()


def test_quoted_header_names_and_leading_zeros_are_accepted(digits):
    rows = table(digits)
    rows[0] = [f'"{name}"' for name in rows[0]]
    rows[2][300] = "0255"
    loaded = load_kaggle_train(text(rows))
    assert loaded.images.reshape(6, -1)[1, 299] == 255


def test_rows_split_across_many_chunks_read_the_same(monkeypatch, digits):
    data = text(table(digits))
    whole = load_kaggle_train(data)
    monkeypatch.setattr(kaggle, "CHUNK_BYTES", 1000)  # less than one row: a chunk per row
    assert torch.equal(load_kaggle_train(data).images, whole.images)

    # and an error in a later chunk still names its own row
    rows = table(digits)
    rows[5][10] = "x"
    with pytest.raises(DataError, match=r"row 6, column 11 \(pixel9\)"):
        load_kaggle_train(text(rows))


def test_the_split_holds_out_a_tenth_of_each_class_the_same_way_each_time():
    sample = load_sample().subset(range(0, 5000, 10))  # 50 of each class
    rows = table(sample)
    first, second = load_kaggle_training_data(text(rows)), load_kaggle_training_data(text(rows))
    assert (len(first.train), len(first.val)) == (450, 50)
    assert first.val.class_counts() == [5] * 10
    assert torch.equal(first.val.images, second.val.images)
    assert first.description == "50 digits held out of Kaggle train.csv (500)"


def test_test_csv_reads_in_order_and_the_submission_is_exactly_kaggles_format(tmp_path, digits):
    images = load_kaggle_test(io.BytesIO(text(table(digits, TEST_COLUMNS))))
    assert torch.equal(images, digits.images)

    out = write_submission(torch.tensor([7, 2, 1, 0]), tmp_path / "submission.csv")
    assert out.read_bytes() == b"ImageId,Label\n1,7\n2,2\n3,1\n4,0\n"
    assert format_submission([]) == "ImageId,Label\n"


def spoil(digits, row, column, value, columns=TRAIN_COLUMNS):
    rows = table(digits, columns)
    rows[row][column] = value
    return text(rows)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        # the header
        (lambda d: text([r + ["0"] for r in table(d)]), "names 786 columns, expected 785"),
        (lambda d: text(table(d)[1:]), "has no header: row 1 holds numbers"),
        (lambda d: spoil(d, 0, 4, "pix3"), r"row 1, the header, column 5 is 'pix3', expected "),
        (lambda d: spoil(d, 0, 0, "digit"), r"has no 'label' column: row 1 starts with 'digit'"),
        (lambda d: text(table(d, TEST_COLUMNS)), "looks like Kaggle's test.csv"),
        (lambda d: text(table(d), separator=";"), "uses ';' between values, expected ','"),
        (lambda d: text(table(d), separator="\t"), "uses tabs between values, expected ','"),
        # the rows
        (lambda d: text([table(d)[0]] + [r[:-2] for r in table(d)[1:]]), "row 2 has 783 values"),
        (lambda d: text([table(d)[0]] + [r + ["0"] for r in table(d)[1:]]), "row 2 has 786 va"),
        (lambda d: spoil(d, 3, 0, "12"), r"row 4, column 1 \(label\): '12' is outside 0-9"),
        (lambda d: spoil(d, 2, 100, "256"), r"row 3, column 101 \(pixel99\): '256' is outside"),
        (lambda d: spoil(d, 2, 100, "1000"), r"row 3, column 101 \(pixel99\): '1000' is outsi"),
        (lambda d: spoil(d, 2, 100, "-1"), r"column 101 \(pixel99\): '-1' is outside 0-255"),
        (lambda d: spoil(d, 6, 784, "abc"), r"row 7, column 785 \(pixel783\): 'abc' is not a n"),
        (lambda d: spoil(d, 2, 5, ""), r"row 3, column 6 \(pixel4\): the cell is empty"),
        (lambda d: spoil(d, 2, 5, "NaN"), r"row 3, column 6 \(pixel4\): 'NaN' is a missing val"),
        (lambda d: spoil(d, 2, 5, "12.5"), r"'12.5' is not a whole number"),
        (lambda d: spoil(d, 2, 5, "3;4"), r"row 3, column 6 .* uses ';' between values"),
        (lambda d: text(table(d)[:3] + [[]] + table(d)[3:]), "row 4 is empty"),
        # the file as a whole
        (lambda d: b"", "is empty"),
        (lambda d: b"\n \r\n", "is empty"),
        (lambda d: text(table(d)[:1]), "holds only its header: there are no digits"),
        (lambda d: np.random.default_rng(0).bytes(3000), "is not a text file"),
        (lambda d: b"\x89PNG\r\n\x1a\n" + bytes(100), "is not a text file"),
        (lambda d: zipped({"notes.txt": b"hello"}), "should hold one .csv file .* holds none"),
        (lambda d: b"PK\x03\x04" + bytes(50), "looks like a zip but could not be unpacked"),
    ],
)
def test_a_bad_train_csv_says_what_and_where(digits, make, message):
    with pytest.raises(DataError, match=message):
        load_kaggle_train(make(digits), name="train.csv")


def test_a_train_csv_given_for_predictions_says_what_it_looks_like(digits):
    with pytest.raises(DataError, match="looks like Kaggle's train.csv .* a test.csv is needed"):
        load_kaggle_test(text(table(digits)), name="test.csv")


def test_a_bad_test_csv_names_its_cells_as_pixels(digits):
    with pytest.raises(DataError, match=r"test.csv, row 2, column 1 \(pixel0\): '300' is out"):
        load_kaggle_test(spoil(digits, 1, 0, "300", TEST_COLUMNS), name="test.csv")
    with pytest.raises(DataError, match="names 783 columns, expected 784"):
        load_kaggle_test(text([r[:-1] for r in table(digits, TEST_COLUMNS)]), name="test.csv")


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(DataError, match="No file at"):
        load_kaggle_train(tmp_path / "train.csv")
