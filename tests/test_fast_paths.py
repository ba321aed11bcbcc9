"""The engine's shortcuts equal the code they stand in for.

* `backend.mean` is `np.mean`, bit for bit.
* `_kernels.losses.block_sum` sums a row in NumPy's order, bit for bit.
* The Numba twins of the cross-entropies' logits formulas (`Loss.fast_path`) equal the
  readable NumPy functions over values, gradients, sample weights, reductions and shapes:
  bit for bit where NumPy's exp and log are the C library's (as Numba's are), else within
  the `fast_vs_readable` tier (`assert_fast_equals_readable`). BCE's one-call mean gives the
  bits of its three steps.
* fit with every shortcut (fast losses, fused optimizer kernels, slice batches, skipped batch
  logs) gives the History and weights of fit with the readable paths.
* The one-pass LeakyReLU kernels and Dropout's select give np.where's bits;
  BatchNormalization's Numba passes give its NumPy fast form's numbers. ReLU's gradient is
  TensorFlow's product with the mask.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratch
from scratch import backend, cpu_tier, losses
from scratch._kernels.losses import MAX_CLASSES, block_sum
from scratch.testing import assert_close

from conftest import cheap

DTYPES = ["float32", "float64"]


@cheap
@given(st.sampled_from(DTYPES),
       st.lists(st.integers(1, 140), min_size=1, max_size=3),
       st.integers(0, 2**31 - 1))
def test_backend_mean_is_np_mean_bitwise(dtype, shape, seed):
    x = (np.random.default_rng(seed).standard_normal(shape) * 100).astype(dtype)
    for axis in [None, -1, 0, tuple(range(1, len(shape))) or None]:
        ours, ref = backend.mean(x, axis=axis), np.mean(x, axis=axis)
        assert ours.dtype == ref.dtype and np.array_equal(ours, ref), axis


def test_backend_mean_leaves_other_input_to_numpy():
    assert backend.mean(np.arange(5), axis=0) == 2.0  # integers: float64 mean
    with pytest.warns(RuntimeWarning):
        assert np.isnan(backend.mean(np.zeros((0,), np.float32)))


@cheap
@given(st.sampled_from(DTYPES), st.integers(1, MAX_CLASSES), st.integers(0, 2**31 - 1))
def test_block_sum_is_numpy_row_sum_bitwise(dtype, n, seed):
    a = (np.random.default_rng(seed).standard_normal((3, n)) * 1e3).astype(dtype)
    flat = a.reshape(-1)
    ours = np.array([block_sum(flat, r * n, n) for r in range(3)], dtype=dtype)
    assert np.array_equal(ours, np.add.reduce(a, axis=-1))


def assert_fast_equals_readable(fast, readable, dtype, msg=""):
    """A Numba twin that calls the C library's exp/log against NumPy's readable code.

    Bit for bit where NumPy's exp and log are the C library's too; on the tiers where NumPy
    has its own SIMD exp/log (float32 from x86-64-v3, float64 on x86-64-v4) they differ in
    the last bit, so there the table's `fast_vs_readable` tolerance is the claim.
    """
    if cpu_tier.numpy_exp_log_is_c_library(dtype):
        assert np.array_equal(fast, readable), f"{msg}: not bit-identical on {cpu_tier.describe()}"
    else:
        assert_close(fast, readable, kind="fast_vs_readable", dtype=dtype, msg=msg)


def _pair(cls, **kwargs):
    fast, readable = cls(**kwargs), cls(**kwargs)
    readable.fast_path = False
    return fast, readable


@st.composite
def logits_cases(draw):
    kind = draw(st.sampled_from(["bce", "scce"]))
    dtype = draw(st.sampled_from(DTYPES))
    lead = tuple(draw(st.lists(st.integers(1, 9), min_size=1, max_size=3)))
    k = draw(st.integers(2, 12)) if kind == "scce" else draw(st.integers(1, 4))
    reduction = draw(st.sampled_from(["sum_over_batch_size", "mean_with_sample_weight", "sum",
                                      "none"]))
    labels = draw(st.sampled_from(["plain", "column", "float"]))
    return (kind, dtype, lead, k, reduction, draw(st.booleans()), draw(st.booleans()), labels,
            draw(st.floats(0.1, 60.0)), draw(st.integers(0, 2**31 - 1)))


def _activation(z: np.ndarray, kind: str) -> np.ndarray:
    if kind == "bce":
        return np.asarray(scratch.activations.sigmoid(z))
    return np.asarray(scratch.activations.softmax(z))


@cheap
@given(logits_cases())
def test_fast_crossentropy_logits_equal_readable(case):
    """The Numba twins (from_logits=True), and the one-call unweighted mean on hidden logits
    (a sigmoid/softmax head), against the NumPy pipeline: values and gradients."""
    kind, dtype, lead, k, reduction, weighted, hidden, labels, scale, seed = case
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal(lead + (k,)) * scale).astype(dtype)
    if kind == "bce":
        y = (rng.random(z.shape) > 0.5).astype(dtype)
        if labels == "column" and k == 1:
            y = y[..., 0]  # (N, ..., ) labels against (N, ..., 1) predictions
        cls = losses.BinaryCrossentropy
    else:
        y = rng.integers(0, k, lead)
        y = {"plain": y, "column": y[..., None], "float": y.astype(dtype)}[labels]
        cls = losses.SparseCategoricalCrossentropy
    fast, readable = _pair(cls, from_logits=not hidden, reduction=reduction)
    sw = rng.random(lead).astype(dtype) if weighted else None
    if hidden:
        kwargs = {"logits": z, "activation": "sigmoid" if kind == "bce" else "softmax"}
        y_pred = _activation(z, kind)
    else:
        kwargs, y_pred = {}, z
    v_fast, g_fast = fast.value_and_grad(y, y_pred, sample_weight=sw, **kwargs)
    v_ref, g_ref = readable.value_and_grad(y, y_pred, sample_weight=sw, **kwargs)
    value_only = fast(y, y_pred, sw, logits=kwargs.get("logits"))
    assert g_fast.shape == g_ref.shape == z.shape and g_fast.dtype == z.dtype
    assert np.asarray(v_fast).dtype == np.asarray(v_ref).dtype
    assert_fast_equals_readable(v_fast, v_ref, dtype, "value")
    assert_fast_equals_readable(g_fast, g_ref, dtype, "gradient")
    assert_fast_equals_readable(value_only, v_ref, dtype, "value alone")


@cheap
@given(st.sampled_from(DTYPES), st.integers(1, MAX_CLASSES), st.integers(1, 3),
       st.sampled_from(["float64", "float32", "int64", "bool"]), st.booleans(),
       st.sampled_from([1.0, 10.0, 100.0]), st.integers(0, 2**31 - 1))
def test_bce_mean_kernel_equals_the_three_steps_bitwise(dtype, rows, k, label_dtype, column,
                                                         scale, seed):
    """`bce_logits_mean_fast` (values, mean and gradient in one kernel call) gives the bits of
    the values kernel, NumPy's mean and the gradient kernel, in both dtypes."""
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((rows, k)) * scale).astype(dtype)
    y = (rng.random((rows, k)) > 0.5).astype(label_dtype)
    if column and k == 1:
        y = y[:, 0]
    for need_grad in (True, False):
        mean, grad = losses.bce_logits_mean_fast(y, z, need_grad)
        values, cache = losses.bce_logits_forward_fast(y, z)
        ref_mean, ref_grad = losses._mean_and_grad(values, need_grad,
                                                   losses.bce_logits_backward_fast, cache)
        assert type(mean) is type(ref_mean) and np.array_equal(mean, ref_mean)
        if need_grad:
            assert grad.dtype == ref_grad.dtype and np.array_equal(grad, ref_grad)
        else:
            assert grad is None and ref_grad is None


