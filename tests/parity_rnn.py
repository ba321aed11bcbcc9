"""The recurrent layers' cases for the layer harness (tests/parity.py): SimpleRNN, GRU, LSTM.

One config dict drives both engines; weights go from scratch into Keras and both
back-propagate the same random cotangents. Dropout masks are injected on both sides (Keras
keeps them in `cell._dropout_mask`), so dropout is compared exactly instead of through
equal random streams. A test draws a case and hands it to `check_rnn`::

    @given(case=draw_rnn_case("GRU", "float64", {"reset_after": st.booleans()}))
    def test_gru(tf_keras, tf, case):
        check_rnn(case, keras=tf_keras, tf=tf)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st

from tests.parity import Checked, check_layer

__all__ = ["RnnCase", "draw_rnn_case", "rnn_layer", "rnn_inputs", "check_rnn",
           "cell_dropout_masks", "inject_masks"]

RNN_FLAGS = ("return_sequences", "return_state", "go_backwards")


class RnnCase(NamedTuple):
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
def draw_rnn_case(draw, layer: str, dtype: str, extra: dict | None = None) -> RnnCase:
    """A small random configuration (sizes 1–5) with every option of the layer; `extra` maps
    more constructor arguments to their strategies (GRU's reset_after, ...)."""
    config: dict[str, Any] = {
        "units": draw(st.integers(1, 5)),
        "use_bias": draw(st.booleans()),
        "activation": draw(st.sampled_from(["tanh", "tanh", "relu", None])),
        **{k: draw(st.booleans()) for k in RNN_FLAGS},
        "dropout": draw(st.sampled_from([0.0, 0.0, 0.4])),
        "recurrent_dropout": draw(st.sampled_from([0.0, 0.0, 0.3])),
        "zero_output_for_mask": draw(st.sampled_from([False, False, True])),
    }
    for key, strategy in (extra or {}).items():
        config[key] = draw(strategy)
    return RnnCase(layer, config, N=draw(st.integers(1, 3)), T=draw(st.integers(1, 5)),
                   D=draw(st.integers(1, 4)), use_initial_state=draw(st.booleans()),
                   use_mask=draw(st.booleans()), training=draw(st.booleans()),
                   seed=draw(st.integers(0, 2**32 - 1)), dtype=dtype)


class RnnInputs(NamedTuple):
    """What one call of a recurrent layer takes, and the hooks that inject its dropout."""

    x: np.ndarray
    call_kwargs: dict  # mask, initial_state
    cotangents: list  # one per output
    before_call: Callable  # scratch: writes the dropout masks into layer.cell
    before_keras_call: Callable  # the same masks into the Keras cell, as tensors


def rnn_layer(case: RnnCase):
    """The case's scratch layer, built."""
    from scratch.layers import recurrent

    layer = getattr(recurrent, case.layer)(**case.config, dtype=case.dtype)
    layer.build((case.N, case.T, case.D))
    return layer


def rnn_inputs(case: RnnCase, layer) -> RnnInputs:
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
    call_kwargs = {}
    if case.use_initial_state:
        call_kwargs["initial_state"] = [rng.standard_normal((N, M)).astype(dt)
                                        for _ in range(n_states(case.layer))]
    if case.use_mask:
        mask = rng.random((N, T)) > 0.35
        mask[0, 0] = False  # a masked first step: the output before it must be zeros
        call_kwargs["mask"] = mask
    masks = cell_dropout_masks(case, rng)
    shapes = [(N, T, M) if case.config.get("return_sequences") else (N, M)]
    if case.config.get("return_state"):
        shapes += [(N, M)] * n_states(case.layer)
    cotangents = [rng.standard_normal(s).astype(dt) for s in shapes]

    def before_call(layer):
        inject_masks(layer.cell, masks)

    def before_keras_call(klayer):
        inject_masks(klayer.cell, masks, keras=True)

    return RnnInputs(x, call_kwargs, cotangents, before_call, before_keras_call)


def cell_dropout_masks(case: RnnCase, rng) -> tuple:
    """(input masks, recurrent masks) of one call of the case's cell, drawn from `rng`: None
    unless training with a rate > 0, else one (N, width) mask of 0 and 1/(1 − rate), or one
    per gate with implementation 1 (Keras' layout of `cell._dropout_mask`)."""
    impl1 = case.config.get("recurrent_dropout", 0) > 0 or case.config.get("implementation") == 1
    count = gate_count(case.layer) if impl1 and case.layer != "SimpleRNN" else None

    def masks(rate, width):
        if not (case.training and rate > 0):
            return None
        one = lambda: ((rng.random((case.N, width)) >= rate) / (1 - rate)).astype(  # noqa: E731
            case.dtype)
        return one() if count is None else [one() for _ in range(count)]

    return (masks(case.config.get("dropout", 0), case.D),
            masks(case.config.get("recurrent_dropout", 0), case.config["units"]))


def inject_masks(cell, masks: tuple, keras: bool = False) -> None:
    """Write `cell_dropout_masks` into a scratch cell, or a tf.keras cell as tensors."""
    def const(a):
        if a is None or not keras:
            return a
        import tensorflow as tf

        return [tf.constant(m) for m in a] if isinstance(a, list) else tf.constant(a)

    cell._dropout_mask, cell._recurrent_dropout_mask = const(masks[0]), const(masks[1])


def check_rnn(case: RnnCase, *, keras=None, tf=None, fast_vs_readable: bool = True,
              gradcheck: bool = False) -> Checked:
    """`check_layer` for a recurrent case: the layer, its weights, inputs, initial states,
    mask, dropout masks and cotangents all come from `case`."""
    layer = rnn_layer(case)
    data = rnn_inputs(case, layer)
    klayer = None
    if keras is not None:  # from the case, not the config: neither config has `implementation`
        config = dict(case.config)
        if case.layer != "SimpleRNN":
            # On CPU Keras' cuDNN attempt always falls back to the generic loop, but with
            # implementation=1, dropout and no recurrent dropout the attempt itself crashes
            # (it broadcasts the list of per-gate masks): skip it, the numbers are the same.
            config["use_cudnn"] = False
        klayer = getattr(keras.layers, case.layer)(**config, dtype=case.dtype)
    return check_layer(layer, data.x, keras=keras, tf=tf, keras_layer=klayer,
                       cotangents=data.cotangents, training=case.training,
                       call_kwargs=data.call_kwargs, before_call=data.before_call,
                       before_keras_call=data.before_keras_call,
                       fast_vs_readable=fast_vs_readable, gradcheck=gradcheck,
                       seed=case.seed % 1000, msg=repr(case))
