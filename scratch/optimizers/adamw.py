"""AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, as `keras.optimizers.AdamW`."""

from __future__ import annotations

from .adam import Adam


class AdamW(Adam):
    """Adam preceded by decoupled weight decay scaled by the learning rate.

    Math:
        ```
        w ← w − (w·wd)·lr                      (before the gradient step; wd via float32)
        then exactly the Adam step:
        α = lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ);  m ← m + (g − m)(1 − β₁);  v ← v + (g·g − v)(1 − β₂)
        w ← w − (m·α) / (√v + ε)
        ```
        The decay does not pass through m and v (unlike L2 regularisation added to g).
        It is the generic `weight_decay` of every Keras optimizer, with a non-None default.

    Args:
        learning_rate: float (default 0.001), a `LearningRateSchedule` or a callable.
        weight_decay: the decay rate (default 0.004); must not be None.
        beta_1, beta_2, epsilon, amsgrad: as in `Adam`.
        clipnorm, clipvalue, global_clipnorm, name, **kwargs: see `Optimizer`.

    Shapes:
        slots as in `Adam`.

    Raises:
        ValueError: if weight_decay is None.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, **kwargs) -> None:
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, **kwargs)
        if self.weight_decay is None:
            raise ValueError(
                "Argument `weight_decay` must be a float. Received: weight_decay=None"
            )
