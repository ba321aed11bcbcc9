"""`ImageDataGenerator.flow_from_dataframe` against tf.keras 3's (its legacy
`DataFrameIterator`, still in keras.src.legacy.preprocessing.image) on a small generated
folder of PNGs: the same files, classes, labels, weights, messages and batches, for every
class_mode, with classes, subsets, augmentation and a seed."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

from scratch.preprocessing.image import ImageDataGenerator

Image = pytest.importorskip("PIL.Image")
pd = pytest.importorskip("pandas")
pytestmark = pytest.mark.parity

CLASSES = ["cat", "dog", "frog"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """12 RGB PNGs of several sizes (img0.png … img11.png) in one folder, a text file, and a
    DataFrame listing them with a missing file and the text file among them."""
    root = tmp_path_factory.mktemp("frame")
    rng = np.random.default_rng(0)
    for i in range(12):
        h, w = 6 + i % 3, 9 - i % 4
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            root / f"img{i}.png")
    (root / "notes.txt").write_text("not an image")
    names = [f"img{i}.png" for i in range(12)] + ["missing.png", "notes.txt"]
    df = pd.DataFrame({
        "filename": names,
        "class": [CLASSES[i % 3] for i in range(14)],
        "pair": ["cat" if i % 2 else "dog" for i in range(14)],
        "tags": [[CLASSES[i % 3]] + ([CLASSES[(i + 1) % 3]] if i % 4 == 0 else [])
                 for i in range(14)],
        "w": np.linspace(0.5, 2.0, 14),
        "a": np.arange(14, dtype="float64") / 7,
        "b": (np.arange(14) % 5).astype("float64"),
    })
    return root, df


def _both(tf_keras, config, df, kwargs):
    """Our iterator and tf.keras', each with the 'Found …' line it printed."""
    made = []
    for generator in (ImageDataGenerator, tf_keras.preprocessing.image.ImageDataGenerator):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("ignore")   # the invalid-filename warning, tested below
            it = generator(**config).flow_from_dataframe(df, **kwargs)
        made.append((it, out.getvalue()))
    return made


def _assert_same(u, v):
    if isinstance(v, list):
        assert isinstance(u, list) and len(u) == len(v)
        for a, b in zip(u, v):
            _assert_same(a, b)
        return
    u, v = np.asarray(u), np.asarray(v)
    assert u.dtype == v.dtype and u.shape == v.shape, (u.dtype, v.dtype, u.shape, v.shape)
    np.testing.assert_array_equal(u, v)


CASES = [
    ({"rescale": 1 / 255}, {"class_mode": "categorical", "shuffle": False}),
    ({"horizontal_flip": True, "rotation_range": 15}, {"class_mode": "sparse", "seed": 4}),
    ({}, {"class_mode": "binary", "y_col": "pair", "seed": 1, "weight_col": "w"}),
    ({"validation_split": 0.25}, {"class_mode": "sparse", "subset": "validation",
                                  "classes": ["frog", "cat", "frog"], "shuffle": False}),
    ({"validation_split": 0.25}, {"class_mode": "categorical", "subset": "training",
                                  "seed": 9}),
    ({}, {"class_mode": "categorical", "y_col": "tags", "seed": 2}),      # multi-label
    ({}, {"class_mode": "categorical", "y_col": "tags", "classes": ["dog", "cat"],
          "shuffle": False}),
    ({}, {"class_mode": "raw", "y_col": "a", "shuffle": False}),
    ({"width_shift_range": 0.2}, {"class_mode": "raw", "y_col": ["a", "b"], "seed": 6}),
    ({}, {"class_mode": "multi_output", "y_col": ["a", "b"], "seed": 3, "weight_col": "w"}),
    ({"vertical_flip": True}, {"class_mode": "input", "seed": 5, "color_mode": "grayscale",
                               "interpolation": "bilinear"}),
    ({}, {"class_mode": None, "shuffle": False, "color_mode": "rgba",
          "validate_filenames": False}),
]


