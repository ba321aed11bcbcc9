"""The gradient tape (scratch/tape): custom training loops as Keras users write them.

* A custom loop (`with GradientTape()`, `tape.gradient(loss, model.trainable_variables)`,
  `optimizer.apply_gradients`) trains the Lecture 24 network (Dense → Dropout → softmax) to
  `train_on_batch`'s numbers bit for bit, and to tf.keras' custom loop within the table.
* The course's GAN (Lecture 69) as a custom loop with two tapes (one for the discriminator's
  steps, one for the generator's) matches its `train_on_batch` version bit for bit, and
  tf.keras' two-tape loop within the table; the two tapes recording at once (TensorFlow's
  tutorial style) match tf.keras too.
* Every operation the tape differentiates, against central finite differences in float64
  (`scratch.testing.gradcheck`).
* What the tape refuses, each with a clear error: an operation it cannot differentiate
  (named), an in-place change of a recorded value, a target it did not record, a recorded
  y_true, a second `gradient` of a non-persistent tape.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_recommender_transfer_gan import (
    BATCH,
    IMG,
    LATENT,
    _random_weights,
    _ScratchLayers,
    build_discriminator,
    build_generator,
)

import keras_ref
import scratch
from scratch import layers, ops
from scratch.tape import GradientTape, Tensor, Variable
from scratch.testing import assert_close, gradcheck

from conftest import floatx

DTYPES = ["float64", "float32"]


# ------------------------------------------------------------------------- Lecture 24
def lecture24(dtype):
    """Lecture 24's network, small: Dense(relu) → Dropout(0.2) → Dense(softmax)."""
    i = scratch.Input(shape=(20,), dtype=dtype)
    h = layers.Dense(16, activation="relu", dtype=dtype)(i)
    h = layers.Dropout(0.2, seed=3, dtype=dtype)(h)
    return scratch.Model(i, layers.Dense(5, activation="softmax", dtype=dtype)(h))


def lecture24_data(dtype, n=32, seed=24):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 20)).astype(dtype), rng.integers(0, 5, n)


class _scratch_floatx:
    """scratch's floatx for the block (tf.keras untouched)."""

    def __init__(self, dtype):
        self.dtype = dtype

    def __enter__(self):
        scratch.set_floatx(self.dtype)

    def __exit__(self, *exc):
        scratch.set_floatx("float32")


def custom_loop(module, tape_class, model, x, y, steps=4):
    """The Keras custom training loop, word for word in either engine."""
    optimizer = module.optimizers.Adam(0.01)
    loss_fn = module.losses.SparseCategoricalCrossentropy()
    losses = []
    for _ in range(steps):
        with tape_class() as tape:
            y_pred = model(x, training=True)
            loss = loss_fn(y, y_pred)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    return losses


@pytest.mark.parametrize("dtype", DTYPES)
def test_custom_loop_equals_train_on_batch_bit_for_bit(dtype):
    with _scratch_floatx(dtype):
        x, y = lecture24_data(dtype)
        ref, ours = lecture24(dtype), lecture24(dtype)
        ours.set_weights(ref.get_weights())
        ref.compile(optimizer=scratch.optimizers.Adam(0.01),
                    loss="sparse_categorical_crossentropy")
        expected = [ref.train_on_batch(x, y) for _ in range(4)]
        got = custom_loop(scratch, GradientTape, ours, x, y)
    assert got == expected
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_custom_loop_matches_tf_keras(tf_keras, tf, dtype):
    with floatx(tf_keras, dtype):
        x, y = lecture24_data(dtype)
        ours = lecture24(dtype)
        theirs = keras_ref.to_keras(ours)
        got = custom_loop(scratch, GradientTape, ours, x, y)
        expected = custom_loop(tf_keras, tf.GradientTape, theirs, x, y)
    assert_close(got, expected, kind="loss", dtype=dtype)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        assert_close(a, b, kind="weights_after_steps", dtype=dtype)


def test_model_call_returns_a_tensor_with_numpy():
    x, _ = lecture24_data("float32", n=3)
    model = lecture24("float32")
    y = model(x)
    assert isinstance(y, Tensor) and isinstance(y, np.ndarray)
    assert type(y.numpy()) is np.ndarray and np.array_equal(y.numpy(), model.predict(x, verbose=0))
    assert type(model.layers[1](x).numpy()) is np.ndarray
    assert isinstance(ops.mean(y).numpy(), np.float32)  # a scalar, as EagerTensor.numpy()


