"""Activations: one object per Keras activation, each with its hand-written derivative.

Every activation is an `Activation` object with a Keras `name`, a `config` dict of its
parameters, a forward pass and a backward pass (a vector-Jacobian product):

    act = activations.get("relu")          # or get(None), get({"class_name": ...}), get(relu)
    y = act(x)                             # same shape and dtype as x
    dx = act.backward(dy, x, y)            # dL/dx from dL/dy, the input x and the output y
    activations.serialize(act)             # "relu", for a layer's get_config()

Keras' functional API is here too, with Keras' signatures and defaults
(`relu(x, negative_slope=0.0, max_value=None, threshold=0.0)`, `leaky_relu(x,
negative_slope=0.2)`, `softmax(x, axis=-1)`, `gelu(x, approximate=False)`, ...), and the
classes (`ReLU`, `LeakyReLU`, `ELU`, `Softmax`, `GELU`, `BRU`, ...) are the factories that
layers use to build parametrised activations.

Math follows Keras 3.15 on TensorFlow 2.21 (CPU) exactly, including TensorFlow's
conventions where the derivative does not exist. Each was measured with `tf.GradientTape`
on the exact kink points and is pinned by a test (tests/test_activations.py):

    activation                       point            TF's gradient
    relu                             x = 0            0
    relu(threshold=θ)                x = θ            0
    relu(max_value=m), m != 6        x = m            1  (clip passes the boundary)
    relu(max_value=6) (θ = 0), relu6 x = 0, x = 6     0, 0  (Keras calls TF's relu6 op)
    relu(negative_slope=a, θ or m)   x = θ            0
    relu(negative_slope=a) alone,    x = 0            a  (Keras calls TF's leaky_relu op)
    leaky_relu(negative_slope=a)
    elu(alpha)                       x = 0            alpha  (1 for the default)
    selu                             x = 0            scale = 1.0507...
    hard_sigmoid                     x = -3, x = 3    0, 0
    softsign                         x = 0            1  (smooth: 1/(1+|x|)^2)

Two more TensorFlow details are reproduced because parity depends on them:

* TensorFlow's CPU kernels flush subnormal results to zero. `sigmoid`, `exponential`,
  `softplus` and `gelu` do the same, so `sigmoid(x)` is exactly 0 for x < -87.34 in float32
  (x < -708.4 in float64), and exactly 1.0 for x >= 16.64 in float32 (x >= 36.74 in float64).
  The check is one `x.min()` reduction; the flush itself runs only when it is needed.
* `leaky_relu` runs TF's LeakyRelu op, whose slope is a float32 attribute: in float64 the
  slope is float32(negative_slope), e.g. 0.10000000149011612 for 0.1.

Inputs: NumPy float arrays keep their dtype (float32 and float64, nothing is up- or
down-cast). Python scalars, lists and integer arrays become `scratch.backend.floatx()`
arrays, as Keras' `convert_to_tensor` does.

The course's BRU (Bionodal Root Unit, Lecture 20) is an extra with no Keras counterpart: see
`BRU`.

The module is over the project's 500 lines because it holds one class per Keras activation,
each with its derivative and TensorFlow's numerical details, and Keras' functional API beside
them, as `keras.activations` is one namespace.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import special

from . import backend
from ._kernels import load as load_kernels
from .tape.recorder import record_activation
from .tape.tensor import Tensor
from .typing import Array

__all__ = [
    "Activation", "Linear", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ReLU6", "ELU", "SELU",
    "Softplus", "Softsign", "Softmax", "GELU", "SiLU", "HardSigmoid", "Exponential", "BRU",
    "get", "serialize", "linear", "sigmoid", "tanh", "relu", "leaky_relu", "relu6", "elu",
    "selu", "softplus", "softsign", "softmax", "gelu", "silu", "swish", "hard_sigmoid",
    "exponential", "bru",
]


# --------------------------------------------------------------------------- helpers
def _as_float_array(x) -> np.ndarray:
    """NumPy float arrays as they are; anything else (lists, ints) as a floatx() array."""
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "f":
        return np.asarray(x)
    return np.asarray(x, dtype=backend.floatx())


def _eigen_float32(x: Array) -> bool:
    """Whether σ and tanh take TensorFlow's float32 kernels: fast paths on, a C-contiguous
    float32 array (anything else keeps the NumPy formula)."""
    return (backend.fast_paths_enabled() and isinstance(x, np.ndarray)
            and x.dtype == np.float32 and x.flags.c_contiguous)


def _flush_subnormals(y, x, cut: float):
    """Zero the subnormal entries of y, as TF's flush-to-zero CPU kernels do.

    Subnormal results only come from inputs below `cut` (a bound on x for the function at
    hand), so the usual case costs one `x.min()`. NaN inputs make `min` NaN and skip the
    flush; their outputs are NaN anyway.
    """
    if x.size and np.minimum.reduce(x, axis=None) < cut:  # x.min() without its wrapper
        return np.where(np.abs(y) < np.finfo(y.dtype).tiny, 0, y)
    return y


@functools.cache
def _log_tiny(dtype) -> float:
    """log(smallest normal number): exp(x) is subnormal (or 0) below it."""
    return float(np.log(np.finfo(dtype).tiny))


def _sigmoid(x: Array) -> Array:
    """σ(x) = e / (1 + e) with e = exp(x): TF's (Eigen's) formulation, see `Sigmoid`."""
    e = np.minimum(x, 40.0, out=np.empty(x.shape, x.dtype))  # σ(40) == 1 in both dtypes
    np.exp(e, out=e)  # in place: one temporary fewer (out= keeps 0-d input an array)
    e = _flush_subnormals(e, x, _log_tiny(x.dtype) + 1.0)
    return np.divide(e, e + 1.0, out=e)


# --------------------------------------------------------------------------- base class
class Activation:
    """Base class of every activation: a Keras name, a config, forward and backward.

    Subclasses implement `forward(x)` and `backward(dy, x, y)`; `__call__` converts its
    argument to a float array (see the module docstring) and calls `forward`.

    Math:
        y  = f(x)                  elementwise (softmax: along `axis`)
        dx = dy ⊙ f'(x)            the vector-Jacobian product (softmax: see Softmax)

    Shapes:
        x, y, dy, dx: any shape, all the same; y, dx have x's dtype.

    Attributes:
        name: the Keras name ("relu", "softmax", ...); `serialize` returns it.
        config: the parameters, e.g. {"negative_slope": 0.1, "max_value": None,
            "threshold": 0.0}; `get_config()` returns a copy, `cls(**config)` rebuilds.
        exposes_logits: True for sigmoid and softmax, whose Keras outputs carry their input
            as hidden logits (docs/KERAS_NUMERICS.md §Hidden logits): a layer using them
            keeps x as `logits`.
    """

    name: str = ""
    exposes_logits: bool = False

    def __init__(self, **config: Any) -> None:
        self.config: dict[str, Any] = config

    def __call__(self, x) -> Array:
        if type(x) is not np.ndarray or x.dtype.kind != "f":
            if isinstance(x, Tensor):  # recorded by an active GradientTape (scratch/tape)
                return record_activation(self, x)
            x = _as_float_array(x)
        y = self.forward(x)
        return y if isinstance(y, np.ndarray) else np.asarray(y, dtype=x.dtype)

    def forward(self, x: Array) -> Array:
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        """dL/dx given dL/dy, the input x and the output y of the forward pass."""
        raise NotImplementedError(
            f"{type(self).__name__} has no backward(dy, x, y): scratch needs the derivative "
            "of every activation, so implement backward in the subclass."
        )

    def get_config(self) -> dict[str, Any]:
        return dict(self.config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Activation:
        return cls(**config)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Activation):
            return NotImplemented
        return type(self) is type(other) and self.name == other.name and (
            self.config == other.config)

    def __hash__(self) -> int:
        return hash((type(self), self.name, tuple(sorted(self.config.items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------- smooth ones
class Linear(Activation):
    """Identity, Keras' `linear` (and what `activation=None` means).

    Math:
        y = x;  dx = dy

    Shapes:
        x, y, dy, dx: any shape. `y` is `x` itself and `dx` is `dy` itself (no copy, as in
        Keras): do not modify them in place.
    """

    name = "linear"

    def forward(self, x: Array) -> Array:
        return x

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        return dy


class Sigmoid(Activation):
    """Logistic sigmoid, computed as TensorFlow's CPU kernel does.

    Math:
        y  = σ(x) = 1 / (1 + exp(-x)) = e / (1 + e),  e = exp(x)
        dx = y · (1 - y) · dy                          (TF's SigmoidGrad order)

    The readable code is the e/(1+e) form (Eigen's), which needs no overflow guard (no
    np.errstate) once x is capped at 40, where y is already exactly 1; it agrees bit for bit
    with TF on most inputs (float64: 93 %) and is within the `forward` tolerance on all.
    The float32 fast path is Eigen's own approximation, TensorFlow's bits exactly
    (`_kernels/activations.py`). With TF's flush-to-zero, y is exactly 0 for x < -87.34
    (float32) and exactly 1.0 for x >= 16.64 (float32: 1 + e rounds to e).

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "sigmoid"
    exposes_logits = True

    def forward(self, x: Array) -> Array:
        if _eigen_float32(x):
            y = np.empty_like(x)
            load_kernels("activations").sigmoid_f32(x, y, np.empty(x.size, np.int32))
            return y
        return _sigmoid(x)

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        return y * (1.0 - y) * dy


class Tanh(Activation):
    """Hyperbolic tangent.

    Math:
        y = tanh(x) = (exp(2x) - 1) / (exp(2x) + 1);  dx = dy · (1 - y²)

    The readable code is np.tanh; the float32 fast path is Eigen's rational approximation,
    TensorFlow's bits exactly (`_kernels/activations.py`).

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "tanh"

    def forward(self, x: Array) -> Array:
        if _eigen_float32(x):
            y = np.empty_like(x)
            load_kernels("activations").tanh_f32(x, y)
            return y
        return np.tanh(x)

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        return dy * (1.0 - y * y)


class Softplus(Activation):
    """Softplus with TensorFlow's cut-offs (a smooth ReLU).

    Math:
        y  = log(1 + exp(x)), computed as TF's kernel does with t = log(eps) + 2
             (t = -13.94 in float32, -34.04 in float64):
             y = x if x > -t;  exp(x) if x < t;  log1p(exp(x)) otherwise
        dx = dy / (exp(-x) + 1) = dy · σ(x)

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "softplus"

    def forward(self, x: Array) -> Array:
        t = np.log(np.finfo(x.dtype).eps) + x.dtype.type(2)  # in x's dtype, as TF
        e = np.exp(np.minimum(x, -t))
        y = np.log1p(e)
        y = np.where(x > -t, x, np.where(x < t, e, y))
        return _flush_subnormals(y, x, _log_tiny(x.dtype) + 1.0)

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        with np.errstate(over="ignore"):  # exp(-x) = inf gives dx = 0, as in TF
            dx = dy / (np.exp(-x) + 1.0)
        return _flush_subnormals(dx, x, _log_tiny(x.dtype) + 1.0)


class Softsign(Activation):
    """Softsign.

    Math:
        y = x / (|x| + 1);  dx = dy / (1 + |x|)²   (1 at x = 0)

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "softsign"

    def forward(self, x: Array) -> Array:
        return x / (np.abs(x) + 1.0)

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        return dy / np.square(np.abs(x) + 1.0)


class SiLU(Activation):
    """SiLU, also called swish (Keras' "swish" is an alias: the name is "silu").

    Math:
        y  = x · σ(x)
        dx = dy · σ(x) · (1 + x · (1 - σ(x)))     (TF's custom gradient; σ is recomputed)

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "silu"

    def forward(self, x: Array) -> Array:
        return x * _sigmoid(x)

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        s = _sigmoid(x)
        return dy * (s * (1.0 + x * (1.0 - s)))


class GELU(Activation):
    """Gaussian error linear unit; exact (erf) by default, as `keras.activations.gelu`.

    Note that `keras.ops.gelu` defaults to approximate=True; the activation and
    `activation="gelu"` use approximate=False.

    Math:
        exact:        y  = 0.5 · x · erfc(-c·x) = x · Φ(x),  c = 1/√2
                      dx = dy · (0.5 · erfc(-c·x) + x · c · exp(-c²x²) / √π)
                         = dy · (Φ(x) + x · φ(x)),  φ(x) = exp(-x²/2) / √(2π)
        approximate:  u = √(2/π) · (x + 0.044715 · x³),  t = tanh(u)
                      y  = 0.5 · x · (1 + t)
                      du = √(2/π) · (1 + 3 · 0.044715 · x²)
                      dx = dy · (0.5 · (1 + t) + 0.5 · x · (1 - t²) · du)

    Args:
        approximate: use the tanh approximation.

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "gelu"
    # TF writes `math_ops.cast(0.7071067811865476, dtype)` and `cast(0.044715, dtype)`: the
    # Python float becomes a float32 tensor first, so float64 uses float32-rounded constants
    # (1/√2 off by 1.2e-8: ignoring this costs 4e-9 relative error in float64). √(2/π)
    # multiplies the tensor directly and stays exact.
    _C = float(np.float32(0.7071067811865476))  # 1/√2 as TF has it
    _A = float(np.float32(0.044715))
    _K = 0.7978845608028654  # √(2/π)

    def __init__(self, approximate: bool = False) -> None:
        if not isinstance(approximate, (bool, np.bool_)):
            raise TypeError(
                f"GELU expected a bool for `approximate`. Received: approximate={approximate!r}"
            )
        super().__init__(approximate=bool(approximate))

    def forward(self, x: Array) -> Array:
        if self.config["approximate"]:
            inner = self._K * (x + self._A * x**3)
            return 0.5 * x * (1.0 + np.tanh(inner))
        y = 0.5 * x * special.erfc(-x * self._C)
        # erfc(z) is subnormal for z > 9.2 (float32) / 26.5 (float64)
        return _flush_subnormals(y, x, -math.sqrt(-2.0 * _log_tiny(x.dtype)) + 1.0)

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        if self.config["approximate"]:
            t = np.tanh(self._K * (x + self._A * x**3))
            du = self._K * (1.0 + (3.0 * self._A) * (x * x))
            return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)
        z = -x * self._C
        cdf = 0.5 * special.erfc(z)
        pdf = np.exp(-(z * z)) * (self._C / math.sqrt(math.pi))  # φ(x) with TF's c
        return dy * (cdf + x * pdf)


class Exponential(Activation):
    """Exponential (overflows to inf above 88.7 in float32 / 709.8 in float64, as in TF).

    Math:
        y = exp(x);  dx = dy · y

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "exponential"

    def forward(self, x: Array) -> Array:
        with np.errstate(over="ignore"):
            y = np.exp(x)
        return _flush_subnormals(y, x, _log_tiny(x.dtype) + 1.0)

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        return dy * y


class ELU(Activation):
    """Exponential linear unit, with Keras' handling of alpha != 1.

    TF's Elu kernel computes exp(x) - 1 (not expm1) and its gradient from the output; Keras
    then scales the negative branch: y = where(x > 0, elu(x), alpha · elu(x)).

    Math:
        r  = x if x > 0 else exp(x) - 1          (TF's elu)
        y  = r if x > 0 else alpha · r
        dx = dy if x > 0 else alpha · dy · (r + 1)      (alpha · dy at x = 0)

    Args:
        alpha: scale of the negative branch.

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__(alpha=_check_float("ELU", "alpha", alpha))

    def _elu(self, x: Array) -> Array:
        return np.exp(np.minimum(x, 0.0)) - 1.0  # exp of x <= 0 only: no overflow

    def forward(self, x: Array) -> Array:
        return np.where(x > 0, x, self.config["alpha"] * self._elu(x))

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        alpha = self.config["alpha"]
        r = y if alpha == 1.0 else self._elu(x)  # alpha = 1: y is TF's elu output
        return np.where(x > 0, dy, alpha * (dy * (r + 1.0)))


class SELU(Activation):
    """Scaled exponential linear unit with TF's constants.

    Math:
        y  = scale · x if x > 0 else scale_alpha · (exp(x) - 1)
        dx = dy · scale if y >= 0 else dy · (y + scale_alpha)
        scale = 1.0507009873554805, scale_alpha = scale · 1.6732632423543772 = 1.7580993408473769

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "selu"
    SCALE = 1.0507009873554804934193349852946
    SCALE_ALPHA = 1.7580993408473768599402175208123

    def forward(self, x: Array) -> Array:
        neg = self.SCALE_ALPHA * (np.exp(np.minimum(x, 0.0)) - 1.0)
        return np.where(x < 0, neg, self.SCALE * x)

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        return np.where(y < 0, dy * (y + self.SCALE_ALPHA), dy * self.SCALE)


class Softmax(Activation):
    """Softmax along `axis`, with the max shifted out for stability.

    `axis=None` is a softmax over *all* elements (the batch axis included), as Keras'
    TensorFlow backend does (it reshapes to 1-D); a tuple of axes is a softmax over their
    joint elements (`keras.ops.softmax`).

    Math:
        y  = exp(x - max(x)) / Σ exp(x - max(x))        (max and Σ along axis)
        dx = (dy - Σ(dy ⊙ y)) ⊙ y                       (Σ along axis, TF's order)

    Args:
        axis: int, tuple of ints, or None.

    Shapes:
        x, y, dy, dx: any shape with the axis (axes) present.

    Raises:
        ValueError: at call time, for an axis outside the input's rank.
    """

    name = "softmax"
    exposes_logits = True

    def __init__(self, axis: int | tuple[int, ...] | None = -1) -> None:
        if isinstance(axis, list):
            axis = tuple(axis)
        ok = axis is None or _is_int(axis) or (
            isinstance(axis, tuple) and len(axis) > 0 and all(_is_int(a) for a in axis))
        if not ok:
            raise ValueError(
                f"Softmax expected `axis` to be an int, a tuple of ints or None. "
                f"Received: axis={axis!r}"
            )
        if axis is not None:
            axis = int(axis) if _is_int(axis) else tuple(int(a) for a in axis)
        super().__init__(axis=axis)

    def _check_axis(self, ndim: int) -> None:
        axis = self.config["axis"]
        axes = () if axis is None else (axis if isinstance(axis, tuple) else (axis,))
        if any(not -ndim <= a < ndim for a in axes):
            raise ValueError(
                f"Softmax expected axis in [-{ndim}, {ndim}) for an input of rank {ndim}. "
                f"Received: axis={axis!r}"
            )

    def forward(self, x: Array) -> Array:
        self._check_axis(x.ndim)
        axis = self.config["axis"]
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e * (1.0 / np.sum(e, axis=axis, keepdims=True))  # TF multiplies by 1/Σ

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        return (dy - np.sum(dy * y, axis=self.config["axis"], keepdims=True)) * y


# --------------------------------------------------------------------------- piecewise ones
class ReLU(Activation):
    """Keras' general rectifier `relu(x, negative_slope, max_value, threshold)`.

    Exactly Keras' `ReLU.static_call`, branch for branch, because the branches have
    different gradients at their kinks:

    Math:
        leaky case (negative_slope = a != 0, max_value None, threshold 0):
            y = x if x > 0 else float32(a) · x,  dx = dy if x > 0 else a · dy (a at x = 0)
        otherwise, with θ = threshold and m = max_value:
            P = x if x > θ else 0           (θ != 0)
            P = min(max(x, 0), 6)           (θ == 0 and m == 6: TF's relu6 op)
            P = max(x, 0)                   (θ == 0 otherwise)
            P = clip(P, 0, m)               (m given and not the relu6 case)
            y = P - a · max(θ - x, 0)       (below θ: a·(x - θ); above θ: x, not x - θ)
            dx = dy where P passes x (x > θ; x > 0; 0 < x < 6; and 0 <= x <= m when clipped),
                 a · dy where x < θ, else 0.
        So the gradient is 0 at x = θ (x = 0 when θ = 0), 1 at x = m (clip passes its
        boundary; also at x = 0 when θ < 0 < m), but 0 at x = 6 when m = 6 and θ = 0.

    Args:
        negative_slope: slope below the threshold.
        max_value: saturation value (None: no saturation).
        threshold: values below it are damped (set to 0 when negative_slope is 0).

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "relu"

    def __init__(self, negative_slope: float = 0.0, max_value: float | None = None,
                 threshold: float = 0.0) -> None:
        super().__init__(
            negative_slope=_check_float("ReLU", "negative_slope", negative_slope),
            max_value=None if max_value is None else _check_float("ReLU", "max_value",
                                                                    max_value),
            threshold=_check_float("ReLU", "threshold", threshold),
        )

    @property
    def _leaky(self) -> bool:
        c = self.config
        return c["negative_slope"] != 0 and c["max_value"] is None and c["threshold"] == 0

    @property
    def _relu6(self) -> bool:
        return self.config["threshold"] == 0 and self.config["max_value"] == 6

    def forward(self, x: Array) -> Array:
        slope, m, theta = (self.config[k] for k in ("negative_slope", "max_value", "threshold"))
        if self._leaky:
            return _leaky_relu(x, slope)
        if theta != 0:
            p = np.where(x > x.dtype.type(theta), x, 0)
        elif self._relu6:
            p = np.minimum(np.maximum(x, 0), 6)
        elif _one_pass(x):  # the line below in one Numba pass (no temporary for the 0)
            p = load_kernels("activations").relu_forward(x.reshape(-1)).reshape(x.shape)
        else:
            p = np.maximum(x, 0)
        if m is not None and not self._relu6:
            p = np.minimum(np.maximum(p, 0), x.dtype.type(m))
        if slope != 0:
            p = p - slope * np.maximum(theta - x, 0)
        return p

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        slope, m, theta = (self.config[k] for k in ("negative_slope", "max_value", "threshold"))
        if self._leaky:
            return _leaky_relu_backward(dy, x, slope)
        theta_ = x.dtype.type(theta)
        if theta == 0 and slope == 0 and (m is None or self._relu6):
            # TensorFlow's ReluGrad / Relu6Grad: dy · [x > 0] (· [x < 6]). A product with
            # the 0/1 mask, not a select: the same numbers, and np.where's per-element
            # branch is several times slower on a random mask
            if not self._relu6 and _one_pass(dy, x):  # one Numba pass, no mask array
                return load_kernels("activations").relu_backward(
                    dy.reshape(-1), x.reshape(-1)).reshape(dy.shape)
            return dy * ((x > 0) & (x < 6) if self._relu6 else x > 0)
        if theta != 0:
            passes = x > theta_
        elif self._relu6:
            passes = (x > 0) & (x < 6)
        else:
            passes = x > 0
        if m is not None and not self._relu6:
            passes &= (x >= 0) & (x <= x.dtype.type(m))
        dx = np.where(passes, dy, 0)
        if slope != 0:
            dx = np.where(x < theta_, dy * slope, dx)
        return dx


def leaky_relu_numpy(x: Array, alpha) -> Array:
    """y = x if x > 0 else α·x (the readable formula; α in x's dtype)."""
    return np.where(x > 0, x, x * alpha)


def leaky_relu_backward_numpy(dy: Array, x: Array, alpha) -> Array:
    """dx = dy if x > 0 else α·dy (the readable formula; α in x's dtype)."""
    return np.where(x > 0, dy, dy * alpha)


def _one_pass(*arrays: Array) -> bool:
    """Whether the one-pass Numba kernels take these arrays: fast paths on, same shape, same
    float32 or float64 dtype, C-contiguous (any other case keeps the NumPy formula)."""
    return (backend.fast_paths_enabled() and arrays[0].dtype in backend.FLOAT_DTYPES
            and backend.same_layout(*arrays))


@functools.lru_cache(maxsize=64)
def _slope_in(negative_slope: float, dtype: np.dtype) -> np.floating:
    """The slope as TF's LeakyRelu holds it (a float32 attribute), in x's dtype."""
    return dtype.type(np.float32(negative_slope))


def _leaky_relu(x: Array, negative_slope: float) -> Array:
    alpha = _slope_in(negative_slope, x.dtype)
    if _one_pass(x):
        kernels = load_kernels("activations")
        return kernels.leaky_relu_forward(x.reshape(-1), alpha).reshape(x.shape)
    return leaky_relu_numpy(x, alpha)


def _leaky_relu_backward(dy: Array, x: Array, negative_slope: float) -> Array:
    alpha = _slope_in(negative_slope, x.dtype)
    if _one_pass(dy, x):
        kernels = load_kernels("activations")
        return kernels.leaky_relu_backward(dy.reshape(-1), x.reshape(-1), alpha).reshape(dy.shape)
    return leaky_relu_backward_numpy(dy, x, alpha)


class LeakyReLU(Activation):
    """Leaky rectifier, `keras.activations.leaky_relu` (default slope 0.2).

    The *layer* `keras.layers.LeakyReLU` defaults to 0.3; layers pass their slope here.
    TF's op stores the slope as float32, so float64 uses float32(negative_slope).

    Math:
        y = x if x > 0 else a · x;  dx = dy if x > 0 else a · dy   (a at x = 0)

    Args:
        negative_slope: a, the slope for x <= 0.

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.2) -> None:
        super().__init__(negative_slope=_check_float("LeakyReLU", "negative_slope",
                                                     negative_slope))

    def forward(self, x: Array) -> Array:
        return _leaky_relu(x, self.config["negative_slope"])

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        return _leaky_relu_backward(dy, x, self.config["negative_slope"])


class ReLU6(Activation):
    """ReLU capped at 6 (TF's relu6 op).

    Math:
        y = min(max(x, 0), 6);  dx = dy if 0 < x < 6 else 0   (0 at both kinks)

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "relu6"

    def forward(self, x: Array) -> Array:
        return np.minimum(np.maximum(x, 0), 6)

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        return np.where((x > 0) & (x < 6), dy, 0)


class HardSigmoid(Activation):
    """Keras 3's hard sigmoid, relu6(x + 3) / 6 (not Keras 2's 0.2·x + 0.5).

    Math:
        z = x + 3;  y = relu6(z) / 6;  dx = dy / 6 if 0 < z < 6 else 0   (0 at x = ±3)

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "hard_sigmoid"

    def forward(self, x: Array) -> Array:
        return np.minimum(np.maximum(x + 3.0, 0), 6) / 6.0

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        z = x + 3.0
        return np.where((z > 0) & (z < 6), dy / 6.0, 0)


class BRU(Activation):
    """The course's Bionodal Root Unit (Lecture 20); no Keras counterpart.

    The formula is the course's, implemented as written:

    Math:
        y  = (r²x + 1)^(1/r) - 1/r     for x >= 0
        y  = exp(r·x) - 1/r            for x < 0
        dx = dy · r · (r²x + 1)^(1/r - 1)   for x >= 0
        dx = dy · r · exp(r·x)              for x < 0

    Both branches give 1 - 1/r at x = 0 and both slopes are r there, so the function is
    continuous and once differentiable at 0 (its second derivative jumps from r² to
    r²(1 - r)). It is not zero-centred: y(0) = 1 - 1/r (0.5 for r = 2), and y → -1/r as
    x → -∞. With r = 1 it is exactly ELU(alpha=1). The course gives no value for r; the
    default r = 2 makes the positive branch a square root, sqrt(4x + 1) - 1/2. r must be
    positive. dx is computed from x, not from y: r·y + 1 would lose all digits to
    cancellation for x << 0.

    Args:
        r: the root's order, r > 0.

    Shapes:
        x, y, dy, dx: any shape.
    """

    name = "bru"

    def __init__(self, r: float = 2.0) -> None:
        r = _check_float("BRU", "r", r)
        if not (r > 0 and math.isfinite(r)):
            raise ValueError(f"BRU expected a positive, finite `r`. Received: r={r!r}")
        super().__init__(r=r)

    def forward(self, x: Array) -> Array:
        r = self.config["r"]
        pos = (r * r * np.maximum(x, 0) + 1.0) ** (1.0 / r)
        neg = np.exp(r * np.minimum(x, 0))
        return np.where(x >= 0, pos, neg) - 1.0 / r

    def backward(self, dy: Array, x: Array, y: Array) -> Array:
        r = self.config["r"]
        pos = r * (r * r * np.maximum(x, 0) + 1.0) ** (1.0 / r - 1.0)
        neg = r * np.exp(r * np.minimum(x, 0))
        return dy * np.where(x >= 0, pos, neg)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _check_float(cls: str, arg: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{cls} expected a number for `{arg}`. Received: {arg}={value!r}")
    return float(value)


# --------------------------------------------------------------------------- functional API
def linear(x):
    """Identity: returns x (Keras' `linear`)."""
    return Linear()(x)


def sigmoid(x):
    """1 / (1 + exp(-x)); exactly 0 / 1 where TF flushes (see `Sigmoid`)."""
    return Sigmoid()(x)


def tanh(x):
    """Hyperbolic tangent."""
    return Tanh()(x)


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras' general rectifier (see `ReLU` for the exact branches)."""
    return ReLU(negative_slope, max_value, threshold)(x)


def leaky_relu(x, negative_slope=0.2):
    """x if x > 0 else negative_slope · x."""
    return LeakyReLU(negative_slope)(x)


def relu6(x):
    """min(max(x, 0), 6)."""
    return ReLU6()(x)


def elu(x, alpha=1.0):
    """x if x > 0 else alpha · (exp(x) - 1)."""
    return ELU(alpha)(x)


def selu(x):
    """scale · elu(x, alpha) with Klambauer et al.'s constants."""
    return SELU()(x)


def softplus(x):
    """log(1 + exp(x)), with TF's cut-offs."""
    return Softplus()(x)


def softsign(x):
    """x / (|x| + 1)."""
    return Softsign()(x)


def softmax(x, axis=-1):
    """exp(x) / Σ exp(x) along `axis` (None: over all elements)."""
    return Softmax(axis)(x)


def gelu(x, approximate=False):
    """x · Φ(x) (exact by default; the tanh approximation with approximate=True)."""
    return GELU(approximate)(x)


def silu(x):
    """x · σ(x)."""
    return SiLU()(x)


swish = silu


def hard_sigmoid(x):
    """relu6(x + 3) / 6."""
    return HardSigmoid()(x)


def exponential(x):
    """exp(x)."""
    return Exponential()(x)


def bru(x, r=2.0):
    """The course's Bionodal Root Unit (see `BRU`)."""
    return BRU(r)(x)


# --------------------------------------------------------------------------- registry
_CLASSES: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, SELU, Softplus, Softsign,
                Softmax, GELU, SiLU, HardSigmoid, Exponential, ReLU6, BRU)
}
_ALIASES = {"swish": "silu"}
_FUNCTIONS: dict[Callable, str] = {
    linear: "linear", sigmoid: "sigmoid", tanh: "tanh", relu: "relu",
    leaky_relu: "leaky_relu", relu6: "relu6", elu: "elu", selu: "selu",
    softplus: "softplus", softsign: "softsign", softmax: "softmax", gelu: "gelu",
    silu: "silu", hard_sigmoid: "hard_sigmoid", exponential: "exponential", bru: "bru",
}


def _known() -> str:
    return ", ".join(sorted([*_CLASSES, *_ALIASES]))


def _from_name(name: str, identifier) -> Activation:
    key = _ALIASES.get(name, name)
    if key not in _CLASSES:
        by_class = {cls.__name__: cls for cls in _CLASSES.values()}
        if name in by_class:
            return by_class[name]()
        raise ValueError(
            f"Could not interpret activation identifier: {identifier!r}. Known: {_known()}"
        )
    return _CLASSES[key]()


def get(identifier) -> Activation:
    """Resolve an activation identifier to an `Activation`, as `keras.activations.get`.

    Args:
        identifier: one of
            * None: `Linear()`;
            * a name: "relu", "swish" (alias of "silu"), ... (see `Known:` in the error);
            * an `Activation` instance (returned as is) or subclass (instantiated);
            * a dict {"class_name" (or "name"): name, "config": {...}}, e.g. the output of
              `serialize` or Keras' {"class_name": "function", "config": "relu", ...};
            * one of this module's functional API functions (`activations.relu`, ...), or
              the Keras function of the same name (`keras.activations.relu`);
            * an activation layer (`layers.LeakyReLU(0.2)`, `layers.ReLU()`, ...): its
              function.

    Returns:
        The activation, with Keras' default parameters unless a config says otherwise.

    Raises:
        ValueError: for an unknown name or an identifier of the wrong kind.
        TypeError: for any other callable: backward needs an `Activation` subclass.
    """
    if identifier is None:
        return Linear()
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Activation):
        return identifier()
    if isinstance(identifier, str):
        return _from_name(identifier, identifier)
    if isinstance(identifier, dict):
        return _from_dict(identifier)
    if isinstance(getattr(identifier, "activation", None), Activation) and hasattr(
            identifier, "backward"):
        # An activation *layer* passed as a layer's activation (`Dense(64,
        # activation=LeakyReLU(0.2))`, as the course's GAN does): use its function.
        return identifier.activation
    if callable(identifier):
        name = _FUNCTIONS.get(identifier)
        if name is None and str(getattr(identifier, "__module__", "")).startswith("keras"):
            fn_name = getattr(identifier, "__name__", "")
            if fn_name in _CLASSES or fn_name in _ALIASES:
                name = fn_name
        if name is not None:
            return _from_name(name, identifier)
        raise TypeError(
            "scratch activations need their derivative: backward(dy, x, y) needs an "
            "Activation (subclass) with a backward method, not a bare function. Subclass "
            "scratch.activations.Activation and implement forward and backward, or pass a "
            f"Keras name. Received: identifier={identifier!r}"
        )
    raise ValueError(
        f"Could not interpret activation identifier: {identifier!r}. Known: {_known()}"
    )


def _from_dict(identifier: dict) -> Activation:
    name = identifier.get("class_name", identifier.get("name"))
    config = identifier.get("config") or {}
    if name == "function" and isinstance(config, str):  # Keras 3's serialized function
        return _from_name(config, identifier)
    if not isinstance(name, str) or not isinstance(config, dict):
        raise ValueError(
            "Activation dict expected {'class_name': name, 'config': dict}. "
            f"Received: identifier={identifier!r}"
        )
    cls = type(_from_name(name, identifier))
    return cls(**config)


def serialize(activation) -> str | dict[str, Any]:
    """The Keras name of an activation, for a layer's get_config().

    Returns:
        The name (e.g. "relu") when the activation has its default parameters, which is
        every activation a Keras name or function resolves to. A parametrised one
        (e.g. ReLU(max_value=2.0)) has no Keras name; it serialises losslessly as
        {"class_name": name, "config": act.get_config()}, which `get` accepts.
    """
    act = get(activation)
    cls = _CLASSES.get(act.name)
    if cls is not None and type(act) is cls and act.config == cls().config:
        return act.name
    return {"class_name": act.name or type(act).__name__, "config": act.get_config()}