@pytest.mark.parametrize("kind", ["bce", "scce"])
def test_fast_crossentropy_hidden_logits_at_extremes(kind):
    """Logits of ±1e4 and 0 through a sigmoid/softmax head: finite and equal to NumPy's."""
    z = np.array([[-1e4, 0.0, 1e4], [3.0, -2.0, 0.5]], dtype="float64")
    if kind == "bce":
        y = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
        fast, readable = _pair(losses.BinaryCrossentropy)
        with np.errstate(over="ignore"):
            y_pred = 1 / (1 + np.exp(-z))
        act = "sigmoid"
    else:
        y = np.array([0, 2])
        fast, readable = _pair(losses.SparseCategoricalCrossentropy)
        e = np.exp(z - z.max(-1, keepdims=True))
        y_pred = e / e.sum(-1, keepdims=True)
        act = "softmax"
    a = fast.value_and_grad(y, y_pred, logits=z, activation=act)
    b = readable.value_and_grad(y, y_pred, logits=z, activation=act)
    assert np.isfinite(a[0]) and np.all(np.isfinite(a[1]))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def _fit_history(fast: bool, loss: str, units: int, y, dtype: str):
    scratch.backend.set_floatx(dtype)
    try:
        with scratch.backend.fast_paths(fast):
            scratch.utils.set_random_seed(3)
            model = scratch.Sequential([
                scratch.Input((6,)), scratch.layers.Dense(5, activation="relu"),
                scratch.layers.Dense(units, activation="sigmoid" if units == 1 else "softmax")])
            model.compile(optimizer=scratch.optimizers.Adam(0.01), loss=loss,
                          metrics=["accuracy"])
            x = np.random.default_rng(0).standard_normal((45, 6)).astype(dtype)
            history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                                validation_split=0.2).history
            return history, model.get_weights()
    finally:
        scratch.backend.set_floatx("float32")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss,units", [("binary_crossentropy", 1),
                                        ("sparse_categorical_crossentropy", 4)])
