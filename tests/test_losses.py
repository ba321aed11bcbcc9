"""scratch.losses against tf.keras.losses: values, gradients, hidden logits, errors, config.

Parity tests draw a configuration (loss arguments, layout of y_true/y_pred, reduction, sample
weight, mask) and a seed; arrays come from np.random.default_rng(seed). The reference is the
tf.keras loss built with dtype=<the case's dtype> (a Keras loss otherwise casts to float32),
called eagerly under tf.GradientTape; the gradient is taken with respect to y_pred, or to the
logits on the hidden-logits path (y_pred = keras.activations.sigmoid/softmax(z)).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratch import losses
from scratch.testing import assert_close, gradcheck

from conftest import cheap

KERAS_CLASS = {
    "mse": "MeanSquaredError", "mae": "MeanAbsoluteError", "huber": "Huber",
    "bce": "BinaryCrossentropy", "cce": "CategoricalCrossentropy",
    "scce": "SparseCategoricalCrossentropy", "kld": "KLDivergence",
    "cosine": "CosineSimilarity",
}
OURS = {
    "mse": losses.MeanSquaredError, "mae": losses.MeanAbsoluteError, "huber": losses.Huber,
    "bce": losses.BinaryCrossentropy, "cce": losses.CategoricalCrossentropy,
    "scce": losses.SparseCategoricalCrossentropy, "kld": losses.KLDivergence,
    "cosine": losses.CosineSimilarity,
}
REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None]
DENSE_LAYOUTS = ["N", "N1", "N_N1", "N1_N", "Nk", "NTk", "NT_NT1"]
SPARSE_LAYOUTS = ["N", "N1", "NTk", "NT1"]


# ============================================================================ case drawing
def _shapes(kind: str, layout: str, n: int, k: int, t: int):
    """(y_true shape, y_pred shape, per-sample values shape) for a layout name."""
    if kind == "scce":
        return {
            "N": ((n,), (n, k), (n,)), "N1": ((n, 1), (n, k), (n,)),
            "NTk": ((n, t), (n, t, k), (n, t)), "NT1": ((n, t, 1), (n, t, k), (n, t)),
        }[layout]
    return {
        "N": ((n,), (n,), ()), "N1": ((n, 1), (n, 1), (n,)), "N_N1": ((n,), (n, 1), (n,)),
        "N1_N": ((n, 1), (n,), (n,)), "Nk": ((n, k), (n, k), (n,)),
        "NTk": ((n, t, k), (n, t, k), (n, t)), "NT_NT1": ((n, t), (n, t, 1), (n,)),
    }[layout]


@st.composite
def loss_cases(draw, kind: str, hidden: bool = False):
    """A loss configuration plus the data layout; arrays are built from `seed` later."""
    config: dict = {}
    if kind in ("bce", "cce", "scce"):
        config["from_logits"] = draw(st.booleans())
    if kind in ("bce", "cce"):
        config["label_smoothing"] = draw(st.sampled_from([0.0, 0.0, 0.1, 0.35]))
    if kind == "scce":
        config["ignore_class"] = draw(st.sampled_from([None, None, -1, 0]))
    if kind == "huber":
        config["delta"] = draw(st.sampled_from([1.0, 0.5, 2.0]))
    config["reduction"] = draw(st.sampled_from(REDUCTIONS))
    if kind == "scce":
        layouts = SPARSE_LAYOUTS
    elif hidden:
        # A rank-1 y_pred is never a layer output; CCE over a 1-wide softmax is meaningless.
        layouts = ["N1", "N_N1", "Nk", "NTk"] + (["NT_NT1", "N1_N"] if kind == "bce" else [])
    else:
        layouts = DENSE_LAYOUTS
    layout = draw(st.sampled_from(layouts))
    n = draw(st.integers(1, 4))
    # k >= 2 for CCE (Keras warns for one class) and for sequence SCCE: there a 1-class y_pred
    # (N,T,1) is squeezed by Keras' rank fix-up and T becomes the class axis (we reject that).
    two_plus = kind == "cce" or (kind == "scce" and layout in ("NTk", "NT1"))
    k = draw(st.integers(2, 4)) if two_plus else draw(st.integers(1, 4))
    t = draw(st.integers(1, 3))
    yt_shape, yp_shape, v_shape = _shapes(kind, layout, n, k, t)
    weight = draw(st.sampled_from([None, "batch", "col", "full", "zeros"]))
    use_mask = bool(v_shape) and draw(st.booleans())
    return dict(
        kind=kind, config=config, yt_shape=yt_shape, yp_shape=yp_shape, v_shape=v_shape,
        weight=weight, use_mask=use_mask, dtype=draw(st.sampled_from(["float64", "float32"])),
        seed=draw(st.integers(0, 2**31 - 1)),
        soft_labels=draw(st.booleans()), scale=draw(st.sampled_from([1.0, 3.0, 10.0])),
    )


def _one_hot(rng, shape):
    y = np.zeros(shape)
    if len(shape) == 0:
        return y
    idx = rng.integers(0, shape[-1], size=shape[:-1])
    np.put_along_axis(y, idx[..., None], 1.0, axis=-1)
    return y


def make_data(case, *, logits_scale=None):
    """(y_true, y_pred, sample_weight, mask) in the case's dtype (y_pred = logits if hidden)."""
    rng = np.random.default_rng(case["seed"])
    kind, cfg, dtype = case["kind"], case["config"], np.dtype(case["dtype"])
    yt_shape, yp_shape, v_shape = case["yt_shape"], case["yp_shape"], case["v_shape"]
    from_logits = cfg.get("from_logits", False) or logits_scale is not None
    scale = logits_scale if logits_scale is not None else case["scale"]
    if kind in ("mse", "mae", "huber", "cosine"):
        y_true = rng.standard_normal(yt_shape)
        y_pred = rng.standard_normal(yp_shape) * 1.5
    elif kind == "kld":  # distributions, with values the clips to [ε, 1] move
        y_true = rng.uniform(0, 1, yt_shape)
        y_true[rng.uniform(size=yt_shape) < 0.15] = 0.0
        y_pred = rng.uniform(0, 1, yp_shape)
        y_pred[rng.uniform(size=yp_shape) < 0.1] = 0.0  # clip active: gradient 0
        y_pred[rng.uniform(size=yp_shape) < 0.1] = 1.25
    elif kind == "bce":
        soft = case["soft_labels"]
        y_true = rng.uniform(0, 1, yt_shape) if soft else rng.integers(0, 2, yt_shape)
        if from_logits:
            y_pred = rng.standard_normal(yp_shape) * scale
        else:
            y_pred = rng.uniform(0, 1, yp_shape)
            y_pred[rng.uniform(size=yp_shape) < 0.1] = 0.0  # clip active: gradient 0
            y_pred[rng.uniform(size=yp_shape) < 0.1] = 1.0
    elif kind == "cce":
        if case["soft_labels"]:
            y_true = rng.uniform(0, 1, yt_shape)  # not normalised: TF's kernel convention
        else:
            y_true = _one_hot(rng, yt_shape)
        if from_logits:
            y_pred = rng.standard_normal(yp_shape) * scale
        else:
            y_pred = rng.uniform(0.01, 1, yp_shape)  # Keras renormalises
            zero = rng.uniform(size=yp_shape) < 0.15  # clip active after renormalising
            zero[..., 0] = False  # (never a whole row: 0/0)
            y_pred[zero] = 0.0
    else:  # scce
        k = yp_shape[-1]
        labels = rng.integers(0, k, yt_shape)
        ignore = cfg.get("ignore_class")
        if ignore is not None:
            labels[rng.uniform(size=yt_shape) < 0.3] = ignore
        y_true = labels.astype(np.float64) if case["soft_labels"] else labels
        if from_logits:
            y_pred = rng.standard_normal(yp_shape) * scale
        else:
            y_pred = rng.uniform(0, 1, yp_shape)
            y_pred[rng.uniform(size=yp_shape) < 0.15] = 0.0
            y_pred /= np.maximum(y_pred.sum(-1, keepdims=True), 1e-3)
    if y_true.dtype.kind == "f":
        y_true = y_true.astype(dtype)
    weight = case["weight"]
    batch = yp_shape[0]
    if weight is None:
        sample_weight = None
    elif weight == "batch":
        sample_weight = rng.uniform(0, 2, (batch,) if len(v_shape) <= 1 else (batch, 1))
    elif weight == "col":
        sample_weight = rng.uniform(0, 2, (batch, 1))
    elif weight == "full":
        sample_weight = rng.uniform(0, 2, v_shape)
    else:
        sample_weight = np.zeros((batch,) if len(v_shape) <= 1 else (batch, 1))
    if sample_weight is not None:
        sample_weight = sample_weight.astype(dtype)
    mask = rng.uniform(size=v_shape) < 0.7 if case["use_mask"] else None
    return y_true, y_pred.astype(dtype), sample_weight, mask


