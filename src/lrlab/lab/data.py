"""Fashion-MNIST (and MNIST, KMNIST) from IDX files, as NumPy arrays. NumPy and the standard library only.

An IDX file is a big-endian header (two zero bytes, a type code, the number of
dimensions, one 32-bit size per dimension) followed by the values. lrlab reads
the unsigned-byte kind: labels have magic ``0x00000801`` (one dimension),
images ``0x00000803`` (count, rows, columns). Files may be gzipped or not; the
gzip magic bytes decide, not the name.

Fashion-MNIST is looked for in this order (`fashion_mnist_dirs`): an explicit
path, ``$LRLAB_DATA``, ``/usr/share/datasets/fashion-mnist`` (Debian's
``dataset-fashion-mnist``), then the user cache
(``$XDG_CACHE_HOME/lrlab/fashion-mnist`` or ``~/.cache/lrlab/fashion-mnist``).
Where none has it, `download_fashion_mnist` fetches the four files from the
project's own location into the cache and checks them before use.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import math
import os
import sys
import tempfile
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from lrlab.errors import DataError

__all__ = [
    "DEBIAN_DIR",
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_URL",
    "DataError",
    "Dataset",
    "cache_dir",
    "download_fashion_mnist",
    "fashion_mnist_dirs",
    "find_fashion_mnist",
    "load_dataset",
    "load_fashion_mnist",
    "read_idx",
    "read_images",
    "read_labels",
]

U8 = NDArray[np.uint8]

LABELS_MAGIC = 0x00000801
IMAGES_MAGIC = 0x00000803
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
#: the images' rows and columns: every model of the built-in experiments is made for them
IMAGE_SHAPE = (28, 28)
#: Where the Fashion-MNIST project (Zalando Research) serves its files; its README links here.
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


@dataclass(frozen=True)
class _Official:
    name: str
    md5_gz: str  # published by the Fashion-MNIST project for the .gz it serves
    sha256: str  # of the uncompressed IDX bytes (see the note below)
    size: int  # uncompressed bytes


# The project publishes MD5s of its .gz files. The SHA-256 values are of the *uncompressed*
# IDX bytes, hashed from Debian's dataset-fashion-mnist: Debian re-gzipped the files (no file
# name in the gzip header, another mtime), so its .gz differ from the served ones byte for byte,
# but the uncompressed MD5s equal the ones other loaders publish for the official files.
FASHION_MNIST_FILES = (
    _Official(
        "train-images-idx3-ubyte",
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        47_040_016,
    ),
    _Official(
        "train-labels-idx1-ubyte",
        "25c81989df183df01b3e8a0aad5dffbe",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        60_008,
    ),
    _Official(
        "t10k-images-idx3-ubyte",
        "bef4ecab320f06d8554ea6380940ec79",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        7_840_016,
    ),
    _Official(
        "t10k-labels-idx1-ubyte",
        "bb300cfdad3c16e7a12a480ee83cd310",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        10_008,
    ),
)
_NAMES = tuple(f.name for f in FASHION_MNIST_FILES)


def _fix_hint(path: Path) -> str:
    try:
        in_debian = path.resolve().is_relative_to(DEBIAN_DIR)
    except OSError:  # pragma: no cover - resolve() on a vanished path
        in_debian = False
    if in_debian:
        return "reinstall it with `apt-get install --reinstall dataset-fashion-mnist`"
    return (
        "replace it with a good copy (`apt-get install dataset-fashion-mnist` puts one in "
        f"{DEBIAN_DIR}), or delete it and lrlab downloads it again"
    )


def _bad(path: Path, what: str) -> DataError:
    return DataError(f"{path}: {what}; {_fix_hint(path)}")


# -- IDX -------------------------------------------------------------------------------------------
#: the largest IDX file lrlab reads (2 GiB of values): a header asking for more is refused before reading
MAX_IDX_BYTES = 2**31


def _header(path: Path, head: bytes, magic: int | None) -> tuple[int, tuple[int, ...]]:
    """Check an IDX header (`head`: its first bytes); returns its length and the dimensions it gives."""
    if len(head) < 4:
        raise _bad(path, f"it is {len(head)} bytes long, too short for an IDX header")
    found = int.from_bytes(head[:4], "big")
    if head[:2] != b"\0\0" or head[2] != 0x08 or not 1 <= head[3] <= 4:
        raise _bad(path, f"not an unsigned-byte IDX file (magic number 0x{found:08x})")
    if magic is not None and found != magic:
        raise _bad(path, f"magic number 0x{found:08x}, expected 0x{magic:08x} ({_KIND.get(magic, 'IDX')})")
    ndim = head[3]
    size = 4 + 4 * ndim
    if len(head) < size:
        raise _bad(path, f"the header is truncated ({len(head)} bytes, {ndim} dimensions need {size})")
    dims = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if any(d <= 0 for d in dims):
        raise _bad(path, f"the header gives the dimensions {dims}; each must be > 0")
    values = math.prod(dims)
    if values > MAX_IDX_BYTES:
        raise _bad(path, f"the header gives the dimensions {dims}: {values} bytes, more than the limit {MAX_IDX_BYTES}")
    return size, dims


def _read_idx_bytes(path: Path, magic: int | None) -> tuple[bytes, int, tuple[int, ...]]:
    """The file's IDX bytes (gunzipped as a stream, never more than its header announces), header size, dims."""
    try:
        with path.open("rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream: Any = gzip.GzipFile(fileobj=raw) if gz else raw
            try:
                head = stream.read(4)
                head += stream.read(4 * head[3]) if len(head) == 4 and 1 <= head[3] <= 4 else b""
                size, dims = _header(path, head, magic)
                expected = size + math.prod(dims)
                if not gz:
                    actual = os.fstat(raw.fileno()).st_size
                    if actual != expected:
                        what = "truncated" if actual < expected else f"{actual - expected} bytes after the data"
                        raise _bad(path, f"{what}: {actual} bytes, the header {dims} needs {expected}")
                body = stream.read(expected - size + 1)  # one byte more than announced: a longer file is an error
            except EOFError:
                raise _bad(path, "the gzip stream is truncated") from None
            except (gzip.BadGzipFile, zlib.error) as exc:
                raise _bad(path, f"the gzip stream is corrupt ({exc})") from None
    except FileNotFoundError:
        raise DataError(f"{path}: no such file; {_fix_hint(path)}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(body) < expected - size:
        raise _bad(path, f"truncated: {size + len(body)} bytes, the header {dims} needs {expected}")
    if len(body) > expected - size:
        raise _bad(path, f"more bytes than the header {dims} describes ({expected}); the file is not what it says")
    return body, size, dims


def read_idx(path: str | Path, *, magic: int | None = None) -> U8:
    """The unsigned-byte array stored in IDX file `path` (gzipped or not).

    Checks the magic number (``magic`` when given: ``0x801`` labels,
    ``0x803`` images), that every dimension is positive, and that the data
    is exactly as long as the header says -- a gzip stream is decompressed
    only up to that length (at most `MAX_IDX_BYTES`), so a file whose header
    does not match its contents is refused without reading it all. Any
    problem raises one `DataError` naming the file.
    """
    path = Path(path)
    body, _, dims = _read_idx_bytes(path, magic)
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


_KIND = {LABELS_MAGIC: "labels", IMAGES_MAGIC: "images"}


def read_images(path: str | Path) -> U8:
    """Images, shape ``(n, rows, cols)``, uint8, from an IDX file with magic ``0x803``."""
    return read_idx(path, magic=IMAGES_MAGIC)


def read_labels(path: str | Path, *, classes: int = 10) -> U8:
    """Labels, shape ``(n,)``, uint8 in ``0..classes-1``, from an IDX file with magic ``0x801``."""
    labels = read_idx(path, magic=LABELS_MAGIC)
    if labels.size and int(labels.max()) >= classes:
        raise _bad(Path(path), f"a label is {int(labels.max())}; labels must be 0..{classes - 1}")
    return labels


# -- the data set ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    """A train/test split of 28 x 28 grey images with labels 0..9, as read from `source`."""

    train_images: U8
    train_labels: U8
    test_images: U8
    test_labels: U8
    source: Path

    @property
    def classes(self) -> int:
        return 10

    def describe(self) -> str:
        n, h, w = self.train_images.shape
        return f"{n} train + {len(self.test_images)} test images of {h}x{w} from {self.source}"


def _file_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def _has_all(folder: Path) -> bool:
    return all(_file_in(folder, n) is not None for n in _NAMES)


def load_dataset(folder: str | Path) -> Dataset:
    """Read the four IDX files (``train-images-idx3-ubyte[.gz]`` ...) in `folder`.

    Works for Fashion-MNIST, MNIST and KMNIST, which use the same file names.
    """
    folder = Path(folder)
    paths: dict[str, Path] = {}
    missing = []
    for name in _NAMES:
        found = _file_in(folder, name)
        if found is None:
            missing.append(f"{name}[.gz]")
        else:
            paths[name] = found
    if missing:
        raise DataError(
            f"{folder}: missing {', '.join(missing)}; put the four Fashion-MNIST IDX files there "
            "(`apt-get install dataset-fashion-mnist`), or leave out the path to use the default search"
        )
    train_x = read_images(paths["train-images-idx3-ubyte"])
    train_y = read_labels(paths["train-labels-idx1-ubyte"])
    test_x = read_images(paths["t10k-images-idx3-ubyte"])
    test_y = read_labels(paths["t10k-labels-idx1-ubyte"])
    for images, labels, split in ((train_x, train_y, "train"), (test_x, test_y, "t10k")):
        if len(images) != len(labels):
            raise _bad(
                paths[f"{split}-labels-idx1-ubyte"],
                f"{len(labels)} labels for {len(images)} images in {paths[f'{split}-images-idx3-ubyte'].name}",
            )
    if train_x.shape[1:] != test_x.shape[1:]:
        test_size = "x".join(map(str, test_x.shape[1:]))
        train_size = "x".join(map(str, train_x.shape[1:]))
        raise _bad(paths["t10k-images-idx3-ubyte"], f"images are {test_size}, the training images {train_size}")
    if train_x.shape[1:] != IMAGE_SHAPE:
        size = "x".join(map(str, train_x.shape[1:]))
        raise DataError(
            f"{paths['train-images-idx3-ubyte']}: images are {size}; the Fashion-MNIST experiments need 28x28 "
            "(give the folder of Fashion-MNIST, MNIST or KMNIST, or an experiment of your own for other images)"
        )
    return Dataset(train_x, train_y, test_x, test_y, folder)


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lrlab/fashion-mnist``, or ``~/.cache/lrlab/fashion-mnist``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lrlab" / "fashion-mnist"


def fashion_mnist_dirs(path: str | Path | None = None) -> list[Path]:
    """The folders searched for Fashion-MNIST, in order (see the module docstring)."""
    dirs = []
    if path is not None:
        dirs.append(Path(path))
    env = os.environ.get("LRLAB_DATA")
    if env:
        dirs.append(Path(env))
        dirs.append(Path(env) / "fashion-mnist")
    dirs.append(DEBIAN_DIR)
    dirs.append(cache_dir())
    return dirs


def find_fashion_mnist(path: str | Path | None = None) -> Path | None:
    """The first folder of `fashion_mnist_dirs` holding the four files, or None.

    An explicit `path` must hold them: a `DataError` says what is missing.
    """
    if path is not None:
        folder = Path(path)
        if not folder.is_dir():
            raise DataError(f"data path {str(path)!r} is not a folder; give the folder holding the four IDX files")
        if not _has_all(folder):
            load_dataset(folder)  # raises, listing the missing files
        return folder
    for folder in fashion_mnist_dirs():
        if folder.is_dir() and _has_all(folder):
            return folder
    return None


def load_fashion_mnist(
    path: str | Path | None = None,
    *,
    download: bool = True,
    log: Callable[[str], None] | None = None,
) -> Dataset:
    """Fashion-MNIST from the first place that has it; downloaded into `cache_dir` when none has.

    >>> data = load_fashion_mnist()  # doctest: +SKIP
    >>> data.train_images.shape, data.test_labels.shape  # doctest: +SKIP
    ((60000, 28, 28), (10000,))
    """
    folder = find_fashion_mnist(path)
    if folder is None:
        if not download:
            searched = ", ".join(str(d) for d in fashion_mnist_dirs())
            raise DataError(
                f"Fashion-MNIST is not in any of {searched}; `apt-get install dataset-fashion-mnist`, "
                "set LRLAB_DATA to a folder holding the four IDX files, or allow the download"
            )
        folder = download_fashion_mnist(cache_dir(), log=log)
    return load_dataset(folder)


# -- the download ----------------------------------------------------------------------------------
Opener = Callable[[str], Any]


def _urlopen(url: str) -> Any:
    return urllib.request.urlopen(url, timeout=60)


def download_fashion_mnist(
    dest: str | Path,
    *,
    base_url: str | None = None,
    files: Sequence[_Official] | None = None,
    opener: Opener | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Fetch the four ``.gz`` files into `dest` and verify each before it gets its final name.

    Each file is streamed into a temporary file in `dest`; its MD5 must be
    the one the Fashion-MNIST project publishes and the SHA-256 of its
    uncompressed bytes the one lrlab records. Only then is it renamed
    (``os.replace``); on any failure nothing is left behind. Files already
    present are kept. `base_url`, `files` and `opener` default to
    `FASHION_MNIST_URL`, `FASHION_MNIST_FILES` and ``urllib.request.urlopen``.
    """
    folder = Path(dest)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the download folder {folder}: {exc.strerror or exc}") from None
    say = log or (lambda text: print(text, file=sys.stderr))
    base = base_url or FASHION_MNIST_URL
    for official in files or FASHION_MNIST_FILES:
        target = folder / f"{official.name}.gz"
        if target.is_file():
            continue
        url = base.rstrip("/") + f"/{official.name}.gz"
        say(f"downloading {url}")
        _fetch_verified(url, target, official, opener or _urlopen)
    return folder


def _fetch_verified(url: str, target: Path, official: _Official, opener: Opener) -> None:
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        md5 = hashlib.md5(usedforsecurity=False)
        with os.fdopen(handle, "wb") as out, _opened(url, opener) as response:
            try:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    md5.update(chunk)
                    out.write(chunk)
            except OSError as exc:
                raise DataError(f"{url}: the download broke off ({exc}); nothing was saved, try again") from None
            out.flush()
            os.fsync(out.fileno())
        if md5.hexdigest() != official.md5_gz:
            raise DataError(
                f"{url}: the download's MD5 is {md5.hexdigest()}, the Fashion-MNIST project publishes "
                f"{official.md5_gz}; nothing was saved. Try again later, or `apt-get install dataset-fashion-mnist`"
            )
        try:
            content = gzip.decompress(tmp.read_bytes())
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{url}: the download is not a valid gzip file ({exc}); nothing was saved") from None
        digest = hashlib.sha256(content).hexdigest()
        if digest != official.sha256 or len(content) != official.size:
            raise DataError(
                f"{url}: the uncompressed SHA-256 is {digest}, expected {official.sha256}; nothing was saved. "
                "Try again later, or `apt-get install dataset-fashion-mnist`"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _opened(url: str, opener: Opener) -> Iterator[IO[bytes]]:
    try:
        response = opener(url)
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(
            f"cannot download {url} ({reason}); `apt-get install dataset-fashion-mnist`, or set LRLAB_DATA "
            "to a folder holding the four IDX files"
        ) from None
    try:
        yield response
    finally:
        close = getattr(response, "close", None)
        if close is not None:
            close()
