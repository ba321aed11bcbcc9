"""The layer harness of the tests: one call checks one layer configuration from every side.

In the spirit of Keras' own `run_layer_test`, `check_layer(layer, x, ...)` runs the checks
that every scratch layer owes its tf.keras twin, so that a layer test says *which*
configurations to try and the harness says *how* they are compared:

1. **Config round trip:** `from_config(get_config())` gives the same config; with tf.keras,
   the Keras layer is made from scratch's config, and every key of the Keras config that
   scratch implements has scratch's value.
2. **Output shape:** `compute_output_shape(input shape)` is the shape of the real output;
   with tf.keras, it also equals Keras' answer for a batch of unknown size (None).
3. **Parity with tf.keras:** the same input and the same random cotangent v in both engines;
   Keras runs under `tf.GradientTape` on L = Σ⟨v, output⟩. Outputs, dL/dx, dL/d(initial
   states) and dL/dW of every trainable weight are compared with `assert_close` and the
   kinds `forward`, `input_grad` and `weight_grad` of the one tolerance table
   (`scratch/testing.py`), and the output masks exactly; outputs and gradients must be in
   the layer's dtype.
4. **Fast == readable:** the same call under `scratch.backend.fast_paths(False)` (every
   Numba kernel, im2col and fused path off) against `fast_paths(True)` (the call above runs
   under the switch as it is, the second under the other value): outputs, gradients and
   the weights after the call (moving statistics), kind `fast_vs_readable`.
5. **Finite differences** (float64 layers, `gradcheck=True`): `scratch.testing.gradcheck` of
   every output with respect to the float inputs, the trainable weights and the initial
   states.

Example (a Dense layer in float64, where every check applies)::

    from tests.parity import check_layer

    def test_dense_tanh(tf_keras, tf):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((4, 3))
        layer = Dense(2, activation="tanh", dtype="float64")
        check_layer(layer, x, keras=tf_keras, tf=tf, rng=rng, gradcheck=True)

The layer keeps its initial weights unless the test builds it and sets its own first
(`layer.build(x.shape)`, `layer.set_weights(...)`); the Keras twin gets a copy of them.
Without `keras=` the tf.keras checks are skipped (tests that need no TensorFlow). A layer
whose call draws random numbers (Dropout, recurrent dropout) or keeps state between calls
gets `before_call=`: it runs before every scratch call, so that each one sees the same mask.

The pieces are public too: `run_scratch` and `run_keras` make one call of a layer in each
engine and return a `Run`; `keras_vjp` does the GradientTape part for any tf.keras callable
(a layer, a model, an activation function); `compare` compares two `Run`s. The recurrent
layers' cases (inputs, initial states, masks and dropout masks from one seed) are in
tests/parity_rnn.py.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from scratch import backend
from scratch.testing import assert_close, gradcheck

__all__ = ["Run", "Checked", "check_layer", "run_scratch", "run_keras", "keras_vjp",
           "compare", "KERAS_ONLY_KEYS"]

# Keys of tf.keras configs that scratch does not implement (regularizers, constraints,
# quantization, batch renormalization, RMS scaling, Flatten's channels_first): the config
# check leaves them out.
KERAS_ONLY_KEYS = frozenset({
    "kernel_regularizer", "bias_regularizer", "activity_regularizer", "recurrent_regularizer",
    "gamma_regularizer", "beta_regularizer", "kernel_constraint", "bias_constraint",
    "recurrent_constraint", "gamma_constraint", "beta_constraint", "quantization_config",
    "renorm", "renorm_clipping", "renorm_momentum", "rms_scaling", "data_format",
    "depthwise_regularizer", "pointwise_regularizer", "depthwise_constraint",
    "pointwise_constraint",
})


class Run(NamedTuple):
    """One forward and backward call of a layer (or of a Keras callable).

    Lists have one entry per output (`outputs`, `masks`), per input (`dx`: None for an
    integer input, which gets no gradient), per initial state (`d_states`) and per trainable
    weight (`grads`, in the order of `layer.params`); `cotangents` are the v of the call."""

    outputs: list
    masks: list
    dx: list
    d_states: list
    grads: list
    cotangents: list


class Checked(NamedTuple):
    """What `check_layer` ran: scratch's `Run`, Keras' `Run` (None without keras) and the
    Keras layer (None without keras), for checks of the test's own."""

    ours: Run
    ref: Run | None
    keras_layer: Any


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _is_float(a) -> bool:
    return np.asarray(a).dtype.kind == "f"


