"""Pooling layers: parity with tf.keras (float64/float32, ties included), TF's tie rules,
fast (Numba) == readable, gradchecks, masking, and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scratch.layers import pooling as P
from scratch.testing import assert_close
from tests.conftest import cheap, medium
from tests.parity import check_layer, run_keras

DTYPES = ("float64", "float32")
WINDOWED = ["MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D"]
GLOBAL = ["GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
          "GlobalAveragePooling2D"]


@st.composite
def pool_cases(draw):
    cls = draw(st.sampled_from(WINDOWED))
    rank = 1 if cls.endswith("1D") else 2
    padding = draw(st.sampled_from(["valid", "same"]))
    pool = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 4)) for _ in range(rank))  # also stride > pool
    spatial = []
    for p, s in zip(pool, strides):
        if padding == "valid":
            spatial.append((draw(st.integers(1, 4)) - 1) * s + p + draw(st.integers(0, s - 1)))
        else:
            spatial.append(draw(st.integers(1, 8)))
    return dict(cls=cls, config=dict(pool_size=pool, strides=strides, padding=padding),
                shape=(draw(st.integers(1, 3)),) + tuple(spatial) + (draw(st.integers(1, 4)),),
                ties=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@st.composite
def global_cases(draw):
    cls = draw(st.sampled_from(GLOBAL))
    rank = 1 if cls.endswith("1D") else 2
    return dict(cls=cls, config=dict(keepdims=draw(st.booleans())),
                shape=(draw(st.integers(1, 3)),) + tuple(draw(st.integers(1, 5))
                                                         for _ in range(rank))
                + (draw(st.integers(1, 4)),),
                ties=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


EDGE_CASES = [  # even pool 'same' stride 2, pool = input length, stride > pool
    dict(cls="MaxPooling2D", config=dict(pool_size=(2, 4), strides=2, padding="same"),
         shape=(2, 5, 7, 2), ties=True, seed=1),
    dict(cls="AveragePooling1D", config=dict(pool_size=5, strides=1, padding="valid"),
         shape=(2, 5, 3), ties=False, seed=2),
    dict(cls="MaxPooling1D", config=dict(pool_size=2, strides=3, padding="same"),
         shape=(1, 8, 2), ties=True, seed=3),
    dict(cls="AveragePooling2D", config=dict(pool_size=3, strides=(1, 2), padding="same"),
         shape=(1, 4, 5, 1), ties=False, seed=4),
]


def _input(case, dtype):
    rng = np.random.default_rng(case["seed"])
    if case["ties"]:  # small integers: many equal values in every window
        x = rng.integers(-2, 3, case["shape"]).astype(dtype)
    else:
        x = rng.standard_normal(case["shape"]).astype(dtype)
    return rng, x


def _apply(cases):
    def deco(test):
        for case in cases:
            test = example(case)(test)
        return test
    return deco


@medium
@given(st.one_of(pool_cases(), global_cases()))
@_apply(EDGE_CASES)
def test_pooling_parity_with_keras(tf_keras, tf, case):
    """Outputs and input gradients equal tf.keras', with ties routed exactly as TF does."""
    for dtype in DTYPES:
        rng, x = _input(case, dtype)
        layer = getattr(P, case["cls"])(**case["config"], dtype=dtype)
        check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng, msg=f"{case} {dtype}")


@medium
@given(pool_cases())
@_apply(EDGE_CASES)
def test_pooling_fast_vs_readable(case):
    """Numba kernels == readable NumPy (np.argmax / np.add.at / per-tap scatter)."""
    _check_fast_vs_readable(case)


def _check_fast_vs_readable(case):
    for dtype in DTYPES:
        rng, x = _input(case, dtype)
        layer = getattr(P, case["cls"])(**case["config"], dtype=dtype)
        check_layer(layer, x, rng=rng, msg=f"{case} {dtype}")


