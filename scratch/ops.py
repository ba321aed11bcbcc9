"""`scratch.ops`: the part of `keras.ops` a custom layer, loss or training loop reaches for.

Each function is NumPy's on arrays and returns a `Tensor` (scratch/tape/tensor.py); on
values a `GradientTape` recorded, the tape records it with its backward (the table in
scratch/tape/rules.py), so these are the operations a gradient flows through:

    add, subtract, multiply, divide, negative, square, sqrt, exp, log, power, abs, tanh,
    maximum, minimum, clip, matmul, dot, sum, mean, max, min, reshape, transpose,
    expand_dims, squeeze, concatenate, stack, where, cast,
    sigmoid, relu, softmax (scratch.activations)

and constants (no gradient): zeros, ones, zeros_like, ones_like, shape, argmax, argmin,
equal, not_equal, greater, greater_equal, less, less_equal, sign, round, floor,
convert_to_tensor, convert_to_numpy, stop_gradient.
"""

from __future__ import annotations

import numpy as np

from . import activations, backend
from .tape.tensor import Tensor, plain


def _out(value):
    """A result as a Tensor (a plain array computed from plain arrays becomes one too)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value).view(Tensor)
    return value


# ------------------------------------------------------------------------------ arithmetic
def add(x1, x2):
    return _out(np.add(x1, x2))


def subtract(x1, x2):
    return _out(np.subtract(x1, x2))


def multiply(x1, x2):
    return _out(np.multiply(x1, x2))


def divide(x1, x2):
    return _out(np.true_divide(x1, x2))


true_divide = divide


def negative(x):
    return _out(np.negative(x))


def square(x):
    return _out(np.square(x))


def sqrt(x):
    return _out(np.sqrt(x))


def exp(x):
    return _out(np.exp(x))


def log(x):
    return _out(np.log(x))


def power(x1, x2):
    return _out(np.power(x1, x2))


def abs(x):  # noqa: A001 (Keras' name)
    return _out(np.absolute(x))


absolute = abs


def tanh(x):
    return _out(np.tanh(x))


def maximum(x1, x2):
    return _out(np.maximum(x1, x2))


def minimum(x1, x2):
    return _out(np.minimum(x1, x2))


def clip(x, x_min, x_max):
    return _out(np.clip(x, x_min, x_max))


def matmul(x1, x2):
    return _out(np.matmul(x1, x2))


def dot(x1, x2):
    return _out(np.dot(x1, x2))


# ------------------------------------------------------------------------------ reductions
def sum(x, axis=None, keepdims=False):  # noqa: A001 (Keras' name)
    return _out(np.sum(x, axis=axis, keepdims=keepdims))


def mean(x, axis=None, keepdims=False):
    return _out(np.mean(x, axis=axis, keepdims=keepdims))


def max(x, axis=None, keepdims=False):  # noqa: A001 (Keras' name)
    return _out(np.max(x, axis=axis, keepdims=keepdims))


def min(x, axis=None, keepdims=False):  # noqa: A001 (Keras' name)
    return _out(np.min(x, axis=axis, keepdims=keepdims))


# ------------------------------------------------------------------------------ shapes
def reshape(x, newshape):
    return _out(np.reshape(x, newshape))


def transpose(x, axes=None):
    return _out(np.transpose(x, axes))


def expand_dims(x, axis):
    return _out(np.expand_dims(x, axis))


def squeeze(x, axis=None):
    return _out(np.squeeze(x, axis=axis))


def concatenate(xs, axis=0):
    return _out(np.concatenate(list(xs), axis=axis))


def stack(x, axis=0):
    return _out(np.stack(list(x), axis=axis))


def where(condition, x1, x2):
    return _out(np.where(condition, x1, x2))


def cast(x, dtype):
    dtype = backend.standardize_dtype(dtype) if np.dtype(dtype).kind == "f" else dtype
    if isinstance(x, Tensor):
        return x.astype(dtype)
    return _out(np.asarray(x).astype(dtype))


def shape(x) -> tuple:
    return tuple(np.shape(x))


# ------------------------------------------------------------------------------ activations
def sigmoid(x):
    return _out(activations.sigmoid(x))


def relu(x):
    return _out(activations.relu(x))


def softmax(x, axis=-1):
    return _out(activations.softmax(x, axis=axis))


# ------------------------------------------------------------------------------ constants
def zeros(shape, dtype=None):
    return _out(np.zeros(shape, dtype=dtype or backend.floatx()))


def ones(shape, dtype=None):
    return _out(np.ones(shape, dtype=dtype or backend.floatx()))


def zeros_like(x, dtype=None):
    return _out(np.zeros(np.shape(x), dtype=dtype or np.result_type(plain(x))))


def ones_like(x, dtype=None):
    return _out(np.ones(np.shape(x), dtype=dtype or np.result_type(plain(x))))


def argmax(x, axis=None, keepdims=False):
    return _out(np.argmax(plain(x), axis=axis, keepdims=keepdims))


def argmin(x, axis=None, keepdims=False):
    return _out(np.argmin(plain(x), axis=axis, keepdims=keepdims))


def equal(x1, x2):
    return _out(np.equal(plain(x1), plain(x2)))


def not_equal(x1, x2):
    return _out(np.not_equal(plain(x1), plain(x2)))


def greater(x1, x2):
    return _out(np.greater(plain(x1), plain(x2)))


def greater_equal(x1, x2):
    return _out(np.greater_equal(plain(x1), plain(x2)))


def less(x1, x2):
    return _out(np.less(plain(x1), plain(x2)))


def less_equal(x1, x2):
    return _out(np.less_equal(plain(x1), plain(x2)))


def sign(x):
    return _out(np.sign(plain(x)))


def round(x, decimals=0):  # noqa: A001 (Keras' name)
    return _out(np.round(plain(x), decimals))


def floor(x):
    return _out(np.floor(plain(x)))


def convert_to_tensor(x, dtype=None):
    """`x` as a Tensor (a constant unless it already is a recorded one)."""
    if isinstance(x, Tensor) and dtype is None:
        return x
    if isinstance(x, Tensor):
        return cast(x, dtype)
    a = np.asarray(plain(x))
    if dtype is not None:
        a = a.astype(dtype)
    elif not isinstance(x, np.ndarray) and a.dtype.kind == "f":  # Python numbers: floatx
        a = a.astype(backend.floatx())
    return _out(a)


def convert_to_numpy(x) -> np.ndarray:
    """A plain NumPy copy (a constant for every tape)."""
    return np.array(plain(x), copy=True)


def stop_gradient(x):
    """The values of `x` as a constant: no gradient flows back through the result."""
    return _out(np.array(plain(x), copy=True))