_HARNESS_MODULE = re.escape(__name__.rpartition(".")[2])


@contextlib.contextmanager
def _warnings_are_errors():
    """pyproject.toml turns a warning that a test module's call of scratch triggers into an
    error; the harness calls scratch on the tests' behalf, so the same rule covers it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", module=rf"(tests\.)?{_HARNESS_MODULE}$")
        yield


# ----------------------------------------------------------------------------- one call
def run_scratch(layer, inputs, cotangents=None, *, rng=None, training=True, call_kwargs=None,
                before_call: Callable | None = None) -> Run:
    """`layer(inputs, training, **call_kwargs)` then `layer.backward(cotangents)`.

    The cotangents (one per output) are drawn from `rng` after the forward pass when not
    given. An `initial_state` in `call_kwargs` gets its gradients from
    `layer.initial_state_grads`."""
    call_kwargs = dict(call_kwargs or {})
    if before_call is not None:
        before_call(layer)
    with _warnings_are_errors():
        out = layer(inputs, training=training, **call_kwargs)
        outs = _as_list(out)
        if cotangents is None:
            rng = np.random.default_rng(0) if rng is None else rng
            cotangents = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]
        dx = layer.backward(list(cotangents) if isinstance(out, list) else cotangents[0])
        masks = _as_list(layer.compute_mask(inputs, call_kwargs.get("mask")))
    d_states = []
    if call_kwargs.get("initial_state") is not None:
        d_states = [np.array(g) for g in layer.initial_state_grads]
    grads = [np.array(layer.grads[name]) for name in layer.params] if layer.trainable else []
    return Run([np.array(o) for o in outs], masks + [None] * (len(outs) - len(masks)),
               [None if d is None else np.array(d) for d in _as_list(dx)], d_states, grads,
               list(cotangents))


def keras_vjp(tf, fn, inputs, cotangents, *, weights=(), **kwargs) -> Run:
    """`fn(inputs, **kwargs)` under `tf.GradientTape`, back-propagating L = Σ⟨v, output⟩.

    Float inputs are watched (integer inputs get `dx` None); in `kwargs`, float arrays (RNN
    initial states) are watched too and their gradients come back in `d_states`, other
    arrays (masks) are passed as constants. `weights` are the variables whose gradients go
    to `grads` (`klayer.trainable_weights`). `fn` may be a Keras layer, a model or any
    function of tensors, e.g. `lambda x: tf_keras.activations.elu(x, alpha=2.0)`."""
    xs = [tf.constant(x) for x in _as_list(inputs)]
    watched = [x for x in xs if x.dtype.is_floating]
    call_kwargs, states = {}, []
    for key, value in kwargs.items():
        if value is None:
            call_kwargs[key] = None
        elif isinstance(value, (list, tuple)):
            call_kwargs[key] = [tf.constant(v) for v in value]
            states += [t for t in call_kwargs[key] if t.dtype.is_floating]
        else:
            call_kwargs[key] = tf.constant(value)
            states += [call_kwargs[key]] if call_kwargs[key].dtype.is_floating else []
    with tf.GradientTape() as tape:
        for t in watched + states:
            tape.watch(t)
        out = fn(xs if isinstance(inputs, (list, tuple)) else xs[0], **call_kwargs)
        outs = list(out) if isinstance(out, (list, tuple)) else [out]
    assert len(outs) == len(cotangents), f"{len(outs)} outputs, {len(cotangents)} cotangents"
    sources = watched + states + list(weights)
    # The vector-Jacobian product vᵀ·∂output/∂source, i.e. the gradient of L = Σ⟨v, output⟩
    # (single tensors where there is one: TF's nested-structure handling of lists is slow).
    vs = [tf.constant(v, dtype=o.dtype) for o, v in zip(outs, cotangents)]
    one = len(outs) == 1
    grads = tape.gradient(outs[0] if one else outs, sources[0] if len(sources) == 1 else sources,
                          output_gradients=vs[0] if one else vs)
    grads = [None if g is None else g.numpy() if hasattr(g, "numpy")
             else tf.convert_to_tensor(g).numpy()  # an Embedding's IndexedSlices, dense
             for g in (grads if len(sources) != 1 else [grads])]
    it = iter(grads)
    # An input the output does not depend on (float ids of an Embedding) keeps None; a state
    # or weight that gets no gradient gets zeros, as scratch writes them.
    dx = [next(it) if x.dtype.is_floating else None for x in xs]
    grads = [np.zeros(s.shape, s.dtype.as_numpy_dtype) if g is None else g
             for g, s in zip(it, states + list(weights), strict=True)]
    d_states, grads = grads[:len(states)], grads[len(states):]
    masks = [None if getattr(o, "_keras_mask", None) is None else o._keras_mask.numpy()
             for o in outs]
    return Run([o.numpy() for o in outs], masks, dx, d_states, grads, list(cotangents))


def run_keras(tf, klayer, inputs, cotangents, *, training=True, call_kwargs=None,
              before_call: Callable | None = None) -> Run:
    """The same call as `run_scratch` in tf.keras: `keras_vjp` of `klayer` with respect to
    its inputs, initial states and trainable weights."""
    if before_call is not None:
        before_call(klayer)

    def call(x, **kwargs):
        return klayer(x, training=training, **kwargs)

    return keras_vjp(tf, call, inputs, cotangents, weights=klayer.trainable_weights,
                     **dict(call_kwargs or {}))


def compare(actual: Run, ref: Run, dtype, *, kind: str | None = None, names=None,
            exact: bool = False, msg: str = "") -> None:
    """Assert that two `Run`s agree: outputs with kind `forward`, dx and the initial states'
    gradients with `input_grad`, weight gradients with `weight_grad` (or all with `kind`,
    e.g. "fast_vs_readable"; or bit for bit with `exact=True`); masks exactly.

    `ref` is the reference (tf.keras, or the readable code): its values set the scale."""

    def close(a, r, default_kind, what):
        if exact:
            np.testing.assert_array_equal(a, r, err_msg=f"{what}; {msg}")
        else:
            assert_close(a, r, kind=kind or default_kind, dtype=dtype, msg=f"{what}; {msg}")

    assert len(actual.outputs) == len(ref.outputs), f"number of outputs; {msg}"
    for i, (a, r) in enumerate(zip(actual.outputs, ref.outputs, strict=True)):
        close(a, r, "forward", f"output {i}")
    for i, (a, r) in enumerate(zip(actual.masks, ref.masks, strict=True)):
        assert (a is None) == (r is None), f"mask of output {i}: {a} vs {r}; {msg}"
        if r is not None:
            np.testing.assert_array_equal(a, r, err_msg=f"mask of output {i}; {msg}")
    assert len(actual.dx) == len(ref.dx), f"number of input gradients; {msg}"
    for i, (a, r) in enumerate(zip(actual.dx, ref.dx, strict=True)):
        assert (a is None) == (r is None), f"input {i}: a gradient on one side only; {msg}"
        if r is not None:
            close(a, r, "input_grad", f"dx {i}")
    for i, (a, r) in enumerate(zip(actual.d_states, ref.d_states, strict=True)):
        close(a, r, "input_grad", f"initial state {i}")
    assert len(actual.grads) == len(ref.grads), f"number of weight gradients; {msg}"
    names = names or [str(i) for i in range(len(ref.grads))]
    for name, a, r in zip(names, actual.grads, ref.grads, strict=True):
        close(a, r, "weight_grad", f"weight {name}")


# ----------------------------------------------------------------------------- the checks
def _plain(value):
    """Tuples as lists, recursively: Keras and scratch may spell a sequence either way."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _check_config(layer, klayer, msg: str) -> None:
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config, f"config round trip; {msg}"
    if klayer is None:
        return
    assert str(klayer.dtype) == layer.dtype, f"dtype {klayer.dtype} vs {layer.dtype}; {msg}"
    _compare_configs(klayer.get_config(), config, msg)