# ============================================================================ references
def keras_loss(tf_keras, kind, config, dtype):
    return getattr(tf_keras.losses, KERAS_CLASS[kind])(**config, dtype=dtype)


def tf_value_and_grad(tf, kloss, y_true, x, sample_weight=None, mask=None, activation=None):
    """Keras' loss and d/dx, x = y_pred, or x = logits with y_pred = activation(x)."""
    import keras

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y_pred = x if activation is None else getattr(keras.activations, activation)(x)
        if mask is not None:
            y_pred._keras_mask = tf.constant(mask)
        sw = None if sample_weight is None else tf.constant(sample_weight)
        value = kloss(tf.constant(y_true), y_pred, sample_weight=sw)
    grad = tape.gradient(value, x)
    grad = np.zeros(x.shape, x.dtype.as_numpy_dtype) if grad is None else grad.numpy()
    return value.numpy(), grad, y_pred.numpy()


# ============================================================================ parity
def _check_parity(case, tf, tf_keras):
    y_true, y_pred, sw, mask = make_data(case)
    dtype = case["dtype"]
    msg = f"case={case}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # CCE with one class, as Keras warns
        ref_value, ref_grad, _ = tf_value_and_grad(
            tf, keras_loss(tf_keras, case["kind"], case["config"], dtype), y_true, y_pred, sw, mask
        )
        ours = OURS[case["kind"]](**case["config"])
        value, grad = ours.value_and_grad(y_true, y_pred, sample_weight=sw, mask=mask)
        plain = ours(y_true, y_pred, sample_weight=sw, mask=mask)
    assert np.asarray(value).dtype == np.dtype(dtype), msg
    assert grad.shape == y_pred.shape and grad.dtype == np.dtype(dtype), msg
    assert_close(value, ref_value, kind="loss", dtype=dtype, msg=msg)
    assert_close(plain, ref_value, kind="loss", dtype=dtype, msg=msg)
    assert_close(grad, ref_grad, kind="input_grad", dtype=dtype, msg=msg)


