"""The Kaggle "Digit Recognizer" files: train.csv (label, then 784 pixels) and test.csv (pixels).

A source is a path, the file's bytes, or a binary file-like object (an upload); a zip holding
the CSV is read too. A bad file raises a DataError that says what is wrong and where, counting
as a spreadsheet does: row 1 is the header line, column 1 the first value of a row.

The text is parsed with numpy a few megabytes at a time rather than cell by cell in Python:
42,000 rows of 785 cells take about a second, and the temporaries stay small beside the file.
"""

import gzip
import io
import re
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from rnn_model.files import write_atomically
from training.data import DataError, DigitSet, TrainValSplit, split_by_class

PIXELS = tuple(f"pixel{i}" for i in range(28 * 28))
TRAIN_COLUMNS = ("label", *PIXELS)
TEST_COLUMNS = PIXELS
KAGGLE_VAL_PER_CLASS = 420  # a tenth of the ~4,200 digits of each class in train.csv
MAX_CSV_BYTES = 2**30  # far above the real 73 MB train.csv; refuses zip bombs
CHUNK_BYTES = 2 * 2**20  # text parsed at once: bounds the temporaries, ~15 bytes per byte

Source = str | Path | bytes | BinaryIO

_BOM = b"\xef\xbb\xbf"
_NOT_SPACE = re.compile(rb"\S")
_COMMA, _NEWLINE, _ZERO = ord(","), ord("\n"), ord("0")


def load_kaggle_train(source: Source, name: str | None = None) -> DigitSet:
    """A train.csv as digits: images (N, 28, 28) uint8, labels (N,) int64."""
    data, name = _read(source, name, "train.csv")
    labels, pixels = _parse(data, name, TRAIN_COLUMNS)
    return DigitSet(
        torch.from_numpy(pixels.reshape(-1, 28, 28)),
        torch.from_numpy(labels.astype(np.int64)),
        name=f"Kaggle {name} ({len(labels):,})",
    )


def load_kaggle_training_data(source: Source, name: str | None = None) -> TrainValSplit:
    """A train.csv split for training: a tenth of each class held out, the same every time."""
    return split_by_class(load_kaggle_train(source, name), KAGGLE_VAL_PER_CLASS)


def load_kaggle_test(source: Source, name: str | None = None) -> torch.Tensor:
    """A test.csv as images (N, 28, 28) uint8, in the file's order."""
    data, name = _read(source, name, "test.csv")
    _, pixels = _parse(data, name, TEST_COLUMNS)
    return torch.from_numpy(pixels.reshape(-1, 28, 28))


def format_submission(predictions) -> str:
    """The competition's submission: 'ImageId,Label', then one line per digit, ids from 1."""
    lines = (f"{i},{digit}\n" for i, digit in enumerate(torch.as_tensor(predictions).tolist(), 1))
    return "ImageId,Label\n" + "".join(lines)


def write_submission(predictions, out: str | Path) -> Path:
    # bytes, so that no platform turns the '\n' endings into anything else; written whole
    # or not at all
    return write_atomically(out, format_submission(predictions).encode("ascii"))


# -- reading the bytes -------------------------------------------------------------------------


def _read(source: Source, name: str | None, wanted: str) -> tuple[bytes, str]:
    """The CSV's bytes and a name for messages, unpacking a zip or gzip around it."""
    if isinstance(source, str | Path):
        path = Path(source)
        name = name or path.name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DataError(f"No file at {path}.") from None
        except OSError as error:
            raise DataError(f"{path} could not be read: {error.strerror}.") from None
    elif isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        name = name or Path(getattr(source, "name", "") or wanted).name
        data = source.read()
    name = name or wanted

    if data.startswith(b"PK\x03\x04"):
        return _from_zip(data, name, wanted)
    if data.startswith(b"\x1f\x8b"):
        try:
            return gzip.decompress(data), name
        except (OSError, EOFError):
            raise DataError(f"{name} looks gzipped but could not be unpacked.") from None
    return data, name


