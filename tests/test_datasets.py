"""keras.datasets and utils.get_file: scratch's loaders against tf.keras' on the same files.

Each test writes small files in the dataset's exact on-disk format into a temporary
KERAS_HOME, points both engines at it, and compares what the loaders return. The files are
not Keras' (their hashes differ), so both engines' hash checks are answered "valid" here,
and both engines' downloaders raise: a test that reached the network would fail.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import pickle
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

import scratch
from scratch.utils import file_utils

pytestmark = pytest.mark.parity


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("the tests never use the network")


@pytest.fixture
def home(tmp_path, monkeypatch, tf_keras):
    """A temporary KERAS_HOME for both engines, hash checks passed, downloads refused."""
    from keras.src.backend import config as k_config
    from keras.src.utils import file_utils as k_files

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(k_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(k_files, "validate_file", lambda *a, **k: True)
    monkeypatch.setattr(k_files, "urlretrieve", _no_network)
    monkeypatch.setattr(file_utils, "validate_file", lambda *a, **k: True)
    monkeypatch.setattr(file_utils.urllib.request, "urlopen", _no_network)
    (tmp_path / "datasets").mkdir()
    return tmp_path


def _same(a, b):
    """Nested tuples of arrays: same types, dtypes, shapes and values."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
        return
    assert type(a) is type(b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        if a.dtype == object:
            assert [list(r) for r in a] == [list(r) for r in b]
        else:
            np.testing.assert_array_equal(a, b)
    else:
        assert a == b


def _ragged(rng, n, vocab):
    return np.array([list(rng.integers(0, vocab, rng.integers(1, 12)).tolist())
                     for _ in range(n)] + [[1, 2]], dtype=object)[:n]


def test_mnist_npz(home, tf_keras):
    rng = np.random.default_rng(0)
    np.savez(home / "datasets" / "mnist.npz",
             x_train=rng.integers(0, 256, (7, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 7, dtype=np.uint8),
             x_test=rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 3, dtype=np.uint8))
    ours = scratch.datasets.mnist.load_data()
    _same(ours, tf_keras.datasets.mnist.load_data())
    assert ours[0][0].shape == (7, 28, 28) and ours[0][0].dtype == np.uint8


def test_fashion_mnist_idx_gz(home, tf_keras):
    rng = np.random.default_rng(1)
    folder = home / "datasets" / "fashion-mnist"
    folder.mkdir()
    for split, n in (("train", 5), ("t10k", 4)):
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(np.array([2049, n], ">i4").tobytes() + labels.tobytes())
        with gzip.open(folder / f"{split}-images-idx3-ubyte.gz", "wb") as f:
            f.write(np.array([2051, n, 28, 28], ">i4").tobytes() + images.tobytes())
    ours = scratch.datasets.fashion_mnist.load_data()
    _same(ours, tf_keras.datasets.fashion_mnist.load_data())
    assert ours[1][0].shape == (4, 28, 28)


def _tar_gz(path, members):
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for name, obj in members.items():
            data = pickle.dumps(obj, protocol=4)   # bytes keys, as the Python 2 originals read
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


@pytest.mark.slow
def test_cifar10_pickled_batches(home, tf_keras):
    # Keras' loader fills 50,000 training rows from five batches: the batches are full size,
    # zeros except a few random rows, so that the order of batches and rows is checked.
    rng = np.random.default_rng(2)
    members = {}
    for i, name in enumerate(["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                              "data_batch_5", "test_batch"]):
        data = np.zeros((10000, 3072), np.uint8)
        data[i::997] = rng.integers(0, 256, data[i::997].shape, dtype=np.uint8)
        members[f"cifar-10-batches-py/{name}"] = {
            b"data": data, b"labels": rng.integers(0, 10, 10000).tolist()}
    _tar_gz(home / "datasets" / "cifar-10-batches-py-target_archive", members)
    ours = scratch.datasets.cifar10.load_data()
    _same(ours, tf_keras.datasets.cifar10.load_data())
    assert ours[0][0].shape == (50000, 32, 32, 3) and ours[0][1].shape == (50000, 1)


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_pickled_batches(home, tf_keras, label_mode):
    rng = np.random.default_rng(3)
    members = {}
    for name, n in (("train", 6), ("test", 4)):
        members[f"cifar-100-python/{name}"] = {
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"fine_labels": rng.integers(0, 100, n).tolist(),
            b"coarse_labels": rng.integers(0, 20, n).tolist()}
    _tar_gz(home / "datasets" / "cifar-100-python-target_archive", members)
    ours = scratch.datasets.cifar100.load_data(label_mode=label_mode)
    _same(ours, tf_keras.datasets.cifar100.load_data(label_mode=label_mode))
    assert ours[0][0].shape == (6, 32, 32, 3) and ours[0][1].shape == (6, 1)


def test_boston_housing_split(home, tf_keras):
    rng = np.random.default_rng(4)
    np.savez(home / "datasets" / "boston_housing.npz", x=rng.normal(size=(21, 13)),
             y=rng.normal(size=21))
    for split in (0.2, 0.5):
        _same(scratch.datasets.boston_housing.load_data(test_split=split),
              tf_keras.datasets.boston_housing.load_data(test_split=split))


@pytest.mark.parametrize("kwargs", [
    {}, {"num_words": 20, "skip_top": 3}, {"maxlen": 8}, {"index_from": 0, "start_char": None},
    {"num_words": 15, "oov_char": None}, {"seed": 7, "index_from": 2},
])
def test_imdb_npz_and_word_index(home, tf_keras, kwargs):
    rng = np.random.default_rng(5)
    np.savez(home / "datasets" / "imdb.npz", x_train=_ragged(rng, 9, 30),
             y_train=rng.integers(0, 2, 9), x_test=_ragged(rng, 6, 30),
             y_test=rng.integers(0, 2, 6))
    (home / "datasets" / "imdb_word_index.json").write_text(json.dumps({"the": 1, "film": 2}))
    _same(scratch.datasets.imdb.load_data(**kwargs), tf_keras.datasets.imdb.load_data(**kwargs))
    assert scratch.datasets.imdb.get_word_index() == tf_keras.datasets.imdb.get_word_index()


@pytest.mark.parametrize("kwargs", [{}, {"num_words": 20, "maxlen": 9, "test_split": 0.3}])
def test_reuters_npz(home, tf_keras, kwargs):
    rng = np.random.default_rng(6)
    np.savez(home / "datasets" / "reuters.npz", x=_ragged(rng, 12, 40),
             y=rng.integers(0, 46, 12))
    (home / "datasets" / "reuters_word_index.json").write_text(json.dumps({"oil": 1}))
    _same(scratch.datasets.reuters.load_data(**kwargs),
          tf_keras.datasets.reuters.load_data(**kwargs))
    assert scratch.datasets.reuters.get_word_index() == {"oil": 1}
    assert scratch.datasets.reuters.get_label_names() == \
        tf_keras.datasets.reuters.get_label_names()


def test_imdb_refuses_pickled_code(home):
    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    x = np.empty(1, dtype=object)
    x[0] = Evil()
    np.savez(home / "datasets" / "imdb.npz", x_train=x, y_train=np.zeros(1),
             x_test=x, y_test=np.zeros(1))
    with pytest.raises(pickle.UnpicklingError, match="Refusing to deserialize"):
        scratch.datasets.imdb.load_data()


# get_file on its own: the cache paths, the download, the hash and the offline error.

def test_get_file_missing_offline_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(file_utils.urllib.request, "urlopen", _no_network)
    with pytest.raises(FileNotFoundError, match=r"datasets/mnist\.npz is not in the cache"):
        scratch.datasets.mnist.load_data()
    assert not list((tmp_path / "datasets").iterdir())   # no partial file left
    (tmp_path / "datasets" / "mnist.npz").write_bytes(b"not Keras' file")
    with pytest.raises(FileNotFoundError, match="in the cache but its hash does not match"):
        scratch.datasets.mnist.load_data()


def test_get_file_downloads_atomically_and_checks_hash(tmp_path, monkeypatch):
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload" * 1000)
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    path = file_utils.get_file("data.bin", origin=source.as_uri(), file_hash=sha,
                               cache_dir=cache)
    assert path == str(cache / "datasets" / "data.bin")
    assert Path(path).read_bytes() == source.read_bytes()
    assert sorted(p.name for p in (cache / "datasets").iterdir()) == ["data.bin"]
    # cached and valid: no download (the network is now refused)
    monkeypatch.setattr(file_utils.urllib.request, "urlopen", _no_network)
    assert file_utils.get_file("data.bin", origin=source.as_uri(), file_hash=sha,
                               cache_dir=cache) == path
    monkeypatch.undo()
    # a wrong hash on the download: an error, and nothing under the real name
    with pytest.raises(ValueError, match="hash does not match"):
        file_utils.get_file("other.bin", origin=source.as_uri(), file_hash="0" * 64,
                            cache_dir=cache)
    assert not (cache / "datasets" / "other.bin").exists()
    # md5 (32 hex digits) is recognised as Keras does
    md5 = hashlib.md5(source.read_bytes()).hexdigest()
    assert file_utils.validate_file(path, md5) and file_utils.validate_file(path, sha)


def test_get_file_paths_match_keras(tmp_path, tf_keras):
    """Same target paths and extraction folders as Keras for the same arguments."""
    from keras.src.utils import file_utils as k_files

    archive = tmp_path / "src.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("inner/a.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    (tmp_path / "a").mkdir()   # Keras uses /tmp/.keras for a cache_dir that does not exist
    (tmp_path / "b").mkdir()   # (its import creates ~/.keras); scratch creates it
    for kwargs in ({"fname": "plain.txt"}, {"fname": "arch.tar.gz", "extract": True},
                   {"fname": "folder", "extract": True}, {"extract": True},
                   {"fname": "f", "cache_subdir": "models"}):
        ours = file_utils.get_file(origin=archive.as_uri(), cache_dir=tmp_path / "a", **kwargs)
        theirs = k_files.get_file(origin=archive.as_uri(), cache_dir=tmp_path / "b", **kwargs)
        assert ours.replace("/a/", "/b/") == theirs
        if kwargs.get("extract"):
            assert (tmp_path / "a" / "datasets").exists()
            assert (Path(ours) / "inner" / "a.txt").read_text() == "hi"


def test_extract_skips_members_outside_the_folder(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("ok/a.txt", "../escaped.txt", "/abs.txt"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.warns(UserWarning, match="Skipping invalid path"):
        assert file_utils.extract_archive(archive, tmp_path / "out")
    assert (tmp_path / "out" / "ok" / "a.txt").read_text() == "hi"
    assert not (tmp_path / "escaped.txt").exists() and not Path("/abs.txt").exists()
