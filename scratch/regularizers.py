"""`scratch.regularizers`: Keras' weight and activity penalties, each with its gradient.

A regularizer is a function of one array that returns a scalar penalty; Keras adds the
penalties of a model to its loss (docs/KERAS_NUMERICS.md §Regularizers)::

    Dense(64, kernel_regularizer=regularizers.l2(1e-4))     # λ Σ W² on the kernel
    Dense(64, activity_regularizer=regularizers.l1(1e-5))   # λ Σ |y| / N on the output

Each class here has two halves, as every scratch layer does: ``reg(x)`` is the penalty R(x),
and ``reg.gradient(x, dvalue)`` is its vector-Jacobian product dvalue · dR/dx, which the
model adds to the gradient of the weight (or of the layer's output, for an activity
penalty). Where they enter the loss and its gradient is written once, in the layer base
class (`Layer.losses`, `Layer.regularization_gradients`) and the model's step.

Precision, as Keras: every factor reaches the arithmetic through ``ops.cast(factor,
x.dtype)``, so through float32 first (``L2(0.01)`` on float64 weights uses
float64(float32(0.01))), and ``L1`` and ``OrthogonalRegularizer`` even store their factor as
a float32 tensor, so that their config reads back as ``0.009999999776482582``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .backend import keras_cast
from .typing import Array


def _validate_float_arg(value, name: str) -> float:
    """A penalty factor: a finite number ≥ 0 (Keras' `validate_float_arg`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or math.isinf(value) or math.isnan(value) or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float."
                         f"Received: {name}={value}")
    return float(value)


def _float32(value: float) -> float:
    """A factor Keras keeps in a float32 tensor (`ops.convert_to_tensor(python float)`)."""
    return float(np.float32(value))


def _array(x) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"A regularizer takes a float array. Received: x.dtype={x.dtype}")
    return x