@pytest.mark.parametrize("kind", ["mse", "mae", "huber", "kld", "cosine"])
@given(data=st.data())
@cheap
def test_regression_loss_parity(tf, tf_keras, kind, data):
    _check_parity(data.draw(loss_cases(kind)), tf, tf_keras)


@pytest.mark.parametrize("kind", ["bce", "cce", "scce"])
@given(data=st.data())
@cheap
def test_crossentropy_parity(tf, tf_keras, kind, data):
    _check_parity(data.draw(loss_cases(kind)), tf, tf_keras)


def test_rank_fixup_sample_weight_quirks(tf, tf_keras):
    """(N,) vs (N,) reduces to one scalar; Keras then multiplies it by every weight."""
    y_true = np.array([1.0, 2.0, 3.0])
    y_pred = np.array([1.5, 1.0, 3.2])
    sw = np.array([1.0, 2.0, 0.5])
    for reduction in REDUCTIONS:
        ref = tf_keras.losses.MeanSquaredError(reduction=reduction, dtype="float64")(
            y_true, y_pred, sample_weight=sw).numpy()
        ours = losses.MeanSquaredError(reduction=reduction)(y_true, y_pred, sample_weight=sw)
        assert_close(ours, ref, kind="loss", dtype="float64", msg=str(reduction))
    # (N, T) values with (N,) weights: Keras cannot broadcast, neither do we (ValueError).
    y = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match="sample_weight"):
        losses.MeanSquaredError()(y, y, sample_weight=np.ones(2))


def test_empty_batch_matches_keras(tf_keras):
    y = np.zeros((0, 3))
    ref = tf_keras.losses.MeanSquaredError(dtype="float64")(y, y).numpy()
    ours = losses.MeanSquaredError()(y, y)
    assert np.shape(ours) == np.shape(ref) == (0,)


