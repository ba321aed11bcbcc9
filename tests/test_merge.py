"""Merge layers: parity with tf.keras (values, input gradients, shapes, masks), gradchecks, and
clear errors for bad input lists."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scratch.layers import Input
from scratch.layers import merge as M
from scratch.layers.embedding import Embedding
from scratch.models import Model
from scratch.testing import assert_close
from tests.conftest import cheap, medium
from tests.parity import Run, check_layer, compare, keras_vjp, run_keras

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]


@st.composite
def elementwise_cases(draw):
    name = draw(st.sampled_from(ELEMENTWISE))
    k = 2 if name == "Subtract" else draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    shapes = []
    for _ in range(k):
        # broadcasting as Keras allows it: size-1 axes, or fewer leading axes
        s = tuple(1 if draw(st.integers(0, 4)) == 0 else d for d in shape)
        s = s[draw(st.integers(0, len(s) - 1)):] if draw(st.integers(0, 4)) == 0 else s
        shapes.append(s)
    if k >= 3:  # tf.keras mixes samples when 3+ inputs broadcast: see the test below
        shapes = [shape] * k
    return dict(name=name, n=draw(st.integers(1, 3)), shapes=shapes,
                dtype=draw(st.sampled_from(["float64", "float32"])),
                seed=draw(st.integers(0, 2**16)))


@st.composite
def concat_cases(draw):
    rank = draw(st.integers(1, 3))
    axis_pos = draw(st.integers(1, rank))
    base = [draw(st.integers(1, 4)) for _ in range(rank)]
    k = draw(st.integers(1, 4))
    shapes = []
    for _ in range(k):
        s = list(base)
        s[axis_pos - 1] = draw(st.integers(1, 4))
        shapes.append(tuple(s))
    axis = axis_pos if draw(st.booleans()) else axis_pos - rank - 1
    return dict(name="Concatenate", config={"axis": axis}, n=draw(st.integers(1, 3)),
                shapes=shapes, dtype=draw(st.sampled_from(["float64", "float32"])),
                seed=draw(st.integers(0, 2**16)))


@st.composite
def dot_cases(draw):
    r1, r2 = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    s1 = [draw(st.integers(1, 4)) for _ in range(r1)]
    s2 = [draw(st.integers(1, 4)) for _ in range(r2)]
    a0, a1 = draw(st.integers(1, r1)), draw(st.integers(1, r2))
    s2[a1 - 1] = s1[a0 - 1]
    if a0 == a1 and draw(st.booleans()):
        axes = a0
    else:
        axes = [a0 if draw(st.booleans()) else a0 - r1 - 1,
                a1 if draw(st.booleans()) else a1 - r2 - 1]
    return dict(name="Dot", config={"axes": axes, "normalize": draw(st.booleans())},
                n=draw(st.integers(1, 3)), shapes=[tuple(s1), tuple(s2)],
                dtype=draw(st.sampled_from(["float64", "float32"])),
                seed=draw(st.integers(0, 2**16)))


def _inputs(case):
    rng = np.random.default_rng(case["seed"])
    xs = [rng.standard_normal((case["n"],) + s).astype(case["dtype"]) for s in case["shapes"]]
    return rng, xs


def _parity(tf_keras, tf, case):
    rng, xs = _inputs(case)
    layer = getattr(M, case["name"])(**case.get("config", {}), dtype=case["dtype"])
    check_layer(layer, xs, keras=tf_keras, tf=tf, rng=rng, msg=str(case))


@cheap
@given(elementwise_cases())
@example(dict(name="Add", n=2, shapes=[(3, 4), (4,)], dtype="float64", seed=0))
@example(dict(name="Multiply", n=1, shapes=[(2, 1), (1, 3), (2, 3)], dtype="float32", seed=1))
@example(dict(name="Maximum", n=2, shapes=[(3,)], dtype="float64", seed=2))
def test_elementwise_parity(tf_keras, tf, case):
    _parity(tf_keras, tf, case)


@cheap
@given(concat_cases())
def test_concatenate_parity(tf_keras, tf, case):
    _parity(tf_keras, tf, case)


@cheap
@given(dot_cases())
@example(dict(name="Dot", config={"axes": 1, "normalize": False}, n=2, shapes=[(3,), (3,)],
              dtype="float64", seed=0))
@example(dict(name="Dot", config={"axes": [2, 1], "normalize": True}, n=2,
              shapes=[(3, 4), (4,)], dtype="float32", seed=0))
def test_dot_parity(tf_keras, tf, case):
    _parity(tf_keras, tf, case)


def test_max_min_ties_go_to_the_earlier_input(tf_keras, tf):
    """TF's selector x ≥ y (max) / x ≤ y (min) sends the whole gradient of a tie to x."""
    x = np.array([[1.0, 2.0, 3.0]])
    for name in ["Maximum", "Minimum"]:
        layer = getattr(M, name)(dtype="float64")
        layer([x, x.copy(), x.copy()])
        dxs = layer.backward(np.ones_like(x))
        klayer = getattr(tf_keras.layers, name)(dtype="float64")
        kdxs = run_keras(tf, klayer, [x, x.copy(), x.copy()], [np.ones_like(x)]).dx
        for dx, kdx in zip(dxs, kdxs, strict=True):
            np.testing.assert_array_equal(dx, kdx)
        np.testing.assert_array_equal(dxs[0], np.ones_like(x))


