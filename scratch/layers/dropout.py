"""Dropout (course Lecture 35): inverted dropout, as Keras does it.

Math (training only; identity at inference):
    keep = (u ≥ rate),  u ~ U[0, 1) from the layer's SeedGenerator (Keras' Philox stream)
    y = keep ? x / (1 − rate) : 0
    dx = keep ? dy / (1 − rate) : 0
"""

from __future__ import annotations

import numpy as np

from .. import backend, random
from .._kernels import load as load_kernels
from ..typing import Array
from .base import Layer


def dropout_forward(x: Array, rate: float, keep: Array) -> Array:
    """y for the keep mask (u ≥ rate, broadcastable to x: the noise shape)."""
    scale = np.asarray(1.0 / (1.0 - rate), dtype=x.dtype)
    return np.where(keep, x * scale, np.zeros((), x.dtype))


def dropout_backward(dy: Array, keep: Array, rate: float) -> Array:
    scale = np.asarray(1.0 / (1.0 - rate), dtype=dy.dtype)
    return np.where(keep, dy * scale, np.zeros((), dy.dtype))


def _masked_scale(v: Array, keep: Array, rate: float, owner) -> Array:
    """keep ? v·scale : 0 for the forward (v = x) and the backward (v = dy): the readable
    function above, or with fast paths on and a full-size mask the one-pass kernel
    `scratch._kernels.dropout.scaled_where` (the same numbers)."""
    if not (backend.use_fast_path(owner) and keep.shape == v.shape
            and v.dtype in backend.FLOAT_DTYPES):
        return dropout_forward(v, rate, keep)  # the same formula serves dy
    v = np.ascontiguousarray(v)
    out = np.empty_like(v)
    load_kernels("dropout").scaled_where(v.reshape(-1), np.ascontiguousarray(keep).reshape(-1),
                                         v.dtype.type(1.0 / (1.0 - rate)), out.reshape(-1))
    return out


class Dropout(Layer):
    """Randomly zeroes a fraction `rate` of the inputs at training time, scaling the rest.

    Args:
        rate: float in [0, 1], the fraction of inputs to drop.
        noise_shape: shape of the keep mask, broadcast against the input (None entries take
            the input's size), e.g. (None, 1, D) to drop whole features of a sequence.
        seed: seeds this layer's generator; the k-th training call draws the k-th mask.

    Shapes: any (N, ...) → same shape. No weights.
    """

    supports_masking = True
    # Keras' Dropout.call takes no `mask`: a model hands it none when built, and the mask it
    # passes on is the one its input carries as it runs (docs/KERAS_NUMERICS.md §Attention).
    keras_call_takes_mask = False

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)) \
                or not 0 <= rate <= 1:
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a float value between "
                f"0 and 1. Received: rate={rate!r}"
            )
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        # As Keras: a layer that drops something owns a SeedGenerator (an unseeded one draws
        # its seed from Python's `random` now); its k-th training call uses the pair (s, k).
        if self.rate > 0:
            self.seed_generator = random.SeedGenerator(seed)

    def _mask_shape(self, x_shape) -> tuple:
        if self.noise_shape is None:
            return tuple(x_shape)
        return tuple(x_shape[i] if d is None else d for i, d in enumerate(self.noise_shape))

    def forward(self, x: Array, training: bool = False, mask=None) -> Array:
        self._check_float_input(x)
        if not training or self.rate == 0.0:
            self._cache = ("identity", None)
            return x
        if self.rate == 1.0:
            self._cache = ("zeros", None)
            return np.zeros_like(x)
        keep = random.dropout_keep_mask(self._mask_shape(x.shape), self.rate, x.dtype,
                                        seed=self.seed_generator)
        y = _masked_scale(x, keep, self.rate, self)
        self._cache = ("dropout", keep)
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        mode, keep = self._require_cache()
        dy = np.asarray(dy)
        if mode == "identity":
            return dy
        if mode == "zeros":
            return np.zeros_like(dy)
        return _masked_scale(dy, keep, self.rate, self)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}
