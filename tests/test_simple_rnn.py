"""SimpleRNN: parity with tf.keras, finite differences, the fast path, Lecture 44, bad input.

This module also holds the parity harness shared by test_gru.py and test_lstm.py
(`draw_case`, `run_keras`, `run_scratch`, `compare`): one config dict drives both engines,
weights go from scratch into Keras, and both back-propagate the same random cotangents.
Dropout masks are injected on both sides (Keras caches them in `cell._dropout_mask`), so
dropout is compared exactly instead of through equal random streams.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scratch.layers.recurrent import RNN, SimpleRNN, SimpleRNNCell
from scratch.testing import assert_close, gradcheck

from conftest import expensive

LAYER_KEYS = ("return_sequences", "return_state", "go_backwards")


# ------------------------------------------------------------------------------ harness
class Case(NamedTuple):
    layer: str  # "SimpleRNN", "GRU", "LSTM"
    config: dict  # constructor arguments shared by both engines
    N: int
    T: int
    D: int
    use_initial_state: bool
    use_mask: bool
    training: bool
    seed: int
    dtype: str


def n_states(layer: str) -> int:
    return 2 if layer == "LSTM" else 1


def gate_count(layer: str) -> int:
    return {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[layer]


@st.composite
def draw_case(draw, layer: str, dtype: str, extra: dict | None = None) -> Case:
    """A small random configuration (sizes 1–5) with every option of the layer."""
    config: dict[str, Any] = {
        "units": draw(st.integers(1, 5)),
        "use_bias": draw(st.booleans()),
        "activation": draw(st.sampled_from(["tanh", "tanh", "relu", None])),
        **{k: draw(st.booleans()) for k in LAYER_KEYS},
        "dropout": draw(st.sampled_from([0.0, 0.0, 0.4])),
        "recurrent_dropout": draw(st.sampled_from([0.0, 0.0, 0.3])),
        "zero_output_for_mask": draw(st.sampled_from([False, False, True])),
    }
    for key, strategy in (extra or {}).items():
        config[key] = draw(strategy)
    return Case(layer, config, N=draw(st.integers(1, 3)), T=draw(st.integers(1, 5)),
                D=draw(st.integers(1, 4)), use_initial_state=draw(st.booleans()),
                use_mask=draw(st.booleans()), training=draw(st.booleans()),
                seed=draw(st.integers(0, 2**32 - 1)), dtype=dtype)


class Data(NamedTuple):
    x: np.ndarray
    states: list | None
    mask: np.ndarray | None
    dropout: Any  # the input mask(s) or None
    recurrent_dropout: Any
    cotangents: list  # one per output


def make_data(case: Case, layer) -> Data:
    """Inputs, weights (written into `layer`), masks and cotangents from the case's seed."""
    rng = np.random.default_rng(case.seed)
    dt = case.dtype
    N, T, D, M = case.N, case.T, case.D, case.config["units"]
    x = rng.standard_normal((N, T, D)).astype(dt)
    new = []
    for w in layer.get_weights():
        fan_in = w.shape[0] if w.ndim == 2 and w.shape[0] > 2 else M
        new.append((rng.standard_normal(w.shape) / np.sqrt(max(fan_in, 1))).astype(dt))
    layer.set_weights(new)
    states = ([rng.standard_normal((N, M)).astype(dt) for _ in range(n_states(case.layer))]
              if case.use_initial_state else None)
    mask = None
    if case.use_mask:
        mask = rng.random((N, T)) > 0.35
        mask[0, 0] = False  # a masked first step: the output before it must be zeros
    impl1 = case.config.get("recurrent_dropout", 0) > 0 or case.config.get("implementation") == 1
    count = gate_count(case.layer) if impl1 and case.layer != "SimpleRNN" else None

    def masks(rate, width):
        if not (case.training and rate > 0):
            return None
        one = lambda: ((rng.random((N, width)) >= rate) / (1 - rate)).astype(dt)  # noqa: E731
        return one() if count is None else [one() for _ in range(count)]

    dropout = masks(case.config.get("dropout", 0), D)
    recurrent = masks(case.config.get("recurrent_dropout", 0), M)
    shapes = [(N, T, M) if case.config.get("return_sequences") else (N, M)]
    if case.config.get("return_state"):
        shapes += [(N, M)] * n_states(case.layer)
    cotangents = [rng.standard_normal(s).astype(dt) for s in shapes]
    return Data(x, states, mask, dropout, recurrent, cotangents)


