"""`pow`, `cos`, `sin`, `log` of one number, with TensorFlow's CPU bits, on every CPU.

Why this module exists. Adam's bias correction needs β₁ᵗ and β₂ᵗ, and the learning-rate
schedules need decay_rateᵖ and cos(π·s/D): one number each per step. NumPy's `np.power` and
`np.cos` pick a SIMD routine by the CPU they run on (on AVX-512 they call other routines than
on AVX2, and on AVX2 others than the C library's), so their last bit changes from machine to
machine. TensorFlow computes a one-element `tf.pow` or `tf.cos` with Eigen's scalar path,
which calls the C library (`powf`/`pow`, `cosf`/`cos`) with the CPU's flush-to-zero mode on:
a subnormal argument is read as 0 and a subnormal result becomes 0. The functions below do
exactly that, so the optimizers and schedules give TensorFlow's bits whatever the CPU
(docs/PORTABILITY.md has the measurements). `sin` and `log` serve the same way as the plain
twin of the Box–Muller step of TensorFlow's normal distribution (`scratch.random.philox`).

    pow(0.9, 3.0)            -> powf(0.9f, 3.0f)   for float32 arguments
    pow(np.float64(0.9), 3)  -> pow(0.9, 3.0)      for float64 arguments

Which C library: the process' own (glibc's libm on Linux, libSystem on macOS, the UCRT on
Windows), the one TensorFlow calls on the same machine. Where none can be opened the
functions fall back to Python's `math` module in float64, rounded to the argument's dtype;
that is within 1 ulp of the C library's float32 results, not bit-identical.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from functools import cache

import numpy as np

__all__ = ["pow", "cos", "sin", "log"]

_C_TYPES = {np.float32: ctypes.c_float, np.float64: ctypes.c_double}
# The C names of each function per scalar type.
_C_NAMES = {name: {np.float32: name + "f", np.float64: name}
            for name in ("pow", "cos", "sin", "log")}
_ARITY = {"pow": 2, "cos": 1, "sin": 1, "log": 1}


@cache
def _c_library() -> ctypes.CDLL | None:
    """The process' C math library, or None where it cannot be opened."""
    for name in ("libm.so.6", ctypes.util.find_library("m"), "ucrtbase"):
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
    return None


@cache
def _c_function(name: str, scalar: type):
    """The C function `name` for the scalar type (e.g. powf for np.float32), or None."""
    library = _c_library()
    c_name = _C_NAMES[name][scalar]
    if library is None or not hasattr(library, c_name):
        return None
    function = getattr(library, c_name)
    function.restype = _C_TYPES[scalar]
    function.argtypes = [_C_TYPES[scalar]] * _ARITY[name]
    return function


# The smallest normal number of each scalar type: below it a number is subnormal.
_TINY = {np.float32: float(np.finfo(np.float32).tiny), np.float64: float(np.finfo(np.float64).tiny)}
# Scalar types and the type they compute in (a Python float or int counts as float64).
_SCALAR_TYPES = {np.float32: np.float32, np.float64: np.float64, float: np.float64,
                 int: np.float64}


def _flush_to_zero(value: np.floating) -> np.floating:
    """A subnormal number becomes a zero of its sign, as the CPU does in TensorFlow's
    kernels (the FTZ and DAZ modes)."""
    scalar = type(value)
    as_float = float(value)  # compared as a Python float: a NumPy scalar compare costs more
    if as_float != 0.0 and abs(as_float) < _TINY[scalar]:
        return scalar(math.copysign(0.0, as_float))
    return value


def _type_of(*values) -> type:
    """The scalar type of the result: float32 if every argument is a float32, else float64."""
    result = np.float32
    for v in values:
        scalar = _SCALAR_TYPES.get(type(v))
        if scalar is None:
            raise TypeError(f"scalar_math works on float32 and float64 numbers. Received: "
                            f"{', '.join(type(v).__name__ for v in values)}")
        if scalar is np.float64:
            result = np.float64
    return result


def _call(name: str, fallback, *values) -> np.floating:
    scalar = _type_of(*values)
    args = [_flush_to_zero(v if type(v) is scalar else scalar(v)) for v in values]
    function = _c_function(name, scalar)
    if function is None:
        try:
            result = scalar(fallback(*(float(a) for a in args)))
        except OverflowError:
            result = scalar(math.inf)
    else:
        result = scalar(function(*args))
    return _flush_to_zero(result)


def pow(base, exponent) -> np.floating:  # noqa: A001 (the C library's name)
    """baseᵉˣᵖᵒⁿᵉⁿᵗ of two float32 (or two float64) scalars, as `tf.pow` on a CPU."""
    return _call("pow", math.pow, base, exponent)


def cos(x) -> np.floating:
    """cos(x) of one float32 (or float64) scalar, as `tf.cos` on a CPU."""
    return _call("cos", math.cos, x)


def sin(x) -> np.floating:
    """sin(x) of one float32 (or float64) scalar, as `tf.sin` on a CPU."""
    return _call("sin", math.sin, x)


def log(x) -> np.floating:
    """ln(x) of one float32 (or float64) scalar, as `tf.math.log` on a CPU."""
    return _call("log", math.log, x)
