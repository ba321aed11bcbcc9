"""The parity report: where a model's numbers first leave tf.keras', layer by layer.

    report = keras_ref.compare(model, x, y, steps=3)   # a scratch model, a tf.keras model
    print(report)                                       # or the path of a .keras file
    report.first_divergence                             # the first failing ParityRow, or None

`compare` builds the twin in the other engine with identical weights (`to_keras` for a scratch
model, `from_keras` for a tf.keras model, `scratch.models.load_model` and
`keras.models.load_model` for a file) and compares, in this order (the order of
`report.rows`):

1. **forward** (step 0): every layer call's output, the layer **in isolation**: the scratch
   layer is fed exactly tf.keras' input to that layer (and its Keras mask), in training mode,
   so a wrong layer fails its own row and nothing after it. Then the loss of tf.keras'
   predictions, computed by scratch's loss (kind `loss`).
2. **backward** (step 0): the gradient of the loss w.r.t. each output, or w.r.t. its hidden
   logits where both engines take them (docs/KERAS_NUMERICS.md §Hidden logits); then, from
   the last layer call to the first, the gradient w.r.t. each input of the layer
   (`input_grad`) and w.r.t. each of its trainable weights (`weight_grad`), the scratch layer
   back-propagating tf.keras' cotangent of its output (tf.GradientTape on the Keras side).
3. **steps** 1 … `steps`: one `train_on_batch(x, y)` in each engine, from the same weights and
   fresh optimizers of the same configuration; then the loss and metrics it returned
   (kind `loss`) and every weight, non-trainable ones included (`weights_after_steps`).
   Here the engines run on their own: the steps compare whole trajectories.

Every row is judged by one kind of `scratch.testing.TOLERANCES`, with tf.keras as the
reference (`scratch.testing.closeness`, the judgement of `assert_close`). Without targets
(`y=None`) the backward rows back-propagate a seeded random cotangent of the outputs instead
of a loss's gradient, and there are no steps.

Models: Sequential and functional (layer calls walked in topological order; a model nested as
a layer is one layer; a shared layer's weight gradients are the sum over its calls), float32
or float64. A scratch model is used as it is (its own layers, so a fault planted in one is
found) and left as it was found: weights, random generators, optimizer and compile settings.
Dropout and the recurrent layers' dropout draw the same masks in both engines: each Keras
seed generator starts from its scratch twin's state.

`compare_main(argv)` is the command line: `python -m scratch parity m.keras --steps 3
--x data.npz`.

The module is over the project's 500 lines because the report compares every quantity
(forward, input and weight gradients, the loss and its gradient, metrics, the weights after
each step) for every kind of input (a scratch model, a tf.keras model, a file) and leaves
the model as it found it; all of it shares the report's row type and the tolerance table.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .convert import compile_like, from_keras, keras, keras_call_arguments, to_keras

# The quantities of the rows and the tolerance kind each is judged by.
QUANTITY_KINDS = {
    "forward": "forward",
    "loss": "loss",
    "input_grad": "input_grad",
    "weight_grad": "weight_grad",
    "metric": "loss",
    "weights_after_steps": "weights_after_steps",
}


# ------------------------------------------------------------------------------ the report
@dataclass(frozen=True)
class ParityRow:
    """One comparison of the report: scratch's value against tf.keras' (the reference).

    Attributes:
        step: 0 for the forward and backward pass on (x, y); k ≥ 1 after optimizer step k.
        quantity: "forward" (a layer's output), "loss", "input_grad" (dL/d input of a layer,
            or dL/d output of the loss), "weight_grad", "metric" or "weights_after_steps".
        layer: the layer's name ("model" for the loss and metrics of a step; the loss class'
            name for the loss' gradient).
        layer_class: the layer's class name ("" where `layer` is not a layer).
        name: the tensor or weight: "output", "output[1]", "dL/dinput", "kernel", "loss",
            "accuracy", "dL/dlogits (dense_1)", ...
        max_abs: the greatest |scratch − tf.keras| (inf when the shapes differ).
        max_rel: the greatest |scratch − tf.keras| / |tf.keras| (equal elements count 0).
        kind: the tolerance kind of `scratch.testing.TOLERANCES` the row is judged by.
        passed: whether every element is within that tolerance.
        note: why a row failed without numbers (a shape or a missing value), else "".
    """

    step: int
    quantity: str
    layer: str
    layer_class: str
    name: str
    max_abs: float
    max_rel: float
    kind: str
    passed: bool
    note: str = ""

    @property
    def where(self) -> str:
        """`layer (Class)`, or the layer alone where it has no class."""
        return f"{self.layer} ({self.layer_class})" if self.layer_class else self.layer

    def describe(self) -> str:
        """One line: step, quantity, layer and tensor, the differences and the verdict."""
        diff = self.note or f"max |Δ| {self.max_abs:.3g}, max rel {self.max_rel:.3g}"
        return (f"step {self.step}, {self.quantity} of {self.where}, {self.name}: {diff} "
                f"({'within' if self.passed else 'outside'} the {self.kind!r} tolerance)")


@dataclass
class ParityReport:
    """The rows of a comparison, in forward, backward, steps order, and a readable table.

    `str(report)` is the table; `report.first_divergence` the first failing row (None when
    every row passes); `report.passed` whether none fails; `report.failures` the failing rows.
    """

    rows: list[ParityRow]
    dtype: str
    header: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[ParityRow]:
        return [r for r in self.rows if not r.passed]

    @property
    def first_divergence(self) -> ParityRow | None:
        return next((r for r in self.rows if not r.passed), None)

    @property
    def passed(self) -> bool:
        return self.first_divergence is None

    def table(self) -> str:
        """The rows as a fixed-width table (what `str(report)` prints under its header)."""
        heads = ("step", "quantity", "layer", "tensor / weight", "max |Δ|", "max rel", "kind",
                 "")
        cells = [(str(r.step), r.quantity, r.where, r.name,
                  "—" if r.note else f"{r.max_abs:.2e}", "—" if r.note else f"{r.max_rel:.2e}",
                  r.kind, ("ok" if r.passed else "FAIL") + (f"  {r.note}" if r.note else ""))
                 for r in self.rows]
        widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(heads)]
        right = {0, 4, 5}

        def line(values) -> str:
            return "  ".join(v.rjust(w) if i in right else v.ljust(w)
                             for i, (v, w) in enumerate(zip(values, widths))).rstrip()

        return "\n".join([line(heads)] + [line(c) for c in cells])

    def tolerances(self) -> str:
        """The tolerance of each kind the rows use, for this dtype, as one line."""
        from scratch.testing import tolerance

        kinds = dict.fromkeys(r.kind for r in self.rows)
        parts = [f"{k} {tolerance(k, self.dtype)[0]:g}/{tolerance(k, self.dtype)[1]:g}"
                 for k in kinds]
        return (f"Tolerances (scratch.testing.TOLERANCES, {self.dtype}; rtol/atol factor, "
                "atol = factor·max(1, max|tf.keras|)): " + ", ".join(parts))

    def __str__(self) -> str:
        import textwrap

        first = self.first_divergence
        n_bad = len(self.failures)
        verdict = ([f"{len(self.rows)} rows, all within tolerance."] if first is None else
                   [f"{n_bad} of {len(self.rows)} rows outside tolerance.",
                    f"First divergence: {first.describe()}"])
        head = [line for text in self.header + [self.tolerances()]
                for line in textwrap.wrap(text, 100, subsequent_indent="  ")]
        return "\n".join(head + ["", self.table(), ""] + verdict)


def _row(step: int, quantity: str, layer, name: str, actual, ref, dtype: str) -> ParityRow:
    """Judge scratch's `actual` against tf.keras' `ref` (None: missing on that side)."""
    from scratch.testing import closeness

    kind = QUANTITY_KINDS[quantity]
    lname, lclass = _layer_label(layer)
    if actual is None or ref is None:
        note = "no value in scratch" if actual is None else "no value in tf.keras"
        return ParityRow(step, quantity, lname, lclass, name, math.inf, math.inf, kind, False,
                         note)
    actual, ref = np.asarray(actual), np.asarray(ref)
    if actual.shape != ref.shape:
        return ParityRow(step, quantity, lname, lclass, name, math.inf, math.inf, kind, False,
                         f"shape {actual.shape} in scratch, {ref.shape} in tf.keras")
    c = closeness(actual, ref, kind=kind, dtype=dtype)
    return ParityRow(step, quantity, lname, lclass, name, c.max_abs, c.max_rel, kind, c.ok)


def _layer_label(layer) -> tuple[str, str]:
    if isinstance(layer, str):
        return layer, ""
    if isinstance(layer, tuple):
        return layer
    return layer.name, type(layer).__name__


# ------------------------------------------------------------------------------ the twins
class _Preserved:
    """What `compare` changes on a scratch model it is given, put back afterwards: the
    model's attributes (optimizer, compile settings, caches), every weight's values and
    every random generator's state."""

    def __init__(self, model) -> None:
        self.model = model
        self.attrs = dict(model.__dict__)
        self.weights = model.get_weights()
        self.seeds = [(g, g.state) for g in _scratch_generators(model)]

    def restore(self) -> None:
        self.model.__dict__.clear()
        self.model.__dict__.update(self.attrs)
        self.model.set_weights(self.weights)
        for g, state in self.seeds:
            g.state = state


