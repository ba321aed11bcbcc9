"""Activation kernels: one-pass ReLU and LeakyReLU (the NumPy formulas' bits) and
TensorFlow's float32 σ and tanh (Eigen's approximations, TensorFlow's bits).

`np.where(x > 0, x, a·x)` makes three passes and two temporaries; the loop below makes one
and is much faster (docs/PERFORMANCE.md §Numba loops). Each kernel does the same
float operations as the NumPy code it replaces (no fastmath), so the results are
bit-identical, which tests/test_fast_paths.py checks. Arrays are 1-D and contiguous (callers
pass `reshape(-1)` views); the scalars are in the arrays' dtype. The σ and tanh kernels below
are the fast paths of the Sigmoid and Tanh activations and of the recurrent gates in float32;
tests/test_activations.py checks them against tf.math.sigmoid/tanh bit for bit and against
the readable NumPy formulas within the `fast_vs_readable` tolerance.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def leaky_relu_forward(x, alpha):
    """y = x if x > 0 else α·x, per element (NaN → α·NaN = NaN, as np.where gives)."""
    y = np.empty_like(x)
    for i in range(x.size):
        xi = x[i]
        y[i] = xi if xi > 0 else xi * alpha
    return y


@njit(cache=True, nogil=True, error_model="numpy")
def leaky_relu_backward(dy, x, alpha):
    """dx = dy if x > 0 else α·dy, per element."""
    dx = np.empty_like(dy)
    for i in range(dy.size):
        dx[i] = dy[i] if x[i] > 0 else dy[i] * alpha
    return dx


@njit(cache=True, nogil=True, error_model="numpy")
def relu_forward(x):
    """y = x if x > 0 or x is NaN, else +0: np.maximum(x, 0)'s bits (−0 gives +0)."""
    y = np.empty_like(x)
    zero = x.dtype.type(0)
    for i in range(x.size):
        xi = x[i]
        y[i] = xi if xi > zero or xi != xi else zero
    return y


@njit(cache=True, nogil=True, error_model="numpy")
def relu_backward(dy, x):
    """dx = dy · [x > 0] (TensorFlow's ReluGrad, the product with the 0/1 mask: −0 where dy
    is negative and x is not positive, NaN where dy is ±inf or NaN, as dy * (x > 0))."""
    dx = np.empty_like(dy)
    one, zero = dy.dtype.type(1), dy.dtype.type(0)
    for i in range(dy.size):
        dx[i] = dy[i] * (one if x[i] > zero else zero)
    return dx


# ----------------------------------------------------------------------------- float32 σ, tanh
# TensorFlow's CPU kernels compute float32 tanh and sigmoid with Eigen's vectorized
# approximations (Eigen/src/Core/arch/Default/GenericPacketMathFunctions.h `ptanh_float`, and
# Eigen/src/Core/functors/UnaryFunctors.h `scalar_logistic_op<float>`, as shipped in
# TensorFlow 2.21's headers, non-FMA build). These kernels are the same arithmetic in the same
# order: on 10⁶ random float32 inputs they are bit-identical to tf.math.tanh / tf.math.sigmoid
# (NumPy's tanh agrees with TF on 42 % of them), and LLVM vectorizes them (error_model="numpy"
# removes the division check that blocks it; no fastmath; in place, see below), several
# times faster than NumPy's tanh and exp (docs/PERFORMANCE.md). They serve the Sigmoid and
# Tanh activations and the recurrent layers' gates; float64 keeps NumPy's functions.
_F = np.float32
_TANH_CLAMP = _F(7.90738964080810547)
_TANH_A = (_F(1.394553628e-8), _F(2.102733560e-5), _F(3.520756727e-3), _F(1.340216100e-1))
_TANH_B = (_F(8.015776984e-7), _F(3.326951409e-4), _F(2.597254514e-2), _F(4.673548340e-1),
           _F(1.0))
