"""RMSprop (Hinton), optionally centered and with momentum, as `keras.optimizers.RMSprop`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import (
    Optimizer,
    _check_non_negative,
    _check_unit_interval,
    _keras_cast,
    _keras_const,
    square,
)


class RMSprop(Optimizer):
    """RMSprop with ε inside the square root.

    Math:
        ```
        v ← ρ·v + (1 − ρ)·(g·g)
        centered:  ḡ ← ρ·ḡ + (1 − ρ)·g;   den = (v − ḡ·ḡ) + ε
        otherwise: den = v + ε
        inc = (lr·g) / √den                       (ε inside the sqrt, unlike Adam)
        momentum μ > 0:  mom ← μ·mom + inc;  w ← w − mom
        otherwise:       w ← w − inc
        ```
        ρ, 1 − ρ (computed in double), μ and ε are converted directly to the variable dtype.

    Args:
        learning_rate: float (default 0.001), a `LearningRateSchedule` or a callable.
        rho: decay of the squared-gradient average (default 0.9).
        momentum: heavy-ball momentum on the increment (default 0.0).
        epsilon: added inside the square root (default 1e-7).
        centered: divide by the estimated variance instead of the raw second moment.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: see `Optimizer`.

    Shapes:
        slots (the variable's shape/dtype): `velocity` for every variable, then `momentum`
        for every variable (if momentum > 0), then `average_gradient` (if centered).
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, **kwargs) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, **kwargs)
        cls = type(self).__name__
        _check_unit_interval(cls, "rho", rho)
        _check_non_negative(cls, "momentum", momentum)
        _check_non_negative(cls, "epsilon", epsilon)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered
        self._velocities: list[np.ndarray] = []
        self._momentums: list[np.ndarray] = []
        self._average_gradients: list[np.ndarray] = []

    def build(self, var_list, var_names=None) -> None:
        if self.built:
            return
        super().build(var_list, var_names)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(var_list,
                                                                   "average_gradient")

    def update_step(self, gradient, variable, learning_rate) -> None:
        dtype = variable.dtype
        lr = _keras_cast(learning_rate, dtype)
        g = gradient
        i = self._var_index(variable)
        velocity = self._velocities[i]
        rho = _keras_const(self.rho, dtype)
        one_minus_rho = _keras_const(1 - self.rho, dtype)
        eps = _keras_const(self.epsilon, dtype)
        velocity[...] = rho * velocity + one_minus_rho * square(g)
        if self.centered:
            average_grad = self._average_gradients[i]
            average_grad[...] = rho * average_grad + one_minus_rho * g
            denominator = velocity - average_grad * average_grad + eps
        else:
            denominator = velocity + eps
        increment = (lr * g) / np.sqrt(denominator)
        if self.momentum > 0:
            momentum = self._momentums[i]
            momentum[...] = _keras_const(self.momentum, dtype) * momentum + increment
            variable -= momentum
        else:
            variable -= increment

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}
