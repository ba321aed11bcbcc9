"""The Box–Muller step of TensorFlow's normal distributions, with the C library's ln, sin, cos.

`scratch.random.philox.box_muller_readable` is the plain twin (one `scalar_math` call per
function and element); this loop computes the same operations in Numba, whose `math.log`,
`math.sin`, `math.cos` on float32 and float64 are calls to the C library's logf/sinf/cosf
(log/sin/cos), the functions TensorFlow's CPU kernel calls: the same bits on every CPU.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def box_muller(u1, u2, z0, z1, epsilon, minus_two):
    """z0, z1 ← √(−2 ln max(u1, ε)) · (sin θ, cos θ), θ = 2π·u2 computed in float64 and
    rounded to the arrays' dtype (as TensorFlow's `2.0f * M_PI * u`); ε = 1e-7 and −2 are
    given in the arrays' dtype."""
    for i in range(u1.size):
        a = max(u1[i], epsilon)
        theta = z0.dtype.type(2.0 * math.pi * np.float64(u2[i]))
        r = np.sqrt(minus_two * math.log(a))
        z0[i] = math.sin(theta) * r
        z1[i] = math.cos(theta) * r


_MASK32 = np.uint64(0xFFFFFFFF)
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_SHIFT = np.uint64(32)


@njit(cache=True, inline="always")
def _philox_round(k0, k1, c0, c1, c2, c3):
    """One round of Philox-4x32 on the counter words (uint64 holding 32 bits each)."""
    p0 = _M0 * c0
    p1 = _M1 * c2
    return ((p1 >> _SHIFT) ^ c1 ^ k0, p1 & _MASK32,
            (p0 >> _SHIFT) ^ c3 ^ k1, p0 & _MASK32)


@njit(cache=True)
def _philox_block(k0, k1, c0, c1, c2, c3):
    """One Philox-4x32-10 block: ten rounds, the key bumped between them."""
    for r in range(10):
        c0, c1, c2, c3 = _philox_round(k0, k1, c0, c1, c2, c3)
        if r < 9:
            k0 = (k0 + _W0) & _MASK32
            k1 = (k1 + _W1) & _MASK32
    return c0, c1, c2, c3


@njit(cache=True)
def philox_blocks(k0, k1, start_low, start_high, numbers, out):
    """out[i] ← Philox-4x32-10 of the counter (start_high, start_low) + numbers[i], for the
    key (k0, k1): `scratch.random.philox._blocks` in one pass (its plain twin is the NumPy
    code there). All arithmetic in uint64 with 32-bit masks, so every wrap is explicit.

    Shapes: numbers (n,) uint64; out (n, 4) uint32; the rest uint64 scalars.
    """
    for i in range(numbers.size):
        low = start_low + numbers[i]  # mod 2⁶⁴
        high = start_high + np.uint64(1) if low < start_low else start_high
        words = _philox_block(k0, k1, low & _MASK32, low >> _SHIFT, high & _MASK32,
                              high >> _SHIFT)
        for j in range(4):
            out[i, j] = words[j]


_SCRAMBLE_K0, _SCRAMBLE_K1 = np.uint64(0x3EC8F720), np.uint64(0x02461E29)
_CHUNK = 512  # blocks per pass of stateless_uniform_f32: four 4 KiB word arrays
_TWO_TO_MINUS_23 = np.float32(2.0**-23)


@njit(cache=True)
def stateless_uniform_f32(s0, s1, out):
    """out ← `tf.random.stateless_uniform(out.shape, (s0, s1), float32)` in one call: the
    seed scrambled into key and counter, then block i of the stream gives out[4i … 4i+3]
    from the 23 low bits of its words (`scratch.random.philox.uniform` is the plain twin;
    TensorFlow's float(0x3f800000 | m) − 1 is exactly m·2⁻²³, computed so here).

    The blocks are independent, so the ten rounds run over all of them at once, one word
    array per counter word (c0 … c3): each round is then a plain loop over the blocks that
    the compiler vectorizes, where a loop of `_philox_block` calls is not.
    """
    m0, m1, m2, m3 = _philox_block(_SCRAMBLE_K0, _SCRAMBLE_K1, s0 & _MASK32, s0 >> _SHIFT,
                                   s1 & _MASK32, s1 >> _SHIFT)
    start_high = (m3 << _SHIFT) | m2
    n = out.size
    blocks = (n + 3) // 4
    size = min(blocks, _CHUNK)
    c0, c1 = np.empty(size, np.uint64), np.empty(size, np.uint64)
    c2, c3 = np.empty(size, np.uint64), np.empty(size, np.uint64)
    mantissa = np.uint64(0x7FFFFF)
    for first in range(0, blocks, _CHUNK):  # _CHUNK blocks at a time: the words stay in cache
        count = min(_CHUNK, blocks - first)
        for i in range(count):  # block first + i's counter: (start_high, first + i)
            c0[i] = np.uint64(first + i) & _MASK32
            c1[i] = np.uint64(first + i) >> _SHIFT
            c2[i] = start_high & _MASK32
            c3[i] = start_high >> _SHIFT
        k0, k1 = m0, m1
        for _round in range(10):  # _philox_block's rounds, each on every block
            for i in range(count):
                c0[i], c1[i], c2[i], c3[i] = _philox_round(k0, k1, c0[i], c1[i], c2[i], c3[i])
            k0 = (k0 + _W0) & _MASK32
            k1 = (k1 + _W1) & _MASK32
        # float(1.m) − 1 with 23 random mantissa bits m is exactly m·2⁻²³
        full = min(count, (n - 4 * first) // 4)
        for i in range(full):
            k = 4 * (first + i)
            out[k] = np.float32(c0[i] & mantissa) * _TWO_TO_MINUS_23
            out[k + 1] = np.float32(c1[i] & mantissa) * _TWO_TO_MINUS_23
            out[k + 2] = np.float32(c2[i] & mantissa) * _TWO_TO_MINUS_23
            out[k + 3] = np.float32(c3[i] & mantissa) * _TWO_TO_MINUS_23
        if full < count:  # the stream's last, partial block
            tail = (c0[full], c1[full], c2[full])
            for j in range(n - 4 * (first + full)):
                out[4 * (first + full) + j] = np.float32(tail[j] & mantissa) * _TWO_TO_MINUS_23