# ------------------------------------------------------------------------- GAN (Lecture 69)
def _gan(module, dtype, d_weights, g_weights):
    L = _ScratchLayers if module is scratch else module.layers
    Model = scratch.Model if module is scratch else module.Model
    d = Model(*build_discriminator(L, IMG, dtype))
    g = Model(*build_generator(L, LATENT, dtype))
    d.set_weights(d_weights)
    g.set_weights(g_weights)
    return d, g


def _gan_weights(dtype):
    rng = np.random.default_rng(69)
    d, g = _gan(scratch, dtype, *[m.get_weights() for m in (
        scratch.Model(*build_discriminator(_ScratchLayers, IMG, dtype)),
        scratch.Model(*build_generator(_ScratchLayers, LATENT, dtype)))])
    _random_weights(d, rng, dtype)
    _random_weights(g, rng, dtype)
    g.set_weights([np.abs(w) + 0.5 if name.endswith("moving_variance") else w
                   for name, w in zip(g.weight_names, g.get_weights(), strict=True)])
    return d.get_weights(), g.get_weights()


def _gan_data(dtype, steps):
    rng = np.random.default_rng(0)
    real = [np.tanh(rng.standard_normal((BATCH, IMG))).astype(dtype) for _ in range(steps)]
    noises = [rng.standard_normal((BATCH, LATENT)).astype(dtype) for _ in range(2 * steps)]
    return real, noises


def gan_train_on_batch(d, g, real, noises, steps):
    """The course's loop (Keras 3 spelling: D.trainable toggled around its own steps)."""
    d.compile(loss="binary_crossentropy", optimizer=scratch.optimizers.Adam(0.0002, 0.5))
    z = scratch.Input(shape=(LATENT,), dtype=g.dtype)
    d.trainable = False
    combined = scratch.Model(z, d(g(z)))
    combined.compile(loss="binary_crossentropy", optimizer=scratch.optimizers.Adam(0.0002, 0.5))
    ones, zeros = np.ones(BATCH), np.zeros(BATCH)
    record = []
    for step in range(steps):
        fake = g.predict(noises[2 * step], verbose=0)
        d.trainable = True
        d_real = d.train_on_batch(real[step], ones)
        d_fake = d.train_on_batch(fake, zeros)
        d.trainable = False
        g_loss = combined.train_on_batch(noises[2 * step + 1], ones)
        record.append((d_real, d_fake, g_loss))
    return record


def gan_custom_loop(module, tape_class, d, g, real, noises, steps):
    """The same steps as a custom loop with two tapes, in either engine."""
    d_opt = module.optimizers.Adam(0.0002, 0.5)
    g_opt = module.optimizers.Adam(0.0002, 0.5)
    bce = module.losses.BinaryCrossentropy()
    ones, zeros = np.ones((BATCH, 1)), np.zeros((BATCH, 1))
    record = []
    for step in range(steps):
        fake = g(noises[2 * step], training=False).numpy()
        d_losses = []
        for images, labels in ((real[step], ones), (fake, zeros)):
            with tape_class() as d_tape:
                d_loss = bce(labels, d(images, training=True))
            grads = d_tape.gradient(d_loss, d.trainable_variables)
            d_opt.apply_gradients(zip(grads, d.trainable_variables))
            d_losses.append(float(d_loss))
        with tape_class() as g_tape:
            g_loss = bce(ones, d(g(noises[2 * step + 1], training=True), training=True))
        grads = g_tape.gradient(g_loss, g.trainable_variables)
        g_opt.apply_gradients(zip(grads, g.trainable_variables))
        record.append((d_losses[0], d_losses[1], float(g_loss)))
    return record


@pytest.mark.parametrize("dtype", DTYPES)
def test_gan_with_two_tapes_equals_train_on_batch_bit_for_bit(dtype):
    steps = 3
    with _scratch_floatx(dtype):
        weights = _gan_weights(dtype)
        real, noises = _gan_data(dtype, steps)
        ref = _gan(scratch, dtype, *weights)
        ours = _gan(scratch, dtype, *weights)
        expected = gan_train_on_batch(*ref, real, noises, steps)
        got = gan_custom_loop(scratch, GradientTape, *ours, real, noises, steps)
    assert got == [tuple(float(v) for v in r) for r in expected]
    for part, a_model, b_model in zip("DG", ours, ref, strict=True):
        for a, b in zip(a_model.get_weights(), b_model.get_weights(), strict=True):
            assert np.array_equal(a, b), part


