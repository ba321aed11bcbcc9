"""Stochastic gradient descent, with optional (Nesterov) momentum, as `keras.optimizers.SGD`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._kernels.optimizers import sgd_momentum_update
from .base import Optimizer, _fusable, _keras_cast


class SGD(Optimizer):
    """Gradient descent with optional momentum.

    Math:
        ```
        momentum = 0:   w ← w − g·lr
        momentum μ > 0: v ← v·μ − g·lr
                        w ← w + v                      (nesterov=False)
                        w ← w + (v·μ − g·lr)           (nesterov=True, with the new v)
        ```
        The velocity v includes the learning rate (Keras/TF convention). PyTorch's buffer
        b ← μ·b + g, w ← w − lr·b gives the same trajectory only while lr is constant.
        μ is cast through float32 (Keras' `ops.cast`), also for float64 variables.

    Args:
        learning_rate: float (default 0.01), a `LearningRateSchedule` or a callable.
        momentum: float in [0, 1] (default 0.0); ints are rejected, as in Keras.
        nesterov: use Nesterov momentum (default False).
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: see `Optimizer`.

    Shapes:
        slots: one `momentum` per variable (same shape/dtype), only when momentum != 0.

    Example:
        >>> opt = SGD(0.1, 0.9)            # learning_rate=0.1, momentum=0.9
        >>> opt.apply_gradients([(grad, kernel)])
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, **kwargs) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, **kwargs)
        if not isinstance(momentum, float) or momentum < 0 or momentum > 1:
            raise ValueError(
                f"`momentum` must be a float between [0, 1]. Received: momentum={momentum!r}"
            )
        self.momentum = momentum
        self.nesterov = nesterov
        self.momentums: list[np.ndarray] = []

    def build(self, var_list, var_names=None) -> None:
        if self.built:
            return
        super().build(var_list, var_names)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(var_list, "momentum")

    def update_step(self, gradient, variable, learning_rate) -> None:
        lr = _keras_cast(learning_rate, variable.dtype)
        g = gradient
        if self.momentum != 0:
            m = self.momentums[self._var_index(variable)]
            mu = _keras_cast(self.momentum, variable.dtype)
            m[...] = m * mu - g * lr
            if self.nesterov:
                variable += m * mu - g * lr
            else:
                variable += m
        else:
            variable -= g * lr

    # ------------------------------------------------------------------ fast path
    def _fused_update_step(self, gradient, variable, learning_rate) -> bool:
        """The momentum update in one Numba pass (plain SGD is one NumPy line already)."""
        if self.momentum == 0:
            return False
        m = self.momentums[self._var_index(variable)]
        if not _fusable(variable, gradient, m):
            return False
        dtype = variable.dtype
        sgd_momentum_update(variable.reshape(-1), np.asarray(gradient).reshape(-1),
                            m.reshape(-1), _keras_cast(learning_rate, dtype),
                            _keras_cast(self.momentum, dtype), bool(self.nesterov))
        return True

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
