"""scratch.activations: parity with tf.keras.activations, gradchecks, kinks, extremes, registry.

Parity runs every activation and parameter variant in float64 and float32, on seeded normal
data and on hypothesis' elementwise-adversarial arrays, against `tf.keras.activations` under
`tf.GradientTape` with a seeded random cotangent. TF's gradients at the kinks and its
denormal flush are pinned with hard-coded values measured from TF 2.21 (and re-measured live).
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

import scratch
from scratch import activations, backend
from scratch.activations import (
    BRU,
    ELU,
    GELU,
    Activation,
    LeakyReLU,
    Linear,
    ReLU,
    SiLU,
    Softmax,
    get,
    serialize,
)
from scratch.testing import assert_close, gradcheck
from tests.conftest import cheap
from tests.parity import keras_vjp

DTYPES = ["float64", "float32"]

# Every Keras activation and parameter variant: (Keras function name, keyword arguments).
# Keras' relu has five code paths (leaky op; threshold; relu6 op when max_value == 6 and
# threshold == 0; relu + clip; the negative part with or without a threshold): these ten
# variants take every path and every kink (θ < 0 makes the clip's lower bound reachable).
_RELU_VARIANTS = [
    {}, {"negative_slope": 0.1}, {"max_value": 6.0}, {"max_value": 2.5}, {"threshold": 0.5},
    {"threshold": -0.5, "max_value": 2.5}, {"max_value": 6.0, "threshold": 0.5},
    {"negative_slope": 0.1, "max_value": 6.0}, {"negative_slope": 0.1, "threshold": -0.5},
    {"negative_slope": 0.1, "max_value": 2.5, "threshold": 0.5},
]
SPECS = [
    ("linear", {}), ("sigmoid", {}), ("tanh", {}),
    *[("relu", cfg) for cfg in _RELU_VARIANTS],
    ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.3}),
    ("leaky_relu", {"negative_slope": 1.5}),
    ("elu", {}), ("elu", {"alpha": 0.5}), ("elu", {"alpha": 2.0}),
    ("selu", {}), ("softplus", {}), ("softsign", {}),
    ("softmax", {}), ("softmax", {"axis": 0}), ("softmax", {"axis": 1}),
    ("softmax", {"axis": None}), ("softmax", {"axis": (1, 2)}),
    ("gelu", {}), ("gelu", {"approximate": True}),
    ("silu", {}), ("swish", {}), ("hard_sigmoid", {}), ("exponential", {}), ("relu6", {}),
]
SPEC_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in c.items())}" if c else n for n, c in SPECS]

# Inputs of the gradcheck are moved this far away from every kink of every variant above.
_KINKS = np.array([0.0, 0.5, -0.5, 2.5, 6.0, -3.0, 3.0])


def _ours(name, config) -> Activation:
    act = get({"class_name": name, "config": config})
    assert act == getattr(activations, type(act).__name__)(**config)
    return act


def _run_ours(act, x, v):
    """Forward and backward, with every floating-point warning turned into an error."""
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = act(x)
        dx = act.backward(v, x, y)
    assert y.dtype == x.dtype and dx.dtype == x.dtype, (y.dtype, dx.dtype)
    assert y.shape == x.shape and dx.shape == x.shape
    return y, dx


def _run_keras(tf_keras, tf, name, config, x, v):
    """Keras' output and dL/dx for the cotangent v (tests/parity.py's GradientTape)."""
    fn = getattr(tf_keras.activations, name)
    with warnings.catch_warnings():  # Keras warns about softmax over an axis of size 1
        warnings.simplefilter("ignore", UserWarning)
        run = keras_vjp(tf, lambda xt: fn(xt, **config), x, [v])
    return run.outputs[0], run.dx[0]


def _check_parity(tf_keras, tf, name, cases, seed):
    """Compare every variant of Keras function `name` with Keras on each (label, x) case.

    Forward output and input gradient, in float64 and float32. For elementwise activations
    the cases go to Keras as one flat tensor (one TF call: the expensive part); each case is
    still compared at its own scale.
    """
    for config in VARIANTS[name]:
        act = _ours(name, config)
        for dtype in DTYPES:
            xs = [x.astype(dtype) for _, x in cases]
            rng = np.random.default_rng(seed)
            vs = [rng.standard_normal(x.shape).astype(dtype) for x in xs]
            if name != "softmax":
                flat = _run_keras(tf_keras, tf, name, config,
                                  np.concatenate([x.ravel() for x in xs]),
                                  np.concatenate([v.ravel() for v in vs]))
                splits = np.cumsum([x.size for x in xs])[:-1]
                refs = [(y.reshape(x.shape), g.reshape(x.shape)) for x, y, g in
                        zip(xs, *(np.split(r, splits) for r in flat))]
            else:
                refs = [_run_keras(tf_keras, tf, name, config, x, v) for x, v in zip(xs, vs)]
            for (label, _), x, v, (y_ref, dx_ref) in zip(cases, xs, vs, refs):
                y, dx = _run_ours(act, x, v)
                msg = f"{name}{config} {dtype} {label} shape={x.shape} seed={seed}"
                assert_close(y, y_ref, kind="forward", dtype=dtype, msg=msg)
                assert_close(dx, dx_ref, kind="input_grad", dtype=dtype, msg=msg)


# ---------------------------------------------------------------------------- parity vs Keras
# Each example checks every variant of one Keras function, in float64 and float32, on two
# inputs: seeded normal data (scale · N(0, 1)) and elementwise-adversarial data from
# hypothesis' `arrays` (exact zeros, kinks, repeated values, magnitudes up to ±100 that
# saturate sigmoid/tanh/softplus and overflow exp). Softmax gets rank-3 inputs, so that
# every axis variant applies.
VARIANTS: dict[str, list[dict]] = {}
for _name, _config in SPECS:
    VARIANTS.setdefault(_name, []).append(_config)

_ADVERSARIAL_ELEMENTS = st.floats(-100.0, 100.0, width=32, allow_subnormal=False)


@pytest.mark.parity
@pytest.mark.parametrize("name", [n for n in VARIANTS if n != "softmax"])
@cheap
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([1.0, 4.0]),
       shape=array_shapes(min_dims=1, max_dims=3, max_side=5),
       adversarial=arrays(np.float32, array_shapes(min_dims=1, max_dims=2, max_side=5),
                          elements=_ADVERSARIAL_ELEMENTS))
def test_parity_with_keras(tf_keras, tf, name, seed, scale, shape, adversarial):
    normal = scale * np.random.default_rng(seed).standard_normal(shape)
    _check_parity(tf_keras, tf, name,
                  [("seeded normal", normal), ("adversarial", adversarial)], seed)


@pytest.mark.parity
@cheap
@given(seed=st.integers(0, 2**32 - 1), scale=st.sampled_from([1.0, 4.0]),
       shape=array_shapes(min_dims=3, max_dims=3, max_side=4),
       adversarial=arrays(np.float32, array_shapes(min_dims=3, max_dims=3, max_side=4),
                          elements=_ADVERSARIAL_ELEMENTS))
def test_softmax_parity_with_keras(tf_keras, tf, seed, scale, shape, adversarial):
    normal = scale * np.random.default_rng(seed).standard_normal(shape)
    _check_parity(tf_keras, tf, "softmax",
                  [("seeded normal", normal), ("adversarial", adversarial)], seed)


@pytest.mark.unit
@pytest.mark.parametrize(("name", "config"), SPECS, ids=SPEC_IDS)
def test_functional_api_matches_the_classes(name, config):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    for dtype in DTYPES:
        np.testing.assert_array_equal(getattr(activations, name)(x.astype(dtype), **config),
                                      _ours(name, config)(x.astype(dtype)))


# ---------------------------------------------------------------------------- finite differences
@pytest.mark.unit
@pytest.mark.parametrize(("name", "config"),
                         SPECS + [("bru", {}), ("bru", {"r": 0.5}), ("bru", {"r": 1.0}),
                                  ("bru", {"r": 3.0})],
                         ids=SPEC_IDS + ["bru", "bru-r=0.5", "bru-r=1", "bru-r=3"])
@cheap
@given(seed=st.integers(0, 2**32 - 1), shape=array_shapes(min_dims=3, max_dims=3, max_side=4))
def test_gradcheck_away_from_kinks(name, config, seed, shape):
    act = _ours(name, config)
    x = 2.0 * np.random.default_rng(seed).standard_normal(shape)
    near = np.abs(x[..., None] - _KINKS).min(axis=-1) < 1e-3
    x = np.where(near, x + 0.01, x)
    gradcheck(lambda p: act(p["x"]), {"x": x},
              lambda v: {"x": act.backward(v, x, act(x))}, seed=seed)


# ---------------------------------------------------------------------------- kinks
_F32_01, _F32_02 = float(np.float32(0.1)), float(np.float32(0.2))
# (name, config, x, dL/dx for dL/dy = 1), measured with tf.GradientTape (TF 2.21, both dtypes).
KINKS = [
    ("relu", {}, [0.0], [0.0]),
    ("relu", {"threshold": 0.5}, [0.5], [0.0]),
    ("relu", {"max_value": 2.0}, [2.0, 0.0], [1.0, 0.0]),
    ("relu", {"max_value": 6.0}, [6.0, 0.0], [0.0, 0.0]),  # Keras calls TF's relu6 op
    ("relu", {"max_value": 0.0}, [0.0], [0.0]),
    ("relu", {"threshold": -0.5, "max_value": 2.0}, [-0.5, 0.0, 2.0], [0.0, 1.0, 1.0]),
    ("relu", {"negative_slope": 0.1}, [0.0], [_F32_01]),  # leaky op: float32 slope
    ("relu", {"negative_slope": 0.1, "threshold": 0.5}, [0.5, 0.0], [0.0, 0.1]),
    ("relu", {"negative_slope": 0.1, "max_value": 2.0}, [0.0, 2.0], [0.0, 1.0]),
    ("relu", {"negative_slope": 0.1, "max_value": 6.0}, [0.0, 6.0], [0.0, 0.0]),
    ("relu6", {}, [0.0, 6.0], [0.0, 0.0]),
    ("leaky_relu", {}, [0.0], [_F32_02]),
    ("elu", {}, [0.0], [1.0]),
    ("elu", {"alpha": 2.0}, [0.0], [2.0]),
    ("selu", {}, [0.0], [1.0507009873554805]),
    ("hard_sigmoid", {}, [-3.0, 3.0], [0.0, 0.0]),
    ("softsign", {}, [0.0], [1.0]),
]


@pytest.mark.unit
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "config", "x", "expected"), KINKS,
                         ids=[f"{n}{c}" for n, c, _, _ in KINKS])
def test_kink_gradients_pinned(name, config, x, expected, dtype):
    x = np.array(x, dtype=dtype)
    act = _ours(name, config)
    dx = act.backward(np.ones_like(x), x, act(x))
    np.testing.assert_array_equal(dx, np.array(expected, dtype=dtype))


@pytest.mark.parity
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "config", "x", "expected"), KINKS,
                         ids=[f"{n}{c}" for n, c, _, _ in KINKS])
def test_kink_gradients_match_tf(tf_keras, tf, name, config, x, expected, dtype):
    x = np.array(x, dtype=dtype)
    ones = np.ones_like(x)
    _, dx_ref = _run_keras(tf_keras, tf, name, config, x, ones)
    np.testing.assert_array_equal(dx_ref, np.array(expected, dtype=dtype))  # TF still agrees
    _, dx = _run_ours(_ours(name, config), x, ones)
    np.testing.assert_array_equal(dx, dx_ref)


@pytest.mark.unit
def test_leaky_slope_is_float32_in_float64_only_on_tfs_leaky_path():
    x = np.array([-1.0])
    assert ReLU(0.1)(x)[0] == -_F32_01  # TF's LeakyRelu op: a float32 attribute
    assert activations.leaky_relu(x, 0.1)[0] == -_F32_01
    # With a threshold Keras computes 0.1 * relu(θ - x) in float64: no rounding of 0.1
    assert activations.relu(x, negative_slope=0.1, threshold=0.5)[0] == -(0.1 * 1.5)


# ---------------------------------------------------------------------------- extremes
_EXTREME = [-1000.0, -745.0, -720.0, -100.0, -88.0, -87.34, -87.336, -20.0, -14.0, 0.0,
            14.0, 16.6, 16.64, 20.0, 37.0, 88.0, 100.0, 1000.0]


@pytest.mark.parity
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "config"), SPECS, ids=SPEC_IDS)
def test_extreme_values_match_tf(tf_keras, tf, name, config, dtype):
    """±100, ±1000 and the flush/saturation edges: finite where TF is, and equal elementwise."""
    x = np.array(_EXTREME, dtype=dtype).reshape(1, 1, -1)
    v = np.random.default_rng(7).standard_normal(x.shape).astype(dtype)
    y, dx = _run_ours(_ours(name, config), x, v)  # raises on overflow / invalid warnings
    y_ref, dx_ref = _run_keras(tf_keras, tf, name, config, x, v)
    for ours, ref, kind in [(y, y_ref, "forward"), (dx, dx_ref, "input_grad")]:
        np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(ref), err_msg=kind)
        if name != "exponential":
            assert np.isfinite(ours).all(), kind
        if name == "softmax":  # softmax mixes the elements: compare as a whole
            assert_close(ours, ref, kind=kind, dtype=dtype, msg=f"{name}{config}")
            continue
        for i in range(ours.size):  # each element at its own scale
            assert_close(ours.ravel()[i:i + 1], ref.ravel()[i:i + 1], kind=kind, dtype=dtype,
                         msg=f"{name}{config} x={x.ravel()[i]}")


@pytest.mark.unit
def test_sigmoid_flushes_like_tf():
    sig = activations.Sigmoid()
    x32 = np.array([-1000, -100, -88, -87.34, -87.336, 16.6, 16.64, 20, 1000], np.float32)
    y32 = sig(x32)
    assert (y32[:4] == 0).all() and y32[4] >= np.finfo(np.float32).tiny
    assert y32[5] < 1 and (y32[6:] == 1).all()
    dx = sig.backward(np.ones_like(x32), x32, y32)
    assert (dx[:4] == 0).all() and (dx[6:] == 0).all() and (dx[[4, 5]] > 0).all()
    x64 = np.array([-1000, -745, -720, -708, 36, 37], np.float64)
    y64 = sig(x64)
    assert (y64[:3] == 0).all() and y64[3] >= np.finfo(np.float64).tiny
    assert y64[4] < 1 and y64[5] == 1
    # exponential and softplus flush their tails too (TF: exactly 0, NumPy: subnormal)
    for fn in (activations.exponential, activations.softplus):
        assert fn(np.float32([-88.0, -100.0])).tolist() == [0.0, 0.0]
        assert fn(np.float64([-720.0])).tolist() == [0.0]


# ---------------------------------------------------------------------------- BRU
def _bru_oracle(z: float, r: float) -> float:
    return (r * r * z + 1) ** (1 / r) - 1 / r if z >= 0 else math.exp(r * z) - 1 / r


@pytest.mark.unit
@pytest.mark.parametrize("r", [0.5, 1.0, 2.0, 3.0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bru_matches_the_course_formula(r, dtype):
    x = np.random.default_rng(0).standard_normal(50).astype(dtype) * 3
    ref = np.array([_bru_oracle(float(z), r) for z in x])
    assert_close(activations.bru(x, r=r), ref.astype(dtype), kind="forward", dtype=dtype)


@pytest.mark.unit
@pytest.mark.parametrize("r", [0.5, 2.0, 3.0])
def test_bru_at_zero_is_continuous_and_once_differentiable(r):
    act = BRU(r)
    x = np.array([-1e-12, 0.0, 1e-12])
    y = act(x)
    assert y[1] == 1 - 1 / r  # both branches meet at 1 - 1/r (not 0)
    assert np.allclose(y, 1 - 1 / r, rtol=0, atol=1e-11)
    np.testing.assert_allclose(act.backward(np.ones(3), x, y), r, rtol=1e-10)
    assert act(np.array([-1e4]))[0] == -1 / r  # left asymptote -1/r


@pytest.mark.unit
def test_bru_r1_is_elu_and_r2_is_a_square_root():
    x = np.random.default_rng(1).standard_normal(40)
    assert_close(BRU(1.0)(x), ELU()(x), kind="forward", dtype="float64")
    assert_close(BRU(1.0).backward(x, x, BRU(1.0)(x)), ELU().backward(x, x, ELU()(x)),
                 kind="input_grad", dtype="float64")
    xp = np.abs(x)
    assert_close(BRU()(xp), np.sqrt(4 * xp + 1) - 0.5, kind="forward", dtype="float64")


@pytest.mark.unit
@pytest.mark.parametrize("r", [0, -1.0, float("inf"), float("nan")])
def test_bru_rejects_bad_r(r):
    with pytest.raises(ValueError, match="BRU expected a positive, finite `r`. Received: r="):
        BRU(r)


# ---------------------------------------------------------------------------- registry
NAMES = {
    "linear": "linear", "sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu",
    "leaky_relu": "leaky_relu", "elu": "elu", "selu": "selu", "softplus": "softplus",
    "softsign": "softsign", "softmax": "softmax", "gelu": "gelu", "silu": "silu",
    "swish": "silu", "hard_sigmoid": "hard_sigmoid", "exponential": "exponential",
    "relu6": "relu6", "bru": "bru",
}


@pytest.mark.unit
@pytest.mark.parametrize("identifier", sorted(NAMES))
def test_get_and_serialize_round_trip(identifier):
    act = get(identifier)
    assert isinstance(act, Activation) and act.name == NAMES[identifier]
    assert serialize(act) == NAMES[identifier]
    assert get(serialize(act)) == act
    fn = getattr(activations, identifier)
    assert get(fn) == act  # the functional API maps back to its activation
    assert get(type(act)) == act
    assert get({"class_name": act.name, "config": act.get_config()}) == act
    assert type(act).from_config(act.get_config()) == act
    assert act.exposes_logits == (act.name in ("sigmoid", "softmax"))


@pytest.mark.unit
def test_get_other_identifiers():
    assert get(None) == Linear()
    relu = ReLU(max_value=2.0)
    assert get(relu) is relu
    assert get(activations.swish) == SiLU() and activations.swish is activations.silu
    assert get({"name": "elu", "config": {"alpha": 0.5}}) == ELU(0.5)
    assert get({"class_name": "LeakyReLU", "config": {"negative_slope": 0.3}}) == LeakyReLU(0.3)
    keras_style = {"module": "keras.activations", "class_name": "function", "config": "relu",
                   "registered_name": "relu"}
    assert get(keras_style) == ReLU()
    assert get({"class_name": "softmax"}) == Softmax(-1)


@pytest.mark.unit
@pytest.mark.parametrize("act", [ReLU(0.1, 2.0, 0.5), ELU(0.5), Softmax(axis=(1, 2)),
                                 Softmax(axis=None), GELU(True), LeakyReLU(0.3), BRU(3.0)])
def test_serialize_parametrised_is_lossless(act):
    config = serialize(act)
    assert config == {"class_name": act.name, "config": act.get_config()}
    assert get(config) == act and get(config) is not act


@pytest.mark.unit
def test_equality_hash_repr():
    assert ReLU(max_value=2) == ReLU(max_value=2.0) and hash(ReLU(0.1)) == hash(ReLU(0.1))
    assert ReLU() != ReLU(max_value=6.0) and ReLU(max_value=6.0) != activations.ReLU6()
    assert Linear() != activations.Sigmoid() and ReLU() != "relu"
    assert repr(ReLU(0.1)) == "ReLU(negative_slope=0.1, max_value=None, threshold=0.0)"
    assert repr(Softmax()) == "Softmax(axis=-1)"


@pytest.mark.unit
def test_unknown_identifiers():
    with pytest.raises(ValueError, match=r"Could not interpret activation identifier: 'foo'\. "
                                         r"Known: bru, elu, exponential, gelu, .*swish, tanh"):
        get("foo")
    with pytest.raises(ValueError, match="Could not interpret activation identifier: 3"):
        get(3)
    with pytest.raises(ValueError, match="Could not interpret activation identifier"):
        get({"class_name": "foo", "config": {}})
    with pytest.raises(ValueError, match="Activation dict expected"):
        get({"class_name": "relu", "config": "oops"})


@pytest.mark.unit
@pytest.mark.parametrize("fn", [lambda x: x, np.tanh, math.exp])
def test_callables_without_backward_are_rejected(fn):
    with pytest.raises(TypeError, match=r"backward\(dy, x, y\) needs an Activation \(subclass\)"):
        get(fn)


@pytest.mark.unit
def test_user_subclass_is_accepted_and_base_backward_explains():
    class Square(Activation):
        name = "square"

        def forward(self, x):
            return x * x

        def backward(self, dy, x, y):
            return 2 * x * dy

    sq = Square()
    assert get(sq) is sq and serialize(sq) == {"class_name": "square", "config": {}}
    x = np.array([1.5, -2.0])
    assert sq.backward(np.ones(2), x, sq(x)).tolist() == [3.0, -4.0]

    class NoGrad(Activation):
        name = "nograd"

        def forward(self, x):
            return x

    with pytest.raises(NotImplementedError, match="has no backward"):
        NoGrad().backward(x, x, x)


@pytest.mark.unit
def test_parameter_errors():
    with pytest.raises(ValueError, match=r"Softmax expected `axis` to be an int.*axis=1.5"):
        Softmax(axis=1.5)
    with pytest.raises(ValueError, match=r"Softmax expected axis in \[-2, 2\).*Received: axis=2"):
        Softmax(axis=2)(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="ELU expected a number for `alpha`. Received: alpha='a'"):
        ELU("a")
    with pytest.raises(TypeError, match="ReLU expected a number for `max_value`"):
        ReLU(max_value="6")
    with pytest.raises(TypeError, match="GELU expected a bool for `approximate`"):
        GELU(approximate="yes")


@pytest.mark.unit
def test_inputs_keep_their_float_dtype_and_others_become_floatx():
    for dtype in DTYPES:
        assert activations.sigmoid(np.zeros(3, dtype)).dtype == dtype
    assert activations.relu([1.0, -2.0]).dtype == backend.floatx()
    assert activations.tanh(np.arange(3)).dtype == backend.floatx()
    y = activations.sigmoid(np.float64(0.0))
    assert isinstance(y, np.ndarray) and y.shape == () and y == 0.5
    assert activations.relu6(np.float32(7.0)).dtype == np.float32


@pytest.mark.parity
@pytest.mark.parametrize("name", sorted(set(NAMES) - {"bru"}))
def test_functional_api_and_names_match_keras(tf_keras, name):
    """Same signatures and defaults as keras.activations; Keras' get/serialize agree."""
    ours, theirs = getattr(activations, name), getattr(tf_keras.activations, name)
    sig = [(p.name, p.default) for p in inspect.signature(ours).parameters.values()]
    assert sig == [(p.name, p.default) for p in inspect.signature(theirs).parameters.values()]
    assert serialize(get(name)) == tf_keras.activations.serialize(tf_keras.activations.get(name))
    assert get(theirs) == get(name)  # a Keras function maps to the same activation


