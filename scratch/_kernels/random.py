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
