"""lrlab.lab.data: the IDX reader on good and bad files, where Fashion-MNIST is looked for, and the checked download."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import lrlab.lab.data as data
from fixtures_data import NAMES, idx_bytes, synthetic_arrays, write_dataset, write_idx
from lrlab.lab.data import DataError, load_dataset, read_idx, read_images, read_labels

# -- the reader ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_reads_back_what_was_written(tmp_path: Path, gz: bool) -> None:
    images = np.arange(3 * 28 * 28, dtype=np.uint64).reshape(3, 28, 28).astype(np.uint8)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    got_images = read_images(write_idx(tmp_path / "img", images, gz=gz))
    got_labels = read_labels(write_idx(tmp_path / "lab", labels, gz=gz))
    assert got_images.dtype == np.uint8 and got_images.shape == (3, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    labels = np.array([1, 2, 3], dtype=np.uint8)
    path = tmp_path / "labels.raw"
    path.write_bytes(gzip.compress(idx_bytes(labels)))
    np.testing.assert_array_equal(read_labels(path), labels)


def test_wrong_magic_names_the_file_and_both_numbers(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(DataError) as err:
        read_images(path)
    message = str(err.value)
    assert str(path) in message
    assert "0x00000801" in message and "0x00000803" in message
    assert "delete it" in message or "apt-get" in message


def test_not_an_idx_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, world")
    with pytest.raises(DataError, match="not an unsigned-byte IDX file"):
        read_idx(path)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_truncated_data(tmp_path: Path, gz: bool) -> None:
    full = idx_bytes(np.ones((4, 28, 28), np.uint8))
    path = tmp_path / "images"
    cut = full[:-100]
    path.write_bytes(gzip.compress(cut) if gz else cut)
    with pytest.raises(DataError, match=r"truncated: .* needs 3152") as err:
        read_images(path)
    assert str(path) in str(err.value)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    packed = gzip.compress(idx_bytes(np.ones((4, 28, 28), np.uint8)))
    path = tmp_path / "images.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match="gzip stream is truncated"):
        read_images(path)


def test_corrupt_gzip_stream(tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(idx_bytes(np.arange(3000, dtype=np.uint16).astype(np.uint8))))
    packed[20:40] = b"\xff" * 20
    path = tmp_path / "labels.gz"
    path.write_bytes(bytes(packed))
    with pytest.raises(DataError, match="gzip stream is corrupt"):
        read_idx(path)


def test_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(np.ones((4, 28, 28), np.uint8))[:10])
    with pytest.raises(DataError, match="header is truncated"):
        read_images(path)


def test_zero_dimension_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "images"
    path.write_bytes(bytes.fromhex("00000803") + bytes.fromhex("00000002 00000000 0000001c".replace(" ", "")))
    with pytest.raises(DataError, match=r"dimensions \(2, 0, 28\); each must be > 0"):
        read_images(path)


def test_wrong_number_of_dimensions_for_images(tmp_path: Path) -> None:
    # a 2-D array of bytes carries magic 0x802, which is neither images nor labels
    path = write_idx(tmp_path / "images", np.ones((4, 28), np.uint8))
    with pytest.raises(DataError, match="magic number 0x00000802, expected 0x00000803"):
        read_images(path)


def test_trailing_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.ones(5, np.uint8)) + b"junk")
    with pytest.raises(DataError, match="4 bytes after the data"):
        read_labels(path)


def test_labels_out_of_range(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "labels", np.array([0, 10], np.uint8))
    with pytest.raises(DataError, match=r"a label is 10; labels must be 0\.\.9"):
        read_labels(path)


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file") as err:
        read_idx(tmp_path / "nothing.gz")
    assert "nothing.gz" in str(err.value)


def test_a_folder_with_fewer_labels_than_images(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", n_train=50, n_test=20)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(19, np.uint8))
    with pytest.raises(DataError, match="19 labels for 20 images"):
        load_dataset(folder)


def test_a_folder_missing_files_lists_them(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", n_train=50, n_test=20)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"missing t10k-images-idx3-ubyte\[\.gz\]"):
        load_dataset(folder)


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "raw"])
def test_load_dataset_reads_the_four_files(tmp_path: Path, gz: bool) -> None:
    arrays = synthetic_arrays(50, 20)
    ds = load_dataset(write_dataset(tmp_path / "d", gz=gz, n_train=50, n_test=20))
    np.testing.assert_array_equal(ds.train_images, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.test_labels, arrays["t10k-labels-idx1-ubyte"])
    assert "50 train + 20 test images of 28x28" in ds.describe()


# -- where the data is looked for ----------------------------------------------------------------------


@pytest.fixture
def no_data_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No $LRLAB_DATA, no Debian folder, an empty cache: the search finds nothing."""
    monkeypatch.delenv("LRLAB_DATA", raising=False)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "debian")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def test_search_order(no_data_anywhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = no_data_anywhere
    cache = write_dataset(root / "cache" / "lrlab" / "fashion-mnist", n_train=10, n_test=5, seed=1)
    assert data.find_fashion_mnist() == cache
    debian = write_dataset(root / "debian", n_train=10, n_test=5, seed=2)
    assert data.find_fashion_mnist() == debian
    env = write_dataset(root / "env", n_train=10, n_test=5, seed=3)
    monkeypatch.setenv("LRLAB_DATA", str(env))
    assert data.find_fashion_mnist() == env
    explicit = write_dataset(root / "explicit", n_train=10, n_test=5, seed=4)
    assert data.find_fashion_mnist(explicit) == explicit
    assert data.load_fashion_mnist(explicit).source == explicit


def test_lrlab_data_may_hold_a_fashion_mnist_subfolder(no_data_anywhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = write_dataset(no_data_anywhere / "datasets" / "fashion-mnist", n_train=10, n_test=5)
    monkeypatch.setenv("LRLAB_DATA", str(no_data_anywhere / "datasets"))
    assert data.find_fashion_mnist() == sub


def test_an_explicit_path_must_hold_the_data(no_data_anywhere: Path) -> None:
    write_dataset(no_data_anywhere / "debian", n_train=10, n_test=5)
    empty = no_data_anywhere / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="missing train-images-idx3-ubyte"):
        data.find_fashion_mnist(empty)
    with pytest.raises(DataError, match=r"'.*nowhere' is not a folder"):
        data.find_fashion_mnist(no_data_anywhere / "nowhere")


def test_nothing_found_and_no_download_says_where_it_looked(no_data_anywhere: Path) -> None:
    with pytest.raises(DataError) as err:
        data.load_fashion_mnist(download=False)
    message = str(err.value)
    assert str(no_data_anywhere / "debian") in message and str(no_data_anywhere / "cache") in message
    assert "apt-get install dataset-fashion-mnist" in message


# -- the download, against a local server ---------------------------------------------------------------


def _fake_files(tmp_path: Path) -> tuple[Path, list[data._Official]]:
    """Four small gzipped IDX files to serve, and their checksums as the downloader expects them."""
    served = write_dataset(tmp_path / "served", n_train=30, n_test=10)
    official = []
    for name in NAMES:
        packed = (served / f"{name}.gz").read_bytes()
        raw = gzip.decompress(packed)
        official.append(
            data._Official(name, hashlib.md5(packed).hexdigest(), hashlib.sha256(raw).hexdigest(), len(raw))
        )
    return served, official


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving tmp_path/served."""
    root = tmp_path / "served"
    root.mkdir(exist_ok=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_verifies_and_installs_the_files(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, _ = server
    _, official = _fake_files(tmp_path)
    dest = tmp_path / "cache"
    messages: list[str] = []
    folder = data.download_fashion_mnist(dest, base_url=url, files=official, log=messages.append)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    assert len(messages) == 4 and all(m.startswith("downloading http://127.0.0.1") for m in messages)
    ds = load_dataset(folder)
    np.testing.assert_array_equal(ds.train_labels, synthetic_arrays(30, 10)["train-labels-idx1-ubyte"])


def test_checksum_mismatch_leaves_nothing_behind(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, _ = server
    _fake_files(tmp_path)  # serves files that are not the real Fashion-MNIST
    dest = tmp_path / "cache"
    published = "8d4fb7e6c68d591d4c3dfef9ec88bf0d"
    with pytest.raises(DataError, match=rf"MD5 is .* the Fashion-MNIST project publishes {published}"):
        data.download_fashion_mnist(dest, base_url=url, log=lambda _: None)
    assert list(dest.iterdir()) == []


def test_content_checksum_mismatch_leaves_nothing_behind(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, _ = server
    _, official = _fake_files(tmp_path)
    wrong = [data._Official(o.name, o.md5_gz, "0" * 64, o.size) for o in official]
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match=r"uncompressed SHA-256 is .* expected 0000"):
        data.download_fashion_mnist(dest, base_url=url, files=wrong, log=lambda _: None)
    assert list(dest.iterdir()) == []


def test_server_error_is_one_clear_message(tmp_path: Path, server: tuple[str, Path]) -> None:
    url, _ = server
    dest = tmp_path / "cache"
    with pytest.raises(DataError, match=r"cannot download http://127\.0\.0\.1.*train-images-idx3-ubyte\.gz"):
        data.download_fashion_mnist(dest, base_url=url, log=lambda _: None)
    assert list(dest.iterdir()) == []


def test_load_downloads_into_the_cache_when_nothing_is_found(
    no_data_anywhere: Path, server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = server
    _, official = _fake_files(no_data_anywhere)
    monkeypatch.setattr(data, "FASHION_MNIST_URL", url)
    monkeypatch.setattr(data, "FASHION_MNIST_FILES", tuple(official))
    ds = data.load_fashion_mnist(log=lambda _: None)
    assert ds.source == no_data_anywhere / "cache" / "lrlab" / "fashion-mnist"
    assert ds.train_images.shape == (30, 28, 28)
    assert data.find_fashion_mnist() == ds.source  # found there next time


def test_an_interrupted_download_leaves_nothing_behind(tmp_path: Path) -> None:
    class Broken:
        def read(self, n: int) -> bytes:
            raise ConnectionResetError("connection reset by peer")

        def close(self) -> None:
            pass

    dest = tmp_path / "cache"
    with pytest.raises(DataError, match="broke off"):
        data.download_fashion_mnist(dest, opener=lambda url: Broken(), log=lambda _: None)
    assert list(dest.iterdir()) == []


# -- the real files, where installed --------------------------------------------------------------------

REAL = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not (REAL / "train-images-idx3-ubyte.gz").exists(), reason="dataset-fashion-mnist not installed")
def test_the_installed_files_are_the_official_content() -> None:
    for official in data.FASHION_MNIST_FILES:
        raw = gzip.decompress((REAL / f"{official.name}.gz").read_bytes())
        assert len(raw) == official.size
        assert hashlib.sha256(raw).hexdigest() == official.sha256
    ds = load_dataset(REAL)
    assert ds.train_images.shape == (60000, 28, 28) and ds.test_images.shape == (10000, 28, 28)
    assert np.bincount(ds.train_labels).tolist() == [6000] * 10
