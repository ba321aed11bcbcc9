"""Whole training runs against tf.keras: fit history and final weights, train_on_batch,
evaluate, predict (docs/KERAS_NUMERICS.md §Fit loop)."""

from __future__ import annotations

import numpy as np
import pytest

import keras_ref
import scratch
from scratch.testing import assert_close

from conftest import floatx


def _data(n=125, d=6, head="sigmoid", seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(dtype)
    if head == "sigmoid":
        y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(dtype)
    else:
        y = np.argmax(x[:, :4] + 0.3 * rng.standard_normal((n, 4)), axis=1)
    return x, y


def _model(head, dtype):
    out = scratch.layers.Dense(1, activation="sigmoid", dtype=dtype) if head == "sigmoid" \
        else scratch.layers.Dense(4, activation="softmax", dtype=dtype)
    return scratch.models.Sequential([
        scratch.Input(shape=(6,), dtype=dtype),
        scratch.layers.Dense(8, activation="relu", dtype=dtype),
        out,
    ])


OPTIMIZERS = {
    "sgd_momentum": lambda m: m.optimizers.SGD(0.05, 0.9),
    "adam": lambda m: m.optimizers.Adam(0.01),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("head", ["sigmoid", "softmax"])
def test_fit_matches_tf_keras(tf_keras, head, opt, dtype):
    with floatx(tf_keras, dtype):
        _fit_matches(tf_keras, head, opt, dtype)


def _fit_matches(tf_keras, head, opt, dtype):
    x, y = _data(head=head, dtype=dtype)
    model = _model(head, dtype)
    loss = "binary_crossentropy" if head == "sigmoid" else "sparse_categorical_crossentropy"
    model.compile(optimizer=OPTIMIZERS[opt](scratch), loss=loss, metrics=["accuracy"])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer=OPTIMIZERS[opt](tf_keras), loss=loss, metrics=["accuracy"])

    def schedule(epoch, lr):
        return lr * 0.5 if epoch == 2 else lr

    kw = dict(epochs=3, batch_size=32, shuffle=False, validation_split=0.2, verbose=0)
    h = model.fit(x, y, callbacks=[scratch.callbacks.LearningRateScheduler(schedule)], **kw)
    kh = kmodel.fit(x, y, callbacks=[tf_keras.callbacks.LearningRateScheduler(schedule)], **kw)
    assert set(h.history) == set(kh.history)
    for key in kh.history:
        assert_close(np.array(h.history[key]), np.array(kh.history[key]), kind="training",
                     dtype=dtype, msg=key)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        assert a.dtype == dtype
        assert_close(a, b, kind="training", dtype=dtype)
    assert_close(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), kind="forward",
                 dtype=dtype)
    ev, kev = model.evaluate(x, y, verbose=0), kmodel.evaluate(x, y, verbose=0)
    assert_close(np.array(ev), np.array(kev), kind="training", dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_train_on_batch_returns_pre_update_loss(tf_keras, dtype):
    with floatx(tf_keras, dtype):
        _train_on_batch(tf_keras, dtype)


def _train_on_batch(tf_keras, dtype):
    x, y = _data(n=20, head="softmax", dtype=dtype)
    model = _model("softmax", dtype)
    model.compile(optimizer=scratch.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer=tf_keras.optimizers.Adam(0.01),
                   loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for _ in range(5):
        r = model.train_on_batch(x, y)
        kr = kmodel.train_on_batch(x, y)
        assert_close(np.array(r), np.array(kr), kind="training", dtype=dtype)
    t, kt = model.test_on_batch(x, y), kmodel.test_on_batch(x, y)
    assert_close(np.array(t), np.array(kt), kind="training", dtype=dtype)
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        assert_close(a, b, kind="training", dtype=dtype)


def test_hidden_logits_saturated_softmax(tf_keras):
    """A saturated softmax model's loss comes from the logits: 42.5
    (docs/KERAS_NUMERICS.md §Hidden logits)."""
    model = scratch.models.Sequential([scratch.Input(shape=(3,)),
                                       scratch.layers.Dense(3, activation="softmax")])
    model.set_weights([np.eye(3, dtype=np.float32), np.zeros(3, np.float32)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.array([[30, 0, -30], [0, 25, 0]], np.float32)
    y = np.array([2, 0])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    got = model.evaluate(x, y, verbose=0)
    assert abs(got - 42.5) < 1e-5
    assert_close(np.array(got), np.array(kmodel.evaluate(x, y, verbose=0)), kind="loss",
                 dtype="float32")


def test_class_and_sample_weight_match(tf_keras):
    x, y = _data(n=40, head="sigmoid")
    sw = np.linspace(0.5, 2.0, 40).astype(np.float32)
    model = _model("sigmoid", "float32")
    model.compile(optimizer=scratch.optimizers.SGD(0.1), loss="binary_crossentropy")
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer=tf_keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    kw = dict(epochs=2, batch_size=16, shuffle=False, verbose=0)
    h = model.fit(x, y, sample_weight=sw, **kw)
    kh = kmodel.fit(x, y, sample_weight=sw, **kw)
    assert_close(np.array(h.history["loss"]), np.array(kh.history["loss"]), kind="training",
                 dtype="float32")
    h = model.fit(x, y, class_weight={0: 0.3, 1: 2.0}, **kw)
    kh = kmodel.fit(x, y, class_weight={0: 0.3, 1: 2.0}, **kw)
    assert_close(np.array(h.history["loss"]), np.array(kh.history["loss"]), kind="training",
                 dtype="float32")
    for a, b in zip(model.get_weights(), kmodel.get_weights()):
        assert_close(a, b, kind="training", dtype="float32")


def test_functional_two_inputs_matches(tf_keras):
    a = scratch.Input(shape=(3,), name="a")
    b = scratch.Input(shape=(2,), name="b")
    ha = scratch.layers.Dense(4, activation="tanh")(a)
    hb = scratch.layers.Dense(4, activation="tanh")(b)
    # one layer applied to both branches: its gradients from the two calls add up
    shared = scratch.layers.Dense(4, activation="tanh", name="shared")
    sa, sb = shared(ha), shared(hb)
    out = scratch.layers.Dense(1, name="head")(sa)
    out2 = scratch.layers.Dense(1, name="head2")(sb)
    model = scratch.Model([a, b], [out, out2])
    model.compile(optimizer=scratch.optimizers.SGD(0.1), loss="mse")
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer=tf_keras.optimizers.SGD(0.1), loss=["mse", "mse"])
    rng = np.random.default_rng(0)
    xa, xb = rng.standard_normal((10, 3)), rng.standard_normal((10, 2))
    ya, yb = rng.standard_normal((10, 1)), rng.standard_normal((10, 1))
    for _ in range(3):
        r = model.train_on_batch([xa, xb], [ya, yb])
        kr = kmodel.train_on_batch([xa, xb], [ya, yb])
        assert_close(np.array(r), np.array(kr), kind="training", dtype="float32")
    for layer in model.layers:
        for w, kw in zip(layer.get_weights(), kmodel.get_layer(layer.name).get_weights()):
            assert_close(w, kw, kind="training", dtype="float32", msg=layer.name)