@pytest.mark.parametrize("dtype", DTYPES)
def test_gan_custom_loop_matches_tf_keras(tf_keras, tf, dtype):
    steps = 3
    with floatx(tf_keras, dtype):
        weights = _gan_weights(dtype)
        real, noises = _gan_data(dtype, steps)
        ours = _gan(scratch, dtype, *weights)
        theirs = _gan(tf_keras, dtype, *weights)
        got = gan_custom_loop(scratch, GradientTape, *ours, real, noises, steps)
        expected = gan_custom_loop(tf_keras, tf.GradientTape, *theirs, real, noises, steps)
    assert_close(np.array(got), np.array(expected), kind="weights_after_steps", dtype=dtype)
    for a_model, b_model in zip(ours, theirs, strict=True):
        for a, b in zip(a_model.get_weights(), b_model.get_weights(), strict=True):
            assert_close(a, b, kind="weights_after_steps", dtype=dtype)


def test_two_tapes_recording_at_once_match_tf_keras(tf_keras, tf):
    """TensorFlow's DCGAN tutorial step: both losses under two tapes at once."""
    dtype = "float64"

    def step(module, tape_class, d, g, real, noise):
        bce = module.losses.BinaryCrossentropy()
        with tape_class() as g_tape, tape_class() as d_tape:
            fake = g(noise, training=True)
            real_out, fake_out = d(real, training=True), d(fake, training=True)
            g_loss = bce(np.ones((BATCH, 1)), fake_out)
            d_loss = bce(np.ones((BATCH, 1)), real_out) + bce(np.zeros((BATCH, 1)), fake_out)
        return (g_tape.gradient(g_loss, g.trainable_variables),
                d_tape.gradient(d_loss, d.trainable_variables))

    with floatx(tf_keras, dtype):
        weights = _gan_weights(dtype)
        real, noises = _gan_data(dtype, 1)
        got = step(scratch, GradientTape, *_gan(scratch, dtype, *weights), real[0], noises[0])
        expected = step(tf_keras, tf.GradientTape, *_gan(tf_keras, dtype, *weights), real[0],
                        noises[0])
    for mine, theirs in zip(got, expected, strict=True):
        for a, b in zip(mine, theirs, strict=True):
            assert_close(a, np.asarray(b), kind="weight_grad", dtype=dtype)


# ------------------------------------------------------------------------- finite differences
def _pos(shape, rng):
    return rng.uniform(0.5, 2.0, shape)


