"""Bad input: each case raises a clear error and leaves the model bitwise unchanged."""

from __future__ import annotations

import numpy as np
import pytest

import scratch


def _compiled(loss="sparse_categorical_crossentropy", units=3, opt=None):
    model = scratch.models.Sequential([
        scratch.Input(shape=(4,)),
        scratch.layers.Dense(5, activation="relu"),
        scratch.layers.Dense(units, activation="softmax" if units > 1 else "sigmoid"),
    ])
    model.compile(optimizer=opt or scratch.optimizers.Adam(0.01), loss=loss,
                  metrics=["accuracy"])
    return model


def _unchanged(model, before):
    after = model.get_weights()
    assert len(after) == len(before)
    for a, b in zip(before, after):
        assert np.array_equal(a, b)
    assert model.optimizer.iterations == 0


X = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
Y = np.arange(10) % 3


@pytest.mark.parametrize("x, y, match", [
    (np.zeros((10, 5), np.float32), Y, r"expected shape \(None, 4\)"),
    (np.zeros((10, 4, 2), np.float32), Y, r"expected shape \(None, 4\)"),
    (X, Y[:9], "10 samples but y has 9"),
    (X, np.array([0, 1, 2, 3, 0, 1, 2, 0, 1, 2]), r"labels in \[0, 3\)"),
    (X, np.array([0, 1, 2, -1, 0, 1, 2, 0, 1, 2]), r"labels in \[0, 3\)"),
    (np.where(np.arange(40).reshape(10, 4) == 7, np.nan, X), Y, "NaN or inf"),
    (np.where(np.arange(40).reshape(10, 4) == 7, np.inf, X), Y, "NaN or inf"),
])
def test_fit_rejects_bad_data_without_changing_anything(x, y, match):
    model = _compiled()
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=match):
        model.train_on_batch(x, y)
    _unchanged(model, before)


def test_nan_targets_rejected():
    model = _compiled(loss="mse", units=1)
    before = model.get_weights()
    y = np.ones(10, np.float32)
    y[3] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        model.fit(X, y, verbose=0)
    _unchanged(model, before)


def test_terminate_on_nan_stops_training():
    model = _compiled(loss="mse", units=1, opt=scratch.optimizers.SGD(1e30))
    y = np.ones(10, np.float32) * 1e10
    with pytest.warns(RuntimeWarning, match="overflow|invalid"):  # NumPy's, as it diverges
        h = model.fit(X, y, epochs=5, batch_size=2, verbose=0,
                      callbacks=[scratch.callbacks.TerminateOnNaN()])
    assert len(h.history["loss"]) == 1


def test_unknown_names():
    model = _compiled()
    with pytest.raises(ValueError, match="foo"):
        model.compile(optimizer="foo", loss="mse")
    with pytest.raises(ValueError, match="bar"):
        model.compile(optimizer="adam", loss="bar")
    with pytest.raises(ValueError, match="baz"):
        scratch.layers.Dense(2, activation="baz")


@pytest.mark.parametrize("lr", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_learning_rate(lr):
    with pytest.raises(ValueError, match="learning_rate"):
        scratch.optimizers.SGD(lr)


def test_fit_before_compile():
    model = scratch.models.Sequential([scratch.Input(shape=(4,)), scratch.layers.Dense(1)])
    with pytest.raises(ValueError, match="compile"):
        model.fit(X, np.zeros(10), verbose=0)
    with pytest.raises(ValueError, match="compile"):
        model.evaluate(X, np.zeros(10), verbose=0)


def test_predict_wrong_shape_on_model_with_known_input():
    model = scratch.models.Sequential([scratch.Input((4,)), scratch.layers.Dense(2)])
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"expected shape \(None, 4\)"):
        model.predict(np.zeros((3, 7)))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_deferred_build_then_wrong_shape():
    model = scratch.models.Sequential([scratch.layers.Dense(2)])
    assert not model.built
    model.predict(np.zeros((3, 4)), verbose=0)
    assert model.built
    with pytest.raises(ValueError, match=r"expected shape \(None, 4\)"):
        model.predict(np.zeros((3, 7)), verbose=0)


def test_bad_batch_size():
    model = _compiled()
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(X, Y, batch_size=0, verbose=0)
