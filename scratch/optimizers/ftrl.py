"""FTRL-Proximal (McMahan et al., 2013), as `keras.optimizers.Ftrl`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Optimizer, _keras_cast, _keras_const, square


class Ftrl(Optimizer):
    """Follow The Regularized Leader: per-element rates from the accumulated squared
    gradients, and a closed-form step that makes small weights exactly 0 (L1).

    Math:
        p = −learning_rate_power (0.5 by default); λ₁, λ₂ the regularization strengths
        ```
        λ₂' = λ₂ + β / (2·lr)
        g'  = g + 2·λ₂,shrinkage·w
        n'  = n + g·g                                  (accumulator, starts at 0.1)
        z   ← z + g' − ((n'ᵖ − nᵖ) / lr)·w             (linear)
        q   = n'ᵖ / lr + 2·λ₂'
        w   ← (clip(z, −λ₁, λ₁) − z) / q               (0 where |z| ≤ λ₁)
        n   ← n'
        ```
        Powers are elementwise (TensorFlow's vectorized pow, accurate to about 1 ulp, is
        not NumPy's): the one optimizer whose float32 updates are within the tolerance
        table rather than bit-identical to tf.keras.

    Args:
        learning_rate: float (default 0.001), a `LearningRateSchedule` or a callable.
        learning_rate_power: −p, ≤ 0 (default −0.5).
        initial_accumulator_value: n₀ ≥ 0 (default 0.1, cast through float32 as Keras'
            Constant initializer does).
        l1_regularization_strength, l2_regularization_strength,
        l2_shrinkage_regularization_strength: λ₁, λ₂, λ₂,shrinkage ≥ 0 (default 0).
        beta: β (default 0).
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: see `Optimizer`.

    Shapes:
        slots per variable (its shape/dtype): `accumulator`, `linear` (interleaved).
    """

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5,
                 initial_accumulator_value=0.1, l1_regularization_strength=0.0,
                 l2_regularization_strength=0.0, l2_shrinkage_regularization_strength=0.0,
                 beta=0.0, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, **kwargs) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, **kwargs)
        checks = [("initial_accumulator_value", initial_accumulator_value, "positive or zero"),
                  ("l1_regularization_strength", l1_regularization_strength,
                   "positive or zero"),
                  ("l2_regularization_strength", l2_regularization_strength,
                   "positive or zero"),
                  ("l2_shrinkage_regularization_strength",
                   l2_shrinkage_regularization_strength, "positive or zero")]
        if learning_rate_power > 0.0:  # Keras' checks and messages
            raise ValueError("`learning_rate_power` needs to be negative or zero. Received: "
                             f"learning_rate_power={learning_rate_power}.")
        for name, value, what in checks:
            if value < 0.0:
                raise ValueError(f"`{name}` needs to be {what}. Received: {name}={value}.")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta
        self._accumulators: list[np.ndarray] = []
        self._linears: list[np.ndarray] = []

    def build(self, var_list, var_names=None) -> None:
        if self.built:
            return
        super().build(var_list, var_names)
        value = self.initial_accumulator_value
        accumulator = lambda shape, dtype=None: np.full(  # noqa: E731 (Keras' Constant)
            shape, _keras_cast(value, dtype), dtype=dtype)
        # one slot of each per variable, interleaved, as Keras' add_optimizer_variables
        self._accumulators, self._linears = [], []
        for v in var_list:
            self._accumulators.append(
                self.add_variable_from_reference(v, "accumulator", accumulator))
            self._linears.append(self.add_variable_from_reference(v, "linear", "zeros"))

    def update_step(self, gradient, variable, learning_rate) -> None:
        dtype = variable.dtype
        lr = _keras_cast(learning_rate, dtype)
        i = self._var_index(variable)
        accum, linear = self._accumulators[i], self._linears[i]
        lr_power = _keras_const(-self.learning_rate_power, dtype)
        l2_reg = _keras_const(self.l2_regularization_strength, dtype) + \
            _keras_const(self.beta, dtype) / (dtype.type(2.0) * lr)
        grad_to_use = gradient + _keras_const(
            2 * self.l2_shrinkage_regularization_strength, dtype) * variable
        new_accum = accum + square(gradient)
        linear += grad_to_use - ((np.power(new_accum, lr_power) - np.power(accum, lr_power))
                                 / lr) * variable
        quadratic = np.power(new_accum, lr_power) / lr + dtype.type(2) * l2_reg
        l1 = _keras_const(self.l1_regularization_strength, dtype)
        linear_clipped = np.clip(linear, -l1, l1)
        variable[...] = (linear_clipped - linear) / quadratic
        accum[...] = new_accum

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength":
                    self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
