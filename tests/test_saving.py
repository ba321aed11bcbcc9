"""Model files: `.keras`, `.weights.h5` and legacy `.h5`, scratch ⇄ tf.keras, and resuming.

* every layer scratch has, float32 and float64: scratch → file → scratch (bitwise), scratch →
  file → tf.keras and tf.keras → file → scratch (weights bitwise, outputs within "forward");
* hypothesis: small random Sequential/functional models, compiled and trained a step, through
  tf.keras and back (weights and optimizer state bitwise, in Keras' variable order);
* resuming: save mid-training, reload, continue == one uninterrupted run, bitwise (scratch) and
  within "weights_after_steps" when tf.keras trained the first half;
* legacy Keras 2 `.h5` files (hand-written in the Keras 2 layout) load in both engines alike;
* ModelCheckpoint.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import warnings

import h5py
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratch
from scratch.layers.base import Layer
from scratch.models import Model, Sequential, load_model
from scratch.saving.keras_format import layer_class
from scratch.saving.weights_h5 import model_entries, optimizer_layout
from scratch.testing import assert_close
from tests.conftest import expensive

DTYPES = ["float32", "float64"]


class _ScratchLayers:
    """`L.Dense(...)` for scratch, like `keras.layers.Dense(...)` (any scratch layers module)."""

    def __getattr__(self, name):
        return layer_class(name)


SL = _ScratchLayers()

# name -> (factory(L, dtype) -> layer, input specs: (shape, vocab or None))
CASES = {
    "Dense": (lambda L, d: L.Dense(3, activation="tanh", dtype=d), [((4,), None)]),
    "Activation": (lambda L, d: L.Activation("sigmoid", dtype=d), [((4,), None)]),
    "Softmax": (lambda L, d: L.Softmax(dtype=d), [((3,), None)]),
    "ReLU": (lambda L, d: L.ReLU(max_value=1.0, negative_slope=0.1, dtype=d), [((4,), None)]),
    "LeakyReLU": (lambda L, d: L.LeakyReLU(negative_slope=0.2, dtype=d), [((4,), None)]),
    "ELU": (lambda L, d: L.ELU(alpha=0.5, dtype=d), [((4,), None)]),
    "Flatten": (lambda L, d: L.Flatten(dtype=d), [((2, 3), None)]),
    "Reshape": (lambda L, d: L.Reshape((3, 2), dtype=d), [((6,), None)]),
    "Dropout": (lambda L, d: L.Dropout(0.3, dtype=d), [((4,), None)]),
    "Conv1D": (lambda L, d: L.Conv1D(3, 2, padding="same", activation="relu", dtype=d),
               [((6, 2), None)]),
    "Conv2D": (lambda L, d: L.Conv2D(2, (2, 3), strides=(1, 2), dtype=d), [((5, 5, 2), None)]),
    "MaxPooling1D": (lambda L, d: L.MaxPooling1D(2, dtype=d), [((6, 2), None)]),
    "MaxPooling2D": (lambda L, d: L.MaxPooling2D((2, 2), dtype=d), [((4, 4, 2), None)]),
    "AveragePooling1D": (lambda L, d: L.AveragePooling1D(2, dtype=d), [((6, 2), None)]),
    "AveragePooling2D": (lambda L, d: L.AveragePooling2D((2, 2), dtype=d), [((4, 4, 2), None)]),
    "GlobalMaxPooling1D": (lambda L, d: L.GlobalMaxPooling1D(dtype=d), [((5, 2), None)]),
    "GlobalMaxPooling2D": (lambda L, d: L.GlobalMaxPooling2D(dtype=d), [((3, 3, 2), None)]),
    "GlobalAveragePooling1D": (lambda L, d: L.GlobalAveragePooling1D(dtype=d),
                               [((5, 2), None)]),
    "GlobalAveragePooling2D": (lambda L, d: L.GlobalAveragePooling2D(dtype=d),
                               [((3, 3, 2), None)]),
    "BatchNormalization": (lambda L, d: L.BatchNormalization(dtype=d), [((4,), None)]),
    "LayerNormalization": (lambda L, d: L.LayerNormalization(dtype=d), [((2, 4), None)]),
    "SimpleRNN": (lambda L, d: L.SimpleRNN(3, dtype=d), [((4, 2), None)]),
    "GRU": (lambda L, d: L.GRU(3, return_sequences=True, dtype=d), [((4, 2), None)]),
    "LSTM": (lambda L, d: L.LSTM(3, go_backwards=True, dtype=d), [((4, 2), None)]),
    "RNN": (lambda L, d: L.RNN(L.LSTMCell(2, dtype=d), dtype=d), [((4, 2), None)]),
    "Embedding": (lambda L, d: L.Embedding(7, 3, dtype=d), [((5,), 7)]),
    "Add": (lambda L, d: L.Add(dtype=d), [((4,), None), ((4,), None)]),
    "Subtract": (lambda L, d: L.Subtract(dtype=d), [((4,), None), ((4,), None)]),
    "Multiply": (lambda L, d: L.Multiply(dtype=d), [((4,), None), ((4,), None)]),
    "Average": (lambda L, d: L.Average(dtype=d), [((4,), None), ((4,), None)]),
    "Maximum": (lambda L, d: L.Maximum(dtype=d), [((4,), None), ((4,), None)]),
    "Minimum": (lambda L, d: L.Minimum(dtype=d), [((4,), None), ((4,), None)]),
    "Concatenate": (lambda L, d: L.Concatenate(dtype=d), [((4,), None), ((3,), None)]),
    "Dot": (lambda L, d: L.Dot(axes=1, dtype=d), [((4,), None), ((4,), None)]),
    "DepthwiseConv2D": (lambda L, d: L.DepthwiseConv2D(2, depth_multiplier=2, padding="same",
                                                       dtype=d), [((4, 4, 2), None)]),
    "SeparableConv2D": (lambda L, d: L.SeparableConv2D(3, 2, activation="relu", dtype=d),
                        [((4, 4, 2), None)]),
    "ZeroPadding1D": (lambda L, d: L.ZeroPadding1D((1, 2), dtype=d), [((4, 2), None)]),
    "ZeroPadding2D": (lambda L, d: L.ZeroPadding2D(((1, 0), (2, 1)), dtype=d),
                      [((3, 3, 2), None)]),
    "Cropping1D": (lambda L, d: L.Cropping1D((1, 2), dtype=d), [((5, 2), None)]),
    "Cropping2D": (lambda L, d: L.Cropping2D(((1, 0), (0, 1)), dtype=d), [((4, 4, 2), None)]),
    "UpSampling1D": (lambda L, d: L.UpSampling1D(3, dtype=d), [((3, 2), None)]),
    "UpSampling2D": (lambda L, d: L.UpSampling2D((2, 1), dtype=d), [((3, 3, 2), None)]),
    "GaussianNoise": (lambda L, d: L.GaussianNoise(0.2, seed=1, dtype=d), [((4,), None)]),
    "GaussianDropout": (lambda L, d: L.GaussianDropout(0.2, dtype=d), [((4,), None)]),
    "RepeatVector": (lambda L, d: L.RepeatVector(3, dtype=d), [((4,), None)]),
    "Permute": (lambda L, d: L.Permute((2, 1), dtype=d), [((3, 4), None)]),
    "Conv1DTranspose": (lambda L, d: L.Conv1DTranspose(2, 3, strides=2, dtype=d),
                        [((4, 2), None)]),
    "Conv2DTranspose": (lambda L, d: L.Conv2DTranspose(2, (3, 2), strides=2, padding="same",
                                                       output_padding=1, dtype=d),
                        [((3, 3, 2), None)]),
    "TimeDistributed": (lambda L, d: L.TimeDistributed(L.Dense(2, dtype=d), dtype=d),
                        [((3, 4), None)]),
    "Bidirectional": (lambda L, d: L.Bidirectional(
        L.LSTM(2, return_sequences=True, dtype=d),
        backward_layer=L.LSTM(2, return_sequences=True, go_backwards=True, dtype=d),
        merge_mode="sum", dtype=d), [((4, 3), None)]),
    "Attention": (lambda L, d: L.Attention(use_scale=True, score_mode="concat", dtype=d),
                  [((4, 3), None), ((5, 3), None)]),
    "MultiHeadAttention": (lambda L, d: L.MultiHeadAttention(2, 3, dtype=d),
                           [((4, 3), None), ((5, 2), None)]),
}
# Layers called with their inputs as separate arguments, `layer(query, value)` (Keras'
# signature), not on a list.
POSITIONAL_INPUTS = {"MultiHeadAttention"}
# tf.keras 3.15 cannot load these from a legacy .h5 file, not even one it wrote itself
# (Attention's score_mode "dot" comes back as the function keras.ops.dot).
KERAS_CANNOT_LOAD_H5 = {"Attention"}
# Building blocks that are not layers of a model on their own.
NOT_MODEL_LAYERS = {"Layer", "InputLayer", "RecurrentCell", "SimpleRNNCell", "GRUCell",
                    "LSTMCell",
                    # the base of Keras-style layers; Lambda's files need safe_mode=False
                    # (both in tests/test_lambda.py)
                    "SubclassedLayer", "Lambda"}


def _scratch_layer_classes() -> set[str]:
    import scratch.layers as pkg

    names = set()
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, Layer) and not name.startswith("_") \
                    and obj.__module__.startswith("scratch.layers") and obj.__name__ == name:
                names.add(name)
    return names


def test_every_scratch_layer_has_a_file_case():
    missing = _scratch_layer_classes() - set(CASES) - NOT_MODEL_LAYERS
    assert not missing, f"add a round-trip case to CASES for: {sorted(missing)}"


# ------------------------------------------------------------------------------ helpers
def _inputs(specs, dtype, rng, n=3):
    return [rng.integers(0, vocab, size=(n,) + shape).astype("int32") if vocab
            else rng.standard_normal((n,) + shape).astype(dtype) for shape, vocab in specs]


def _value(name: str, shape, dtype, rng):
    if "variance" in name:
        return rng.uniform(0.5, 1.5, shape).astype(dtype)
    return (0.5 * rng.standard_normal(shape)).astype(dtype)


def _randomize(model, rng) -> None:
    for name, w in zip(model.weight_names, model.weights):
        w[...] = _value(name, w.shape, w.dtype, rng)


def _randomize_keras(kmodel, rng) -> None:
    for v in kmodel.weights:
        v.assign(_value(v.path, tuple(v.shape), v.dtype, rng))


def _keras_order(model) -> list[np.ndarray]:
    return [w for e in model_entries(model) for w in e.arrays]


def _assert_bitwise(actual: list, expected: list, what: str = "") -> None:
    assert len(actual) == len(expected), f"{what}: {len(actual)} vs {len(expected)} arrays"
    for i, (a, e) in enumerate(zip(actual, expected)):
        a, e = np.asarray(a), np.asarray(e)
        assert a.dtype == e.dtype and a.shape == e.shape and np.array_equal(a, e), \
            f"{what}: array {i} differs ({a.dtype}{a.shape} vs {e.dtype}{e.shape})"


def _as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _call(name, layer, xs):
    if name in POSITIONAL_INPUTS:
        return layer(*xs)
    return layer(xs if len(xs) > 1 else xs[0])


def _single_layer_model(name, dtype):
    factory, specs = CASES[name]
    ins = [scratch.Input(shape=s, dtype="int32" if v else dtype) for s, v in specs]
    layer = factory(SL, dtype)
    out = _call(name, layer, ins)
    return Model(ins if len(ins) > 1 else ins[0], out), specs


def _combined(L, Input, ModelCls, dtype, exclude=()):
    """One model with a branch per layer case (names fixed, so both engines agree)."""
    ins, outs, names = [], [], []
    for name, (factory, specs) in CASES.items():
        if name in exclude:
            continue
        xs = [Input(shape=s, dtype="int32" if v else dtype, name=f"{name.lower()}_in{i}")
              for i, (s, v) in enumerate(specs)]
        layer = factory(L, dtype)
        layer.name = f"{name.lower()}_layer"
        ins += xs
        outs.append(_call(name, layer, xs))
        names.append(layer.name)
    return ModelCls(ins, outs), names


def _combined_inputs(dtype, seed, exclude=()):
    rng = np.random.default_rng(seed)
    return [x for name, (_, specs) in CASES.items() if name not in exclude
            for x in _inputs(specs, dtype, rng)]


# ------------------------------------------------------------------------------ per layer
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_round_trip_in_scratch(tmp_path, name, dtype):
    """.keras, .weights.h5 and legacy .h5: weights and outputs come back bitwise."""
    rng = np.random.default_rng(7)
    model, specs = _single_layer_model(name, dtype)
    _randomize(model, rng)
    xs = _inputs(specs, dtype, rng)
    x = xs if len(xs) > 1 else xs[0]
    y = model.predict(x, verbose=0)
    for ext in (".keras", ".h5"):
        path = str(tmp_path / f"m{ext}")
        model.save(path)
        back = load_model(path)
        assert [type(l).__name__ for l in back.layers] == [type(l).__name__
                                                            for l in model.layers]
        _assert_bitwise(_keras_order(back), _keras_order(model), f"{name} {ext}")
        assert np.array_equal(back.predict(x, verbose=0), y)
    model.save_weights(str(tmp_path / "m.weights.h5"))
    for w in back.weights:
        w[...] = 0
    back.load_weights(str(tmp_path / "m.weights.h5"))
    _assert_bitwise(_keras_order(back), _keras_order(model), f"{name} .weights.h5")


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_layer_scratch_to_tf_keras(tmp_path, tf_keras, dtype):
    for ext in (".keras", ".h5"):
        exclude = KERAS_CANNOT_LOAD_H5 if ext == ".h5" else ()
        model, names = _combined(SL, scratch.Input, Model, dtype, exclude)
        _randomize(model, np.random.default_rng(1))
        xs = _combined_inputs(dtype, 2, exclude)
        ys = model.predict(xs, verbose=0)
        path = str(tmp_path / f"all{ext}")
        model.save(path)
        kmodel = tf_keras.models.load_model(path)
        for name in names:
            _assert_bitwise(kmodel.get_layer(name).get_weights(),
                            model.get_layer(name).get_weights(), f"{name} ({ext})")
        kys = [np.asarray(y) for y in kmodel(xs, training=False)]
        for name, y, ky in zip(names, ys, kys):
            assert y.dtype == ky.dtype
            assert_close(y, ky, kind="forward", dtype=dtype, msg=f"{name} via {ext}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_layer_tf_keras_to_scratch(tmp_path, tf_keras, dtype):
    kmodel, names = _combined(tf_keras.layers, tf_keras.Input, tf_keras.Model, dtype)
    _randomize_keras(kmodel, np.random.default_rng(3))
    xs = _combined_inputs(dtype, 4)
    kys = [np.asarray(y) for y in kmodel(xs, training=False)]
    for ext in (".keras", ".h5"):
        path = str(tmp_path / f"all{ext}")
        kmodel.save(path)
        model = load_model(path)
        for name in names:
            _assert_bitwise(model.get_layer(name).get_weights(),
                            kmodel.get_layer(name).get_weights(), f"{name} ({ext})")
        for name, y, ky in zip(names, model.predict(xs, verbose=0), kys):
            assert y.dtype == ky.dtype
            assert_close(y, ky, kind="forward", dtype=dtype, msg=f"{name} via {ext}")


# ------------------------------------------------------------------------------ graph features
def _graph_cases(keras):
    L = keras.layers

    def deferred():
        m = keras.Sequential([L.Dense(2, name="d0"), L.Dense(1, name="d1")])
        m.build((None, 3))
        return m, [(3,)]

    def dict_inputs():
        p, q = keras.Input((3,), name="p"), keras.Input((2,), name="q")
        return keras.Model({"p": p, "q": q}, L.Dense(1)(L.Concatenate()([p, q]))), \
            {"p": (3,), "q": (2,)}

    def nested_shared_frozen():
        si = keras.Input((3,))
        sub = keras.Model(si, L.Dense(3, name="sd")(si), name="subf")
        seq = keras.Sequential([keras.Input((3,)), L.Dense(3, name="sq")], name="subs")
        i = keras.Input((3,))
        h = sub(i)
        shared = L.Dense(3, name="shared")
        m = keras.Model(i, [shared(shared(seq(sub(h)))), h])
        m.get_layer("shared").trainable = False
        m.get_layer("subs").layers[0].trainable = False
        return m, [(3,)]

    def initial_state():
        x = keras.Input((5, 2))
        out, h, c = L.LSTM(3, return_state=True)(x)
        return keras.Model(x, [L.LSTM(3, name="second")(x, initial_state=[h, c]), out]), \
            [(5, 2)]

    def frozen_model():
        m = keras.Sequential([keras.Input((3,)), L.Dense(2), L.BatchNormalization()])
        m.trainable = False
        return m, [(3,)]

    return {"deferred": deferred, "dict_inputs": dict_inputs, "initial_state": initial_state,
            "nested_shared_frozen": nested_shared_frozen, "frozen_model": frozen_model}


@pytest.mark.parametrize("case", ["deferred", "dict_inputs", "initial_state",
                                  "nested_shared_frozen", "frozen_model"])
def test_graph_features_tf_keras_to_scratch_and_back(tmp_path, tf_keras, case):
    """Deferred Sequential, dict inputs, nested functional/Sequential models, a shared layer
    called twice, frozen layers, RNN states passed as `initial_state`: tf.keras → scratch →
    tf.keras, weights bitwise and trainable flags kept at every level."""
    kmodel, shapes = _graph_cases(tf_keras)[case]()
    _randomize_keras(kmodel, np.random.default_rng(5))
    rng = np.random.default_rng(6)
    if isinstance(shapes, dict):
        x = {k: rng.standard_normal((4,) + s).astype("float32") for k, s in shapes.items()}
    else:
        x = [rng.standard_normal((4,) + s).astype("float32") for s in shapes]
        x = x[0] if len(x) == 1 else x
    kmodel.save(str(tmp_path / "k.keras"))
    model = load_model(str(tmp_path / "k.keras"))
    _assert_bitwise(_keras_order(model), kmodel.get_weights(), "scratch")
    kys = kmodel(x, training=False)
    kys = list(kys.values()) if isinstance(kys, dict) else _as_list(kys)
    for y, ky in zip(_as_list(model.predict(x, verbose=0)), kys):
        assert_close(y, np.asarray(ky), kind="forward", dtype="float32", msg=case)
    model.save(str(tmp_path / "s.keras"))
    back = tf_keras.models.load_model(str(tmp_path / "s.keras"))
    _assert_bitwise(back.get_weights(), kmodel.get_weights(), "tf.keras again")

    def flags(m):
        out = [m.trainable]
        for layer in m.layers:
            out += flags(layer) if hasattr(layer, "layers") else [layer.trainable]
        return out

    assert flags(model) == flags(kmodel)
    # tf.keras' loader drops a Sequential's own trainable=False (on its own files too).
    assert flags(back)[1:] == flags(kmodel)[1:]


# ------------------------------------------------------------------------------ random models
_BLOCKS = ["dense", "dense", "bn", "ln", "dropout", "activation"]
_OPTIMIZERS = {
    "sgd": lambda: scratch.optimizers.SGD(0.05),
    "momentum": lambda: scratch.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: scratch.optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: scratch.optimizers.AdamW(0.01),
    "rmsprop": lambda: scratch.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: scratch.optimizers.Adagrad(0.1),
}


@st.composite
def model_specs(draw):
    depth = draw(st.integers(1, 3))
    return {
        "dtype": draw(st.sampled_from(DTYPES)),
        "functional": draw(st.booleans()),
        "n_in": draw(st.integers(1, 4)),
        "blocks": draw(st.lists(st.sampled_from(_BLOCKS), min_size=depth, max_size=depth)),
        "units": draw(st.lists(st.integers(1, 4), min_size=depth, max_size=depth)),
        "activation": draw(st.sampled_from(["linear", "relu", "tanh", "sigmoid", "elu"])),
        "frozen": draw(st.booleans()),
        "optimizer": draw(st.sampled_from(sorted(_OPTIMIZERS))),
        "seed": draw(st.integers(0, 2**16)),
    }


def _build(spec):
    d = spec["dtype"]
    L = SL
    blocks = {"dense": lambda u: L.Dense(u, activation=spec["activation"], dtype=d),
              "bn": lambda u: L.BatchNormalization(dtype=d),
              "ln": lambda u: L.LayerNormalization(dtype=d),
              "dropout": lambda u: L.Dropout(0.25, dtype=d),
              "activation": lambda u: L.Activation(spec["activation"], dtype=d)}
    chain = [blocks[b](u) for b, u in zip(spec["blocks"], spec["units"])]
    inp = scratch.Input(shape=(spec["n_in"],), dtype=d)
    if spec["functional"]:
        x = inp
        for layer in chain:
            x = layer(x)
        side = L.Dense(2, dtype=d)(inp)
        main = L.Dense(1, dtype=d)(L.Concatenate(dtype=d)([x, side]))
        model = Model(inp, [main, side])
        loss = ["mse", "mae"]
    else:
        model = Sequential([inp] + chain + [L.Dense(1, dtype=d)])
        loss = "mse"
    if spec["frozen"]:
        [l for l in model.layers if l.weights][0].trainable = False
    model.compile(optimizer=_OPTIMIZERS[spec["optimizer"]](), loss=loss)
    return model


@expensive
@given(spec=model_specs())
def test_random_models_through_tf_keras_and_back(tmp_path_factory, tf_keras, spec):
    """scratch trains two steps and saves; tf.keras must read the same weights and optimizer
    state (Keras' order) and predict the same; tf.keras' own file must come back bitwise."""
    tmp = tmp_path_factory.mktemp("rand")
    rng = np.random.default_rng(spec["seed"])
    scratch.utils.set_random_seed(spec["seed"])
    model = _build(spec)
    d = spec["dtype"]
    x = rng.standard_normal((8, spec["n_in"])).astype(d)
    y = rng.standard_normal((8, 1)).astype(d)
    ys = [y, rng.standard_normal((8, 2)).astype(d)] if spec["functional"] else y
    for _ in range(2):
        model.train_on_batch(x, ys)
    path = str(tmp / "m.keras")
    model.save(path)
    kmodel = tf_keras.models.load_model(path)
    _assert_bitwise(kmodel.get_weights(), _keras_order(model), "weights in tf.keras")
    _assert_bitwise([np.asarray(v) for v in kmodel.optimizer.variables],
                    optimizer_layout(model).values, "optimizer state in tf.keras")
    for a, b in zip(_as_list(model.predict(x, verbose=0)),
                    _as_list(kmodel(x, training=False))):
        assert_close(a, np.asarray(b), kind="forward", dtype=d)
    assert [l.trainable for l in kmodel.layers] == [l.trainable for l in model.layers]
    path2 = str(tmp / "k.keras")
    kmodel.save(path2)
    back = load_model(path2)
    _assert_bitwise(_keras_order(back), kmodel.get_weights(), "weights back in scratch")
    _assert_bitwise(optimizer_layout(back).values,
                    [np.asarray(v) for v in kmodel.optimizer.variables], "optimizer back")
    for a, b in zip(_as_list(back.predict(x, verbose=0)), _as_list(model.predict(x, verbose=0))):
        assert np.array_equal(a, b)


# ------------------------------------------------------------------------------ resuming
def _resume_model(dtype):
    L = scratch.layers
    model = Sequential([scratch.Input(shape=(5,), dtype=dtype),
                        L.Dense(6, activation="relu", dtype=dtype),
                        L.BatchNormalization(dtype=dtype),
                        L.Dense(3, activation="softmax", dtype=dtype)])
    model.compile(optimizer=scratch.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _resume_data(dtype):
    rng = np.random.default_rng(11)
    return rng.standard_normal((40, 5)).astype(dtype), rng.integers(0, 3, 40)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ext", [".keras", ".h5"])
def test_resume_training_is_bitwise_an_uninterrupted_run(tmp_path, ext, dtype):
    x, y = _resume_data(dtype)
    scratch.utils.set_random_seed(5)
    straight = _resume_model(dtype)
    straight.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0)

    scratch.utils.set_random_seed(5)
    first = _resume_model(dtype)
    first.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    first.save(str(tmp_path / f"mid{ext}"))
    resumed = load_model(str(tmp_path / f"mid{ext}"))
    assert resumed.optimizer.iterations == 10
    resumed.fit(x, y, batch_size=8, epochs=4, initial_epoch=2, shuffle=False, verbose=0)
    _assert_bitwise(_keras_order(resumed), _keras_order(straight), "weights")
    _assert_bitwise(optimizer_layout(resumed).values, optimizer_layout(straight).values,
                    "optimizer state")


@pytest.mark.parametrize("dtype", DTYPES)
def test_resume_in_scratch_what_tf_keras_started(tmp_path, tf_keras, dtype):
    """tf.keras trains two epochs and saves; scratch and tf.keras each train two more.

    Both engines run with floatx = dtype, as in the training parity tests (tf.keras' fit
    casts the data to floatx, and the learning rate is stored in floatx)."""
    scratch.set_floatx(dtype)
    tf_keras.backend.set_floatx(dtype)
    try:
        _resume_from_tf_keras(tmp_path, tf_keras, dtype)
    finally:
        scratch.set_floatx("float32")
        tf_keras.backend.set_floatx("float32")


def _resume_from_tf_keras(tmp_path, tf_keras, dtype):
    x, y = _resume_data(dtype)
    tf_keras.utils.set_random_seed(0)
    k = tf_keras.layers
    kmodel = tf_keras.Sequential([tf_keras.Input(shape=(5,), dtype=dtype),
                                  k.Dense(6, activation="tanh", dtype=dtype),
                                  k.Dense(3, activation="softmax", dtype=dtype)])
    kmodel.compile(optimizer=tf_keras.optimizers.RMSprop(0.01, momentum=0.5),
                   loss="sparse_categorical_crossentropy")
    kmodel.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    kmodel.save(str(tmp_path / "mid.keras"))
    model = load_model(str(tmp_path / "mid.keras"))
    _assert_bitwise(optimizer_layout(model).values,
                    [np.asarray(v) for v in kmodel.optimizer.variables], "optimizer state")
    kmodel.fit(x, y, batch_size=8, epochs=4, initial_epoch=2, shuffle=False, verbose=0)
    model.fit(x, y, batch_size=8, epochs=4, initial_epoch=2, shuffle=False, verbose=0)
    for w, kw in zip(_keras_order(model), kmodel.get_weights()):
        assert_close(w, kw, kind="weights_after_steps", dtype=dtype)


# ------------------------------------------------------------------------------ legacy .h5
def _write_keras2_h5(path, model_config, layers, training_config=None, optimizer=None):
    """A legacy file in the exact layout Keras 2.x (tf.keras ≤ 2.15) wrote."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.12.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
        if training_config is not None:
            f.attrs["training_config"] = json.dumps(training_config).encode("utf8")
        g = f.create_group("model_weights")
        g.attrs["layer_names"] = [n.encode("utf8") for n, _ in layers]
        g.attrs["backend"] = b"tensorflow"
        g.attrs["keras_version"] = b"2.12.0"
        for lname, weights in layers:
            lg = g.create_group(lname)
            lg.attrs["weight_names"] = [w.encode("utf8") for w, _ in weights]
            for wname, value in weights:
                lg.create_dataset(wname, data=value)
        if optimizer is not None:
            og = f.create_group("optimizer_weights")
            og.attrs["weight_names"] = [w.encode("utf8") for w, _ in optimizer]
            for wname, value in optimizer:
                og.create_dataset(wname, data=value)


def _dense2(name, units, activation, extra=None):
    return {"class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": "float32", "units": units,
        "activation": activation, "use_bias": True,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None, **(extra or {})}}


