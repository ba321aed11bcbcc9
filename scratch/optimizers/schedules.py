"""Learning-rate schedules (`keras.optimizers.schedules`), evaluated at the 0-based step.

An optimizer whose `learning_rate` is a schedule calls ``schedule(iterations)`` before each
step, where `iterations` counts the steps already applied (0 for the first one).

Precision: Keras converts a Python-float `initial_learning_rate` to a **float32** tensor
whatever `floatx()` is, and casts the other Python floats through float32 as well, so every
schedule here computes in float32 (or in the dtype of a NumPy `initial_learning_rate`) with
Keras' operation order. The result is a NumPy scalar; the optimizer casts it to each
variable's dtype. Powers and the cosine come from `scalar_math` (the C library's powf/cosf,
as TensorFlow computes a one-element tf.pow/tf.cos), never from NumPy's CPU-dependent SIMD
routines, so every schedule is bit-identical to Keras in float32 on every CPU.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend, scalar_math

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay",
           "InverseTimeDecay", "PolynomialDecay", "CosineDecay", "serialize",
           "deserialize", "get"]


def _tensor_dtype(value) -> np.dtype:
    """dtype of `ops.convert_to_tensor(value)`: float32 for Python numbers."""
    if isinstance(value, (np.ndarray, np.generic)) and np.asarray(value).dtype.kind == "f":
        return np.asarray(value).dtype
    return np.dtype(np.float32)


def _initial(value, dtype: np.dtype) -> np.floating:
    """`ops.convert_to_tensor(value)`: a Python number rounds straight to `dtype`."""
    return np.asarray(value, dtype=dtype)[()]


# `ops.cast(python_value, dtype)`: a Python float goes through float32 first.
_cast = backend.keras_cast


def _check_decay_steps(decay_steps) -> None:
    if decay_steps <= 0:
        raise ValueError(
            f"Argument `decay_steps` must be > 0. Received: decay_steps={decay_steps}"
        )


class LearningRateSchedule:
    """Base class: ``schedule(step) -> learning rate`` plus Keras' config protocol."""

    def __call__(self, step) -> np.floating:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override "
            "`__call__(self, step)`."
        )

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` "
            "in order to be serializable."
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _StepDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments, config, and the
    progress p = step / decay_steps (floored when staircase), in the rate's dtype."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None) -> None:
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name if name is not None else type(self).__name__
        _check_decay_steps(decay_steps)

    def _terms(self, step):
        """(dtype, initial rate, decay rate, p) for `step`, cast as Keras casts them."""
        dtype = _tensor_dtype(self.initial_learning_rate)
        initial = _initial(self.initial_learning_rate, dtype)
        p = dtype.type(step) / _cast(self.decay_steps, dtype)
        if self.staircase:
            p = np.floor(p)
        return dtype, initial, _cast(self.decay_rate, dtype), p

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_StepDecay):
    """Exponential decay of the learning rate.

    Math:
        ```
        p = step / decay_steps            (floor(p) if staircase)
        lr(step) = initial_learning_rate · decay_rate^p
        ```
    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: positive number of steps per factor of `decay_rate`.
        decay_rate: the decay base.
        staircase: decay in discrete jumps every `decay_steps` steps.
        name: Keras' name attribute (kept for the config).
    Shapes:
        step: a scalar int; returns a 0-d float32 NumPy scalar.
    Raises:
        ValueError: if decay_steps <= 0.
    """

    def __call__(self, step) -> np.floating:
        dtype, initial, decay_rate, p = self._terms(step)
        return initial * scalar_math.pow(decay_rate, p)


class InverseTimeDecay(_StepDecay):
    """Inverse-time decay.

    Math:
        ```
        p = step / decay_steps            (floor(p) if staircase)
        lr(step) = initial_learning_rate / (1 + decay_rate·p)
        ```
    Args:
        initial_learning_rate, decay_steps, decay_rate, staircase, name: as in Keras.
    Shapes:
        step: a scalar int; returns a 0-d float32 NumPy scalar.
    Raises:
        ValueError: if decay_steps <= 0.
    """

    def __call__(self, step) -> np.floating:
        dtype, initial, decay_rate, p = self._terms(step)
        return initial / (dtype.type(1) + decay_rate * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """Piecewise-constant rate.

    Math:
        ```
        lr(step) = values[0]    if step <= boundaries[0]
                   values[i]    if boundaries[i-1] < step <= boundaries[i]
                   values[-1]   if step > boundaries[-1]
        ```
    Args:
        boundaries: increasing step boundaries.
        values: one more value than boundaries.
        name: Keras' name attribute.
    Shapes:
        step: a scalar int; returns a 0-d float32 NumPy scalar.
    Raises:
        ValueError: if len(values) != len(boundaries) + 1.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant") -> None:
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}."
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step) -> np.floating:
        dtype = _tensor_dtype(self.values[0])
        values = [dtype.type(v) for v in self.values]
        bounds = [int(b) for b in self.boundaries]  # cast to the step's int dtype
        result = dtype.type(0)
        result += dtype.type(step <= bounds[0]) * values[0]
        result += dtype.type(step > bounds[-1]) * values[-1]
        for low, high, value in zip(bounds[:-1], bounds[1:], values[1:-1], strict=True):
            result += dtype.type(low < step <= high) * value
        return result

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay from `initial_learning_rate` to `end_learning_rate`.

    Math:
        ```
        cycle=False:  s = min(step, decay_steps);  D = decay_steps
        cycle=True:   s = step;  D = decay_steps · (1 if step == 0 else ceil(step/decay_steps))
        lr(step) = (initial − end) · (1 − s/D)^power + end
        ```
    Args:
        initial_learning_rate, decay_steps, end_learning_rate=1e-4, power=1.0,
        cycle=False, name: as in Keras.
    Shapes:
        step: a scalar int; returns a 0-d float32 NumPy scalar.
    Raises:
        ValueError: if decay_steps <= 0.
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001,
                 power=1.0, cycle=False, name="PolynomialDecay") -> None:
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name
        _check_decay_steps(decay_steps)

    def __call__(self, step) -> np.floating:
        dtype = _tensor_dtype(self.initial_learning_rate)
        initial = _initial(self.initial_learning_rate, dtype)
        end = _cast(self.end_learning_rate, dtype)
        power = _cast(self.power, dtype)
        s = dtype.type(step)
        decay_steps = _cast(self.decay_steps, dtype)
        if self.cycle:
            multiplier = dtype.type(1.0) if s == 0 else np.ceil(
                s / dtype.type(self.decay_steps))
            decay_steps = decay_steps * multiplier
        else:
            s = np.minimum(s, decay_steps)
        p = s / decay_steps
        return (initial - end) * scalar_math.pow(dtype.type(1) - p, power) + end

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay, with an optional linear warmup.

    Math:
        ```
        decay(s, D, lr0) = lr0 · ((1 − α)·½(1 + cos(π·s/D)) + α)
        no warmup:  lr(step) = decay(min(step, D), D, initial)
        warmup:     s = min(step, D + W)
                    lr = (target − initial)·(s/W) + initial     if s < W
                    lr = decay(s − W, D, target)                 otherwise
        ```
    Args:
        initial_learning_rate, decay_steps, alpha=0.0, name, warmup_target=None,
        warmup_steps=0: as in Keras.
    Shapes:
        step: a scalar int; returns a 0-d float32 NumPy scalar.
    Raises:
        ValueError: if decay_steps <= 0.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0) -> None:
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target
        _check_decay_steps(decay_steps)

    def _decay(self, s, decay_steps, decay_from_lr, dtype):
        completed = s / decay_steps
        pi = dtype.type(math.pi)
        cosine = dtype.type(0.5) * (dtype.type(1.0) + scalar_math.cos(pi * completed))
        decayed = dtype.type(1 - self.alpha) * cosine + dtype.type(self.alpha)
        return decay_from_lr * decayed

    def __call__(self, step) -> np.floating:
        dtype = _tensor_dtype(self.initial_learning_rate)
        initial = _initial(self.initial_learning_rate, dtype)
        decay_steps = _cast(self.decay_steps, dtype)
        s = dtype.type(step)
        if self.warmup_target is None:
            return self._decay(np.minimum(s, decay_steps), decay_steps, initial, dtype)
        target = _cast(self.warmup_target, dtype)
        warmup_steps = _cast(self.warmup_steps, dtype)
        s = np.minimum(s, decay_steps + warmup_steps)
        if s < warmup_steps:
            return (target - initial) * (s / warmup_steps) + initial
        return self._decay(s - warmup_steps, decay_steps, target, dtype)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


ALL_OBJECTS = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay,
                                             InverseTimeDecay, PolynomialDecay, CosineDecay)}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """Keras 3's serialized form: {"module", "class_name", "config", "registered_name"}."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(
            f"serialize expects a LearningRateSchedule. Received: schedule={schedule!r}"
        )
    return {"module": "keras.optimizers.schedules", "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """Inverse of `serialize` (also accepts {"class_name": ..., "config": ...})."""
    if not isinstance(config, dict) or config.get("class_name") not in ALL_OBJECTS:
        name = config.get("class_name") if isinstance(config, dict) else config
        raise ValueError(
            f"Could not interpret learning rate schedule identifier: {name!r}. "
            f"Known: {sorted(ALL_OBJECTS)}"
        )
    return ALL_OBJECTS[config["class_name"]].from_config(dict(config.get("config") or {}))


def get(identifier):
    """A schedule from an instance or a serialized dict (None -> None)."""
    if identifier is None or isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(
        f"Could not interpret learning rate schedule identifier: {identifier!r}"
    )