_A0, _A1, _A2, _A3 = _TANH_A
_B0, _B1, _B2, _B3, _B4 = _TANH_B
_LOG2EF, _C1, _C2 = _F(1.44269504088896341), _F(-0.693359375), _F(2.12194440e-4)
_P2, _P3 = _F(0.49999141693115234375), _F(0.16666877269744873046875)
_P4, _P5 = _F(4.1898667812347412109375e-2), _F(8.33471305668354034423828125e-3)
_EXP_HI, _EXP_LO = _F(16.6355324), _F(-104.0)
_HALF, _ONE, _ZERO, _BIAS, _LIMIT = _F(0.5), _F(1.0), _F(0.0), _F(127.0), _F(255.0)
_TINY = _F(np.finfo(np.float32).tiny)


@njit(cache=True, error_model="numpy")
def tanh_inplace_f32(z):
    """z ← tanh(z), Eigen's [9/8] rational approximation (float32, 1-D contiguous).

    Math:
        x = clamp(z, ±7.9074);  tanh ≈ (x + x³·P(x²)) / Q(x²)

    In place on purpose: with an output array that may alias the input, LLVM's runtime
    overlap check sends the in-place case to the scalar loop, which is much slower.
    """
    for k in range(z.size):
        a = z[k]
        x = a if a < _TANH_CLAMP else _TANH_CLAMP
        x = x if x > -_TANH_CLAMP else -_TANH_CLAMP
        x2 = x * x
        p = ((_A0 * x2 + _A1) * x2 + _A2) * x2 + _A3
        q = (((_B0 * x2 + _B1) * x2 + _B2) * x2 + _B3) * x2 + _B4
        z[k] = (x2 * x * p + x) / q if a == a else a  # NaN stays NaN, as in TF


def tanh_f32(z: np.ndarray, out: np.ndarray) -> None:
    """out = tanh(z) for contiguous float32 blocks (out may be z)."""
    if out is not z:
        np.copyto(out, z)
    tanh_inplace_f32(out.reshape(-1))


@njit(cache=True, error_model="numpy")
def logistic_reduce_f32(x, bits):
    """First half of Eigen's float32 sigmoid, in place: x ← p ≈ exp(r), bits ← 2^m.

    Math:
        v = min(x, 16.636)/2 = m·ln2 + r (Cody–Waite), p = degree-5 polynomial ≈ exp(r);
        bits holds the IEEE pattern of 2^m (Eigen's pldexp_fast); x < −104 gives p = 0.
    """
    for k in range(x.size):
        a = x[k]
        v = a
        zero = v < _EXP_LO
        v = v if v < _EXP_HI else _EXP_HI
        v = v * _HALF
        m = np.floor(v * _LOG2EF + _HALF)
        r = m * _C1 + v
        r = m * _C2 + r
        r2 = r * r
        p = r * (r2 * _P5 + _P3) + (r2 * _P4 + _P2)
        p = r2 * p + (r + _ONE)
        x[k] = (_ZERO if zero else p) if a == a else a  # NaN stays NaN, as in TF
        e = m + _BIAS
        e = e if e > _ZERO else _ZERO
        e = e if e < _LIMIT else _LIMIT
        bits[k] = np.int32(e) << 23


@njit(cache=True, error_model="numpy")
def logistic_finish_f32(p, pow2):
    """Second half, in place: e = (p·2^m)², σ = e / (1 + e); subnormal results flush to 0."""
    for k in range(p.size):
        e = p[k] * pow2[k]
        e = e * e
        y = e / (_ONE + e)
        p[k] = _ZERO if y < _TINY else y  # (NaN passes)


def sigmoid_f32(z: np.ndarray, out: np.ndarray, bits: np.ndarray) -> None:
    """out = σ(z) for contiguous float32 blocks (out may be z); bits: int32 scratch."""
    if out is not z:
        np.copyto(out, z)
    flat, b = out.reshape(-1), bits[:out.size]
    logistic_reduce_f32(flat, b)
    logistic_finish_f32(flat, b.view(np.float32))
