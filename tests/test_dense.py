"""Dense, the activation layers, Flatten, Reshape and Dropout: parity with tf.keras,
finite-difference gradients, fast == readable and config round trips (tests/parity.py), and
Keras' errors without state change."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import scratch
from scratch.layers import (
    ELU,
    Activation,
    Dense,
    Dropout,
    Flatten,
    LeakyReLU,
    ReLU,
    Reshape,
    Softmax,
)
from tests.conftest import cheap
from tests.parity import check_layer

ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "elu", "softplus", "gelu",
               "selu", "silu", "leaky_relu"]


@st.composite
def dense_cases(draw):
    return dict(
        units=draw(st.integers(1, 6)),
        d=draw(st.integers(1, 6)),
        lead=tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))),
        use_bias=draw(st.booleans()),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        dtype=draw(st.sampled_from(["float64", "float32"])),
        seed=draw(st.integers(0, 2**16)),
    )


def _dense(case):
    """A built Dense layer of the case with weights ~ N(0, 1/d), its input, and the rng."""
    rng = np.random.default_rng(case["seed"])
    layer = Dense(case["units"], activation=case["activation"], use_bias=case["use_bias"],
                  dtype=case["dtype"])
    x = rng.standard_normal(case["lead"] + (case["d"],)).astype(case["dtype"])
    layer.build(x.shape)
    layer.set_weights([rng.standard_normal(w.shape) / np.sqrt(case["d"])
                       for w in layer.get_weights()])
    return rng, layer, x


@cheap
@given(dense_cases())
@example(dict(units=1, d=1, lead=(1,), use_bias=True, activation="linear", dtype="float64",
              seed=0))
def test_dense_parity(tf_keras, tf, case):
    """Output, dx, dW and db against tf.keras (tests/parity.py: config, shapes, fast path)."""
    rng, layer, x = _dense(case)
    check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng, msg=str(case))


@cheap
@given(dense_cases())
def test_dense_gradcheck(case):
    case = dict(case, dtype="float64")
    if case["activation"] == "relu" or case["activation"] == "leaky_relu":
        case["activation"] = "tanh"  # kinks are checked in test_activations
    _, layer, x = _dense(case)
    check_layer(layer, x, gradcheck=True, seed=case["seed"], msg=str(case))


def test_dense_rank3_contracts_last_axis():
    layer = Dense(4, dtype="float64")
    x = np.random.default_rng(0).standard_normal((2, 3, 5))
    y = layer(x)
    k, b = layer.get_weights()
    np.testing.assert_allclose(y, x @ k + b)
    assert layer.compute_output_shape((None, 3, 5)) == (None, 3, 4)


@pytest.mark.parametrize("units", [0, -1, 2.5, "3", True])
def test_dense_rejects_bad_units(units):
    with pytest.raises(ValueError, match="units"):
        Dense(units)


def test_dense_wrong_width_message_and_no_state_change():
    layer = Dense(3)
    layer.build((None, 16))
    before = layer.get_weights()
    with pytest.raises(ValueError, match=r"last dimension 16\. Received: shape=\(4, 15\)"):
        layer(np.zeros((4, 15), np.float32))
    for a, b in zip(before, layer.get_weights()):
        assert np.array_equal(a, b)


def test_dense_forward_is_strict_about_dtype():
    layer = Dense(2)
    layer.build((None, 3))
    with pytest.raises(TypeError, match="float32"):
        layer.forward(np.zeros((1, 3), np.float64))
    # the user-facing call casts like Keras
    assert layer(np.zeros((1, 3), np.float64)).dtype == np.float32


def test_backward_before_forward_is_a_clear_error():
    layer = Dense(2)
    layer.build((None, 3))
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.zeros((1, 2), np.float32))


def test_dy_shape_checked():
    layer = Dense(2)
    layer(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match="Received: dy.shape"):
        layer.backward(np.zeros((4, 3), np.float32))


def test_set_weights_checks_everything_first():
    layer = Dense(2)
    layer.build((None, 3))
    before = layer.get_weights()
    with pytest.raises(ValueError, match="shape"):
        layer.set_weights([np.ones((3, 2)), np.ones((5,))])
    for a, b in zip(before, layer.get_weights()):
        assert np.array_equal(a, b)


# ----------------------------------------------------------------------------- shape layers
@cheap
@given(st.lists(st.integers(1, 4), min_size=2, max_size=4), st.integers(0, 1000),
       st.sampled_from(["float32", "float64"]))
def test_flatten_and_reshape_parity(tf_keras, tf, shape, seed, dtype):
    """Both only move numbers: output and dx equal tf.keras' bit for bit."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    target = (-1,) + (tuple(shape[-1:]) if len(shape) > 2 else ())
    for layer in (Flatten(dtype=dtype), Reshape(target, dtype=dtype)):
        check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng, exact=True, msg=f"{shape}")
        assert np.array_equal(layer.backward(layer(x)), x)  # backward undoes forward


