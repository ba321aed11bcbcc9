"""ZeroPadding1D/2D, Cropping1D/2D, UpSampling1D/2D, DepthwiseConv2D and SeparableConv2D:
parity with tf.keras (outputs, input and weight gradients, float64 and float32) through the
layer harness (config round trip, output shape, fast == readable), finite differences in
float64, and Keras' errors for bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scratch import backend
from scratch.layers import (
    Conv2D,
    Cropping1D,
    Cropping2D,
    DepthwiseConv2D,
    SeparableConv2D,
    UpSampling1D,
    UpSampling2D,
    ZeroPadding1D,
    ZeroPadding2D,
)
from scratch.layers.depthwise import grouped_kernel
from scratch.testing import assert_close
from tests.parity import check_layer

DTYPES = ("float64", "float32")
FEW = settings(max_examples=6)  # each example costs a few tf.keras calls

SPATIAL = {"ZeroPadding1D": ZeroPadding1D, "ZeroPadding2D": ZeroPadding2D,
           "Cropping1D": Cropping1D, "Cropping2D": Cropping2D,
           "UpSampling1D": UpSampling1D, "UpSampling2D": UpSampling2D}


# ------------------------------------------------------------------------------ padding etc.
@st.composite
def spatial_cases(draw):
    name = draw(st.sampled_from(sorted(SPATIAL)))
    rank = 1 if name.endswith("1D") else 2
    borders = st.tuples(st.integers(0, 2), st.integers(0, 2))
    config = {}
    if rank == 2 or name == "ZeroPadding1D":
        config["data_format"] = draw(st.sampled_from(["channels_last", "channels_first"]))
    if name.startswith("ZeroPadding"):
        config["padding"] = draw(st.one_of(st.integers(0, 2), borders) if rank == 1 else
                                 st.one_of(st.integers(0, 2), borders,
                                           st.tuples(borders, borders)))
    elif name.startswith("Cropping"):
        config["cropping"] = draw(borders if rank == 1 else st.tuples(borders, borders))
    else:
        config["size"] = draw(st.integers(1, 3) if rank == 1 else
                              st.tuples(st.integers(1, 3), st.integers(1, 3)))
    # spatial sizes large enough for any cropping drawn (≤ 4 cells cut per axis)
    spatial = tuple(draw(st.integers(5, 7)) for _ in range(rank))
    batch, channels = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    shape = ((batch, channels) + spatial if config.get("data_format") == "channels_first"
             else (batch,) + spatial + (channels,))
    return dict(name=name, config=config, shape=shape, seed=draw(st.integers(0, 2**16)))


@FEW
@given(spatial_cases())
@example(dict(name="ZeroPadding2D", config=dict(padding=((3, 3), (3, 3))), shape=(2, 5, 6, 3),
              seed=0))  # ResNet50's conv1_pad
@example(dict(name="ZeroPadding2D", config=dict(padding=((0, 1), (0, 1))), shape=(1, 6, 6, 2),
              seed=1))  # MobileNetV2's correct_pad on an even size
@example(dict(name="UpSampling2D", config=dict(size=(2, 3), data_format="channels_first"),
              shape=(2, 3, 4, 5), seed=2))
def test_spatial_layers_parity(tf_keras, tf, case):
    """tf.keras' numbers: padding and cropping bit for bit (they only move numbers); the
    upsampling gradient sums its copies, within the tolerance table (measured: bit for bit
    too)."""
    for dtype in DTYPES:
        rng = np.random.default_rng(case["seed"])
        layer = SPATIAL[case["name"]](**case["config"], dtype=dtype)
        x = rng.standard_normal(case["shape"]).astype(dtype)
        # padding and cropping only move numbers: tf.keras' bits exactly
        check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng, gradcheck=dtype == "float64",
                    exact=not case["name"].startswith("UpSampling"), msg=f"{case} {dtype}")


def test_padding_and_cropping_are_each_others_backward():
    """ZeroPadding's backward is Cropping's forward with the same borders, and the reverse."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 5, 3))
    pad = ZeroPadding2D(((1, 2), (0, 3)), dtype="float64")
    crop = Cropping2D(((1, 2), (0, 3)), dtype="float64")
    y = pad(x)
    assert y.shape == (2, 7, 8, 3) and np.array_equal(y[:, 1:5, 0:5], x)
    assert np.count_nonzero(y) == x.size
    np.testing.assert_array_equal(crop(y), x)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(pad.backward(dy), crop(dy))
    crop.forward(y)
    np.testing.assert_array_equal(crop.backward(x), pad(x))


