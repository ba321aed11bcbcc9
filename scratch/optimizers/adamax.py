"""Adamax (Kingma & Ba, section 7.1), as `keras.optimizers.Adamax`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import scalar_math
from .base import (
    Optimizer,
    _keras_cast,
    _keras_const,
)


class Adamax(Optimizer):
    """Adam with the infinity norm in place of the second moment.

    Math:
        ```
        t = iterations + 1
        m ← m + (g − m)·(1 − β₁)
        u ← max(β₂·u, |g|)                        (an exponentially weighted ‖g‖∞)
        w ← w − (lr·m) / ((1 − β₁ᵗ)·(u + ε))      (β₁ᵗ with the C library's pow, as TF)
        ```
        Only β₁ is bias-corrected: u is a running maximum, which needs no correction.
        β₁ in β₁ᵗ is cast through float32 (Keras' `ops.cast`); (1 − β₁), β₂ and ε are Python
        floats converted straight to the variable dtype.

    Args:
        learning_rate: float (default 0.001), a `LearningRateSchedule` or a callable.
        beta_1: decay of the first moment (default 0.9).
        beta_2: decay of the infinity norm (default 0.999).
        epsilon: added to u (default 1e-7).
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: see `Optimizer`.

    Shapes:
        slots per variable (its shape/dtype): `momentum`, `norm` (interleaved per variable).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 **kwargs) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, **kwargs)
        self._set_moment_decays(beta_1, beta_2, epsilon)
        self._m: list[np.ndarray] = []
        self._u: list[np.ndarray] = []

    def build(self, var_list, var_names=None) -> None:
        if self.built:
            return
        super().build(var_list, var_names)
        self._m, self._u = self.add_optimizer_variables(var_list, ["momentum", "norm"])

    def update_step(self, gradient, variable, learning_rate) -> None:
        dtype = variable.dtype
        lr = _keras_cast(learning_rate, dtype)
        local_step = dtype.type(self._iterations + 1)
        beta_1_power = scalar_math.pow(_keras_cast(self.beta_1, dtype), local_step)
        i = self._var_index(variable)
        m, u = self._m[i], self._u[i]
        m += (gradient - m) * _keras_const(1 - self.beta_1, dtype)
        u[...] = np.maximum(_keras_const(self.beta_2, dtype) * u, np.abs(gradient))
        variable -= (lr * m) / ((1 - beta_1_power) * (u + _keras_const(self.epsilon, dtype)))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
