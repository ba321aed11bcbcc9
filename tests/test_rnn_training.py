"""Training parity of the course's recurrent models with tf.keras (fit from identical weights).

* Lecture 48, "long distance": LSTM(5, return_sequences=True) → GlobalMaxPooling1D →
  Dense(1, sigmoid), binary cross-entropy, Adam(0.01), validation_split=0.5; 2 epochs.
* Lecture 43: SimpleRNN(5) → Dense(1) on the sine series, mse, Adam(0.1), validation_data.
* Lecture 47/48 style GRU (both reset_after variants) → Dense(1, sigmoid).

Both engines start from the same weights (keras_ref.to_keras copies them), train with
shuffle=False, and must agree on the whole history and on every final weight ("training"
tolerances: whole runs drift slowly in float32).
"""

from __future__ import annotations

import numpy as np
import pytest

import keras_ref
import scratch
from scratch.layers import Dense, Input
from scratch.layers.pooling import GlobalMaxPooling1D
from scratch.layers.recurrent import GRU, LSTM, SimpleRNN
from scratch.models import Model
from scratch.testing import assert_close

from conftest import floatx


def get_label(x, i1, i2, i3):
    """Lecture 48's nonlinear label of three positions of the sequence (XOR of signs)."""
    if x[i1] < 0 and x[i2] < 0 and x[i3] < 0:
        return 1
    if x[i1] < 0 and x[i2] > 0 and x[i3] > 0:
        return 1
    if x[i1] > 0 and x[i2] < 0 and x[i3] > 0:
        return 1
    if x[i1] > 0 and x[i2] > 0 and x[i3] < 0:
        return 1
    return 0


def long_distance_data(n=600, T=10, seed=48, dtype="float32"):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T))
    Y = np.array([get_label(x, 0, 1, 2) for x in X])  # the long-distance version
    return np.expand_dims(X, -1).astype(dtype), Y.astype(dtype)


def sine_data(T=10, dtype="float32"):
    series = np.sin(0.1 * np.arange(200))
    X = np.array([series[t:t + T] for t in range(len(series) - T)]).reshape(-1, T, 1)
    Y = series[T:]
    return X.astype(dtype), Y.astype(dtype)


def fit_both(tf_keras, model, loss, lr, x, y, dtype, optimizer="Adam", **fit_kwargs):
    metrics = fit_kwargs.pop("metrics", None)
    model.compile(optimizer=getattr(scratch.optimizers, optimizer)(lr), loss=loss,
                  metrics=metrics)
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer=getattr(tf_keras.optimizers, optimizer)(lr), loss=loss,
                   metrics=metrics)
    for a, b in zip(model.get_weights(), kmodel.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    kw = dict(epochs=2, batch_size=32, shuffle=False, verbose=0, **fit_kwargs)
    h = model.fit(x, y, **kw)
    kh = kmodel.fit(x, y, **kw)
    assert set(h.history) == set(kh.history)
    for key in kh.history:
        assert_close(np.array(h.history[key]), np.array(kh.history[key]), kind="training",
                     dtype=dtype, msg=key)
    for name, a, b in zip(model.weight_names, model.get_weights(), kmodel.get_weights(),
                          strict=True):
        assert a.dtype == dtype
        assert_close(a, b, kind="training", dtype=dtype, msg=name)
    assert_close(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), kind="training",
                 dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lecture48_lstm_global_max_pooling_fit_matches(tf_keras, dtype):
    with floatx(tf_keras, dtype):
        scratch.utils.set_random_seed(48)
        T, D = 10, 1
        inputs, Y = long_distance_data(dtype=dtype)
        i = Input(shape=(T, D))
        x = LSTM(5, return_sequences=True)(i)
        x = GlobalMaxPooling1D()(x)
        x = Dense(1, activation="sigmoid")(x)
        model = Model(i, x)
        fit_both(tf_keras, model, "binary_crossentropy", 0.01, inputs, Y, dtype,
                 metrics=["accuracy"], validation_split=0.5)


def test_lecture43_simple_rnn_sine_fit_matches(tf_keras):
    scratch.utils.set_random_seed(43)
    X, Y = sine_data()
    N, T = len(X), 10
    i = Input(shape=(T, 1))
    x = SimpleRNN(5)(i)
    x = Dense(1)(x)
    model = Model(i, x)
    fit_both(tf_keras, model, "mse", 0.1, X[:-N // 2], Y[:-N // 2], "float32",
             validation_data=(X[-N // 2:], Y[-N // 2:]))


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_classifier_fit_matches(tf_keras, reset_after):
    scratch.utils.set_random_seed(47)
    inputs, Y = long_distance_data(n=300, T=6)
    i = Input(shape=(6, 1))
    x = GRU(4, reset_after=reset_after, go_backwards=True)(i)
    x = Dense(1, activation="sigmoid")(x)
    model = Model(i, x)
    fit_both(tf_keras, model, "binary_crossentropy", 0.01, inputs, Y, "float32",
             metrics=["accuracy"])


def test_masked_text_model_fit_matches(tf_keras):
    """Embedding(mask_zero=True) → LSTM(go_backwards): padded steps are skipped (the mask
    reaches the LSTM through the graph), as in the text models of the next section.

    SGD, not Adam: Keras updates an Embedding with sparse (IndexedSlices) gradients, which
    its Adam treats differently from dense ones (a known gap of scratch's optimizers, not of
    the recurrent layers); with SGD both updates are the same.
    """
    from scratch.layers.embedding import Embedding
    scratch.utils.set_random_seed(57)
    rng = np.random.default_rng(57)
    lengths = rng.integers(1, 9, 200)
    ids = np.zeros((200, 8), np.int64)
    for n, L in enumerate(lengths):
        ids[n, 8 - L:] = rng.integers(1, 20, L)  # pre-padding, as pad_sequences does
    y = (ids[:, -1] % 2).astype("float32")
    i = Input(shape=(8,), dtype="int64")
    x = Embedding(20, 4, mask_zero=True)(i)
    x = LSTM(6, go_backwards=True)(x)
    x = Dense(1, activation="sigmoid")(x)
    model = Model(i, x)
    fit_both(tf_keras, model, "binary_crossentropy", 0.5, ids, y, "float32",
             optimizer="SGD", metrics=["accuracy"])