# Config keys that hold a wrapped layer's entry {"class_name", "config", ...}.
NESTED_LAYER_KEYS = frozenset({"layer", "backward_layer"})


def _compare_configs(kconfig: dict, config: dict, msg: str, where: str = "config") -> None:
    """Every key of Keras' config that scratch implements has scratch's value; a nested
    layer (a wrapper's `layer`) is compared by the same rule, names included."""
    missing = set(kconfig) - set(config) - KERAS_ONLY_KEYS
    assert not missing, f"Keras {where} keys missing from scratch's: {sorted(missing)}; {msg}"
    for key in set(kconfig) & set(config) - {"dtype", "name"}:
        k_value, value = kconfig[key], config[key]
        if key in NESTED_LAYER_KEYS and isinstance(k_value, dict) and isinstance(value, dict):
            assert k_value["class_name"] == value["class_name"], \
                f"{where}[{key!r}] class: Keras {k_value['class_name']}, scratch " \
                f"{value['class_name']}; {msg}"
            assert k_value["config"]["name"] == value["config"]["name"], \
                f"{where}[{key!r}] name; {msg}"
            _compare_configs(k_value["config"], value["config"], msg, f"{where}[{key!r}]")
            continue
        assert _plain(k_value) == _plain(value), \
            f"{where}[{key!r}]: Keras {k_value!r}, scratch {value!r}; {msg}"