# ============================================================================ hidden logits
@pytest.mark.parametrize("kind", ["bce", "cce", "scce"])
@given(data=st.data())
@cheap
def test_hidden_logits_parity(tf, tf_keras, kind, data):
    """y_pred = sigmoid/softmax(z) from Keras: the loss uses z, the gradient is dL/dz."""
    case = data.draw(loss_cases(kind, hidden=True))
    z_scale = data.draw(st.sampled_from([1.0, 10.0, 40.0]))
    y_true, z, sw, mask = make_data(case, logits_scale=z_scale)
    activation = "sigmoid" if kind == "bce" else "softmax"
    dtype = case["dtype"]
    kloss = keras_loss(tf_keras, kind, case["config"], dtype)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")  # Keras warns when from_logits=True is also given
        ref_value, ref_grad, y_pred = tf_value_and_grad(
            tf, kloss, y_true, z, sw, mask, activation=activation
        )
        ours = OURS[kind](**case["config"])
        value, grad = ours.value_and_grad(y_true, y_pred, sample_weight=sw, logits=z, mask=mask)
    msg = f"case={case}, z_scale={z_scale}"
    assert grad.shape == z.shape and grad.dtype == np.dtype(dtype), msg
    assert_close(value, ref_value, kind="loss", dtype=dtype, msg=msg)
    assert_close(grad, ref_grad, kind="input_grad", dtype=dtype, msg=msg)


def test_hidden_logits_model_example(tf, tf_keras):
    """Softmax model + SCCE on logits [[30,0,-30],[0,25,0]] -> 42.5
    (docs/KERAS_NUMERICS.md §Hidden logits)."""
    keras = tf_keras
    z = np.array([[30.0, 0.0, -30.0], [0.0, 25.0, 0.0]], dtype=np.float32)
    labels = np.array([2, 0])
    model = keras.Sequential([
        keras.Input((3,)),
        keras.layers.Dense(3, activation="softmax", use_bias=False, kernel_initializer="identity"),
    ])
    model.compile(loss="sparse_categorical_crossentropy")
    ref_eval = model.evaluate(z, labels, verbose=0)
    x = tf.constant(z)
    with tf.GradientTape() as tape:
        y_pred_tf = model(x)
        ref_loss = model.compute_loss(x=x, y=labels, y_pred=y_pred_tf)
    ref_dkernel = tape.gradient(ref_loss, model.trainable_variables[0]).numpy()
    y_pred = y_pred_tf.numpy()

    loss = losses.get("sparse_categorical_crossentropy")
    value, dz = loss.value_and_grad(labels, y_pred, logits=z)
    assert_close(value, np.float32(42.5), kind="loss", dtype="float32")
    assert_close(value, ref_eval, kind="loss", dtype="float32")
    assert_close(z.T @ dz, ref_dkernel, kind="weight_grad", dtype="float32")
    # (softmax(z) − onehot)/N exactly
    onehot = np.eye(3, dtype=np.float32)[labels]
    assert_close(dz, (y_pred - onehot) / 2, kind="input_grad", dtype="float32")
    # The same probabilities as a plain array: clip-then-log, 16.118 (Keras agrees).
    clipped = loss(labels, y_pred)
    assert_close(clipped, np.float32(16.118095), kind="loss", dtype="float32")
    ref_clipped = keras.losses.SparseCategoricalCrossentropy()(labels, y_pred).numpy()
    assert_close(clipped, ref_clipped, kind="loss", dtype="float32")


def test_hidden_logits_sigmoid_model(tf, tf_keras):
    """sigmoid Dense + BCE in Keras' evaluate: logits formula, not the clipped one."""
    keras = tf_keras
    z = np.array([[30.0], [-20.0], [0.5], [-3.0]], dtype=np.float32)
    y = np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32)
    model = keras.Sequential([
        keras.Input((1,)),
        keras.layers.Dense(1, activation="sigmoid", use_bias=False, kernel_initializer="ones"),
    ])
    model.compile(loss="binary_crossentropy")
    ref = model.evaluate(z, y, verbose=0)
    y_pred = model.predict(z, verbose=0)
    loss = losses.get("binary_crossentropy")
    value, _ = loss.value_and_grad(y, y_pred, logits=z)
    assert_close(value, ref, kind="loss", dtype="float32")
    assert abs(float(loss(y, y_pred)) - ref) > 1.0  # the clipped formula differs