class Regularizer:
    """Base class: `reg(x)` is the scalar penalty R(x) in x's dtype, `reg.gradient(x, dvalue)`
    the array dvalue · dR/dx (x's shape and dtype).

    A subclass of your own implements both (and `get_config` to be saved in model files).
    scratch computes gradients by hand, so a plain Python function, which Keras also accepts
    as a regularizer, is refused here: it has no gradient.
    """

    def __call__(self, x) -> np.floating:
        return _array(x).dtype.type(0.0)

    def gradient(self, x, dvalue=1.0) -> Array:
        """dvalue · dR/dx: the gradient of the penalty, times its cotangent `dvalue`."""
        return np.zeros_like(_array(x))

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{self} does not implement get_config()")

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """L1 and L2 penalties together (Keras' `L1L2`; default factors 0, as in Keras).

    Math:
        R(x) = l1 · Σ|x| + l2 · Σ x²
        dR/dx = l1 · sign(x) + l2 · 2x          (sign(0) = 0, TensorFlow's gradient of |x|)

    Args:
        l1, l2: the factors, finite and ≥ 0 (None counts as 0).
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _validate_float_arg(0.0 if l1 is None else l1, name="l1")
        self.l2 = _validate_float_arg(0.0 if l2 is None else l2, name="l2")

    def __call__(self, x) -> np.floating:
        x = _array(x)
        penalty = x.dtype.type(0.0)
        if self.l1 != 0.0:
            penalty = penalty + keras_cast(self.l1, x.dtype) * np.sum(np.abs(x))
        if self.l2 != 0.0:
            penalty = penalty + keras_cast(self.l2, x.dtype) * np.sum(np.square(x))
        return penalty

    def gradient(self, x, dvalue=1.0) -> Array:
        x = _array(x)
        dvalue = x.dtype.type(dvalue)
        grad = np.zeros_like(x)
        if self.l1 != 0.0:
            grad = grad + l1_gradient(x, dvalue * keras_cast(self.l1, x.dtype))
        if self.l2 != 0.0:
            grad = grad + l2_gradient(x, dvalue * keras_cast(self.l2, x.dtype))
        return grad

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """L1 penalty (Keras' `L1`, default 0.01): R(x) = l1 · Σ|x|, dR/dx = l1 · sign(x).

    The factor is kept in float32, as Keras keeps it (its config reads back rounded).
    """

    def __init__(self, l1=0.01):
        self.l1 = _float32(_validate_float_arg(0.01 if l1 is None else l1, name="l1"))

    def __call__(self, x) -> np.floating:
        x = _array(x)
        return keras_cast(self.l1, x.dtype) * np.sum(np.abs(x))

    def gradient(self, x, dvalue=1.0) -> Array:
        x = _array(x)
        return l1_gradient(x, x.dtype.type(dvalue) * keras_cast(self.l1, x.dtype))

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """L2 penalty (Keras' `L2`, default 0.01): R(x) = l2 · Σ x², dR/dx = l2 · 2x.

    This is weight decay written into the loss: with SGD, w ← w − lr·(g + 2·l2·w).
    """

    def __init__(self, l2=0.01):
        self.l2 = _validate_float_arg(0.01 if l2 is None else l2, name="l2")

    def __call__(self, x) -> np.floating:
        x = _array(x)
        return keras_cast(self.l2, x.dtype) * np.sum(np.square(x))

    def gradient(self, x, dvalue=1.0) -> Array:
        x = _array(x)
        return l2_gradient(x, x.dtype.type(dvalue) * keras_cast(self.l2, x.dtype))

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


def l1_gradient(x: Array, scale) -> Array:
    """d(scale · Σ|x|)/dx = sign(x) · scale (TensorFlow's Abs gradient: 0 at x = 0)."""
    return np.sign(x) * scale


def l2_gradient(x: Array, scale) -> Array:
    """d(scale · Σ x²)/dx = scale · 2x (TensorFlow's Square gradient, x·2, times scale)."""
    return scale * (x * x.dtype.type(2.0))


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2-D weight towards orthogonality (Keras'
    `OrthogonalRegularizer`).

    Math (mode "rows"; "columns" is the same on xᵀ):
        r_i = min(1/√(Σ_j x_ij²), 1/ε)         n = x ⊙ r  (each row scaled to unit length)
        P = n nᵀ                                (cosines between rows)
        R = factor · ½ · Σ_{i≠j} |P_ij| / (m(m − 1)/2),   m rows
        dP = s · sign(P) off the diagonal,      s = factor · ½ / (m(m − 1)/2)
        dn = (dP + dPᵀ) n
        dx = r ⊙ dn − r³ ⊙ x ⊙ Σ_j (dn ⊙ x)_ij  (where r < 1/ε; else dx = r ⊙ dn)

    Args:
        factor: the factor (default 0.01), kept in float32 as in Keras.
        mode: "rows" (default) or "columns".

    tf.keras computes it in float32 only (its float32 factor cannot multiply a float64 sum);
    scratch computes it in either dtype.
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _float32(_validate_float_arg(factor, name="factor"))
        if mode not in {"rows", "columns"}:
            raise ValueError('Invalid value for argument `mode`. Expected one of '
                             f'{{"rows", "columns"}}. Received: mode={mode}')
        self.mode = mode

    def _rows(self, x) -> np.ndarray:
        x = _array(x)
        if x.ndim != 2:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2. Received: "
                             f"inputs.shape={x.shape}")
        return x if self.mode == "rows" else x.T

    @staticmethod
    def _normalize(x: Array):
        """(n, r, active): the rows of x scaled to unit length, Keras' `ops.nn.normalize`
        (x · min(rsqrt(Σx²), 1/ε)), the scale r, and where rsqrt is the smaller."""
        from .backend import epsilon

        inv_norm = 1.0 / np.sqrt(np.sum(np.square(x), axis=1, keepdims=True))
        cap = x.dtype.type(1.0 / epsilon())
        r = np.minimum(inv_norm, cap)
        return x * r, r, inv_norm <= cap

    def _pairs(self, m: int) -> float:
        return m * (m - 1.0) / 2.0

    def __call__(self, x) -> np.floating:
        x = self._rows(x)
        n, _, _ = self._normalize(x)
        product = n @ n.T
        off_diagonal = product * (1.0 - np.eye(len(x), dtype=x.dtype))
        factor = keras_cast(self.factor, x.dtype)
        return factor * x.dtype.type(0.5) * np.sum(np.abs(off_diagonal)) / \
            x.dtype.type(self._pairs(len(x)))

    def gradient(self, x, dvalue=1.0) -> Array:
        xr = self._rows(x)
        n, r, active = self._normalize(xr)
        dtype = xr.dtype.type
        s = dtype(dvalue) / dtype(self._pairs(len(xr))) * (
            keras_cast(self.factor, xr.dtype) * dtype(0.5))
        off = 1.0 - np.eye(len(xr), dtype=xr.dtype)
        d_product = s * np.sign(n @ n.T * off) * off
        dn = (d_product + d_product.T) @ n
        d_r = np.where(active, np.sum(dn * xr, axis=1, keepdims=True), 0.0).astype(xr.dtype)
        dx = dn * r - (r * r * r) * d_r * xr
        return dx if self.mode == "rows" else dx.T

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor, "mode": self.mode}


# Keras' lower-case names are the classes themselves: `l2(1e-4)` is `L2(1e-4)`.
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

ALL_OBJECTS = {cls.__name__: cls for cls in (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)}
# and Keras' snake-case keys (its `to_snake_case`: "l1l2", "orthogonal_regularizer")
ALL_OBJECTS.update({"regularizer": Regularizer, "l1": L1, "l2": L2, "l1l2": L1L2,
                    "orthogonal_regularizer": OrthogonalRegularizer})


def serialize(regularizer) -> dict | None:
    """Keras 3's serialized form: {"module", "class_name", "config", "registered_name"}."""
    if regularizer is None:
        return None
    if not isinstance(regularizer, Regularizer):
        raise TypeError(f"serialize expects a scratch Regularizer. Received: {regularizer!r}")
    return {"module": "keras.regularizers", "class_name": type(regularizer).__name__,
            "config": regularizer.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None) -> Regularizer:
    """A regularizer from `serialize`'s dict (or Keras' own)."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError(f"Could not interpret regularizer identifier: {config}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or ALL_OBJECTS.get(name)
    if cls is None:
        raise ValueError(f"Could not interpret regularizer identifier: {name!r}. scratch "
                         f"implements {sorted(k for k in ALL_OBJECTS if k[0].isupper())}")
    cfg = config.get("config") or {}
    if not isinstance(cfg, dict):
        raise ValueError(f"Could not interpret regularizer identifier: {config}")
    return cls.from_config(dict(cfg))


def get(identifier) -> Regularizer | None:
    """Resolve a regularizer argument as `keras.regularizers.get` does.

    Args:
        identifier: None; a name ("l1", "l2", "l1l2", "orthogonal_regularizer" or the class
            name: default factors); a serialized dict; a `Regularizer` (returned as is) or a
            Regularizer class (instantiated).

    Raises:
        ValueError: an unknown name or dict. TypeError: a plain function, which Keras
            accepts but scratch cannot differentiate.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = ALL_OBJECTS.get(identifier)
        if cls is None:
            raise ValueError(f"Could not interpret regularizer identifier: {identifier}")
        return cls()
    if callable(identifier):
        raise TypeError(
            "scratch computes gradients by hand, so a regularizer must be a "
            "`scratch.regularizers.Regularizer` with `__call__(x)` and `gradient(x, dvalue)`"
            f" methods. Received: {identifier!r}")
    raise ValueError(f"Could not interpret regularizer identifier: {identifier}")


# ------------------------------------------------------------------------------ activity
def activity_penalty(regularizer: Regularizer, y: Array) -> np.floating:
    """Keras' activity penalty of one output: R(y) / N, N = the batch size (`divide_no_nan`:
    0 for an empty batch), so that its weight against the loss does not change with N."""
    value = regularizer(y)
    if y.ndim == 0:
        return value
    n = y.dtype.type(y.shape[0])
    return value / n if n else y.dtype.type(0.0)


def activity_gradient(regularizer: Regularizer, y: Array) -> Array:
    """d(R(y) / N)/dy = dR/dy · (1/N): the cotangent the penalty adds to the output's."""
    if y.ndim == 0:
        return regularizer.gradient(y)
    n = y.dtype.type(y.shape[0])
    return regularizer.gradient(y, y.dtype.type(1.0) / n) if n else np.zeros_like(y)
