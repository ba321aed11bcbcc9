"""RepeatVector, Permute, GaussianNoise and GaussianDropout: parity with tf.keras (outputs, dx,
masks, configs; tests/parity.py), finite differences, Keras' noise stream, Keras' errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import scratch
from scratch.layers import GaussianDropout, GaussianNoise, Permute, RepeatVector
from tests.conftest import cheap
from tests.parity import check_layer

DTYPES = st.sampled_from(["float64", "float32"])


# ----------------------------------------------------------------------------- rearranging
@cheap
@given(n=st.integers(1, 4), d=st.integers(1, 5), batch=st.integers(1, 3), dtype=DTYPES,
       seed=st.integers(0, 2**16))
@example(n=1, d=1, batch=1, dtype="float64", seed=0)
def test_repeat_vector_parity(tf_keras, tf, n, d, batch, dtype, seed):
    """dx is a sum over the n copies, so it is compared within the tolerance, the output
    bit for bit."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, d)).astype(dtype)
    checked = check_layer(RepeatVector(n, dtype=dtype), x, keras=tf_keras, tf=tf, rng=rng,
                          gradcheck=dtype == "float64", msg=f"n={n}")
    np.testing.assert_array_equal(checked.ours.outputs[0], checked.ref.outputs[0])


@cheap
@given(st.data(), DTYPES)
def test_permute_parity(tf_keras, tf, data, dtype):
    """A permutation only moves numbers: output and dx equal tf.keras' bit for bit."""
    rank = data.draw(st.integers(1, 4))
    dims = tuple(data.draw(st.permutations(range(1, rank + 1))))
    shape = tuple(data.draw(st.lists(st.integers(1, 3), min_size=rank + 1,
                                     max_size=rank + 1)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.standard_normal(shape).astype(dtype)
    layer = Permute(dims, dtype=dtype)
    check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng, exact=True, msg=f"{dims} {shape}")
    np.testing.assert_array_equal(layer.backward(layer(x)), x)  # backward undoes forward


def test_rearranging_errors_name_the_argument():
    with pytest.raises(TypeError, match="integer value for `n`"):
        RepeatVector(2.0)
    with pytest.raises(ValueError, match="positive integer. Received: n=0"):
        RepeatVector(0)
    with pytest.raises(ValueError, match=r"expected ndim=2, found ndim=3"):
        RepeatVector(2)(np.zeros((2, 3, 4), "float32"))
    with pytest.raises(ValueError, match="consecutive and start from 1"):
        Permute((0, 1))
    with pytest.raises(ValueError, match="consecutive"):
        Permute((1, 3))
    with pytest.raises(ValueError, match=r"expected ndim=3, found ndim=2"):
        Permute((2, 1))(np.zeros((2, 3), "float32"))


def test_rearranging_keeps_integers():
    ids = np.arange(6).reshape(2, 3)
    assert RepeatVector(2)(ids).dtype == ids.dtype
    np.testing.assert_array_equal(Permute((2, 1))(ids[:, :, None])[:, 0], ids)


# ----------------------------------------------------------------------------- noise
NOISE = [(GaussianNoise, "stddev"), (GaussianDropout, "rate")]


@cheap
@given(kind=st.sampled_from(NOISE), amount=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]),
       shape=st.lists(st.integers(1, 4), min_size=2, max_size=4), training=st.booleans(),
       dtype=DTYPES, seed=st.integers(0, 2**31 - 3))
@example(kind=NOISE[0], amount=0.3, shape=[1, 1], training=True, dtype="float64", seed=0)
def test_noise_parity(tf_keras, tf, kind, amount, shape, training, dtype, seed):
    """Seeded alike, scratch draws tf.keras' noise: the output and dx are bit-identical."""
    cls, arg = kind
    if cls is GaussianDropout and amount == 1.0 and training:
        amount = 0.9  # no finite noise at rate 1 (test_gaussian_dropout_rate_one)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    layer = cls(amount, seed=seed, dtype=dtype)

    def restart(layer):  # every scratch call draws with the pair (seed, 0), as Keras' first
        if amount > 0:
            layer.seed_generator = scratch.random.SeedGenerator(seed)

    checked = check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng, training=training,
                          exact=True, before_call=restart, gradcheck=dtype == "float64",
                          msg=f"{cls.__name__}({amount}) {shape}")
    y = checked.ours.outputs[0]
    if training and amount > 0:
        assert layer.noise is not None and not np.array_equal(y, x)
    else:
        np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("kind", NOISE, ids=["GaussianNoise", "GaussianDropout"])
@pytest.mark.parametrize("seed", [None, 11])
def test_noise_call_after_call_is_kerass(tf_keras, kind, seed):
    """The k-th training call draws with the pair (s, k) in both engines, whether the seed
    is given or drawn from Python's `random` after set_random_seed; inference draws
    nothing."""
    cls, _ = kind
    x = np.random.default_rng(0).standard_normal((3, 5, 4)).astype("float32")
    tf_keras.utils.set_random_seed(4)
    theirs = getattr(tf_keras.layers, cls.__name__)(0.3, seed=seed)
    k_out = [theirs(x, training=t).numpy() for t in (True, False, True, True)]
    scratch.utils.set_random_seed(4)
    ours = cls(0.3, seed=seed)
    for call, (t, k) in enumerate(zip((True, False, True, True), k_out)):
        np.testing.assert_array_equal(ours(x, training=t), k, err_msg=f"call {call}")
    assert not np.array_equal(k_out[0], k_out[2])


def test_noise_statistics():
    """ε ~ N(0, σ²) and N(1, rate/(1 − rate)): sample moments within 4 standard errors."""
    x = np.ones((400, 250))
    n = x.size
    noise = GaussianNoise(0.5, seed=1, dtype="float64")(x, training=True) - 1
    assert abs(noise.mean()) < 4 * 0.5 / np.sqrt(n)
    assert abs(noise.var() - 0.25) < 4 * 0.25 * np.sqrt(2 / n)
    eps = GaussianDropout(0.2, seed=2, dtype="float64")(x, training=True)
    assert abs(eps.mean() - 1) < 4 * 0.5 / np.sqrt(n)
    assert abs(eps.var() - 0.25) < 4 * 0.25 * np.sqrt(2 / n)


@pytest.mark.parametrize("cls", [GaussianNoise, GaussianDropout])
@pytest.mark.parametrize("value", [-0.1, 1.5, "a", True])
def test_noise_rejects_bad_amounts(cls, value):
    with pytest.raises(ValueError, match="Expected a float value between 0 and 1"):
        cls(value)


def test_gaussian_dropout_rate_one():
    layer = GaussianDropout(1.0)
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(layer(x), x)  # inference: the identity
    with pytest.raises(ValueError, match="rate=1"):
        layer(x, training=True)


def test_noise_passes_masks_through():
    mask = np.array([[True, False, True]])
    for layer in (GaussianNoise(0.1), GaussianDropout(0.1)):
        np.testing.assert_array_equal(layer.compute_mask(None, mask), mask)