_OPS = {
    # name: (function of a dict of arrays, input shapes, positive inputs?)
    "add (broadcast)": (lambda v: v["a"] + v["b"], {"a": (3, 4), "b": (4,)}),
    "subtract (broadcast)": (lambda v: v["a"] - v["b"], {"a": (3, 1), "b": (1, 4)}),
    "multiply": (lambda v: v["a"] * v["b"], {"a": (3, 4), "b": (3, 4)}),
    "divide": (lambda v: v["a"] / v["b"], {"a": (3, 4), "b": (1, 4)}),
    "scalar arithmetic": (lambda v: 2.0 * v["a"] - 1.0 / v["a"] + 3, {"a": (5,)}),
    "negative": (lambda v: -v["a"], {"a": (2, 3)}),
    "square": (lambda v: np.square(v["a"]), {"a": (2, 3)}),
    "sqrt": (lambda v: np.sqrt(v["a"]), {"a": (2, 3)}),
    "exp": (lambda v: np.exp(v["a"]), {"a": (2, 3)}),
    "log": (lambda v: np.log(v["a"]), {"a": (2, 3)}),
    "power (constant exponent)": (lambda v: v["a"] ** 3, {"a": (2, 3)}),
    "power (both)": (lambda v: np.power(v["a"], v["b"]), {"a": (2, 3), "b": (2, 3)}),
    "abs": (lambda v: np.abs(v["a"] - 1.2), {"a": (2, 3)}),
    "tanh": (lambda v: np.tanh(v["a"]), {"a": (2, 3)}),
    "maximum": (lambda v: np.maximum(v["a"], v["b"]), {"a": (3, 4), "b": (4,)}),
    "minimum": (lambda v: np.minimum(v["a"], 1.3), {"a": (3, 4)}),
    "clip": (lambda v: np.clip(v["a"], 0.8, 1.6), {"a": (3, 4)}),
    "matmul": (lambda v: v["a"] @ v["b"], {"a": (3, 4), "b": (4, 2)}),
    "matmul (batched, broadcast)": (lambda v: v["a"] @ v["b"], {"a": (2, 3, 4), "b": (4, 2)}),
    "matmul (vectors)": (lambda v: np.matmul(v["a"], v["b"]), {"a": (4,), "b": (4, 3)}),
    "dot": (lambda v: np.dot(v["a"], v["b"]), {"a": (3, 4), "b": (4,)}),
    "sum": (lambda v: np.sum(v["a"], axis=1), {"a": (3, 4)}),
    "sum (keepdims, method)": (lambda v: v["a"].sum(axis=(0, 2), keepdims=True),
                               {"a": (2, 3, 4)}),
    "mean": (lambda v: np.mean(v["a"]), {"a": (3, 4)}),
    "mean (axis, method)": (lambda v: v["a"].mean(axis=-1), {"a": (3, 4)}),
    "max": (lambda v: np.max(v["a"], axis=0), {"a": (3, 4)}),
    "min": (lambda v: v["a"].min(), {"a": (3, 4)}),
    "reshape": (lambda v: v["a"].reshape(4, 3) * v["b"], {"a": (3, 4), "b": (4, 3)}),
    "transpose": (lambda v: v["a"].T * v["b"], {"a": (3, 4), "b": (4, 3)}),
    "expand_dims, squeeze": (lambda v: np.squeeze(np.expand_dims(v["a"], 0) * v["a"]),
                             {"a": (3, 4)}),
    "getitem (slices)": (lambda v: v["a"][1:, ::2] * 2, {"a": (3, 4)}),
    "getitem (repeated indices)": (lambda v: v["a"][[0, 2, 0]] ** 2, {"a": (3, 4)}),
    "concatenate": (lambda v: np.concatenate([v["a"], v["b"] * 2], axis=1),
                    {"a": (3, 4), "b": (3, 2)}),
    "stack": (lambda v: np.stack([v["a"], v["b"]], axis=-1), {"a": (3, 4), "b": (3, 4)}),
    "where": (lambda v: np.where(np.arange(4) % 2 == 0, v["a"], v["b"]),
              {"a": (3, 4), "b": (3, 4)}),
    "ops namespace": (lambda v: ops.mean(ops.square(ops.matmul(v["a"], v["b"])), axis=0),
                      {"a": (3, 4), "b": (4, 2)}),
    "activation functions": (lambda v: scratch.activations.softmax(
        scratch.activations.tanh(v["a"]) + scratch.activations.sigmoid(v["a"])), {"a": (3, 4)}),
    "loss object": (lambda v: scratch.losses.MeanSquaredError()(np.ones((3, 4)), v["a"]),
                    {"a": (3, 4)}),
    "loss function (per sample)": (
        lambda v: scratch.losses.binary_crossentropy(np.eye(3)[:, :2], v["a"] / 3),
        {"a": (3, 2)}),
    "sparse CE on softmax function (hidden logits)": (
        lambda v: scratch.losses.SparseCategoricalCrossentropy()(
            np.array([0, 2, 1]), scratch.activations.softmax(v["a"])), {"a": (3, 4)}),
}


@pytest.mark.parametrize("name", sorted(_OPS))
def test_op_gradient_matches_finite_differences(name):
    fn, shapes = _OPS[name]
    rng = np.random.default_rng(len(name))
    point = {k: _pos(s, rng) for k, s in shapes.items()}

    def vjp(v):
        tensors = {k: ops.convert_to_tensor(a) for k, a in point.items()}
        with GradientTape() as tape:
            tape.watch(list(tensors.values()))
            y = fn(tensors)
        assert isinstance(y, Tensor)
        return tape.gradient(y, tensors, output_gradients=v)

    gradcheck(lambda p: np.asarray(fn(p)), point, vjp)


def test_layer_gradient_through_the_tape_matches_finite_differences():
    rng = np.random.default_rng(1)
    with _scratch_floatx("float64"):
        model = lecture24("float64")
        x = rng.standard_normal((4, 20))

    def fn(p):
        return model(p["x"]).numpy() * p["s"]

    def vjp(v):
        xt, st = ops.convert_to_tensor(x), ops.convert_to_tensor(np.float64(1.5))
        with GradientTape() as tape:
            tape.watch([xt, st])
            y = model(xt) * st
        return dict(zip(["x", "s"], tape.gradient(y, [xt, st], output_gradients=v)))

    gradcheck(fn, {"x": x, "s": np.asarray(1.5)}, vjp)