def test_fit_with_shortcuts_equals_readable_paths(loss, units, dtype):
    """fit with every fast path against `backend.fast_paths(False)`: the readable code."""
    y = np.random.default_rng(1).integers(0, max(units, 2), 45)
    fast_h, fast_w = _fit_history(True, loss, units, y, dtype)
    ref_h, ref_w = _fit_history(False, loss, units, y, dtype)
    assert fast_h.keys() == ref_h.keys()
    for key in ref_h:
        assert_fast_equals_readable(np.array(fast_h[key]), np.array(ref_h[key]), dtype, key)
    for a, b in zip(fast_w, ref_w):
        assert_fast_equals_readable(a, b, dtype, "weights")


@cheap
@given(st.sampled_from(["binary", "sparse"]), st.sampled_from(DTYPES), st.integers(0, 40),
       st.sampled_from(["int", "float", "column"]), st.integers(0, 2**31 - 1))
def test_accuracy_counts_equal_the_general_update(kind, dtype, n, labels, seed):
    """The accuracies' exact-count shortcut against summing their per-sample 0/1 values."""
    rng = np.random.default_rng(seed)
    if kind == "binary":
        fast, general = scratch.metrics.BinaryAccuracy(), scratch.metrics.BinaryAccuracy()
        y_pred = rng.random((n, 1)).astype(dtype)
        y_pred[: n // 4] = 0.5  # exactly the threshold: predicts 0
        y = rng.integers(0, 2, n)
    else:
        fast = scratch.metrics.SparseCategoricalAccuracy()
        general = scratch.metrics.SparseCategoricalAccuracy()
        y_pred = rng.random((n, 4)).astype(dtype)
        y_pred[: n // 4] = 0.25  # ties: the first index wins
        y = rng.integers(0, 4, n)
    y = {"int": y, "float": y.astype(dtype), "column": y[:, None]}[labels]
    general._count_matches = lambda *args: None
    for _ in range(2):
        fast.update_state(y, y_pred)
        general.update_state(y, y_pred)
    assert fast.total == general.total and fast.count == general.count
    assert fast.result() == general.result() and fast.total.dtype == general.total.dtype


@pytest.mark.parametrize("frozen", [None, 0, 2])
def test_chain_walk_equals_graph_walk(frozen, monkeypatch):
    """A Sequential-like model runs forward/backward, and its train and test steps, as plain
    loops over its layers (its step plan's `stack`); the graph walk gives the same bits:
    history (validation included), evaluate, train_on_batch, outputs, input gradients and
    weights (with Dropout and BatchNormalization, and a frozen first, middle or no layer).
    Only the plain-stack shortcut is turned off here: every other fast path runs in both."""
    from scratch.models.step_plan import StepPlan

    def run(use_chain: bool):
        if not use_chain:
            monkeypatch.setattr(StepPlan, "stack", property(lambda plan: None))
        scratch.utils.set_random_seed(5)
        layers = [scratch.layers.Dense(7, activation="relu"), scratch.layers.Dropout(0.3),
                  scratch.layers.BatchNormalization(),
                  scratch.layers.Dense(3, activation="softmax")]
        model = scratch.Sequential([scratch.Input((4,))] + layers)
        if frozen is not None:
            layers[frozen].trainable = False
        model.compile(optimizer=scratch.optimizers.Adam(0.05),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        rng = np.random.default_rng(0)
        x = rng.standard_normal((20, 4)).astype("float32")
        y = rng.integers(0, 3, 20)
        history = model.fit(x, y, batch_size=6, epochs=2, shuffle=False, verbose=0,
                            validation_split=0.25).history
        history["evaluate"] = model.evaluate(x, y, batch_size=7, verbose=0)
        history["train_on_batch"] = model.train_on_batch(x[:5], y[:5])
        out = model.forward(x, training=False)
        dx = model.backward(np.ones_like(out))
        monkeypatch.undo()
        return [out, dx] + model.get_weights(), history

    (chain, h_chain), (graph, h_graph) = run(True), run(False)
    assert h_chain == h_graph
    for a, b in zip(chain, graph):
        assert np.array_equal(a, b)


def test_nested_models_keep_one_gradient_structure_per_training_model():
    """A discriminator trained on its own and inside a GAN's combined model (frozen there)
    makes one step plan (its gradient structure) per set of trainable flags, and each step
    reuses the one of the model being trained: learning on its own, frozen inside the
    combined model."""
    scratch.utils.set_random_seed(2)
    z = scratch.Input((3,))
    generator = scratch.Model(z, scratch.layers.Dense(4, activation="tanh")(z))
    x = scratch.Input((4,))
    discriminator = scratch.Model(x, scratch.layers.Dense(1, activation="sigmoid")(x))
    discriminator.compile(optimizer="adam", loss="binary_crossentropy")
    discriminator.trainable = False
    combined = scratch.Model(z, discriminator(generator(z)))
    combined.compile(optimizer="adam", loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    real = rng.standard_normal((8, 4)).astype("float32")
    noise = rng.standard_normal((8, 3)).astype("float32")
    seen = []
    for _ in range(3):
        discriminator.trainable = True
        before = discriminator.get_weights()
        discriminator.train_on_batch(real, np.ones(8))
        assert not np.array_equal(before[0], discriminator.get_weights()[0])
        discriminator.trainable = False
        before = discriminator.get_weights()
        combined.train_on_batch(noise, np.ones(8))
        assert all(np.array_equal(a, b) for a, b in zip(before, discriminator.get_weights()))
        seen.append(list(discriminator._plans))
    assert len(seen[0]) == 2  # one for its own steps, one for the combined model's
    assert all(len(s) == len(seen[0]) and all(a is b for a, b in zip(s, seen[0]))
               for s in seen[1:])
    # A step applies its plan's flags only while it runs: frozen now, the discriminator
    # still learns in its own steps (its flags of the first step after compile), and is
    # frozen again afterwards.
    before = discriminator.get_weights()
    discriminator.train_on_batch(real, np.ones(8))
    assert not np.array_equal(before[0], discriminator.get_weights()[0])
    assert not discriminator.trainable and not discriminator.layers[-1].trainable


def test_chain_detection():
    """Only plain stacks take the loop: a branch, a mask or a nested model keep the graph,
    and so does every model with the fast paths off."""
    inputs = scratch.Input((4,))
    stack = scratch.Model(inputs, scratch.layers.Dense(2)(scratch.layers.Dense(3)(inputs)))
    a = scratch.layers.Dense(3)(inputs)
    branch = scratch.Model(inputs, scratch.layers.Add()([a, scratch.layers.Dense(3)(inputs)]))
    ids = scratch.Input((5,))
    masked = scratch.Model(ids, scratch.layers.Embedding(9, 2, mask_zero=True)(ids))
    nested = scratch.Model(inputs, stack(inputs))
    with scratch.backend.fast_paths(True):
        assert stack._plan_for_current_flags().stack is not None
        assert branch._plan_for_current_flags().stack is None
        assert masked._plan_for_current_flags().stack is None
        assert nested._plan_for_current_flags().stack is None
    with scratch.backend.fast_paths(False):
        assert stack._plan_for_current_flags().stack is None


@st.composite
def leaky_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 9), min_size=0, max_size=3)))
    specials = draw(st.lists(st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45,
                                              -1e-45, 3e38, -3e38]), max_size=6))
    slope = draw(st.sampled_from([0.2, 0.3, 0.01, 1.5, -0.5, 1e-7]))
    return dtype, shape, specials, slope, draw(st.integers(0, 2**31 - 1))