def test_upsampling_nearest_by_hand():
    x = np.arange(4.0).reshape(1, 2, 2, 1)
    layer = UpSampling2D((2, 3))
    y = layer(x)
    rows = [[0, 0, 0, 1, 1, 1]] * 2 + [[2, 2, 2, 3, 3, 3]] * 2
    np.testing.assert_array_equal(y[0, :, :, 0], rows)
    np.testing.assert_array_equal(layer.backward(np.ones_like(y)), np.full(x.shape, 6.0))


@pytest.mark.parametrize("make, match", [
    (lambda: ZeroPadding2D(((1, 2, 3), (0, 0))), r"1st entry of padding.*Received"),
    (lambda: ZeroPadding2D((1, 2, 3)), r"two elements. Received: padding=\(1, 2, 3\)"),
    (lambda: ZeroPadding2D(-1), r"cannot be negative. Received: padding=-1"),
    (lambda: ZeroPadding1D((1, -1)), r"Received padding=\(1, -1\)"),
    (lambda: Cropping2D("a"), r"should be either an int.*Received: cropping=a"),
    (lambda: Cropping1D((1, 2, 3)), r"Received cropping=\(1, 2, 3\)"),
    (lambda: UpSampling2D(interpolation="bilinear"), r"'nearest' only.*Received: "
                                                     r"interpolation='bilinear'"),
    (lambda: UpSampling2D(0), r"`size`.*> 0. Received size=0"),
    (lambda: ZeroPadding2D(data_format="NHWC"), r"Received: data_format='NHWC'"),
])
def test_spatial_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_spatial_bad_inputs_say_what_came():
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3. Full shape received: "
                                         r"\(2, 5, 3\)"):
        ZeroPadding2D(1)(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"smaller than the corresponding spatial dimension.*"
                                         r"input_shape=\(1, 3, 9, 2\)"):
        Cropping2D(((1, 2), (0, 0)))(np.zeros((1, 3, 9, 2), np.float32))


# ------------------------------------------------------------------------------ depthwise
@st.composite
def depthwise_cases(draw):
    separable = draw(st.booleans())
    padding = draw(st.sampled_from(["valid", "same"]))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    # TensorFlow's CPU depthwise kernel takes equal strides only (scratch takes any; Keras
    # decomposes strides with dilation > 1: the explicit example below)
    strides = (draw(st.integers(1, 2)),) * 2
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    spatial = tuple(draw(st.integers(d * (k - 1) + 1, d * (k - 1) + 4))
                    for k, d in zip(kernel, dilation))
    config = dict(kernel_size=kernel, strides=strides, padding=padding,
                  dilation_rate=dilation, depth_multiplier=draw(st.integers(1, 2)),
                  activation=draw(st.sampled_from(["linear", "tanh", "relu6"])),
                  use_bias=draw(st.booleans()))
    if separable:
        config["filters"] = draw(st.integers(1, 3))
    return dict(cls="SeparableConv2D" if separable else "DepthwiseConv2D", config=config,
                shape=(draw(st.integers(1, 2)),) + spatial + (draw(st.integers(1, 3)),),
                seed=draw(st.integers(0, 2**16)))


MOBILENET_BLOCK = dict(cls="DepthwiseConv2D", config=dict(
    kernel_size=3, strides=2, padding="valid", dilation_rate=1, depth_multiplier=1,
    activation="linear", use_bias=False), shape=(2, 7, 7, 4), seed=3)


def _make_depthwise(case, dtype):
    rng = np.random.default_rng(case["seed"])
    cls = DepthwiseConv2D if case["cls"] == "DepthwiseConv2D" else SeparableConv2D
    layer = cls(**case["config"], dtype=dtype)
    x = rng.standard_normal(case["shape"]).astype(dtype)
    layer.build(x.shape)
    layer.set_weights([rng.standard_normal(w.shape) / np.sqrt(np.prod(w.shape[:-1]))
                       for w in layer.weights])
    return rng, layer, x