class Result(NamedTuple):
    outputs: list
    dx: np.ndarray
    d_states: list
    grads: list  # weight gradients in get_weights() order


def scratch_layer(case: Case):
    from scratch import layers as scratch_layers  # noqa: F401  (the package must import)
    from scratch.layers import recurrent
    return getattr(recurrent, case.layer)(**case.config, dtype=case.dtype)


def run_scratch(case: Case, layer, data: Data, fast: bool = True) -> Result:
    layer.fast_path = fast
    layer.cell._dropout_mask = data.dropout
    layer.cell._recurrent_dropout_mask = data.recurrent_dropout
    kwargs = {} if data.mask is None else {"mask": data.mask}
    if data.states is not None:
        kwargs["initial_state"] = data.states
    out = layer(data.x, training=case.training, **kwargs)
    outs = out if isinstance(out, list) else [out]
    dx = layer.backward(data.cotangents if isinstance(out, list) else data.cotangents[0])
    grads = [layer.grads[name] for name in layer.weight_names]
    return Result(outs, dx, list(layer.initial_state_grads), grads)


def run_keras(keras, tf, case: Case, weights: list, data: Data) -> Result:
    """The same call in tf.keras inside a GradientTape with loss = Σ ⟨cotangent, output⟩."""
    config = dict(case.config)
    if case.layer != "SimpleRNN":
        # On CPU Keras' cuDNN attempt always falls back to the generic loop, but with
        # implementation=1, dropout and no recurrent dropout the attempt itself crashes
        # (it broadcasts the list of per-gate masks): skip it, the numbers are the same.
        config["use_cudnn"] = False
    klayer = getattr(keras.layers, case.layer)(**config, dtype=case.dtype)
    klayer.build((case.N, case.T, case.D))
    klayer.set_weights(weights)
    const = lambda a: None if a is None else (  # noqa: E731
        [tf.constant(m) for m in a] if isinstance(a, list) else tf.constant(a))
    klayer.cell._dropout_mask = const(data.dropout)
    klayer.cell._recurrent_dropout_mask = const(data.recurrent_dropout)
    x = tf.Variable(data.x)
    states = [tf.Variable(s) for s in data.states] if data.states is not None else None
    with tf.GradientTape() as tape:
        out = klayer(x, initial_state=states, training=case.training,
                     mask=None if data.mask is None else tf.constant(data.mask))
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
        loss = sum(tf.reduce_sum(o * v) for o, v in zip(outs, data.cotangents, strict=True))
    sources = [x] + (states or []) + list(klayer.trainable_weights)
    grads = tape.gradient(loss, sources)
    grads = [np.zeros(s.shape, case.dtype) if g is None else np.asarray(g)
             for g, s in zip(grads, sources, strict=True)]
    k = 1 + (len(states) if states else 0)
    return Result([o.numpy() for o in outs], grads[0], grads[1:k], grads[k:])


def compare(actual: Result, ref: Result, dtype: str, msg: str = "") -> None:
    assert len(actual.outputs) == len(ref.outputs), msg
    for i, (a, r) in enumerate(zip(actual.outputs, ref.outputs, strict=True)):
        assert_close(a, r, kind="forward", dtype=dtype, msg=f"output {i}; {msg}")
    assert_close(actual.dx, ref.dx, kind="input_grad", dtype=dtype, msg=f"dx; {msg}")
    for i, r in enumerate(ref.d_states):
        assert_close(actual.d_states[i], r, kind="input_grad", dtype=dtype,
                     msg=f"initial state {i}; {msg}")
    for i, (a, r) in enumerate(zip(actual.grads, ref.grads, strict=True)):
        assert_close(a, r, kind="weight_grad", dtype=dtype, msg=f"weight {i}; {msg}")