def _sublayers(layer) -> list:
    from scratch.layers.core import InputLayer

    return [l for l in getattr(layer, "layers", []) if not isinstance(l, InputLayer)]


def _scratch_generators(layer) -> list:
    """Every SeedGenerator under a scratch layer or model (Dropout's, RNN cells', those of
    a wrapper's layers)."""
    from scratch.saving.keras_order import layer_children

    out = []
    g = getattr(layer, "seed_generator", None)
    if g is not None:
        out.append(g)
    for _, child in layer_children(layer):  # an RNN's cell, a wrapper's layers
        out += _scratch_generators(child)
    for sub in _sublayers(layer):
        out += _scratch_generators(sub)
    return out


def _paired_generators(layer, klayer) -> list[tuple[Any, Any]]:
    """(scratch generator, its tf.keras twin) for a layer and everything inside it; a
    child layer's twin is the Keras attribute of the same name (`cell`, `forward_layer`)."""
    from scratch.saving.keras_order import layer_children

    pairs = []
    g, kg = getattr(layer, "seed_generator", None), getattr(klayer, "seed_generator", None)
    if kg is None:  # MultiHeadAttention's is its Dropout sub-layer's
        kg = getattr(getattr(klayer, "_dropout_layer", None), "seed_generator", None)
    if g is not None and kg is not None:
        pairs.append((g, kg))
    for attr, child in layer_children(layer):
        kchild = getattr(klayer, attr, None)
        if kchild is not None:
            pairs += _paired_generators(child, kchild)
    for sub in _sublayers(layer):
        pairs += _paired_generators(sub, _keras_layer(klayer, sub))
    return pairs


