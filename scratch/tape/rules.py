"""The tape's table of differentiable operations: each one's forward and backward, in one place.

Each backward is the vector-Jacobian product of its operation, written as TensorFlow's
registered gradient computes it (`tensorflow/python/ops/math_grad.py`, `array_grad.py`), in
the same operand order, so that a float32 custom loop gets TensorFlow's bits where the
forward ones agree:

    y = a + b          da = g,             db = g
    y = a − b          da = g,             db = −g
    y = a · b          da = g·b,           db = a·g
    y = a / b          da = g / b,         db = g·((−a / b) / b)
    y = −a             da = −g
    y = a²             da = g·(2·a)
    y = √a             da = (0.5·g) / y
    y = exp(a)         da = g·y
    y = log(a)         da = g·(1 / a)
    y = aᵇ             da = g·b·a^(b−1),   db = g·y·log(a)  (0 where a ≤ 0)
    y = |a|            da = g·sign(a)
    y = tanh(a)        da = g·(1 − y²)
    y = max(a, b)      da = g where a ≥ b, db = g elsewhere (min: a ≤ b)
    y = clip(a, l, h)  da = g where l ≤ a ≤ h, else 0
    y = a @ b          da = g @ bᵀ,         db = aᵀ @ g
    y = Σ a, mean a    da = g broadcast back (mean: divided by the count)
    y = max a, min a   da = g·[a = y] / (number of entries equal to y)
    reshape, transpose, squeeze, expand_dims, a[index], concatenate, stack, where, cast:
                       the gradient moved back where the values came from

Elementwise operations broadcast, so their gradients are summed over the broadcast axes
(`unbroadcast`) and cast to each input's dtype by the step that calls them
(scratch/tape/steps.py). Operations whose result is piecewise constant (sign, floor, round,
comparisons) have a zero gradient: their results are constants, as in TensorFlow.
Everything else applied to a recorded value is not in the table, and its result carries the
operation's name so that a gradient through it raises (scratch/tape/recorder.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

#: NumPy's clip ufunc (what `np.clip` and `ndarray.clip` call underneath).
_CLIP_UFUNC = np._core.umath.clip


class Rule(NamedTuple):
    """One differentiable operation: `forward(*inputs, **kw)` on plain arrays, and
    `backward(g, inputs, y, **kw)` returning one gradient per input (None: no gradient).
    `broadcasting` rules are summed back to each input's shape by `unbroadcast`."""

    name: str
    forward: Callable
    backward: Callable
    broadcasting: bool = False


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `g` over the axes broadcasting added to or stretched from `shape`."""
    g = np.asarray(g)
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.reshape(shape)


# --------------------------------------------------------------------------- elementwise
def _add(g, inputs, y):
    return g, g


def _subtract(g, inputs, y):
    return g, -g


def _multiply(g, inputs, y):
    a, b = inputs
    return g * b, a * g


def _divide(g, inputs, y):
    a, b = inputs
    return g / b, g * ((-a / b) / b)


def _negative(g, inputs, y):
    return (-g,)


def _positive(g, inputs, y):
    return (g,)


def _square(g, inputs, y):
    (a,) = inputs
    return (g * (2 * a),)


def _sqrt(g, inputs, y):
    return ((0.5 * g) / y,)


def _exp(g, inputs, y):
    return (g * y,)


def _log(g, inputs, y):
    (a,) = inputs
    return (g * (1 / a),)


def _power(g, inputs, y):
    a, b = inputs
    da = g * b * np.power(a, b - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_a = np.where(np.asarray(a) > 0, np.log(np.where(np.asarray(a) > 0, a, 1)), 0)
    return da, g * y * log_a


def _absolute(g, inputs, y):
    (a,) = inputs
    return (g * np.sign(a),)


def _tanh(g, inputs, y):
    return (g * (1 - y * y),)


def _maximum(g, inputs, y):
    a, b = inputs
    chosen = np.greater_equal(a, b)
    return np.where(chosen, g, 0), np.where(chosen, 0, g)


def _minimum(g, inputs, y):
    a, b = inputs
    chosen = np.less_equal(a, b)
    return np.where(chosen, g, 0), np.where(chosen, 0, g)


def _clip(g, inputs, y):
    a, low, high = inputs
    outside = np.logical_or(np.less(a, low), np.greater(a, high))
    return np.where(outside, 0, g), None, None


# --------------------------------------------------------------------------- products
def _matmul_forward(a, b):
    return np.matmul(a, b)


def _matmul_backward(g, inputs, y):
    """np.matmul's rule with its 1-D promotions: a (n,) is a row (1, n) and b (n,) a
    column (n, 1) for the product, then the added axis is removed again."""
    a, b = np.asarray(inputs[0]), np.asarray(inputs[1])
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = np.asarray(g)
    if a.ndim == 1:
        g2 = np.expand_dims(g2, -2)
    if b.ndim == 1:
        g2 = np.expand_dims(g2, -1)
    da = np.matmul(g2, np.swapaxes(b2, -1, -2))
    db = np.matmul(np.swapaxes(a2, -1, -2), g2)
    return (unbroadcast(da, a2.shape).reshape(a.shape),
            unbroadcast(db, b2.shape).reshape(b.shape))


# --------------------------------------------------------------------------- reductions
def _axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(int(a) % ndim for a in axes)) if ndim else ()


def _expand_back(g, shape, axis, keepdims):
    """A reduction's output gradient with the reduced axes put back (size 1)."""
    g = np.asarray(g)
    if not keepdims:
        for a in _axes(axis, len(shape)):
            g = np.expand_dims(g, a)
    return g