def check_parity(keras, tf, case: Case) -> None:
    layer = scratch_layer(case)
    layer.build((case.N, case.T, case.D))
    data = make_data(case, layer)
    ours = run_scratch(case, layer, data)
    ref = run_keras(keras, tf, case, layer.get_weights(), data)
    compare(ours, ref, case.dtype, msg=repr(case))


def check_fast_equals_readable(case: Case) -> None:
    layer = scratch_layer(case)
    layer.build((case.N, case.T, case.D))
    data = make_data(case, layer)
    fast = run_scratch(case, layer, data, fast=True)
    readable = run_scratch(case, layer, data, fast=False)
    for a, r in zip(fast.outputs + [fast.dx] + fast.d_states + fast.grads,
                    readable.outputs + [readable.dx] + readable.d_states + readable.grads,
                    strict=True):
        assert_close(a, r, kind="fast_vs_readable", dtype=case.dtype, msg=repr(case))


def check_gradcheck(case: Case) -> None:
    """Finite differences (float64) of every output w.r.t. x, weights and initial states."""
    layer = scratch_layer(case)
    layer.build((case.N, case.T, case.D))
    data = make_data(case, layer)
    names = layer.weight_names
    point = {"x": data.x, **{n: w for n, w in zip(names, layer.get_weights(), strict=True)}}
    if data.states is not None:
        point.update({f"s{k}": s for k, s in enumerate(data.states)})
    layer.cell._dropout_mask = data.dropout
    layer.cell._recurrent_dropout_mask = data.recurrent_dropout
    kwargs = {} if data.mask is None else {"mask": data.mask}

    def call(p):
        layer.set_weights([p[n] for n in names])
        layer.cell._dropout_mask = data.dropout
        layer.cell._recurrent_dropout_mask = data.recurrent_dropout
        states = [p[f"s{k}"] for k in range(n_states(case.layer))] if data.states else None
        out = layer(p["x"], training=case.training, initial_state=states, **kwargs)
        return out if isinstance(out, list) else [out]

    def fn(p):
        return np.concatenate([o.ravel() for o in call(p)])

    def vjp(v):
        outs = call(point)
        pieces, start = [], 0
        for o in outs:
            pieces.append(v[start:start + o.size].reshape(o.shape))
            start += o.size
        dx = layer.backward(pieces if len(outs) > 1 else pieces[0])
        out = {"x": dx, **dict(layer.grads)}
        if data.states is not None:
            out.update({f"s{k}": g for k, g in enumerate(layer.initial_state_grads)})
        return out

    gradcheck(fn, point, vjp, seed=case.seed % 1000)