# ------------------------------------------------------------------------- gradcheck
@cheap
@given(st.one_of(elementwise_cases(), concat_cases(), dot_cases()))
def test_merge_gradcheck(case):
    case = dict(case, dtype="float64")
    _, xs = _inputs(case)
    layer = getattr(M, case["name"])(**case.get("config", {}), dtype="float64")
    check_layer(layer, xs, gradcheck=True, seed=case["seed"], msg=str(case))


# ------------------------------------------------------------------------- masks
MASKED = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
          "Concatenate1", "Dot"]


@st.composite
def masked_cases(draw):
    name = draw(st.sampled_from(MASKED))
    k = 2 if name in ("Subtract", "Dot") else draw(st.integers(2, 3))
    return dict(name=name, masked=[draw(st.booleans()) for _ in range(k)],
                T=draw(st.integers(1, 5)), C=draw(st.integers(1, 3)),
                dtype=draw(st.sampled_from(["float64", "float32"])),
                seed=draw(st.integers(0, 2**16)))


def _masked_model(layers, case, engine_input):
    """k id inputs → Embedding (mask_zero where masked) → merge layer → output."""
    ins = [engine_input(shape=(case["T"],), dtype="int32") for _ in case["masked"]]
    embs = [layers.Embedding(6, case["C"], mask_zero=m, dtype=case["dtype"])(i)
            for i, m in zip(ins, case["masked"], strict=True)]
    name = case["name"]
    if name == "Concatenate1":
        merge = layers.Concatenate(axis=1, dtype=case["dtype"])
    elif name == "Dot":
        merge = layers.Dot(axes=2, dtype=case["dtype"])
    else:
        merge = getattr(layers, name)(dtype=case["dtype"])
    return ins, merge(embs)


class _ScratchLayers:
    Embedding = Embedding
    Concatenate, Dot = M.Concatenate, M.Dot
    Add, Subtract, Multiply, Average, Maximum, Minimum = (
        M.Add, M.Subtract, M.Multiply, M.Average, M.Maximum, M.Minimum)


@medium
@given(masked_cases())
@example(dict(name="Maximum", masked=[True, True, False], T=4, C=2, dtype="float64", seed=3))
@example(dict(name="Multiply", masked=[True, True], T=4, C=2, dtype="float64", seed=4))
@example(dict(name="Minimum", masked=[False, True], T=4, C=1, dtype="float32", seed=5))
def test_masked_merge_matches_keras(tf_keras, tf, case):
    """Masks from Embedding(mask_zero=True) flow into the merge: values, output mask and
    the embeddings' gradients match tf.keras (Multiply/Maximum/Minimum use the masks)."""
    dtype = case["dtype"]
    rng = np.random.default_rng(case["seed"])
    ins, out = _masked_model(_ScratchLayers, case, Input)
    model = Model(ins, out)
    kins, kout = _masked_model(tf_keras.layers, case, tf_keras.Input)
    kmodel = tf_keras.Model(kins, kout)
    weights = [rng.standard_normal(w.shape).astype(dtype) for w in model.get_weights()]
    model.set_weights(weights)
    kmodel.set_weights(weights)
    ids = [rng.integers(0, 6, (3, case["T"])).astype("int32") for _ in case["masked"]]
    ids[0][0, 0] = 0  # at least one padded step
    y = model.forward(ids, training=True)
    v = rng.standard_normal(y.shape).astype(dtype)
    model.backward(v)
    grads = {id(w): g for g, w in model.grads_and_vars()}
    ours = Run(outputs=[y], masks=[model.output_masks[0]], dx=[None] * len(ids), d_states=[],
               grads=[grads[id(w)] for w in model.trainable_weights], cotangents=[v])
    ref = keras_vjp(tf, lambda xs: kmodel(xs, training=True), ids, [v],
                    weights=kmodel.trainable_weights)
    compare(ours, ref, dtype, msg=str(case))