@st.composite
def tiled_max_cases(draw):
    """Max pooling whose windows neither overlap nor need padding (strides ≥ pool, 'valid'
    or a 'same' input the strides divide): the tiled fast kernels, leftover rows, columns
    and gaps between windows included."""
    rank = draw(st.sampled_from([1, 2]))
    padding = draw(st.sampled_from(["valid", "same"]))
    pool = tuple(draw(st.integers(1, 4)) for _ in range(rank))
    strides = tuple(p + draw(st.sampled_from([0, 0, 1, 2])) for p in pool)
    if padding == "same":  # pads max((⌈n/s⌉ − 1)·s + p − n, 0) = 0 when s divides n, p ≤ s
        spatial = tuple(s * draw(st.integers(1, 4)) for s in strides)
    else:
        spatial = tuple((draw(st.integers(1, 4)) - 1) * s + p + draw(st.integers(0, s))
                        for p, s in zip(pool, strides))
    return dict(cls=f"MaxPooling{rank}D",
                config=dict(pool_size=pool, strides=strides, padding=padding),
                shape=(draw(st.integers(1, 3)),) + spatial + (draw(st.integers(1, 5)),),
                ties=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@medium
@given(tiled_max_cases())
def test_tiled_max_pooling_fast_vs_readable(case):
    """The tiled kernels (uint8 taps, dx written in one pass) == readable NumPy, ties
    included; cells in no window get a zero gradient."""
    _check_fast_vs_readable(case)
    _, x = _input(case, "float64")
    layer = getattr(P, case["cls"])(**case["config"], dtype="float64")
    layer.fast_path = True  # also under SCRATCH_FAST_PATHS=0: the tiled kernels are fast paths
    layer(x)
    assert layer._cache.taps is not None and layer._cache.argmax is None


@medium
@given(st.one_of(pool_cases(), global_cases()))
def test_pooling_gradcheck(case):
    """Finite differences in float64 (continuous data: no ties, no max kinks)."""
    case = dict(case, ties=False)
    _, x = _input(case, "float64")
    layer = getattr(P, case["cls"])(**case["config"], dtype="float64")
    check_layer(layer, x, gradcheck=True, seed=case["seed"], msg=str(case))


# ------------------------------------------------------------------------------ ties
def _keras_dx(tf, klayer, x):
    """dL/dx of tf.keras for L = Σ output (the cotangent of ones)."""
    ones = np.ones(klayer.compute_output_shape(x.shape))
    return run_keras(tf, klayer, x, [ones]).dx[0]


def _grad(layer, x):
    y = layer(np.asarray(x, dtype=np.float64))
    return layer.backward(np.ones_like(y))


@pytest.mark.parametrize("fast", [True, False])
def test_max_pool_ties_go_to_the_first_maximum(tf_keras, tf, fast):
    """All-equal 2×2 → top-left; [[0,3],[3,1]] → (0, 1); pool 3 stride 1 on [2,2,2,1] →
    [1,1,0,0]: overlapping windows add up (docs/KERAS_NUMERICS.md §Pooling)."""
    cases = [
        (P.MaxPooling2D(2, dtype="float64"), np.full((1, 2, 2, 1), 7.0), [[1, 0], [0, 0]]),
        (P.MaxPooling2D(2, dtype="float64"), np.array([[0, 3], [3, 1]], float)[None, :, :, None],
         [[0, 1], [0, 0]]),
        (P.MaxPooling1D(3, strides=1, dtype="float64"),
         np.array([2, 2, 2, 1], float)[None, :, None], [1, 1, 0, 0]),
    ]
    for layer, x, expected in cases:
        layer.fast_path = fast
        dx = _grad(layer, x)
        np.testing.assert_array_equal(dx.reshape(np.shape(expected)), expected)
        klayer = getattr(tf_keras.layers, type(layer).__name__).from_config(layer.get_config())
        np.testing.assert_array_equal(dx, _keras_dx(tf, klayer, x))


def test_global_max_ties_share_equally(tf_keras, tf):
    layer = P.GlobalMaxPooling1D(dtype="float64")
    x = np.array([2, 2, 2, 1], float)[None, :, None]
    dx = _grad(layer, x)
    np.testing.assert_allclose(dx[0, :, 0], [1 / 3, 1 / 3, 1 / 3, 0], rtol=0, atol=0)
    np.testing.assert_array_equal(
        dx, _keras_dx(tf, tf_keras.layers.GlobalMaxPooling1D(dtype="float64"), x))


def test_same_padding_cells_never_win_and_are_not_counted():
    x = -np.ones((1, 3, 3, 1))  # all negative: a zero-padded max would return 0
    y = P.MaxPooling2D(2, padding="same", dtype="float64")(x)
    np.testing.assert_array_equal(y, -np.ones((1, 2, 2, 1)))
    ones = np.ones((1, 5, 1))
    np.testing.assert_array_equal(
        P.AveragePooling1D(3, strides=1, padding="same", dtype="float64")(ones), ones)


# ------------------------------------------------------------------------------ masking
@cheap
@given(st.integers(1, 4), st.integers(1, 6), st.integers(1, 3), st.booleans(),
       st.sampled_from(DTYPES), st.integers(0, 2**16))
def test_global_average_pooling1d_mask(tf_keras, tf, n, t, c, keepdims, dtype, seed):
    """Σ(x·m)/Σm over the unmasked steps, as Keras; gradients vs tf.keras."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, c)).astype(dtype)
    mask = rng.random((n, t)) < 0.6
    mask[:, 0] = True  # at least one step per row
    layer = P.GlobalAveragePooling1D(keepdims=keepdims, dtype=dtype)
    y = check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng,
                    call_kwargs={"mask": mask}).ours.outputs[0]
    expected = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    assert_close(y.reshape(n, c), expected, kind="forward", dtype=dtype)
    assert layer.compute_mask(x, mask) is None


def test_global_max_pooling1d_ignores_the_mask_like_keras():
    """Keras 3.15's GlobalMaxPooling1D.call takes no mask: masked steps still count."""
    x = np.array([[[1.0], [5.0], [2.0]]])
    layer = P.GlobalMaxPooling1D(dtype="float64")
    with pytest.warns(UserWarning, match="does not support masking"):
        y = layer.forward(x, mask=np.array([[True, False, True]]))
    assert y[0, 0] == 5.0
    assert layer.compute_mask(x, np.array([[True, False, True]])) is None


def test_global_average_mask_shape_error():
    layer = P.GlobalAveragePooling1D()
    with pytest.raises(ValueError, match="mask of shape"):
        layer(np.zeros((2, 3, 1), np.float32), mask=np.ones((2, 4), bool))


# ------------------------------------------------------------------------------ errors
def test_pool_larger_than_input():
    layer = P.MaxPooling2D((3, 3))
    with pytest.raises(ValueError, match="zero or negative"):
        layer(np.zeros((1, 2, 5, 1), np.float32))
    assert not layer.built
    ok = P.MaxPooling2D((3, 3), padding="same")(np.zeros((1, 2, 5, 1), np.float32))
    assert ok.shape == (1, 1, 2, 1)


def test_pooling_errors_leave_cache_unchanged():
    layer = P.AveragePooling2D(2)
    x = np.ones((1, 4, 4, 1), np.float32)
    layer(x)
    cache = layer._cache
    for bad in (np.ones((1, 4, 4), np.float32), np.ones((1, 1, 4, 1), np.float32),
                np.ones((1, 4, 4, 1), np.float64)):
        with pytest.raises((ValueError, TypeError)):
            layer.forward(bad)
        assert layer._cache is cache


def test_pooling_arguments():
    with pytest.raises(TypeError):
        P.AveragePooling2D()  # no default pool_size in Keras 3.15
    with pytest.raises(ValueError, match="padding"):
        P.MaxPooling2D(padding="causal")
    with pytest.raises(ValueError, match="pool_size"):
        P.MaxPooling1D(pool_size=(2, 2))
    assert P.MaxPooling2D().strides == (2, 2) and P.MaxPooling1D(3).strides == (3,)
    with pytest.raises(ValueError, match=r"ndim=4.*expand_dims"):
        P.MaxPooling2D()(np.zeros((2, 8, 8), np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P.GlobalMaxPooling1D()(np.zeros((1, 3, 2), np.float32))  # no mask: no warning


@medium
@given(rank=st.sampled_from([1, 2]), batch=st.integers(1, 3), steps=st.integers(1, 7),
       channels=st.integers(1, 9), keepdims=st.booleans(), steps_major=st.booleans(),
       seed=st.integers(0, 2**16))
@example(rank=1, batch=1, steps=6, channels=1, keepdims=False, steps_major=False, seed=6990)
def test_global_max_pooling_kernels_equal_numpy(rank, batch, steps, channels, keepdims,
                                                steps_major, seed):
    """GlobalMaxPooling1D/2D: the Numba kernels (`global_max_fwd` / `global_max_bwd`, and
    their `_steps_major` twins for sequences in a recurrent layer's step-major memory) give
    the NumPy lines' numbers: ties split the gradient equally, NaN wins the max and makes its
    column's gradient NaN, ±inf, and of tied −0 and +0 the later step's sign (as
    tf.reduce_max); float32 and float64, bit for bit, on every CPU tier (the example: NumPy's
    max alone kept the earlier −0 of [−0, +0, −inf, …] on x86-64-v2)."""
    rng = np.random.default_rng(seed)
    spatial = (steps,) if rank == 1 else (steps, 1 + seed % 3)
    special = np.array([0.0, -0.0, 1.0, 1.0, 2.0, np.inf, -np.inf, np.nan, -3.5])
    for dtype in DTYPES:
        x = rng.choice(special, size=(batch,) + spatial + (channels,)).astype(dtype)
        x[rng.random(x.shape) < 0.5] = rng.standard_normal(1)[0]  # ties across steps
        if steps_major and rank == 1:  # the same values, in (steps, batch, C) memory
            x = np.ascontiguousarray(x.transpose(1, 0, 2)).transpose(1, 0, 2)
        dy_shape = (batch,) + (1,) * rank * keepdims + (channels,)
        dy = rng.standard_normal(dy_shape).astype(dtype)
        runs = []
        for fast in (True, False):
            layer = getattr(P, f"GlobalMaxPooling{rank}D")(keepdims=keepdims, dtype=dtype)
            layer.fast_path = fast
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 where a column is NaN
                runs.append((layer(x), layer.backward(dy)))
        for got, want in zip(*runs, strict=True):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
            assert np.array_equal(np.signbit(got), np.signbit(want))


def test_global_max_pooling_signed_zero_ties_as_tf(tf):
    """Of tied −0 and +0 the later step's sign, and the gradient shared by both, as tf.keras
    (fast and readable paths alike)."""
    x = np.zeros((2, 64, 1), np.float32)
    x[0, ::2] = -0.0   # last step +0
    x[1, 1::2] = -0.0  # last step −0
    dy = np.array([[1.0], [3.0]], np.float32)
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y_tf = tf.keras.layers.GlobalMaxPooling1D()(xt)
    dx_tf = tape.gradient(y_tf, xt, output_gradients=tf.constant(dy)).numpy()
    for fast in (True, False):
        layer = P.GlobalMaxPooling1D()
        layer.fast_path = fast
        y = np.asarray(layer(x))
        np.testing.assert_array_equal(np.signbit(y), np.signbit(y_tf.numpy()))
        np.testing.assert_array_equal(layer.backward(dy), dx_tf)


@medium
@given(batch=st.integers(1, 9), side=st.integers(1, 5), channels=st.integers(1, 4),
       pool=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_tiled_max_pooling_in_threads_gives_the_same_bits(batch, side, channels, pool, seed):
    """The tiled max pooling kernels run a big batch in chunks of whole images on two threads
    (`POOL_SPLIT_ELEMENTS`, `_pool_threads`): with every batch split into chunks of one image
    on three threads, the outputs and dx are those of one thread, bit for bit, and equal the
    readable functions'."""
    from unittest import mock

    from scratch import _threads
    from scratch.layers import conv

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, side * pool, side * pool + pool, channels)).astype(
        np.float32)
    x[rng.random(x.shape) < 0.3] = 0.5  # ties inside windows
    dy = rng.standard_normal((batch, side, side + 1, channels)).astype(np.float32)
    runs = []
    for threads in (1, 3):
        layer = P.MaxPooling2D(pool)
        layer.fast_path = True
        with mock.patch.object(P, "POOL_SPLIT_ELEMENTS", 0), \
                mock.patch.object(conv, "CHUNK_ROWS", 1), \
                mock.patch.object(_threads, "_ENGINE_THREADS", threads), \
                _threads.scoped_blas_threads(1):  # (threads only while BLAS runs on one)
            assert P._pool_threads(x.size) == threads
            runs.append((layer(x), layer.backward(dy)))
    readable = P.MaxPooling2D(pool)
    readable.fast_path = False
    want = (readable(x), readable.backward(dy))
    for one, three, expected in zip(runs[0], runs[1], want, strict=True):
        np.testing.assert_array_equal(one, three)
        np.testing.assert_array_equal(one, expected)
