"""`fit(..., validation_data=<generator or iterator>, validation_steps=...)` and
`evaluate(<generator>)` against tf.keras on the same data and weights: the course's
transfer-learning call (Lecture 66, "Transfer Learning Code (pt 1)") validates on a
`flow_from_directory` iterator. Which batches a pass reads: scratch/models/batch_sources.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import keras_ref
import scratch
from scratch.layers import Conv2D, Dense, Flatten, Input
from scratch.preprocessing.image import ImageDataGenerator
from scratch.testing import assert_close

from conftest import floatx

Image = pytest.importorskip("PIL.Image")
pytestmark = pytest.mark.parity


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """train/ and test/, each with food/ and nonfood/ PNGs (Lecture 66's layout), 7×8 RGB
    images whose mean colour depends on the class."""
    root = tmp_path_factory.mktemp("food")
    rng = np.random.default_rng(0)
    for part, n in (("train", 9), ("test", 7)):
        for c, name in enumerate(["food", "nonfood"]):
            (root / part / name).mkdir(parents=True)
            for i in range(n + c):
                base = np.array([200, 80, 40]) if c == 0 else np.array([40, 120, 200])
                pixels = np.clip(base + rng.normal(0, 50, (7, 8, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / part / name / f"{c}_{i}.png")
    return root


def _models(tf_keras, dtype):
    """A small CNN head (Conv2D → Flatten → softmax) and its tf.keras twin, same weights."""
    scratch.utils.set_random_seed(1)
    i = Input(shape=(6, 6, 3), dtype=dtype)
    x = Conv2D(3, (3, 3), activation="relu", dtype=dtype)(i)
    x = Flatten(dtype=dtype)(x)
    x = Dense(2, activation="softmax", dtype=dtype)(x)
    model = scratch.models.Model(i, x)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
                   run_eagerly=True)
    return model, kmodel


def _iterators(generator_class, folder, **valid_kwargs):
    """The training iterator (in file order) and the validation one (`valid_kwargs`)."""
    kw = dict(target_size=(6, 6), batch_size=4)
    gen = generator_class(rescale=1 / 255)
    return (gen.flow_from_directory(str(folder / "train"), shuffle=False, **kw),
            gen.flow_from_directory(str(folder / "test"), **kw, **valid_kwargs))


def _compare(h, kh, model, kmodel, dtype):
    assert list(h.history) == list(kh.history)
    for key in kh.history:
        assert_close(np.array(h.history[key]), np.array(kh.history[key]), kind="training",
                     dtype=dtype, msg=key)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        assert_close(a, b, kind="training", dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fit_validates_on_flow_from_directory_like_tf_keras(tf_keras, folders, dtype):
    """Lecture 66's call: training and validation iterators from folders, steps_per_epoch
    and validation_steps = ⌈N / batch_size⌉. The validation iterator shuffles (the course's
    default); every pass still covers each test image once."""
    with floatx(tf_keras, dtype):
        model, kmodel = _models(tf_keras, dtype)
        train, valid = _iterators(ImageDataGenerator, folders, seed=3)
        ktrain, kvalid = _iterators(tf_keras.preprocessing.image.ImageDataGenerator, folders,
                                    seed=3)
        kw = dict(epochs=3, steps_per_epoch=len(train), validation_steps=len(valid),
                  verbose=0, shuffle=False)   # tf.keras would shuffle the batches' order
        h = model.fit(train, validation_data=valid, **kw)
        kh = kmodel.fit(ktrain, validation_data=kvalid, **kw)
        assert len(h.history["val_loss"]) == 3
        _compare(h, kh, model, kmodel, dtype)
        ours, theirs = model.evaluate(valid, verbose=0), kmodel.evaluate(kvalid, verbose=0)
        assert_close(np.array(ours), np.array(theirs), kind="training", dtype=dtype)


def test_validation_steps_takes_the_first_batches_of_each_pass_like_tf_keras(tf_keras,
                                                                             folders):
    """Fewer validation_steps than batches: every validation reads the iterator's first
    batches again (Keras 3 reads a Sequence from index 0 each pass); more than it has: all
    of them, with Keras' "ran out of data" warning. validation_freq and the training data as
    arrays, validation from an iterator."""
    model, kmodel = _models(tf_keras, "float32")
    train, valid = _iterators(ImageDataGenerator, folders, shuffle=False)
    _, kvalid = _iterators(tf_keras.preprocessing.image.ImageDataGenerator, folders,
                           shuffle=False)
    x, y = next(train)
    kw = dict(epochs=4, batch_size=2, validation_steps=2, validation_freq=2, verbose=0,
              shuffle=False)
    h = model.fit(x, y, validation_data=valid, **kw)
    kh = kmodel.fit(x, y, validation_data=kvalid, **kw)
    assert len(h.history["val_loss"]) == 2
    _compare(h, kh, model, kmodel, "float32")
    kw.update(validation_steps=len(valid) + 2, epochs=1, validation_freq=1)
    with pytest.warns(UserWarning, match="ran out of data"):
        h = model.fit(x, y, validation_data=valid, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras' own warning, from Keras' module
        kh = kmodel.fit(x, y, validation_data=kvalid, **kw)
    _compare(h, kh, model, kmodel, "float32")


def _batch_stream(x, y, size):
    """An endless Python generator of (x, y) batches in order."""
    while True:
        for start in range(0, len(x), size):
            yield x[start:start + size], y[start:start + size]


def test_python_generators_as_validation_data_and_in_evaluate(tf_keras, folders):
    """A plain generator: its first `validation_steps` batches match tf.keras' first
    validation; later passes continue the stream (checked against evaluate on those
    batches, as tf.keras 3 re-reads the batches it peeked at, see batch_sources.py);
    evaluate(generator, steps) equals tf.keras'."""
    model, kmodel = _models(tf_keras, "float32")
    flow = ImageDataGenerator(rescale=1 / 255).flow_from_directory(
        str(folders / "test"), target_size=(6, 6), batch_size=16, shuffle=False)
    xv, yv = next(flow)
    xt = np.random.default_rng(5).random((8, 6, 6, 3)).astype("float32")
    yt = np.eye(2, dtype="float32")[[0, 1] * 4]
    kw = dict(epochs=1, batch_size=4, validation_steps=3, verbose=0, shuffle=False)
    h = model.fit(xt, yt, validation_data=_batch_stream(xv, yv, 2), **kw)
    kh = kmodel.fit(xt, yt, validation_data=_batch_stream(xv, yv, 2), **kw)
    _compare(h, kh, model, kmodel, "float32")
    for steps in (1, 4, 8):
        ours = model.evaluate(_batch_stream(xv, yv, 3), steps=steps, verbose=0)
        theirs = kmodel.evaluate(_batch_stream(xv, yv, 3), steps=steps, verbose=0)
        assert_close(np.array(ours), np.array(theirs), kind="training", dtype="float32")
    # later passes: the next batches of the one stream
    model.optimizer.learning_rate = 0.0   # keep the weights, so each pass is an evaluate
    xv, yv = xv[:12], yv[:12]   # 6 batches of 2 a cycle; 3 batches a pass
    h = model.fit(xt, yt, validation_data=_batch_stream(xv, yv, 2), **{**kw, "epochs": 3})
    for epoch in range(3):
        part = slice(6 * (epoch % 2), 6 * (epoch % 2) + 6)
        expected = model.evaluate(xv[part], yv[part], batch_size=2, verbose=0)
        assert_close(np.array([h.history["val_loss"][epoch],
                               h.history["val_accuracy"][epoch]]),
                     np.array(expected), kind="loss", dtype="float32")


def test_generator_validation_errors():
    model = scratch.Sequential([Input((3,)), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = np.zeros((4, 3), "float32"), np.array([0, 1, 0, 1])
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"`validation_data` must be a tuple .* Received: an "
                                         r"object of type object"):
        model.fit(x, y, validation_data=object(), verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    with pytest.raises(ValueError, match=r"validation_steps.*Received: validation_steps=0"):
        model.fit(x, y, validation_data=iter([(x, y)]), validation_steps=0, verbose=0)
    with pytest.raises(ValueError, match="`validation_data` gave no batches"):
        model.fit(x, y, validation_data=iter([]), verbose=0)
    with pytest.warns(UserWarning, match="ran out of data"):   # the stream ends in epoch 1
        model.fit(x, y, validation_data=iter([(x, y)]), validation_steps=2, verbose=0)
    with pytest.raises(ValueError, match=r"each batch of validation_data.*Received: "
                                         r"an object of type ndarray"):
        model.fit(x, y, validation_data=iter([x]), verbose=0)
    with pytest.raises(ValueError, match="not from `y`"):
        model.evaluate(iter([(x, y)]), y, verbose=0)
    assert model.evaluate(iter([(x, y), (x[:1], y[:1])]), verbose=0) == pytest.approx(
        model.evaluate(np.concatenate([x, x[:1]]), np.concatenate([y, y[:1]]), verbose=0))