def _from_zip(data: bytes, name: str, wanted: str) -> tuple[bytes, str]:
    """The one CSV in a zip; Kaggle's own zip holds several, so the wanted name wins."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [
            info
            for info in archive.infolist()
            if info.filename.lower().endswith(".csv")
            and not info.filename.startswith("__MACOSX/")
            and not info.is_dir()
        ]
        named = [info for info in members if Path(info.filename).name.lower() == wanted]
        if len(named) == 1:
            members = named
        if len(members) != 1:
            found = ", ".join(Path(info.filename).name for info in members) or "none"
            raise DataError(f"{name} should hold one .csv file (or a {wanted}), but holds {found}.")
        (member,) = members
        if member.file_size > MAX_CSV_BYTES:
            raise DataError(f"{name}: {member.filename} is too large to be digits.")
        return archive.read(member), f"{name}: {Path(member.filename).name}"
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError):
        raise DataError(f"{name} looks like a zip but could not be unpacked.") from None


# -- the header --------------------------------------------------------------------------------


def _parse(data: bytes, name: str, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Labels (N,) uint8, or an empty array for test.csv, and pixels (N, 784) uint8."""
    _check_text(data, name)
    start = len(_BOM) if data.startswith(_BOM) else 0
    if not _NOT_SPACE.search(data, start):
        raise DataError(f"{name} is empty.")

    # the header line, then the digits up to the last one, without trailing blank lines
    header_end = data.find(b"\n", start)
    header_end = len(data) if header_end < 0 else header_end
    _check_header(data[start:header_end].rstrip(b"\r"), name, columns)
    end = len(data)
    while end > header_end and data[end - 1] in b"\r\n \t":
        end -= 1
    if end <= header_end + 1:
        raise DataError(f"{name} holds only its header: there are no digits in it.")
    return _parse_rows(data, header_end + 1, end, name, columns)


def _check_text(data: bytes, name: str) -> None:
    if b"\x00" in data:
        raise DataError(f"{name} is not a text file: a CSV file was expected.")
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{name} is not a text file: a CSV file was expected.") from None


def _check_header(line: bytes, name: str, columns: tuple[str, ...]) -> None:
    text = line.decode("utf-8", errors="replace")
    for separator, called in ((";", "';'"), ("\t", "tabs")):
        if separator in text and "," not in text:
            raise DataError(f"{name} uses {called} between values, expected ','.")
    cells = tuple(cell.strip().strip('"').strip() for cell in text.split(","))
    if cells == columns:
        return

    # which file it looks like, when it is not the one wanted
    expected = "train.csv" if columns == TRAIN_COLUMNS else "test.csv"
    if all(cell.isdigit() for cell in cells):
        raise DataError(
            f"{name} has no header: row 1 holds numbers, but should name the columns "
            f"{_describe(columns)}."
        )
    if cells == TEST_COLUMNS:
        raise DataError(
            f"{name} looks like Kaggle's test.csv (784 pixel columns and no 'label' column), "
            f"but a {expected} is needed here, whose first column is the label."
        )
    if cells == TRAIN_COLUMNS:
        raise DataError(
            f"{name} looks like Kaggle's train.csv (its first column is 'label'), but a "
            f"{expected} is needed here: the 784 pixel columns only."
        )
    if expected == "train.csv" and "label" not in cells:
        raise DataError(f"{name} has no 'label' column: row 1 starts with {cells[0]!r}.")
    if len(cells) != len(columns):
        raise DataError(
            f"{name}: row 1, the header, names {len(cells)} columns, expected "
            f"{len(columns)}: {_describe(columns)}."
        )
    column = next(i for i, (a, b) in enumerate(zip(cells, columns, strict=True)) if a != b)
    raise DataError(
        f"{name}: row 1, the header, column {column + 1} is {cells[column]!r}, "
        f"expected {columns[column]!r}."
    )


def _describe(columns: tuple[str, ...]) -> str:
    return ", ".join(columns[:2]) + ", ..., " + columns[-1]


# -- the digits --------------------------------------------------------------------------------


def _parse_rows(data: bytes, start: int, end: int, name: str, columns: tuple[str, ...]):
    """Parse data[start:end], whole rows a chunk at a time, into preallocated arrays."""
    rows = data.count(b"\n", start, end) + 1
    has_label = columns[0] == "label"
    labels = np.empty(rows if has_label else 0, np.uint8)  # (N,)
    pixels = np.empty((rows, len(PIXELS)), np.uint8)  # (N, 784)

    row = 0
    while start < end:
        # a chunk ends on a row's newline, so no row is split between two chunks
        stop = min(start + CHUNK_BYTES, end)
        newline = data.find(b"\n", stop - 1, end)
        stop = end if stop == end or newline < 0 else newline + 1
        values = _parse_chunk(data[start:stop], _Where(name, columns, first_row=row + 2))
        if has_label:
            labels[row : row + len(values)] = values[:, 0]
        pixels[row : row + len(values)] = values[:, -len(PIXELS) :]
        row += len(values)
        start = stop
    return labels, pixels