def _sync_generators(model, kmodel) -> None:
    """Start every tf.keras seed generator from its scratch twin's state (s, k), so that
    both engines draw the same dropout masks call after call."""
    for sub in _sublayers(model):
        for g, kg in _paired_generators(sub, _keras_layer(kmodel, sub)):
            kg.state.assign(np.asarray(g.state, dtype=kg.state.dtype))


def _keras_layer(kmodel, layer):
    """The tf.keras layer with the scratch layer's name (twins keep every name)."""
    try:
        return kmodel.get_layer(layer.name)
    except ValueError as e:
        raise ValueError(
            f"The tf.keras twin has no layer named {layer.name!r} ({type(layer).__name__}): "
            f"compare pairs the layers of the two engines by name. Received: tf.keras layers "
            f"{[l.name for l in kmodel.layers]}"
        ) from e


@contextlib.contextmanager
def _floatx(dtype: str):
    """Both engines' default float type for the block (Keras makes its losses and metrics
    in floatx), then what it was."""
    import scratch

    k = keras()
    old, kold = scratch.backend.floatx(), k.backend.floatx()
    scratch.set_floatx(dtype)
    k.backend.set_floatx(dtype)
    try:
        yield
    finally:
        scratch.set_floatx(old)
        k.backend.set_floatx(kold)


def _scratch_side(model):
    """(the scratch model to compare, what it is, a _Preserved or None, tf.keras model or
    None): the user's scratch model itself, the scratch twin of a tf.keras model, or the
    model of a file."""
    from scratch.models import Model

    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not path.endswith(".keras"):
            raise ValueError(f"compare reads `.keras` files. Received: model={path!r}")
        return _load_scratch(path), f"file {path}", None, None
    if isinstance(model, Model):
        if not model.built:
            raise ValueError(f"compare needs a built model (give it an Input or call it "
                             f"once). Received: model={model.name!r}, not built")
        return model, f"scratch model {model.name!r}", _Preserved(model), None
    k = keras()
    if isinstance(model, k.Model):
        from keras.src.models.functional import Functional

        if not isinstance(model, (k.Sequential, Functional)):
            raise ValueError(
                "compare supports Sequential and functional tf.keras models. Received: a "
                f"subclassed model of type {type(model).__name__}"
            )
        return from_keras(model), f"tf.keras model {model.name!r}", None, model
    raise TypeError(
        "compare takes a scratch model, a tf.keras model or the path of a .keras file. "
        f"Received: model={model!r} (of type {type(model).__name__})"
    )


def _load_scratch(path: str):
    """The file's model in scratch, compiled from its training configuration. Its optimizer
    state is not used (the steps start from fresh optimizers), so the warning that the
    state does not fit an optimizer not yet built is left out."""
    import warnings

    from scratch.models import load_model

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return load_model(path)


def _keras_side(model, source: str, kmodel):
    """The tf.keras twin: `to_keras` of a scratch model, a clone of a tf.keras model (its
    weights copied), or the file loaded by tf.keras."""
    k = keras()
    if source.startswith("file "):
        return k.models.load_model(source[len("file "):], compile=False)
    if kmodel is not None:
        twin = k.models.clone_model(kmodel)
        twin.set_weights(kmodel.get_weights())
        return twin
    return to_keras(model)


def _compile(model, kmodel, compile_args, kmodel_given) -> bool:
    """Compile the scratch model (compile_args, else its own settings with a fresh optimizer
    of the same configuration, else the tf.keras model's) and its twin like it; False when
    there is no loss to compile."""
    from scratch.saving.compile_settings import compile_from_config

    if compile_args is not None:
        model.compile(**compile_args)
    elif model.compiled and model.optimizer is not None:
        opt = model.optimizer
        model.compile(optimizer=type(opt).from_config(opt.get_config()), loss=model._loss_spec,
                      loss_weights=model._loss_weights_spec, metrics=model._metric_spec)
    elif kmodel_given is not None and getattr(kmodel_given, "compiled", False):
        compile_from_config(model, kmodel_given.get_compile_config())
    else:
        return False
    if not any(l is not None for l in model._losses):
        return False
    compile_like(kmodel, model)
    return True