def _sum_forward(a, axis=None, keepdims=False):
    return np.sum(a, axis=axis, keepdims=keepdims)


def _sum_backward(g, inputs, y, axis=None, keepdims=False):
    a = np.asarray(inputs[0])
    return (np.broadcast_to(_expand_back(g, a.shape, axis, keepdims), a.shape).copy(),)


def _mean_forward(a, axis=None, keepdims=False):
    return np.mean(a, axis=axis, keepdims=keepdims)


def _mean_backward(g, inputs, y, axis=None, keepdims=False):
    a = np.asarray(inputs[0])
    count = int(np.prod([a.shape[i] for i in _axes(axis, a.ndim)], dtype=np.int64))
    summed = np.broadcast_to(_expand_back(g, a.shape, axis, keepdims), a.shape)
    return (summed / np.asarray(max(count, 1), dtype=summed.dtype),)


def _max_forward(a, axis=None, keepdims=False):
    return np.max(a, axis=axis, keepdims=keepdims)


def _min_forward(a, axis=None, keepdims=False):
    return np.min(a, axis=axis, keepdims=keepdims)


def _extreme_backward(g, inputs, y, axis=None, keepdims=False):
    """TensorFlow's max/min gradient: shared equally by the entries equal to the result."""
    a = np.asarray(inputs[0])
    y_kept = _expand_back(y, a.shape, axis, keepdims)
    indicators = np.equal(y_kept, a).astype(a.dtype)
    selected = np.sum(indicators, axis=_axes(axis, a.ndim), keepdims=True)
    return ((indicators / selected) * _expand_back(g, a.shape, axis, keepdims),)


# --------------------------------------------------------------------------- shapes
def _reshape_forward(a, shape):
    return np.reshape(a, shape)


def _back_to_shape(g, inputs, y, **kw):
    return (np.reshape(g, np.shape(inputs[0])),)


def _transpose_forward(a, axes=None):
    return np.transpose(a, axes)


def _transpose_backward(g, inputs, y, axes=None):
    if axes is None:
        return (np.transpose(g),)
    axes = [int(x) % np.ndim(inputs[0]) for x in axes]
    return (np.transpose(g, np.argsort(axes)),)


def _squeeze_forward(a, axis=None):
    return np.squeeze(a, axis=axis)


def _expand_dims_forward(a, axis):
    return np.expand_dims(a, axis)


def _getitem_forward(a, index):
    return np.asarray(a)[index]


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis
               for p in parts)


def _getitem_backward(g, inputs, y, index):
    """The gradient scattered back where the values were taken (added where an index
    repeats, as TensorFlow's gather gradient)."""
    a = np.asarray(inputs[0])
    da = np.zeros(a.shape, dtype=np.result_type(g))
    if _is_basic(index):
        da[index] = g
    else:
        np.add.at(da, index, g)
    return (da,)


def _identity_forward(a):
    return np.array(a, copy=True)


def _identity_backward(g, inputs, y):
    return (g,)


def _cast_forward(a, dtype):
    return np.asarray(a).astype(dtype)


def _cast_backward(g, inputs, y, dtype):
    return (np.asarray(g).astype(np.asarray(inputs[0]).dtype),)


def _concatenate_forward(*arrays, axis=0):
    return np.concatenate(arrays, axis=axis)


def _concatenate_backward(g, inputs, y, axis=0):
    ends = np.cumsum([np.shape(a)[axis] for a in inputs])[:-1]
    return tuple(np.split(g, ends, axis=axis))


def _stack_forward(*arrays, axis=0):
    return np.stack(arrays, axis=axis)


def _stack_backward(g, inputs, y, axis=0):
    return tuple(np.take(g, i, axis=axis) for i in range(len(inputs)))


def _where_forward(condition, a, b):
    return np.where(condition, a, b)


def _where_backward(g, inputs, y):
    condition = np.asarray(inputs[0])
    return None, np.where(condition, g, 0), np.where(condition, 0, g)