def _shape(shape):
    return tuple(None if d is None else int(d) for d in shape)


def _shapes(result) -> list:
    """compute_output_shape's answer as a list of tuples (one per output)."""
    if isinstance(result, (list, tuple)) and result and isinstance(result[0], (list, tuple)):
        return [_shape(s) for s in result]
    return [_shape(result)]


def _check_output_shape(layer, klayer, inputs, run: Run, msg: str) -> None:
    xs = _as_list(inputs)
    shapes = [x.shape for x in xs]
    given = shapes if isinstance(inputs, (list, tuple)) else shapes[0]
    inferred = _shapes(layer.compute_output_shape(given))
    assert inferred == [o.shape for o in run.outputs], \
        f"compute_output_shape {inferred} vs outputs {[o.shape for o in run.outputs]}; {msg}"
    if klayer is not None:
        batchless = [(None,) + tuple(s[1:]) for s in shapes]
        batchless = batchless if isinstance(inputs, (list, tuple)) else batchless[0]
        ours, theirs = layer.compute_output_shape(batchless), klayer.compute_output_shape(
            batchless)
        assert _shapes(ours) == _shapes(theirs), \
            f"compute_output_shape({batchless}): {ours} vs Keras {theirs}; {msg}"


def _check_gradients(layer, inputs, *, training, call_kwargs, before_call, seed) -> None:
    """`gradcheck` of every output w.r.t. the float inputs, trainable weights and initial
    states (float64), through the layer's own forward and backward."""
    assert layer.dtype == "float64", f"gradcheck needs a float64 layer, not {layer.dtype}"
    call_kwargs = dict(call_kwargs or {})
    xs = _as_list(inputs)
    x_names = ["x"] if not isinstance(inputs, (list, tuple)) else [f"x{i}" for i in
                                                                   range(len(xs))]
    x_names = [n if _is_float(x) else None for n, x in zip(x_names, xs, strict=True)]
    w_names = list(layer.params) if layer.trainable else []
    states = call_kwargs.get("initial_state") or []
    point = {n: x for n, x in zip(x_names, xs, strict=True) if n is not None}
    point.update({n: layer.params[n].copy() for n in w_names})
    point.update({f"s{k}": s for k, s in enumerate(states)})
    saved = {n: layer.params[n].copy() for n in w_names}

    def call(p):
        for n in w_names:
            layer.params[n][...] = p[n]
        new = [x if n is None else p[n] for n, x in zip(x_names, xs, strict=True)]
        kwargs = dict(call_kwargs)
        if states:
            kwargs["initial_state"] = [p[f"s{k}"] for k in range(len(states))]
        if before_call is not None:
            before_call(layer)
        out = layer(new if isinstance(inputs, (list, tuple)) else new[0], training=training,
                    **kwargs)
        return out if isinstance(out, list) else [out]

    def fn(p):
        outs = call(p)
        return outs[0] if len(outs) == 1 else np.concatenate([o.ravel() for o in outs])

    def vjp(v):
        outs = call(point)
        pieces, start = [], 0
        for o in outs:
            pieces.append(v[start:start + o.size].reshape(o.shape))
            start += o.size
        dx = layer.backward(pieces if len(outs) > 1 else pieces[0])
        grads = {n: d for n, d in zip(x_names, _as_list(dx), strict=True) if n is not None}
        grads.update({n: layer.grads[n] for n in w_names})
        if states:
            grads.update({f"s{k}": g for k, g in enumerate(layer.initial_state_grads)})
        return grads

    try:
        with _warnings_are_errors():
            gradcheck(fn, point, vjp, seed=seed)
    finally:
        for n in w_names:
            layer.params[n][...] = saved[n]


def _keras_class(keras, layer):
    """The tf.keras class of the same name as the layer's (or of its first base class that
    has one)."""
    for cls in type(layer).__mro__:
        if hasattr(keras.layers, cls.__name__):
            return getattr(keras.layers, cls.__name__)
    raise TypeError(f"tf.keras has no layer class for {type(layer).__name__}")


