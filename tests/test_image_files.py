"""Images from disk (Lectures 63–67): load_img & co., flow_from_directory and
image_dataset_from_directory against tf.keras on PNG/JPEG folders the tests generate."""

from __future__ import annotations

import numpy as np
import pytest

import scratch
from scratch.preprocessing.image import ImageDataGenerator
from scratch.testing import assert_close

Image = pytest.importorskip("PIL.Image")
pytestmark = pytest.mark.parity


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """cats/ dogs/ frogs/ with RGB PNGs of several sizes, a grayscale PNG, an RGBA PNG and
    JPEGs (one in a nested folder), all from a fixed generator."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    sizes = [(10, 13), (7, 9), (12, 12), (9, 6), (8, 11)]
    for c, name in enumerate(["cats", "dogs", "frogs"]):
        (root / name / "more").mkdir(parents=True)
        for i, (h, w) in enumerate(sizes):
            pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"img{i}.png")
        Image.fromarray(rng.integers(0, 256, (9, 10), dtype=np.uint8)).save(
            root / name / "gray.png")
        Image.fromarray(rng.integers(0, 256, (6, 8, 4), dtype=np.uint8), "RGBA").save(
            root / name / "alpha.png")
        smooth = np.clip(np.add.outer(np.arange(16), np.arange(20))[..., None] * 6
                         + np.array([0, 40, 80]) * c, 0, 255).astype(np.uint8)
        Image.fromarray(smooth).save(root / name / "more" / "photo.jpg", quality=90)
        (root / name / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def png_folder(folder, tmp_path_factory):
    """The same folder without its JPEGs (whose pixels TF decodes a little differently)."""
    import shutil

    root = tmp_path_factory.mktemp("pngs") / "images"
    shutil.copytree(folder, root, ignore=shutil.ignore_patterns("*.jpg"))
    return root


def _files(folder):
    return sorted(p for p in folder.rglob("*") if p.suffix in (".png", ".jpg"))


@pytest.mark.parametrize("color_mode", ["rgb", "rgba", "grayscale"])
@pytest.mark.parametrize("target_size,interpolation,keep", [
    (None, "nearest", False), ((8, 8), "nearest", False), ((5, 7), "bilinear", False),
    ((11, 6), "bicubic", False), ((6, 6), "lanczos", True), ((4, 9), "box", True)])
def test_load_img_equals_keras(tf_keras, folder, color_mode, target_size, interpolation, keep):
    for path in _files(folder):
        kwargs = dict(color_mode=color_mode, target_size=target_size,
                      interpolation=interpolation, keep_aspect_ratio=keep)
        ours = scratch.utils.img_to_array(scratch.utils.load_img(path, **kwargs))
        theirs = tf_keras.utils.img_to_array(tf_keras.utils.load_img(path, **kwargs))
        assert ours.dtype == theirs.dtype == np.float32
        np.testing.assert_array_equal(ours, theirs, err_msg=str(path))


def test_array_to_img_and_save_img_equal_keras(tf_keras, tmp_path):
    rng = np.random.default_rng(1)
    for channels in (1, 3, 4):
        x = rng.normal(size=(5, 6, channels)).astype(np.float32)
        for scale in (True, False):
            xs = x if scale else np.abs(x) * 100
            ours = np.asarray(scratch.utils.array_to_img(xs, scale=scale))
            theirs = np.asarray(tf_keras.utils.array_to_img(xs, scale=scale))
            np.testing.assert_array_equal(ours, theirs)
        for suffix in ("png", "jpg"):
            scratch.utils.save_img(tmp_path / f"a.{suffix}", x[..., :3] if suffix == "jpg"
                                   else x)
            tf_keras.utils.save_img(tmp_path / f"b.{suffix}", x[..., :3] if suffix == "jpg"
                                    else x)
            assert (tmp_path / f"a.{suffix}").read_bytes() == \
                (tmp_path / f"b.{suffix}").read_bytes()
    big = np.full((2, 2, 1), 1000.0, np.float32)
    assert scratch.utils.array_to_img(big, scale=False).mode == "I"
    with pytest.raises(ValueError, match="rank 3"):
        scratch.utils.array_to_img(np.zeros((2, 2)))


def test_load_img_without_pillow_says_how(monkeypatch, folder):
    import builtins

    real_import = builtins.__import__

    def no_pil(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("no PIL here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil)
    with pytest.raises(ImportError, match="needs Pillow"):
        scratch.utils.load_img(_files(folder)[0])


@pytest.mark.parametrize("config,flow", [
    ({"rescale": 1 / 255}, {"class_mode": "categorical", "shuffle": False}),
    ({"validation_split": 0.4}, {"class_mode": "sparse", "subset": "training", "seed": 3}),
    ({"validation_split": 0.4}, {"class_mode": "binary", "subset": "validation", "seed": 5,
                                 "classes": ["dogs", "frogs"]}),
    ({"horizontal_flip": True, "rotation_range": 20, "width_shift_range": 0.1},
     {"class_mode": "input", "seed": 11, "color_mode": "grayscale",
      "interpolation": "bilinear"}),
    ({}, {"class_mode": None, "seed": 2, "color_mode": "rgba", "keep_aspect_ratio": True}),
])
def test_flow_from_directory_equals_keras(tf_keras, folder, config, flow):
    kwargs = dict(target_size=(8, 10), batch_size=4, **flow)
    ours = ImageDataGenerator(**config).flow_from_directory(str(folder), **kwargs)
    theirs = tf_keras.preprocessing.image.ImageDataGenerator(**config).flow_from_directory(
        str(folder), **kwargs)
    assert ours.filenames == theirs.filenames and ours.filepaths == theirs.filepaths
    assert ours.class_indices == theirs.class_indices
    np.testing.assert_array_equal(ours.classes, theirs.classes)
    assert ours.classes.dtype == theirs.classes.dtype and len(ours) == len(theirs)
    assert ours.samples == theirs.samples and ours.image_shape == theirs.image_shape
    for _ in range(len(ours) + 2):   # across an epoch boundary (a reshuffle)
        a, b = next(ours), next(theirs)
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        for u, v in zip(a, b):
            assert u.dtype == v.dtype and u.shape == v.shape
            np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(ours[1][0] if flow["class_mode"] else ours[1],
                                  theirs[1][0] if flow["class_mode"] else theirs[1])


def _batches(ds):
    return [tuple(np.asarray(t) for t in b) if isinstance(b, tuple) else (np.asarray(b),)
            for b in ds]


@pytest.mark.parametrize("kwargs", [
    {"label_mode": "int", "image_size": (8, 8)},
    {"label_mode": "categorical", "image_size": (5, 11), "color_mode": "grayscale"},
    {"label_mode": "binary", "image_size": (7, 6), "class_names": ["cats", "frogs"],
     "interpolation": "nearest"},
    {"label_mode": None, "image_size": 9, "batch_size": None},   # (TF refuses rgba JPEGs)
])
def test_image_dataset_from_directory_unshuffled_equals_keras(tf_keras, folder, kwargs):
    """Same files, labels and batches as Keras. Pixels decoded the same way (PNG in its own
    colour mode, RGB(A) from PNG) match within the forward tier; JPEG pixels (TF's IDCT is
    libjpeg's fast integer one, Pillow's the accurate one) and colour-to-gray conversions
    (libpng's and libjpeg's against Pillow's) are within 3 grey levels."""
    kwargs = {"batch_size": 5, "shuffle": False, **kwargs}
    ours = scratch.utils.image_dataset_from_directory(str(folder), **kwargs)
    theirs = tf_keras.utils.image_dataset_from_directory(str(folder), **kwargs)
    assert ours.class_names == theirs.class_names and ours.file_paths == theirs.file_paths
    a, b = _batches(ours), _batches(theirs)
    assert len(a) == len(b) == len(ours)
    gray = kwargs.get("color_mode") == "grayscale"
    step = kwargs["batch_size"] or 1
    for k, (x, y) in enumerate(zip(a, b)):
        for u, v in zip(x, y):
            assert u.dtype == v.dtype and u.shape == v.shape
        paths = ours.file_paths[k * step:(k + 1) * step]
        for i, path in enumerate(paths):
            u, v = (x[0], y[0]) if kwargs["batch_size"] is None else (x[0][i], y[0][i])
            if path.endswith(".jpg") or (gray and not path.endswith("gray.png")):
                assert np.abs(u.astype(np.float32) - v).max() <= 3, path
            else:
                assert_close(u, v, kind="forward", dtype="float32", msg=path)
        for u, v in zip(x[1:], y[1:]):   # labels
            np.testing.assert_array_equal(u, v)


def test_image_dataset_split_and_shuffle_match_keras_files(tf_keras, png_folder):
    """With shuffle and a split: the same files and labels in each subset as Keras (tf.data's
    own shuffle buffer orders them differently inside a pass)."""
    kwargs = dict(image_size=(6, 6), seed=7, validation_split=0.3, batch_size=4)
    folder = str(png_folder)
    ours = scratch.utils.image_dataset_from_directory(folder, subset="both", **kwargs)
    theirs = tf_keras.utils.image_dataset_from_directory(folder, subset="both", **kwargs)
    for o, t in zip(ours, theirs):
        assert o.file_paths == t.file_paths

        def pairs(ds):
            return sorted((y.item(), x.tobytes()) for xb, yb in _batches(ds)
                          for x, y in zip(xb, yb))

        mine = pairs(o)
        assert mine == pairs(t) and mine == pairs(o)   # every pass: the same samples
    with pytest.raises(ValueError, match="provide a `seed`"):
        scratch.utils.image_dataset_from_directory(folder, validation_split=0.2,
                                                   subset="training")
