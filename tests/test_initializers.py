"""Initializers: fans, distributions, truncation, orthogonality, seeding, dtypes and lookup.

The values themselves are compared with tf.keras' bit for bit in tests/test_random.py; here
are what Keras defines besides: fans, limits, the truncation rule, configs and names.
Distribution checks draw many values and compare sample statistics with bounds derived from
the sample size (k standard errors), not with the parity tolerance table.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratch
from scratch import backend, initializers
from scratch.initializers import TRUNCATION_STD, compute_fans
from scratch.testing import assert_close

from conftest import cheap

DTYPES = ["float32", "float64"]
N_DRAW = 200_000  # values per distribution check
K_SE = 6.0  # allowed deviation of a sample statistic, in standard errors

# name -> (class, scale, mode, distribution) for the VarianceScaling family
FAMILY = {
    "glorot_uniform": (initializers.GlorotUniform, 1.0, "fan_avg", "uniform"),
    "glorot_normal": (initializers.GlorotNormal, 1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (initializers.HeUniform, 2.0, "fan_in", "uniform"),
    "he_normal": (initializers.HeNormal, 2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (initializers.LecunUniform, 1.0, "fan_in", "uniform"),
    "lecun_normal": (initializers.LecunNormal, 1.0, "fan_in", "truncated_normal"),
}


def _fan(shape, mode):
    fan_in, fan_out = compute_fans(shape)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def _assert_std(x, expected_std, what=""):
    """Sample std within K_SE standard errors (SE of a std ≈ σ·√((κ−1)/4n), κ ≤ 3)."""
    n = x.size
    se = expected_std * math.sqrt(2.0 / (4 * n))
    assert abs(float(np.std(x.astype(np.float64))) - expected_std) < K_SE * se + 1e-12, (
        f"{what}: std {np.std(x):.6g} vs expected {expected_std:.6g} (n={n})")


def _assert_mean(x, expected_mean, expected_std, what=""):
    se = expected_std / math.sqrt(x.size)
    assert abs(float(np.mean(x.astype(np.float64))) - expected_mean) < K_SE * se, (
        f"{what}: mean {np.mean(x):.6g} vs expected {expected_mean:.6g}")


# ---------------------------------------------------------------------------------------------
# Fans


def test_fans_of_documented_shapes():
    assert compute_fans((7, 5)) == (7, 5)
    assert compute_fans((6,)) == (6, 6)
    assert compute_fans(()) == (1, 1)
    assert compute_fans((3, 3, 4, 8)) == (36, 72)
    assert compute_fans((5, 4, 6)) == (20, 30)
    assert compute_fans((2, 3, 4, 5, 6)) == (5 * 24, 6 * 24)
    assert compute_fans((3, 4, 5), input_axes=[0, 1], output_axes=[2]) == (12, 5)


@pytest.mark.parity
@cheap
@given(shape=st.lists(st.integers(1, 7), max_size=5).map(tuple))
def test_fans_match_keras(tf_keras, shape):
    from keras.src.initializers.random_initializers import compute_fans as keras_fans

    assert compute_fans(shape) == keras_fans(shape)


# ---------------------------------------------------------------------------------------------
# Distributions


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(FAMILY))
@pytest.mark.parametrize("shape", [(400, 500), (5, 5, 40, 160)], ids=["dense", "conv"])
def test_variance_scaling_family(name, shape, dtype):
    cls, scale, mode, distribution = FAMILY[name]
    init = initializers.get(name)
    assert type(init) is cls
    assert (init.scale, init.mode, init.distribution) == (scale, mode, distribution)
    w = init(shape, dtype=dtype)
    assert w.shape == shape and w.dtype == np.dtype(dtype)
    s = scale / max(1.0, _fan(shape, mode))
    std = math.sqrt(s)
    if distribution == "uniform":
        limit = math.sqrt(3 * s)
        assert np.max(np.abs(w)) <= limit
        assert np.max(np.abs(w)) > 0.999 * limit  # the limit is actually reached
        _assert_std(w, limit / math.sqrt(3), name)
    else:
        raw = std / TRUNCATION_STD
        assert np.max(np.abs(w)) < 2 * raw * (1 + 1e-6)  # cut at 2σ_raw
        assert np.max(np.abs(w)) > 1.99 * raw  # ... and not before
        _assert_std(w, std, name)  # the truncated draw has the requested std
    _assert_mean(w, 0.0, std, name)


def test_glorot_limit_formula():
    w = initializers.GlorotUniform(seed=3)((300, 700))
    limit = math.sqrt(6 / (300 + 700))
    assert np.max(np.abs(w)) <= limit and np.max(np.abs(w)) > 0.999 * limit
    w = initializers.HeUniform(seed=3)((3, 3, 16, 32))
    limit = math.sqrt(6 / (3 * 3 * 16))
    assert np.max(np.abs(w)) <= limit and np.max(np.abs(w)) > 0.99 * limit


def test_truncation_constant_is_the_std_of_a_2_sigma_truncated_normal():
    # std of N(0,1) | |z| < 2: sqrt(1 − 2·2·φ(2) / (2Φ(2) − 1))
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    assert math.isclose(math.sqrt(1 - 4 * phi2 / mass), TRUNCATION_STD, rel_tol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_untruncated_normal_and_random_normal(dtype):
    w = initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal", seed=1)(
        (50, N_DRAW // 50), dtype=dtype)
    std = math.sqrt(2.0 / (N_DRAW // 50))
    _assert_std(w, std, "untruncated")
    assert np.max(np.abs(w)) > 3 * std  # not truncated
    w = initializers.RandomNormal(seed=2)((N_DRAW,), dtype=dtype)
    _assert_std(w, 0.05, "RandomNormal default")
    w = initializers.RandomNormal(mean=1.5, stddev=0.3, seed=2)((N_DRAW,), dtype=dtype)
    _assert_mean(w, 1.5, 0.3, "RandomNormal mean")
    _assert_std(w, 0.3, "RandomNormal")
    assert w.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_truncated_normal(dtype):
    w = initializers.TruncatedNormal(mean=0.5, stddev=0.2, seed=4)((N_DRAW,), dtype=dtype)
    assert np.all(np.abs(w - 0.5) < 0.4 + 1e-6) and np.max(np.abs(w - 0.5)) > 0.39
    _assert_std(w, 0.2 * TRUNCATION_STD, "TruncatedNormal")
    _assert_mean(w, 0.5, 0.2, "TruncatedNormal")
    assert w.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_uniform(dtype):
    w = initializers.RandomUniform(seed=5)((N_DRAW,), dtype=dtype)
    assert w.min() >= -0.05 and w.max() < 0.05 and w.dtype == np.dtype(dtype)
    w = initializers.RandomUniform(-1.0, 3.0, seed=5)((N_DRAW,), dtype=dtype)
    assert w.min() >= -1.0 and w.max() <= 3.0
    _assert_mean(w, 1.0, 4 / math.sqrt(12), "uniform")
    _assert_std(w, 4 / math.sqrt(12), "uniform")


# ---------------------------------------------------------------------------------------------
# Orthogonal and identity


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 24), (24, 8), (16, 16), (5, 20), (7, 28), (3, 3, 4, 8)])
def test_orthogonal(shape, dtype):
    q = initializers.Orthogonal(seed=11)(shape, dtype=dtype)
    assert q.shape == shape and q.dtype == np.dtype(dtype)
    m = q.reshape(-1, shape[-1])
    rows, cols = m.shape
    gram = m @ m.T if rows < cols else m.T @ m  # orthonormal rows for (M, 4M) as a whole
    assert_close(gram, np.eye(min(rows, cols), dtype=dtype), kind="forward", dtype=dtype)
    q3 = initializers.Orthogonal(gain=3.0, seed=11)(shape, dtype=dtype)
    assert_close(q3, np.asarray(3.0, dtype) * q, kind="forward", dtype=dtype)


def test_orthogonal_gate_blocks_are_not_each_orthogonal():
    q = initializers.Orthogonal(seed=0)((6, 24))
    block = q[:, :6]
    assert not np.allclose(block @ block.T, np.eye(6), atol=1e-3)


def test_orthogonal_rejects_rank_below_2():
    with pytest.raises(ValueError, match="at least two-dimensional"):
        initializers.Orthogonal()((5,))


@pytest.mark.parametrize("dtype", DTYPES)
def test_identity(dtype):
    w = initializers.get("identity")((3, 5), dtype=dtype)
    expected = np.eye(3, 5, dtype=dtype)
    assert w.dtype == np.dtype(dtype) and np.array_equal(w, expected)
    assert np.array_equal(initializers.Identity(gain=2.5)((4, 4), dtype=dtype),
                          2.5 * np.eye(4, dtype=dtype))
    with pytest.raises(ValueError, match="2D"):
        initializers.Identity()((2, 2, 2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_constants(dtype):
    assert np.array_equal(initializers.get("zeros")((2, 3), dtype=dtype), np.zeros((2, 3)))
    assert np.array_equal(initializers.get("ones")((4,), dtype=dtype), np.ones(4))
    w = initializers.Constant(0.1)((2, 2), dtype=dtype)
    assert w.dtype == np.dtype(dtype) and np.all(w == np.asarray(0.1, dtype))
    assert initializers.get("zeros")((), dtype=dtype).shape == ()
    with pytest.raises(ValueError, match="scalar"):
        initializers.Constant([1.0, 2.0])


# ---------------------------------------------------------------------------------------------
# Seeds and determinism

RANDOM = ["glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
          "lecun_uniform", "orthogonal", "random_normal", "random_uniform", "truncated_normal",
          "variance_scaling"]


@pytest.mark.parametrize("name", RANDOM)
def test_seeded_initializers_repeat_and_seeds_differ(name):
    cls = type(initializers.get(name))
    a, b, c = cls(seed=42), cls(seed=42), cls(seed=43)
    first = a((6, 5))
    assert np.array_equal(first, a((6, 5)))  # same values on every call (like Keras)
    assert np.array_equal(first, b((6, 5)))
    assert not np.array_equal(first, c((6, 5)))


@pytest.mark.parametrize("name", RANDOM)
def test_unseeded_initializers_follow_set_random_seed(name):
    initializers.set_random_seed(7)
    a, b = initializers.get(name), initializers.get(name)
    wa, wb = a((6, 5)), b((6, 5))
    assert not np.array_equal(wa, wb)  # two instances draw two seeds
    assert np.array_equal(wa, a((6, 5)))  # one instance repeats, as in Keras
    initializers.set_random_seed(7)
    assert np.array_equal(initializers.get(name)((6, 5)), wa)
    assert np.array_equal(initializers.get(name)((6, 5)), wb)
    initializers.set_random_seed(8)
    assert not np.array_equal(initializers.get(name)((6, 5)), wa)


def test_seed_generator_draws_fresh_values_each_call():
    init = initializers.RandomUniform(seed=scratch.random.SeedGenerator(0))
    assert not np.array_equal(init((3,)), init((3,)))
    assert init.get_config()["seed"] is None


def test_set_random_seed_seeds_python_and_numpy():
    initializers.set_random_seed(123)
    py, legacy = random.random(), np.random.rand()  # noqa: NPY002
    initializers.set_random_seed(123)
    assert random.random() == py and np.random.rand() == legacy  # noqa: NPY002
    with pytest.raises(ValueError, match="seed="):
        initializers.set_random_seed(1.5)


def test_invalid_seed():
    with pytest.raises(ValueError, match="seed="):
        initializers.RandomNormal(seed="abc")


# ---------------------------------------------------------------------------------------------
# dtypes


@pytest.mark.parametrize("name", RANDOM + ["identity"])
def test_dtypes_and_default_floatx(name):
    init = initializers.get(name)
    for dtype in DTYPES:
        assert init((4, 4), dtype=dtype).dtype == np.dtype(dtype)
    assert init((4, 4)).dtype == np.dtype(backend.floatx())
    with pytest.raises(ValueError, match="float32 or float64"):
        init((4, 4), dtype="int32")


def test_float64_values_are_not_float32_values_upcast():
    w = initializers.RandomNormal(stddev=1.0, seed=0)((1000,), dtype="float64")
    assert not np.array_equal(w, w.astype(np.float32).astype(np.float64))


def test_shape_validation():
    with pytest.raises(ValueError, match="fully defined"):
        initializers.get("glorot_uniform")((None, 3))
    with pytest.raises(ValueError, match="fully defined"):
        initializers.get("zeros")((-1, 3))


# ---------------------------------------------------------------------------------------------
# Lookup and config


def test_get_resolves_names_aliases_and_objects():
    cases = {
        "glorot_uniform": initializers.GlorotUniform, "GlorotUniform": initializers.GlorotUniform,
        "he_normal": initializers.HeNormal, "zeros": initializers.Zeros,
        "zero": initializers.Zeros, "ones": initializers.Ones, "one": initializers.Ones,
        "orthogonal": initializers.Orthogonal, "OrthogonalInitializer": initializers.Orthogonal,
        "identity": initializers.Identity, "IdentityInitializer": initializers.Identity,
        "random_normal": initializers.RandomNormal, "normal": initializers.RandomNormal,
        "random_uniform": initializers.RandomUniform, "uniform": initializers.RandomUniform,
        "truncated_normal": initializers.TruncatedNormal, "constant": initializers.Constant,
        "variance_scaling": initializers.VarianceScaling,
        "lecun_uniform": initializers.LecunUniform,
    }
    for ident, cls in cases.items():
        assert type(initializers.get(ident)) is cls, ident
    inst = initializers.HeUniform(seed=1)
    assert initializers.get(inst) is inst
    assert type(initializers.get(initializers.Ones)) is initializers.Ones
    fn = lambda shape, dtype=None: np.full(shape, 2.0, dtype)  # noqa: E731
    assert initializers.get(fn) is fn
    assert initializers.get(None) is None
    arr = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(initializers.get(arr)((2, 3), dtype="float32"), arr)
    with pytest.raises(ValueError, match="Expected `shape`"):
        initializers.get(arr)((3, 2))
    with pytest.raises(ValueError, match="'glorot_uniformm'"):
        initializers.get("glorot_uniformm")
    with pytest.raises(ValueError, match="Could not interpret"):
        initializers.get(12)


def test_invalid_variance_scaling_arguments():
    with pytest.raises(ValueError, match="scale=0"):
        initializers.VarianceScaling(scale=0)
    with pytest.raises(ValueError, match="fan_sum"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="poisson"):
        initializers.VarianceScaling(distribution="poisson")
    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"


CONFIG_CASES = [
    ("GlorotUniform", {"seed": 3}), ("GlorotNormal", {}), ("HeNormal", {"seed": 1}),
    ("HeUniform", {}), ("LecunNormal", {}), ("LecunUniform", {"seed": 9}),
    ("RandomNormal", {"mean": 0.5, "stddev": 2.0, "seed": 4}), ("RandomUniform", {}),
    ("TruncatedNormal", {"stddev": 0.1}), ("Orthogonal", {"gain": 2.0, "seed": 5}),
    ("Identity", {"gain": 0.5}), ("Constant", {"value": 0.25}), ("Zeros", {}), ("Ones", {}),
    ("VarianceScaling", {"scale": 0.3, "mode": "fan_out", "distribution": "uniform"}),
]


@pytest.mark.parity
@pytest.mark.parametrize("name,kwargs", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_and_serialization_match_keras(tf_keras, name, kwargs):
    ours = getattr(initializers, name)(**kwargs)
    theirs = getattr(tf_keras.initializers, name)(**kwargs)
    if name == "Identity":
        # Keras' Identity has no get_config (gain is lost); scratch keeps it, and Keras'
        # Identity(**config) still reads it back.
        assert theirs.get_config() == {} and ours.get_config() == kwargs
        assert tf_keras.initializers.Identity(**ours.get_config()).gain == kwargs["gain"]
        return
    assert ours.get_config() == theirs.get_config()
    assert initializers.serialize(ours) == tf_keras.initializers.serialize(theirs)
    back = initializers.get(tf_keras.initializers.serialize(theirs))
    assert type(back) is type(ours) and back.get_config() == ours.get_config()
    if "seed" in kwargs:  # a seeded clone reproduces the values
        assert np.array_equal(back((4, 3)), ours((4, 3)))


@pytest.mark.parity
@pytest.mark.parametrize("name", sorted(FAMILY))
def test_keras_and_scratch_agree_on_limits_for_conv_kernels(tf_keras, name):
    """Same conv shape: Keras' largest |w| and ours land on the same bound (limit or 2σ_raw),
    and both have the std that the fans prescribe."""
    shape = (3, 3, 32, 64)
    ours = initializers.get(name)(shape)
    theirs = np.asarray(tf_keras.initializers.get(name)(shape))
    m_ours, m_theirs = float(np.max(np.abs(ours))), float(np.max(np.abs(theirs)))
    assert abs(m_ours - m_theirs) < 0.01 * m_theirs, (m_ours, m_theirs)
    std = math.sqrt(FAMILY[name][1] / _fan(shape, FAMILY[name][2]))
    _assert_std(ours, std, f"{name} (scratch)")
    _assert_std(theirs, std, f"{name} (keras)")