def test_reshape_errors():
    with pytest.raises(ValueError, match="-1"):
        Reshape((-1, -1))
    with pytest.raises(ValueError, match="total size"):
        Reshape((5,))(np.zeros((2, 3), np.float32))


# ----------------------------------------------------------------------------- Dropout
def test_dropout_inverted_and_seeded():
    x = np.ones((200, 50), np.float32)
    d = Dropout(0.3, seed=1)
    y = d(x, training=True)
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y[kept], np.float32(1) * np.float32(1 / 0.7))
    dx = d.backward(np.ones_like(x))
    assert np.array_equal(dx != 0, kept)
    assert np.array_equal(d(x, training=False), x)
    y_again = Dropout(0.3, seed=1)(x, training=True)
    assert np.array_equal(y, y_again)
    assert np.array_equal(Dropout(1.0)(x, training=True), np.zeros_like(x))


def test_dropout_noise_shape_broadcasts():
    x = np.ones((4, 6, 5), np.float32)
    y = Dropout(0.5, noise_shape=(None, 1, 5), seed=0)(x, training=True)
    assert np.all(y == y[:, :1, :])


@pytest.mark.parametrize("rate", [-0.1, 1.5, "a"])
def test_dropout_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        Dropout(rate)


def test_activation_layer_matches_function(tf_keras):
    x = np.random.default_rng(0).standard_normal((3, 4))
    a = Activation("tanh", dtype="float64")
    np.testing.assert_allclose(a(x), np.tanh(x))
    np.testing.assert_allclose(a.backward(np.ones_like(x)), 1 - np.tanh(x) ** 2)


# ----------------------------------------------------------------------------- gradchecks
def _reseed(seed):
    """Re-seeds a Dropout before every call, so that every evaluation draws the same mask."""
    def before_call(layer):
        if isinstance(layer, Dropout):
            layer.seed_generator = scratch.random.SeedGenerator(seed)
    return before_call


@pytest.mark.parametrize("make", [
    lambda: Flatten(dtype="float64"),
    lambda: Reshape((-1, 2), dtype="float64"),
    lambda: Activation("tanh", dtype="float64"),
    lambda: Activation("softmax", dtype="float64"),
    lambda: Dropout(0.4, dtype="float64"),
])
def test_weightless_layers_gradcheck(make):
    x = np.random.default_rng(3).standard_normal((3, 4, 2))
    check_layer(make(), x, gradcheck=True, before_call=_reseed(0))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("make", [
    lambda dtype: Activation("tanh", dtype=dtype),
    lambda dtype: Activation("softmax", dtype=dtype),
    lambda dtype: ReLU(max_value=2.5, negative_slope=0.1, threshold=0.5, dtype=dtype),
    lambda dtype: LeakyReLU(0.3, dtype=dtype),
    lambda dtype: ELU(0.5, dtype=dtype),
    lambda dtype: Softmax(axis=1, dtype=dtype),
], ids=["tanh", "softmax", "relu", "leaky_relu", "elu", "softmax_axis1"])
def test_activation_layers_parity(tf_keras, tf, make, dtype):
    """The activation layers against tf.keras' (the functions: tests/test_activations.py)."""
    rng = np.random.default_rng(4)
    x = (2 * rng.standard_normal((3, 4, 5))).astype(dtype)
    check_layer(make(dtype), x, keras=tf_keras, tf=tf, rng=rng, gradcheck=dtype == "float64")