@pytest.mark.parametrize("config,flow", CASES)
def test_flow_from_dataframe_equals_keras(tf_keras, folder, config, flow):
    root, df = folder
    if flow.get("validate_filenames") is False:
        df = df[df.filename.str.startswith("img")]   # unvalidated: only readable files
    kwargs = dict(directory=str(root), target_size=(5, 7), batch_size=5, **flow)
    (ours, our_text), (theirs, their_text) = _both(tf_keras, config, df, kwargs)
    assert our_text == their_text and "Found" in our_text
    assert ours.filenames == theirs.filenames and ours.filepaths == theirs.filepaths
    assert ours.samples == theirs.samples and len(ours) == len(theirs)
    assert ours.image_shape == theirs.image_shape
    if flow["class_mode"] in ("categorical", "binary", "sparse"):
        assert ours.class_indices == theirs.class_indices
        assert ours.classes == theirs.classes
    if flow["class_mode"] in ("raw", "multi_output"):
        _assert_same(ours.labels, theirs.labels)
    if flow.get("weight_col"):
        _assert_same(ours.sample_weight, theirs.sample_weight)
    for _ in range(len(ours) + 2):   # across an epoch boundary (a reshuffle)
        a, b = next(ours), next(theirs)
        a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _assert_same(u, v)
    a, b = ours[len(ours) - 1], theirs[len(ours) - 1]   # the Sequence protocol
    a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
    for u, v in zip(a, b):
        _assert_same(u, v)


def test_absolute_paths_without_directory_and_the_invalid_file_warning(tf_keras, folder):
    root, df = folder
    df = df.assign(filename=[str(root / name) for name in df.filename])
    with pytest.warns(UserWarning, match=r'Found 2 invalid image filename\(s\) in '
                                         r'x_col="filename"'):
        ours = ImageDataGenerator().flow_from_dataframe(df, target_size=(4, 4),
                                                        shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = tf_keras.preprocessing.image.ImageDataGenerator().flow_from_dataframe(
            df, target_size=(4, 4), shuffle=False)
    assert ours.filepaths == theirs.filepaths == [str(root / f"img{i}.png") for i in range(12)]
    for u, v in zip(next(ours), next(theirs)):
        _assert_same(u, v)


@pytest.mark.parametrize("kwargs,error,message", [
    ({"class_mode": "bogus"}, ValueError, "Invalid class_mode: bogus"),
    ({"class_mode": "multi_output", "y_col": "a"}, TypeError, "y_col must be a list"),
    ({"class_mode": "binary"}, ValueError, "there must be 2 classes. Found 3 classes"),
    ({"class_mode": "binary", "classes": ["cat", "dog", "frog"]}, ValueError,
     "3 class/es were given"),
    ({"class_mode": "sparse", "y_col": "tags"}, TypeError, "column values must be strings"),
    ({"class_mode": "categorical", "y_col": "a"}, TypeError, "string, list or tuple"),
    ({"weight_col": "filename"}, TypeError, "weight_col=filename must be numeric"),
    ({"x_col": "a"}, TypeError, "x_col=a must be strings"),
    ({"subset": "test"}, ValueError, "Invalid subset name: test"),
    ({"color_mode": "cmyk"}, ValueError, "Invalid color mode: cmyk"),
])
def test_flow_from_dataframe_errors_match_keras(tf_keras, folder, kwargs, error, message):
    root, df = folder
    kw = dict(directory=str(root), **kwargs)
    with pytest.raises(error, match=message):
        ImageDataGenerator(validation_split=0.2).flow_from_dataframe(df, **kw)
    with pytest.raises(error, match=message), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf_keras.preprocessing.image.ImageDataGenerator(
            validation_split=0.2).flow_from_dataframe(df, **kw)


def test_deprecated_arguments_warn(folder):
    root, df = folder
    df = df[df.filename.str.startswith("img")]
    gen = ImageDataGenerator()
    with pytest.warns(DeprecationWarning, match="class_mode=\"raw\""):
        it = gen.flow_from_dataframe(df, str(root), y_col="a", class_mode="other")
    assert it.class_mode == "raw"
    with pytest.warns(DeprecationWarning, match="has_ext is deprecated"):
        gen.flow_from_dataframe(df, str(root), has_ext=True)
    with pytest.warns(UserWarning, match="`classes` will be ignored"):
        gen.flow_from_dataframe(df, str(root), class_mode=None, classes=["cat"])
    with pytest.raises(ValueError, match="save_to_dir"):
        gen.flow_from_dataframe(df, str(root), save_to_dir=str(root))
