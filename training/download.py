"""Full MNIST, downloaded once on demand into a per-user cache folder.

The four official files are tried from public mirrors in order; each is checked against its
published MD5 checksum before it is trusted, and lands in the cache only whole: it streams to a
temporary file beside its final name and is renamed into place once the checksum matches.

    folder = ensure_mnist(progress=print_progress)
    data = load_training_data(folder)  # trains on the 60,000, validates on the 10,000
"""

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from training.data import DataError

# Tried in this order. yann.lecun.com is the original home, but it has refused or throttled
# anonymous downloads for years, so it is the last resort.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

# The published MD5 of each file, as torchvision lists them: 11.6 MB in all.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",  # 9,912,422 bytes
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",  # 28,881 bytes
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",  # 1,648,877 bytes
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",  # 4,542 bytes
}

DATA_DIR_VARIABLE = "RNN_DIGIT_LAB_DATA"  # names the folder that holds the four files
DEFAULT_TIMEOUT_S = 30.0  # longest wait for a server to answer one read
MAX_FILE_BYTES = 64 * 2**20  # no MNIST file comes near this; a body past it is not MNIST
CHUNK_BYTES = 64 * 2**10

Progress = Callable[[str, int, int | None], None]  # (file name, bytes done, bytes in all or None)


class DownloadError(DataError):
    """No mirror gave a good copy of a file; the message says what was tried and what to do."""


class _MirrorFailure(Exception):
    """A mirror answered, but with something that is not the file."""


def default_cache_dir() -> Path:
    """$RNN_DIGIT_LAB_DATA, else $XDG_CACHE_HOME/rnn-digit-lab/mnist, else ~/.cache/..."""
    if os.environ.get(DATA_DIR_VARIABLE):
        return Path(os.environ[DATA_DIR_VARIABLE]).expanduser()
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "rnn-digit-lab" / "mnist"


def missing_files(
    cache_dir: str | Path | None = None, checksums: Mapping[str, str] | None = None
) -> list[str]:
    """The files `ensure_mnist` would download: absent from the cache folder.

    A file that is present but does not match its checksum raises a DataError instead: it was
    put there by hand or by another program, so it is reported rather than overwritten.
    """
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    checksums = MNIST_MD5 if checksums is None else checksums
    missing = []
    for name, expected in checksums.items():
        path = folder / name
        if not path.is_file():
            missing.append(name)
        elif (actual := _md5_of_file(path)) != expected:
            raise DataError(
                f"{name} in {folder} is not the official MNIST file: its MD5 checksum is "
                f"{actual}, expected {expected}. It is damaged, cut short or from another data "
                "set. Delete it so that it is downloaded again, or replace it with the official "
                "file."
            )
    return missing


def ensure_mnist(
    cache_dir: str | Path | None = None,
    mirrors: Sequence[str] | None = None,
    checksums: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> Path:
    """The folder holding the four MNIST files, downloading those not there yet.

    Files already present are checked against their checksums on every call rather than
    trusted through a marker: it costs about 20 ms for all four, less than a tenth of reading
    them, and a marker would vouch for a file that was replaced or damaged after it was written.

    `progress(name, bytes_done, bytes_total)` is called as each download goes, never for
    cached files; an exception it raises stops the download, leaves no partial file behind and
    propagates. Raises DownloadError when no mirror gives a good copy of a file, and DataError
    when a file in the folder does not match its checksum or the folder cannot be written.
    """
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    mirrors = list(MIRRORS if mirrors is None else mirrors)
    checksums = MNIST_MD5 if checksums is None else checksums

    # every cached file is checked before any request, so a bad one costs no download
    todo = missing_files(folder, checksums)
    if not todo:
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"The MNIST folder {folder} could not be made ({error.strerror}). "
            f"Set {DATA_DIR_VARIABLE} to a folder you can write to."
        ) from None

    for name in todo:
        served_by = _download_from_mirrors(
            name, checksums[name], folder, mirrors, progress, timeout
        )

        # the mirror that served one file is asked first for the next: a dead one costs one wait
        mirrors.remove(served_by)
        mirrors.insert(0, served_by)
    return folder


def _download_from_mirrors(name, md5, folder, mirrors, progress, timeout) -> str:
    """Download one file into the folder from the first mirror that gives a good copy."""
    tried = []
    for mirror in mirrors:
        try:
            _download(mirror + name, folder / name, md5, progress, timeout)
            return mirror
        except _MirrorFailure as failure:
            tried.append((mirror, str(failure)))
        except (OSError, http.client.HTTPException) as error:
            tried.append((mirror, _network_reason(error, timeout)))
    raise DownloadError(_no_mirror_message(name, folder, tried))


def _download(url: str, path: Path, md5: str, progress: Progress | None, timeout: float) -> None:
    """Stream `url` to a temporary file beside `path`; rename it to `path` once it checks out."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with open(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            actual = _stream(response, out, path.name, progress)
        if actual != md5:
            raise _MirrorFailure(f"checksum {actual} instead of {md5}")
        os.replace(partial, path)
    finally:
        # a failed or interrupted download leaves nothing that could be trusted later
        Path(partial).unlink(missing_ok=True)


def _stream(response, out, name: str, progress: Progress | None) -> str:
    """Copy the body to `out` in chunks; returns its MD5 (hex)."""
    length = response.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    digest = hashlib.md5(usedforsecurity=False)
    done = 0
    if progress:
        progress(name, 0, total)
    while chunk := response.read(CHUNK_BYTES):
        done += len(chunk)
        if done > MAX_FILE_BYTES or (total is not None and done > total):
            raise _MirrorFailure("sent more bytes than the file holds")
        digest.update(chunk)
        _write(out, chunk)
        if progress:
            progress(name, done, total)

    # http.client ends a body early without complaint when the server hangs up mid-file
    if total is not None and done < total:
        raise _MirrorFailure(f"cut short after {done:,} of {total:,} bytes")
    return digest.hexdigest()


def _write(out, chunk: bytes) -> None:
    try:
        out.write(chunk)
    except OSError as error:
        # a full or read-only disk is not the mirror's fault: trying the next one cannot help
        raise DataError(f"Could not write to {Path(out.name).parent}: {error.strerror}.") from None


def _md5_of_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def _network_reason(error: BaseException, timeout: float) -> str:
    """A few words on why a request failed: 'HTTP 404', 'no answer within 30 s', ..."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(error, http.client.IncompleteRead | http.client.RemoteDisconnected):
        return "connection closed mid-answer"
    text = getattr(error, "strerror", None) or getattr(error, "reason", None) or str(error)
    return str(text).lower() or type(error).__name__


def _no_mirror_message(name: str, folder: Path, tried: list[tuple[str, str]]) -> str:
    attempts = ", ".join(f"{mirror.split('://')[-1].rstrip('/')}: {why}" for mirror, why in tried)
    return (
        f"Could not download MNIST: no mirror could be reached or gave a good copy of {name} "
        f"(tried {attempts or 'no mirrors'}). Train on the embedded sample instead, or put the "
        f"four MNIST files ({', '.join(MNIST_MD5)}) into {folder} by hand."
    )
