"""Conv1D / Conv2D: parity with tf.keras (float64 and float32), fast == readable,
finite-difference gradients, Keras' errors without state change, and config round trips."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scratch import backend
from scratch.layers import conv
from scratch.layers.conv import (
    Conv1D,
    Conv2D,
    conv2d_backward,
    conv2d_backward_fast,
    conv2d_forward,
    conv2d_forward_fast,
    conv_padding,
)
from scratch.testing import assert_close, gradcheck
from tests.conftest import medium
from tests.parity import check_layer

DTYPES = ("float64", "float32")


@st.composite
def conv_cases(draw, rank=None):
    """A conv config and its input shape, built so that the output is never empty."""
    rank = draw(st.sampled_from([1, 2])) if rank is None else rank
    # grouped convolutions cost tf.keras an XLA compile (0.5–1.5 s) per call: rarer draws
    groups = draw(st.sampled_from([1, 1, 1, 1, 1, 1, 2, 3]))
    padding = draw(st.sampled_from(["valid", "same"] + (["causal"] if rank == 1 else [])))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    if draw(st.booleans()):
        strides, dilation = tuple(draw(st.integers(1, 3)) for _ in range(rank)), (1,) * rank
    else:
        strides, dilation = (1,) * rank, tuple(draw(st.integers(1, 3)) for _ in range(rank))
    spatial = []
    for k, s, d in zip(kernel, strides, dilation):
        if padding == "valid":  # in = (out − 1)·s + k_eff + slack (slack < s: unused tail)
            out = draw(st.integers(1, 4))
            spatial.append((out - 1) * s + d * (k - 1) + 1 + draw(st.integers(0, s - 1)))
        else:
            spatial.append(draw(st.integers(1, 8)))
    return dict(
        cls="Conv1D" if rank == 1 else "Conv2D",
        config=dict(filters=groups * draw(st.integers(1, 3)), kernel_size=kernel,
                    strides=strides, padding=padding, dilation_rate=dilation, groups=groups,
                    activation=draw(st.sampled_from(["linear", "relu", "tanh"])),
                    use_bias=draw(st.booleans())),
        shape=(draw(st.integers(1, 3)),) + tuple(spatial) + (groups * draw(st.integers(1, 3)),),
        seed=draw(st.integers(0, 2**16)),
    )


EDGE_CASES = [  # even kernel with 'same' and stride 2; kernel = input length; stride > kernel
    dict(cls="Conv2D", config=dict(filters=2, kernel_size=(2, 4), strides=2, padding="same",
                                   dilation_rate=1, groups=1, activation="linear",
                                   use_bias=True), shape=(2, 5, 7, 2), seed=1),
    dict(cls="Conv1D", config=dict(filters=2, kernel_size=(4,), strides=(2,), padding="same",
                                   dilation_rate=(1,), groups=1, activation="linear",
                                   use_bias=True), shape=(2, 6, 3), seed=2),
    dict(cls="Conv2D", config=dict(filters=3, kernel_size=(3, 4), strides=1, padding="valid",
                                   dilation_rate=1, groups=1, activation="tanh",
                                   use_bias=True), shape=(2, 3, 4, 2), seed=3),
    dict(cls="Conv1D", config=dict(filters=4, kernel_size=(2,), strides=(3,), padding="valid",
                                   dilation_rate=(1,), groups=2, activation="relu",
                                   use_bias=False), shape=(1, 8, 4), seed=4),
    dict(cls="Conv2D", config=dict(filters=2, kernel_size=1, strides=(3, 2), padding="same",
                                   dilation_rate=1, groups=1, activation="linear",
                                   use_bias=True), shape=(1, 7, 5, 1), seed=5),
]

CLASSES = {"Conv1D": Conv1D, "Conv2D": Conv2D}


def _make(case, dtype):
    """A built scratch layer with seeded weights ~ N(0, 1/fan_in), and its input."""
    rng = np.random.default_rng(case["seed"])
    layer = CLASSES[case["cls"]](**case["config"], dtype=dtype)
    x = rng.standard_normal(case["shape"]).astype(dtype)
    layer.build(x.shape)
    fan_in = np.prod(layer.params["kernel"].shape[:-1])
    layer.set_weights([rng.standard_normal(w.shape) / np.sqrt(fan_in) for w in layer.weights])
    return rng, layer, x


def _apply_edge_cases(test):
    for case in EDGE_CASES:
        test = example(case)(test)
    return test


@medium
@given(conv_cases())
@_apply_edge_cases
def test_conv_parity_with_keras(tf_keras, tf, case):
    """Outputs, input gradients and weight gradients match tf.keras in float64 and float32
    (grouped: float64 only, each tf.keras call compiles with XLA; fast_vs_readable and the
    gradchecks cover grouped float32); the Keras layer comes from scratch's get_config()."""
    for dtype in DTYPES if case["config"]["groups"] == 1 else ("float64",):
        rng, layer, x = _make(case, dtype)
        check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng, msg=f"{case} {dtype}")


