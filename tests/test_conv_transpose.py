"""Conv1DTranspose and Conv2DTranspose: parity with tf.keras (outputs, dx, dW, db, configs,
output shapes; tests/parity.py), finite differences, fast == readable, the adjoint identity
with Conv2D (which also covers dilation, which TensorFlow's CPU kernel refuses), Keras'
errors, and a small convolutional autoencoder trained in both engines (the hidden-logits
road of a sigmoid output with binary cross-entropy)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

import keras_ref
import scratch
from scratch.layers import Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Input
from scratch.layers.conv_transpose import conv_transpose_output_length
from scratch.models import Sequential
from scratch.testing import assert_close
from tests.conftest import floatx, medium
from tests.parity import check_layer
from tests.test_rnn_training import fit_both


def _valid(case) -> bool:
    """TensorFlow (and scratch) refuse a 'same' output that does not map back to the input
    (an even kernel with output_padding 0)."""
    pads = case["output_padding"] or (None,) * len(case["kernel_size"])
    return case["padding"] == "valid" or all(
        p is None or k % 2 or p for k, p in zip(case["kernel_size"], pads))


@st.composite
def transpose_cases(draw, rank: int):
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    padding = draw(st.sampled_from(["valid", "same"]))
    output_padding = draw(st.one_of(st.none(), st.tuples(
        *[st.integers(0, s - 1) for s in strides])))
    return dict(
        filters=draw(st.integers(1, 3)), kernel_size=kernel, strides=strides,
        padding=padding, output_padding=output_padding,
        activation=draw(st.sampled_from([None, "tanh", "sigmoid"])),
        use_bias=draw(st.booleans()),
        shape=(draw(st.integers(1, 2)),) + tuple(draw(st.integers(1, 4)) for _ in range(rank))
        + (draw(st.integers(1, 3)),),
        seed=draw(st.integers(0, 2**16)),
    )


def _check(case, cls, dtype, tf_keras, tf):
    assume(_valid(case))
    case = dict(case)
    shape, seed = case.pop("shape"), case.pop("seed")
    rng = np.random.default_rng(seed)
    layer = cls(**case, dtype=dtype)
    x = rng.standard_normal(shape).astype(dtype)
    layer.build(x.shape)
    layer.set_weights([rng.standard_normal(w.shape).astype(dtype) for w in layer.weights])
    check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng, gradcheck=dtype == "float64",
                msg=f"{case} {shape}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@medium
@given(case=transpose_cases(2))
@example(case=dict(filters=1, kernel_size=(1, 1), strides=(1, 1), padding="valid",
                   output_padding=None, activation=None, use_bias=True, shape=(1, 1, 1, 1),
                   seed=0))
@example(case=dict(filters=2, kernel_size=(3, 2), strides=(2, 3), padding="same",
                   output_padding=(1, 2), activation="tanh", use_bias=True,
                   shape=(2, 3, 4, 2), seed=1))
def test_conv2d_transpose_parity(tf_keras, tf, dtype, case):
    _check(case, Conv2DTranspose, dtype, tf_keras, tf)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@medium
@given(case=transpose_cases(1))
def test_conv1d_transpose_parity(tf_keras, tf, dtype, case):
    _check(case, Conv1DTranspose, dtype, tf_keras, tf)


@medium
@given(data=st.data())
def test_transpose_is_the_adjoint_of_the_convolution(data):
    """⟨conv(x), v⟩ = ⟨x, convᵀ(v)⟩ with one kernel for both (Conv2D's is (kh, kw, F, C),
    Conv2DTranspose's (kh, kw, F, C) too), dilation included; and the transposed layer's
    own gradients by finite differences."""
    rank = data.draw(st.sampled_from([1, 2]))
    dilated = data.draw(st.booleans())
    kernel = tuple(data.draw(st.integers(1, 3)) for _ in range(rank))
    strides = (1,) * rank if dilated else tuple(data.draw(st.integers(1, 3))
                                                for _ in range(rank))
    dilation = tuple(data.draw(st.integers(1, 3)) for _ in range(rank)) if dilated \
        else (1,) * rank
    padding = data.draw(st.sampled_from(["valid", "same"]))
    spatial = tuple(data.draw(st.integers(1, 4)) for _ in range(rank))
    c_in, filters = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    k_eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    assume(padding == "valid" or all(k % 2 for k in k_eff) or strides != (1,) * rank)
    cls_t, cls = (Conv1DTranspose, Conv1D) if rank == 1 else (Conv2DTranspose, Conv2D)
    transpose = cls_t(filters, kernel, strides=strides, padding=padding,
                      dilation_rate=dilation, use_bias=False, dtype="float64")
    v = rng.standard_normal((2, *spatial, c_in))
    try:
        y = transpose(v)
    except ValueError as e:  # 'same' with an even dilated kernel: no output maps back
        assert "does not map back" in str(e)
        return
    out = [conv_transpose_output_length(n, k, s, d, padding, None)
           for n, k, s, d in zip(spatial, kernel, strides, dilation)]
    assert y.shape == (2, *out, filters)
    conv = cls(c_in, kernel, strides=strides, padding=padding, dilation_rate=dilation,
               use_bias=False, dtype="float64")
    conv.build(y.shape)
    conv.set_weights(transpose.get_weights())
    x = rng.standard_normal(y.shape)
    lhs, rhs = np.sum(conv(x) * v), np.sum(x * y)
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, np.sum(np.abs(conv(x) * v)))
    check_layer(transpose, v, rng=rng, gradcheck=True, msg=f"{kernel} {strides} {dilation}")


def test_output_shapes_follow_keras_rule():
    assert Conv2DTranspose(2, 3, strides=2, padding="same").compute_output_shape(
        (None, 4, 5, 3)) == (None, 8, 10, 2)
    assert Conv2DTranspose(2, (3, 2), strides=3, output_padding=(2, 1)).compute_output_shape(
        (None, 4, 5, 3)) == (None, 14, 15, 2)
    assert Conv2DTranspose(2, 1, strides=3).compute_output_shape((None, 4, 5, 3)) == \
        (None, 12, 15, 2)  # valid: output_padding defaults to max(k, s) − k
    assert Conv1DTranspose(4, 3, strides=2, padding="same").compute_output_shape(
        (None, None, 3)) == (None, None, 4)
    layer = Conv2DTranspose(2, 3)
    layer.build((None, 4, 4, 5))
    assert layer.params["kernel"].shape == (3, 3, 2, 5)  # (kh, kw, filters, C_in), Keras'


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="strictly less than `strides`"):
        Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match="dilation_rate > 1"):
        Conv2DTranspose(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="padding"):
        Conv1DTranspose(2, 3, padding="causal")
    with pytest.raises(ValueError, match="filters"):
        Conv2DTranspose(0, 3)
    with pytest.raises(ValueError, match="does not map back"):  # TF raises here too
        Conv2DTranspose(2, 2, strides=2, padding="same", output_padding=0)(
            np.zeros((1, 4, 5, 3), "float32"))
    layer = Conv2DTranspose(2, 3)
    layer.build((None, 4, 4, 3))
    before = layer.get_weights()
    with pytest.raises(ValueError, match="built for inputs with 3 channels"):
        layer(np.zeros((1, 4, 4, 2), "float32"))
    with pytest.raises(ValueError, match="expected ndim=4"):
        layer(np.zeros((1, 4, 4), "float32"))
    for a, b in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv_autoencoder_fit_matches(tf_keras, dtype):
    """Conv2D ↓ → Conv2DTranspose ↑ (sigmoid) with binary cross-entropy and Adam: Keras
    reads the sigmoid's logits (docs/KERAS_NUMERICS.md §Hidden logits), and so does
    scratch through the transposed layer's `logits` and `backward_from_logits`."""
    with floatx(tf_keras, dtype):
        scratch.utils.set_random_seed(5)
        rng = np.random.default_rng(5)
        x = rng.random((64, 8, 8, 1)).astype(dtype)
        model = Sequential([Input((8, 8, 1)),
                            Conv2D(4, 3, strides=2, padding="same", activation="relu"),
                            Conv2DTranspose(3, 3, strides=2, padding="same",
                                            activation="relu"),
                            Conv2DTranspose(1, 3, padding="same", activation="sigmoid")])
        assert model.layers[-1].logits is None
        fit_both(tf_keras, model, "binary_crossentropy", 0.01, x, x, dtype)
        assert model.layers[-1].logits is not None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regularized_transpose_trains_like_keras(tf_keras, dtype):
    """kernel_, bias_ and activity_regularizer on Conv2DTranspose, as on Conv2D: the
    penalties join the loss and their gradients the weights' (three Adam steps)."""
    R = scratch.regularizers
    with floatx(tf_keras, dtype):
        rng = np.random.default_rng(7)
        x = rng.standard_normal((6, 3, 3, 2)).astype(dtype)
        y = rng.standard_normal((6, 6, 6, 2)).astype(dtype)
        model = Sequential([Input((3, 3, 2)),
                            Conv2DTranspose(2, 3, strides=2, padding="same",
                                            kernel_regularizer=R.l2(0.05),
                                            bias_regularizer=R.l1(0.02),
                                            activity_regularizer=R.l1(0.01))])
        model.compile(optimizer=scratch.optimizers.Adam(0.02), loss="mse")
        kmodel = keras_ref.to_keras(model)
        assert kmodel.layers[0].kernel_regularizer is not None
        kmodel.compile(optimizer=tf_keras.optimizers.Adam(0.02), loss="mse")
        for step in range(3):
            assert_close(model.train_on_batch(x, y), float(kmodel.train_on_batch(x, y)),
                         kind="loss", dtype=dtype, msg=f"step {step}")
        for name, a, b in zip(model.weight_names, model.get_weights(), kmodel.get_weights()):
            assert_close(a, b, kind="weights_after_steps", dtype=dtype, msg=name)
