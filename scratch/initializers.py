"""Keras initializers in NumPy: the same names, defaults, configs and fan arithmetic.

Usage mirrors `keras.initializers`::

    init = initializers.get("glorot_uniform")
    kernel = init((784, 128), dtype="float32")

Randomness, as in Keras 3 on TensorFlow (`scratch.random` has the details):

* Every random initializer owns a seed. ``seed=<int>`` fixes it; ``seed=None`` draws one
  with Python's ``random.randint(1, 10⁹)`` **when the initializer is constructed**, which is
  when a layer is created (a layer resolves its initializers in its constructor, in Keras'
  order). The values then come from TensorFlow's stateless Philox streams for the pair
  (seed, 0), so an initializer returns identical values on every call. A
  `scratch.random.SeedGenerator` passed as ``seed`` gives new values on every call.
* `set_random_seed(s)` seeds Python `random` and NumPy's legacy global state and resets the
  global SeedGenerator, as `keras.utils.set_random_seed` does: the same model code after the
  same seed gives tf.keras' initial weights, bit for bit (Orthogonal: to the last bits of
  the QR decomposition, which LAPACK and Eigen round differently).

Fans (`compute_fans`, Keras' rule):

    rank 0:          fan_in = fan_out = 1
    rank 1 (a,):     fan_in = fan_out = a
    rank 2 (a, b):   fan_in = a, fan_out = b
    rank ≥ 3 (..., c_in, c_out):  R = Π shape[:-2];  fan_in = c_in·R, fan_out = c_out·R

The module is over the project's 500 lines because it holds one class per Keras initializer,
each with Keras' config and argument checks, as `keras.initializers` is one namespace.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import backend, random
from .random import SeedGenerator, make_default_seed, set_random_seed  # noqa: F401
from .typing import Array
from .utils.naming import to_snake_case

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "Identity", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal",
    "HeUniform", "LecunNormal", "LecunUniform", "Orthogonal", "compute_fans", "get",
    "serialize", "deserialize", "set_random_seed", "make_default_seed",
]

# Truncating N(0, 1) at ±2 leaves a distribution with this standard deviation; Keras divides
# the target std by it so that the truncated draw has the requested std.
TRUNCATION_STD = 0.87962566103423978

# ----------------------------------------------------------------------------- helpers
def _check_shape(shape) -> tuple[int, ...]:
    try:
        out = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"Initializers expect a fully defined shape (a tuple of non-negative ints). "
            f"Received: shape={shape!r}"
        ) from None
    if any(d < 0 for d in out):
        raise ValueError(
            f"Initializers expect a fully defined shape (a tuple of non-negative ints). "
            f"Received: shape={shape!r}"
        )
    return out


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """Number of input and output units of a weight shape (Keras' `compute_fans`).

    Math:
        ```
        (a,)              -> (a, a)
        (a, b)            -> (a, b)
        (k..., c_in, c_out) -> (c_in·R, c_out·R),  R = Π k
        ```
        With explicit `input_axes` and `output_axes`, the fans are the products of those axes.

    Shapes:
        shape: any rank; (3, 3, 4, 8) -> (36, 72), (5, 4, 6) -> (20, 30).
    """
    shape = tuple(shape)
    if input_axes is not None and output_axes is not None:
        fan_in = math.prod(shape[a] for a in input_axes)
        fan_out = math.prod(shape[a] for a in output_axes)
        return int(fan_in), int(fan_out)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive_field = math.prod(shape[:-2])
    return int(shape[-2] * receptive_field), int(shape[-1] * receptive_field)


# ----------------------------------------------------------------------------- base classes
class Initializer:
    """Base class: `init(shape, dtype=None) -> np.ndarray` plus Keras' config protocol."""

    def __call__(self, shape, dtype=None) -> Array:
        raise NotImplementedError(
            "Initializer subclasses must implement the `__call__()` method."
        )

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class RandomInitializer(Initializer):
    """Base of the random initializers: owns the seed (see the module docstring).

    Args:
        seed: an int (the same values on every call), None (an int seed is drawn from
            Python's `random` now, as Keras does) or a `scratch.random.SeedGenerator` (new
            values on every call).
    """

    def __init__(self, seed=None) -> None:
        self._init_seed = seed
        if seed is None:
            seed = make_default_seed()
        elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer, SeedGenerator)):
            raise ValueError(
                "`seed` argument should be an instance of `scratch.random.SeedGenerator()` "
                f"or an integer. Received: seed={seed!r}"
            )
        self.seed = seed if isinstance(seed, SeedGenerator) else int(seed)

    def get_config(self) -> dict[str, Any]:
        seed = self._init_seed
        return {"seed": None if isinstance(seed, SeedGenerator) else seed}