# ------------------------------------------------------------------------------ compare
def compare(model, x, y=None, steps: int = 3, *, sample_weight=None, compile=None,
            seed: int = 0) -> ParityReport:
    """Compare a model in scratch and in tf.keras, layer by layer and step by step.

    Args:
        model: a scratch model, a tf.keras model (Sequential or functional) or the path of a
            `.keras` file; float32 or float64.
        x: the input batch (an array, or a list / dict for several inputs).
        y: the targets; None compares the forward pass and the backward pass of a seeded
            random cotangent only (then `steps` must be 0).
        steps: how many optimizer steps (`train_on_batch` on (x, y)) to compare.
        sample_weight: passed to the loss of both engines.
        compile: the arguments of `compile` (optimizer, loss, metrics, ...) for the scratch
            model; the twin is compiled like it (`keras_ref.compile_like`). By default the
            model's own settings with a fresh optimizer of the same configuration (a tf.keras
            model's settings for a tf.keras model).
        seed: seeds the random cotangent of `y=None`.

    Returns:
        a `ParityReport` (see the module docstring for its rows).

    Raises:
        TypeError / ValueError: for a model, data or argument compare cannot take, in Keras'
            "Received:" form, before anything changes.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"`steps` must be an int ≥ 0. Received: steps={steps!r}")
    if y is None and steps:
        raise ValueError("Optimizer steps need targets: pass `y`, or steps=0 to compare the "
                         f"forward and backward passes only. Received: y=None, steps={steps}")
    smodel, source, preserved, kgiven = _scratch_side(model)
    for node in smodel._nodes:
        _check_call(node)
    dtype = str(smodel.dtype)
    if dtype not in ("float32", "float64"):
        raise ValueError(f"compare compares float32 or float64 models. Received: a model "
                         f"computing in {dtype}")
    try:
        with _floatx(dtype):
            kmodel = _keras_side(smodel, source, kgiven)
            has_loss = _compile(smodel, kmodel, compile, kgiven)
            if y is not None and not has_loss:
                raise ValueError(
                    "Comparing with targets needs a loss: compile the model or pass "
                    "compile={'optimizer': ..., 'loss': ...}. Received: an uncompiled model "
                    "and compile=None"
                )
            return _Comparison(smodel, kmodel, dtype, source).run(x, y, sample_weight, steps,
                                                                  seed)
    finally:
        if preserved is not None:
            preserved.restore()


@dataclass
class _Call:
    """One layer call of the tf.keras walk: its node, the tf.keras layer, its inputs (as the
    previous layers made them, and the copies it was called on), its outputs."""

    node: Any
    klayer: Any
    inputs: list
    copies: list
    outputs: list
    cache: Any = None
    from_logits: bool = False
    scratch_outputs: list | None = None  # the scratch layer's own outputs (forward rows)


class _Comparison:
    def __init__(self, model, kmodel, dtype: str, source: str) -> None:
        self.model, self.kmodel, self.dtype, self.source = model, kmodel, dtype, source
        self.rows: list[ParityRow] = []

    def add(self, *args) -> None:
        self.rows.append(_row(*args, self.dtype))

    # ------------------------------------------------------------------ the whole report
    def run(self, x, y, sample_weight, steps: int, seed: int) -> ParityReport:
        model, kmodel = self.model, self.kmodel
        if y is None:
            xs, ys, sws = model._standardize_inputs(x), None, None
        else:
            xs, ys, sws = model._standardize_data(x, y, sample_weight)
        start, kstart = model.get_weights(), kmodel.get_weights()
        seeds = [(g, g.state) for g in _scratch_generators(model)]
        _sync_generators(model, kmodel)
        calls, loss, preds, kgrads = self._keras_pass(xs, y, sample_weight, seed)
        self._forward_rows(calls)
        self._loss_rows(calls, preds, ys, sws, loss, kgrads)
        self._backward_rows(calls, kgrads)
        model.set_weights(start)  # BatchNormalization's moving statistics moved
        kmodel.set_weights(kstart)
        for g, state in seeds:
            g.state = state
        _sync_generators(model, kmodel)
        xin = xs if len(xs) > 1 else xs[0]
        for step in range(1, steps + 1):
            self._step_rows(step, xin, y, sample_weight)
        return ParityReport(self.rows, self.dtype, self._header(xs, steps, y is None))

    def _header(self, xs, steps: int, no_targets: bool) -> list[str]:
        model = self.model
        shapes = ", ".join(str(tuple(a.shape)) for a in xs)
        lines = [f"Parity report: {self.source} in scratch against tf.keras "
                 f"{keras().__version__} ({self.dtype}), inputs {shapes}."]
        if no_targets:
            lines.append("No targets: the backward rows carry a seeded random cotangent of "
                         "the outputs; no optimizer steps.")
        else:
            losses = ", ".join(type(l).__name__ for l in model._losses if l is not None)
            lines.append(f"Loss {losses}; {steps} optimizer step(s) of "
                         f"{type(model.optimizer).__name__} from fresh optimizer state.")
        lines.append("Rows: forward (each layer in isolation, fed tf.keras' input), then "
                     "backward (each layer fed tf.keras' cotangent)"
                     + (", then each step" if steps else "") + ". tf.keras is the reference.")
        return lines

    # ------------------------------------------------------------------ tf.keras
    def _keras_pass(self, xs, y, sample_weight, seed: int):
        """Run tf.keras layer call by layer call under one GradientTape; return the calls,
        the loss, the predictions and every gradient the rows need."""
        import tensorflow as tf
        from keras.src.backend.common.masking import get_keras_mask, set_keras_mask

        from scratch.layers.core import InputLayer

        model, kmodel = self.model, self.kmodel
        values = {id(t): tf.convert_to_tensor(a) for t, a in zip(model.inputs, xs)}
        calls: list[_Call] = []
        with tf.GradientTape() as tape:
            for node in model._nodes:
                if isinstance(node.layer, InputLayer):
                    continue
                klayer = _keras_layer(kmodel, node.layer)
                inputs = [values[id(t)] for t in node.inputs]
                copies = []
                for t in inputs:
                    c = tf.identity(t)  # this call's own input: its gradient is this call's
                    mask = get_keras_mask(t)
                    if mask is not None:
                        set_keras_mask(c, mask)
                    if c.dtype.is_floating:
                        tape.watch(c)
                    copies.append(c)
                args, kwargs = keras_call_arguments(node, copies)
                out = klayer(*args, training=True, **kwargs)
                outs = list(out) if node.multi_output else [out]
                for o in outs:
                    tape.watch(o)
                for t, o in zip(node.outputs, outs):
                    values[id(t)] = o
                calls.append(_Call(node, klayer, inputs, copies, outs))
            preds = [values[id(t)] for t in model.outputs]
            logits = [getattr(p, "_keras_logits", None) for p in preds]
            if y is None:
                rng = np.random.default_rng(seed)
                cotangents = [rng.standard_normal(tuple(p.shape)).astype(p.dtype.name)
                                   for p in preds]
                loss = tf.add_n([tf.reduce_sum(p * v) for p, v in zip(preds, cotangents)])
            else:
                loss = kmodel.compute_loss(
                    x=None, y=_keras_data(y, self.dtype),
                    y_pred=preds if len(preds) > 1 else preds[0],
                    sample_weight=_keras_data(sample_weight, self.dtype), training=True)
        weights = {}
        for call in calls:
            weights.setdefault(id(call.klayer), list(call.klayer.trainable_weights))
        sources = {
            "inputs": [[c for c in call.copies if c.dtype.is_floating] for call in calls],
            "outputs": [call.outputs for call in calls],
            "logits": [z for z in logits if z is not None],
            "weights": weights,
        }
        grads = tape.gradient(loss, sources)
        zs = iter(grads["logits"])
        grads["logits"] = [None if z is None else next(zs) for z in logits]
        return calls, loss, preds, grads

    # ------------------------------------------------------------------ step 0
    def _forward_rows(self, calls: list[_Call]) -> None:
        """Each scratch layer on tf.keras' input to it (training mode), against tf.keras'
        output; the caches are kept for the backward rows."""
        from keras.src.backend.common.masking import get_keras_mask

        for call in calls:
            node, layer = call.node, call.node.layer
            xs = [_as_layer_input(t, layer) for t in call.inputs]
            masks = [get_keras_mask(t) for t in call.inputs]
            kwargs = dict(node.kwargs)
            if any(m is not None for m in masks) and _accepts_mask(layer):
                masks = [None if m is None else _np(m) for m in masks]
                kwargs["mask"] = masks if node.multi_input else masks[0]
            out = layer.forward(xs if node.multi_input else xs[0], training=True, **kwargs)
            call.cache = layer._cache
            outs = list(out) if node.multi_output else [out]
            call.scratch_outputs = outs
            for j, (a, r) in enumerate(zip(outs, call.outputs)):
                name = f"output[{j}]" if node.multi_output else "output"
                self.add(0, "forward", layer, name, a, np.asarray(r))

    def _loss_rows(self, calls, preds, ys, sws, kloss, kgrads) -> None:
        """The loss of tf.keras' predictions in scratch, and its gradient w.r.t. each output
        (or its hidden logits, marking the output's call to back-propagate from them)."""
        model = self.model
        by_output = {id(t): i for i, t in enumerate(model.outputs)}
        out_calls = {}
        for call in calls:
            for t in call.node.outputs:
                if id(t) in by_output:
                    out_calls[by_output[id(t)]] = call
        if ys is None:
            return
        from keras.src.backend.common.masking import get_keras_mask

        total = np.zeros((), dtype=self.dtype)
        grad_rows = []
        for i, (loss, t) in enumerate(zip(model._losses, model.outputs)):
            if loss is None or ys[i] is None:
                continue
            call = out_calls.get(i)
            layer = t.node.layer
            pred = _np(preds[i])
            mask = get_keras_mask(preds[i])
            mask = None if mask is None else _np(mask)
            logits, activation = None, None
            hidden = loss.is_crossentropy and not t.node.multi_output and \
                getattr(layer, "logits", None) is not None
            klogits = kgrads["logits"][i]
            if hidden:
                logits = layer.logits if klogits is None else _np(preds[i]._keras_logits)
                activation = model._output_activation(i)
            value, grad = loss.value_and_grad(ys[i], pred, sample_weight=sws[i], logits=logits,
                                              mask=mask, activation=activation)
            w = model._loss_weights[i]
            if w != 1.0:
                value = value * np.asarray(w, self.dtype)
                grad = grad * np.asarray(w, self.dtype)
            total = total + value
            if call is not None and layer.activity_regularizer is not None and \
                    call.scratch_outputs is not None:  # tf.keras' cotangent holds R(y)/N's
                from scratch.models.functional import _with_activity_cotangents

                j = [id(o) for o in call.node.outputs].index(id(t))
                grad = _with_activity_cotangents(layer, [grad], [call.scratch_outputs[j]],
                                                 [hidden])[0]
            what = f"dL/dlogits ({layer.name})" if hidden else f"dL/d{layer.name}"
            note = ""
            if hidden and klogits is None:
                note = "scratch takes this loss from the hidden logits, tf.keras does not"
            elif not hidden and klogits is not None:
                note = "tf.keras takes this loss from the hidden logits, scratch does not"
            elif hidden and call is not None:
                call.from_logits = True  # both engines: the layer starts from dL/dlogits
            kgrad = klogits if hidden else _output_grad(kgrads, calls, call, t)
            grad_rows.append((type(loss).__name__, what, grad, kgrad, note))
        for penalty in self._penalties(calls):  # Keras' loss + Σ model.losses
            total = total + total.dtype.type(penalty)
        self.add(0, "loss", "model", "loss", total, np.asarray(kloss))
        for name, what, grad, kgrad, note in grad_rows:
            if note:
                self.rows.append(ParityRow(0, "input_grad", name, "", what, math.inf,
                                           math.inf, "input_grad", False, note))
            else:
                self.add(0, "input_grad", name, what, grad, np.asarray(kgrad))

    def _penalties(self, calls) -> list:
        """The regularizers' penalties, as `Model.losses` lists them: the activity penalty
        of each layer call (on the scratch layer's own output), then each trainable weight's."""
        from scratch.regularizers import activity_penalty

        out = []
        for call in calls:
            reg = call.node.layer.activity_regularizer
            if reg is not None and call.scratch_outputs is not None:
                out += [activity_penalty(reg, y) for y in call.scratch_outputs]
        plan = self.model._plan_for_current_flags()
        return out + self.model._weight_penalties(plan)

    def _backward_rows(self, calls, kgrads) -> None:
        """From the last call to the first: each scratch layer back-propagates tf.keras'
        cotangent of its output(s); dL/dinput and the weight gradients (a shared layer's
        summed over its calls, reported at its first call) against tf.keras'."""
        first_call = {}
        for k, call in enumerate(calls):
            first_call.setdefault(id(call.node.layer), k)
        summed: dict[int, list] = {}
        for k in range(len(calls) - 1, -1, -1):
            call = calls[k]
            node, layer = call.node, call.node.layer
            layer._cache = call.cache
            cots = [_zeros_like(o) if g is None else _np(g)
                    for g, o in zip(kgrads["outputs"][k], call.outputs)]
            if call.from_logits:
                z = kgrads["logits"][self._output_index(call)]
                dx = layer.backward_from_logits(_np(z))
            else:
                dx = layer.backward(cots if node.multi_output else cots[0])
            dxs = list(dx) if node.multi_input else [dx]
            kdx = iter(kgrads["inputs"][k])
            for j, (a, c) in enumerate(zip(dxs, call.copies)):
                if not c.dtype.is_floating:
                    continue
                g = next(kdx)
                if a is None and g is None:  # neither engine has one: an Embedding's ids
                    continue  # fed as floats (the course's default Input), not connected
                name = f"dL/dinput[{j}]" if node.multi_input else "dL/dinput"
                self.add(0, "input_grad", layer, name, a,
                         _zeros_like(c) if g is None else np.asarray(g))
            grads = _weight_grads(layer)
            acc = summed.setdefault(id(layer), [])
            if not acc:  # the first backward of the layer: its weights' penalties join
                penalties = _regularization_gradients(layer)
                acc.extend((n, g if n not in penalties else
                            penalties[n] if g is None else g + penalties[n]) for n, g in grads)
            else:
                acc[:] = [(n, g if a is None else (a if g is None else a + g))
                          for (n, a), (_, g) in zip(acc, grads)]
            if first_call[id(layer)] == k:
                self._weight_grad_rows(layer, acc, kgrads["weights"][id(call.klayer)])

    def _output_index(self, call: _Call) -> int:
        ids = [id(t) for t in self.model.outputs]
        return ids.index(id(call.node.outputs[0]))

    def _weight_grad_rows(self, layer, grads: list, kgrads: list) -> None:
        if len(grads) != len(kgrads):
            lname, lclass = _layer_label(layer)
            self.rows.append(ParityRow(
                0, "weight_grad", lname, lclass, "trainable weights", math.inf, math.inf,
                "weight_grad", False,
                f"{len(grads)} trainable weights in scratch, {len(kgrads)} in tf.keras"))
            return
        for (name, g), kg in zip(grads, kgrads):
            if kg is not None and not isinstance(kg, np.ndarray):
                import tensorflow as tf

                kg = np.asarray(tf.convert_to_tensor(kg))  # IndexedSlices → dense
            self.add(0, "weight_grad", layer, name, None if g is None else np.asarray(g), kg)

    # ------------------------------------------------------------------ steps
    def _step_rows(self, step: int, x, y, sample_weight) -> None:
        """One train_on_batch in each engine; the loss and metrics it returned, and every
        weight afterwards."""
        logs = self.model.train_on_batch(x, y, sample_weight=sample_weight, return_dict=True)
        klogs = self.kmodel.train_on_batch(x, _keras_data(y, self.dtype),
                                           sample_weight=_keras_data(sample_weight, self.dtype),
                                           return_dict=True)
        for key in sorted(set(logs) | set(klogs), key=lambda k: (k != "loss", k)):
            a, r = logs.get(key), klogs.get(key)
            self.add(step, "loss" if key == "loss" else "metric", "model", key,
                     None if a is None else np.asarray(a, np.float64),
                     None if r is None else np.asarray(r, np.float64))
        for label, layer, klayer in _leaf_pairs(self.model, self.kmodel):
            names, weights, kweights = layer.weight_names, layer.weights, klayer.weights
            if len(weights) != len(kweights):
                self.rows.append(ParityRow(
                    step, "weights_after_steps", label, type(layer).__name__, "weights",
                    math.inf, math.inf, "weights_after_steps", False,
                    f"{len(weights)} weights in scratch, {len(kweights)} in tf.keras"))
                continue
            for name, w, kw in zip(names, weights, kweights):
                self.add(step, "weights_after_steps", (label, type(layer).__name__), name, w,
                         np.asarray(kw))


# ------------------------------------------------------------------------------ helpers
def _check_call(node) -> None:
    """compare isolates layer calls whose keyword arguments are plain values."""
    from scratch.layers.symbolic import KerasTensor

    for key, value in node.kwargs.items():
        flat = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, KerasTensor) for v in flat):
            raise ValueError(
                f"compare cannot isolate layer {node.layer.name!r} "
                f"({type(node.layer).__name__}): it is called with a tensor as keyword "
                f"argument `{key}`. Received: {key}={value!r}"
            )