def test_hidden_logits_with_from_logits_warns_once():
    z = np.array([[2.0, -1.0, 0.5]])
    p = np.exp(z) / np.exp(z).sum()
    loss = losses.CategoricalCrossentropy(from_logits=True)
    with pytest.warns(UserWarning, match="from_logits=True"):
        v1, _ = loss.value_and_grad(np.array([[0.0, 1.0, 0.0]]), p, logits=z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v2, _ = loss.value_and_grad(np.array([[0.0, 1.0, 0.0]]), p, logits=z)
    assert v1 == v2 == losses.CategoricalCrossentropy(from_logits=True)([[0.0, 1.0, 0.0]], z)


def test_logits_ignored_by_regression_losses():
    y, p = np.array([[1.0, 2.0]]), np.array([[0.5, 2.5]])
    v, g = losses.MeanSquaredError().value_and_grad(y, p, logits=np.full((1, 2), 99.0))
    assert v == losses.MeanSquaredError()(y, p)
    assert_close(g, -(y - p), kind="input_grad", dtype="float64")


# ============================================================================ extreme logits
@pytest.mark.parametrize("kind", ["bce", "cce", "scce"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_extreme_logits(tf, tf_keras, kind, dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [3.0, 1e4, -2.0]], dtype=dtype)
    if kind == "scce":
        y_true = np.array([1, 0, 2])
    else:
        y_true = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], dtype=dtype)
    activation = "sigmoid" if kind == "bce" else "softmax"
    for hidden in (False, True):
        config = {} if hidden else {"from_logits": True}
        kloss = keras_loss(tf_keras, kind, config, dtype)
        ref_value, ref_grad, y_pred = tf_value_and_grad(
            tf, kloss, y_true, z, activation=activation if hidden else None
        )
        ours = OURS[kind](**config)
        with warnings.catch_warnings(), np.errstate(over="raise", divide="raise",
                                                    invalid="raise"):
            warnings.simplefilter("error")
            if hidden:
                value, grad = ours.value_and_grad(y_true, y_pred, logits=z)
            else:
                value, grad = ours.value_and_grad(y_true, z)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
        assert_close(value, ref_value, kind="loss", dtype=dtype, msg=f"hidden={hidden}")
        assert_close(grad, ref_grad, kind="input_grad", dtype=dtype, msg=f"hidden={hidden}")


# ============================================================================ gradcheck
def _safe_data(kind, config, rng, shape):
    """float64 data away from clip boundaries and kinks (|e| not near 0 or δ)."""
    if kind == "kld":
        return rng.uniform(0.05, 1.0, shape), rng.uniform(0.05, 0.95, shape)
    if kind == "cosine":
        return rng.standard_normal(shape), rng.standard_normal(shape)
    if kind in ("mse", "mae", "huber"):
        delta = config.get("delta", 1.0)
        y_true = rng.standard_normal(shape)
        sign = rng.choice([-1.0, 1.0], shape)
        far = rng.uniform(size=shape) < 0.5
        magnitude = np.where(far, rng.uniform(delta + 0.1, delta + 1.0, shape),
                             rng.uniform(0.1, max(delta - 0.1, 0.15), shape))
        return y_true, y_true + sign * magnitude
    if kind == "bce":
        y_true = rng.uniform(0, 1, shape)
        y_pred = rng.standard_normal(shape) * 2 if config["from_logits"] else rng.uniform(
            0.05, 0.95, shape)
        return y_true, y_pred
    if kind == "cce":
        y_true = rng.dirichlet(np.ones(shape[-1]), shape[:-1])  # Σy = 1 (see module docstring)
        y_pred = rng.standard_normal(shape) * 2 if config["from_logits"] else rng.uniform(
            0.05, 1.0, shape)
        return y_true, y_pred
    labels = rng.integers(0, shape[-1], shape[:-1])
    y_pred = rng.standard_normal(shape) * 2 if config["from_logits"] else rng.uniform(
        0.05, 0.95, shape)
    return labels, y_pred


GRADCHECK_CONFIGS = [
    ("mse", {}), ("mae", {}), ("huber", {"delta": 1.0}), ("huber", {"delta": 0.5}),
    ("bce", {"from_logits": False}), ("bce", {"from_logits": True, "label_smoothing": 0.2}),
    ("cce", {"from_logits": False}), ("cce", {"from_logits": True, "label_smoothing": 0.1}),
    ("cce", {"from_logits": False, "label_smoothing": 0.3}),
    ("scce", {"from_logits": False}), ("scce", {"from_logits": True}),
    ("scce", {"from_logits": True, "ignore_class": 1}),
    ("kld", {}), ("cosine", {}), ("cosine", {"axis": 1}),
]


@pytest.mark.parametrize("kind,config", GRADCHECK_CONFIGS)
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean_with_sample_weight", "none"])
def test_gradcheck(kind, config, reduction):
    rng = np.random.default_rng(len(kind) * 7 + len(config))
    shape = (3, 2, 4)
    y_true, y_pred = _safe_data(kind, config, rng, shape)
    sw = rng.uniform(0.5, 2.0, (3, 1))
    loss = OURS[kind](**config, reduction=reduction)
    _, grad = loss.value_and_grad(y_true, y_pred, sample_weight=sw)

    def fn(inputs):
        return np.asarray(loss(y_true, inputs["y_pred"], sample_weight=sw))

    def vjp(v):
        # reduction "none": grad is d(Σ values)/dy_pred; each value depends on its own row,
        # so the VJP for cotangent v is recomputed with v as the weights.
        if reduction == "none":
            weighted = OURS[kind](**config, reduction="sum")
            _, g = weighted.value_and_grad(y_true, y_pred, sample_weight=sw * v)
            return {"y_pred": g}
        return {"y_pred": v * grad}

    gradcheck(fn, {"y_pred": y_pred}, vjp)