@FEW
@given(depthwise_cases())
@example(MOBILENET_BLOCK)
@example(dict(cls="SeparableConv2D", config=dict(
    filters=3, kernel_size=(3, 2), strides=(2, 1), padding="same", dilation_rate=(2, 2),
    depth_multiplier=2, activation="tanh", use_bias=True), shape=(2, 6, 5, 2), seed=4))
def test_depthwise_parity_with_keras(tf_keras, tf, case):
    """Outputs, dx and every weight gradient match tf.keras (tf.nn.depthwise_conv2d /
    separable_conv2d) in float64 and float32; fast == readable; finite differences in float64
    (away from relu6's kinks)."""
    for dtype in DTYPES:
        rng, layer, x = _make_depthwise(case, dtype)
        gradcheck = dtype == "float64" and case["config"]["activation"] != "relu6"
        check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng, gradcheck=gradcheck,
                    msg=f"{case} {dtype}")


def test_depthwise_is_conv2d_with_one_group_per_channel():
    """DepthwiseConv2D = Conv2D(groups=C, filters=C·M) with the kernel (kh, kw, 1, C·M)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 5, 3))
    dw = DepthwiseConv2D((3, 2), strides=(1, 2), padding="same", depth_multiplier=2,
                         dtype="float64")
    dw.build(x.shape)
    conv = Conv2D(6, (3, 2), strides=(1, 2), padding="same", groups=3, dtype="float64")
    conv.build(x.shape)
    conv.set_weights([grouped_kernel(dw.params["kernel"]), dw.params["bias"]])
    np.testing.assert_array_equal(dw(x), conv(x))
    dy = rng.standard_normal(dw(x).shape)
    np.testing.assert_array_equal(dw.backward(dy), conv.backward(dy))
    np.testing.assert_array_equal(grouped_kernel(dw.grads["kernel"]), conv.grads["kernel"])


def test_depthwise_weight_names_and_need_dx():
    dw = DepthwiseConv2D(3, depth_multiplier=2)
    dw.build((None, 8, 8, 3))
    sep = SeparableConv2D(5, 3, depth_multiplier=2)
    sep.build((None, 8, 8, 3))
    assert [(n, w.shape) for n, w in zip(dw.weight_names, dw.weights)] == [
        ("kernel", (3, 3, 3, 2)), ("bias", (6,))]
    assert [(n, w.shape) for n, w in zip(sep.weight_names, sep.weights)] == [
        ("depthwise_kernel", (3, 3, 3, 2)), ("pointwise_kernel", (1, 1, 6, 5)), ("bias", (5,))]
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 3)).astype("float32")
    with backend.fast_paths(True):
        for layer in (dw, sep):
            dy = np.ones_like(layer(x))
            assert layer.backward(dy).shape == x.shape
            full = dict(layer.grads)
            layer.forward(x)
            assert layer.backward(dy, need_dx=False) is None  # the first layer on the data
            for name in layer.params:
                np.testing.assert_array_equal(layer.grads[name], full[name])


@pytest.mark.parametrize("make, match", [
    (lambda: DepthwiseConv2D(3, depth_multiplier=0), r"Received depth_multiplier=0"),
    (lambda: DepthwiseConv2D(0), r"`kernel_size`.*Received kernel_size=0"),
    (lambda: DepthwiseConv2D(3, padding="causal"), r"Received: padding='causal'"),
    (lambda: SeparableConv2D(0, 3), r"Received filters=0"),
    (lambda: SeparableConv2D(2, 3, strides=(1, 0)), r"Received strides=\(1, 0\)"),
])
def test_depthwise_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_depthwise_bad_inputs_say_what_came():
    layer = DepthwiseConv2D(3)
    with pytest.raises(ValueError, match=r"expected ndim=4, found ndim=3.*\(2, 8, 8\).*"
                                         r"np.expand_dims"):
        layer(np.zeros((2, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"zero or negative.*inputs shape=\(1, 2, 8, 3\)"):
        layer(np.zeros((1, 2, 8, 3), np.float32))
    assert not layer.built
    layer(np.zeros((1, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"built for inputs with 3 channels. Received: input "
                                         r"shape=\(1, 8, 8, 4\)"):
        layer(np.zeros((1, 8, 8, 4), np.float32))


# ------------------------------------------------------------------------------ keras_ref
@pytest.mark.parametrize("dtype", DTYPES)
def test_keras_ref_round_trip(tf_keras, dtype):
    """A small MobileNet-like stack of the new layers: to_keras gives identical weights and
    the same outputs, from_keras brings it back bitwise."""
    import keras_ref
    import scratch

    L = scratch.layers
    i = scratch.Input((9, 9, 3), dtype=dtype)
    h = L.ZeroPadding2D(((0, 1), (0, 1)), dtype=dtype)(i)
    h = L.DepthwiseConv2D(3, strides=2, depth_multiplier=2, dtype=dtype)(h)
    h = L.SeparableConv2D(4, 3, padding="same", activation="relu6", dtype=dtype)(h)
    h = L.UpSampling2D(2, dtype=dtype)(h)
    h = L.Cropping2D(1, dtype=dtype)(h)
    model = scratch.Model(i, h)
    rng = np.random.default_rng(6)
    model.set_weights([rng.standard_normal(w.shape) * 0.5 for w in model.get_weights()])
    x = rng.standard_normal((2, 9, 9, 3)).astype(dtype)
    kmodel = keras_ref.to_keras(model)
    for ours, theirs in zip(model.get_weights(), kmodel.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert_close(model.predict(x, verbose=0), np.asarray(kmodel(x)), kind="forward",
                 dtype=dtype)
    back = keras_ref.from_keras(kmodel)
    assert [type(layer).__name__ for layer in back.layers] == [
        type(layer).__name__ for layer in model.layers]
    for ours, theirs in zip(model.get_weights(), back.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_regularized_depthwise_layers_train_like_keras(tf_keras, dtype):
    """depthwise_, pointwise_ and bias_regularizer (and an activity penalty): 3 Adam steps
    give tf.keras' losses and weights (within the loss and weights_after_steps tolerances),
    and the configs carry the penalties both ways."""
    import keras_ref
    import scratch
    from scratch import regularizers as R

    from conftest import floatx

    L = scratch.layers
    with floatx(tf_keras, dtype):
        model = scratch.Sequential([
            scratch.Input((6, 6, 2), dtype=dtype),
            L.DepthwiseConv2D(3, depth_multiplier=2, depthwise_regularizer=R.l2(0.05),
                              bias_regularizer=R.l1(0.02), activity_regularizer=R.l2(0.01)),
            L.SeparableConv2D(3, 2, strides=2, depthwise_regularizer=R.l1(0.01),
                              pointwise_regularizer=R.L1L2(0.01, 0.02),
                              bias_regularizer=R.l2(0.03), activation="tanh"),
            L.Flatten(), L.Dense(2)])
        rng = np.random.default_rng(8)
        model.set_weights([rng.normal(0, 0.5, w.shape) for w in model.get_weights()])
        model.compile(optimizer=scratch.optimizers.Adam(0.05), loss="mse")
        kmodel = keras_ref.to_keras(model)
        for layer, klayer in zip(model.layers, kmodel.layers):
            assert layer.get_config() == keras_ref.layer_from_keras(klayer).get_config()
        kmodel.compile(optimizer=tf_keras.optimizers.Adam(0.05), loss="mse", run_eagerly=True)
        x = rng.standard_normal((4, 6, 6, 2)).astype(dtype)
        y = rng.standard_normal((4, 2)).astype(dtype)
        for step in range(3):
            assert_close(model.train_on_batch(x, y), float(kmodel.train_on_batch(x, y)),
                         kind="loss", dtype=dtype, msg=f"step {step}")
        assert len(model.losses) == 6  # the activity penalty, then 5 weights'
        for ours, theirs in zip(model.get_weights(), kmodel.get_weights(), strict=True):
            assert_close(ours, theirs, kind="weights_after_steps", dtype=dtype)