@pytest.mark.unit
@cheap
@given(seed=st.integers(0, 2**32 - 1))
def test_softmax_rows_sum_to_one_and_backward_is_orthogonal_to_ones(seed):
    rng = np.random.default_rng(seed)
    x = 30 * rng.standard_normal((4, 7))
    act = Softmax()
    y = act(x)
    assert_close(y.sum(axis=-1), np.ones(4), kind="forward", dtype="float64")
    dx = act.backward(rng.standard_normal(x.shape), x, y)
    assert_close(dx.sum(axis=-1), np.zeros(4), kind="input_grad", dtype="float64")


@pytest.mark.parity
def test_float32_sigmoid_and_tanh_are_tensorflows_bits(tf):
    """The float32 fast path of Sigmoid and Tanh (and of the recurrent gates) is Eigen's
    approximation, as TF's CPU kernels: bit for bit, NaN, ±inf, saturation and the subnormal
    range included."""
    from scratch._kernels import activations as kernels

    rng = np.random.default_rng(0)
    z = (rng.standard_normal(200_000) * 6).astype(np.float32)
    z[:16] = [-200, -104.5, -103.9, -90, -87.5, 0, -0.0, 1e-30, 7.9, 8.1, 16.6, 30,
              np.nan, np.inf, -np.inf, -np.nan]
    for name, tf_fn in (("sigmoid", tf.math.sigmoid), ("tanh", tf.math.tanh)):
        with scratch.backend.fast_paths(True):  # also under SCRATCH_FAST_PATHS=0
            ours = scratch.activations.get(name)(z)
        np.testing.assert_array_equal(ours, tf_fn(z).numpy(), err_msg=name)
    out = np.empty_like(z)
    kernels.sigmoid_f32(z, out, np.empty(z.size, np.int32))
    np.testing.assert_array_equal(out, tf.math.sigmoid(z).numpy())
    inplace = z.copy()
    kernels.tanh_f32(inplace, inplace)
    np.testing.assert_array_equal(inplace, tf.math.tanh(z).numpy())


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_float32_sigmoid_and_tanh_fast_path_near_the_readable_formula(name):
    x = (np.random.default_rng(1).standard_normal((64, 33)) * 5).astype(np.float32)
    fast = scratch.activations.get(name)(x)
    with scratch.backend.fast_paths(False):
        readable = scratch.activations.get(name)(x)
    assert fast.dtype == readable.dtype == np.float32
    assert_close(fast, readable, kind="fast_vs_readable", dtype="float32")
    strided = x.T  # not C-contiguous: the NumPy formula
    with scratch.backend.fast_paths(False):
        expected = scratch.activations.get(name)(strided)
    np.testing.assert_array_equal(scratch.activations.get(name)(strided), expected)