def test_kinks_and_clip_boundaries_follow_tf(tf, tf_keras):
    """MAE: 0 at e=0; Huber: quadratic branch at |e|=δ; clip bounds pass the gradient."""
    cases = [
        ("mae", {}, np.array([[0.0, 1.0]]), np.array([[0.0, 2.0]])),
        ("huber", {"delta": 1.0}, np.array([[0.0, 0.0, 0.0]]), np.array([[1.0, -1.0, 0.0]])),
        ("huber", {"delta": 0.5}, np.array([[0.0, 0.0]]), np.array([[0.5, -0.5]])),
        ("bce", {}, np.array([[1.0, 0.0, 1.0, 0.0]]),
         np.array([[1e-7, 1 - 1e-7, 0.0, 1.0]])),
    ]
    for dtype in ("float64", "float32"):
        for kind, config, y_true, y_pred in cases:
            y_true, y_pred = y_true.astype(dtype), y_pred.astype(dtype)
            ref_value, ref_grad, _ = tf_value_and_grad(
                tf, keras_loss(tf_keras, kind, config, dtype), y_true, y_pred
            )
            value, grad = OURS[kind](**config).value_and_grad(y_true, y_pred)
            assert_close(value, ref_value, kind="loss", dtype=dtype, msg=kind)
            assert_close(grad, ref_grad, kind="input_grad", dtype=dtype, msg=kind)
    _, g = losses.MeanAbsoluteError().value_and_grad(np.zeros((1, 2)), np.zeros((1, 2)))
    assert np.all(g == 0)


# ============================================================================ errors
@pytest.mark.parametrize("bad", [3, -1, 1.5, np.nan, 7.0])
def test_scce_rejects_bad_labels(bad):
    loss = losses.SparseCategoricalCrossentropy()
    y_pred = np.full((3, 3), 1 / 3)
    labels = np.array([0.0, bad, 1.0])
    with pytest.raises(ValueError, match="SparseCategoricalCrossentropy.*Received: label value"):
        loss(labels, y_pred)
    with pytest.raises(ValueError, match="label value"):
        loss.value_and_grad(labels, y_pred)
    with pytest.raises(ValueError, match="label value"):
        losses.sparse_categorical_crossentropy(labels, y_pred)


def test_scce_ignore_class_may_be_out_of_range():
    loss = losses.SparseCategoricalCrossentropy(ignore_class=255)
    y_pred = np.array([[0.2, 0.8], [0.6, 0.4]])
    value = loss(np.array([1, 255]), y_pred)
    assert_close(value, -np.log(0.8), kind="loss", dtype="float64")  # mean over valid only
    with pytest.raises(ValueError, match="label value 254"):
        loss(np.array([1, 254]), y_pred)


@pytest.mark.parametrize("kind,y_true_shape,y_pred_shape", [
    ("mse", (4, 3), (4, 2)), ("mae", (4,), (4, 3)), ("huber", (2, 3, 1), (2, 4)),
    ("bce", (4, 2), (4, 3)), ("cce", (4,), (4, 3)), ("scce", (4, 3), (4, 3)),
    ("scce", (5,), (4, 3)), ("scce", (4, 3), (4, 2, 3)), ("scce", (2, 3), (2, 3, 1)),
])
def test_shape_mismatch_errors(kind, y_true_shape, y_pred_shape):
    loss = OURS[kind]()
    with pytest.raises(ValueError, match=r"Received: y_true\.shape=.*y_pred\.shape="):
        loss.value_and_grad(np.zeros(y_true_shape), np.full(y_pred_shape, 0.5))