@cheap
@given(leaky_cases())
def test_leaky_relu_kernels_equal_numpy_bitwise(case):
    """The one-pass Numba LeakyReLU forward and backward give np.where's bits, NaN, ±0,
    inf and subnormals included; arrays the kernels do not take keep the NumPy formula."""
    from scratch.activations import (
        _leaky_relu,
        _leaky_relu_backward,
        leaky_relu_backward_numpy,
        leaky_relu_numpy,
    )

    dtype, shape, specials, slope, seed = case
    rng = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        x = np.asarray(rng.standard_normal(shape) * 10, dtype=dtype)
        dy = np.asarray(rng.standard_normal(shape) * 10, dtype=dtype)
        flat = x.reshape(-1)
        flat[:len(specials)] = np.asarray(specials[:flat.size], dtype=dtype)
        alpha = x.dtype.type(np.float32(slope))
        y, ref = _leaky_relu(x, slope), leaky_relu_numpy(x, alpha)
        dx, dref = _leaky_relu_backward(dy, x, slope), leaky_relu_backward_numpy(dy, x, alpha)
        strided = x.T if x.ndim > 1 else x[::-1] if x.ndim else x
        y_strided = _leaky_relu(strided, slope)  # not C-contiguous: the NumPy formula
        ref_strided = leaky_relu_numpy(strided, alpha)
    for ours, theirs in ((y, ref), (dx, dref), (y_strided, ref_strided)):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert np.array_equal(ours.view(f"u{ours.itemsize}"), theirs.view(f"u{ours.itemsize}"))


