"""`keras.random` in NumPy: seeds, seed generators and the stateless draws, with Keras' bits.

How Keras 3 (TensorFlow backend) makes its random numbers, and so does scratch:

* A seed is an int, or a `SeedGenerator` whose state (s, k) gives the seed pair (s, k) and
  then becomes (s, k + 1): the k-th draw of a layer's generator uses the pair (s, k).
  An int seed s gives the pair (s, 0) on every draw, so the same numbers every time.
* Where no seed is given, one is drawn from Python's `random` when the object is made:
  `random.randint(1, 10⁹)` (`make_default_seed`). Keras does this for every random
  initializer and every SeedGenerator (Dropout layers, RNN cells), in construction order, so
  after `set_random_seed(s)` both engines draw the same seeds for the same model code.
* The pair is reduced modulo 2³¹ − 2 (TensorFlow's stateless ops take int32 seeds) and goes
  to the Philox-4x32-10 generator (`philox.py`), which gives the numbers.

    >>> from scratch import random
    >>> random.uniform((2, 3), seed=7)            # the same as keras.random.uniform
    >>> gen = random.SeedGenerator(42)
    >>> random.normal((4,), seed=gen)             # pair (42, 0); the next call (42, 1)
"""

from __future__ import annotations

import functools
import random as python_random

import numpy as np

from .. import backend
from . import philox

__all__ = ["SeedGenerator", "make_default_seed", "draw_seed", "uniform", "normal",
           "truncated_normal", "dropout", "dropout_keep_mask", "reset_global_seed_generator",
           "fit_shuffle_order", "set_random_seed", "forget_global_seed_generator"]

# TensorFlow's stateless ops take int32 seeds: Keras reduces its int64 pairs modulo this.
_INT32_SEED_MODULUS = 2**31 - 2