def _float_dtype(dtype) -> np.dtype:
    return np.dtype(backend.standardize_dtype(dtype))




# ----------------------------------------------------------------------------- constants
class Zeros(Initializer):
    """All zeros.

    Math:
        ```
        w = 0
        ```
    Shapes:
        any shape.
    """

    def __call__(self, shape, dtype=None) -> Array:
        return np.zeros(_check_shape(shape), dtype=_any_dtype(dtype))


class Ones(Initializer):
    """All ones.

    Math:
        ```
        w = 1
        ```
    Shapes:
        any shape.
    """

    def __call__(self, shape, dtype=None) -> Array:
        return np.ones(_check_shape(shape), dtype=_any_dtype(dtype))


class Constant(Initializer):
    """A constant scalar.

    Math:
        ```
        w = value
        ```
    Args:
        value: a Python scalar.
    Shapes:
        any shape.
    """

    def __init__(self, value=0.0) -> None:
        if np.ndim(value) != 0:
            raise ValueError(
                f"Constant expects a scalar value. Received: value={value!r}"
            )
        self.value = value

    def __call__(self, shape, dtype=None) -> Array:
        dtype = _any_dtype(dtype)
        return np.full(_check_shape(shape), np.asarray(self.value).astype(dtype), dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value.item() if isinstance(self.value, np.generic) else self.value}


