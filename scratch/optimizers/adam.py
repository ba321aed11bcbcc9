"""Adam (Kingma & Ba), in Keras' "epsilon hat" form, as `keras.optimizers.Adam`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, scalar_math
from .._kernels.optimizers import adam_update, adam_update_squares
from .base import (
    Optimizer,
    _fusable,
    _keras_cast,
    _keras_const,
    square,
)


class Adam(Optimizer):
    """Adam with Keras' bias-corrected step size and ε outside the correction.

    Math:
        ```
        t = iterations + 1
        α = lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ)           (β powers in the variable dtype,
                                                  with the C library's pow, as TF)
        m ← m + (g − m)·(1 − β₁)
        v ← v + (g·g − v)·(1 − β₂)
        amsgrad: v̂ ← max(v̂, v) and v̂ replaces v below
        w ← w − (m·α) / (√v + ε)
        ```
        This is the paper's "ε-hat" variant: ε is added to √v, not to √v̂ of the textbook
        m̂/(√v̂ + ε) form, so the two differ by a factor √(1 − β₂ᵗ) on ε. RMSprop and
        Adagrad, in contrast, put ε inside the square root. The default ε is 1e-7 (PyTorch:
        1e-8). β₁, β₂ in β^t are cast through float32 (Keras' `ops.cast`); 1 − β is computed
        in double and then converted to the variable dtype.

    Args:
        learning_rate: float (default 0.001), a `LearningRateSchedule` or a callable.
        beta_1: decay of the first moment (default 0.9).
        beta_2: decay of the second moment (default 0.999).
        epsilon: added to √v (default 1e-7).
        amsgrad: use the running maximum of v (default False).
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: see `Optimizer`.

    Shapes:
        slots per variable (its shape/dtype): `momentum`, `velocity` (interleaved per
        variable), then `velocity_hat` for every variable when amsgrad.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, **kwargs) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, **kwargs)
        self._set_moment_decays(beta_1, beta_2, epsilon)
        self.amsgrad = amsgrad
        self._momentums: list[np.ndarray] = []
        self._velocities: list[np.ndarray] = []
        self._velocity_hats: list[np.ndarray] = []
        self._constants_key: tuple | None = None
        self._hyper_key: tuple | None = None

    def build(self, var_list, var_names=None) -> None:
        if self.built:
            return
        super().build(var_list, var_names)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"])
        # for the fast path: 1-D views (w, m, v) of each variable the kernel can take
        self._flat = [(w.reshape(-1), m.reshape(-1), v.reshape(-1))
                      if backend.same_layout(w, m, v) else None
                      for w, m, v in zip(var_list, self._momentums, self._velocities)]
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def update_step(self, gradient, variable, learning_rate) -> None:
        i = self._var_index(variable)
        m, v = self._momentums[i], self._velocities[i]
        alpha, one_minus_beta_1, one_minus_beta_2, epsilon = self._step_constants(
            learning_rate, variable.dtype)
        m += (gradient - m) * one_minus_beta_1
        v += (square(gradient) - v) * one_minus_beta_2
        if self.amsgrad:
            v_hat = self._velocity_hats[i]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        variable -= (m * alpha) / (np.sqrt(v) + epsilon)

    # ------------------------------------------------------------------ fast path
    def _fused_update_step(self, gradient, variable, learning_rate) -> bool:
        """`update_step` in one Numba pass (no amsgrad), with this step's constants
        computed once for all variables."""
        flat = self._flat[self._var_index(variable)]
        if self.amsgrad or flat is None or not _fusable(variable, gradient):
            return False
        w, m, v = flat
        g = np.asarray(gradient).reshape(-1)
        constants = self._step_constants(learning_rate, variable.dtype)
        squares = getattr(gradient, "sum_of_squares", None)
        if squares is None:
            adam_update(w, g, m, v, *constants)
        elif _fusable(variable, squares):
            adam_update_squares(w, g, squares.reshape(-1), m, v, *constants)
        else:
            return False
        return True

    def _step_constants(self, learning_rate, dtype) -> tuple:
        """(α, 1 − β₁, 1 − β₂, ε) in `dtype` for this step, in Keras' order:
        α = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ), t = iterations + 1, β^t with the C library's pow.
        The same for every variable of a step, so computed once per (step, dtype, rate)."""
        key = (self._iterations, dtype, learning_rate, self.beta_1, self.beta_2, self.epsilon)
        if self._constants_key != key:
            beta_1, beta_2, one_minus_beta_1, one_minus_beta_2, epsilon = \
                self._hyper_constants(dtype)
            lr = _keras_cast(learning_rate, dtype)
            local_step = dtype.type(self._iterations + 1)
            beta_1_power = scalar_math.pow(beta_1, local_step)
            beta_2_power = scalar_math.pow(beta_2, local_step)
            alpha = lr * np.sqrt(1 - beta_2_power) / (1 - beta_1_power)
            self._constants = (dtype.type(alpha), one_minus_beta_1, one_minus_beta_2, epsilon)
            self._constants_key = key
        return self._constants

    def _hyper_constants(self, dtype) -> tuple:
        """β₁, β₂ as Keras casts them, and 1 − β₁, 1 − β₂, ε as it mixes them in, in
        `dtype`: the same at every step until a hyper-parameter changes."""
        key = (dtype, self.beta_1, self.beta_2, self.epsilon)
        if self._hyper_key != key:
            self._hyper = (_keras_cast(self.beta_1, dtype), _keras_cast(self.beta_2, dtype),
                           _keras_const(1 - self.beta_1, dtype),
                           _keras_const(1 - self.beta_2, dtype),
                           _keras_const(self.epsilon, dtype))
            self._hyper_key = key
        return self._hyper

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}