# ------------------------------------------------------------------------------ SimpleRNN
SIMPLE_EDGE = Case("SimpleRNN", {"units": 1, "return_sequences": True, "return_state": True,
                                 "go_backwards": True}, 1, 1, 1, True, True, False, 1,
                   "float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@expensive
@given(case=st.data())
@example(case=None)
def test_simple_rnn_parity(tf_keras, tf, dtype, case):
    case = SIMPLE_EDGE._replace(dtype=dtype) if case is None else case.draw(
        draw_case("SimpleRNN", dtype))
    check_parity(tf_keras, tf, case)


@expensive
@given(case=draw_case("SimpleRNN", "float64"))
def test_simple_rnn_gradcheck(case):
    check_gradcheck(case)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@expensive
@given(case=st.data())
def test_simple_rnn_fast_equals_readable(dtype, case):
    check_fast_equals_readable(case.draw(draw_case("SimpleRNN", dtype)))


def test_lecture44_hand_written_loop_reproduces_the_model():
    """Lecture 44: the course's loop over get_weights() gives model.predict's output."""
    from scratch.layers import Dense, Input
    from scratch.models import Model
    N, T, D, K, M = 1, 10, 3, 2, 5
    X = np.random.default_rng(44).standard_normal((N, T, D))
    i = Input(shape=(T, D))
    x = SimpleRNN(M)(i)
    x = Dense(K)(x)
    model = Model(i, x)
    Yhat = model.predict(X, verbose=0)
    assert Yhat.shape == (N, K)
    a, b, c = model.layers[1].get_weights()
    assert (a.shape, b.shape, c.shape) == ((D, M), (M, M), (M,))
    Wx, Wh, bh = model.layers[1].get_weights()
    Wo, bo = model.layers[2].get_weights()
    h_last = np.zeros(M)
    x = X[0]
    Yhats = []
    for t in range(T):
        h = np.tanh(x[t].dot(Wx) + h_last.dot(Wh) + bh)
        y = h.dot(Wo) + bo
        Yhats.append(y)
        h_last = h
    assert_close(Yhat[0], Yhats[-1].astype("float32"), kind="forward", dtype="float32")


def test_generic_rnn_with_cell_equals_simple_rnn():
    """RNN(SimpleRNNCell(M)) is SimpleRNN(M); the cell called alone is one step of it."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 3))
    layer = SimpleRNN(3, return_sequences=True, dtype="float64")
    generic = RNN(SimpleRNNCell(3, dtype="float64"), return_sequences=True, dtype="float64")
    y = layer(x)
    generic.build(x.shape)
    generic.set_weights(layer.get_weights())
    np.testing.assert_array_equal(generic(x), y)
    h1, states = generic.cell(x[:, 0], [np.zeros((2, 3))])
    np.testing.assert_array_equal(h1, y[:, 0])
    np.testing.assert_array_equal(states[0], h1)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(generic.backward(dy), layer.backward(dy))


def test_stateful_two_calls_equal_one_call_and_reset_state():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 3)).astype("float32")
    full = SimpleRNN(4, return_sequences=True)
    y = full(x)
    stateful = SimpleRNN(4, return_sequences=True, stateful=True)
    stateful.build(x.shape)
    stateful.set_weights(full.get_weights())
    y1 = stateful(x[:, :2])
    y2 = stateful(x[:, 2:])
    assert_close(np.concatenate([y1, y2], axis=1), y, kind="fast_vs_readable", dtype="float32")
    np.testing.assert_array_equal(stateful.states[0], y2[:, -1])
    assert len(stateful.get_weights()) == 3  # the states are not weights, as in Keras
    stateful.reset_states()
    np.testing.assert_array_equal(stateful.states[0], 0)
    np.testing.assert_array_equal(stateful(x[:, :2]), y1)


def test_stateful_matches_keras(tf_keras):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 5, 2)).astype("float32")
    ours = SimpleRNN(3, stateful=True)
    ours.build(x.shape)
    theirs = tf_keras.layers.SimpleRNN(3, stateful=True)
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    for _ in range(2):
        assert_close(ours(x), theirs(x).numpy(), kind="forward", dtype="float32")
    assert_close(ours.states[0], theirs.states[0].numpy(), kind="forward", dtype="float32")


def test_mask_propagates_only_with_return_sequences():
    x = np.ones((2, 3, 1), "float32")
    mask = np.array([[True, False, True], [True, True, False]])
    for rs, rstate in [(False, False), (True, False), (True, True), (False, True)]:
        layer = SimpleRNN(2, return_sequences=rs, return_state=rstate)
        layer(x, mask=mask)
        out_mask = layer.compute_mask(x, mask)
        first = out_mask[0] if rstate else out_mask
        assert (first is mask) == rs
        if rstate:
            assert out_mask[1:] == [None]


def _assert_rejected_without_change(layer, call, match):
    before = [w.copy() for w in layer.get_weights()]
    states = None if layer.states is None else [s.copy() for s in layer.states]
    cache = layer._cache
    with pytest.raises(ValueError, match=match):
        call()
    for w, b in zip(layer.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w, b)
    if states is not None:
        for s, b in zip(layer.states, states, strict=True):
            np.testing.assert_array_equal(s, b)
    assert layer._cache is cache


def test_bad_input_errors_leave_the_layer_unchanged():
    x = np.random.default_rng(0).standard_normal((4, 5, 3)).astype("float32")
    layer = SimpleRNN(2, stateful=True)
    layer(x)
    # 2-D input: the course's N×T×D lesson (Lectures 42, 44).
    _assert_rejected_without_change(layer, lambda: layer(x[:, :, 0]), r"expected ndim=3.*N×T×D")
    _assert_rejected_without_change(layer, lambda: layer(x[..., :2]), "last dimension 3")
    _assert_rejected_without_change(layer, lambda: layer(x[:3]), "batch size")
    good = np.zeros((4, 2), "float32")
    _assert_rejected_without_change(
        layer, lambda: layer(x, initial_state=[good, good]), "expected 1 initial state")
    _assert_rejected_without_change(
        layer, lambda: layer(x, initial_state=[np.zeros((4, 3), "float32")]), r"shape \(4, 2\)")
    _assert_rejected_without_change(
        layer, lambda: layer(x, mask=np.ones((4, 4), bool)), "mask of shape")
    with pytest.raises(ValueError, match="expected ndim=3"):
        SimpleRNN(2)(np.zeros((4, 5), "float32"))
    with pytest.raises(ValueError, match="positive integer"):
        SimpleRNN(0)
    with pytest.raises(RuntimeError, match="forward"):
        SimpleRNN(2).backward(np.zeros((1, 2)))


def test_config_round_trip_and_keras_keys(tf_keras):
    layer = SimpleRNN(3, activation="relu", return_sequences=True, go_backwards=True,
                      dropout=0.25, seed=7)
    config = layer.get_config()
    clone = SimpleRNN.from_config(config)
    assert clone.get_config() == {**config, "name": clone.name}
    keras_keys = set(tf_keras.layers.SimpleRNN(3).get_config())
    missing = keras_keys - set(config) - {"kernel_regularizer", "recurrent_regularizer",
                                          "bias_regularizer", "activity_regularizer",
                                          "kernel_constraint", "recurrent_constraint",
                                          "bias_constraint"}
    assert not missing


@pytest.mark.parametrize("layer", ["SimpleRNN", "GRU", "LSTM"])
def test_batch_split_across_threads_equals_one_thread(monkeypatch, layer):
    """The fast path may cut a big batch into chunks run in threads: same numbers."""
    from scratch._kernels import recurrent as kernels
    monkeypatch.setattr(kernels, "MIN_ROWS_PER_THREAD", 2)
    monkeypatch.setattr(kernels, "MIN_WORK_PER_STEP", 0)
    config = {"units": 4, "return_sequences": True, "return_state": True, "go_backwards": True,
              "dropout": 0.3}
    for dtype in ("float64", "float32"):
        case = Case(layer, config, 7, 4, 3, True, True, True, 21, dtype)
        lay = scratch_layer(case)
        lay.build((case.N, case.T, case.D))
        data = make_data(case, lay)
        one = run_scratch(case, lay, data)
        kernels.set_threads(3)
        try:
            split = run_scratch(case, lay, data)
        finally:
            kernels.set_threads(1)
        assert isinstance(lay._cache.sequence, kernels.SplitCache)
        for a, r in zip(split.outputs + [split.dx] + split.d_states + split.grads,
                        one.outputs + [one.dx] + one.d_states + one.grads, strict=True):
            assert_close(a, r, kind="fast_vs_readable", dtype=dtype)
    with pytest.raises(ValueError, match="positive integer"):
        kernels.set_threads(0)
