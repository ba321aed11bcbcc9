"""Nadam (Dozat, 2016): Adam with Nesterov momentum, as `keras.optimizers.Nadam`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, scalar_math
from .base import (
    Optimizer,
    _keras_cast,
    _keras_const,
    square,
)


class Nadam(Optimizer):
    """Adam whose momentum looks one step ahead, with Dozat's momentum schedule.

    Math:
        ```
        t = iterations + 1
        μ_t = β₁·(1 − ½·0.96ᵗ)            (the momentum schedule; μ_{t+1} with 0.96ᵗ⁺¹)
        Π_t = Π_{t−1}·μ_t, Π_0 = 1        (`u_product`, one number for the optimizer)
        m ← m + (g − m)·(1 − β₁)
        v ← v + (g·g − v)·(1 − β₂)
        m̂ = μ_{t+1}·m / (1 − Π_t·μ_{t+1}) + (1 − μ_t)·g / (1 − Π_t)
        v̂ = v / (1 − β₂ᵗ)
        w ← w − (m̂·lr) / (√v̂ + ε)
        ```
        Keras updates Π once per step, before the variables, from Python floats (β₁ and
        0.96 straight in its dtype); inside the update β₁, β₂ and 0.96 go through
        `ops.cast`, so through float32, and 1 − β₁, 1 − β₂ are computed in the variable
        dtype from those. Powers with the C library's pow, as TF computes a one-element pow.

    Args:
        learning_rate: float (default 0.001), a `LearningRateSchedule` or a callable.
        beta_1: decay of the first moment (default 0.9).
        beta_2: decay of the second moment (default 0.999).
        epsilon: added to √v̂ (default 1e-7).
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: see `Optimizer`.

    Shapes:
        slots per variable (its shape/dtype): `momentum`, `velocity` (interleaved per
        variable); then Π, a 0-d array in the first variable's dtype, which Keras lists last
        in `optimizer.variables` (named "variable") and model files store.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 **kwargs) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, **kwargs)
        self._set_moment_decays(beta_1, beta_2, epsilon)
        self._momentums: list[np.ndarray] = []
        self._velocities: list[np.ndarray] = []
        self._u_product: np.ndarray | None = None

    def build(self, var_list, var_names=None) -> None:
        if self.built:
            return
        var_list = list(var_list)
        dtype = var_list[0].dtype if var_list else np.dtype(backend.floatx())
        super().build(var_list, var_names)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        self._u_product = self.add_extra_variable(np.ones((), dtype=dtype), "variable")

    def _apply_step(self, grads: list, variables: list) -> None:
        """Π_t ← Π_{t−1}·β₁·(1 − ½·0.96ᵗ), then the base class' step (Keras'
        `_backend_update_step`)."""
        u = self._u_product
        dtype = u.dtype.type
        decay_power = scalar_math.pow(dtype(0.96), dtype(self._iterations + 1))
        u[...] = u * dtype(self.beta_1) * (dtype(1.0) - dtype(0.5) * decay_power)
        super()._apply_step(grads, variables)

    def update_step(self, gradient, variable, learning_rate) -> None:
        dtype = variable.dtype
        lr = _keras_cast(learning_rate, dtype)
        local_step = dtype.type(self._iterations + 1)
        next_step = dtype.type(self._iterations + 2)
        decay = _keras_cast(0.96, dtype)
        beta_1 = _keras_cast(self.beta_1, dtype)
        beta_2 = _keras_cast(self.beta_2, dtype)
        one, half = dtype.type(1.0), dtype.type(0.5)
        u_t = beta_1 * (one - half * scalar_math.pow(decay, local_step))
        u_t_1 = beta_1 * (one - half * scalar_math.pow(decay, next_step))
        u_product_t = self._u_product.astype(dtype)[()]
        u_product_t_1 = u_product_t * u_t_1
        beta_2_power = scalar_math.pow(beta_2, local_step)

        i = self._var_index(variable)
        m, v = self._momentums[i], self._velocities[i]
        m += (gradient - m) * (one - beta_1)
        v += (square(gradient) - v) * (one - beta_2)
        m_hat = (u_t_1 * m) / (one - u_product_t_1) + ((one - u_t) * gradient) / (
            one - u_product_t)
        v_hat = v / (one - beta_2_power)
        variable -= (m_hat * lr) / (np.sqrt(v_hat) + _keras_const(self.epsilon, dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