@cheap
@given(leaky_cases())
def test_relu_kernels_equal_numpy_bitwise(case):
    """ReLU's one-pass Numba forward and backward give np.maximum(x, 0)'s and dy * (x > 0)'s
    bits, NaN, ±0, inf and subnormals included, through the activation's own entry points
    (fast paths on and off)."""
    from scratch import activations, backend

    dtype, shape, specials, _, seed = case
    rng = np.random.default_rng(seed)
    relu = activations.get("relu")
    with np.errstate(all="ignore"):
        x = np.asarray(rng.standard_normal(shape) * 10, dtype=dtype)
        dy = np.asarray(rng.standard_normal(shape) * 10, dtype=dtype)
        x.reshape(-1)[:len(specials)] = np.asarray(specials[:x.size], dtype=dtype)
        dy.reshape(-1)[len(specials):2 * len(specials)] = np.asarray(
            specials[:max(0, dy.size - len(specials))], dtype=dtype)
        runs = []
        for fast in (True, False):
            with backend.fast_paths(fast):
                runs.append((relu.forward(x), relu.backward(dy, x, None)))
        refs = (np.maximum(x, 0), dy * (x > 0))
    for ours, slow, theirs in zip(*runs, refs, strict=True):
        for a in (ours, slow):
            assert a.dtype == theirs.dtype and a.shape == theirs.shape
            assert np.array_equal(a.view(f"u{a.itemsize}"), theirs.view(f"u{a.itemsize}"))