def test_argument_errors():
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")
    with pytest.raises(ValueError, match="axis"):
        losses.CategoricalCrossentropy(axis=1)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match="ignore_class"):
        losses.SparseCategoricalCrossentropy(ignore_class=0.5)
    with pytest.raises(ValueError, match="logits.shape"):
        losses.BinaryCrossentropy().value_and_grad(np.ones((2, 1)), np.full((2, 1), 0.5),
                                                   logits=np.zeros((2, 2)))
    with pytest.raises(TypeError, match="logits.dtype"):
        losses.BinaryCrossentropy().value_and_grad(
            np.ones((2, 1)), np.full((2, 1), 0.5), logits=np.zeros((2, 1), np.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        losses.MeanSquaredError()(np.ones((2, 1)), np.ones((2, 1), np.float16))


def test_dtype_is_preserved():
    for dtype in (np.float32, np.float64):
        y = np.ones((3, 2), dtype)
        value, grad = losses.MeanSquaredError().value_and_grad(y, y * 0.5)
        assert np.asarray(value).dtype == dtype and grad.dtype == dtype
    value = losses.MeanSquaredError()(np.ones((3, 2)), np.ones((3, 2), np.int64))
    assert np.asarray(value).dtype == np.float32  # integer data -> floatx()


# ============================================================================ get / config
def test_get_strings_and_objects():
    for name in ("mse", "mean_squared_error", "mae", "mean_absolute_error", "huber",
                 "binary_crossentropy", "categorical_crossentropy",
                 "sparse_categorical_crossentropy", "kl_divergence", "kld", "KLD",
                 "cosine_similarity"):
        loss = losses.get(name)
        assert loss.name == name and loss.reduction == "sum_over_batch_size"
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("Huber"), losses.Huber)
    assert losses.get("CategoricalCrossentropy").name == "categorical_crossentropy"
    inst = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(inst) is inst
    cfg = {"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}}
    assert losses.get(cfg).from_logits is True
    with pytest.raises(ValueError, match=r"'hinge'.*Known names:.*mse"):
        losses.get("hinge")
    with pytest.raises(ValueError, match="Known names"):
        losses.get(42)


@pytest.mark.parametrize("y_true_shape,y_pred_shape,expected", [
    ((8,), (8, 1), "BinaryCrossentropy"), ((8, 1), (8, 1), "BinaryCrossentropy"),
    ((8,), (8, 5), "SparseCategoricalCrossentropy"),
    ((8, 1), (8, 5), "SparseCategoricalCrossentropy"),
    ((8, 5), (8, 5), "CategoricalCrossentropy"),
    ((8, 4), (8, 4, 6), "SparseCategoricalCrossentropy"),
    ((8, 4, 1), (8, 4, 1), "BinaryCrossentropy"),
])
def test_crossentropy_string_resolution(tf_keras, y_true_shape, y_pred_shape, expected):
    from keras.src.trainers import compile_utils

    ref = compile_utils.get_loss("ce", np.zeros(y_true_shape), np.zeros(y_pred_shape))
    keras_fn = {"binary_crossentropy": "BinaryCrossentropy",
                "categorical_crossentropy": "CategoricalCrossentropy",
                "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy"}
    assert keras_fn[ref.fn.__name__] == expected
    auto = losses.get("ce")
    assert type(auto.resolve(y_true_shape, y_pred_shape)).__name__ == expected
    assert auto.resolved.name == "ce"


def test_crossentropy_string_lazy(tf_keras):
    rng = np.random.default_rng(3)
    p = rng.uniform(0.1, 1, (4, 3))
    p /= p.sum(-1, keepdims=True)
    labels = np.array([0, 2, 1, 1])
    auto = losses.get("crossentropy")
    value, grad = auto.value_and_grad(labels, p)
    ref = tf_keras.losses.SparseCategoricalCrossentropy(dtype="float64")(labels, p).numpy()
    assert_close(value, ref, kind="loss", dtype="float64")
    assert isinstance(auto.resolved, losses.SparseCategoricalCrossentropy)


@pytest.mark.parametrize("kind", list(KERAS_CLASS))
def test_config_matches_keras(tf_keras, kind):
    args = {"mse": {}, "mae": {}, "huber": {"delta": 0.7},
            "bce": {"from_logits": True, "label_smoothing": 0.2},
            "cce": {"label_smoothing": 0.1}, "scce": {"from_logits": True, "ignore_class": 3},
            "kld": {}, "cosine": {"axis": 0}}
    ours = OURS[kind](**args[kind], reduction="sum", name="x")
    ref = getattr(tf_keras.losses, KERAS_CLASS[kind])(**args[kind], reduction="sum", name="x")
    ref_config = {k: v for k, v in ref.get_config().items() if k != "dtype"}
    config = ours.get_config()
    if kind == "huber":  # Keras drops delta from the config; we keep it
        assert config.pop("delta") == 0.7
    if kind == "cosine":  # and CosineSimilarity's axis
        assert config.pop("axis") == 0
    assert config == ref_config
    clone = type(ours).from_config(ours.get_config())
    assert clone.get_config() == ours.get_config()
    assert losses.get(losses.serialize(ours)).get_config() == ours.get_config()


# ============================================================================ class_weight
@pytest.mark.parametrize("labels", [
    np.array([0, 1, 2, 2, 1]),
    np.array([[0.0], [1.0], [0.5], [1.5], [2.4]]),
    np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [0.2, 0.7, 0.1]]),
    np.array([0.49, 0.51, 2.5, 3.0]),
])
def test_class_weight_matches_keras(tf_keras, labels):
    from keras.src.trainers.data_adapters import data_adapter_utils

    class_weight = {0: 0.5, 1: 2.0, 2: 3.0}
    ref = data_adapter_utils.class_weight_to_sample_weights(labels, class_weight)
    ours = losses.class_weight_to_sample_weight(labels, class_weight, (len(labels), 3))
    assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(ours, ref)