class Identity(Initializer):
    """The (rectangular) identity matrix times `gain`; 2-D shapes only.

    Math:
        ```
        w[i, j] = gain if i == j else 0
        ```
    Args:
        gain: multiplicative factor.
    Shapes:
        (rows, cols).
    Raises:
        ValueError: for shapes that are not 2-D.
    """

    def __init__(self, gain=1.0) -> None:
        self.gain = gain

    def __call__(self, shape, dtype=None) -> Array:
        shape = _check_shape(shape)
        if len(shape) != 2:
            raise ValueError(
                "Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        dtype = _float_dtype(dtype)
        return dtype.type(self.gain) * np.eye(*shape, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


def _any_dtype(dtype) -> np.dtype:
    """Constant initializers accept any NumPy dtype (default floatx)."""
    return np.dtype(backend.floatx() if dtype is None else dtype)


# ----------------------------------------------------------------------------- random
class RandomNormal(RandomInitializer):
    """Untruncated normal draws.

    Math:
        ```
        w ~ N(mean, stddev²)
        ```
    Args:
        mean: mean of the values (default 0).
        stddev: standard deviation (default **0.05**, Keras' default).
        seed: see `RandomInitializer`.
    Shapes:
        any shape.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None) -> None:
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> Array:
        return random.normal(_check_shape(shape), self.mean, self.stddev,
                             _float_dtype(dtype), seed=self.seed)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal draws truncated at two standard deviations (re-drawn outside).

    Math:
        ```
        w = mean + stddev·z,  z ~ N(0, 1) conditioned on |z| < 2
        ```
        The resulting standard deviation is 0.8796·stddev (no correction here; the
        VarianceScaling family divides by 0.8796 first).
    Args:
        mean: mean of the untruncated normal (default 0).
        stddev: std of the untruncated normal (default 0.05).
        seed: see `RandomInitializer`.
    Shapes:
        any shape.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None) -> None:
        self.mean = mean
        self.stddev = stddev
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> Array:
        return random.truncated_normal(_check_shape(shape), self.mean, self.stddev,
                                       _float_dtype(dtype), seed=self.seed)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomUniform(RandomInitializer):
    """Uniform draws in [minval, maxval).

    Math:
        ```
        w ~ U[minval, maxval)
        ```
    Args:
        minval: lower bound (default −0.05).
        maxval: upper bound (default 0.05).
        seed: see `RandomInitializer`.
    Shapes:
        any shape.
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None) -> None:
        self.minval = minval
        self.maxval = maxval
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> Array:
        return random.uniform(_check_shape(shape), self.minval, self.maxval,
                              _float_dtype(dtype), seed=self.seed)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(RandomInitializer):
    """Draws with a variance scaled by the weight's fans (base of Glorot/He/LeCun).

    Math:
        ```
        n = fan_in | fan_out | (fan_in + fan_out)/2      (mode)
        s = scale / max(1, n)
        uniform:             w ~ U(−√(3s), √(3s))
        truncated_normal:    w = σ_raw·z, |z| < 2, σ_raw = √s / 0.87962566103423978
        untruncated_normal:  w ~ N(0, s)
        ```
        so the final standard deviation is √s in all three cases.
    Args:
        scale: positive scaling factor (default 1.0).
        mode: "fan_in" (default), "fan_out" or "fan_avg".
        distribution: "truncated_normal" (default; "normal" is an alias),
            "untruncated_normal" or "uniform".
        seed: see `RandomInitializer`.
        input_axes / output_axes: optional axes whose product is fan_in / fan_out.
    Shapes:
        any shape; fans from `compute_fans`.
    Raises:
        ValueError: for a non-positive scale, unknown mode or distribution.
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None) -> None:
        if scale <= 0.0:
            raise ValueError(
                f"Argument `scale` must be positive float. Received: scale={scale}"
            )
        allowed_modes = ("fan_in", "fan_out", "fan_avg")
        if mode not in allowed_modes:
            raise ValueError(
                f"Invalid `mode` argument: {mode}. Please use one of {allowed_modes}"
            )
        distribution = str(distribution).lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        allowed = ("uniform", "truncated_normal", "untruncated_normal")
        if distribution not in allowed:
            raise ValueError(
                f"Invalid `distribution` argument: {distribution}. Please use one of {allowed}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed=seed)

    def scaled_variance(self, shape) -> float:
        """s = scale / max(1, n) for this shape (the target variance of the draws)."""
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out,
             "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        return self.scale / max(1.0, n)

    def __call__(self, shape, dtype=None) -> Array:
        shape = _check_shape(shape)
        dtype = _float_dtype(dtype)
        s = self.scaled_variance(shape)
        if self.distribution == "truncated_normal":
            return random.truncated_normal(shape, 0.0, math.sqrt(s) / TRUNCATION_STD, dtype,
                                           seed=self.seed)
        if self.distribution == "untruncated_normal":
            return random.normal(shape, 0.0, math.sqrt(s), dtype, seed=self.seed)
        limit = math.sqrt(3.0 * s)
        return random.uniform(shape, -limit, limit, dtype, seed=self.seed)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "mode": self.mode,
                "distribution": self.distribution, "input_axes": self.input_axes,
                "output_axes": self.output_axes}


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling with fixed (scale, mode, distribution); config is seed + axes."""

    _SCALE = 1.0
    _MODE = "fan_in"
    _DISTRIBUTION = "uniform"

    def __init__(self, seed=None, input_axes=None, output_axes=None) -> None:
        super().__init__(scale=self._SCALE, mode=self._MODE, distribution=self._DISTRIBUTION,
                         seed=seed, input_axes=input_axes, output_axes=output_axes)

    def get_config(self) -> dict[str, Any]:
        return {"seed": RandomInitializer.get_config(self)["seed"],
                "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: the default kernel initializer of Dense, Conv and RNNs.

    Math:
        ```
        w ~ U(−L, L),  L = √(6 / (fan_in + fan_out))
        ```
    Shapes:
        any shape; fans from `compute_fans`.
    """

    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_avg", "uniform"


class GlorotNormal(_FixedVarianceScaling):
    """Glorot (Xavier) normal, truncated.

    Math:
        ```
        w = σ_raw·z, |z| < 2,  σ_raw = √(2 / (fan_in + fan_out)) / 0.8796…
        ```
    Shapes:
        any shape; fans from `compute_fans`.
    """

    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_avg", "truncated_normal"


class HeNormal(_FixedVarianceScaling):
    """He normal, truncated.

    Math:
        ```
        w = σ_raw·z, |z| < 2,  σ_raw = √(2 / fan_in) / 0.8796…
        ```
    Shapes:
        any shape; fans from `compute_fans`.
    """

    _SCALE, _MODE, _DISTRIBUTION = 2.0, "fan_in", "truncated_normal"


class HeUniform(_FixedVarianceScaling):
    """He uniform.

    Math:
        ```
        w ~ U(−L, L),  L = √(6 / fan_in)
        ```
    Shapes:
        any shape; fans from `compute_fans`.
    """

    _SCALE, _MODE, _DISTRIBUTION = 2.0, "fan_in", "uniform"


class LecunNormal(_FixedVarianceScaling):
    """LeCun normal, truncated.

    Math:
        ```
        w = σ_raw·z, |z| < 2,  σ_raw = √(1 / fan_in) / 0.8796…
        ```
    Shapes:
        any shape; fans from `compute_fans`.
    """

    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_in", "truncated_normal"


class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform.

    Math:
        ```
        w ~ U(−L, L),  L = √(3 / fan_in)
        ```
    Shapes:
        any shape; fans from `compute_fans`.
    """

    _SCALE, _MODE, _DISTRIBUTION = 1.0, "fan_in", "uniform"


class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian matrix.

    Math:
        ```
        rows = Π shape[:-1], cols = shape[-1]
        A ~ N(0, 1) of shape (max(rows, cols), min(rows, cols))
        Q, R = qr(A);  Q ← Q·sign(diag R)
        if rows < cols: Q ← Qᵀ
        w = gain · reshape(Q, shape)
        ```
        rows ≥ cols gives orthonormal columns (QᵀQ = I); rows < cols gives orthonormal
        rows (QQᵀ = I), e.g. over the whole (M, 4M) recurrent kernel of an LSTM.
    Args:
        gain: multiplicative factor (default 1.0).
        seed: see `RandomInitializer`.
    Shapes:
        rank ≥ 2.
    Raises:
        ValueError: for shapes of rank < 2.
    """

    def __init__(self, gain=1.0, seed=None) -> None:
        self.gain = gain
        super().__init__(seed=seed)

    def __call__(self, shape, dtype=None) -> Array:
        shape = _check_shape(shape)
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        dtype = _float_dtype(dtype)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = random.normal((max(rows, cols), min(rows, cols)), dtype=dtype, seed=self.seed)
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return np.ascontiguousarray(dtype.type(self.gain) * q.reshape(shape), dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gain": self.gain}


# ----------------------------------------------------------------------------- lookup
_CLASSES = (Initializer, Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform,
            TruncatedNormal, VarianceScaling, GlorotUniform, GlorotNormal, HeNormal,
            HeUniform, LecunNormal, LecunUniform, Orthogonal)


ALL_OBJECTS: dict[str, type] = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS.update({to_snake_case(cls.__name__): cls for cls in _CLASSES})
ALL_OBJECTS.update({
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "one": Ones,
    "zero": Zeros,
})


def serialize(initializer: Initializer) -> dict[str, Any]:
    """Keras 3's serialized form: {"module", "class_name", "config", "registered_name"}."""
    if not isinstance(initializer, Initializer):
        raise TypeError(
            f"serialize expects a scratch Initializer. Received: initializer={initializer!r}"
        )
    return {"module": "keras.initializers", "class_name": type(initializer).__name__,
            "config": initializer.get_config(), "registered_name": None}


def deserialize(config: dict[str, Any]) -> Initializer:
    """Inverse of `serialize` (also accepts {"class_name": ..., "config": ...})."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"Could not interpret initializer identifier: {config!r}"
        )
    name = config["class_name"]
    cls = ALL_OBJECTS.get(name)
    if cls is None or cls is Initializer:
        raise ValueError(f"Could not interpret initializer identifier: {name!r}")
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier) -> Callable | None:
    """Resolve an initializer identifier (as `keras.initializers.get`).

    Args:
        identifier: None (-> None), a name ("glorot_uniform", "GlorotUniform", "zeros",
            "he_normal", "orthogonal", "identity", "random_normal", "truncated_normal",
            "normal", "uniform", ...; case-sensitive, as in Keras), a serialized dict, an
            `Initializer` class (instantiated with defaults) or instance, any callable
            `init(shape, dtype=None)`, or an array (returned as-is for its own shape).

    Raises:
        ValueError: for an unknown name or anything else.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = ALL_OBJECTS.get(identifier)
        if cls is None or cls is Initializer:
            raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
        return cls()
    if isinstance(identifier, (np.ndarray, np.generic)):
        value = np.asarray(identifier)

        def initialize_fn(shape, dtype=None):
            if tuple(shape) != value.shape:
                raise ValueError(
                    f"Expected `shape` to be {value.shape} for direct tensor as "
                    f"initializer. Received shape={tuple(shape)}"
                )
            return value.astype(_any_dtype(dtype))

        return initialize_fn
    if inspect.isclass(identifier) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