@cheap
@given(leaky_cases(), st.sampled_from([0.2, 0.5, 0.01, 0.9]), st.booleans())
def test_dropout_kernel_equals_np_where_bitwise(case, rate, layer_call):
    """Dropout's one-pass select (`_kernels.dropout.scaled_where`) gives np.where's bits,
    forward and backward, NaN, ±0, inf and subnormals included (a dropped element is +0
    whatever it was); a broadcast noise-shape mask keeps the readable formula."""
    from scratch.layers.dropout import Dropout, dropout_forward

    dtype, shape, specials, _, seed = case
    rng = np.random.default_rng(seed)
    shape = tuple(shape) or (1,)
    with np.errstate(all="ignore"):
        x = np.asarray(rng.standard_normal(shape) * 10, dtype=dtype)
        x.reshape(-1)[:len(specials)] = np.asarray(specials[:x.size], dtype=dtype)
        dy = x[::-1].copy() if x.ndim == 1 else np.ascontiguousarray(x.T).reshape(shape)
    outs = []
    for fast in (True, False):
        layer = Dropout(rate, seed=seed % 1000, dtype=dtype)
        layer.fast_path = fast
        with np.errstate(all="ignore"):
            y = layer.forward(x, training=True)
            dx = layer.backward(dy)
        outs.append((y, dx, layer._cache[1]))
    (y, dx, keep), (y_ref, dx_ref, keep_ref) = outs
    assert np.array_equal(keep, keep_ref)
    with np.errstate(all="ignore"):
        assert np.array_equal(y_ref.view(f"u{x.itemsize}"),
                              dropout_forward(x, rate, keep).view(f"u{x.itemsize}"))
    for ours, theirs in ((y, y_ref), (dx, dx_ref)):
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert np.array_equal(ours.view(f"u{ours.itemsize}"), theirs.view(f"u{ours.itemsize}"))
    if layer_call and x.ndim >= 2:  # a noise shape: the mask broadcasts, the formula runs
        layer = Dropout(rate, noise_shape=(None,) + (1,) * (x.ndim - 1), seed=3, dtype=dtype)
        with np.errstate(all="ignore"):
            assert layer.forward(x, training=True).shape == x.shape


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["relu", "relu6"])
def test_relu_gradient_is_tensorflows_product_with_the_mask(dtype, kind):
    """ReLU's and ReLU6's gradient is TensorFlow's ReluGrad / Relu6Grad, dy · [x > 0]
    (· [x < 6]): the select's numbers wherever dy is finite, and -0 where TF has -0."""
    from scratch.activations import ReLU

    rng = np.random.default_rng(5)
    x = (rng.standard_normal(4099) * 5).astype(dtype)
    x[:6] = [0.0, -0.0, 6.0, 5.999, 1e-42, -1e-42]
    dy = rng.standard_normal(4099).astype(dtype)
    act = ReLU(max_value=6.0) if kind == "relu6" else ReLU()
    passes = (x > 0) & (x < 6) if kind == "relu6" else x > 0
    dx = act.backward(dy, x, act.forward(x))
    assert dx.dtype == dy.dtype
    assert np.array_equal(dx, np.where(passes, dy, 0))
    assert np.array_equal(np.signbit(dx), np.signbit(dy * passes))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_kernels_equal_their_numpy_form(dtype, training):
    """BatchNormalization's Numba passes give the NumPy fast form's numbers (the sums run
    over the rows in the same order; dγ's einsum may differ in the last bits)."""
    from scratch.layers import normalization

    rng = np.random.default_rng(3)
    x = (rng.standard_normal((32, 48)) * 3 + 1).astype(dtype)
    dy = rng.standard_normal((32, 48)).astype(dtype)
    outs = []
    for kernels in (True, False):
        # without kernels: the global switch off, but this layer keeps its NumPy fast form
        with scratch.backend.fast_paths(kernels):
            layer = normalization.BatchNormalization(dtype=dtype)
            layer.fast_path = True
            layer.build(x.shape)
            layer.params["gamma"][...] = rng.uniform(0.5, 2, 48) if kernels else outs[0][4]
            layer.params["beta"][...] = rng.uniform(-1, 1, 48) if kernels else outs[0][5]
            y = layer.forward(x, training=training)
            dx = layer.backward(dy)
        outs.append((y, dx, layer.grads["gamma"], layer.grads["beta"],
                     layer.params["gamma"].copy(), layer.params["beta"].copy(),
                     layer.state["moving_mean"].copy(), layer.state["moving_variance"].copy()))
    (y, dx, dg, db, *_, mm, mv), (y_np, dx_np, dg_np, db_np, *_, mm_np, mv_np) = outs
    for ours, theirs in ((y, y_np), (db, db_np), (mm, mm_np), (mv, mv_np)):
        assert np.array_equal(ours, theirs)
    for ours, theirs in ((dx, dx_np), (dg, dg_np)):
        assert_close(ours, theirs, kind="fast_vs_readable", dtype=dtype)


