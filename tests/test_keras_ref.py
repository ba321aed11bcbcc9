"""keras_ref: scratch ⇄ tf.keras with identical weights, and clear errors for what is missing."""

from __future__ import annotations

import numpy as np
import pytest

import keras_ref
import scratch
from scratch.testing import assert_close


def _functional():
    a = scratch.Input(shape=(4,), name="a")
    b = scratch.Input(shape=(3,), name="b")
    h = scratch.layers.Dense(5, activation="relu", name="ha")(a)
    g = scratch.layers.Dense(5, activation="tanh", name="hb")(b)
    shared = scratch.layers.Dense(2, name="shared")
    out = scratch.layers.Dense(1, activation="sigmoid", name="out")(shared(h))
    out2 = scratch.layers.Dense(3, activation="softmax", name="out2")(shared(g))
    return scratch.Model([a, b], [out, out2], name="two_heads")


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((6, 4)).astype(np.float32),
            rng.standard_normal((6, 3)).astype(np.float32)]


def test_functional_round_trip(tf_keras):
    model = _functional()
    kmodel = keras_ref.to_keras(model)
    x = _inputs()
    for y, ky in zip(model.predict(x, verbose=0), kmodel.predict(x, verbose=0)):
        assert_close(y, ky, kind="forward", dtype="float32")
    back = keras_ref.from_keras(kmodel)
    assert [l.name for l in back.layers] == [l.name for l in model.layers]
    for w, w2 in zip(model.get_weights(), back.get_weights()):
        assert np.array_equal(w, w2)
    for y, y2 in zip(model.predict(x, verbose=0), back.predict(x, verbose=0)):
        assert np.array_equal(y, y2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sequential_round_trip_from_keras(tf_keras, dtype):
    tf_keras.backend.set_floatx(dtype)  # Keras' predict casts float input to floatx
    try:
        _sequential_round_trip(tf_keras, dtype)
    finally:
        tf_keras.backend.set_floatx("float32")


def _sequential_round_trip(tf_keras, dtype):
    kmodel = tf_keras.Sequential([
        tf_keras.Input(shape=(5,), dtype=dtype),
        tf_keras.layers.Dense(4, activation="elu", dtype=dtype),
        tf_keras.layers.Dropout(0.3, dtype=dtype),
        tf_keras.layers.Dense(2, dtype=dtype),
    ])
    model = keras_ref.from_keras(kmodel)
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Dropout", "Dense"]
    x = np.random.default_rng(1).standard_normal((7, 5)).astype(dtype)
    y = model.predict(x, verbose=0)
    assert y.dtype == dtype
    assert_close(y, kmodel.predict(x, verbose=0), kind="forward", dtype=dtype)
    again = keras_ref.to_keras(model)
    for w, w2 in zip(kmodel.get_weights(), again.get_weights()):
        assert np.array_equal(w, w2)


def test_nested_model_and_frozen_flag(tf_keras):
    body = scratch.models.Sequential([scratch.Input(shape=(3,)),
                                      scratch.layers.Dense(4, name="b1")], name="body")
    inp = scratch.Input(shape=(3,))
    model = scratch.Model(inp, scratch.layers.Dense(1, name="head")(body(inp)))
    body.trainable = False
    kmodel = keras_ref.to_keras(model)
    assert not kmodel.get_layer("body").trainable
    assert len(kmodel.trainable_weights) == len(model.trainable_weights) == 2
    x = np.ones((2, 3), np.float32)
    assert_close(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), kind="forward",
                 dtype="float32")


def test_single_layers_and_compile_settings(tf_keras):
    layer = scratch.layers.Dense(3, activation="relu", use_bias=False)
    layer.build((None, 2))
    klayer = keras_ref.layer_to_keras(layer)
    assert klayer.get_config()["units"] == 3 and klayer.get_config()["use_bias"] is False
    opt = keras_ref.optimizer_to_keras(scratch.optimizers.SGD(0.05, 0.9, nesterov=True))
    assert isinstance(opt, tf_keras.optimizers.SGD) and opt.nesterov
    assert abs(float(opt.learning_rate) - 0.05) < 1e-8
    back = keras_ref.optimizer_from_keras(tf_keras.optimizers.Adam(0.003, amsgrad=True))
    assert isinstance(back, scratch.optimizers.Adam) and back.amsgrad
    loss = keras_ref.loss_to_keras(scratch.losses.CategoricalCrossentropy(label_smoothing=0.1))
    assert loss.get_config()["label_smoothing"] == pytest.approx(0.1)
    back_loss = keras_ref.loss_from_keras(tf_keras.losses.BinaryCrossentropy(from_logits=True))
    assert back_loss.from_logits


def test_unsupported_layer_and_argument_are_named(tf_keras):
    kmodel = tf_keras.Sequential([tf_keras.Input(shape=(4,)),
                                  tf_keras.layers.AlphaDropout(0.1)])
    with pytest.raises(keras_ref.UnsupportedError, match="AlphaDropout"):
        keras_ref.from_keras(kmodel)
    kmodel = tf_keras.Sequential([tf_keras.Input(shape=(4,)),
                                  tf_keras.layers.Dense(2, kernel_constraint="non_neg")])
    with pytest.raises(keras_ref.UnsupportedError, match="kernel_constraint"):
        keras_ref.from_keras(kmodel)
    with pytest.raises(ValueError, match="use_ema"):
        keras_ref.optimizer_from_keras(tf_keras.optimizers.Adam(use_ema=True))
