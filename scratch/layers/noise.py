"""Noise layers: GaussianNoise and GaussianDropout (regularization at training time only).

Both draw their noise ε from the layer's `SeedGenerator` with `scratch.random.normal`, the
same Philox stream and Box–Muller transform as Keras' `keras.random.normal` on TensorFlow, so
with the same seed (an int, or unseeded after `set_random_seed`) the k-th training call adds
or multiplies the same numbers as tf.keras' (docs/RANDOMNESS.md):

    GaussianNoise(σ):       ε ~ N(0, σ²)                 y = x + ε        dx = dy
    GaussianDropout(rate):  ε ~ N(1, rate / (1 − rate))  y = x ⊙ ε        dx = dy ⊙ ε

ε has the input's shape and dtype (z·σ + μ with z from the generator, σ and μ rounded to the
dtype once). At inference (`training=False`) both are the identity and draw nothing.
GaussianDropout is dropout's multiplicative noise with the same mean and variance as
inverted Bernoulli dropout of the same rate (Srivastava et al. 2014, section 10), without zeros.
"""

from __future__ import annotations

import math

import numpy as np

from .. import random
from ..typing import Array
from .base import Layer

__all__ = ["GaussianNoise", "GaussianDropout"]


def _fraction(value, name: str) -> float:
    """A float in [0, 1] (Keras' check of `stddev` and `rate`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not 0 <= value <= 1:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a float value between 0 "
            f"and 1. Received: {name}={value!r}"
        )
    return float(value)


class _Noise(Layer):
    """What both noise layers share: a seed generator made in the constructor (as Keras),
    the identity at inference, and ε kept for backward."""

    supports_masking = True

    def __init__(self, amount: float, seed, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        # As Keras: only a layer that adds noise owns a SeedGenerator (an unseeded one draws
        # its seed from Python's `random` now); its k-th training call uses the pair (s, k).
        if amount > 0:
            self.seed_generator = random.SeedGenerator(seed)

    def _noise(self, x: Array) -> Array | None:
        raise NotImplementedError

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_float_input(x)
        noise = self._noise(x) if training else None
        self._cache = (x.shape, noise)
        return x if noise is None else self._apply(x, noise)

    def _apply(self, x: Array, noise: Array) -> Array:
        raise NotImplementedError

    def _apply_backward(self, dy: Array, noise: Array) -> Array:
        raise NotImplementedError

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        shape, noise = self._require_cache()
        dy = self._check_dy(dy, shape)
        return dy if noise is None else self._apply_backward(dy, noise)

    @property
    def noise(self) -> Array | None:
        """ε of the last call (None at inference)."""
        return None if self._cache is None else self._cache[1]


class GaussianNoise(_Noise):
    """Adds zero-centred Gaussian noise at training time: `y = x + ε`, ε ~ N(0, σ²).

    Math:
        ε = σ·z,  z ~ N(0, 1) from the layer's SeedGenerator (Keras' stream);  y = x + ε;
        dx = dy.  Inference: y = x.

    Args:
        stddev: σ, a float in [0, 1].
        seed: seeds the layer's generator; the k-th training call uses the pair (seed, k).

    Shapes: any (N, ...) → the same shape. No weights.
    """

    def __init__(self, stddev, seed=None, **kwargs):
        stddev = _fraction(stddev, "stddev")
        super().__init__(stddev, seed, **kwargs)
        self.stddev = stddev

    def _noise(self, x: Array) -> Array | None:
        if self.stddev == 0:
            return None
        return random.normal(x.shape, mean=0.0, stddev=self.stddev, dtype=x.dtype,
                             seed=self.seed_generator)

    def _apply(self, x: Array, noise: Array) -> Array:
        return x + noise

    def _apply_backward(self, dy: Array, noise: Array) -> Array:
        return dy

    def get_config(self) -> dict:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_Noise):
    """Multiplies by Gaussian noise of mean 1 at training time: `y = x ⊙ ε`.

    Math:
        ε = 1 + s·z,  s = √(rate / (1 − rate)),  z ~ N(0, 1) from the layer's SeedGenerator;
        y = x ⊙ ε;  dx = dy ⊙ ε.  Inference: y = x.

    Args:
        rate: a float in [0, 1), the drop probability of the Bernoulli dropout whose variance
            the noise matches (rate = 1 has no finite noise: a training call raises).
        seed: seeds the layer's generator; the k-th training call uses the pair (seed, k).

    Shapes: any (N, ...) → the same shape. No weights.
    """

    def __init__(self, rate, seed=None, **kwargs):
        rate = _fraction(rate, "rate")
        super().__init__(rate, seed, **kwargs)
        self.rate = rate

    def _noise(self, x: Array) -> Array | None:
        if self.rate == 0:
            return None
        if self.rate == 1:
            raise ValueError(
                f"GaussianDropout {self.name!r} with rate=1 has an infinite noise standard "
                "deviation √(rate / (1 − rate)): use a rate below 1. Received: rate=1.0"
            )
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        return random.normal(x.shape, mean=1.0, stddev=stddev, dtype=x.dtype,
                             seed=self.seed_generator)

    def _apply(self, x: Array, noise: Array) -> Array:
        return x * noise

    def _apply_backward(self, dy: Array, noise: Array) -> Array:
        return dy * noise

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