def test_the_switch_is_a_setter_and_a_context_manager():
    assert scratch.backend.fast_paths_enabled()
    with scratch.backend.fast_paths(False):
        assert not scratch.backend.fast_paths_enabled()
        layer = scratch.layers.Conv2D(2, 3)
        assert not scratch.backend.use_fast_path(layer)
        layer.fast_path = True  # a layer's own choice wins
        assert scratch.backend.use_fast_path(layer)
    assert scratch.backend.fast_paths_enabled()
    scratch.backend.fast_paths(False)
    try:
        assert not scratch.backend.fast_paths_enabled()
    finally:
        scratch.backend.fast_paths(True)
    with pytest.raises(TypeError, match="Received: enabled='no'"):
        scratch.backend.fast_paths("no")


def test_fast_paths_off_runs_no_kernel(monkeypatch):
    """With the switch off, a model with every kind of layer trains without calling one
    Numba kernel: the readable code runs end to end. Every compiled function that any
    scratch module holds is replaced by one that fails the test."""
    import importlib
    import pkgutil
    import sys

    from numba.core.registry import CPUDispatcher

    from scratch import _kernels

    for info in pkgutil.iter_modules(_kernels.__path__):
        importlib.import_module(f"scratch._kernels.{info.name}")

    def refuse(name):
        def kernel(*args, **kwargs):
            raise AssertionError(f"Numba kernel {name} ran with the fast paths off")
        return kernel

    for module_name, module in list(sys.modules.items()):
        if module_name.startswith("scratch") and module is not None:
            for attr, value in list(vars(module).items()):
                if isinstance(value, CPUDispatcher):
                    monkeypatch.setattr(module, attr, refuse(f"{module_name}.{attr}"))
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 20, (24, 6))
    images = rng.standard_normal((24, 6, 6, 2)).astype("float32")
    y = rng.integers(0, 3, 24)
    with scratch.backend.fast_paths(False):
        scratch.utils.set_random_seed(0)
        L = scratch.layers
        text_in, image_in = scratch.Input((6,)), scratch.Input((6, 6, 2))
        t = L.Embedding(20, 4, mask_zero=True)(text_in)
        t = L.LSTM(5)(L.GRU(4, return_sequences=True)(t))
        i = L.Conv2D(3, 3, padding="same")(image_in)
        i = L.MaxPooling2D()(L.BatchNormalization()(i))
        i = L.GlobalAveragePooling2D()(L.LeakyReLU(0.1)(i))
        z = L.Dropout(0.2)(L.Concatenate()([t, i]))
        out = L.Dense(3, activation="softmax")(L.LayerNormalization()(z))
        model = scratch.Model([text_in, image_in], out)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit([ids, images], y, batch_size=8, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
