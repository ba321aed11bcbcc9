"""BatchNormalization and LayerNormalization: parity with tf.keras over several training
steps (outputs, gradients, moving statistics), inference and frozen modes, fast ==
readable and config round trips (tests/parity.py), finite differences of the pure
functions, and errors that leave the moving statistics untouched."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scratch.layers.normalization import (
    BatchNormalization,
    LayerNormalization,
    batch_norm_backward,
    batch_norm_forward,
    batch_statistics,
    layer_norm_backward,
    layer_norm_forward,
)
from scratch.testing import assert_close, gradcheck
from tests.conftest import medium
from tests.parity import check_layer

DTYPES = ("float64", "float32")


@st.composite
def bn_cases(draw):
    rank = draw(st.integers(2, 4))
    shape = (draw(st.integers(1, 4)),) + tuple(draw(st.integers(1, 4)) for _ in range(rank - 1))
    return dict(shape=shape, config=dict(
        axis=draw(st.sampled_from([-1] + list(range(1, rank)))),
        momentum=draw(st.sampled_from([0.99, 0.9, 0.5])),
        epsilon=draw(st.sampled_from([1e-3, 1e-2])),
        center=draw(st.booleans()), scale=draw(st.booleans())),
        mode=draw(st.sampled_from(["train", "train", "inference", "frozen"])),
        steps=draw(st.integers(1, 3)), seed=draw(st.integers(0, 2**16)))


@st.composite
def ln_cases(draw):
    rank = draw(st.integers(2, 4))
    shape = (draw(st.integers(1, 3)),) + tuple(draw(st.integers(1, 4)) for _ in range(rank - 1))
    axes = draw(st.sampled_from([-1, [-1], list(range(1, rank)), [rank - 2, rank - 1]]))
    return dict(shape=shape, config=dict(axis=axes, epsilon=draw(st.sampled_from([1e-3, 1e-1])),
                                         center=draw(st.booleans()), scale=draw(st.booleans())),
                seed=draw(st.integers(0, 2**16)))


def _seed_weights(layer, rng):
    for name, w in list(layer.params.items()) + list(layer.state.items()):
        if name == "moving_variance":
            w[...] = rng.uniform(0.5, 2.0, w.shape)
        else:
            w[...] = rng.standard_normal(w.shape)


@medium
@given(bn_cases())
@example(dict(shape=(4, 3, 5, 3), config=dict(axis=-1, momentum=0.99, epsilon=1e-3,
                                                  center=True, scale=True),
              mode="train", steps=3, seed=0))
def test_batch_norm_parity_with_keras(tf_keras, tf, case):
    """Each step: y, dx, dγ, dβ; after the steps: moving_mean / moving_variance (biased)."""
    training = case["mode"] != "inference"
    for dtype in DTYPES:
        rng = np.random.default_rng(case["seed"])
        layer = BatchNormalization(**case["config"], dtype=dtype)
        layer.build(case["shape"])
        _seed_weights(layer, rng)
        if case["mode"] == "frozen":
            layer.trainable = False  # the Keras layer, made from the config, is frozen too
        klayer = None  # made by the first step, kept for the next ones
        for step in range(case["steps"]):
            x = (rng.standard_normal(case["shape"]) * 2 + 1).astype(dtype)
            v = rng.standard_normal(case["shape"]).astype(dtype)
            klayer = check_layer(layer, x, keras=tf_keras, tf=tf, keras_layer=klayer,
                                 cotangents=[v], training=training, config=step == 0,
                                 msg=f"{case} {dtype} step {step}").keras_layer
        for name, w, wk in zip(layer.weight_names, layer.get_weights(), klayer.get_weights(),
                               strict=True):
            assert_close(w, wk, kind="forward", dtype=dtype, msg=f"{case} {dtype} {name}")


@medium
@given(ln_cases())
def test_layer_norm_parity_with_keras(tf_keras, tf, case):
    for dtype in DTYPES:
        rng = np.random.default_rng(case["seed"])
        layer = LayerNormalization(**case["config"], dtype=dtype)
        layer.build(case["shape"])
        _seed_weights(layer, rng)
        x = (rng.standard_normal(case["shape"]) * 2 + 1).astype(dtype)
        v = rng.standard_normal(case["shape"]).astype(dtype)
        check_layer(layer, x, keras=tf_keras, tf=tf, cotangents=[v], msg=f"{case} {dtype}")


@medium
@given(st.one_of(bn_cases(), ln_cases()))
def test_normalization_fast_vs_readable(case):
    """Outputs, gradients and the weights after the call (moving statistics)."""
    for dtype in DTYPES:
        rng = np.random.default_rng(case["seed"])
        is_bn = "mode" in case
        layer = (BatchNormalization if is_bn else LayerNormalization)(**case["config"],
                                                                       dtype=dtype)
        layer.build(case["shape"])
        _seed_weights(layer, rng)
        training = not is_bn or case["mode"] != "inference"
        x = (rng.standard_normal(case["shape"]) * 2 + 1).astype(dtype)
        v = rng.standard_normal(case["shape"]).astype(dtype)
        check_layer(layer, x, cotangents=[v], training=training, msg=f"{case} {dtype}")


@medium
@given(bn_cases(), st.booleans())
def test_batch_norm_gradcheck(case, use_batch_stats):
    """Finite differences through the batch statistics (training) and without (inference)."""
    rng = np.random.default_rng(case["seed"])
    shape = case["shape"]
    axis = case["config"]["axis"] % len(shape)
    axes = tuple(a for a in range(len(shape)) if a != axis)
    bshape = [1] * len(shape)
    bshape[axis] = shape[axis]
    eps = case["config"]["epsilon"]
    mm, mv = rng.standard_normal(bshape), rng.uniform(0.5, 2.0, bshape)
    point = {"x": rng.standard_normal(shape), "gamma": rng.standard_normal(bshape),
             "beta": rng.standard_normal(bshape)}

    def stats(x):
        return batch_statistics(x, axes) if use_batch_stats else (mm, mv)

    def fn(p):
        return batch_norm_forward(p["x"], axes, *stats(p["x"]), p["gamma"], p["beta"], eps,
                                  use_batch_stats)[0]

    def vjp(v):
        _, cache = batch_norm_forward(point["x"], axes, *stats(point["x"]), point["gamma"],
                                      point["beta"], eps, use_batch_stats)
        dx, grads = batch_norm_backward(v, cache, axes, True, True)
        return {"x": dx, **grads}

    gradcheck(fn, point, vjp, seed=case["seed"])


@medium
@given(ln_cases())
def test_layer_norm_gradcheck(case):
    rng = np.random.default_rng(case["seed"])
    shape = case["shape"]
    axis = case["config"]["axis"]
    axes = tuple(sorted(a % len(shape) for a in (axis if isinstance(axis, list) else [axis])))
    wshape = [1] * len(shape)
    for a in axes:
        wshape[a] = shape[a]
    point = {"x": rng.standard_normal(shape), "gamma": rng.standard_normal(wshape),
             "beta": rng.standard_normal(wshape)}

    def fn(p):
        return layer_norm_forward(p["x"], axes, p["gamma"], p["beta"], 1e-3)[0]

    def vjp(v):
        _, cache = layer_norm_forward(point["x"], axes, point["gamma"], point["beta"], 1e-3)
        dx, grads = layer_norm_backward(v, cache, axes, True, True)
        return {"x": dx, "gamma": grads["gamma"].reshape(wshape),
                "beta": grads["beta"].reshape(wshape)}

    gradcheck(fn, point, vjp, seed=case["seed"])


# ------------------------------------------------------------------------------ behaviour
def test_batch_norm_weights_and_moving_update():
    layer = BatchNormalization(momentum=0.9, dtype="float64")
    x = np.arange(12.0).reshape(4, 3)
    layer(x, training=True)
    assert layer.weight_names == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert list(layer.state) == ["moving_mean", "moving_variance"]
    assert [w.shape for w in layer.trainable_weights] == [(3,), (3,)]
    mean, var_biased = x.mean(0), x.var(0)  # ÷n, not ÷(n−1)
    np.testing.assert_allclose(layer.state["moving_mean"], 0.1 * mean, rtol=1e-15)
    np.testing.assert_allclose(layer.state["moving_variance"], 0.9 + 0.1 * var_biased,
                               rtol=1e-15)


def test_frozen_batch_norm_runs_in_inference_mode_inside_training():
    layer = BatchNormalization(dtype="float64")
    x = np.random.default_rng(0).standard_normal((8, 3)) * 3 + 2
    layer(x, training=True)
    moving = [w.copy() for w in layer.state.values()]
    layer.trainable = False
    y = layer.forward(x, training=True)  # what a model's train step passes
    assert all(np.array_equal(a, b) for a, b in zip(moving, layer.state.values()))
    np.testing.assert_allclose(y, layer.forward(x, training=False), rtol=0, atol=0)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4
    dy = np.ones_like(y)
    dx = layer.backward(dy)  # inference-mode gradient: γ/√(σ²_moving + ε)·dy
    expected = layer.params["gamma"] / np.sqrt(layer.state["moving_variance"] + 1e-3)
    np.testing.assert_allclose(dx, np.broadcast_to(expected, dx.shape), rtol=1e-15)


def test_batch_norm_errors_leave_state_unchanged():
    layer = BatchNormalization()
    x = np.ones((4, 5, 3), np.float32)
    layer(x, training=True)
    before = layer.get_weights()
    cache = layer._cache
    for bad in (np.ones((4, 5, 2), np.float32), np.ones((4, 3), np.float32),
                np.ones((4, 5, 3), np.float64)):
        with pytest.raises((ValueError, TypeError)):
            layer.forward(bad, training=True)
        assert all(np.array_equal(a, b) for a, b in zip(before, layer.get_weights()))
        assert layer._cache is cache
    with pytest.raises(ValueError, match="out of bounds"):
        BatchNormalization(axis=3).build((None, 4, 3))
    with pytest.raises(TypeError, match="axis"):
        BatchNormalization(axis=[1, 2])
    with pytest.raises(ValueError, match="out of bounds"):
        LayerNormalization(axis=2).build((None, 3))
    ln = LayerNormalization()
    ln(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="incompatible"):
        ln(np.ones((2, 5), np.float32))


def test_layer_norm_weights():
    layer = LayerNormalization(axis=[1, 2])
    layer.build((None, 3, 4))
    assert layer.weight_names == ["gamma", "beta"]
    assert layer.params["gamma"].shape == (3, 4)
    assert LayerNormalization().epsilon == 1e-3 and BatchNormalization().epsilon == 1e-3