def set_random_seed(seed: int) -> None:
    """Seed every random source scratch uses, as `keras.utils.set_random_seed` does.

    Seeds Python's `random` (from which unseeded initializers, Dropout layers and RNN cells
    draw their seeds when they are made) and NumPy's legacy global state (`np.random.seed`:
    ImageDataGenerator), keeps the seed as TensorFlow's global seed (fit's shuffling) and
    forgets the global SeedGenerator.

    Raises:
        ValueError: if `seed` is not an int.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(
            f"Expected `seed` argument to be an integer. Received: seed={seed!r} "
            f"(of type {type(seed).__name__})"
        )
    seed = int(seed)
    python_random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (the legacy global state, as Keras)
    reset_global_seed_generator(seed)


def make_default_seed() -> int:
    """A fresh seed from Python's `random` module, in Keras' range [1, 10⁹]."""
    return python_random.randint(1, int(1e9))


class SeedGenerator:
    """A seed that moves on with every draw (`keras.random.SeedGenerator`).

    Args:
        seed: an int, or None to draw one now with `make_default_seed`.

    The state is the pair (seed, k), starting at (seed, 0); `next()` returns it and adds 1 to
    k. Dropout layers and RNN cells own one: their k-th mask uses the pair (seed, k).
    """

    def __init__(self, seed=None) -> None:
        self._initial_seed = seed
        if seed is None:
            seed = make_default_seed()
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed!r}")
        self.state = (int(seed), 0)

    def next(self, ordered: bool = True) -> tuple[int, int]:
        """The current pair; then (s, k) → (s, k + 1), or, unordered (Keras' global
        generator), each element x → (x + 1)·5387 mod 933199."""
        pair = self.state
        if ordered:
            self.state = (pair[0], pair[1] + 1)
        else:
            self.state = tuple((x + 1) * 5387 % 933199 for x in pair)
        return pair

    def get_config(self) -> dict:
        return {"seed": self._initial_seed}


_GLOBAL_SEED_GENERATOR: SeedGenerator | None = None


def reset_global_seed_generator(seed: int | None = None) -> None:
    """Forget the global generator (what `set_random_seed` does, as in Keras) and remember
    the global seed (TensorFlow's `tf.random.set_seed`) for fit's shuffling."""
    global _GLOBAL_SEED
    forget_global_seed_generator()
    _GLOBAL_SEED = seed


def forget_global_seed_generator() -> None:
    """Drop the global generator of the unseeded draws (`keras.backend.clear_session()`
    does this, and keeps TensorFlow's global seed): the next draw makes a new one, seeded
    from Python's `random`."""
    global _GLOBAL_SEED_GENERATOR
    _GLOBAL_SEED_GENERATOR = None


# TensorFlow's global seed, as `tf.random.set_seed` keeps it (None: never set).
_GLOBAL_SEED: int | None = None
_MAXINT32 = 2**31 - 1
# Without a global seed, fit shuffles with this generator (as TF: a different order each run).
_UNSEEDED_SHUFFLES = np.random.default_rng()


def fit_shuffle_order(n: int) -> np.ndarray:
    """The order in which `fit(shuffle=True)` visits n samples in an epoch, as tf.keras.

    tf.keras shuffles with TensorFlow's RandomShuffle op inside its tf.data pipeline, a new
    pipeline each epoch. After `set_random_seed(s)` the op's seeds are (s, 0) (the first
    random op of a graph gets op seed 0; (0, 0) becomes (0, 2³¹ − 1)), so every epoch visits
    the samples in the same order, `philox.random_shuffle(n, s, 0)`. Without a global seed
    the order is random, a new one each epoch.
    """
    if _GLOBAL_SEED is None:
        return _UNSEEDED_SHUFFLES.permutation(n)
    seeds = (_GLOBAL_SEED % _MAXINT32, 0)
    if seeds == (0, 0):
        seeds = (0, _MAXINT32)
    return _seeded_order(n, *seeds).copy()


@functools.lru_cache(maxsize=8)
def _seeded_order(n: int, seed: int, seed2: int) -> np.ndarray:
    return philox.random_shuffle(n, seed, seed2)


def draw_seed(seed) -> tuple[int, int]:
    """The stateless seed pair for an int, a SeedGenerator, or None (Keras' global
    generator, made on first use from Python's `random`)."""
    global _GLOBAL_SEED_GENERATOR
    if isinstance(seed, SeedGenerator):
        pair = seed.next()
    elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        pair = (int(seed), 0)
    elif seed is None:
        if _GLOBAL_SEED_GENERATOR is None:
            _GLOBAL_SEED_GENERATOR = SeedGenerator()
        pair = _GLOBAL_SEED_GENERATOR.next(ordered=False)
    else:
        raise ValueError("Argument `seed` must be either an integer or an instance of "
                         f"`SeedGenerator`. Received: seed={seed!r}")
    return (pair[0] % _INT32_SEED_MODULUS, pair[1] % _INT32_SEED_MODULUS)


def _dtype(dtype) -> np.dtype:
    return np.dtype(backend.standardize_dtype(dtype))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> np.ndarray:
    """U[minval, maxval): u·(maxval − minval) + minval with u from Philox, in `dtype` (Keras
    casts the limits with tf.cast, so in float64 they pass through float32)."""
    dtype = _dtype(dtype)
    u = philox.uniform(shape, draw_seed(seed), dtype)
    low, high = backend.keras_cast(minval, dtype), backend.keras_cast(maxval, dtype)
    return u * (high - low) + low


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> np.ndarray:
    """N(mean, stddev²): z·stddev + mean with z from Philox and Box–Muller, in `dtype`."""
    dtype = _dtype(dtype)
    z = philox.normal(shape, draw_seed(seed), dtype)
    return z * dtype.type(stddev) + dtype.type(mean)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> np.ndarray:
    """N(mean, stddev²) cut at two standard deviations (redrawn, not clipped)."""
    dtype = _dtype(dtype)
    z = philox.truncated_normal(shape, draw_seed(seed), dtype)
    return z * dtype.type(stddev) + dtype.type(mean)


def dropout_keep_mask(shape, rate: float, dtype, seed) -> np.ndarray:
    """Which entries `dropout` keeps: u ≥ rate, u ~ U[0, 1) from the seed (bool array)."""
    dtype = _dtype(dtype)
    return philox.uniform(shape, draw_seed(seed), dtype) >= dtype.type(rate)


def dropout(inputs: np.ndarray, rate: float, noise_shape=None, seed=None) -> np.ndarray:
    """Inverted dropout as TensorFlow's stateless_dropout: keep = u ≥ rate, then
    y = keep ? x·(1/(1 − rate)) : 0 (the scale rounded once to x's dtype)."""
    x = np.asarray(inputs)
    if rate == 1.0:
        return np.zeros_like(x)
    if rate == 0.0:
        return x
    shape = x.shape if noise_shape is None else tuple(
        x.shape[i] if d is None else d for i, d in enumerate(noise_shape))
    keep = dropout_keep_mask(shape, rate, x.dtype, seed)
    scale = x.dtype.type(1.0 / (1.0 - rate))
    return np.where(keep, x * scale, x.dtype.type(0))