def _parse_chunk(chunk: bytes, where: "_Where") -> np.ndarray:
    """Whole rows of text -> values (rows, columns) uint8, or a DataError naming the cell."""
    chunk = chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk
    chunk = chunk if chunk.endswith(b"\n") else chunk + b"\n"
    text = np.frombuffer(chunk, np.uint8)  # (bytes,)
    digit = text - _ZERO  # wraps round for anything below '0', so one test finds digits
    is_digit = digit < 10
    is_separator = (text == _COMMA) | (text == _NEWLINE)

    # only digits, commas and newlines may appear
    odd = ~(is_digit | is_separator)
    if odd.any():
        where.fail(chunk, int(odd.argmax()))

    # every row holds as many cells as there are columns
    ends = np.flatnonzero(is_separator)  # (cells,) index of the byte that ends each cell
    row_ends = np.flatnonzero(text[ends] == _NEWLINE)  # (rows,) index of each row's last cell
    counts = np.diff(row_ends, prepend=-1)
    if (counts != where.width).any():
        where.wrong_width(chunk, int((counts != where.width).argmax()), counts)

    # no cell is empty
    starts = np.empty_like(ends)
    starts[0], starts[1:] = 0, ends[:-1] + 1
    lengths = ends - starts
    if (lengths == 0).any():
        where.fail(chunk, int(starts[(lengths == 0).argmax()]))

    # the value of each cell from its last three digits, read from a copy with separators as 0
    # and two leading zeros, so that a cell's missing tens or hundreds read 0
    padded = np.zeros(len(text) + 2, np.uint16)
    padded[2:] = np.where(is_digit, digit, 0)
    values = padded[ends + 1] + 10 * padded[ends] + 100 * padded[ends - 1] * (lengths >= 3)
    for cell in np.flatnonzero(lengths > 3):
        # rare: only numbers written with leading zeros can still be in range
        values[cell] = min(int(chunk[starts[cell] : ends[cell]]), 999)
    values = values.reshape(-1, where.width)  # (rows, columns)

    # pixels within 0-255 and labels within 0-9
    high = np.full(where.width, 255, np.uint16)
    high[: where.width - len(PIXELS)] = 9
    too_high = values > high
    if too_high.any():
        where.fail(chunk, int(starts[too_high.argmax()]))
    return values.astype(np.uint8)


class _Where:
    """Turns a byte position in a chunk into a message naming its row, column and problem."""

    def __init__(self, name: str, columns: tuple[str, ...], first_row: int):
        self.name, self.columns, self.first_row = name, columns, first_row
        self.width = len(columns)

    def fail(self, chunk: bytes, position: int):
        line_start = chunk.rfind(b"\n", 0, position) + 1
        row = self.first_row + chunk.count(b"\n", 0, line_start)
        column = chunk.count(b",", line_start, position)
        cell_start = max(chunk.rfind(b",", line_start, position) + 1, line_start)
        cell_end = min(
            i for i in (chunk.find(b",", position), chunk.find(b"\n", position)) if i >= 0
        )
        cell = chunk[cell_start:cell_end].decode("utf-8", errors="replace")
        named = f" ({self.columns[column]})" if column < self.width else ""
        is_label = column < self.width and self.columns[column] == "label"
        problem = _cell_problem(cell, 9 if is_label else 255)
        raise DataError(f"{self.name}, row {row}, column {column + 1}{named}: {problem}.")

    def wrong_width(self, chunk: bytes, row_index: int, counts: np.ndarray):
        row = self.first_row + row_index
        if counts[row_index] == 1 and chunk.split(b"\n", row_index + 1)[row_index].strip() == b"":
            raise DataError(f"{self.name}, row {row} is empty.")
        raise DataError(
            f"{self.name}, row {row} has {counts[row_index]} values, expected {self.width} "
            f"({_describe(self.columns)})."
        )


def _cell_problem(cell: str, high: int) -> str:
    """What is wrong with one cell's text, in a few words."""
    if not cell:
        return "the cell is empty"
    if ";" in cell:
        return f"{cell[:20]!r} uses ';' between values, expected ','"
    if cell.strip().lower() in ("nan", "na", "null", "none"):
        return f"{cell!r} is a missing value, expected a whole number from 0 to {high}"
    try:
        value = float(cell)
    except ValueError:
        return f"{cell[:20]!r} is not a number"
    if not value.is_integer():
        return f"{cell!r} is not a whole number"
    if not 0 <= value <= high:
        return f"{cell!r} is outside 0-{high}"
    return f"{cell!r} should be written with digits only"