def _accepts_mask(layer) -> bool:
    import inspect

    try:
        return "mask" in inspect.signature(layer.forward).parameters
    except (TypeError, ValueError):
        return False


def _as_layer_input(t, layer) -> np.ndarray:
    """tf.keras' tensor as the scratch layer's input: a writable copy, float data in the
    layer's dtype (Keras' autocast), integer ids as they are."""
    a = _np(t)
    return a.astype(layer.dtype) if a.dtype.kind == "f" and a.dtype != layer.dtype else a


def _np(t) -> np.ndarray:
    """A tf.keras tensor as a writable NumPy array of its own (TensorFlow's are read-only)."""
    return np.array(t, order="C")


def _keras_data(data, dtype: str):
    """Targets or weights for tf.keras: NumPy arrays, float ones in the model's dtype (as
    Keras' data adapters cast them to floatx)."""
    if data is None:
        return None
    if isinstance(data, dict):
        return {k: _keras_data(v, dtype) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_keras_data(v, dtype) for v in data]
    a = np.asarray(data)
    return a.astype(dtype) if a.dtype.kind == "f" else a


def _zeros_like(t) -> np.ndarray:
    return np.zeros(tuple(t.shape), dtype=t.dtype.name)


def _output_grad(kgrads, calls, call, t):
    """tf.keras' gradient of the loss w.r.t. the model output tensor t."""
    if call is None:
        return None
    k = calls.index(call)
    j = [id(o) for o in call.node.outputs].index(id(t))
    g = kgrads["outputs"][k][j]
    return _zeros_like(call.outputs[j]) if g is None else g


