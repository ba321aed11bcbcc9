"""Adadelta (Zeiler, 2012), as `keras.optimizers.Adadelta`."""

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


class Adadelta(Optimizer):
    """Adadelta: per-element steps scaled by the ratio of two running RMS values.

    Math:
        ```
        rms(a) = √(a + ε)
        E[g²]  ← ρ·E[g²] + (1 − ρ)·g²
        Δw     = −(rms(E[Δw²])·g) / rms(E[g²])      (the new E[g²])
        E[Δw²] ← ρ·E[Δw²] + (1 − ρ)·Δw²
        w      ← w + lr·Δw
        ```
        The paper has no learning rate (lr = 1); Keras multiplies Δw by it (default 0.001,
        so Keras' Adadelta moves slowly unless lr is raised, e.g. to 1.0). ρ, 1 − ρ and ε are
        Python floats converted straight to the variable dtype.

    Args:
        learning_rate: float (default 0.001), a `LearningRateSchedule` or a callable.
        rho: decay of both running averages (default 0.95).
        epsilon: added inside both square roots (default 1e-7).
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: see `Optimizer`.

    Shapes:
        slots per variable (its shape/dtype): `accumulated_grad`, `accumulated_delta_var`
        (interleaved per variable).
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, **kwargs) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, **kwargs)
        cls = type(self).__name__
        _check_unit_interval(cls, "rho", rho)
        _check_non_negative(cls, "epsilon", epsilon)
        self.rho = rho
        self.epsilon = epsilon
        self._accumulated_grads: list[np.ndarray] = []
        self._accumulated_delta_vars: list[np.ndarray] = []

    def build(self, var_list, var_names=None) -> None:
        if self.built:
            return
        super().build(var_list, var_names)
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            var_list, ["accumulated_grad", "accumulated_delta_var"])

    def update_step(self, gradient, variable, learning_rate) -> None:
        dtype = variable.dtype
        lr = _keras_cast(learning_rate, dtype)
        rho = _keras_const(self.rho, dtype)
        one_minus_rho = _keras_const(1 - self.rho, dtype)
        epsilon = _keras_const(self.epsilon, dtype)
        i = self._var_index(variable)
        accumulated_grad = self._accumulated_grads[i]
        accumulated_delta_var = self._accumulated_delta_vars[i]

        def rms(a):
            return np.sqrt(a + epsilon)

        accumulated_grad[...] = rho * accumulated_grad + one_minus_rho * square(gradient)
        delta_var = -((rms(accumulated_delta_var) * gradient) / rms(accumulated_grad))
        accumulated_delta_var[...] = (rho * accumulated_delta_var
                                      + one_minus_rho * (delta_var * delta_var))
        variable += lr * delta_var

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
