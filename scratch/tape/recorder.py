"""What the tape records, and the walk back through it.

Recorders (a `GradientTape`, or the recording of one call of a subclassed layer or model)
live in levels, per thread:

    level 0         the user's tapes (`with GradientTape() as tape:`; several may record
                    at once, as a GAN's two tapes do)
    level 1, 2, …   one per subclassed layer or model whose `call` is running: its
                    operations are recorded there, and the call as a whole is one
                    `LayerStep` on the level below (so a model's backward is the replay of
                    its own recording)

An operation is recorded by every recorder of the innermost level that already tracks one
of its inputs (a Tensor it recorded, a watched array, a Variable: trainable weights are
watched automatically, as in TensorFlow), or, for a layer call, by all of them when the
layer has trainable weights. An operation on a Tensor that no recorder tracks is plain
NumPy, and its result a constant Tensor.

An operation the tape cannot differentiate (not in scratch/tape/rules.py) applied to a
tracked value is computed, but its result is marked *lost* for those recorders (`_lost`);
whatever is computed from it is lost too, and `tape.gradient` (or a layer's backward)
through it raises a ValueError naming the operation. So a gradient is either right or an
error, never silently missing a term. The only exits are explicit ones (`.numpy()`,
`np.asarray`, `float`), which make constants, as in TensorFlow.

`backpropagate` replays a recorder's steps in reverse from seeded cotangents, calling each
step's backward only where it leads to a wanted source (a weight, a watched array, a
recorded Tensor), and returns the gradients of those sources.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from typing import Any

import numpy as np

from . import rules
from .steps import ActivationStep, LayerStep, LossStep, OpStep, PenaltyStep, Step
from .tensor import Tensor, Variable, plain


# ------------------------------------------------------------------------------ state
class _State(threading.local):
    def __init__(self) -> None:
        self.levels: list[list[Recorder]] = [[]]
        self.training: list[bool] = []


_state = _State()


class Recorder:
    """Something that records steps: a `GradientTape` or one call's `CallRecording`.

    `watch_variables`: Variables (weights) are leaves of this recorder automatically.
    """

    watch_variables = True

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.watched: dict[int, Any] = {}  # id -> the watched array (kept alive here)

    def tracks(self, x) -> bool:
        """Whether an operation on `x` is something this recorder differentiates."""
        if isinstance(x, Variable):
            return self.watch_variables or id(x._weight) in self.watched
        if isinstance(x, Tensor) and x._step is not None and self in x._step.owners:
            return True
        return isinstance(x, np.ndarray) and id(x) in self.watched

    def release(self) -> None:
        """This recorder is done: it leaves its steps, and a step no recorder keeps drops its
        saved values (caches, inputs). Steps another tape recorded too stay for it."""
        for step in self.steps:
            step.owners = tuple(r for r in step.owners if r is not self)
            if not step.owners:
                step.release()
        self.steps = []


def active() -> list[Recorder]:
    """The recorders of the innermost level (empty: nothing records)."""
    return _state.levels[-1]


def _outer() -> list[Recorder]:
    return [r for level in _state.levels[:-1] for r in level]


def add_tape(tape: Recorder) -> None:
    _state.levels[-1].append(tape)


def remove_tape(tape: Recorder) -> None:
    for level in _state.levels:
        if any(r is tape for r in level):
            level[:] = [r for r in level if r is not tape]


@contextlib.contextmanager
def level(recorders: list[Recorder]):
    """Run the block with `recorders` as the innermost level (an empty list: a block
    nothing records, `GradientTape.stop_recording`)."""
    _state.levels.append(list(recorders))
    try:
        yield
    finally:
        _state.levels.pop()


@contextlib.contextmanager
def training_scope(training: bool):
    """The `training` value that layer calls inside a subclassed call inherit when they are
    not given one (Keras' call context)."""
    _state.training.append(bool(training))
    try:
        yield
    finally:
        _state.training.pop()


def context_training() -> bool:
    return _state.training[-1] if _state.training else False


# ------------------------------------------------------------------------------ references
def _is_float(x) -> bool:
    return np.result_type(x).kind == "f" if isinstance(x, (np.ndarray, np.generic)) else False


def ref_of(x, recs: list[Recorder]):
    """Where the value `x` comes from for the recorders `recs` (steps.py): (step, slot),
    (None, leaf array) or None for a constant. A value recorded by an enclosing call that is
    still running cannot be used inside a layer's call (pass it as an input instead)."""
    if isinstance(x, Variable):
        if any(r.tracks(x) for r in recs):
            return (None, x._weight)
        return None
    if isinstance(x, Tensor) and x._step is not None and x._step.owners:
        owners = x._step.owners
        if any(r in owners for r in recs):
            return (x._step, x._index)
        outer = _outer()
        if any(r in owners for r in outer):
            raise ValueError(
                "A value recorded outside this layer's call was used inside it (a global or "
                "an attribute holding a Tensor?): the layer's backward could not send its "
                "gradient back. Pass it to the layer as an input instead.")
    if isinstance(x, np.ndarray) and _is_float(x) and any(id(x) in r.watched for r in recs):
        return (None, x)
    return None


def _lost_for(x, recs: list[Recorder]):
    """(operation, recorders) if `x` was made by an operation the tape cannot differentiate
    from a value one of `recs` recorded; else None."""
    lost = getattr(x, "_lost", None)
    if lost is None:
        return None
    relevant = tuple(r for r in lost[1] if r in recs)
    return (lost[0], relevant) if relevant else None


def flatten(structure) -> list:
    """Leaves of a nested list/tuple/dict (dicts in sorted key order, as Keras' tree)."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for k in sorted(structure) for leaf in flatten(structure[k])]
    return [structure]


def pack(structure, leaves: list):
    """Put `leaves` (in `flatten` order) back into the shape of `structure` (a dict keeps
    its own key order)."""
    it = iter(leaves)

    def build(s):
        if isinstance(s, tuple):
            return tuple(build(item) for item in s)
        if isinstance(s, list):
            return [build(item) for item in s]
        if isinstance(s, dict):
            built = {k: build(s[k]) for k in sorted(s)}
            return {k: built[k] for k in s}
        return next(it)

    return build(structure)




def lost_by_unrecorded_method(obj):
    """What `Tensor.__array_finalize__` marks on an array NumPy made from `obj` along a path
    no hook saw (a view, a copy, an ndarray method the tape does not know)."""
    if obj._lost is not None:
        return obj._lost
    what = "an ndarray method or view the tape does not record (view, __copy__, ...)"
    if isinstance(obj, Variable):
        recs = tuple(r for r in active() if r.tracks(obj))
        return (what, recs) if recs else None
    if obj._step is not None and obj._step.owners:
        return (what, obj._step.owners)
    return None


# ------------------------------------------------------------------------------ results
def _as_result(value):
    """A float NumPy scalar as a 0-d array (so that it can carry what the tape knows)."""
    if isinstance(value, np.generic) and value.dtype.kind == "f":
        return np.asarray(value)
    return value


def _wrap(value, step=None, index: int = 0, lost=None) -> Any:
    """`value` as a Tensor (a view, no copy) made by `step`, or marked `lost`."""
    value = _as_result(value)
    if not isinstance(value, np.ndarray):
        return value
    t = np.ndarray.view(value, Tensor)
    t._step, t._index, t._lost = step, index, lost
    return t


def _merge_lost(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return (a[0], tuple(dict.fromkeys(a[1] + b[1])))


def _finish(name: str, rule, args: list, kwargs: dict, result, recs: list[Recorder],
            constant_inputs=()):
    """Record `result = rule(args)` (or mark it lost when `rule` is None) for the
    recorders that track an argument; return the result as a Tensor."""
    result = _as_result(result)
    if not isinstance(result, np.ndarray):
        return result
    if result.dtype.kind != "f":
        return result  # integers, booleans: constants (no gradient), plain arrays
    lost = None
    for a in args:
        lost = _merge_lost(lost, _lost_for(a, recs))
    lost_recs = lost[1] if lost else ()
    owners = tuple(r for r in recs if r not in lost_recs and any(r.tracks(a) for a in args))
    if not owners:
        return _wrap(result, lost=lost)
    if rule is None or any(i < len(args) and any(r.tracks(args[i]) for r in owners)
                           for i in constant_inputs):
        return _wrap(result, lost=_merge_lost(lost, (name, owners)))
    refs = [ref_of(a, owners) for a in args]
    values = [np.asarray(plain(a)) if isinstance(a, (list, tuple)) else plain(a)
              for a in args]
    step = OpStep(rule, refs, owners, values, result, kwargs)
    for r in owners:
        r.steps.append(step)
    return _wrap(result, step, 0, lost)


def _any_tensor(values) -> bool:
    return any(isinstance(v, Tensor) for v in flatten(values))


# ------------------------------------------------------------------------------ NumPy hooks
def apply_ufunc(ufunc, method: str, inputs: tuple, kwargs: dict):
    """`Tensor.__array_ufunc__`: record a ufunc of the table, mark any other lost."""
    if kwargs.get("out") is not None:
        return _apply_in_place(ufunc, method, inputs, kwargs)
    recs = active()
    name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    plain_inputs = [plain(x) for x in inputs]
    plain_kwargs = plain(kwargs)
    if method == "__call__":
        result = ufunc(*plain_inputs, **plain_kwargs)
        if ufunc in rules.CONSTANT_UFUNCS or isinstance(result, tuple):
            return result if isinstance(result, tuple) else _wrap(result)
        rule = rules.UFUNC_RULES.get(ufunc)
        extra = set(kwargs) - {"dtype"}
        return _finish(name, None if extra else rule, list(inputs), {}, result, recs,
                       constant_inputs=(1, 2) if rule is not None and rule.name == "clip" else ())
    if method == "reduce" and ufunc in rules.REDUCE_RULES and len(inputs) == 1:
        axis = kwargs.get("axis", 0)
        keepdims = bool(kwargs.get("keepdims", False))
        simple = kwargs.get("where", True) is True and "initial" not in kwargs and \
            kwargs.get("dtype") is None
        if simple:
            rule = rules.NAMED_RULES[rules.REDUCE_RULES[ufunc]]
            result = rule.forward(plain_inputs[0], axis=axis, keepdims=keepdims)
            return _finish(rule.name, rule, [inputs[0]], {"axis": axis, "keepdims": keepdims},
                           result, recs)
    result = getattr(ufunc, method)(*plain_inputs, **plain_kwargs)
    if result is None:
        return None
    return _finish(name, None, list(inputs), {}, result, recs)


def _apply_in_place(ufunc, method: str, inputs: tuple, kwargs: dict):
    """`out=`: allowed on constants and on Variables outside any gradient (an update), never
    on a value a tape recorded (its steps may still need it)."""
    outs = kwargs["out"]
    outs = outs if isinstance(outs, tuple) else (outs,)
    what = f"np.{ufunc.__name__}(..., out=...) (an in-place operation such as +=)"
    for o in outs:
        check_in_place(o, what)
    recs = active()
    for x in inputs:
        if not isinstance(x, Variable) and (ref_of(x, recs) is not None or _lost_for(x, recs)):
            if any(not isinstance(o, Variable) for o in outs):
                raise ValueError(
                    f"GradientTape: {what} with a recorded value as input writes into an "
                    "array the tape cannot follow. Write `y = a + b` instead.")
    call_kwargs = dict(plain(kwargs))
    call_kwargs["out"] = tuple(plain(o) for o in outs)
    getattr(ufunc, method)(*[plain(x) for x in inputs], **call_kwargs)
    return outs[0] if len(outs) == 1 else outs


def check_in_place(t, what: str) -> None:
    """Refuse to modify in place a value any active recorder recorded."""
    if isinstance(t, Variable) or not isinstance(t, Tensor):
        return
    every = [r for lvl in _state.levels for r in lvl]
    if (t._step is not None and any(r in t._step.owners for r in every)) or \
            _lost_for(t, every):
        raise ValueError(
            f"GradientTape: {what} on a value the tape recorded is not supported (its "
            "backward may still need the old values). Compute a new array instead, "
            "e.g. `y = y + 1` rather than `y += 1`.")


@functools.cache
def _signature(func) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _bind(func, args: tuple, kwargs: dict) -> dict | None:
    sig = _signature(func)
    if sig is None:
        return None
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return None
    return dict(bound.arguments)


def apply_function(func, args: tuple, kwargs: dict):
    """`Tensor.__array_function__`: NumPy functions of the table are recorded, a few
    (shapes, comparisons, new arrays) pass through, any other marks a float result lost."""
    name = rules.FUNCTION_RULES.get(func)
    bound = _bind(func, args, kwargs) if name is not None else None
    if bound is not None:
        handled = _apply_named_function(name, func, bound)
        if handled is not NotImplemented:
            return handled
    result = func(*plain(args), **plain(kwargs))
    if func in rules.PASS_THROUGH:
        return result
    label = f"np.{getattr(func, '__name__', func)}"
    return _finish(label, None, flatten((args, kwargs)), {}, result, active())


def _apply_named_function(name: str, func, bound: dict):
    """A NumPy function of the table, its arguments mapped onto the rule's; NotImplemented
    for a use of it the rule does not cover (then it is computed and marked lost)."""
    if name in ("sum", "mean", "max", "min"):
        if bound.get("out") is not None or bound.get("where", True) is not True or \
                "initial" in bound:
            return NotImplemented
        a = bound["a"]
        dtype = bound.get("dtype")
        if dtype is not None:
            a = apply_named("cast", (a,), {"dtype": np.dtype(dtype)})
        return apply_named(name, (a,), {"axis": bound.get("axis"),
                                        "keepdims": bool(bound.get("keepdims", False))})
    if name == "matmul":
        a, b = bound.get("a"), bound.get("b")
        if np.ndim(a) == 0 or np.ndim(b) == 0:
            return np.multiply(a, b)
        if np.ndim(a) > 2 or np.ndim(b) > 2 or bound.get("out") is not None:
            return NotImplemented
        return apply_named("matmul", (a, b), {})
    if name == "reshape":
        shape = bound.get("shape", bound.get("newshape", -1))
        if bound.get("order", "C") != "C":
            return NotImplemented
        return apply_named("reshape", (bound["a"],), {"shape": shape})
    if name == "transpose":
        return apply_named("transpose", (bound["a"],), {"axes": bound.get("axes")})
    if name == "squeeze":
        return apply_named("squeeze", (bound["a"],), {"axis": bound.get("axis")})
    if name == "expand_dims":
        return apply_named("expand_dims", (bound["a"],), {"axis": bound["axis"]})
    if name == "identity":
        return apply_named("identity", (bound["a"],), {})
    if name in ("concatenate", "stack"):
        if bound.get("out") is not None or bound.get("dtype") is not None:
            return NotImplemented
        arrays = list(bound.get("arrays", ()))
        axis = bound.get("axis", 0)
        if axis is None:
            return NotImplemented
        return apply_named(name, tuple(arrays), {"axis": axis})
    if name == "where":
        if "x" not in bound or "y" not in bound:
            return NotImplemented
        return apply_named("where", (bound["condition"], bound["x"], bound["y"]), {})
    if name == "clip":
        if bound.get("out") is not None or bound.get("kwargs"):
            return NotImplemented
        low = bound.get("a_min", bound.get("min"))
        high = bound.get("a_max", bound.get("max"))
        low = -np.inf if low is None else low
        high = np.inf if high is None else high
        return apply_named("clip", (bound["a"], low, high), {})
    return NotImplemented


def apply_named(name: str, args: tuple, kwargs: dict):
    """Record the table's operation `name` (rules.NAMED_RULES) on `args`."""
    rule = rules.NAMED_RULES[name]
    recs = active()
    result = rule.forward(*[plain(a) for a in args], **plain(kwargs))
    constant = (0,) if name == "where" else (1, 2) if name == "clip" else ()
    if name == "getitem":
        kwargs = {"index": plain(kwargs["index"])}
    return _finish(rule.name, rule, list(args), kwargs, result, recs, constant_inputs=constant)


def lose(t: Tensor, name: str):
    """A Tensor method the tape does not differentiate: its result is marked lost."""
    return _finish(name, None, [t], {}, np.asarray(plain(t)).copy(), active())


# ------------------------------------------------------------------------------ layers
def call_layer(layer, inputs, flat_inputs: list, training, kwargs: dict, run):
    """`layer(inputs)` on arrays: `run(plain inputs, training, plain kwargs)` computes the
    output (the layer's forward); the call is recorded as a `LayerStep` when it matters to
    an active recorder, and the output returned as Tensor(s)."""
    if training is None:
        training = context_training()
    newly_built = not layer.built
    y = run(plain(inputs), bool(training), plain(kwargs))
    if newly_built:  # the shape it was built with, for a subclassed model's summary()
        shapes = [np.shape(x) for x in flat_inputs]
        layer.__dict__["_eager_build_shape"] = shapes if isinstance(inputs, (list, tuple)) \
            else shapes[0]
    recs = active()
    if recs and (layer.activity_regularizer is not None or
                 getattr(layer, "_activity_records", None)):
        raise NotImplementedError(
            f"Layer {layer.name!r} has an activity regularizer, which scratch's gradient "
            "tape (custom training loops, subclassed layers and models) does not "
            "differentiate yet; train it with `fit` in a Sequential or functional model.")
    multi_output = isinstance(y, (list, tuple, dict))
    outs = flatten(y) if multi_output else [y]
    lost = None
    step = None
    if recs:
        for x in flat_inputs:
            lost = _merge_lost(lost, _lost_for(x, recs))
        lost_recs = lost[1] if lost else ()
        candidates = [r for r in recs if r not in lost_recs]
        learns = bool(candidates) and bool(layer.trainable_weights)
        owners = tuple(r for r in candidates
                       if learns or any(r.tracks(x) for x in flat_inputs))
        kw_tracked = [k for k, v in kwargs.items()
                      if any(ref_of(x, owners) is not None for x in flatten(v))] \
            if kwargs else []
        if owners and kw_tracked:
            lost = _merge_lost(lost, (f"{layer.name}(..., {kw_tracked[0]}=<recorded value>)"
                                      " (gradients through keyword arguments)", owners))
        elif owners:
            step = LayerStep(layer, layer._cache, [ref_of(x, owners) for x in flat_inputs],
                             owners, [_dtype_of(x) for x in flat_inputs],
                             [(np.shape(o), _dtype_of(o)) for o in outs], multi_output)
            for r in owners:
                r.steps.append(step)
    else:
        for x in flat_inputs:
            lost = _merge_lost(lost, getattr(x, "_lost", None))
    wrapped = [_wrap(o, step, i, lost) for i, o in enumerate(outs)]
    if not multi_output and isinstance(wrapped[0], Tensor):
        logits, activation = _logits_of(layer)
        wrapped[0]._logits, wrapped[0]._activation = logits, activation
    return pack(y, wrapped) if multi_output else wrapped[0]


def _dtype_of(x) -> np.dtype:
    return x.dtype if isinstance(x, np.ndarray) else np.result_type(x)


def _logits_of(layer):
    """The hidden logits of the layer's last call and the activation name (Keras'
    `_keras_logits`), or (None, None)."""
    logits = getattr(layer, "logits", None)
    if logits is None:
        return None, None
    activation = layer._output_activation(0) if hasattr(layer, "_output_activation") \
        else getattr(getattr(layer, "activation", None), "name", None)
    return logits, activation


def logits_ref(y_pred: Tensor, recs: list[Recorder]):
    """Where the gradient of the hidden logits of `y_pred` goes: the producing layer
    step's "logits" slot, or the input of the producing sigmoid/softmax function."""
    step = y_pred._step
    if step is None or not any(r in step.owners for r in recs):
        return None
    if isinstance(step, ActivationStep):
        return step.inputs[0]
    if isinstance(step, LayerStep):
        return (step, "logits")
    return None


# ------------------------------------------------------------------------------ losses
def record_loss(loss, y_true, y_pred, sample_weight=None, mask=None):
    """`loss(y_true, y_pred)` with a Tensor: the value, and under a tape a `LossStep` whose
    gradient `Loss.value_and_grad` computes with it (on the hidden logits where Keras uses
    them, docs/KERAS_NUMERICS.md §Hidden logits)."""
    recs = active()
    for what, v in (("y_true", y_true), ("sample_weight", sample_weight)):
        if any(ref_of(x, recs) is not None for x in flatten(v)):
            raise ValueError(
                f"GradientTape: {type(loss).__name__} differentiates with respect to y_pred "
                f"only; `{what}` is a recorded value. Pass `{what}.numpy()` if it is meant "
                "as a constant.")
    use_logits = loss.is_crossentropy and isinstance(y_pred, Tensor) and \
        y_pred._logits is not None
    logits = y_pred._logits if use_logits else None
    activation = y_pred._activation if use_logits else None
    lost = _lost_for(y_pred, recs) if recs else getattr(y_pred, "_lost", None)
    ref = ref_of(y_pred, recs) if recs else None
    yt, yp, sw = plain(y_true), plain(y_pred), plain(sample_weight)
    if ref is None:
        value = loss(yt, yp, sample_weight=sw, logits=logits, mask=mask)
        return _wrap(value, lost=lost)
    value, grad = loss.value_and_grad(yt, yp, sample_weight=sw, logits=logits, mask=mask,
                                      activation=activation)
    if use_logits:
        ref = logits_ref(y_pred, recs) or ref
    owners = tuple(r for r in recs if r.tracks(y_pred) and r not in (lost[1] if lost else ()))
    regrad = None
    if np.ndim(value) != 0:
        regrad = _per_value_gradient(loss, yt, yp, sw, logits, mask, activation)
    step = LossStep(loss, [ref], owners, grad, np.result_type(logits if use_logits else yp),
                    regrad)
    for r in owners:
        r.steps.append(step)
    return _wrap(value, step, 0, lost)


def _per_value_gradient(loss, y_true, y_pred, sample_weight, logits, mask, activation):
    """For a loss that returns one value per sample (reduction "none"): dv ↦ the gradient
    of Σ dv·values, the same loss summed with dv as extra sample weights."""
    summed = type(loss).from_config({**loss.get_config(), "reduction": "sum"})

    def regrad(dv):
        w = dv if sample_weight is None else dv * sample_weight
        return summed.value_and_grad(y_true, y_pred, sample_weight=w, logits=logits,
                                     mask=mask, activation=activation)[1]

    return regrad


def record_activation(activation, x):
    """An activation function (`scratch.activations.relu(t)`, `Activation` objects) on a
    Tensor: recorded with `activation.backward`; a sigmoid/softmax result carries its input
    as hidden logits."""
    xp = plain(x)
    y = activation(xp)
    recs = active()
    lost = _lost_for(x, recs) if recs else getattr(x, "_lost", None)
    ref = ref_of(x, recs) if recs else None
    step = None
    if ref is not None:
        owners = tuple(r for r in recs if r.tracks(x) and r not in (lost[1] if lost else ()))
        if owners:
            step = ActivationStep(activation, [ref], owners, np.asarray(xp, y.dtype), y)
            for r in owners:
                r.steps.append(step)
    out = _wrap(y, step, 0, lost)
    if activation.exposes_logits and isinstance(out, Tensor):
        out._logits, out._activation = np.asarray(xp, y.dtype), activation.name
    return out


def weight_penalty(regularizer, weight: np.ndarray, name: str):
    """`regularizer(weight)`, an entry of `layer.losses`; under a tape, recorded with the
    regularizer's own gradient, so that `loss + sum(model.losses)` differentiates it."""
    value = regularizer(weight)
    recs = [r for r in active() if r.watch_variables or id(weight) in r.watched]
    if not recs:
        return value
    step = PenaltyStep(f"{name} regularizer", weight, tuple(recs), regularizer.gradient)
    for r in recs:
        r.steps.append(step)
    return _wrap(np.asarray(value), step, 0)


# ------------------------------------------------------------------------------ backward
def key_of(ref) -> Any:
    step, slot = ref
    return (id(step), slot) if step is not None else id(slot)


def backpropagate(recorder: Recorder, seeds: list, wanted: set) -> dict:
    """Replay `recorder`'s steps in reverse from `seeds` [(ref, cotangent)]; return the
    cotangent of every key in `wanted` (key_of a reference: id(leaf array) for a leaf,
    (id(step), slot) for a step's output) that received one.

    A step runs only when one of its outputs has a cotangent and it leads to something
    wanted: a wanted leaf among its inputs or its layer's weights, or a step that does."""
    steps = recorder.steps
    reaches: dict[int, bool] = {}

    def leads(ref) -> bool:
        if ref is None:
            return False
        step, slot = ref
        if step is None:
            return id(slot) in wanted
        return reaches.get(id(step), False)

    learns_of: dict[int, bool] = {}  # whether a step's own weights are wanted
    for step in steps:
        learns = learns_of[id(step)] = bool(step.weight_ids() & wanted)
        reaches[id(step)] = (learns or any(leads(r) for r in step.inputs)
                             or any((id(step), s) in wanted for s in range(step.n_outputs))
                             or (id(step), "logits") in wanted)
    cot: dict = {}
    found: dict = {}

    def add(key, g) -> None:
        cot[key] = g if key not in cot else cot[key] + g

    for ref, g in seeds:
        if ref is not None:
            add(key_of(ref), g)
    for step in reversed(steps):
        sid = id(step)
        if not reaches.get(sid):
            continue
        slots = [s for s in list(range(step.n_outputs)) + ["logits"] if (sid, s) in cot]
        if not slots:
            continue
        cotangents = {}
        for s in slots:
            g = cot.pop((sid, s))
            if (sid, s) in wanted:
                found[(sid, s)] = g
            cotangents[s] = g
        need = [leads(r) for r in step.inputs]
        learns = learns_of[sid]
        if not (any(need) or learns):
            continue
        grads, pairs = step.backward(cotangents, need, learns)
        for r, g in zip(step.inputs, grads):
            if r is not None and g is not None:
                add(key_of(r), g)
        for w, g in pairs:
            if id(w) in wanted:
                add(id(w), g)
    for key in wanted:
        if key in cot:
            found[key] = cot[key] if key not in found else found[key] + cot[key]
    return found
