"""Same seed, same numbers: scratch's random streams against tf.keras', bit for bit.

* `scratch.random.philox` against TensorFlow's stateless ops (uniform, normal, truncated
  normal) over hypothesis-chosen seeds, shapes and dtypes; the Numba Box–Muller step against
  its plain twin.
* Every initializer with an int seed, and with a SeedGenerator call after call, against
  Keras'; unseeded ones after `set_random_seed` (Python `random` draws in construction order).
* Each layer family built after the same `set_random_seed`: the initial weights of Dense,
  Conv1D/2D, Embedding, BatchNormalization, SimpleRNN/GRU/LSTM (kernels bitwise; the
  Orthogonal recurrent kernels to the last bits of the QR, within the `forward` tier).
* Dropout masks, call after call, in layers and in RNN dropout / recurrent_dropout.
* fit(shuffle=True)'s order: TensorFlow's RandomShuffle op with the seeds (s, 0) after
  `set_random_seed(s)`, the same order every epoch, as tf.keras visits the samples.
* Whole seeded fits with fit's defaults (shuffle included), no weight copying: a dense
  network with Dropout, a CNN, an LSTM and a text model give tf.keras' history and weights
  within the `training` tier.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratch
from scratch import initializers, random
from scratch.random import philox
from scratch.testing import assert_close

from conftest import cheap

DTYPES = ["float32", "float64"]
RANDOM_INITIALIZERS = ["random_uniform", "random_normal", "truncated_normal",
                       "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                       "lecun_uniform", "lecun_normal", "variance_scaling", "orthogonal"]


def _bitwise(ours, theirs, msg=""):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, msg
    differ = int(np.sum(ours != theirs))
    assert differ == 0, f"{msg}: {differ}/{ours.size} differ, max {np.max(np.abs(ours - theirs))}"


# ----------------------------------------------------------------------------- streams
@pytest.mark.parity
@cheap
@given(st.integers(0, 2**31 - 3), st.integers(0, 2**31 - 3),
       st.lists(st.integers(1, 23), min_size=0, max_size=3), st.sampled_from(DTYPES),
       st.sampled_from(["uniform", "normal", "truncated_normal"]))
def test_philox_streams_are_tensorflows(tf, s0, s1, shape, dtype, kind):
    ours = getattr(philox, kind)(tuple(shape), (s0, s1), dtype)
    op = {"uniform": tf.random.stateless_uniform, "normal": tf.random.stateless_normal,
          "truncated_normal": tf.random.stateless_truncated_normal}[kind]
    theirs = op(shape, seed=tf.constant([s0, s1], tf.int32), dtype=dtype).numpy()
    _bitwise(ours, theirs, f"{kind} {dtype} {shape} seed=({s0}, {s1})")


def test_truncated_normal_groups_that_need_many_blocks():
    """A group keeps drawing past its first 4 blocks when its values fall outside ±2: the
    rare path, forced here by asking for many groups."""
    z = philox.truncated_normal((40_000,), (3, 4), "float32")
    assert np.all(np.abs(z) < 2) and abs(float(np.mean(z))) < 0.02


@pytest.mark.parametrize("dtype", DTYPES)
def test_box_muller_kernel_equals_its_readable_twin(dtype):
    rng = np.random.default_rng(0)
    u1, u2 = rng.random(2000).astype(dtype), rng.random(2000).astype(dtype)
    u1[:3] = [0.0, 1e-9, 0.5]  # below the 1e-7 floor, and an ordinary value
    for ours, twin in zip(philox._box_muller(u1, u2), philox.box_muller_readable(u1, u2)):
        _bitwise(ours, twin)


def test_philox_known_answer():
    """Random123's published known-answer vector for Philox-4x32-10 (counter and key all
    ones bits): the generator itself, independent of TensorFlow."""
    counter = np.full((4, 1), 0xFFFFFFFF, np.uint32)
    out = philox.philox(counter, (0xFFFFFFFF, 0xFFFFFFFF))[:, 0]
    assert [hex(w) for w in out] == ["0x408f276d", "0x41c83b0e", "0xa20bc7c6", "0x6d5451fd"]


def test_seed_generator_and_draw_seed():
    gen = random.SeedGenerator(5)
    assert [random.draw_seed(gen) for _ in range(3)] == [(5, 0), (5, 1), (5, 2)]
    assert random.draw_seed(2**31 + 7) == ((2**31 + 7) % (2**31 - 2), 0)
    with pytest.raises(ValueError, match="Received: seed='x'"):
        random.draw_seed("x")
    with pytest.raises(ValueError, match="seed=1.5"):
        random.SeedGenerator(1.5)


@pytest.mark.parity
@pytest.mark.parametrize("kind", ["uniform", "normal", "truncated_normal"])
def test_keras_random_functions(tf_keras, kind):
    """`scratch.random.<kind>` with an int seed and with a SeedGenerator, three calls."""
    ours_fn, theirs_fn = getattr(random, kind), getattr(tf_keras.random, kind)
    kwargs = {"minval": -0.3, "maxval": 2.5} if kind == "uniform" else {"mean": 1.5,
                                                                         "stddev": 0.7}
    for dtype in DTYPES:
        _bitwise(ours_fn((5, 7), dtype=dtype, seed=11, **kwargs),
                 theirs_fn((5, 7), dtype=dtype, seed=11, **kwargs).numpy(), f"{kind} {dtype}")
        ours_gen, theirs_gen = random.SeedGenerator(9), tf_keras.random.SeedGenerator(9)
        for call in range(3):
            _bitwise(ours_fn((6,), dtype=dtype, seed=ours_gen, **kwargs),
                     theirs_fn((6,), dtype=dtype, seed=theirs_gen, **kwargs).numpy(),
                     f"{kind} {dtype} call {call}")


# ----------------------------------------------------------------------------- initializers
def _initializer_pair(tf_keras, name, seed_of):
    config = {"class_name": name, "config": {"seed": seed_of("ours")}}
    ours = initializers.get(config)
    theirs = tf_keras.initializers.get({"class_name": name,
                                        "config": {"seed": seed_of("theirs")}})
    return ours, theirs


def _assert_initial_values(ours, theirs, name, dtype, msg):
    if name == "orthogonal":  # QR: LAPACK and Eigen round differently in the last bits
        assert_close(ours, theirs, kind="forward", dtype=dtype, msg=msg)
    else:
        _bitwise(ours, theirs, msg)


@pytest.mark.parity
@pytest.mark.parametrize("name", RANDOM_INITIALIZERS)
def test_seeded_initializers_are_kerass(tf_keras, name):
    for dtype in DTYPES:
        for shape in [(7, 5), (3, 3, 4, 8), (40, 160)]:
            ours, theirs = _initializer_pair(tf_keras, name, lambda side: 1234)
            _assert_initial_values(ours(shape, dtype=dtype), theirs(shape, dtype=dtype).numpy(),
                                   name, dtype, f"{name} {dtype} {shape}")


@pytest.mark.parity
@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal", "random_normal"])
def test_seed_generator_initializers_move_on_like_kerass(tf_keras, name):
    ours = type(initializers.get(name))(seed=random.SeedGenerator(3))
    theirs = type(tf_keras.initializers.get(name))(seed=tf_keras.random.SeedGenerator(3))
    for call in range(3):
        _bitwise(ours((4, 6)), theirs((4, 6)).numpy(), f"{name} call {call}")


@pytest.mark.parity
@pytest.mark.parametrize("name", RANDOM_INITIALIZERS)
def test_unseeded_initializers_after_set_random_seed(tf_keras, name):
    tf_keras.utils.set_random_seed(99)
    theirs = [tf_keras.initializers.get(name) for _ in range(2)]
    k_values = [t((6, 5)).numpy() for t in theirs]
    scratch.utils.set_random_seed(99)
    ours = [initializers.get(name) for _ in range(2)]
    for o, k in zip(ours, k_values):
        _assert_initial_values(o((6, 5)), k, name, "float32", name)


# ----------------------------------------------------------------------------- layers
def _seeded_weights(tf_keras, build, seed=7):
    """Build the same model code in both engines after the same seed; their weights."""
    tf_keras.utils.set_random_seed(seed)
    kmodel = build(tf_keras)
    scratch.utils.set_random_seed(seed)
    model = build(scratch)
    return model, kmodel


def _assert_same_initial_weights(model, kmodel, dtype="float32"):
    kweights = {w.path: w.numpy() for w in kmodel.weights}
    ours, theirs = model.get_weights(), kmodel.get_weights()
    assert len(ours) == len(theirs)
    names = [w.path for w in kmodel.weights]
    for name, a, b in zip(names, ours, theirs):
        if "recurrent_kernel" in name:  # Orthogonal: the QR's last bits
            assert_close(a, b, kind="forward", dtype=dtype, msg=name)
        else:
            _bitwise(a, b, name)
    assert kweights


LAYER_FAMILIES = {
    "dense": lambda k: k.Sequential([k.Input((10,)), k.layers.Dense(8, activation="relu"),
                                     k.layers.Dropout(0.3), k.layers.Dense(3)]),
    "conv2d": lambda k: k.Sequential([
        k.Input((12, 12, 3)), k.layers.Conv2D(4, 3, activation="relu"),
        k.layers.BatchNormalization(), k.layers.MaxPooling2D(), k.layers.Flatten(),
        k.layers.Dense(5, kernel_initializer="he_normal")]),
    "conv1d_text": lambda k: k.Sequential([
        k.Input((9,)), k.layers.Embedding(30, 6), k.layers.Conv1D(5, 3, activation="relu"),
        k.layers.GlobalMaxPooling1D(), k.layers.Dense(1, activation="sigmoid")]),
    "simple_rnn": lambda k: k.Sequential([k.Input((5, 3)), k.layers.SimpleRNN(4, dropout=0.2),
                                          k.layers.Dense(1)]),
    "gru": lambda k: k.Sequential([k.Input((5, 3)), k.layers.GRU(4, return_sequences=True),
                                   k.layers.GRU(3), k.layers.Dense(2)]),
    "lstm": lambda k: k.Sequential([k.Input((5, 3)),
                                    k.layers.LSTM(4, dropout=0.1, recurrent_dropout=0.2),
                                    k.layers.Dense(1, kernel_initializer="lecun_normal")]),
}


@pytest.mark.parity
@pytest.mark.parametrize("family", sorted(LAYER_FAMILIES))
def test_same_seed_same_initial_weights(tf_keras, family):
    model, kmodel = _seeded_weights(tf_keras, LAYER_FAMILIES[family])
    _assert_same_initial_weights(model, kmodel)


@pytest.mark.parity
def test_float64_layers_get_kerass_float64_draws(tf_keras):
    def build(k):
        return k.Sequential([k.Input((5, 3)), k.layers.LSTM(4, dtype="float64"),
                             k.layers.Dense(2, kernel_initializer="he_normal", dtype="float64")])

    model, kmodel = _seeded_weights(tf_keras, build)
    assert model.get_weights()[0].dtype == np.float64
    _assert_same_initial_weights(model, kmodel, "float64")


# ----------------------------------------------------------------------------- dropout
@pytest.mark.parity
@pytest.mark.parametrize("seed", [None, 17])
@pytest.mark.parametrize("noise_shape", [None, (None, 1, 4)])
def test_dropout_masks_call_after_call(tf_keras, seed, noise_shape):
    x = np.random.default_rng(0).standard_normal((3, 5, 4)).astype("float32")
    tf_keras.utils.set_random_seed(4)
    theirs = tf_keras.layers.Dropout(0.35, noise_shape=noise_shape, seed=seed)
    k_out = [theirs(x, training=True).numpy() for _ in range(3)]
    scratch.utils.set_random_seed(4)
    ours = scratch.layers.Dropout(0.35, noise_shape=noise_shape, seed=seed)
    for call, k in enumerate(k_out):
        _bitwise(ours(x, training=True), k, f"call {call}")


@pytest.mark.parity
@pytest.mark.parametrize("layer", ["SimpleRNN", "GRU", "LSTM"])
def test_rnn_dropout_masks_follow_kerass_stream(tf_keras, layer):
    """Same seed → same weights (up to the QR's last bits) and the same dropout and
    recurrent-dropout masks, two training calls in a row."""
    x = np.random.default_rng(1).standard_normal((4, 6, 3)).astype("float32")

    def build(k):
        return k.Sequential([k.Input((6, 3)), getattr(k.layers, layer)(
            5, dropout=0.3, recurrent_dropout=0.25, return_sequences=True)])

    model, kmodel = _seeded_weights(tf_keras, build, seed=21)
    for call in range(2):
        assert_close(model(x, training=True), kmodel(x, training=True).numpy(),
                     kind="forward", dtype="float32", msg=f"call {call}")


# ----------------------------------------------------------------------------- shuffling
class _Recorder:
    """A tf.keras layer class that records the first feature of each training batch."""

    @staticmethod
    def make(tf_keras, seen):
        class Record(tf_keras.layers.Layer):
            def call(self, x, training=None):
                if training:
                    seen.extend(int(v) for v in np.asarray(x)[:, 0])
                return x
        return Record()


@pytest.mark.parity
@pytest.mark.parametrize("seed,n", [(0, 10), (7, 96), (1234, 301)])
def test_fit_shuffle_order_is_tf_kerass(tf_keras, seed, n):
    seen: list[int] = []
    tf_keras.utils.set_random_seed(seed)
    x = np.arange(n, dtype="float32")[:, None]
    model = tf_keras.Sequential([tf_keras.Input((1,)), _Recorder.make(tf_keras, seen),
                                 tf_keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    model.fit(x, x, batch_size=32, epochs=2, verbose=0)
    scratch.utils.set_random_seed(seed)
    for epoch in range(2):
        assert random.fit_shuffle_order(n).tolist() == seen[epoch * n:(epoch + 1) * n]


def test_unseeded_shuffles_differ_between_epochs():
    random.reset_global_seed_generator(None)
    assert not np.array_equal(random.fit_shuffle_order(50), random.fit_shuffle_order(50))


# ----------------------------------------------------------------------------- whole fits
def _dense_dropout(k):
    return k.Sequential([k.Input((64,)), k.layers.Dense(32, activation="relu"),
                         k.layers.Dropout(0.2), k.layers.Dense(10, activation="softmax")])


def _cnn(k):
    return k.Sequential([k.Input((8, 8, 1)), k.layers.Conv2D(6, 3, activation="relu"),
                         k.layers.MaxPooling2D(), k.layers.Flatten(), k.layers.Dropout(0.25),
                         k.layers.Dense(10, activation="softmax")])


def _lstm(k):
    return k.Sequential([k.Input((8, 8)), k.layers.LSTM(12, dropout=0.1),
                         k.layers.Dense(1, activation="sigmoid")])


def _text(k):
    return k.Sequential([k.Input((12,)), k.layers.Embedding(40, 8),
                         k.layers.Conv1D(8, 3, activation="relu"),
                         k.layers.GlobalMaxPooling1D(), k.layers.Dense(1, activation="sigmoid")])


def _data(family):
    rng = np.random.default_rng(5)
    if family == "text":
        return rng.integers(0, 40, (96, 12)), rng.integers(0, 2, 96)
    if family == "lstm":  # a learnable label, so that few predictions sit on the threshold
        x = rng.standard_normal((96, 8, 8)).astype("float32")
        return x, (x[:, :, 0].sum(axis=1) > 0).astype("float32")
    x = rng.standard_normal((96, 64)).astype("float32")
    shape = {"dense": (96, 64), "cnn": (96, 8, 8, 1), "lstm": (96, 8, 8)}[family]
    return x.reshape(shape), rng.integers(0, 10, 96)


@pytest.mark.parity
@pytest.mark.parametrize("family,build", [("dense", _dense_dropout), ("cnn", _cnn),
                                          ("lstm", _lstm), ("text", _text)])
def test_seeded_fit_matches_without_copying_weights(tf_keras, family, build):
    x, y = _data(family)
    binary = family in ("text", "lstm")
    loss = "binary_crossentropy" if binary else "sparse_categorical_crossentropy"
    histories, weights = [], []
    for engine in (tf_keras, scratch):
        engine.utils.set_random_seed(1)
        model = build(engine)
        model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
        h = model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_split=0.25)
        histories.append(h.history)
        weights.append(model.get_weights())
    (kh, h), (kw, w) = histories, weights
    for key in kh:
        assert_close(np.array(h[key]), np.array(kh[key]), kind="training", dtype="float32",
                     msg=key)
    for a, b in zip(w, kw):
        assert_close(a, b, kind="training", dtype="float32")


@cheap
@given(st.integers(0, 2**31 - 3), st.integers(0, 2**31 - 3), st.integers(0, 2**64 - 1),
       st.integers(1, 300))
def test_philox_kernel_equals_the_numpy_rounds(s0, s1, first, n):
    """The Numba Philox (the fast path) against the readable NumPy rounds, bit for bit, block
    numbers that wrap the 64-bit half of the counter included."""
    with np.errstate(over="ignore"):  # block numbers past 2⁶⁴ − 1 wrap, as the counter does
        numbers = np.uint64(first) + np.arange(n, dtype=np.uint64)
    fast = philox._blocks((s0, s1), numbers)
    with scratch.backend.fast_paths(False):
        readable = philox._blocks((s0, s1), numbers)
    assert fast.dtype == readable.dtype == np.uint32
    assert np.array_equal(fast, readable)


@cheap
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_seed_scrambling_kernel_equals_the_numpy_rounds(s0, s1):
    fast = philox.key_and_counter((s0, s1))
    with scratch.backend.fast_paths(False):
        assert philox.key_and_counter((s0, s1)) == fast


@cheap
@given(st.integers(0, 2**31 - 3), st.integers(0, 2**31 - 3),
       st.lists(st.integers(0, 19), min_size=0, max_size=3))
def test_float32_uniform_kernel_equals_the_numpy_stream(s0, s1, shape):
    fast = philox.uniform(tuple(shape), (s0, s1), "float32")
    with scratch.backend.fast_paths(False):
        readable = philox.uniform(tuple(shape), (s0, s1), "float32")
    assert fast.dtype == readable.dtype == np.float32 and fast.shape == readable.shape
    assert np.array_equal(fast, readable)


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 2047, 2048, 2049, 2051, 4099, 10_001])
def test_float32_uniform_kernel_across_its_chunks(n):
    """The kernel works 512 blocks (2,048 numbers) at a time: sizes at and across the
    chunk and block edges give the NumPy stream's numbers."""
    fast = philox.uniform((n,), (7, 2**40 + 3), "float32")
    with scratch.backend.fast_paths(False):
        readable = philox.uniform((n,), (7, 2**40 + 3), "float32")
    assert np.array_equal(fast, readable)
