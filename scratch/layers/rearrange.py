"""Layers that only rearrange numbers: RepeatVector and Permute (Keras' reshaping layers).

Neither has weights; each forward is an index map, so each backward is its adjoint:

    RepeatVector(n):  y[b, k, d] = x[b, d]   for k = 0 … n−1      dx[b, d] = Σ_k dy[b, k, d]
    Permute(dims):    y = transpose(x, (0, *dims))                dx = transpose(dy, p⁻¹)

RepeatVector turns one vector into a sequence, e.g. an encoding fed to a decoder RNN at every
time step; Permute swaps axes, e.g. (N, T, D) → (N, D, T) to run an RNN or a Conv1D over the
features instead of time.
"""

from __future__ import annotations

import numpy as np

from ..typing import Array, Shape
from .base import Layer

__all__ = ["RepeatVector", "Permute", "repeat_vector_forward", "repeat_vector_backward",
           "permute_forward", "permute_backward"]


def repeat_vector_forward(x: Array, n: int) -> Array:
    """y[b, k, :] = x[b, :] for every k < n.  Shapes: (N, D) → (N, n, D)."""
    return np.repeat(x[:, None, :], n, axis=1)


def repeat_vector_backward(dy: Array) -> Array:
    """dx[b, d] = Σ_k dy[b, k, d]: every copy sends its cotangent back to the one x.
    Shapes: (N, n, D) → (N, D)."""
    return dy.sum(axis=1)


def permute_forward(x: Array, dims: tuple[int, ...]) -> Array:
    """y = transpose(x, (0, *dims)): output axis i + 1 is input axis dims[i]."""
    return np.ascontiguousarray(np.transpose(x, (0, *dims)))


def permute_backward(dy: Array, dims: tuple[int, ...]) -> Array:
    """The inverse permutation p⁻¹ = argsort((0, *dims)) puts every axis back."""
    return np.ascontiguousarray(np.transpose(dy, np.argsort((0, *dims))))


def _incompatible(layer: Layer, expected_ndim: int, shape) -> ValueError:
    return ValueError(
        f"Input 0 of layer {layer.name!r} ({type(layer).__name__}) is incompatible with the "
        f"layer: expected ndim={expected_ndim}, found ndim={len(shape)}. Full shape "
        f"received: {tuple(shape)}"
    )


class RepeatVector(Layer):
    """Repeats a vector n times along a new time axis: `y[b, k] = x[b]`.

    Math:
        y[b, k, d] = x[b, d] (k = 0 … n−1);   dx[b, d] = Σ_k dy[b, k, d]

    Args:
        n: the number of repetitions, a positive int.

    Shapes:
        input (N, D) → output (N, n, D). No weights.

    Raises:
        TypeError: `n` not an int.  ValueError: `n` ≤ 0, or input not of rank 2.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise TypeError(f"Expected an integer value for `n`. Received: n={n!r} "
                            f"(of type {type(n).__name__})")
        if n <= 0:
            raise ValueError(f"Argument `n` should be a positive integer. Received: n={n}")
        self.n = int(n)

    def _check_shape(self, shape) -> None:
        if len(shape) != 2:
            raise _incompatible(self, 2, shape)

    def build(self, input_shape: Shape) -> None:
        self._check_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._check_shape(input_shape)
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_shape(x.shape)
        y = repeat_vector_forward(x, self.n)
        self._cache = y.shape
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        return repeat_vector_backward(self._check_dy(dy, self._require_cache()))

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n}

    def _casts_ints(self) -> bool:
        return False  # moves numbers only: integer input stays integer, as in Keras


class Permute(Layer):
    """Permutes the non-batch axes: `y = transpose(x, (0, *dims))`.

    Math:
        y[b, i₁, …, i_r] with y's axis k + 1 = x's axis dims[k];  dx = transpose(dy, p⁻¹),
        p = (0, *dims)

    Args:
        dims: a permutation of 1 … r (the batch axis 0 never moves), e.g. (2, 1) swaps the
            two axes of an (N, T, D) input into (N, D, T).

    Shapes:
        input (N, d₁, …, d_r) → output (N, d_dims[0], …, d_dims[r−1]). No weights.

    Raises:
        ValueError: `dims` not a permutation of 1 … r, or an input not of rank r + 1.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(dims)
            valid = sorted(dims) == list(range(1, len(dims) + 1))
        except TypeError:
            valid = False
        if not valid:
            raise ValueError(
                "Invalid permutation argument `dims` for Permute Layer. The set of indices "
                f"in `dims` must be consecutive and start from 1. Received dims={dims!r}"
            )
        self.dims = tuple(int(d) for d in dims)

    def _check_shape(self, shape) -> None:
        if len(shape) != len(self.dims) + 1:
            raise _incompatible(self, len(self.dims) + 1, shape)

    def build(self, input_shape: Shape) -> None:
        self._check_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._check_shape(input_shape)
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_shape(x.shape)
        y = permute_forward(x, self.dims)
        self._cache = y.shape
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        return permute_backward(self._check_dy(dy, self._require_cache()), self.dims)

    def get_config(self) -> dict:
        return {**super().get_config(), "dims": self.dims}

    def _casts_ints(self) -> bool:
        return False
