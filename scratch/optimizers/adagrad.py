"""Adagrad (Duchi et al.), as `keras.optimizers.Adagrad`."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Optimizer, _check_non_negative, _keras_cast, _keras_const, square


class Adagrad(Optimizer):
    """Adagrad: per-element rates scaled by the accumulated squared gradients.

    Math:
        ```
        acc₀ = initial_accumulator_value           (0.1 by default, cast via float32)
        acc ← acc + g·g
        w ← w − (lr·g) / √(acc + ε)                (ε inside the sqrt, unlike Adam)
        ```

    Args:
        learning_rate: float (default 0.001), a `LearningRateSchedule` or a callable.
        initial_accumulator_value: starting value of the accumulators (default 0.1).
        epsilon: added inside the square root (default 1e-7).
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: see `Optimizer`.

    Shapes:
        slots: one `accumulator` per variable (its shape/dtype).
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 **kwargs) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm,
                         clipvalue=clipvalue, global_clipnorm=global_clipnorm, **kwargs)
        cls = type(self).__name__
        _check_non_negative(cls, "initial_accumulator_value", initial_accumulator_value)
        _check_non_negative(cls, "epsilon", epsilon)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon
        self._accumulators: list[np.ndarray] = []

    def build(self, var_list, var_names=None) -> None:
        if self.built:
            return
        super().build(var_list, var_names)
        # Keras: Constant(value)(shape, dtype) = ops.cast(value, dtype) * ones (via float32).
        value = self.initial_accumulator_value
        init = lambda shape, dtype=None: np.full(  # noqa: E731
            shape, _keras_cast(value, dtype), dtype=dtype)
        self._accumulators = self.add_optimizer_variables(var_list, "accumulator",
                                                          initializer=init)

    def update_step(self, gradient, variable, learning_rate) -> None:
        dtype = variable.dtype
        lr = _keras_cast(learning_rate, dtype)
        g = gradient
        accumulator = self._accumulators[self._var_index(variable)]
        accumulator += square(g)
        variable -= (lr * g) / np.sqrt(accumulator + _keras_const(self.epsilon, dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