def test_concatenate_mask_rule():
    """An unmasked input counts as valid; masks are OR-ed over the feature axis."""
    layer = M.Concatenate(axis=1)
    a, b = np.zeros((1, 2, 3), "float32"), np.zeros((1, 3, 3), "float32")
    m = layer.compute_mask([a, b], [np.array([[True, False]]), None])
    np.testing.assert_array_equal(m, [[True, False, True, True, True]])
    assert layer.compute_mask([a, b], [None, None]) is None
    assert M.Add().compute_mask([a, a], [np.array([[True, False]]), None]) is None
    assert M.Dot(axes=2).compute_mask([a, a], [np.ones((1, 2), bool)] * 2) is None


# ------------------------------------------------------------------------- errors / config
def test_errors_follow_keras():
    with pytest.raises(ValueError, match="list of inputs"):
        M.Add()(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        M.Subtract()([np.zeros((2, 3), "float32")] * 3)
    with pytest.raises(ValueError, match="incompatible shapes"):
        M.Add()([np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32")])
    with pytest.raises(ValueError, match="different batch sizes"):
        M.Add()([np.zeros((2, 3), "float32"), np.zeros((1, 3), "float32")])
    with pytest.raises(ValueError, match="matching shapes except for the concatenation"):
        M.Concatenate()([np.zeros((2, 3, 1), "float32"), np.zeros((2, 4, 2), "float32")])
    with pytest.raises(ValueError, match="batch axis"):
        M.Concatenate(axis=0)([np.zeros((2, 3), "float32")] * 2)
    with pytest.raises(ValueError, match="Incompatible input shapes"):
        M.Dot(axes=1)([np.zeros((2, 3), "float32"), np.zeros((2, 4), "float32")])
    with pytest.raises(ValueError, match="two elements"):
        M.Dot(axes=(1, 2, 3))
    with pytest.raises(TypeError, match="float32"):
        M.Add().forward([np.zeros((2, 3), "float32"), np.zeros((2, 3), "float64")])
    a = Input(shape=(3,))
    with pytest.raises(ValueError, match="incompatible shapes"):
        M.Add()([a, Input(shape=(4,))])


def test_layers_build_models_and_convert(tf_keras):
    import keras_ref

    a, b = Input(shape=(3,)), Input(shape=(3,))
    outs = [M.concatenate([a, b]), M.add([a, b]), M.subtract([a, b]), M.multiply([a, b]),
            M.average([a, b]), M.maximum([a, b]), M.minimum([a, b]),
            M.dot([a, b], axes=1, normalize=True)]
    model = Model([a, b], outs)
    kmodel = keras_ref.to_keras(model)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((4, 3)).astype("float32") for _ in range(2)]
    for y, ky in zip(model.predict(xs, verbose=0), kmodel.predict(xs, verbose=0), strict=True):
        assert_close(y, ky, kind="forward", dtype="float32")
    assert [t.shape for t in model.outputs] == [tuple(t.shape) for t in kmodel.outputs]


def test_three_input_broadcast_follows_numpy_not_the_keras_bug(tf_keras):
    """Keras 3.15's Add on (N,1), (N,2), (N,1) adds the third input as if it were a row:
    [[1],[2]] + [[10,20],[30,40]] + [[100],[200]] gives [[111, 221], [132, 242]], mixing
    samples. scratch broadcasts per sample, as NumPy does (and as Keras does for 2 inputs)."""
    a = np.array([[1.0], [2.0]])
    b = np.array([[10.0, 20.0], [30.0, 40.0]])
    c = np.array([[100.0], [200.0]])
    np.testing.assert_array_equal(M.Add(dtype="float64")([a, b, c]), a + b + c)
    keras_result = tf_keras.layers.Add(dtype="float64")([a, b, c]).numpy()
    assert not np.array_equal(keras_result, a + b + c)  # if this fails, Keras fixed it