@medium
@given(conv_cases())
@_apply_edge_cases
def test_conv_fast_vs_readable(case):
    """The im2col/GEMM + Numba col2im path equals the readable einsum/per-tap path."""
    for dtype in DTYPES:
        rng, layer, x = _make(case, dtype)
        check_layer(layer, x, rng=rng, msg=f"{case} {dtype}")


def _as_2d(case):
    """(shape, kernel_size, strides, dilation, padding) of a case as a 2-D convolution."""
    cfg = case["config"]
    rank = 1 if case["cls"] == "Conv1D" else 2

    def t(v):
        return tuple(np.broadcast_to(v, (rank,)).tolist())

    kernel, strides, dilation = t(cfg["kernel_size"]), t(cfg["strides"]), t(cfg["dilation_rate"])
    shape = case["shape"]
    if rank == 1:
        shape = (shape[0], 1) + shape[1:]
        kernel, strides, dilation = (1,) + kernel, (1,) + strides, (1,) + dilation
    return shape, kernel, strides, dilation, cfg["padding"]


@medium
@given(conv_cases())
@_apply_edge_cases
def test_conv2d_functions_gradcheck(case):
    """Finite differences (float64) of the pure functions, both implementations."""
    rng = np.random.default_rng(case["seed"])
    shape, kernel_size, strides, dilation, padding = _as_2d(case)
    groups, filters = case["config"]["groups"], case["config"]["filters"]
    pads = tuple(conv_padding(n, k, s, d, padding)
                 for n, k, s, d in zip(shape[1:3], kernel_size, strides, dilation))
    point = {"x": rng.standard_normal(shape),
             "kernel": rng.standard_normal(kernel_size + (shape[-1] // groups, filters)),
             "bias": rng.standard_normal(filters)}

    def fn(p):
        return conv2d_forward(p["x"], p["kernel"], p["bias"], strides, pads, dilation, groups)

    def vjp_readable(v):
        dx, g = conv2d_backward(v, point["x"], point["kernel"], strides, pads, dilation, groups)
        return {"x": dx, **g}

    def vjp_fast(v):
        _, xp = conv2d_forward_fast(point["x"], point["kernel"], point["bias"], strides,
                                    pads, dilation, groups)
        dx, g = conv2d_backward_fast(v, xp, point["x"].shape, point["kernel"], strides, pads,
                                     dilation, groups)
        return {"x": dx, **g}

    gradcheck(fn, point, vjp_readable, seed=case["seed"])
    gradcheck(fn, point, vjp_fast, seed=case["seed"])


@medium
@given(conv_cases())
@_apply_edge_cases
def test_conv2d_fast_chunks_and_threads(case):
    """The fast functions cut the batch into chunks of images and may run them in threads:
    with one image per chunk (CHUNK_ROWS = 1) they still equal the readable functions, and
    one or three threads give the same bits. Chunks of two images (the last one shorter for
    an odd batch) reuse their thread's work array (`_ChunkBuffers`) and equal the readable
    functions too (not bit for bit: BLAS' blocking, so a GEMM's rounding, depends on its
    row count)."""
    shape, kernel_size, strides, dilation, padding = _as_2d(case)
    groups, filters = case["config"]["groups"], case["config"]["filters"]
    use_bias = case["config"]["use_bias"]
    pads = tuple(conv_padding(n, k, s, d, padding)
                 for n, k, s, d in zip(shape[1:3], kernel_size, strides, dilation))
    geometry = (strides, pads, dilation, groups)
    for dtype in DTYPES:
        rng = np.random.default_rng(case["seed"])
        x = rng.standard_normal(shape).astype(dtype)
        kernel = rng.standard_normal(kernel_size + (shape[-1] // groups, filters)).astype(dtype)
        bias = rng.standard_normal(filters).astype(dtype) if use_bias else None
        z_ref = conv2d_forward(x, kernel, bias, *geometry)
        dz = rng.standard_normal(z_ref.shape).astype(dtype)
        dx_ref, g_ref = conv2d_backward(dz, x, kernel, *geometry, use_bias=use_bias)
        pixels = z_ref.shape[1] * z_ref.shape[2]
        runs = []
        for chunk_rows, threads in ((1, 1), (1, 3), (2 * pixels, 3)):
            with mock.patch.object(conv, "CHUNK_ROWS", chunk_rows):
                z, xp = conv2d_forward_fast(x, kernel, bias, *geometry, threads=threads)
                dx, g = conv2d_backward_fast(dz, xp, x.shape, kernel, *geometry,
                                             use_bias=use_bias, threads=threads)
                runs.append([z, dx] + [g[name] for name in sorted(g)])
        msg = f"{case} {dtype}"
        want = [z_ref, dx_ref] + [g_ref[name] for name in sorted(g_ref)]
        for got, expected in zip(runs[0], want):
            assert_close(got, expected, kind="fast_vs_readable", dtype=dtype, msg=msg)
        for got, expected in zip(runs[2], want):
            assert_close(got, expected, kind="fast_vs_readable", dtype=dtype, msg=msg)
        for one, three in zip(runs[0], runs[1]):
            np.testing.assert_array_equal(one, three, err_msg=msg)


def test_conv1d_same_puts_odd_padding_at_the_end():
    """k=2 'same' on [1..5]: TF pads one zero at the END, so the last output is 5·w0."""
    layer = Conv1D(1, 2, padding="same", use_bias=False, kernel_initializer="ones",
                   dtype="float64")
    y = layer(np.arange(1.0, 6.0).reshape(1, 5, 1))
    np.testing.assert_array_equal(y[0, :, 0], [3, 5, 7, 9, 5])
    assert conv_padding(4, 2, 1, 1, "same") == (0, 1)
    assert conv_padding(4, 4, 1, 1, "same") == (1, 2)
    assert conv_padding(5, 3, 2, 1, "causal") == (2, 0)


def test_conv_is_cross_correlation():
    """Kernel [1, 2, 3] on [1..5] gives [14, 20, 26]: no kernel flip
    (docs/KERAS_NUMERICS.md §Convolution)."""
    layer = Conv1D(1, 3, use_bias=False, dtype="float64")
    layer.build((None, 5, 1))
    layer.set_weights([np.array([1.0, 2.0, 3.0]).reshape(3, 1, 1)])
    np.testing.assert_array_equal(layer(np.arange(1.0, 6.0).reshape(1, 5, 1))[0, :, 0],
                                  [14, 20, 26])


def test_weight_layout_and_names():
    conv1 = Conv1D(6, 3, groups=2)
    conv1.build((None, 10, 4))
    conv2 = Conv2D(8, (3, 2), groups=4)
    conv2.build((None, 9, 9, 4))
    assert conv1.weight_names == ["kernel", "bias"] and conv1.params["kernel"].shape == (3, 2, 6)
    assert conv2.params["kernel"].shape == (3, 2, 1, 8) and conv2.params["bias"].shape == (8,)
    assert conv2.compute_output_shape((None, 9, 9, 4)) == (None, 7, 8, 8)
    assert Conv2D(2, 3, strides=2, padding="same").compute_output_shape((5, 7, 8, 1)) == \
        (5, 4, 4, 2)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("kwargs, match", [
    (dict(filters=0, kernel_size=3), "filters"),
    (dict(filters=4, kernel_size=3, groups=3), "evenly divisible by the number of groups"),
    (dict(filters=4, kernel_size=0), "kernel_size"),
    (dict(filters=4, kernel_size=3, strides=0), "strides"),
    (dict(filters=4, kernel_size=3, strides=2, dilation_rate=2), "strides > 1"),
    (dict(filters=4, kernel_size=3, padding="causal"), "padding"),
    (dict(filters=4, kernel_size=(3, 3, 3)), "kernel_size"),
    (dict(filters=4, kernel_size=3, data_format="channels_first"), "channels_last"),
])
def test_conv2d_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conv2D(**kwargs)


def _assert_unchanged(layer, before_weights, before_cache):
    assert all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), before_weights))
    assert layer._cache is before_cache


def test_conv2d_3d_input_hints_reshape_to_nhw1():
    """The course's mistake: Fashion-MNIST (N, 28, 28) into Conv2D."""
    layer = Conv2D(4, 3)
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3.*N×H×W×1"):
        layer(np.zeros((2, 28, 28), np.float32))
    assert not layer.built and layer.params == {}


def test_conv_errors_leave_state_unchanged():
    layer = Conv2D(4, 3, dtype="float64")
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 3))
    layer(x)
    weights, cache = layer.get_weights(), layer._cache
    bad_inputs = [
        (np.zeros((2, 6, 6, 2)), "built for inputs with 3 channels"),   # too few channels
        (np.zeros((2, 2, 6, 3)), "output size would be zero or negative"),  # smaller than k
        (np.zeros((2, 6, 6)), "expected ndim=4"),
        (np.zeros((2, 6, 6, 3), np.float32), "computes in float64"),
    ]
    for bad, match in bad_inputs:
        with pytest.raises((ValueError, TypeError), match=match):
            layer.forward(bad, training=True)
        _assert_unchanged(layer, weights, cache)