# --------------------------------------------------------------------------- the table
#: NumPy ufuncs the tape differentiates (called as `ufunc(*inputs)`); elementwise, so their
#: gradients are unbroadcast.
UFUNC_RULES: dict[np.ufunc, Rule] = {
    np.add: Rule("add", np.add, _add, True),
    np.subtract: Rule("subtract", np.subtract, _subtract, True),
    np.multiply: Rule("multiply", np.multiply, _multiply, True),
    np.true_divide: Rule("divide", np.true_divide, _divide, True),
    np.negative: Rule("negative", np.negative, _negative, True),
    np.positive: Rule("positive", np.positive, _positive, True),
    np.square: Rule("square", np.square, _square, True),
    np.sqrt: Rule("sqrt", np.sqrt, _sqrt, True),
    np.exp: Rule("exp", np.exp, _exp, True),
    np.log: Rule("log", np.log, _log, True),
    np.power: Rule("power", np.power, _power, True),
    np.absolute: Rule("abs", np.absolute, _absolute, True),
    np.tanh: Rule("tanh", np.tanh, _tanh, True),
    np.maximum: Rule("maximum", np.maximum, _maximum, True),
    np.minimum: Rule("minimum", np.minimum, _minimum, True),
    _CLIP_UFUNC: Rule("clip", np.clip, _clip, True),
    np.matmul: Rule("matmul", _matmul_forward, _matmul_backward),
}

#: Reductions, as `ufunc.reduce` (what `t.sum()`, `t.max()` call) reaches them.
REDUCE_RULES: dict[np.ufunc, str] = {np.add: "sum", np.maximum: "max", np.minimum: "min"}

#: Operations reached by name: NumPy functions (through `__array_function__`) and the
#: ndarray methods Tensor overrides.
NAMED_RULES: dict[str, Rule] = {
    "sum": Rule("sum", _sum_forward, _sum_backward),
    "mean": Rule("mean", _mean_forward, _mean_backward),
    "max": Rule("max", _max_forward, _extreme_backward),
    "min": Rule("min", _min_forward, _extreme_backward),
    "matmul": UFUNC_RULES[np.matmul],
    "reshape": Rule("reshape", _reshape_forward, _back_to_shape),
    "transpose": Rule("transpose", _transpose_forward, _transpose_backward),
    "squeeze": Rule("squeeze", _squeeze_forward, _back_to_shape),
    "expand_dims": Rule("expand_dims", _expand_dims_forward, _back_to_shape),
    "getitem": Rule("getitem", _getitem_forward, _getitem_backward),
    "identity": Rule("copy", _identity_forward, _identity_backward),
    "cast": Rule("cast", _cast_forward, _cast_backward),
    "concatenate": Rule("concatenate", _concatenate_forward, _concatenate_backward),
    "stack": Rule("stack", _stack_forward, _stack_backward),
    "where": Rule("where", _where_forward, _where_backward, True),
    "clip": UFUNC_RULES[_CLIP_UFUNC],
}

#: Ufuncs whose result is a constant (a zero gradient, as in TensorFlow): piecewise-constant
#: functions, and every ufunc whose result is not a float (comparisons, logical, isnan, ...).
CONSTANT_UFUNCS = {np.sign, np.floor, np.ceil, np.rint, np.trunc}

#: Which rule a NumPy function given a Tensor dispatches to, and how its arguments map to
#: the rule's (inputs, keyword arguments). Functions not here and not in `PASS_THROUGH`
#: compute on plain arrays, and a float result made from a recorded value is marked lost.
FUNCTION_RULES: dict[Callable, str] = {
    np.sum: "sum", np.mean: "mean", np.max: "max", np.amax: "max", np.min: "min",
    np.amin: "min", np.matmul: "matmul", np.dot: "matmul", np.reshape: "reshape",
    np.transpose: "transpose", np.squeeze: "squeeze", np.expand_dims: "expand_dims",
    np.concatenate: "concatenate", np.stack: "stack", np.where: "where", np.clip: "clip",
    np.copy: "identity", np.ravel: "reshape",
}

#: NumPy functions whose results are constants or not arrays at all (shapes, new arrays
#: of zeros, tests): they run on plain arrays and their results are never marked lost.
PASS_THROUGH = {
    np.shape, np.ndim, np.size, np.result_type, np.zeros_like, np.ones_like, np.empty_like,
    np.full_like, np.allclose, np.array_equal, np.isclose, np.may_share_memory,
    np.shares_memory, np.argmax, np.argmin, np.argsort, np.nonzero, np.count_nonzero,
    np.array_repr, np.array_str, np.any, np.all, np.broadcast_shapes,
    np.iscomplexobj, np.isrealobj, np.can_cast, np.searchsorted,
}


def describe_supported() -> str:
    """The operations the tape differentiates, for error messages."""
    ufuncs = sorted(r.name for r in UFUNC_RULES.values())
    named = sorted({r.name for r in NAMED_RULES.values()} - set(ufuncs))
    return ", ".join(ufuncs + named + ["the scratch layers, losses and activations"])