def test_class_weight_in_loss_divides_by_n():
    labels = np.array([0, 1, 1])
    p = np.array([[0.7, 0.3], [0.4, 0.6], [0.1, 0.9]])
    w = losses.class_weight_to_sample_weight(labels, {0: 4.0}, p.shape, dtype="float64")
    value = losses.get("sparse_categorical_crossentropy")(labels, p, sample_weight=w)
    expected = (4 * -np.log(0.7) - np.log(0.6) - np.log(0.9)) / 3
    assert_close(value, expected, kind="loss", dtype="float64")
    with pytest.raises(ValueError, match="class_weight"):
        losses.class_weight_to_sample_weight(np.zeros((2, 3, 4)), {0: 1.0})


# ============================================================================ KLD, cosine
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cosine_similarity_axis_and_zero_vectors_follow_keras(tf, tf_keras, dtype):
    """Another axis; a zero vector (Keras' normalize keeps it 0: its scale is capped at
    1/ε, and so is the gradient's); the functions' per-sample values."""
    rng = np.random.default_rng(4)
    y_true = rng.standard_normal((3, 4, 2)).astype(dtype)
    y_pred = rng.standard_normal((3, 4, 2)).astype(dtype)
    y_pred[1, :, 0] = 0.0
    y_true[2, :, 1] = 0.0
    for axis in (1, -1):
        kloss = tf_keras.losses.CosineSimilarity(axis=axis, dtype=dtype)
        ref_value, ref_grad, _ = tf_value_and_grad(tf, kloss, y_true, y_pred)
        value, grad = losses.CosineSimilarity(axis=axis).value_and_grad(y_true, y_pred)
        assert_close(value, ref_value, kind="loss", dtype=dtype, msg=f"axis={axis}")
        assert_close(grad, ref_grad, kind="input_grad", dtype=dtype, msg=f"axis={axis}")
        assert_close(losses.cosine_similarity(y_true, y_pred, axis=axis),
                     tf_keras.losses.cosine_similarity(y_true, y_pred, axis=axis).numpy(),
                     kind="loss", dtype=dtype)
    assert_close(losses.kl_divergence(np.abs(y_true), np.abs(y_pred)),
                 tf_keras.losses.kld(np.abs(y_true), np.abs(y_pred)).numpy(),
                 kind="loss", dtype=dtype)
    with pytest.raises(ValueError, match="axis 3 is out of bounds"):
        losses.CosineSimilarity(axis=3)(y_true, y_pred)


def test_losses_compile_and_train_like_keras(tf_keras):
    """compile(loss="kld" / "cosine_similarity"): the training loop's gradient."""
    import keras_ref
    import scratch

    rng = np.random.default_rng(6)
    x = rng.standard_normal((16, 4)).astype("float32")
    y = rng.dirichlet(np.ones(3), 16).astype("float32")
    for name in ("kld", "cosine_similarity"):
        model = scratch.Sequential([scratch.Input((4,)),
                                    scratch.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss=name)
        kmodel = keras_ref.to_keras(model)
        kmodel.compile(optimizer="sgd", loss=name, run_eagerly=True)
        for _ in range(3):
            assert_close(model.train_on_batch(x, y), float(kmodel.train_on_batch(x, y)),
                         kind="loss", dtype="float32", msg=name)
        for a, b in zip(model.get_weights(), kmodel.get_weights()):
            assert_close(a, b, kind="weights_after_steps", dtype="float32", msg=name)