def test_keras2_linear_classifier_h5_loads_like_tf_keras(tmp_path, tf_keras):
    """The course's `linearclassifier.h5`: Keras 2 Sequential, Dense(1, sigmoid), Adam."""
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((30, 1)).astype("float32")
    bias = rng.standard_normal((1,)).astype("float32")
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 30],
                                                "dtype": "float32", "sparse": False,
                                                "ragged": False, "name": "dense_input"}},
        _dense2("dense", 1, "sigmoid", {"batch_input_shape": [None, 30]})]}}
    training = {"loss": "binary_crossentropy", "metrics": [[{
        "class_name": "MeanMetricWrapper", "config": {"name": "accuracy", "dtype": "float32",
                                                      "fn": "binary_accuracy"}}]],
        "weighted_metrics": None, "loss_weights": None,
        "optimizer_config": {"class_name": "Adam", "config": {
            "name": "Adam", "learning_rate": 0.001, "decay": 0.0, "beta_1": 0.9,
            "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}}}
    opt = [("Adam/iter:0", np.array(100, "int64")),
           ("Adam/dense/kernel/m:0", np.ones((30, 1), "float32")),
           ("Adam/dense/bias/m:0", np.ones((1,), "float32")),
           ("Adam/dense/kernel/v:0", np.ones((30, 1), "float32")),
           ("Adam/dense/bias/v:0", np.ones((1,), "float32"))]
    path = str(tmp_path / "linearclassifier.h5")
    _write_keras2_h5(path, config, [("dense", [("dense/kernel:0", kernel),
                                               ("dense/bias:0", bias)])], training, opt)
    with pytest.warns(UserWarning) as caught:
        model = load_model(path)
    messages = [str(w.message) for w in caught]
    assert any("freshly initialized optimizer" in m for m in messages), messages
    assert any("`decay` is no longer supported" in m for m in messages), messages
    with pytest.warns(UserWarning) as caught:  # tf.keras: `decay`, and `input_shape` given
        kmodel = tf_keras.models.load_model(path)
    assert any("`decay` is no longer supported" in str(w.message) for w in caught)
    _assert_bitwise(model.get_weights(), [kernel, bias])
    _assert_bitwise(model.get_weights(), kmodel.get_weights())
    assert type(model.optimizer).__name__ == "Adam" and model.optimizer.iterations == 0
    x = rng.standard_normal((6, 30)).astype("float32")
    assert_close(model.predict(x, verbose=0), np.asarray(kmodel(x)), kind="forward",
                 dtype="float32")
    r = model.evaluate(x, (x[:, :1] > 0).astype("float32"), verbose=0)
    assert len(r) == 2 and 0 <= r[1] <= 1  # loss and accuracy, as compiled in the file


def test_keras2_functional_h5_loads_like_tf_keras(tmp_path, tf_keras):
    rng = np.random.default_rng(1)
    w = {n: rng.standard_normal(s).astype("float32") for n, s in
         [("a/kernel:0", (3, 4)), ("a/bias:0", (4,)), ("b/kernel:0", (3, 2)),
          ("b/bias:0", (2,)), ("out/kernel:0", (6, 1)), ("out/bias:0", (1,))]}
    layers = [
        {"class_name": "InputLayer", "name": "x", "inbound_nodes": [], "config": {
            "batch_input_shape": [None, 3], "dtype": "float32", "sparse": False,
            "ragged": False, "name": "x"}},
        {**_dense2("a", 4, "relu"), "name": "a", "inbound_nodes": [[["x", 0, 0, {}]]]},
        {**_dense2("b", 2, "tanh"), "name": "b", "inbound_nodes": [[["x", 0, 0, {}]]]},
        {"class_name": "Concatenate", "name": "cat", "config": {
            "name": "cat", "trainable": True, "dtype": "float32", "axis": -1},
         "inbound_nodes": [[["a", 0, 0, {}], ["b", 0, 0, {}]]]},
        {**_dense2("out", 1, "linear"), "name": "out",
         "inbound_nodes": [[["cat", 0, 0, {}]]]}]
    config = {"class_name": "Functional", "config": {
        "name": "model", "layers": layers, "input_layers": [["x", 0, 0]],
        "output_layers": [["out", 0, 0]]}}
    groups = [("x", []), ("a", [(n, w[n]) for n in ("a/kernel:0", "a/bias:0")]),
              ("b", [(n, w[n]) for n in ("b/kernel:0", "b/bias:0")]), ("cat", []),
              ("out", [(n, w[n]) for n in ("out/kernel:0", "out/bias:0")])]
    path = str(tmp_path / "functional.h5")
    _write_keras2_h5(path, config, groups)
    model = load_model(path)
    kmodel = tf_keras.models.load_model(path)
    x = rng.standard_normal((5, 3)).astype("float32")
    y = model.predict(x, verbose=0)
    assert isinstance(y, np.ndarray)  # a single output, as Keras unpacks it
    assert_close(y, np.asarray(kmodel([x])), kind="forward", dtype="float32")
    assert not model.compiled
    for name in ("a", "b", "out"):
        _assert_bitwise(model.get_layer(name).get_weights(),
                        kmodel.get_layer(name).get_weights(), name)


def test_load_weights_from_legacy_h5_by_position_and_by_name(tmp_path):
    L = scratch.layers
    src = Sequential([scratch.Input(shape=(3,)), L.Dense(4, name="h"), L.Dense(2, name="o")])
    _randomize(src, np.random.default_rng(2))
    src.save(str(tmp_path / "src.h5"))
    dst = Sequential([scratch.Input(shape=(3,)), L.Dense(4, name="p"), L.Dense(2, name="q")])
    dst.load_weights(str(tmp_path / "src.h5"))
    _assert_bitwise(dst.get_weights(), src.get_weights())
    named = Sequential([scratch.Input(shape=(3,)), L.Dense(4, name="zz"), L.Dense(2, name="o")])
    before = named.get_weights()
    named.load_weights(str(tmp_path / "src.h5"), by_name=True)
    _assert_bitwise(named.get_weights()[:2], before[:2])
    _assert_bitwise(named.get_weights()[2:], src.get_weights()[2:])


# ------------------------------------------------------------------------------ optimizer order
def test_optimizer_slots_are_written_in_keras_variable_order(tmp_path):
    """A two-branch model whose call order differs from Keras' depth order: the file's slots
    must follow Keras (a tf.keras comparison of the same ordering is in the random-model
    test); this pins the order without TensorFlow."""
    L = scratch.layers
    i = scratch.Input(shape=(3,), name="in")
    h1, h0 = L.Dense(5, name="h1")(i), L.Dense(4, name="h0")(i)
    model = Model(i, [L.Dense(2, name="o1")(h1), L.Dense(1, name="o0")(h0)])
    model.compile(optimizer=scratch.optimizers.Adam(0.1, name="adam"), loss=["mse", "mse"])
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.standard_normal((4, 3)), [np.ones((4, 2)), np.ones((4, 1))])
    built = [v.shape for v in model.optimizer._trainable_variables]
    # the model's trainable weights are in Keras' order too: h1, h0, o1, o0
    assert built == [(3, 5), (5,), (3, 4), (4,), (5, 2), (2,), (4, 1), (1,)]
    layout = optimizer_layout(model)
    assert [v.shape for v in layout.values[2::2]] == [(3, 5), (5,), (3, 4), (4,), (5, 2), (2,),
                                                       (4, 1), (1,)]  # Keras: h1, h0, o1, o0
    assert layout.names[2] == "adam/h1_kernel_momentum"
    model.save_weights(str(tmp_path / "w.weights.h5"))
    with h5py.File(tmp_path / "w.weights.h5") as f:
        assert f["optimizer/vars/6"].shape == (3, 4)  # h0 kernel momentum: Keras var 3
        assert sorted(f["layers"]) == ["dense", "dense_1", "dense_2", "dense_3", "input_layer"]
        assert f["layers/dense_1/vars"].attrs["name"] == "h0"


# ------------------------------------------------------------------------------ ModelCheckpoint
def _checkpoint_model():
    L = scratch.layers
    model = Sequential([scratch.Input(shape=(4,)), L.Dense(8, activation="relu"),
                        L.Dense(3, activation="softmax")])
    model.compile(optimizer=scratch.optimizers.SGD(0.3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _checkpoint_data():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((60, 4)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5).astype(int)
    return x, y


def _fit_recording(model, cb, epochs=6):
    x, y = _checkpoint_data()
    seen = []
    rec = scratch.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: seen.append((dict(logs), model.get_weights())))
    model.fit(x[:40], y[:40], validation_data=(x[40:], y[40:]), epochs=epochs, batch_size=8,
              shuffle=False, verbose=0, callbacks=[cb, rec])
    return seen


def test_checkpoint_every_epoch_formats_the_name(tmp_path):
    scratch.utils.set_random_seed(0)
    model = _checkpoint_model()
    cb = scratch.callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{loss:.3f}.keras"))
    seen = _fit_recording(model, cb, epochs=3)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"m-{e + 1:02d}-{logs['loss']:.3f}.keras" for e, (logs, _) in
                     enumerate(seen)]
    back = load_model(str(tmp_path / files[1]))
    _assert_bitwise(back.get_weights(), seen[1][1])
    assert back.optimizer.iterations == 10


@pytest.mark.parametrize("monitor,mode,pick", [("val_loss", "auto", np.argmin),
                                               ("val_accuracy", "max", np.argmax),
                                               ("val_accuracy", "auto", np.argmax),
                                               ("loss", "min", np.argmin)])
def test_checkpoint_save_best_only(tmp_path, monitor, mode, pick):
    scratch.utils.set_random_seed(1)
    model = _checkpoint_model()
    path = str(tmp_path / "best.weights.h5")
    cb = scratch.callbacks.ModelCheckpoint(path, monitor=monitor, mode=mode,
                                           save_best_only=True, save_weights_only=True)
    seen = _fit_recording(model, cb)
    values = [logs[monitor] for logs, _ in seen]
    best = int(pick(values))  # the first best epoch: later ties are no improvement
    assert len(set(values)) > 1
    model.load_weights(path)
    _assert_bitwise(model.get_weights(), seen[best][1], f"epoch {best} of {values}")
    assert os.listdir(tmp_path) == ["best.weights.h5"]


def test_checkpoint_arguments_are_checked(tmp_path):
    MC = scratch.callbacks.ModelCheckpoint
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        MC(str(tmp_path / "w.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match="must end in `.keras`"):
        MC(str(tmp_path / "w.ckpt"))
    with pytest.raises(ValueError, match="save_freq"):
        MC(str(tmp_path / "w.keras"), save_freq="batch")
    model = _checkpoint_model()
    cb = MC(str(tmp_path / "w.keras"), monitor="val_wobble", save_best_only=True)
    with pytest.raises(ValueError, match="maximized or minimized"):
        _fit_recording(model, cb, epochs=1)


def test_checkpoint_never_leaves_a_half_written_file(tmp_path, monkeypatch):
    """The third save dies mid-write: the second checkpoint stays whole, no temp file stays."""
    import scratch.saving as saving

    scratch.utils.set_random_seed(2)
    model = _checkpoint_model()
    path = str(tmp_path / "last.keras")
    calls = {"n": 0}
    real = saving.write_weights_file

    def flaky(m, target, include_optimizer=True):
        calls["n"] += 1
        if calls["n"] == 3:
            target.write(b"\x89HDF partial")
            raise OSError("disk full")
        return real(m, target, include_optimizer)

    monkeypatch.setattr(saving, "write_weights_file", flaky)
    seen = []
    rec = scratch.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: seen.append(model.get_weights()))
    x, y = _checkpoint_data()
    with pytest.raises(OSError, match="disk full"):
        model.fit(x, y, epochs=5, batch_size=20, shuffle=False, verbose=0,
                  callbacks=[rec, scratch.callbacks.ModelCheckpoint(path)])
    assert os.listdir(tmp_path) == ["last.keras"]
    _assert_bitwise(load_model(path).get_weights(), seen[1])


def test_save_does_not_touch_an_existing_file_when_overwrite_is_false(tmp_path):
    model = _checkpoint_model()
    for name, save in [("m.keras", model.save), ("m.weights.h5", model.save_weights)]:
        path = tmp_path / name
        path.write_bytes(b"keep me")
        with pytest.raises(FileExistsError):
            save(str(path), overwrite=False)
        assert path.read_bytes() == b"keep me"


def test_files_warn_nothing_in_the_normal_case(tmp_path):
    model = _checkpoint_model()
    x, y = _checkpoint_data()
    model.fit(x, y, epochs=1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.save(str(tmp_path / "m.keras"))
        load_model(str(tmp_path / "m.keras"))
        model.save_weights(str(tmp_path / "m.weights.h5"))
        model.load_weights(str(tmp_path / "m.weights.h5"))


def hits_gap(y_true, y_pred):
    """A metric function of the user's own, for the files below."""
    return (y_true - y_pred) ** 2


@pytest.mark.parametrize("ext", ["keras", "h5"])
def test_a_metric_function_saves_by_name_and_loads_from_custom_objects(tf_keras, tmp_path,
                                                                        ext):
    """Keras writes a user's metric function by its name ({"class_name": "function"} in a
    .keras file, the bare name in a legacy .h5): so does scratch, both ways with tf.keras.
    Loading takes the function only from custom_objects (never from what the file names);
    without it the error names the function and the ways out."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 3)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = Sequential([scratch.Input((3,)), scratch.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy", hits_gap])
    expected = model.evaluate(x, y, verbose=0, return_dict=True)
    path = str(tmp_path / f"m.{ext}")
    model.save(path)
    with pytest.raises(ValueError, match="hits_gap"):
        load_model(path)
    assert load_model(path, compile=False).compiled is False
    back = load_model(path, custom_objects={"hits_gap": hits_gap})
    assert back.evaluate(x, y, verbose=0, return_dict=True) == expected
    theirs = tf_keras.models.load_model(path, custom_objects={"hits_gap": hits_gap})
    assert theirs.evaluate(x, y, verbose=0, return_dict=True).keys() == expected.keys()
    keras_path = str(tmp_path / f"k.{ext}")
    theirs.save(keras_path)
    again = load_model(keras_path, custom_objects={"hits_gap": hits_gap})
    assert again.evaluate(x, y, verbose=0, return_dict=True) == expected