def test_conv_build_errors():
    with pytest.raises(ValueError, match="evenly divisible by the number of groups"):
        Conv2D(4, 3, groups=2).build((None, 8, 8, 3))
    with pytest.raises(ValueError, match="zero or negative"):
        Conv1D(2, 5, dilation_rate=2).build((None, 8, 1))
    layer = Conv1D(2, 3)
    with pytest.raises(ValueError, match=r"ndim=3.*N×T×1"):
        layer.build((None, 10))
    assert layer.params == {}


def test_conv_backward_before_forward():
    layer = Conv2D(2, 3)
    layer.build((None, 5, 5, 1))
    with pytest.raises(RuntimeError, match="forward"):
        layer.backward(np.zeros((1, 3, 3, 2), np.float32))
    layer(np.zeros((1, 5, 5, 1), np.float32))
    with pytest.raises(ValueError, match="shape"):
        layer.backward(np.zeros((1, 3, 3, 3), np.float32))


def test_config_round_trip():
    layer = Conv2D(8, (3, 2), strides=(1, 2), padding="same", activation="relu", groups=2,
                   use_bias=False, name="c")
    clone = Conv2D.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_conv_fast_path_keeps_the_padded_input_not_the_columns():
    """The fast forward keeps the padded input for the backward (which builds each chunk's
    columns again), never the (N·Ho·Wo, kh·kw·C) column matrix, nine times the input for a
    3×3 kernel: the memory a step writes and the cache it holds stay the input's size."""
    layer = Conv2D(4, 3, padding="same")
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype("float32")
    with backend.fast_paths(True):
        layer(x)
        cache = layer._cache
        assert cache.xp.shape == (2, 10, 10, 3)
        np.testing.assert_array_equal(cache.xp[:, 1:9, 1:9], x)
        held = sum(a.nbytes for a in cache if isinstance(a, np.ndarray))
        assert held < 4 * x.nbytes + 2 * cache.z.nbytes
        dx = layer.backward(np.ones_like(cache.y))
    assert dx.shape == x.shape
