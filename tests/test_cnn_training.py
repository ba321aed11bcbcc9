"""Whole CNN training runs against tf.keras: a small Conv/BatchNorm/MaxPooling network
trained 2 epochs (shuffle=False), and training from an ImageDataGenerator through
`fit(generator, steps_per_epoch=...)` / `fit_generator` (docs/KERAS_NUMERICS.md §Fit loop)."""

from __future__ import annotations

import numpy as np
import pytest

import keras_ref
import scratch
from scratch.datasets import load_digits_split
from scratch.layers import Dense, Dropout, Flatten, Input
from scratch.layers.conv import Conv2D
from scratch.layers.normalization import BatchNormalization
from scratch.layers.pooling import GlobalMaxPooling2D, MaxPooling2D
from scratch.preprocessing.image import ImageDataGenerator
from scratch.testing import assert_close

from conftest import floatx

pytest.importorskip("sklearn")


def _digits(n=96, dtype="float32"):
    """scikit-learn's 8×8 digits, (n, 8, 8, 1) in [0, 1]."""
    (x, y), _ = load_digits_split()
    return x[:n, :, :, None].astype(dtype), y[:n]


def _cnn(dtype):
    i = Input(shape=(8, 8, 1), dtype=dtype)
    x = Conv2D(6, (3, 3), activation="relu", padding="same", dtype=dtype)(i)
    x = BatchNormalization(dtype=dtype)(x)
    x = MaxPooling2D((2, 2), dtype=dtype)(x)
    x = Conv2D(8, (2, 2), strides=2, activation="relu", dtype=dtype)(x)
    x = Flatten(dtype=dtype)(x)
    x = Dense(10, activation="softmax", dtype=dtype)(x)
    return scratch.models.Model(i, x)


def _compare_runs(model, kmodel, h, kh, dtype):
    assert set(h.history) == set(kh.history)
    for key in kh.history:
        assert_close(np.array(h.history[key]), np.array(kh.history[key]), kind="training",
                     dtype=dtype, msg=key)
    names = [f"{layer.name}/{n}" for layer in model.layers for n in layer.weight_names]
    for name, a, b in zip(names, model.get_weights(), kmodel.get_weights()):
        assert a.dtype == dtype
        assert_close(a, b, kind="training", dtype=dtype, msg=name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cnn_with_batchnorm_and_pooling_matches_tf_keras(tf_keras, dtype):
    """2 epochs, shuffle=False: history and every final weight, the BN moving statistics
    included (float32 also with a validation split and predict). tf.keras runs eagerly:
    the same kernels without the tf.function tracing cost."""
    with floatx(tf_keras, dtype):
        x, y = _digits(dtype=dtype)
        model = _cnn(dtype)
        model.compile(optimizer=scratch.optimizers.Adam(0.01),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        kmodel = keras_ref.to_keras(model)
        kmodel.compile(optimizer=tf_keras.optimizers.Adam(0.01),
                       loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                       run_eagerly=True)
        kw = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
        if dtype == "float32":
            kw["validation_split"] = 0.25
        h = model.fit(x, y, **kw)
        kh = kmodel.fit(x, y, **kw)
        _compare_runs(model, kmodel, h, kh, dtype)
        if dtype == "float32":
            assert "val_loss" in h.history
            assert_close(model.predict(x, verbose=0), kmodel.predict(x, verbose=0),
                         kind="training", dtype=dtype)


AUGMENT = dict(width_shift_range=0.1, height_shift_range=0.1, horizontal_flip=True,
               rotation_range=10)


def test_fit_on_image_data_generator_matches_tf_keras(tf_keras):
    """Lecture 34/36: fit on `ImageDataGenerator(...).flow(x, y, batch_size, seed)` with
    steps_per_epoch; tf.keras gets its own flow (same seed: the same augmented batches)."""
    x, y = _digits(n=64)
    model = _cnn("float32")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                   metrics=["accuracy"], run_eagerly=True)
    flow = ImageDataGenerator(**AUGMENT).flow(x, y, batch_size=16, seed=7)
    kflow = tf_keras.preprocessing.image.ImageDataGenerator(**AUGMENT).flow(
        x, y, batch_size=16, seed=7)

    def as_generator(it):  # tf.keras reads a plain generator with next(), as scratch does
        while True:
            yield next(it)

    steps = len(x) // 16 - 1  # fewer steps than one pass: epochs continue the stream
    h = model.fit(flow, steps_per_epoch=steps, epochs=2, verbose=0)
    kh = kmodel.fit(as_generator(kflow), steps_per_epoch=steps, epochs=2, verbose=0,
                     shuffle=False)  # a generator is never shuffled (Keras warns otherwise)
    _compare_runs(model, kmodel, h, kh, "float32")


def test_fit_generator_is_a_deprecated_alias_of_fit():
    x, y = _digits(n=48)
    runs = []
    for use_alias in (False, True):
        scratch.utils.set_random_seed(3)
        model = _cnn("float32")
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        flow = ImageDataGenerator(**AUGMENT).flow(x, y, batch_size=12, seed=1)
        if use_alias:
            with pytest.warns(DeprecationWarning, match="fit_generator"):
                h = model.fit_generator(flow, steps_per_epoch=4, epochs=2, verbose=0)
        else:
            h = model.fit(flow, steps_per_epoch=4, epochs=2, verbose=0)
        runs.append((h.history["loss"], model.get_weights()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_lecture32_network_shapes_and_one_step():
    """The Lecture 32 network on 28×28×1 images: three stride-2 convolutions, Dropout."""
    i = Input(shape=(28, 28, 1))
    x = Conv2D(32, (3, 3), strides=2, activation="relu")(i)
    x = Conv2D(64, (3, 3), strides=2, activation="relu")(x)
    x = Conv2D(128, (3, 3), strides=2, activation="relu")(x)
    x = Flatten()(x)
    x = Dropout(0.2)(x)
    x = Dense(512, activation="relu")(x)
    x = Dropout(0.2)(x)
    x = Dense(10, activation="softmax")(x)
    model = scratch.models.Model(i, x)
    assert [layer.compute_output_shape(shape) for layer, shape in
            zip(model.layers[1:4], [(None, 28, 28, 1), (None, 13, 13, 32), (None, 6, 6, 64)])] \
        == [(None, 13, 13, 32), (None, 6, 6, 64), (None, 2, 2, 128)]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    out = model.train_on_batch(rng.random((8, 28, 28, 1)), rng.integers(0, 10, 8))
    assert np.all(np.isfinite(out))
    assert model.predict(rng.random((3, 28, 28, 1)), verbose=0).shape == (3, 10)
    gmp = GlobalMaxPooling2D()
    assert gmp(np.ones((2, 5, 7, 4), np.float32)).shape == (2, 4)