def _regularization_gradients(layer) -> dict[str, Any]:
    """{weight name (as `_weight_grads` names it): dR/dw} of the layer's penalized trainable
    weights (a nested model's: those of its layers)."""
    from scratch.models import Model

    if isinstance(layer, Model):
        if not layer.trainable:
            return {}
        return {f"{l.name}/{n}": l._regularizers[n].gradient(w)
                for l, n, w in layer._plan_for_current_flags().penalized}
    return layer.regularization_gradients()


def _weight_grads(layer) -> list[tuple[str, Any]]:
    """(weight name, gradient of the last backward) for the layer's trainable weights, in
    `trainable_weights` order (a nested model's: "<layer>/<weight>")."""
    from scratch.models import Model

    if isinstance(layer, Model):
        grads = getattr(layer, "_layer_grads", {})
        if not layer.trainable:
            return []
        return [(f"{l.name}/{n}", grads.get(id(l), {}).get(n))
                for l, n, _ in layer._trainable_entries()]
    if not layer.trainable:
        return []
    return [(n, layer.grads.get(n)) for n in layer.params]


def _leaf_pairs(model, kmodel, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(label, scratch layer, tf.keras layer) for every layer holding weights, nested models
    entered (labels "outer/inner")."""
    out = []
    for layer in _sublayers(model):
        klayer = _keras_layer(kmodel, layer)
        if _sublayers(layer):
            out += _leaf_pairs(layer, klayer, f"{prefix}{layer.name}/")
        elif layer.weights:
            out.append((prefix + layer.name, layer, klayer))
    return out


# ------------------------------------------------------------------------------ the CLI
USAGE = """python -m scratch parity PATH [--steps N] [--x DATA.npz] [--seed S]

Loads the .keras file in scratch and in tf.keras and prints the parity report: every layer's
output and gradients in isolation, then the loss, metrics and weights after each of N
optimizer steps (default 3). --x DATA.npz gives the batch: arrays "x" (or "x0", "x1", ... for
several inputs) and "y" (or "y0", "y1", ...), optionally "sample_weight". Without --x the
inputs are random (seed S, default 0; batch 4, other free axes 5) and so are the targets,
drawn to fit the file's loss. A file without a training configuration compares the forward
pass and the backward pass of a random cotangent. Exit status: 0 when every row is within
tolerance, 1 when one is not, 2 when the comparison could not run (bad arguments, an
unreadable file or data, a model compare does not support).
"""


def compare_main(argv=None) -> int:
    """`python -m scratch parity PATH --steps 3 --x data.npz`: print the parity report of a
    `.keras` file; return 0 (every row within tolerance), 1 (a divergence, or a file, data
    or model it cannot compare: one `error:` line on stderr naming it) or 2 (bad arguments)."""
    parser = argparse.ArgumentParser(
        prog="python -m scratch parity", description=USAGE.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="a .keras model file")
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps (default 3)")
    parser.add_argument("--x", dest="data", metavar="DATA.npz", default=None,
                        help='an .npz with "x" and "y" (default: random data)')
    parser.add_argument("--seed", type=int, default=0, help="seed of the random data")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2), as argparse reports them
        return int(e.code or 0)
    if args.steps < 0:
        return _usage_error(f"--steps must be ≥ 0. Received: --steps {args.steps}")
    if not os.path.isfile(args.path):
        return _error(f"no such file: {args.path}")
    try:
        report = _compare_file(args.path, args.data, args.steps, args.seed)
    except ImportError as e:
        return _error(f"parity compares with tf.keras: install tensorflow ({e}).")
    except (ValueError, TypeError, OSError, KeyError, MemoryError, RecursionError) as e:
        message = str(e) or type(e).__name__
        if args.path not in message:
            message = f"{args.path}: {message}"
        return _error(message)
    print(report)
    return 0 if report.passed else 1


def _usage_error(msg: str) -> int:
    """Bad arguments: one line on stderr, exit status 2 (as argparse's own errors)."""
    print("error: " + " ".join(msg.split()), file=sys.stderr)
    return 2


def _error(msg: str) -> int:
    """A file, data or model that cannot be compared: one line on stderr, exit status 1."""
    print("error: " + " ".join(msg.split()), file=sys.stderr)
    return 1


def _compare_file(path: str, data: str | None, steps: int, seed: int) -> ParityReport:
    model = _load_scratch(path)
    compiled = model.compiled and any(l is not None for l in model._losses)
    if data is not None:
        x, y, sw = _read_npz(data, model)
    else:
        rng = np.random.default_rng(seed)
        x = _random_inputs(model, rng)
        y = _random_targets(model, x, rng) if compiled else None
        sw = None
    if y is None or not compiled:
        why = f"{data} has no targets" if compiled else \
            f"{path} has no training configuration (no loss)"
        print(f"{why}: the forward pass and the backward pass of a random cotangent, "
              "no optimizer steps.")
        return compare(path, x, None, steps=0, seed=seed)
    return compare(path, x, y, steps=steps, sample_weight=sw)


def _read_npz(data: str, model):
    """(x, y, sample_weight) from an .npz: "x" or "x0", "x1", ...; "y" or "y0", ...;
    optionally "sample_weight"."""
    with np.load(data, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}

    def pick(stem: str, n: int):
        if stem in arrays:
            return arrays[stem]
        if f"{stem}0" in arrays:
            out = [arrays[f"{stem}{i}"] for i in range(n) if f"{stem}{i}" in arrays]
            return out if len(out) > 1 else out[0]
        return None

    x = pick("x", len(model.inputs))
    if x is None:
        raise ValueError(f'{data} has no array "x" (or "x0", "x1", ...). Received: arrays '
                         f"{sorted(arrays)}")
    return x, pick("y", len(model.outputs)), arrays.get("sample_weight")


def _random_inputs(model, rng) -> list | np.ndarray:
    """Random inputs shaped from the model: batch 4, other free axes 5; integer inputs
    (Embedding ids) below the smallest vocabulary of the model's Embedding layers."""
    vocab = [l.input_dim for l in _all_layers(model)
             if type(l).__name__ == "Embedding" and getattr(l, "input_dim", None)]
    xs = []
    for t in model.inputs:
        shape = tuple(4 if i == 0 else (5 if d is None else d) for i, d in enumerate(t.shape))
        if np.dtype(t.dtype).kind in "iu":
            xs.append(rng.integers(0, min(vocab, default=2), size=shape).astype(t.dtype))
        else:
            xs.append(rng.standard_normal(shape).astype(t.dtype))
    return xs if len(xs) > 1 else xs[0]


def _all_layers(model) -> list:
    out = []
    for layer in _sublayers(model):
        out += [layer] + _all_layers(layer)
    return out


def _random_targets(model, x, rng):
    """Random targets that fit each output's loss: class ids for a sparse categorical
    cross-entropy, one-hot rows for a categorical one, 0/1 for a binary one, normal values
    otherwise; shaped like the model's predictions on x."""
    preds = model.predict(x, verbose=0)
    preds = preds if isinstance(preds, list) else [preds]
    ys = []
    for loss, p in zip(model._losses, preds):
        name = type(loss).__name__
        if name == "SparseCategoricalCrossentropy":
            ys.append(rng.integers(0, p.shape[-1], size=p.shape[:-1]))
        elif name == "CategoricalCrossentropy":
            ys.append(np.eye(p.shape[-1], dtype=p.dtype)[rng.integers(0, p.shape[-1],
                                                                        size=p.shape[:-1])])
        elif name == "BinaryCrossentropy":
            ys.append(rng.integers(0, 2, size=p.shape).astype(p.dtype))
        else:
            ys.append(rng.standard_normal(p.shape).astype(p.dtype))
    return ys if len(ys) > 1 else ys[0]