def check_layer(layer, inputs, *, keras=None, tf=None, keras_layer=None, rng=None,
                cotangents=None, training=True, call_kwargs=None,
                before_call: Callable | None = None, before_keras_call: Callable | None = None,
                config: bool = True, output_shape: bool = True, fast_vs_readable: bool = True,
                gradcheck: bool = False, exact: bool = False, seed: int = 0,
                msg: str = "") -> Checked:
    """Check one configuration of a scratch layer from every side (see the module docstring).

    Args:
        layer: the scratch layer, built or not (the call builds it). Weights of your own go
            in before the call (`layer.build(shape)`, `layer.set_weights(...)`).
        inputs: what `layer(...)` takes: an array, or a list of arrays (merge layers).
        keras, tf: tf.keras and tensorflow (the `tf_keras` and `tf` fixtures); without them
            the Keras checks are skipped.
        keras_layer: the tf.keras twin. Default: made from scratch's `get_config()`. An
            unbuilt one is built and gets scratch's weights; a built one is used as it is
            (several steps of one layer pair, e.g. BatchNormalization's moving statistics).
        rng: draws the cotangents (one per output) after the forward pass; or give
            `cotangents` yourself.
        training, call_kwargs: passed to both calls (`mask=`, `initial_state=`, ...).
        before_call, before_keras_call: run before every scratch / Keras call (inject
            dropout masks, re-seed a Dropout).
        config, output_shape, fast_vs_readable, gradcheck: which checks run (gradcheck needs
            a float64 layer and inputs away from kinks).
        exact: compare with tf.keras bit for bit (layers that only move numbers around).
        seed: gradcheck's seed (its cotangent and directions).
        msg: appended to every failure message (the case, the dtype).

    Returns:
        A `Checked` with scratch's run, Keras' run and the Keras layer.
    """
    call_kwargs = dict(call_kwargs or {})
    shapes = ([x.shape for x in inputs] if isinstance(inputs, (list, tuple))
              else np.shape(inputs))
    if not layer.built:
        layer.build(shapes)
        layer.built = True
    klayer = None
    if keras is not None:
        klayer = keras_layer if keras_layer is not None else _keras_class(
            keras, layer).from_config(layer.get_config())
    if config:  # before Keras builds its layer (build rewrites some keys, e.g. axis=[-1])
        _check_config(layer, klayer, msg)
    if klayer is not None and not klayer.built and layer.weights:
        klayer.build(shapes)
        klayer.set_weights(layer.get_weights())

    before = layer.get_weights() if fast_vs_readable else None
    ours = run_scratch(layer, inputs, cotangents, rng=rng, training=training,
                       call_kwargs=call_kwargs, before_call=before_call)
    dtype = layer.dtype
    for what, arrays in [("output", ours.outputs), ("dx", ours.dx), ("d_state", ours.d_states),
                         ("weight gradient", ours.grads)]:
        for a in arrays:
            assert a is None or a.dtype == dtype, f"{what} in {a.dtype}, not {dtype}; {msg}"
    cotangents = ours.cotangents
    names = list(layer.params) if layer.trainable else []

    ref = None
    if klayer is not None:
        ref = run_keras(tf, klayer, inputs, cotangents, training=training,
                        call_kwargs=call_kwargs, before_call=before_keras_call)
        compare(ours, ref, dtype, names=names, exact=exact, msg=msg)
    if output_shape:
        _check_output_shape(layer, klayer, inputs, ours, msg)

    if fast_vs_readable:
        after = layer.get_weights()
        layer.set_weights(before)
        current = backend.fast_paths_enabled()
        with backend.fast_paths(not current):
            other = run_scratch(layer, inputs, cotangents, training=training,
                                call_kwargs=call_kwargs, before_call=before_call)
            other_after = layer.get_weights()
        fast, readable = (ours, other) if current else (other, ours)
        fast_w, readable_w = (after, other_after) if current else (other_after, after)
        compare(fast, readable, dtype, kind="fast_vs_readable", names=names,
                msg=f"fast vs readable; {msg}")
        for name, a, r in zip(layer.weight_names, fast_w, readable_w, strict=True):
            assert_close(a, r, kind="fast_vs_readable", dtype=dtype,
                         msg=f"weight {name} after the call, fast vs readable; {msg}")
        layer.set_weights(after)

    if gradcheck:
        _check_gradients(layer, inputs, training=training, call_kwargs=call_kwargs,
                         before_call=before_call, seed=seed)
    return Checked(ours, ref, klayer)