# ------------------------------------------------------------------------- refusals
def _dense_and_data():
    layer = layers.Dense(3)
    x = np.random.default_rng(0).standard_normal((4, 2)).astype("float32")
    layer(x)
    return layer, x


@pytest.mark.parametrize("operation, name", [
    (lambda y: np.sin(y), "np.sin"),
    (lambda y: np.cumsum(y, axis=0), "np.cumsum"),
    (lambda y: y.view(), "view"),
    (lambda y: np.sort(y, axis=0), "np.sort"),
    (lambda y: y * np.linalg.norm(y), "np.norm"),
    (lambda y: scratch.layers.Dense(3)(np.sin(y)), "np.sin"),
])
def test_an_operation_the_tape_cannot_differentiate_is_named(operation, name):
    layer, x = _dense_and_data()
    with GradientTape() as tape:
        y = layer(x)
        loss = ops.mean(operation(y) * 2 + y)
    with pytest.raises(ValueError, match=name):
        tape.gradient(loss, layer.trainable_variables)


def test_in_place_change_of_a_recorded_value_is_refused():
    layer, x = _dense_and_data()
    with GradientTape():
        y = layer(x)
        with pytest.raises(ValueError, match="in-place"):
            y += 1
        with pytest.raises(ValueError, match="item assignment"):
            y[0] = 0


def test_target_the_tape_did_not_record_is_refused():
    layer, x = _dense_and_data()
    y = layer(x)  # before the tape: a constant
    with GradientTape() as tape:
        loss = np.mean(np.asarray(layer(x)))  # an explicit exit to a plain array
    with pytest.raises(ValueError, match="not computed by operations this tape recorded"):
        tape.gradient(loss, layer.trainable_variables)
    with GradientTape() as tape:
        loss = ops.mean(y)
    with pytest.raises(ValueError, match="no tape recorded"):
        tape.gradient(loss, layer.trainable_variables)


def test_recorded_y_true_is_refused():
    layer, x = _dense_and_data()
    with GradientTape(), pytest.raises(ValueError, match="y_true"):
        y = layer(x)
        scratch.losses.MeanSquaredError()(y, y)


def test_persistence_unconnected_sources_and_stop_recording():
    layer, x = _dense_and_data()
    other = layers.Dense(2)
    other(x)
    with GradientTape() as tape:
        loss = ops.sum(layer(x))
    tape.gradient(loss, layer.trainable_variables)
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.gradient(loss, layer.trainable_variables)
    with GradientTape(persistent=True) as tape:
        loss = ops.sum(layer(x))
        with tape.stop_recording():
            constant = ops.sum(layer(x))
    first = tape.gradient(loss, layer.trainable_variables)
    second = tape.gradient(loss, layer.trainable_variables + other.trainable_variables,
                           unconnected_gradients="zero")
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.any(second[-1]) and tape.gradient(loss, other.trainable_variables) == \
        [None, None]
    with pytest.raises(ValueError, match="no tape recorded"):
        tape.gradient(constant, layer.trainable_variables)


def test_variables_write_through_and_optimizers_take_them():
    layer, x = _dense_and_data()
    kernel = layer.trainable_variables[0]
    assert isinstance(kernel, Variable) and kernel.path == f"{layer.name}/kernel"
    kernel.assign(np.ones((2, 3)))
    assert np.array_equal(layer.get_weights()[0], np.ones((2, 3)))
    with pytest.raises(ValueError, match="must match"):
        kernel.assign(np.ones((3, 3)))
    opt = scratch.optimizers.SGD(0.5)
    opt.apply_gradients(zip([np.ones((2, 3), "float32"), np.ones(3, "float32")],
                            layer.trainable_variables))
    assert np.array_equal(layer.get_weights()[0], np.full((2, 3), 0.5, "float32"))
    model = scratch.Sequential([scratch.Input((2,)), layer])  # fit uses the same optimizer
    model.compile(optimizer=opt, loss="mse")
    model.train_on_batch(x, np.zeros((4, 3)))
    assert opt.iterations == 2
